//! `sweep`: a hyperparameter sweep orchestrator for Burn models.
//!
//! The flow, end to end:
//!
//! ```text
//! spec (TOML) ──spec::load──▶ SweepSpec ──sampler──▶ Plan [TrialSpec]
//!   ──runner (rayon pool, one compute thread per trial)──▶ Objective / EpochTrainer
//!        each epoch: metrics ──▶ callbacks decide ──▶ runner saves atomically (store)
//!   ──aggregate (reads only per-trial records)──▶ leaderboard.csv + registry.json
//! ```
//!
//! Every stage is a module named after it; `main.rs` only parses arguments and
//! dispatches to [`cli`].

pub mod aggregate;
pub mod bench;
pub mod callback;
pub mod cli;
pub mod data;
pub mod deploy;
pub mod metrics;
pub mod objective;
pub mod params;
pub mod plan;
pub mod registry;
pub mod report;
pub mod runner;
pub mod sampler;
pub mod slurm;
pub mod space;
pub mod spec;
pub mod status;
pub mod store;
