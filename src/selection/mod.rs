//! Model work after the trials, for the aggregator ([`ModelWork`]): the
//! refit of a cross-validation's winning configuration, and the one
//! evaluation of the top models on the test split. It needs the objectives
//! (to train and to load models), which the aggregator does not have.

mod refit;

use std::path::Path;

pub(crate) use refit::refit;

use crate::aggregate::{ConfigRow, ModelWork};
use crate::data::SplitName;
use crate::deploy::{LoadedModel, evaluate_split};
use crate::objective::Catalog;
use crate::spec::SweepSpec;
use crate::store::{SplitEvaluation, SweepDir, TrialRecord};

/// The models of one sweep, with the objectives that load and train them.
pub(crate) struct SweepModels<'a> {
    /// The objectives of this binary.
    pub catalog: &'a Catalog,
    /// The sweep's spec, for a refit (from the command line, or the results folder's manifest).
    pub spec: Option<SweepSpec>,
    /// The sweep's results folder.
    pub dir: SweepDir,
}

impl<'a> SweepModels<'a> {
    /// For `dir`, with the spec its manifest holds (the spec file is the one it names).
    pub(crate) fn from_manifest(dir: &SweepDir, catalog: &'a Catalog) -> Self {
        let spec = dir.manifest().ok().flatten().and_then(|m| {
            let mut spec: SweepSpec = m.spec.parse().ok()?;
            spec.source = m.spec_file;
            if let Some(selection) = m.selection {
                spec.selection = selection;
            }
            Some(spec)
        });
        SweepModels { catalog, spec, dir: dir.clone() }
    }
}

impl ModelWork for SweepModels<'_> {
    fn evaluate_test(&self, model_dir: &Path) -> Result<SplitEvaluation, String> {
        let model = LoadedModel::load(model_dir, self.catalog).map_err(|e| e.to_string())?;
        evaluate_split(&model, SplitName::Test).map_err(|e| e.to_string())
    }

    fn refit(&self, winner: &ConfigRow, folds: &[&TrialRecord]) -> Result<TrialRecord, String> {
        let spec = self.spec.as_ref().ok_or("the results folder's sweep.json holds no readable spec")?;
        refit(spec, self.catalog, &self.dir, winner, folds).map_err(|e| e.to_string())
    }
}
