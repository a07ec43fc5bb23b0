//! `[publish]`: the trackers aggregation writes the sweep out for.

use toml::Spanned;

use super::Ctx;
use crate::spec::raw::RawPublish;
use crate::spec::{PublishSpec, SpecError, WandbTarget};
use crate::store::check_wandb_name;

pub(super) fn validate_publish(ctx: &Ctx, raw: Option<&RawPublish>) -> Result<PublishSpec, SpecError> {
    let Some(wandb) = raw.and_then(|r| r.wandb.as_ref()) else {
        return Ok(PublishSpec::default());
    };
    let name = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<String>, SpecError> {
        match v {
            Some(n) => match check_wandb_name(n.get_ref()) {
                Ok(()) => Ok(Some(n.get_ref().clone())),
                Err(e) => Err(ctx.at(n, key, e)),
            },
            None => Ok(None),
        }
    };
    let target = wandb.get_ref();
    Ok(PublishSpec {
        wandb: Some(WandbTarget {
            project: name(&target.project, "publish.wandb.project")?,
            entity: name(&target.entity, "publish.wandb.entity")?,
        }),
    })
}
