//! `[parameters]`: the swept parameters and their distributions (sweep's own and W&B's).

use toml::Spanned;

use super::{Ctx, Expect, as_number, toml_to_param};
use crate::params::{Bound, ParamDef, ParamKind, ParamValue, Schema};
use crate::space::Domain;
use crate::spec::SpecError;
use crate::spec::raw::RawParam;

pub(super) fn validate_param(
    ctx: &Ctx,
    key: &str,
    param: &Spanned<RawParam>,
    schema: &Schema,
    objective: &str,
) -> Result<Domain, SpecError> {
    let path = format!("parameters.{key}");
    let p = param.get_ref();
    let undeclared;
    let def = match schema.get(key) {
        Some(def) => def,
        None if schema.is_open() => {
            undeclared = ParamDef::undeclared(key, undeclared_kind(p));
            &undeclared
        }
        None => {
            return Err(ctx.at(
                param,
                &path,
                format!("unknown parameter of objective \"{objective}\", expected one of {}", schema.names()),
            ));
        }
    };
    let kind = &def.kind;
    let coerce = |v: &toml::Value, what: &str| -> Result<ParamValue, SpecError> {
        let pv = toml_to_param(v).map_err(|m| ctx.at(param, &format!("{path}.{what}"), m))?;
        kind.coerce(&pv).map_err(|m| ctx.at(param, &format!("{path}.{what}"), m))
    };
    // The keys only the W&B distributions read, by name, for "is not used" messages.
    let shape_keys = [
        ("probabilities", p.probabilities.is_some()),
        ("q", p.q.is_some()),
        ("mu", p.mu.is_some()),
        ("sigma", p.sigma.is_some()),
    ];
    let distribution = p.distribution.as_deref();

    if let Some(v) = &p.value {
        if p.values.is_some()
            || distribution.is_some_and(|d| d != "constant")
            || p.min.is_some()
            || p.max.is_some()
            || shape_keys.iter().any(|(_, set)| *set)
        {
            return Err(ctx.at(param, &path, "a constant (value = ...) takes no values, distribution, min or max"));
        }
        return Ok(Domain::Values { values: vec![coerce(v, "value")?] });
    }

    if let Some(values) = &p.values {
        if p.min.is_some() || p.max.is_some() {
            return Err(ctx.at(param, &path, "has both values and min/max; give one"));
        }
        if let Some((name, _)) = shape_keys.iter().skip(1).find(|(_, set)| *set) {
            return Err(ctx.at(
                param,
                &format!("{path}.{name}"),
                "is not used with values = [...] (it belongs to a distribution)",
            ));
        }
        if let Some(d) = distribution.filter(|d| !matches!(*d, "categorical" | "categorical_w_probabilities")) {
            return Err(ctx.at(
                param,
                &format!("{path}.distribution"),
                format!("got \"{d}\" with values = [...]; a list takes no distribution (or \"categorical\")"),
            ));
        }
        if values.is_empty() {
            return Err(ctx.at(param, &format!("{path}.values"), "is empty, expected at least one value"));
        }
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            let v = coerce(v, "values")?;
            if out.contains(&v) {
                return Err(ctx.at(param, &format!("{path}.values"), format!("lists {v} twice")));
            }
            out.push(v);
        }
        return match &p.probabilities {
            Some(probabilities) => {
                let probabilities = validate_probabilities(ctx, param, &path, probabilities, out.len())?;
                Ok(Domain::Categorical { values: out, probabilities })
            }
            None if distribution == Some("categorical_w_probabilities") => Err(ctx.at(
                param,
                &format!("{path}.probabilities"),
                "is missing: distribution \"categorical_w_probabilities\" needs one probability per value",
            )),
            None => Ok(Domain::Values { values: out }),
        };
    }
    if p.probabilities.is_some() {
        return Err(ctx.at(param, &format!("{path}.probabilities"), "needs values = [...], one probability per value"));
    }

    let Some(distribution) = distribution else {
        return Err(ctx.at(param, &path, "needs values = [...], value = ..., or distribution with min and max"));
    };
    let expected = "\"uniform\", \"log_uniform_values\", \"int_uniform\", \"q_uniform\", \"q_log_uniform_values\", \
                    \"inv_log_uniform_values\", \"normal\", \"q_normal\", \"log_normal\", \"q_log_normal\", \
                    \"log_uniform\", \"q_log_uniform\", \"inv_log_uniform\", \"categorical\" (with values) or \
                    \"constant\" (with value)";
    match distribution {
        "uniform" | "log_uniform_values" | "int_uniform" => {}
        "constant" | "categorical" | "categorical_w_probabilities" => {
            let needs = if distribution == "constant" { "value = ..." } else { "values = [...]" };
            return Err(ctx.at(param, &path, format!("distribution \"{distribution}\" needs {needs}")));
        }
        "beta" | "q_beta" => {
            return Err(ctx.at(
                param,
                &format!("{path}.distribution"),
                format!("got \"{distribution}\": W&B's beta distributions are not supported; expected {expected}"),
            ));
        }
        _ if WANDB_BOUNDED.contains(&distribution) || WANDB_NORMAL.contains(&distribution) => {
            return validate_wandb_distribution(ctx, key, param, distribution, kind);
        }
        _ => {
            return Err(ctx.at(
                param,
                &format!("{path}.distribution"),
                format!("got \"{distribution}\", expected {expected}"),
            ));
        }
    }
    if !kind.is_numeric() {
        let what = if matches!(kind, ParamKind::Bool) { "true or false" } else { "names" };
        return Err(ctx.at(
            param,
            &format!("{path}.distribution"),
            format!("\"{key}\" takes {what}, so it needs values = [...], not distribution \"{distribution}\""),
        ));
    }
    if let Some((name, _)) = shape_keys.iter().find(|(_, set)| *set) {
        return Err(ctx.at(
            param,
            &format!("{path}.{name}"),
            format!("is not used by distribution \"{distribution}\""),
        ));
    }
    let (Some(min), Some(max)) = (&p.min, &p.max) else {
        return Err(ctx.at(param, &path, format!("distribution \"{distribution}\" needs both min and max")));
    };
    let (min, max) = (coerce(min, "min")?, coerce(max, "max")?);
    let (lo, hi) = (min.as_f64().unwrap_or(0.0), max.as_f64().unwrap_or(0.0));
    if lo > hi {
        return Err(ctx.at(param, &path, format!("min ({min}) is greater than max ({max})")));
    }
    match distribution {
        "int_uniform" => {
            if !kind.is_int() {
                return Err(ctx.at(
                    param,
                    &format!("{path}.distribution"),
                    format!(
                        "\"{key}\" is a real number; use \"uniform\" or \"log_uniform_values\", not \"int_uniform\""
                    ),
                ));
            }
            Ok(Domain::IntUniform { min: lo as i64, max: hi as i64 })
        }
        _ if kind.is_int() => Err(int_needs_int_uniform(ctx, param, &path, key, distribution)),
        "log_uniform_values" if lo <= 0.0 => Err(ctx.at(
            param,
            &format!("{path}.min"),
            format!("got {min}, expected a number > 0 for log_uniform_values"),
        )),
        "log_uniform_values" => Ok(Domain::LogUniformValues { min: lo, max: hi }),
        _ => Ok(Domain::Uniform { min: lo, max: hi }),
    }
}

/// The kind of a parameter an open schema does not declare: whole numbers
/// for `int_uniform`, numbers for any other distribution, else what its
/// values are.
fn undeclared_kind(p: &RawParam) -> ParamKind {
    match p.distribution.as_deref() {
        Some("int_uniform") => ParamKind::of_values(&[ParamValue::Int(0)]),
        Some("constant" | "categorical" | "categorical_w_probabilities") | None => {
            let values: Vec<ParamValue> =
                p.value.iter().chain(p.values.iter().flatten()).filter_map(|v| toml_to_param(v).ok()).collect();
            ParamKind::of_values(&values)
        }
        Some(_) => ParamKind::of_values(&[ParamValue::Float(0.0)]),
    }
}

/// W&B's distributions between `min` and `max` (W&B's `log_uniform`,
/// `q_log_uniform` and `inv_log_uniform` take natural-log exponents; the
/// `_values` forms take the values themselves).
const WANDB_BOUNDED: &[&str] =
    &["q_uniform", "q_log_uniform_values", "inv_log_uniform_values", "log_uniform", "q_log_uniform", "inv_log_uniform"];
/// W&B's distributions around `mu` with `sigma`.
const WANDB_NORMAL: &[&str] = &["normal", "q_normal", "log_normal", "q_log_normal"];

/// The share of draws that must fall in a parameter's range for the redraws of
/// an unbounded distribution to be worth it: below it the spec is a mistake.
const MIN_MASS_INSIDE: f64 = 0.01;

fn int_needs_int_uniform(ctx: &Ctx, param: &Spanned<RawParam>, path: &str, key: &str, distribution: &str) -> SpecError {
    ctx.at(
        param,
        &format!("{path}.distribution"),
        format!("\"{key}\" takes whole numbers; use \"int_uniform\", not \"{distribution}\""),
    )
}

fn validate_probabilities(
    ctx: &Ctx,
    param: &Spanned<RawParam>,
    path: &str,
    probabilities: &[toml::Value],
    n_values: usize,
) -> Result<Vec<f64>, SpecError> {
    let key = format!("{path}.probabilities");
    let mut out = Vec::with_capacity(probabilities.len());
    for p in probabilities {
        out.push(ctx.check(param.span(), &key, p, as_number(p), &Expect::non_negative())?);
    }
    if out.len() != n_values {
        return Err(ctx.at(
            param,
            &key,
            format!("has {} probabilities for {n_values} values, expected one per value", out.len()),
        ));
    }
    let sum: f64 = out.iter().sum();
    if (sum - 1.0).abs() > 1e-6 {
        return Err(ctx.at(param, &key, format!("sum to {sum}, expected 1 (within 1e-6)")));
    }
    Ok(out)
}

/// W&B's distributions beyond sweep's first three (see [`crate::space`] for
/// what each draws), checked so that every draw is a value the parameter takes.
fn validate_wandb_distribution(
    ctx: &Ctx,
    key: &str,
    param: &Spanned<RawParam>,
    distribution: &str,
    kind: &ParamKind,
) -> Result<Domain, SpecError> {
    let path = format!("parameters.{key}");
    let p = param.get_ref();
    let at = |what: &str, message: String| ctx.at(param, &format!("{path}.{what}"), message);
    let number = |v: &Option<toml::Value>, what: &str| -> Result<Option<f64>, SpecError> {
        match v {
            None => Ok(None),
            Some(v) => match as_number(v) {
                Some(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(at(what, format!("got {v}, expected a number"))),
            },
        }
    };
    let positive =
        |x: f64, what: &str| ctx.check(param.span(), &format!("{path}.{what}"), x, Some(x), &Expect::positive());
    if !kind.is_numeric() {
        let what = if matches!(kind, ParamKind::Bool) { "true or false" } else { "names" };
        return Err(at(
            "distribution",
            format!("\"{key}\" takes {what}, so it needs values = [...], not distribution \"{distribution}\""),
        ));
    }
    let quantized = distribution.starts_with("q_");
    if !quantized && kind.is_int() {
        return Err(int_needs_int_uniform(ctx, param, &path, key, distribution));
    }
    let q = match (quantized, number(&p.q, "q")?) {
        (false, Some(_)) => return Err(at("q", format!("is not used by distribution \"{distribution}\""))),
        (false, None) => 1.0,
        (true, q) => {
            // W&B's default step is 1.
            let q = positive(q.unwrap_or(1.0), "q")?;
            if kind.is_int() && q.fract() != 0.0 {
                return Err(at("q", format!("got {q}, expected a whole number > 0 (\"{key}\" takes whole numbers)")));
            }
            q
        }
    };
    let integer = kind.is_int();

    if WANDB_NORMAL.contains(&distribution) {
        for (name, set) in [("min", p.min.is_some()), ("max", p.max.is_some())] {
            if set {
                return Err(at(
                    name,
                    format!(
                        "is not used by distribution \"{distribution}\" (it draws around mu with sigma, and \
                         sweep redraws values \"{key}\" does not take)"
                    ),
                ));
            }
        }
        // W&B's defaults: the standard normal.
        let mu = number(&p.mu, "mu")?.unwrap_or(0.0);
        let sigma = positive(number(&p.sigma, "sigma")?.unwrap_or(1.0), "sigma")?;
        let (min, max) = accepted_hull(kind);
        let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
        // The draws (before rounding, for the q_ forms) that become a value the parameter takes.
        let (lo, hi) = if quantized {
            match crate::space::multiples_within(q, lo, hi) {
                Some((a, b)) => ((a - 0.5) * q, (b + 0.5) * q),
                None => return Err(at("q", format!("got {q}, but no multiple of it is {}", kind.describe()))),
            }
        } else {
            (lo, hi)
        };
        let log = distribution.contains("log");
        let (lo, hi) =
            if log { (lo.max(0.0).ln(), if hi > 0.0 { hi.ln() } else { f64::NEG_INFINITY }) } else { (lo, hi) };
        let z = |x: f64| crate::space::normal_cdf((x - mu) / sigma);
        let inside = if hi > lo { z(hi) - z(lo) } else { 0.0 };
        if inside < MIN_MASS_INSIDE {
            return Err(ctx.at(
                param,
                &path,
                format!(
                    "{distribution}(mu = {mu}, sigma = {sigma}) puts {:.2} % of its draws in what \"{key}\" takes \
                     ({}), expected at least 1 % (sweep redraws the others): move mu or widen sigma",
                    inside * 100.0,
                    kind.describe()
                ),
            ));
        }
        return Ok(match distribution {
            "normal" => Domain::Normal { mu, sigma, min, max },
            "q_normal" => Domain::QNormal { mu, sigma, q, integer, min, max },
            "log_normal" => Domain::LogNormal { mu, sigma, min, max },
            _ => Domain::QLogNormal { mu, sigma, q, integer, min, max },
        });
    }

    for name in ["mu", "sigma"] {
        if (name == "mu" && p.mu.is_some()) || (name == "sigma" && p.sigma.is_some()) {
            return Err(at(name, format!("is not used by distribution \"{distribution}\"")));
        }
    }
    let (Some(min), Some(max)) = (number(&p.min, "min")?, number(&p.max, "max")?) else {
        return Err(ctx.at(param, &path, format!("distribution \"{distribution}\" needs both min and max")));
    };
    if min > max {
        return Err(ctx.at(param, &path, format!("min ({min}) is greater than max ({max})")));
    }
    // The values drawn lie in [lo, hi]; W&B's older forms take exponents.
    let exponents = matches!(distribution, "log_uniform" | "q_log_uniform" | "inv_log_uniform");
    let (lo, hi) = match distribution {
        "log_uniform" | "q_log_uniform" => (min.exp(), max.exp()),
        "inv_log_uniform" => ((-max).exp(), (-min).exp()),
        _ => (min, max),
    };
    if exponents {
        if !(lo > 0.0 && hi.is_finite()) {
            return Err(ctx.at(
                param,
                &path,
                format!("{distribution} takes natural-log exponents: e^{min} .. e^{max} is out of a number's range"),
            ));
        }
        for (x, name) in [(lo, "min"), (hi, "max")] {
            kind.coerce(&ParamValue::Float(x)).map_err(|_| {
                at(
                    name,
                    format!(
                        "{distribution} takes natural-log exponents and draws from [{lo}, {hi}], but \"{key}\" takes {}",
                        kind.describe()
                    ),
                )
            })?;
        }
    } else {
        for (x, name) in [(min, "min"), (max, "max")] {
            let v = if integer && x.fract() == 0.0 { ParamValue::Int(x as i64) } else { ParamValue::Float(x) };
            kind.coerce(&v).map_err(|m| at(name, m))?;
        }
        if distribution.ends_with("_values") {
            let above_zero = Expect::positive().words(format!("a number > 0 for {distribution}"));
            ctx.check(param.span(), &format!("{path}.min"), min, Some(min), &above_zero)?;
        }
    }
    if quantized && crate::space::multiples_within(q, lo, hi).is_none() {
        return Err(at("q", format!("got {q}, but no multiple of it lies in [{lo}, {hi}]")));
    }
    Ok(match distribution {
        "log_uniform" => Domain::LogUniformValues { min: lo, max: hi },
        "inv_log_uniform_values" | "inv_log_uniform" => Domain::InvLogUniformValues { min: lo, max: hi },
        "q_uniform" => Domain::QUniform { min: lo, max: hi, q, integer },
        _ => Domain::QLogUniformValues { min: lo, max: hi, q, integer },
    })
}

/// The closed range of the values a numeric parameter takes (an open end
/// becomes the next float inside it); `None` where it is unbounded.
fn accepted_hull(kind: &ParamKind) -> (Option<f64>, Option<f64>) {
    match kind {
        ParamKind::Int { min, max } => (Some(*min as f64), Some(*max as f64)),
        ParamKind::Float { min, max } => {
            let low = match min {
                Bound::Unbounded => None,
                Bound::Inclusive(m) => Some(*m),
                Bound::Exclusive(m) => Some(m.next_up()),
            };
            let high = match max {
                Bound::Unbounded => None,
                Bound::Inclusive(m) => Some(*m),
                Bound::Exclusive(m) => Some(m.next_down()),
            };
            (low, high)
        }
        _ => (None, None),
    }
}
