//! `objective = "command"`: any program as a trial's model. The program
//! trains and validates on its own data; each epoch it reports its metrics
//! (or raw outputs and targets, from which sweep computes its own) over the
//! command protocol ([`protocol`]), and hears back whether to save its model
//! and whether to stop, decided by the same callbacks as any trial. The
//! runner stores the checkpoint the program wrote, exactly as for a Burn
//! trial.

pub(crate) mod argv;
pub(crate) mod client;
mod program;
pub(crate) mod protocol;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Model, Objective, Parallelism, Trainer, TrialContext, TrialError};
use crate::data::DataShape;
use crate::metrics::Task;
use crate::params::{ResolvedParams, Schema};

/// The objective's name in a spec.
pub(crate) const NAME: &str = "command";

/// `[command]`: the user's program a command objective runs for each trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CommandSpec {
    /// The command line, with W&B's macros (`${args}`, `${program}`, ...) still in it.
    pub argv: Vec<String>,
    /// What `${program}` stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// What `${interpreter}` stands for (empty: nothing).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interpreter: String,
    /// The program's working directory, relative to the current one (default: the current one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// Variables set for the program on top of sweep's own environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Seconds a trial's program may run before its process group is killed
    /// (not hashed: it changes no result of a trial that finishes).
    #[serde(skip)]
    pub timeout: Option<f64>,
    /// `[command] predict`: the command line that writes a checkpoint's
    /// predictions on the program's validation rows, which `sweep verify`
    /// runs (not hashed: it changes no trial's result).
    #[serde(skip)]
    pub predict: Option<Vec<String>>,
}

/// Runs `[command]` for each trial.
#[derive(Debug, Default)]
pub(crate) struct CommandObjective;

impl Objective for CommandObjective {
    fn name(&self) -> &str {
        NAME
    }

    fn description(&self) -> &str {
        "your own program ([command] argv), reporting each epoch over the command protocol"
    }

    fn schema(&self) -> Schema {
        Schema::new().open()
    }

    fn tasks(&self) -> &[Task] {
        &[Task::Classification, Task::Regression]
    }

    fn parallelism(&self) -> Parallelism {
        // Each trial is a process of its own already; a thread only waits on it.
        Parallelism::Threads
    }

    fn owns_data(&self) -> bool {
        true
    }

    fn start(&self, trial: &TrialContext<'_>) -> Result<Box<dyn Trainer>, TrialError> {
        let (Some(command), Some(monitor)) = (trial.command, trial.monitor) else {
            return Err(TrialError::failed("objective \"command\" needs the sweep's [command] table"));
        };
        Ok(Box::new(program::ProgramTrainer::start(command, trial, monitor)?))
    }

    fn load(
        &self,
        _: &[u8],
        _: &ResolvedParams,
        _: DataShape,
        _: &burn::tensor::Device,
    ) -> Result<Box<dyn Model>, TrialError> {
        Err(TrialError::failed(UNSUPPORTED))
    }
}

/// Why sweep cannot run a command objective's model itself.
pub(crate) const UNSUPPORTED: &str = "objective \"command\": the checkpoint is the program's own file, which sweep \
    stores and hashes but cannot load; load it with the program's own code";

/// The last `n` lines of `text`, for a message that ends with a program's stderr.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
