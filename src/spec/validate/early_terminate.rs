//! `[early_terminate]`: the pruning rule and its keys.

use toml::Spanned;

use super::{Ctx, Expect};
use crate::spec::SpecError;

pub(super) fn validate_early_terminate(
    ctx: &Ctx,
    t: &Spanned<crate::spec::raw::RawEarlyTerminate>,
    epochs: usize,
) -> Result<crate::spec::EarlyTerminate, SpecError> {
    let r = t.get_ref();
    // The table's keys have no spans of their own: messages point at the table.
    let whole = |v: Option<i64>, key: &str, default: usize, min: i64| -> Result<usize, SpecError> {
        match v {
            None => Ok(default),
            Some(n) => {
                Ok(ctx.check(t.span(), &format!("early_terminate.{key}"), n, Some(n), &Expect::whole_from(min))?
                    as usize)
            }
        }
    };
    let unused = |keys: &[(&str, bool)]| -> Result<(), SpecError> {
        match keys.iter().find(|(_, set)| *set) {
            Some((k, _)) => {
                Err(ctx.at(t, &format!("early_terminate.{k}"), format!("is not used by type = \"{}\"", r.kind)))
            }
            None => Ok(()),
        }
    };
    let wandb_keys = [("min_iter", r.min_iter.is_some()), ("max_iter", r.max_iter.is_some()), ("s", r.s.is_some())];
    match r.kind.as_str() {
        "asha" => {
            unused(&[("warmup_epochs", r.warmup_epochs.is_some()), ("min_trials", r.min_trials.is_some())])?;
            unused(&wandb_keys)?;
            Ok(crate::spec::EarlyTerminate::Asha {
                min_epochs: whole(r.min_epochs, "min_epochs", 1, 1)?,
                eta: whole(r.eta, "eta", 3, 2)?,
                max_epochs: whole(r.max_epochs, "max_epochs", epochs, 1)?,
            })
        }
        "median" => {
            unused(&[
                ("min_epochs", r.min_epochs.is_some()),
                ("eta", r.eta.is_some()),
                ("max_epochs", r.max_epochs.is_some()),
            ])?;
            unused(&wandb_keys)?;
            Ok(crate::spec::EarlyTerminate::Median {
                warmup_epochs: whole(r.warmup_epochs, "warmup_epochs", 5, 1)?,
                min_trials: whole(r.min_trials, "min_trials", 3, 1)?,
            })
        }
        // W&B's keys and rule (its hyperband_stopping): bands from min_iter, or from max_iter and s.
        "hyperband" => {
            unused(&[
                ("min_epochs", r.min_epochs.is_some()),
                ("warmup_epochs", r.warmup_epochs.is_some()),
                ("min_trials", r.min_trials.is_some()),
            ])?;
            let rule = match (r.min_iter, r.max_iter) {
                (Some(_), Some(_)) => {
                    return Err(ctx.at(t, "early_terminate.max_iter", "cannot be combined with min_iter; give one"));
                }
                (None, None) => {
                    return Err(ctx.at(t, "early_terminate", "type = \"hyperband\" needs min_iter, or max_iter and s"));
                }
                (Some(_), None) => {
                    unused(&[("s", r.s.is_some())])?;
                    crate::spec::EarlyTerminate::Hyperband {
                        min_iter: whole(r.min_iter, "min_iter", 1, 1)?,
                        max_iter: 0,
                        brackets: 0,
                        eta: whole(r.eta, "eta", 3, 2)?,
                        max_epochs: whole(r.max_epochs, "max_epochs", epochs, 1)?,
                    }
                }
                (None, Some(_)) => crate::spec::EarlyTerminate::Hyperband {
                    min_iter: 0,
                    max_iter: whole(r.max_iter, "max_iter", epochs, 1)?,
                    brackets: whole(r.s, "s", 1, 1)?,
                    eta: whole(r.eta, "eta", 3, 2)?,
                    max_epochs: whole(r.max_epochs, "max_epochs", epochs, 1)?,
                },
            };
            if rule.bands().is_empty() {
                return Err(ctx.at(
                    t,
                    "early_terminate",
                    format!("type = \"hyperband\" leaves no band below {epochs} epochs; lower min_iter or raise max_iter or s"),
                ));
            }
            Ok(rule)
        }
        other => Err(ctx.at(
            t,
            "early_terminate.type",
            format!("got \"{other}\", expected \"asha\", \"hyperband\" or \"median\""),
        )),
    }
}
