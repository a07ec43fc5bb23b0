//! `[slurm]`: the defaults of `sweep slurm`.

use toml::Spanned;

use super::{Ctx, Expect};
use crate::spec::raw::RawSlurm;
use crate::spec::{SlurmDefaults, SpecError};

pub(super) fn validate_slurm(ctx: &Ctx, raw: &RawSlurm) -> Result<SlurmDefaults, SpecError> {
    let positive = |v: &Option<Spanned<i64>>, key: &str| -> Result<Option<u32>, SpecError> {
        Ok(ctx.check_opt(v.as_ref(), key, &Expect::whole(1..=100_000))?.map(|n| n as u32))
    };
    let text = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<String>, SpecError> {
        match v {
            Some(t) if t.get_ref().trim().is_empty() || t.get_ref().contains(char::is_whitespace) => {
                Err(ctx.at(t, key, format!("got \"{}\", expected one word without spaces", t.get_ref())))
            }
            other => Ok(other.as_ref().map(|t| t.get_ref().clone())),
        }
    };
    Ok(SlurmDefaults {
        partition: text(&raw.partition, "slurm.partition")?,
        time: text(&raw.time, "slurm.time")?,
        cpus_per_task: positive(&raw.cpus_per_task, "slurm.cpus_per_task")?,
        mem: text(&raw.mem, "slurm.mem")?,
        max_parallel: positive(&raw.max_parallel, "slurm.max_parallel")?,
        sbatch_args: raw.sbatch_args.clone(),
    })
}
