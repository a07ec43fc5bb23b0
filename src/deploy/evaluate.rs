//! `sweep evaluate`: a model's metrics on any part of its split (train,
//! valid, test), rebuilt from its data; and the test evaluation that
//! aggregation runs once for the top models.

use super::{DeployError, LoadedModel};
use crate::data::{SplitName, StoredSplit, TestSplit, rows_of_table, split_rows, truth};
use crate::metrics::{Metrics, evaluate};
use crate::store::{self, SplitEvaluation};

/// The rows of `split`, rebuilt from the model's data (which must be unchanged).
pub(crate) fn stored_part(model: &LoadedModel, split: SplitName) -> Result<StoredSplit, DeployError> {
    let pre = &model.preprocessing;
    let missing =
        |why: &str| DeployError::NoSuchSplit { dir: model.dir.clone(), split: split.as_str(), why: why.into() };
    match (split, &pre.test) {
        (SplitName::Test, None) => {
            return Err(missing("its sweep had no test split (set [data] test_fraction or test_path)"));
        }
        (SplitName::Valid, _) if pre.valid_rows.is_empty() => {
            return Err(missing(
                "it is a refit on every non-test row, so it has no validation split; its validation metrics are the \
                 means over its configuration's cross-validation folds",
            ));
        }
        (SplitName::Test, Some(TestSplit::File { .. })) => {
            let table = model.test_data()?;
            let rows: Vec<usize> = (0..table.rows()).collect();
            return Ok(rows_of_table(&table, pre, &rows)?);
        }
        _ => {}
    }
    let table = model.data()?;
    Ok(rows_of_table(&table, pre, &split_rows(pre, table.rows(), split))?)
}

/// Every metric of the model's task on `split`; `valid_loss` becomes `loss`,
/// the model's loss on those rows.
pub(crate) fn evaluate_split(model: &LoadedModel, split: SplitName) -> Result<SplitEvaluation, DeployError> {
    let part = stored_part(model, split)?;
    let predictions = model.predict(&part.x)?;
    let metrics = split_metrics(evaluate(predictions.outputs(), truth(&part.targets, &model.preprocessing)));
    Ok(SplitEvaluation {
        split,
        rows: part.targets.len(),
        metrics,
        checkpoint_sha256: model.checkpoint_sha256.clone(),
        evaluated_at: store::now_rfc3339(),
    })
}

/// Renames the validation loss of [`crate::metrics::evaluate`] to `loss`:
/// on another part it is that part's loss.
pub(super) fn split_metrics(mut metrics: Metrics) -> Metrics {
    if let Some(loss) = metrics.remove("valid_loss") {
        metrics.insert("loss".into(), loss);
    }
    metrics
}
