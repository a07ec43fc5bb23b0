//! What every publisher reads of a finished sweep, loaded once per aggregation
//! however many publishers read it.

use std::path::{Path, PathBuf};

use crate::aggregate::SweepRegistry;
use crate::store::{self, StoreError, SweepDir, SweepManifest, TrialRecord, names};

/// A finished sweep as its results folder holds it: the manifest, every complete trial record,
/// and the trial folders that have none yet.
#[derive(Debug)]
pub(crate) struct SweepView {
    dir: SweepDir,
    manifest: Option<SweepManifest>,
    records: Vec<TrialRecord>,
    incomplete: Vec<PathBuf>,
}

impl SweepView {
    /// Reads the manifest (if any) and every trial record of the sweep in `dir`.
    pub(crate) fn load(dir: &SweepDir) -> Result<Self, StoreError> {
        let manifest = dir.manifest()?;
        let scan = dir.scan()?;
        let mut records = scan.complete;
        // Plan order, a refit after the fold trials of its index: the order runs are shown in.
        records.sort_by(|a, b| (a.index, a.refit.is_some(), &a.id).cmp(&(b.index, b.refit.is_some(), &b.id)));
        Ok(SweepView {
            dir: dir.clone(),
            manifest,
            records,
            incomplete: scan.incomplete.into_iter().map(|t| t.dir).collect(),
        })
    }

    /// The results folder.
    pub(crate) fn dir(&self) -> &SweepDir {
        &self.dir
    }

    /// The results folder's path.
    pub(crate) fn root(&self) -> &Path {
        self.dir.root()
    }

    /// `sweep.json`, absent in a folder that only holds trial records.
    pub(crate) fn manifest(&self) -> Option<&SweepManifest> {
        self.manifest.as_ref()
    }

    /// Every complete trial record, in plan order (a refit after its index's fold trials).
    pub(crate) fn records(&self) -> &[TrialRecord] {
        &self.records
    }

    /// Trial folders without a record yet: running, or their process died.
    pub(crate) fn incomplete(&self) -> &[PathBuf] {
        &self.incomplete
    }

    /// The sweep's name: the manifest's, else the first record's.
    pub(crate) fn sweep_name(&self) -> Option<&str> {
        self.manifest.as_ref().map(|m| m.name.as_str()).or_else(|| self.records.first().map(|r| r.sweep.as_str()))
    }

    /// `registry.json`, read when asked (only a registration needs it); `None` before any aggregation.
    pub(crate) fn registry(&self) -> Result<Option<SweepRegistry>, StoreError> {
        let path = self.dir.file(names::REGISTRY);
        if !path.exists() {
            return Ok(None);
        }
        store::read_json(&path).map(Some)
    }
}
