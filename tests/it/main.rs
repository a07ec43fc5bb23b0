//! The integration tests: the real `sweep` binary and the examples, run on the
//! bundled data as a user runs them.
//!
//! One test binary with a module per subject (as ripgrep's tests are), so Burn
//! is linked once instead of once per file. The modules share one process and
//! run on parallel threads: a test changes no environment variable, working
//! directory or global of this process; what it runs gets its own settings on
//! its `Command`.
//!
//! Run one subject with `cargo test --release --test it cli::`, one test by a
//! part of its name. A test that needs a tool this machine lacks (Python and
//! its modules, a SLURM cluster, Chromium, root for a tmpfs mount) prints
//! `skipped: <test>: <why>` on the terminal and passes; where
//! `SWEEP_REQUIRE_<TOOL>=1` or `CI=true` it fails instead (see
//! [`common::skip`]).

mod common;

mod checkpoint;
mod claims;
mod cli;
mod command;
mod deploy;
mod event_log;
mod examples;
mod export_formats;
mod fault_campaign;
mod faults;
mod fuzz_cli;
mod gpu;
mod json_output;
mod mlflow;
mod pick;
mod regression;
mod report;
mod selection;
mod slurm;
mod tables;
mod tensorboard;
mod wandb;
mod wandb_export;
