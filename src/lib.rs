//! `sweep`: a hyperparameter sweep orchestrator for Burn models.
//!
//! The flow, end to end:
//!
//! ```text
//! spec (TOML) ──spec::load, checked against the objective's schema──▶ SweepSpec
//!   ──sampler──▶ Plan [TrialSpec]
//!   ──runner (threads, or worker processes)──▶ Objective::start ─▶ Trainer
//!        each epoch: outputs ──▶ metrics ──▶ callbacks decide ──▶ runner saves atomically (store)
//!        events ──▶ reporters (progress bar)
//!   ──aggregate (reads only per-trial records)──▶ leaderboard.csv + registry.json
//!        selection: refit of a cross-validation's winner, test split of the top models
//!   ──deploy (Objective::load ─▶ Model)──▶ predict, verify, export
//! ```
//!
//! Every stage is a module named after it. The pure core ([`params`],
//! `space`, [`metrics`], `sampler`, `plan`, `callback`) does no I/O.
//! To sweep your own Burn model, implement [`objective::Objective`] and run
//! [`cli::main_with`]; [`prelude`] has what that takes. Only those, and the
//! [`data`], [`params`] and [`metrics`] types an objective touches, are the
//! library's API; every other stage is internal to the `sweep` command.

// Everything but the API above is crate-private, and stays so: a `pub` item that no user can
// reach is a warning (an error in CI), so the surface changes only on purpose.
#![warn(unreachable_pub)]

pub(crate) mod aggregate;
pub(crate) mod bench;
pub(crate) mod callback;
pub mod cli;
pub mod data;
pub(crate) mod deploy;
pub mod device;
pub mod metrics;
pub mod objective;
pub(crate) mod output;
pub mod params;
pub(crate) mod pick;
pub(crate) mod plan;
pub(crate) mod publish;
pub(crate) mod registry;
pub(crate) mod report;
/// Internal, its test hooks included: a user's code cannot reach `RunOptions`
/// or the injected faults (the binary's tests drive those through
/// `SWEEP_FAIL_TRIALS` and `SWEEP_ABORT_TRIALS`).
///
/// ```compile_fail,E0603
/// use sweep::runner::RunOptions;
/// ```
pub(crate) mod runner;
pub(crate) mod sampler;
pub(crate) mod seed;
pub(crate) mod selection;
pub(crate) mod slurm;
pub(crate) mod space;
pub(crate) mod spec;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod text;

/// What a user's objective and its binary need.
pub mod prelude {
    pub use crate::cli::main_with;
    pub use crate::data::{DataShape, DataSource, Prepared, SourceError, Table, TargetColumn, Targets};
    pub use crate::device::Backend;
    pub use crate::metrics::Task;
    pub use crate::objective::{
        Catalog, Forward, Model, Objective, Parallelism, ProgramRun, Trainer, TrialContext, TrialError, TrialRng,
        Validation, builtin, shuffled_batches, to_vec, weights,
    };
    pub use crate::params::{ParamDef, ResolvedParams, Schema};
}
