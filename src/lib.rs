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
//! [`space`], [`metrics`], [`sampler`], [`plan`], [`callback`]) does no I/O.
//! To sweep your own Burn model, implement [`objective::Objective`] and run
//! [`cli::main_with`]; [`prelude`] has what that takes.

pub mod aggregate;
pub mod bench;
pub mod callback;
pub mod cli;
pub mod data;
pub mod deploy;
pub mod metrics;
pub mod objective;
/// The ONNX graph an objective's model writes itself into (it lives with the objective API).
pub use objective::onnx;
pub mod output;
pub mod params;
pub mod plan;
pub mod publish;
pub mod registry;
pub mod report;
pub mod runner;
pub mod sampler;
pub mod seed;
pub mod selection;
pub mod slurm;
pub mod space;
pub mod spec;
pub mod status;
pub mod store;
pub mod text;

/// What a user's objective and its binary need.
pub mod prelude {
    pub use crate::cli::main_with;
    pub use crate::data::{DataShape, DataSource, Prepared, SourceError, Table, TargetColumn, Targets};
    pub use crate::metrics::Task;
    pub use crate::objective::{
        Catalog, Forward, Model, Objective, Parallelism, Trainer, TrialContext, TrialError, TrialRng, builtin,
        shuffled_batches, to_vec, weights,
    };
    pub use crate::params::{ParamDef, ResolvedParams, Schema};
}
