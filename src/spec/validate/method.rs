//! `method`, `trials` and the method's own table: each sampler parses its keys itself
//! (`crate::sampler::parse_method`), so a new method needs no edit here.

use std::collections::BTreeMap;
use std::ops::Range;

use super::Ctx;
use crate::sampler::{KeyError, MethodKeys};
use crate::space::Domain;
use crate::spec::raw::RawSpec;
use crate::spec::{Method, SpecError};

/// What the method's parser reads: `parameter_span` finds a parameter's place in the file.
pub(super) fn keys<'a>(
    raw: &'a RawSpec,
    parameters: &'a BTreeMap<String, Domain>,
    parameter_span: &'a dyn Fn(&str) -> Option<Range<usize>>,
    trade_off: &'a [crate::pick::TradeOff],
) -> MethodKeys<'a> {
    MethodKeys {
        method: &raw.method,
        trials: raw.trials.as_ref(),
        tpe: raw.tpe.as_ref(),
        nsga2: raw.nsga2.as_ref(),
        trade_off,
        parameters,
        parameter_span,
    }
}

/// `method` and the keys it reads (`trials`, `[tpe]`), against the parameters it samples.
pub(super) fn validate_method(ctx: &Ctx, keys: &MethodKeys<'_>) -> Result<Method, SpecError> {
    crate::sampler::parse_method(keys).map_err(|e| key_error(ctx, e))
}

/// A method's table given to another method (`[tpe]` with `method = "grid"`).
pub(super) fn check_method_tables(ctx: &Ctx, method: &Method, keys: &MethodKeys<'_>) -> Result<(), SpecError> {
    crate::sampler::check_tables(method, keys).map_err(|e| key_error(ctx, e))
}

fn key_error(ctx: &Ctx, e: KeyError) -> SpecError {
    ctx.err(e.span, &e.key, e.message)
}
