//! `[train]`: the fixed settings of every trial, and early stopping.

use std::collections::BTreeMap;

use toml::Spanned;

use super::{Ctx, Expect, toml_to_param};
use crate::params::{ParamDef, ParamKind, Params, RESERVED, Schema};
use crate::spec::raw::RawEarlyStopping;
use crate::spec::{EarlyStoppingSpec, SpecError};

pub(super) fn validate_train(
    ctx: &Ctx,
    train: &BTreeMap<String, Spanned<toml::Value>>,
    schema: &Schema,
    objective: &str,
) -> Result<(Params, Option<EarlyStoppingSpec>), SpecError> {
    let mut fixed = Params::new();
    let mut early_stopping = None;
    for (key, value) in train {
        let path = format!("train.{key}");
        if key == "early_stopping" {
            let raw: RawEarlyStopping = value
                .get_ref()
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| ctx.at(value, &path, e.message().trim().replace('\n', " ")))?;
            let (patience, min_delta) = (raw.patience, raw.min_delta);
            let patience =
                ctx.check(value.span(), &format!("{path}.patience"), patience, Some(patience), &Expect::whole_from(1))?;
            let min_delta = ctx.check(
                value.span(),
                &format!("{path}.min_delta"),
                min_delta,
                Some(min_delta),
                &Expect::non_negative(),
            )?;
            early_stopping = Some(EarlyStoppingSpec { patience: patience as usize, min_delta });
            continue;
        }
        let v = toml_to_param(value.get_ref()).map_err(|m| ctx.at(value, &path, m))?;
        let undeclared;
        let def = match schema.get(key) {
            Some(def) => def,
            None if schema.is_open() => {
                undeclared = ParamDef::undeclared(key, ParamKind::of_values([&v]));
                &undeclared
            }
            None => {
                return Err(ctx.at(
                    value,
                    &path,
                    format!(
                        "unknown setting of objective \"{objective}\", expected one of {}, {}",
                        schema.names(),
                        RESERVED.join(", ")
                    ),
                ));
            }
        };
        let v = def.kind.coerce(&v).map_err(|m| ctx.at(value, &path, m))?;
        fixed.insert(key.clone(), v);
    }
    Ok((fixed, early_stopping))
}
