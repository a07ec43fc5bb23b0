//! The steps between a table's raw columns and the model's numeric features:
//! missing cells (`missing.rs`), text categories (`onehot.rs`), identifier-like
//! columns (`identifier.rs`), over the raw cells the loader reads (`raw.rs`).
//!
//! Every statistic a step needs (a fill value, a column's categories) is
//! learned on the training rows of one split only ([`fit`]), stored in
//! `preprocessing.json` as [`Steps`], and applied unchanged to every other
//! row by [`encode`]: in training, `predict`, `verify`, and (re-expressed as
//! graph nodes or torch code) in the ONNX and PyTorch exports.

mod identifier;
mod missing;
mod onehot;
mod raw;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::DataError;
pub(crate) use identifier::{looks_like_identifier, warning as identifier_warning};
pub(crate) use missing::is_missing;
pub use missing::{DEFAULT_NA_VALUES, MissingPolicy, MissingSpec};
pub(crate) use onehot::too_many as too_many_categories;
pub use onehot::{Categorical, MAX_CATEGORY_SHARE, MIN_CATEGORIES_CHECKED, Unseen};
pub(crate) use raw::{Cells, LeftOut, RawColumn, RawTable, StepOptions};

/// What the spec asks of the raw columns (`[data] categorical`, `missing`, `na_values`, `unseen`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepsSpec {
    /// Which text columns become categories.
    pub categorical: Categorical,
    /// What missing feature cells become.
    pub missing: MissingSpec,
    /// What counts as missing; `None`: [`DEFAULT_NA_VALUES`].
    pub na_values: Option<Vec<String>>,
    /// What an unseen category becomes at prediction.
    pub unseen: Unseen,
}

impl StepsSpec {
    /// Whether the spec asks for nothing: then the features are the columns as numbers, as before steps existed.
    pub fn is_default(&self) -> bool {
        self == &StepsSpec::default()
    }

    /// What counts as missing.
    pub fn na_values(&self) -> Vec<String> {
        match &self.na_values {
            Some(v) => v.clone(),
            None => DEFAULT_NA_VALUES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The learned steps of one split, stored in `preprocessing.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Steps {
    /// The raw input columns, in the order the model's features come from them.
    pub columns: Vec<ColumnStep>,
    /// What counts as missing in a raw cell.
    pub na_values: Vec<String>,
    /// What an unseen category becomes at prediction.
    #[serde(default)]
    pub unseen: Unseen,
}

/// One raw column: its missing-cell policy and what it becomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ColumnStep {
    /// The column's header.
    pub name: String,
    /// What its missing cells become.
    #[serde(default)]
    pub missing: MissingPolicy,
    /// Numbers (one feature), or categories (one indicator each).
    #[serde(flatten)]
    pub kind: ColumnKind,
}

/// A numeric or a categorical column, with what was learned for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum ColumnKind {
    /// One feature, the number itself.
    Numeric {
        /// The value a missing cell becomes (learned on the training rows).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<f64>,
    },
    /// One indicator feature per category of the training rows.
    Categorical {
        /// The training rows' categories, sorted; indicator `k` is `categories[k]`.
        categories: Vec<String>,
        /// The category a missing cell becomes (learned on the training rows).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<String>,
    },
}

impl ColumnStep {
    /// Model features it gives.
    pub(crate) fn width(&self) -> usize {
        match &self.kind {
            ColumnKind::Numeric { .. } => 1,
            ColumnKind::Categorical { categories, .. } => categories.len(),
        }
    }

    /// Whether it has a value for a missing cell.
    pub(crate) fn fills(&self) -> bool {
        match &self.kind {
            ColumnKind::Numeric { fill } => fill.is_some(),
            ColumnKind::Categorical { fill, .. } => fill.is_some(),
        }
    }

    /// Whether its cells are text.
    pub(crate) fn is_text(&self) -> bool {
        matches!(self.kind, ColumnKind::Categorical { .. })
    }

    /// One line for the model card.
    pub(crate) fn describe(&self) -> String {
        let missing = match (&self.missing, &self.kind) {
            (MissingPolicy::Error, _) => "a missing cell is an error".to_string(),
            (MissingPolicy::DropRows, _) => {
                "rows with a missing cell were left out of training; at prediction a missing cell is an error"
                    .to_string()
            }
            (policy, ColumnKind::Numeric { fill: Some(f) }) => {
                format!("a missing cell becomes {f} (the training rows' {})", policy.as_str().replace('_', " "))
            }
            (policy, ColumnKind::Categorical { fill: Some(f), .. }) => {
                format!("a missing cell becomes {f:?} (the training rows' {})", policy.as_str().replace('_', " "))
            }
            (policy, _) => format!("missing = {}", policy.as_str()),
        };
        match &self.kind {
            ColumnKind::Numeric { .. } => format!("`{}`: number; {missing}", self.name),
            ColumnKind::Categorical { categories, .. } => format!(
                "`{}`: category, one-hot over {} categories learned on the training rows ({}); {missing}",
                self.name,
                categories.len(),
                categories.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

impl Steps {
    /// No step: every feature column a number without gaps, as before steps existed.
    pub(crate) fn plain(feature_columns: &[String]) -> Self {
        Steps {
            columns: feature_columns
                .iter()
                .map(|name| ColumnStep {
                    name: name.clone(),
                    missing: MissingPolicy::Error,
                    kind: ColumnKind::Numeric { fill: None },
                })
                .collect(),
            na_values: StepsSpec::default().na_values(),
            unseen: Unseen::Ignore,
        }
    }

    /// The model's feature names: a numeric column's own, `column=category` for an indicator.
    pub(crate) fn feature_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .flat_map(|c| match &c.kind {
                ColumnKind::Numeric { .. } => vec![c.name.clone()],
                ColumnKind::Categorical { categories, .. } => {
                    categories.iter().map(|k| format!("{}={k}", c.name)).collect()
                }
            })
            .collect()
    }

    /// Per model feature: whether it is a category's indicator (kept 0/1, not standardized).
    pub(crate) fn indicators(&self) -> Vec<bool> {
        self.columns.iter().flat_map(|c| std::iter::repeat_n(c.is_text(), c.width())).collect()
    }

    /// Model features per row.
    pub(crate) fn width(&self) -> usize {
        self.columns.iter().map(ColumnStep::width).sum()
    }
}

/// Learns every column's step on `train_rows` of `table`.
pub(crate) fn fit(table: &RawTable, options: &StepOptions, train_rows: &[usize]) -> Result<Steps, DataError> {
    let mut columns = Vec::with_capacity(table.columns.len());
    for column in &table.columns {
        let no_fill = || DataError::NoFill {
            path: table.path.clone(),
            column: column.name.clone(),
            policy: column.missing.as_str(),
        };
        let kind = match &column.cells {
            Cells::Numbers(v) => {
                let fill = match column.missing.imputes() {
                    true => Some(
                        missing::numeric_fill(train_rows.iter().map(|&r| v[r]), column.missing).ok_or_else(no_fill)?,
                    ),
                    false => None,
                };
                ColumnKind::Numeric { fill }
            }
            Cells::Text(v) => {
                let present = || train_rows.iter().map(|&r| v[r].as_deref());
                let categories = onehot::learn_categories(present());
                if categories.is_empty() {
                    return Err(no_fill());
                }
                let fill = match column.missing.imputes() {
                    true => Some(missing::text_fill(present()).ok_or_else(no_fill)?),
                    false => None,
                };
                ColumnKind::Categorical { categories, fill }
            }
        };
        columns.push(ColumnStep { name: column.name.clone(), missing: column.missing, kind });
    }
    Ok(Steps { columns, na_values: options.na_values.clone(), unseen: options.unseen })
}

/// Rows encoded into model features.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Encoded {
    /// `rows × width`, row-major, before standardization.
    pub x: Vec<f64>,
    /// Per categorical column with unseen values: its name and how many rows had one.
    pub unseen: Vec<(String, usize)>,
}

impl Encoded {
    /// One warning per column with unseen categories.
    pub(crate) fn unseen_warnings(&self, what: &str) -> Vec<String> {
        self.unseen
            .iter()
            .map(|(column, rows)| {
                format!(
                    "{rows} {what} row(s) have a {column:?} category the training rows never had: its indicators are \
                     all zero{}",
                    if what == "input" {
                        " (a model trained with [data] unseen = \"error\" refuses such rows)"
                    } else {
                        ""
                    }
                )
            })
            .collect()
    }
}

/// Whether an unseen category is an error now: at prediction as the steps say,
/// in the sweep's own validation and test rows never (they are counted instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnseenAt {
    /// The sweep's own rows.
    OwnRows,
    /// New rows, with the steps' policy.
    Prediction,
}

/// Applies `steps` to `rows` of `table`, as they were learned: fills, indicators.
pub(crate) fn encode(steps: &Steps, table: &RawTable, rows: &[usize], at: UnseenAt) -> Result<Encoded, DataError> {
    let width = steps.width();
    let mut x = vec![0.0; rows.len() * width];
    let mut unseen = Vec::new();
    let mut offset = 0;
    let line = |r: usize| table.lines.get(r).copied().unwrap_or(r as u64 + 2);
    let stored = |message: String| DataError::Stored { path: table.path.clone(), message };
    for step in &steps.columns {
        let Some(column) = table.column(&step.name) else {
            return Err(stored(format!("has no feature column \"{}\"", step.name)));
        };
        let missing = |r: usize, value: String| DataError::Missing {
            path: table.path.clone(),
            line: line(r),
            column: step.name.clone(),
            value,
            hint: missing_hint(&step.name, step.missing, true),
        };
        let check = |r: usize| {
            if r >= table.rows() {
                return Err(stored(format!("has {} rows, but the stored split names row {r}", table.rows())));
            }
            Ok(())
        };
        match (&step.kind, &column.cells) {
            (ColumnKind::Numeric { fill }, Cells::Numbers(v)) => {
                for (i, &r) in rows.iter().enumerate() {
                    check(r)?;
                    let value = match (v[r].is_nan(), fill) {
                        (false, _) => v[r],
                        (true, Some(f)) => *f,
                        (true, None) => return Err(missing(r, String::new())),
                    };
                    x[i * width + offset] = value;
                }
            }
            (ColumnKind::Categorical { categories, fill }, Cells::Text(v)) => {
                let mut count = 0;
                for (i, &r) in rows.iter().enumerate() {
                    check(r)?;
                    let value = match (&v[r], fill) {
                        (Some(value), _) => value,
                        (None, Some(f)) => f,
                        (None, None) => return Err(missing(r, String::new())),
                    };
                    let out = &mut x[i * width + offset..i * width + offset + categories.len()];
                    if !onehot::indicators(categories, value, out) {
                        if at == UnseenAt::Prediction && steps.unseen == Unseen::Error {
                            return Err(DataError::UnseenCategory {
                                path: table.path.clone(),
                                line: line(r),
                                column: step.name.clone(),
                                value: value.clone(),
                                known: categories.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", "),
                            });
                        }
                        count += 1;
                    }
                }
                if count > 0 {
                    unseen.push((step.name.clone(), count));
                }
            }
            (kind, _) => {
                let (wants, holds) = if matches!(kind, ColumnKind::Numeric { .. }) {
                    ("numbers", "text")
                } else {
                    ("categories (text)", "numbers")
                };
                return Err(stored(format!("column \"{}\" holds {holds}, but the model reads {wants}", step.name)));
            }
        }
        offset += step.width();
    }
    Ok(Encoded { x, unseen })
}

/// What the user can do about a missing cell of `column`; `trained` when a
/// model's stored steps, not the spec, decide (prediction).
pub(crate) fn missing_hint(column: &str, policy: MissingPolicy, trained: bool) -> String {
    let options = "\"drop_rows\", \"mean\", \"median\" or \"most_frequent\"";
    match (trained, policy) {
        (false, _) => format!(
            "[data] missing = \"error\" (the default) stops here; set [data] missing to {options}, or for this column \
             only missing = {{ {column} = \"median\" }}, or leave the column out with [data] drop = [{column:?}]"
        ),
        (true, MissingPolicy::DropRows) => format!(
            "the model was trained with missing = \"drop_rows\" for {column:?}, which leaves such rows out of \
             training but has no value to fill in at prediction; fill the cell, or train with {options} \
             (one of the imputing policies)"
        ),
        (true, _) => format!(
            "the model was trained without missing cells in {column:?} (missing = \"error\"), so it has no value \
             to fill in; fill the cell, or train with [data] missing set to {options}"
        ),
    }
}

/// The steps a model applies: its stored ones, or (older models, sweeps
/// without steps) its feature columns as plain numbers.
pub(crate) fn steps_of<'a>(steps: Option<&'a Steps>, feature_columns: &[String]) -> Cow<'a, Steps> {
    match steps {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(Steps::plain(feature_columns)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TargetColumn;

    /// Rows 0..6 train, 6..8 validate; the validation rows hold an extreme age,
    /// a category of their own and gaps, which nothing learned may see.
    fn table() -> RawTable {
        let nan = f64::NAN;
        let text = |v: &[Option<&str>]| Cells::Text(v.iter().map(|c| c.map(String::from)).collect());
        RawTable {
            path: "t.csv".into(),
            fingerprint: String::new(),
            target: "y".into(),
            columns: vec![
                RawColumn {
                    name: "age".into(),
                    cells: Cells::Numbers(vec![3.0, nan, 1.0, 4.0, 1.0, 5.0, 1000.0, nan]),
                    missing: MissingPolicy::Median,
                },
                RawColumn {
                    name: "port".into(),
                    cells: text(&[Some("S"), None, Some("C"), Some("S"), Some("C"), Some("Q"), Some("Z"), None]),
                    missing: MissingPolicy::MostFrequent,
                },
            ],
            targets: TargetColumn::Text(vec!["a".into(); 8]),
            lines: (2..10).collect(),
            left_out: LeftOut::default(),
            notes: Vec::new(),
            steps: Some(StepOptions { na_values: vec!["".into()], unseen: Unseen::Ignore }),
        }
    }

    #[test]
    fn steps_are_learned_on_the_training_rows_only() {
        let t = table();
        let options = t.steps.clone().unwrap();
        let steps = fit(&t, &options, &[0, 1, 2, 3, 4, 5]).unwrap();
        // scikit-learn 1.9.1, on the six training rows: SimpleImputer(strategy="median") → 3.0;
        // SimpleImputer(strategy="most_frequent") on S, nan, C, S, C, Q → "C"; OneHotEncoder → [C, Q, S].
        assert_eq!(steps.columns[0].kind, ColumnKind::Numeric { fill: Some(3.0) });
        assert_eq!(
            steps.columns[1].kind,
            ColumnKind::Categorical { categories: vec!["C".into(), "Q".into(), "S".into()], fill: Some("C".into()) }
        );
        assert_eq!(steps.feature_names(), ["age", "port=C", "port=Q", "port=S"]);
        assert_eq!(steps.indicators(), [false, true, true, true]);
        // Learned on every row, the extreme age and the category "Z" would leak in.
        let leaky = fit(&t, &options, &(0..8).collect::<Vec<_>>()).unwrap();
        assert_ne!(leaky, steps);

        let valid = encode(&steps, &t, &[6, 7, 1], UnseenAt::OwnRows).unwrap();
        #[rustfmt::skip]
        assert_eq!(valid.x, [
            1000.0, 0.0, 0.0, 0.0, // "Z": unseen, all-zero indicators
            3.0,    1.0, 0.0, 0.0, // both missing: the fills
            3.0,    1.0, 0.0, 0.0,
        ]);
        assert_eq!(valid.unseen, [("port".to_string(), 1)]);
        assert!(valid.unseen_warnings("valid")[0].starts_with("1 valid row(s) have a \"port\" category"));
    }

    #[test]
    fn an_unseen_category_is_an_error_at_prediction_only_where_the_steps_say_so() {
        let t = table();
        let mut steps = fit(&t, t.steps.as_ref().unwrap(), &[0, 1, 2, 3, 4, 5]).unwrap();
        steps.unseen = Unseen::Error;
        assert!(encode(&steps, &t, &[6], UnseenAt::OwnRows).is_ok(), "the sweep's own rows are counted, not refused");
        let e = encode(&steps, &t, &[6], UnseenAt::Prediction).unwrap_err().to_string();
        assert!(e.starts_with("t.csv:8: column \"port\": got \"Z\", a category the model's training rows never had (it knows \"C\", \"Q\", \"S\")"), "{e}");
    }

    #[test]
    fn a_missing_cell_without_a_fill_names_its_line_and_what_the_model_was_trained_with() {
        let t = table();
        let steps = Steps::plain(&["age".to_string()]);
        let e = encode(&steps, &t, &[0, 1], UnseenAt::Prediction).unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3: column \"age\": the cell is missing (empty); the model was trained without missing cells in \"age\""), "{e}");
        let mut t = table();
        t.columns[0].cells = Cells::Numbers(vec![f64::NAN; 8]);
        let e = fit(&t, t.steps.as_ref().unwrap(), &[0, 1]).unwrap_err().to_string();
        assert!(e.contains("column \"age\" has no value in the training rows to learn from"), "{e}");
    }

    #[test]
    fn steps_are_stored_as_preprocessing_json_describes_them() {
        let t = table();
        let steps = fit(&t, t.steps.as_ref().unwrap(), &[0, 1, 2, 3, 4, 5]).unwrap();
        let json = serde_json::to_value(&steps).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "columns": [
                    { "name": "age", "missing": "median", "kind": "numeric", "fill": 3.0 },
                    { "name": "port", "missing": "most_frequent", "kind": "categorical",
                      "categories": ["C", "Q", "S"], "fill": "C" },
                ],
                "na_values": [""],
                "unseen": "ignore",
            })
        );
        assert_eq!(serde_json::from_value::<Steps>(json).unwrap(), steps);
    }
}
