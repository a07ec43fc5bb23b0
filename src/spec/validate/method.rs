//! `method`, `trials` and `[tpe]`: how configurations are chosen.

use std::collections::BTreeMap;

use toml::Spanned;

use super::{Ctx, Expect};
use crate::space::Domain;
use crate::spec::raw::RawSpec;
use crate::spec::{Method, SpecError};

/// `method` and the keys it reads (`trials`, `[tpe]`), against the parameters it samples.
pub(super) fn validate_method(
    ctx: &Ctx,
    raw: &RawSpec,
    parameters: &BTreeMap<String, Domain>,
) -> Result<Method, SpecError> {
    Ok(match raw.method.get_ref().as_str() {
        "grid" => {
            if let Some(t) = &raw.trials {
                return Err(ctx.at(
                    t,
                    "trials",
                    "is only used with method = \"random\" or \"tpe\"; a grid runs every combination",
                ));
            }
            for (key, domain) in parameters {
                if let Domain::Categorical { .. } = domain {
                    let span = raw.parameters.get(key).map(|p| p.span());
                    return Err(ctx.err(
                        span,
                        &format!("parameters.{key}.probabilities"),
                        "is not used by method = \"grid\", which tries every value once; remove it",
                    ));
                }
                if domain.grid_values().is_none() {
                    let span = raw.parameters.get(key).map(|p| p.span());
                    return Err(ctx.err(
                        span,
                        &format!("parameters.{key}"),
                        format!(
                            "has distribution \"{}\", but method = \"grid\" needs a list: values = [...]",
                            domain.kind()
                        ),
                    ));
                }
            }
            Method::Grid
        }
        "random" => match &raw.trials {
            Some(t) => Method::Random { trials: ctx.check_at(t, "trials", &Expect::whole(1..=10_000_000))? as usize },
            None => {
                return Err(ctx.at(&raw.method, "trials", "is missing: method = \"random\" needs trials = N"));
            }
        },
        "tpe" => {
            let trials = match &raw.trials {
                Some(t) => ctx.check_at(t, "trials", &Expect::whole(1..=1_000_000))? as usize,
                None => return Err(ctx.at(&raw.method, "trials", "is missing: method = \"tpe\" needs trials = N")),
            };
            Method::Tpe { trials, settings: validate_tpe(ctx, raw.tpe.as_ref())? }
        }
        other => {
            return Err(ctx.at(
                &raw.method,
                "method",
                format!("got \"{other}\", expected \"grid\", \"random\" or \"tpe\""),
            ));
        }
    })
}

fn validate_tpe(
    ctx: &Ctx,
    raw: Option<&Spanned<crate::spec::raw::RawTpe>>,
) -> Result<crate::sampler::tpe::TpeSettings, SpecError> {
    let mut settings = crate::sampler::tpe::TpeSettings::default();
    let Some(t) = raw else {
        return Ok(settings);
    };
    let r = t.get_ref();
    // The table's keys have no spans of their own: messages point at the table.
    let check = |key: &str, n: Option<i64>, expect: &Expect<i64>| {
        n.map(|n| ctx.check(t.span(), key, n, Some(n), expect)).transpose()
    };
    if let Some(n) = check("tpe.startup_trials", r.startup_trials, &Expect::whole(1..=100_000))? {
        settings.startup_trials = n as usize;
    }
    if let Some(n) = check("tpe.candidates", r.candidates, &Expect::whole(1..=10_000))? {
        settings.candidates = n as usize;
    }
    if let Some(g) = r.gamma {
        settings.gamma = ctx.check(t.span(), "tpe.gamma", g, Some(g), &Expect::fraction())?;
    }
    Ok(settings)
}
