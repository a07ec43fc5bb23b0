//! A sweep, opened once: its spec, objective, data, plan and results folder,
//! and the sweep-wide files every trial links to.

use std::path::Path;

use super::RunError;
use super::trial::{InjectedFaults, TrialEnv};
use crate::data::preprocess::{self, Cells, RawTable, UnseenAt};
use crate::data::{self, Categorical, DataError, Prepared, SourceRef, SplitPlan, SplitSummary, TestPlan};
use crate::device::TrialDevice;
use crate::objective::{Catalog, Objective, Parallelism};
use crate::params::{ResolvedParams, Schema};
use crate::plan::{Plan, TrialSpec};
use crate::spec::SweepSpec;
use crate::store::{self, StoreError, SweepDir, names};

/// A sweep, opened once: its spec, objective, data, plan and results folder.
/// The one place `run`, `trial`, the worker processes and `bench` build them.
pub(crate) struct OpenSweep<'a> {
    /// The validated spec.
    pub spec: &'a SweepSpec,
    /// The objective it selects.
    pub objective: &'a dyn Objective,
    /// The objective's parameters.
    pub schema: Schema,
    /// The split, ready for training.
    pub data: SweepData,
    /// The trials.
    pub plan: Plan,
    /// `results/<name>/`.
    pub dir: SweepDir,
}

impl<'a> OpenSweep<'a> {
    /// Loads and checks the data and builds the plan; writes nothing.
    pub(crate) fn open(spec: &'a SweepSpec, catalog: &'a Catalog, results_root: &Path) -> Result<Self, RunError> {
        let objective = catalog.get(&spec.objective).ok_or_else(|| RunError::UnknownObjective {
            file: spec.source.clone(),
            name: spec.objective.clone(),
            known: catalog.names(),
        })?;
        let data = load_data(spec, objective)?;
        let dir = SweepDir::new(results_root.join(&spec.name));
        dir.refuse_links()?;
        Ok(OpenSweep { spec, objective, schema: objective.schema(), data, plan: spec.plan(), dir })
    }

    /// A trial's parameters, resolved.
    pub(crate) fn params(&self, trial: &TrialSpec) -> ResolvedParams {
        self.schema.resolve(&self.spec.train, &trial.params)
    }

    /// What every trial of this sweep shares.
    pub(crate) fn env<'b>(&'b self, faults: &'b InjectedFaults, device: TrialDevice) -> TrialEnv<'b> {
        TrialEnv {
            spec: self.spec,
            spec_hash: self.spec.hash(),
            data: &self.data,
            objective: self.objective,
            schema: &self.schema,
            dir: &self.dir,
            faults,
            peers: None,
            // Early termination without batches (array tasks, `run --async`) reads its peers live.
            asynchronous: self.spec.early_terminate.is_some(),
            seed_burn: self.objective.parallelism() == Parallelism::Processes,
            device,
            serving_costs: Default::default(),
        }
    }
}

/// A sweep's data, split: what its trials train and validate on.
#[derive(Debug, Clone)]
pub(crate) struct SweepData {
    /// The split every trial uses; with cross-validation, every non-test row
    /// for training and none for validation (what a refit trains on).
    pub main: Prepared,
    /// With cross-validation: fold `k` validates on the `k`-th fold.
    pub folds: Vec<Prepared>,
    /// The parts of the split, their balance, and duplicated rows.
    pub summary: SplitSummary,
    /// Lines for the run's first output: the columns made categorical, identifier-like
    /// columns, rows left out.
    pub notes: Vec<String>,
}

impl SweepData {
    /// The split trial `trial` trains on: its fold's, or the main one.
    pub(crate) fn for_trial(&self, trial: &TrialSpec) -> &Prepared {
        self.folds.get(trial.repeat).unwrap_or(&self.main)
    }
}

/// The spec's data, from the objective's own source or the bundled CSV
/// loader, split and checked against the spec. A separate test file is read
/// and checked here too, so a bad one stops the run before anything is written.
pub(super) fn load_data(spec: &SweepSpec, objective: &dyn Objective) -> Result<SweepData, RunError> {
    if objective.owns_data() {
        let summary = SplitSummary {
            classes: Vec::new(),
            parts: Vec::new(),
            duplicates: Vec::new(),
            left_out: Default::default(),
        };
        return Ok(SweepData {
            main: Prepared::owned_by_program(spec.data.task, spec.seed),
            folds: Vec::new(),
            summary,
            notes: Vec::new(),
        });
    }
    let mismatch = |message: String| RunError::SpecVsData { file: spec.source.clone(), message };
    let (table, source) = match (objective.data_source(), spec.data.csv()) {
        (Some(src), _) => {
            let options = ResolvedParams::new(spec.data.options.clone());
            let source = SourceRef { objective: objective.name().to_string(), options: spec.data.options.clone() };
            (RawTable::from(&src.load(&options).map_err(DataError::Source)?), Some(source))
        }
        (None, Some((path, options))) => {
            let table = data::read_csv(path, &options)?;
            table.check_categories()?;
            (table, None)
        }
        (None, None) => return Err(mismatch("[data] has no path, and the objective brings no data source".into())),
    };
    let test_table = match (&spec.data.test_path, spec.data.csv()) {
        (Some(path), Some((_, options))) => Some(data::read_csv(path, &same_columns(&table, options))?),
        _ => None,
    };
    let test = match (&test_table, spec.data.test_fraction) {
        (Some(t), _) => TestPlan::File { path: t.path.clone(), fingerprint: t.fingerprint.clone(), rows: t.rows() },
        (None, Some(fraction)) => TestPlan::Fraction(fraction),
        (None, None) => TestPlan::None,
    };
    let split = |cv| SplitPlan { valid_fraction: spec.data.valid_fraction, test: test.clone(), cv };
    let with_source = |mut prepared: Prepared| {
        prepared.preprocessing.source = source.clone();
        prepared
    };
    let folds = spec.data.cv_folds.unwrap_or(0);
    let main = with_source(data::prepare_split(
        &table,
        spec.data.task,
        &split(spec.data.cv_folds.map(|k| (k, None))),
        spec.seed,
    )?);
    let folds: Vec<Prepared> = (0..folds)
        .map(|k| {
            Ok(with_source(data::prepare_split(&table, spec.data.task, &split(Some((folds, Some(k)))), spec.seed)?))
        })
        .collect::<Result<_, DataError>>()?;
    let fold_pre: Vec<_> = folds.iter().map(|f| f.preprocessing.clone()).collect();
    let summary = SplitSummary::of_sweep(&table, test_table.as_ref(), &main.preprocessing, &fold_pre)?;
    let mut notes = table.notes.clone();
    notes
        .extend(test_table.iter().flat_map(|t| t.notes.iter().map(|n| format!("test file {}: {n}", t.path.display()))));
    notes.extend(unseen_in_own_rows(&table, test_table.as_ref(), &main.preprocessing, &fold_pre)?);
    Ok(SweepData { main, folds, summary, notes })
}

/// Warnings for validation and test rows whose category the training rows of
/// their split never had: they are encoded as all-zero indicators, as new rows would be.
fn unseen_in_own_rows(
    table: &RawTable,
    test_table: Option<&RawTable>,
    main: &data::Preprocessing,
    folds: &[data::Preprocessing],
) -> Result<Vec<String>, DataError> {
    let mut notes = Vec::new();
    let mut count = |pre: &data::Preprocessing, table: &RawTable, rows: &[usize], part: &str| {
        let Some(steps) = &pre.steps else { return Ok(()) };
        notes.extend(preprocess::encode(steps, table, rows, UnseenAt::OwnRows)?.unseen_warnings(part));
        Ok::<(), DataError>(())
    };
    if folds.is_empty() {
        count(main, table, &main.valid_rows, "valid")?;
    }
    for (k, fold) in folds.iter().enumerate() {
        count(fold, table, &fold.valid_rows, &format!("fold {}", k + 1))?;
    }
    match (test_table, &main.test) {
        (Some(t), _) => count(main, t, &(0..t.rows()).collect::<Vec<_>>(), "test")?,
        (None, Some(data::TestSplit::Carved { rows, .. })) => count(main, table, rows, "test")?,
        _ => {}
    }
    Ok(notes)
}

/// The options that read a separate test file with the main table's columns,
/// each as numbers or text as the main table has it (not guessed again).
fn same_columns(table: &RawTable, options: data::CsvOptions) -> data::CsvOptions {
    let text: Vec<String> =
        table.columns.iter().filter(|c| matches!(c.cells, Cells::Text(_))).map(|c| c.name.clone()).collect();
    let mut steps = options.steps;
    if steps.categorical != Categorical::None {
        steps.categorical = Categorical::Columns(text);
    }
    let features = table.columns.iter().map(|c| c.name.clone()).collect();
    data::CsvOptions { features: Some(features), drop: Vec::new(), steps, ..options }
}

/// Writes the sweep's preprocessing files, which every trial links into its
/// folder (one per fold with cross-validation), and its split summary, each
/// unless it is already there with the same content (array tasks of one sweep
/// start at once and agree on them). Warns of rows duplicated across parts.
pub(super) fn write_preprocessing(dir: &SweepDir, data: &SweepData) -> Result<(), RunError> {
    let mut files =
        vec![(names::PREPROCESSING.to_string(), json_bytes(&data.main.preprocessing, dir, names::PREPROCESSING)?)];
    for (k, fold) in data.folds.iter().enumerate() {
        let name = names::fold_preprocessing(k);
        files.push((name.clone(), json_bytes(&fold.preprocessing, dir, &name)?));
    }
    files.push((names::SPLITS.to_string(), json_bytes(&data.summary, dir, names::SPLITS)?));
    for (name, bytes) in files {
        let path = dir.file(&name);
        if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            store::write_atomic(&path, &bytes).map_err(StoreError::io(&path))?;
        }
    }
    Ok(())
}

/// Pretty JSON with a final newline.
fn json_bytes<T: serde::Serialize>(value: &T, dir: &SweepDir, name: &str) -> Result<Vec<u8>, RunError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| StoreError::Parse { path: dir.file(name), message: e.to_string() })?;
    bytes.push(b'\n');
    Ok(bytes)
}
