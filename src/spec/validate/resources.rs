//! `[resources]`: the device trials compute on, which devices, and how many
//! trials share one.

use toml::Spanned;

use super::{Ctx, Expect};
use crate::device::{Backend, Resources};
use crate::objective::Objective;
use crate::spec::SpecError;
use crate::spec::raw::RawResources;

/// The most worker processes one device may hold.
const MAX_TRIALS_PER_DEVICE: i64 = 64;

pub(super) fn validate_resources(
    ctx: &Ctx,
    raw: Option<&Spanned<RawResources>>,
    objective: &dyn Objective,
) -> Result<Resources, SpecError> {
    let Some(raw) = raw else { return Ok(Resources::default()) };
    let table = raw.get_ref();
    let backend = match &table.device {
        None => Backend::Cpu,
        Some(word) => {
            let names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
            let backend = Backend::parse(word.get_ref()).ok_or_else(|| {
                ctx.at(
                    word,
                    "resources.device",
                    format!("got \"{}\", expected one of \"{}\"", word.get_ref(), names.join("\", \"")),
                )
            })?;
            // Whether this binary has the backend is checked when a run starts, so a GPU spec
            // still plans, aggregates and runs with `--device cpu` in a CPU-only build.
            crate::objective::check_device(objective, backend)
                .map_err(|e| ctx.at(word, "resources.device", e.to_string()))?;
            backend
        }
    };
    let gpu_only = |key: &str, span: std::ops::Range<usize>| -> Result<(), SpecError> {
        if backend.is_gpu() {
            return Ok(());
        }
        Err(ctx.err(
            Some(span),
            key,
            "is for GPUs: the CPU is one device whose worker threads share it; set device = \"wgpu\" or leave it out",
        ))
    };
    let devices = match &table.devices {
        None => None,
        Some(list) => {
            gpu_only("resources.devices", list.span())?;
            let mut indices = Vec::new();
            for index in list.get_ref() {
                let i =
                    ctx.check_at(index, "resources.devices", &Expect::whole(0..=255).words("a device index from 0"))?;
                if indices.contains(&(i as usize)) {
                    return Err(ctx.at(
                        index,
                        "resources.devices",
                        format!("lists device {i} twice; to run several trials on it, set trials_per_device"),
                    ));
                }
                indices.push(i as usize);
            }
            if indices.is_empty() {
                return Err(ctx.at(list, "resources.devices", "is empty, expected device indices like [0, 1]"));
            }
            Some(indices)
        }
    };
    let trials_per_device = match &table.trials_per_device {
        None => 1,
        Some(n) => {
            gpu_only("resources.trials_per_device", n.span())?;
            ctx.check_at(n, "resources.trials_per_device", &Expect::whole(1..=MAX_TRIALS_PER_DEVICE))? as usize
        }
    };
    Ok(Resources { backend, devices, trials_per_device })
}
