//! Which errors are the user's to fix (exit 2) and which are failures (exit 1).
//!
//! Every match here names every variant, with no wildcard: a new error kind
//! does not compile until someone decides its exit code, so none can silently
//! get the wrong one.

use super::CliError;
use crate::aggregate::AggregateError;
use crate::bench::BenchError;
use crate::data::{DataError, SourceError};
use crate::deploy::DeployError;
use crate::publish::mlflow::{MlflowError, PushError};
use crate::publish::tensorboard::TensorboardError;
use crate::publish::wandb::WandbError;
use crate::registry::RegistryError;
use crate::report::{ChartError, ReportError};
use crate::runner::RunError;
use crate::slurm::SlurmError;
use crate::spec::SpecError;
use crate::status::StatusError;
use crate::store::StoreError;

/// Exit code of bad input: a wrong spec, bad data, a name or folder that cannot be used.
pub(super) const BAD_INPUT: u8 = 2;
/// Exit code of a failure: a failed trial, a missed target, results that could not be read or written.
pub(super) const FAILURE: u8 = 1;

/// Whether an error is bad input, which the user fixes by changing what they gave.
pub(super) trait BadInput {
    /// True for bad input (exit 2), false for a failure (exit 1).
    fn is_bad_input(&self) -> bool;
}

impl CliError {
    /// 2 for anything the user can fix in their input, 1 otherwise.
    pub(crate) fn exit_code(&self) -> u8 {
        if self.is_bad_input() { BAD_INPUT } else { FAILURE }
    }
}

impl BadInput for CliError {
    fn is_bad_input(&self) -> bool {
        match self {
            CliError::Spec(e) => e.is_bad_input(),
            CliError::Data(e) => e.is_bad_input(),
            CliError::Run(e) => e.is_bad_input(),
            CliError::Aggregate(e) => e.is_bad_input(),
            CliError::Store(e) => e.is_bad_input(),
            CliError::Slurm(e) => e.is_bad_input(),
            CliError::Status(e) => e.is_bad_input(),
            CliError::Registry(e) => e.is_bad_input(),
            CliError::Deploy(e) => e.is_bad_input(),
            CliError::Report(e) => e.is_bad_input(),
            CliError::Bench(e) => e.is_bad_input(),
            CliError::Tensorboard(e) => e.is_bad_input(),
            CliError::Mlflow(e) => e.is_bad_input(),
            CliError::Wandb(e) => e.is_bad_input(),
            CliError::Device(e) => e.is_bad_input(),
            CliError::Usage(_) => true,
            CliError::Output(_) => false,
        }
    }
}

impl BadInput for SpecError {
    fn is_bad_input(&self) -> bool {
        match self {
            // The user named a spec file that cannot be read.
            SpecError::Read { .. } | SpecError::Invalid { .. } => true,
        }
    }
}

impl BadInput for DataError {
    fn is_bad_input(&self) -> bool {
        match self {
            DataError::Read { .. }
            | DataError::Empty { .. }
            | DataError::Malformed { .. }
            | DataError::MissingColumn { .. }
            | DataError::Columns { .. }
            | DataError::NonNumeric { .. }
            | DataError::NotFinite { .. }
            | DataError::Missing { .. }
            | DataError::UnseenCategory { .. }
            | DataError::TooManyCategories { .. }
            | DataError::NoFill { .. }
            | DataError::EmptyTarget { .. }
            | DataError::NonNumericTarget { .. }
            | DataError::LooksContinuous { .. }
            | DataError::TooFewClasses { .. }
            | DataError::NoFeatures { .. }
            | DataError::SplitTooSmall { .. }
            | DataError::Stored { .. } => true,
            DataError::Source(e) => e.is_bad_input(),
        }
    }
}

impl BadInput for SourceError {
    fn is_bad_input(&self) -> bool {
        // An objective's own source reads what the spec's [data] options name.
        let SourceError { origin: _, message: _ } = self;
        true
    }
}

impl BadInput for RunError {
    fn is_bad_input(&self) -> bool {
        match self {
            RunError::Data(e) => e.is_bad_input(),
            RunError::Store(e) => e.is_bad_input(),
            RunError::Device(e) => e.is_bad_input(),
            RunError::SpecVsData { .. }
            | RunError::UnknownObjective { .. }
            | RunError::ExistingResults { .. }
            | RunError::IndexOutOfRange { .. }
            | RunError::Adaptive { .. } => true,
            // The spec or data changed under a running sweep: nothing to fix in the command.
            RunError::WorkerMismatch { .. } | RunError::Pool { .. } => false,
            // A full or read-only disk: the command was right, the machine could not keep its results.
            RunError::StorageUnavailable { .. } => false,
        }
    }
}

impl BadInput for crate::device::DeviceError {
    fn is_bad_input(&self) -> bool {
        use crate::device::DeviceError;
        match self {
            // A build without the backend, an index past the machine's devices, a driver that
            // is not installed, an objective that cannot train there: the command asks for
            // what is not there.
            DeviceError::NotBuilt { .. }
            | DeviceError::NoneVisible { .. }
            | DeviceError::Missing { .. }
            | DeviceError::Unsupported { .. } => true,
            // The device is there and would not open.
            DeviceError::Open { .. } => false,
        }
    }
}

impl BadInput for AggregateError {
    fn is_bad_input(&self) -> bool {
        match self {
            AggregateError::NoRecords { .. } => true,
            AggregateError::Store(e) => e.is_bad_input(),
            // The folder's own records contradict each other, or an export failed.
            AggregateError::MixedTasks { .. }
            | AggregateError::MixedMonitors { .. }
            | AggregateError::NoneMeetsConstraints { .. }
            | AggregateError::Render { .. } => false,
        }
    }
}

impl BadInput for StoreError {
    fn is_bad_input(&self) -> bool {
        match self {
            StoreError::Io { .. } | StoreError::Parse { .. } => false,
            StoreError::Symlink { .. } => true,
        }
    }
}

impl BadInput for SlurmError {
    fn is_bad_input(&self) -> bool {
        match self {
            SlurmError::Store(e) => e.is_bad_input(),
            // The cluster refused, or allows no arrays at all (MaxArraySize = 0): nothing in the
            // command to fix.
            SlurmError::NoSbatch { .. }
            | SlurmError::Rejected { .. }
            | SlurmError::NoJobId { .. }
            | SlurmError::NoArrays
            | SlurmError::PartlySubmitted { .. } => false,
        }
    }
}

impl BadInput for TensorboardError {
    fn is_bad_input(&self) -> bool {
        match self {
            TensorboardError::NotASweep { .. } => true,
            TensorboardError::Store(e) => e.is_bad_input(),
            // The trial files are sweep's own: damage there is a failure, like a write error.
            TensorboardError::Malformed { .. } | TensorboardError::Write { .. } => false,
        }
    }
}

impl BadInput for PushError {
    fn is_bad_input(&self) -> bool {
        match self {
            PushError::NotASweep { .. }
            | PushError::UnknownTrial { .. }
            | PushError::NoModel { .. }
            | PushError::NoTopPick { .. } => true,
            PushError::Uri(e) | PushError::Experiment { source: e, .. } => e.is_bad_input(),
            PushError::Store(e) => e.is_bad_input(),
            PushError::Model { source, .. } => source.is_bad_input(),
            // The server's state or answers, not the command: a deleted experiment of that name,
            // a trial or registration the server refused or never received.
            PushError::DeletedExperiment { .. } | PushError::Trial { .. } | PushError::Register { .. } => false,
        }
    }
}

impl BadInput for WandbError {
    fn is_bad_input(&self) -> bool {
        match self {
            WandbError::NotASweep { .. } => true,
            WandbError::Store(e) => e.is_bad_input(),
            WandbError::Model { source, .. } => source.is_bad_input(),
            // The trial files are sweep's own: damage there is a failure, like a write error.
            WandbError::History(_) | WandbError::Time { .. } | WandbError::Write { .. } => false,
        }
    }
}

impl BadInput for MlflowError {
    fn is_bad_input(&self) -> bool {
        match self {
            // `sqlite:///mlflow.db`, no scheme: no server's address.
            MlflowError::BadUri { .. } => true,
            MlflowError::Unreachable { .. }
            | MlflowError::Rejected { .. }
            | MlflowError::Response { .. }
            | MlflowError::UnsupportedArtifactUri { .. }
            | MlflowError::LocalArtifact { .. } => false,
        }
    }
}

impl BadInput for StatusError {
    fn is_bad_input(&self) -> bool {
        match self {
            StatusError::NotASweep { .. } => true,
            StatusError::Store(e) => e.is_bad_input(),
            StatusError::BadManifest { .. } => false,
        }
    }
}

impl BadInput for RegistryError {
    fn is_bad_input(&self) -> bool {
        match self {
            RegistryError::BadName { .. }
            | RegistryError::BadRef { .. }
            | RegistryError::UnknownModel { .. }
            | RegistryError::UnknownSelector { .. }
            | RegistryError::NotRegistrable { .. } => true,
            RegistryError::Store(e) => e.is_bad_input(),
        }
    }
}

impl BadInput for DeployError {
    fn is_bad_input(&self) -> bool {
        match self {
            DeployError::Registry(e) => e.is_bad_input(),
            DeployError::Device(e) => e.is_bad_input(),
            DeployError::Store(e) => e.is_bad_input(),
            DeployError::Data(e) => e.is_bad_input(),
            DeployError::NotAModel { .. }
            | DeployError::UnknownObjective { .. }
            | DeployError::ObjectiveVersion { .. }
            | DeployError::Unsupported { .. }
            | DeployError::ProgramModel { .. }
            | DeployError::Input { .. }
            | DeployError::DataChanged { .. }
            | DeployError::NoSuchSplit { .. } => true,
            // The model's own files are unfinished or damaged, or an output could not be written.
            DeployError::Unfinished { .. }
            | DeployError::ChecksumMismatch { .. }
            | DeployError::Checkpoint { .. }
            | DeployError::Predict { .. }
            | DeployError::Write { .. } => false,
        }
    }
}

impl BadInput for ReportError {
    fn is_bad_input(&self) -> bool {
        match self {
            ReportError::NotASweep { .. } => true,
            ReportError::Store(e) => e.is_bad_input(),
            ReportError::Chart(e) => e.is_bad_input(),
        }
    }
}

impl BadInput for ChartError {
    fn is_bad_input(&self) -> bool {
        let ChartError { chart: _, message: _ } = self;
        false
    }
}

impl BadInput for BenchError {
    fn is_bad_input(&self) -> bool {
        // A workload that fails is a failure of the tool being measured, not of the user's input.
        match self {
            BenchError::Workload { .. } | BenchError::Write { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn io() -> std::io::Error {
        std::io::Error::other("disk full")
    }

    #[test]
    fn bad_input_exits_2_and_failures_exit_1() {
        let data = || DataError::Empty { path: PathBuf::from("d.csv"), what: "the file is empty" };
        let store = || StoreError::Io { path: PathBuf::from("r/leaderboard.csv"), source: io() };
        let symlink = || StoreError::Symlink { path: PathBuf::from("r/trials/t0"), target: PathBuf::from("/tmp") };
        let cases: Vec<(CliError, u8)> = vec![
            (
                SpecError::Invalid { file: "s.toml".into(), line: Some(1), key: String::new(), message: "x".into() }
                    .into(),
                2,
            ),
            (data().into(), 2),
            (RunError::Data(data()).into(), 2),
            (RunError::Store(store()).into(), 1),
            (RunError::Store(symlink()).into(), 2),
            (RunError::Pool { workers: 2, message: "x".into() }.into(), 1),
            (AggregateError::NoRecords { dir: "r".into() }.into(), 2),
            (AggregateError::Store(store()).into(), 1),
            (AggregateError::NoneMeetsConstraints { dir: "r".into(), models: 3 }.into(), 1),
            (RegistryError::BadRef { reference: "x".into(), why: "y".into() }.into(), 2),
            (RegistryError::Store(store()).into(), 1),
            (DeployError::Registry(RegistryError::BadName { what: "alias", value: "..".into() }).into(), 2),
            (
                DeployError::ChecksumMismatch {
                    path: "c".into(),
                    record: "trial.json".into(),
                    expected: "a".into(),
                    actual: "b".into(),
                }
                .into(),
                1,
            ),
            (DeployError::Data(DataError::Source(SourceError::new("imgs", "no images"))).into(), 2),
            (StatusError::NotASweep { dir: "r".into() }.into(), 2),
            (SlurmError::NoJobId { script: "s.sh".into(), stdout: String::new() }.into(), 1),
            (ReportError::Chart(ChartError { chart: "c".into(), message: "m".into() }).into(), 1),
            (BenchError::Workload { workload: "digits".into(), message: "x".into() }.into(), 1),
            (BenchError::Write { path: "bench.csv".into(), source: io() }.into(), 1),
            (CliError::Usage("x".into()), 2),
            (CliError::Output(io()), 1),
        ];
        for (error, code) in cases {
            assert_eq!(error.exit_code(), code, "{error:?}");
        }
    }
}
