//! `sweep devices`: the backends this binary has and the devices each shows,
//! with `--check`, the canary that catches a driver computing wrong sums; and
//! the `--device`/`--devices`/`--trials-per-device` overrides of `run`,
//! `trial` and `slurm`.

use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::device::{self, Backend, Resources};

/// Arguments of `sweep devices`.
#[derive(Debug, Args)]
pub(crate) struct DevicesArgs {
    /// Run the canary on each device: a sum over 2^19 rows and a matrix product,
    /// checked against their exact values (exit 1 if any is wrong).
    #[arg(long)]
    pub check: bool,
}

/// Lists every backend and its devices.
pub(super) fn devices(args: DevicesArgs) -> Result<ExitCode, CliError> {
    let mut wrong = 0;
    for backend in Backend::ALL {
        if !backend.built() {
            println!("{}: not in this binary (cargo build --release --features {})", backend.name(), backend.name());
            continue;
        }
        let visible = match device::visible(backend) {
            Ok(v) => v,
            Err(e) => {
                println!("{}: {e}", backend.name());
                continue;
            }
        };
        if visible.is_empty() {
            println!("{}: no device visible", backend.name());
        }
        for (i, info) in visible.iter().enumerate() {
            println!("{}", info.label());
            if !args.check {
                continue;
            }
            let opened = device::open(backend, i)?;
            match device::canary(&opened) {
                Ok(report) if report.ok => println!(
                    "  canary ok: sum_dim over 2^19 rows {:?}, 64x64 matmul error {:.1e}",
                    report.column_sums, report.matmul_error
                ),
                Ok(report) => {
                    wrong += 1;
                    println!(
                        "  canary WRONG: sum_dim over 2^19 rows gave {:?} (expected 524288 each), 64x64 matmul error \
                         {:.1e}: this driver computes wrong results (Debian 12's Mesa 22.3 lavapipe does; Mesa 25 \
                         from bookworm-backports is right)",
                        report.column_sums, report.matmul_error
                    );
                }
                Err(message) => {
                    wrong += 1;
                    println!("  canary failed to run: {message}");
                }
            }
        }
    }
    Ok(if wrong == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `--device`, `--devices` and `--trials-per-device`: a run's choice over the spec's `[resources]`.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct DeviceArgs {
    /// Where trials compute: cpu, or wgpu (a GPU; needs a build with `--features wgpu`).
    #[arg(long, value_parser = parse_backend)]
    pub device: Option<Backend>,
    /// The GPU indices to use, comma-separated (`sweep devices` lists them); default: every one.
    #[arg(long, value_delimiter = ',')]
    pub devices: Option<Vec<usize>>,
    /// Worker processes that share one GPU.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub trials_per_device: Option<u32>,
}

pub(super) fn parse_backend(word: &str) -> Result<Backend, String> {
    Backend::parse(word).ok_or_else(|| {
        let names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

impl DeviceArgs {
    /// The spec's `[resources]` with these overrides, checked against the objective.
    pub(crate) fn apply(
        &self,
        spec: &Resources,
        objective: Option<&dyn crate::objective::Objective>,
    ) -> Result<Resources, CliError> {
        let backend = self.device.unwrap_or(spec.backend);
        if let Some(objective) = objective {
            crate::objective::check_device(objective, backend)?;
        }
        if !backend.is_gpu() && (self.devices.is_some() || self.trials_per_device.is_some()) {
            return Err(CliError::Usage(
                "--devices and --trials-per-device are for GPUs (--device wgpu); the CPU is one device".into(),
            ));
        }
        let devices = match &self.devices {
            Some(list) => {
                let mut seen = list.clone();
                seen.sort_unstable();
                seen.dedup();
                if seen.len() != list.len() {
                    return Err(CliError::Usage(
                        "--devices lists a device twice; to run several trials on it, use --trials-per-device".into(),
                    ));
                }
                Some(list.clone())
            }
            None if backend == spec.backend => spec.devices.clone(),
            None => None,
        };
        let trials_per_device = match self.trials_per_device {
            Some(n) => n as usize,
            None if backend == spec.backend => spec.trials_per_device,
            None => 1,
        };
        Ok(Resources { backend, devices, trials_per_device })
    }
}

/// The one device of a process that trains alone (`sweep trial`): the first
/// of the chosen devices, checked and opened.
pub(crate) fn one_device(resources: &Resources) -> Result<device::TrialDevice, CliError> {
    let placement = device::Placement::resolve(resources, Some(1))?;
    match placement.slots.first() {
        Some(&index) => Ok(device::open(placement.backend, index)?),
        None => Ok(device::TrialDevice::cpu()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_overrides_the_spec_and_keeps_what_it_does_not_name() {
        let spec = Resources { backend: Backend::Wgpu, devices: Some(vec![1]), trials_per_device: 3 };
        let none = DeviceArgs::default();
        assert_eq!(none.apply(&spec, None).unwrap(), spec);
        let only_devices = DeviceArgs { devices: Some(vec![0, 2]), ..DeviceArgs::default() };
        assert_eq!(only_devices.apply(&spec, None).unwrap().devices, Some(vec![0, 2]));
        assert_eq!(only_devices.apply(&spec, None).unwrap().trials_per_device, 3);
        let cpu = DeviceArgs { device: Some(Backend::Cpu), ..DeviceArgs::default() };
        assert_eq!(cpu.apply(&spec, None).unwrap(), Resources::default());
        let twice = DeviceArgs { devices: Some(vec![0, 0]), ..DeviceArgs::default() };
        assert!(twice.apply(&spec, None).is_err());
        let cpu_with_devices =
            DeviceArgs { device: Some(Backend::Cpu), devices: Some(vec![0]), ..DeviceArgs::default() };
        assert!(cpu_with_devices.apply(&spec, None).is_err());
    }
}
