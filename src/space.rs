//! Parameter domains: where a swept parameter may take its values from.
//!
//! The distributions and their parameters are W&B's (the `wandb/sweeps`
//! package, `src/sweeps/params.py`, `HyperParameter.ppf`, and its
//! `config/schema.json`), drawn from a seeded RNG:
//!
//! - `q_*`: the draw of the plain distribution, rounded to the nearest
//!   multiple of `q` (`round(x / q) * q`);
//! - `log_uniform_values` draws `exp(U(ln min, ln max))`, and
//!   `inv_log_uniform_values` draws `exp(-U(-ln max, -ln min))`, that is `1/x`
//!   for `x` log-uniform in `[1/max, 1/min]`;
//! - `normal` draws `N(mu, sigma)` and `log_normal` draws `exp(N(mu, sigma))`
//!   (scipy's `lognorm(s = sigma, scale = e^mu)`), `mu` 0 and `sigma` 1 by default.
//!
//! Where W&B's draw may fall outside what a parameter accepts, sweep keeps it
//! inside, because a validated spec only ever plans values its objective takes:
//! a `q_uniform` or `q_log_uniform_values` draw is rounded to the nearest
//! multiple of `q` inside `[min, max]`, and the `normal` family, unbounded in
//! W&B, is redrawn until it lands in the parameter's accepted range (the spec
//! validator refuses a range that holds under 1 % of the draws).

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::params::ParamValue;

/// The domain of one swept parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case")]
pub(crate) enum Domain {
    /// An explicit list (`values = [...]`); random search draws uniformly from it.
    Values {
        /// The choices, in the order the spec lists them.
        values: Vec<ParamValue>,
    },
    /// A real number drawn uniformly from `[min, max]`.
    Uniform { min: f64, max: f64 },
    /// A positive real number whose logarithm is uniform in `[ln min, ln max]`.
    LogUniformValues {
        /// Lower bound (> 0).
        min: f64,
        max: f64,
    },
    /// A whole number drawn uniformly from `min..=max`.
    IntUniform {
        min: i64,
        /// Upper bound (inclusive).
        max: i64,
    },
    /// An explicit list drawn with the given probabilities (`values` with `probabilities`).
    Categorical {
        /// The choices, in the order the spec lists them.
        values: Vec<ParamValue>,
        /// The probability of each choice; they sum to 1.
        probabilities: Vec<f64>,
    },
    /// `1/x` for `x` log-uniform in `[1/max, 1/min]`: a positive real number in `[min, max]`.
    InvLogUniformValues {
        /// Lower bound (> 0).
        min: f64,
        max: f64,
    },
    /// A uniform draw from `[min, max]` rounded to a multiple of `q` inside `[min, max]`.
    QUniform {
        min: f64,
        max: f64,
        /// The step (> 0).
        q: f64,
        /// Whether the values are whole numbers (the parameter takes integers).
        #[serde(default, skip_serializing_if = "is_false")]
        integer: bool,
    },
    /// A log-uniform draw from `[min, max]` rounded to a multiple of `q` inside `[min, max]`.
    QLogUniformValues {
        /// Lower bound (> 0).
        min: f64,
        max: f64,
        /// The step (> 0).
        q: f64,
        /// Whether the values are whole numbers (the parameter takes integers).
        #[serde(default, skip_serializing_if = "is_false")]
        integer: bool,
    },
    /// A normal draw `N(mu, sigma)`, redrawn until it lies in `[min, max]`.
    Normal {
        mu: f64,
        /// Standard deviation (> 0).
        sigma: f64,
        /// The smallest value the parameter accepts, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// The largest value the parameter accepts, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// A normal draw rounded to a multiple of `q`, redrawn until it lies in `[min, max]`.
    QNormal {
        mu: f64,
        /// Standard deviation (> 0).
        sigma: f64,
        /// The step (> 0).
        q: f64,
        /// Whether the values are whole numbers (the parameter takes integers).
        #[serde(default, skip_serializing_if = "is_false")]
        integer: bool,
        /// The smallest value the parameter accepts, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// The largest value the parameter accepts, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// `exp(N(mu, sigma))`, redrawn until it lies in `[min, max]`.
    LogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm (> 0).
        sigma: f64,
        /// The smallest value the parameter accepts, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// The largest value the parameter accepts, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// `exp(N(mu, sigma))` rounded to a multiple of `q`, redrawn until it lies in `[min, max]`.
    QLogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm (> 0).
        sigma: f64,
        /// The step (> 0).
        q: f64,
        /// Whether the values are whole numbers (the parameter takes integers).
        #[serde(default, skip_serializing_if = "is_false")]
        integer: bool,
        /// The smallest value the parameter accepts, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// The largest value the parameter accepts, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Redraws of a truncated normal before it gives up and clamps: the validator
/// keeps at least 1 % of the mass inside, so 10 000 misses in a row do not happen.
const REDRAWS: usize = 10_000;

impl Domain {
    /// The grid points of this domain, if it is a finite list.
    pub(crate) fn grid_values(&self) -> Option<&[ParamValue]> {
        match self {
            Domain::Values { values } => Some(values),
            _ => None,
        }
    }

    /// Draws one value.
    pub(crate) fn sample<R: Rng>(&self, rng: &mut R) -> ParamValue {
        match self {
            Domain::Values { values } => values[rng.random_range(0..values.len())].clone(),
            Domain::Uniform { min, max } => ParamValue::Float(min + (max - min) * rng.random::<f64>()),
            Domain::LogUniformValues { min, max } => {
                let (lo, hi) = (min.ln(), max.ln());
                ParamValue::Float((lo + (hi - lo) * rng.random::<f64>()).exp())
            }
            Domain::IntUniform { min, max } => ParamValue::Int(rng.random_range(*min..=*max)),
            Domain::Categorical { values, probabilities } => values[weighted_index(probabilities, rng)].clone(),
            Domain::InvLogUniformValues { min, max } => {
                let (lo, hi) = (-max.ln(), -min.ln());
                ParamValue::Float((-(lo + (hi - lo) * rng.random::<f64>())).exp().clamp(*min, *max))
            }
            Domain::QUniform { min, max, q, integer } => {
                let x = min + (max - min) * rng.random::<f64>();
                number(quantize_within(x, *q, *min, *max), *integer)
            }
            Domain::QLogUniformValues { min, max, q, integer } => {
                let (lo, hi) = (min.ln(), max.ln());
                let x = (lo + (hi - lo) * rng.random::<f64>()).exp();
                number(quantize_within(x, *q, *min, *max), *integer)
            }
            Domain::Normal { mu, sigma, min, max } => {
                ParamValue::Float(truncated(rng, *min, *max, |rng| mu + sigma * standard_normal(rng)))
            }
            Domain::QNormal { mu, sigma, q, integer, min, max } => {
                let x = truncated(rng, *min, *max, |rng| round_to(mu + sigma * standard_normal(rng), *q));
                number(x, *integer)
            }
            Domain::LogNormal { mu, sigma, min, max } => {
                ParamValue::Float(truncated(rng, *min, *max, |rng| (mu + sigma * standard_normal(rng)).exp()))
            }
            Domain::QLogNormal { mu, sigma, q, integer, min, max } => {
                let x = truncated(rng, *min, *max, |rng| round_to((mu + sigma * standard_normal(rng)).exp(), *q));
                number(x, *integer)
            }
        }
    }

    /// The name used in specs (`values`, `uniform`, ...), for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Domain::Values { .. } => "values",
            Domain::Uniform { .. } => "uniform",
            Domain::LogUniformValues { .. } => "log_uniform_values",
            Domain::IntUniform { .. } => "int_uniform",
            Domain::Categorical { .. } => "categorical",
            Domain::InvLogUniformValues { .. } => "inv_log_uniform_values",
            Domain::QUniform { .. } => "q_uniform",
            Domain::QLogUniformValues { .. } => "q_log_uniform_values",
            Domain::Normal { .. } => "normal",
            Domain::QNormal { .. } => "q_normal",
            Domain::LogNormal { .. } => "log_normal",
            Domain::QLogNormal { .. } => "q_log_normal",
        }
    }

    /// Whether the domain spreads its values over orders of magnitude, so a
    /// plot of it wants a log axis.
    pub(crate) fn is_log_scale(&self) -> bool {
        matches!(
            self,
            Domain::LogUniformValues { .. }
                | Domain::InvLogUniformValues { .. }
                | Domain::QLogUniformValues { .. }
                | Domain::LogNormal { .. }
                | Domain::QLogNormal { .. }
        )
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |values: &[ParamValue]| values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let range = |min: &Option<f64>, max: &Option<f64>| match (min, max) {
            (None, None) => String::new(),
            (lo, hi) => format!(
                " in [{}, {}]",
                lo.map_or("-inf".to_string(), |v| v.to_string()),
                hi.map_or("inf".to_string(), |v| v.to_string())
            ),
        };
        match self {
            Domain::Values { values } if values.len() == 1 => write!(f, "{}", values[0]),
            Domain::Values { values } => write!(f, "{{{}}}", list(values)),
            Domain::Uniform { min, max } => write!(f, "uniform({min}, {max})"),
            Domain::LogUniformValues { min, max } => write!(f, "log-uniform({min}, {max})"),
            Domain::IntUniform { min, max } => write!(f, "integers {min}..={max}"),
            Domain::Categorical { values, probabilities } => {
                let pairs: Vec<String> = values.iter().zip(probabilities).map(|(v, p)| format!("{v}: {p}")).collect();
                write!(f, "{{{}}}", pairs.join(", "))
            }
            Domain::InvLogUniformValues { min, max } => write!(f, "inverse log-uniform({min}, {max})"),
            Domain::QUniform { min, max, q, .. } => write!(f, "uniform({min}, {max}) in steps of {q}"),
            Domain::QLogUniformValues { min, max, q, .. } => write!(f, "log-uniform({min}, {max}) in steps of {q}"),
            Domain::Normal { mu, sigma, min, max } => write!(f, "normal({mu}, {sigma}){}", range(min, max)),
            Domain::QNormal { mu, sigma, q, min, max, .. } => {
                write!(f, "normal({mu}, {sigma}) in steps of {q}{}", range(min, max))
            }
            Domain::LogNormal { mu, sigma, min, max } => write!(f, "log-normal({mu}, {sigma}){}", range(min, max)),
            Domain::QLogNormal { mu, sigma, q, min, max, .. } => {
                write!(f, "log-normal({mu}, {sigma}) in steps of {q}{}", range(min, max))
            }
        }
    }
}

/// A real number as the parameter takes it: whole for integer parameters.
pub(crate) fn number(x: f64, integer: bool) -> ParamValue {
    if integer { ParamValue::Int(x.round() as i64) } else { ParamValue::Float(x) }
}

/// The index drawn with the given probabilities: the first whose cumulative
/// probability exceeds a uniform draw, as W&B's `np.argmin(x >= cdf)`.
pub(crate) fn weighted_index<R: Rng>(probabilities: &[f64], rng: &mut R) -> usize {
    let u = rng.random::<f64>();
    let mut cumulative = 0.0;
    for (i, p) in probabilities.iter().enumerate() {
        cumulative += p;
        if u < cumulative {
            return i;
        }
    }
    // The sum may fall a rounding error short of 1: the last choice with any weight.
    probabilities.iter().rposition(|p| *p > 0.0).unwrap_or(0)
}

/// A standard normal draw (Box–Muller; `1 - u` keeps the logarithm's argument in (0, 1]).
pub(crate) fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `x` rounded to the nearest multiple of `q`, as W&B's `round(x / q) * q`.
pub(crate) fn round_to(x: f64, q: f64) -> f64 {
    (x / q).round() * q
}

/// The smallest and largest multiples of `q` in `[min, max]` (as multipliers of `q`),
/// allowing for the rounding error of `min / q`; `None` when there is none.
pub(crate) fn multiples_within(q: f64, min: f64, max: f64) -> Option<(f64, f64)> {
    let slack = 1e-9;
    let (lo, hi) = ((min / q - slack).ceil(), (max / q + slack).floor());
    (lo <= hi).then_some((lo, hi))
}

/// `x` rounded to the nearest multiple of `q` that lies in `[min, max]`.
pub(crate) fn quantize_within(x: f64, q: f64, min: f64, max: f64) -> f64 {
    match multiples_within(q, min, max) {
        // The clamp absorbs the rounding error of k * q at a bound (3 * 0.1 > 0.3).
        Some((lo, hi)) => ((x / q).round().clamp(lo, hi) * q).clamp(min, max),
        None => x.clamp(min, max),
    }
}

/// Draws until a value lands in `[min, max]`, then (never in practice) clamps.
fn truncated<R: Rng>(rng: &mut R, min: Option<f64>, max: Option<f64>, mut draw: impl FnMut(&mut R) -> f64) -> f64 {
    let inside = |x: f64| x.is_finite() && min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m);
    let mut x = draw(rng);
    for _ in 0..REDRAWS {
        if inside(x) {
            return x;
        }
        x = draw(rng);
    }
    let x = if x.is_nan() { 0.0 } else { x };
    x.clamp(min.unwrap_or(f64::MIN), max.unwrap_or(f64::MAX))
}

/// Standard normal CDF via erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7):
/// std has no erf, and both TPE (density ratios) and the validator (the share
/// of a normal inside a range) need only a few digits.
pub(crate) fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    0.5 * (1.0 + if x >= 0.0 { erf } else { -erf })
}

/// One draw from every domain, in name order: a random-search trial's params.
pub(crate) fn sample_all<R: Rng>(
    parameters: &std::collections::BTreeMap<String, Domain>,
    rng: &mut R,
) -> crate::params::Params {
    parameters.iter().map(|(k, d)| (k.clone(), d.sample(rng))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn draws_stay_inside_their_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let log = Domain::LogUniformValues { min: 1e-4, max: 1e-1 };
        let int = Domain::IntUniform { min: 1, max: 3 };
        let uni = Domain::Uniform { min: -1.0, max: 1.0 };
        let mut seen = [false; 3];
        for _ in 0..1000 {
            let v = log.sample(&mut rng).as_f64().unwrap();
            assert!((1e-4..=1e-1).contains(&v));
            let i = int.sample(&mut rng).as_i64().unwrap();
            assert!((1..=3).contains(&i));
            seen[(i - 1) as usize] = true;
            let u = uni.sample(&mut rng).as_f64().unwrap();
            assert!((-1.0..=1.0).contains(&u));
        }
        assert!(seen.iter().all(|s| *s), "every integer in the range is drawn");
    }

    #[test]
    fn log_uniform_spreads_over_decades() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let log = Domain::LogUniformValues { min: 1e-4, max: 1e0 };
        let below_1e2 = (0..4000).filter(|_| log.sample(&mut rng).as_f64().unwrap() < 1e-2).count();
        // Half of the four decades lie below 1e-2.
        assert!((1800..2200).contains(&below_1e2), "{below_1e2}");
    }

    #[test]
    fn the_old_domains_draw_what_they_drew() {
        // Measured before the W&B distributions were added: random-search plans stay bit for bit.
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let draws = [
            Domain::Uniform { min: 0.0, max: 1.0 }.sample(&mut rng),
            Domain::LogUniformValues { min: 1e-4, max: 1e-1 }.sample(&mut rng),
            Domain::IntUniform { min: 1, max: 100 }.sample(&mut rng),
            Domain::Values { values: vec![ParamValue::Int(1), ParamValue::Int(2), ParamValue::Int(3)] }
                .sample(&mut rng),
        ];
        let before = [
            ParamValue::Float(0.6818961923066714),
            ParamValue::Float(0.07092938969455255),
            ParamValue::Int(43),
            ParamValue::Int(2),
        ];
        assert_eq!(draws, before);
    }

    fn floats(domain: &Domain, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| domain.sample(&mut rng).as_f64().unwrap()).collect()
    }

    fn is_multiple(x: f64, q: f64) -> bool {
        ((x / q) - (x / q).round()).abs() < 1e-9
    }

    #[test]
    fn q_uniform_draws_multiples_of_q_inside_the_bounds() {
        let d = Domain::QUniform { min: 0.05, max: 0.95, q: 0.1, integer: false };
        let xs = floats(&d, 2000, 3);
        assert!(xs.iter().all(|x| (0.05..=0.95).contains(x) && is_multiple(*x, 0.1)), "{xs:?}");
        // The outermost multiples inside the bounds are reached, the ones outside never.
        assert!(xs.iter().any(|x| (x - 0.1).abs() < 1e-12) && xs.iter().any(|x| (x - 0.9).abs() < 1e-12));
        let ints = Domain::QUniform { min: 8.0, max: 64.0, q: 8.0, integer: true };
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            match ints.sample(&mut rng) {
                ParamValue::Int(v) => {
                    assert!(v % 8 == 0 && (8..=64).contains(&v), "{v}");
                    seen.insert(v);
                }
                other => panic!("an integer parameter gets whole numbers, got {other:?}"),
            }
        }
        assert_eq!(seen.len(), 8, "8, 16, ..., 64: {seen:?}");
    }

    #[test]
    fn q_log_uniform_values_draws_multiples_spread_over_decades() {
        let d = Domain::QLogUniformValues { min: 1.0, max: 1000.0, q: 1.0, integer: true };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let xs: Vec<i64> = (0..3000).map(|_| d.sample(&mut rng).as_i64().unwrap()).collect();
        assert!(xs.iter().all(|x| (1..=1000).contains(x)));
        // A third of the three decades lies below 10.
        let below_10 = xs.iter().filter(|x| **x < 10).count();
        assert!((850..1150).contains(&below_10), "{below_10}");
    }

    #[test]
    fn inv_log_uniform_values_stays_in_its_bounds_and_is_log_uniform() {
        let d = Domain::InvLogUniformValues { min: 1e-3, max: 1e1 };
        let xs = floats(&d, 4000, 6);
        assert!(xs.iter().all(|x| (1e-3..=1e1).contains(x)), "{:?}", xs.iter().find(|x| !(1e-3..=1e1).contains(*x)));
        // 1/x is log-uniform in [0.1, 1000], so x is log-uniform in [0.001, 10]: half lies below 0.1.
        let below = xs.iter().filter(|x| **x < 0.1).count();
        assert!((1800..2200).contains(&below), "{below}");
    }

    #[test]
    fn normal_draws_center_on_mu_and_respect_the_parameter_range() {
        let free = Domain::Normal { mu: 2.0, sigma: 0.5, min: None, max: None };
        let xs = floats(&free, 4000, 7);
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        assert!((mean - 2.0).abs() < 0.03 && (sd - 0.5).abs() < 0.03, "mean {mean}, sd {sd}");
        let cut = Domain::Normal { mu: 0.0, sigma: 1.0, min: Some(0.0), max: Some(1.0) };
        assert!(floats(&cut, 2000, 8).iter().all(|x| (0.0..=1.0).contains(x)));
        let q = Domain::QNormal { mu: 64.0, sigma: 20.0, q: 4.0, integer: true, min: Some(1.0), max: Some(100.0) };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..2000 {
            let v = q.sample(&mut rng).as_i64().unwrap();
            assert!(v % 4 == 0 && (1..=100).contains(&v), "{v}");
        }
    }

    #[test]
    fn log_normal_draws_are_positive_with_the_right_median() {
        let d = Domain::LogNormal { mu: (1e-3f64).ln(), sigma: 1.0, min: None, max: None };
        let mut xs = floats(&d, 4001, 10);
        assert!(xs.iter().all(|x| *x > 0.0));
        xs.sort_by(f64::total_cmp);
        let median = xs[2000];
        assert!((median / 1e-3 - 1.0).abs() < 0.1, "median {median}");
        let q = Domain::QLogNormal { mu: 3.0, sigma: 0.5, q: 2.0, integer: false, min: Some(1e-300), max: None };
        assert!(floats(&q, 2000, 11).iter().all(|x| *x >= 2.0 && is_multiple(*x, 2.0)));
    }

    #[test]
    fn probabilities_are_respected_over_many_draws() {
        let d = Domain::Categorical {
            values: vec!["a".into(), "b".into(), "c".into()],
            probabilities: vec![0.7, 0.2, 0.1],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            let v = d.sample(&mut rng);
            counts[["a", "b", "c"].iter().position(|s| v.as_str() == Some(s)).unwrap()] += 1;
        }
        assert!((6800..7200).contains(&counts[0]), "{counts:?}");
        assert!((1850..2150).contains(&counts[1]), "{counts:?}");
        assert!((900..1100).contains(&counts[2]), "{counts:?}");
        let never =
            Domain::Categorical { values: vec![ParamValue::Int(1), ParamValue::Int(2)], probabilities: vec![1.0, 0.0] };
        assert!(floats(&never, 500, 13).iter().all(|x| *x == 1.0), "a zero probability is never drawn");
    }

    #[test]
    fn every_domain_draws_the_same_for_the_same_seed() {
        let domains = [
            Domain::QUniform { min: 0.0, max: 1.0, q: 0.25, integer: false },
            Domain::InvLogUniformValues { min: 0.01, max: 1.0 },
            Domain::Normal { mu: 0.0, sigma: 1.0, min: None, max: None },
            Domain::LogNormal { mu: 0.0, sigma: 1.0, min: None, max: None },
        ];
        for d in &domains {
            assert_eq!(floats(d, 20, 99), floats(d, 20, 99), "{d}");
            assert_ne!(floats(d, 20, 99), floats(d, 20, 100), "{d}");
        }
    }

    #[test]
    fn quantizing_keeps_values_inside() {
        assert_eq!(quantize_within(0.96, 0.1, 0.05, 0.95), 0.9);
        assert_eq!(quantize_within(0.3, 0.1, 0.0, 0.3), 0.3, "3 * 0.1 rounds above 0.3; the bound holds");
        assert_eq!(multiples_within(0.5, 0.1, 0.4), None);
        assert_eq!(multiples_within(8.0, 8.0, 64.0), Some((1.0, 8.0)));
    }

    #[test]
    fn domains_display_for_people_and_survive_json() {
        let d = Domain::QNormal { mu: 0.0, sigma: 1.0, q: 0.5, integer: false, min: Some(0.0), max: None };
        assert_eq!(d.to_string(), "normal(0, 1) in steps of 0.5 in [0, inf]");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"distribution":"q_normal","mu":0.0,"sigma":1.0,"q":0.5,"min":0.0}"#);
        assert_eq!(serde_json::from_str::<Domain>(&json).unwrap(), d);
        // The old domains serialize as before, so spec hashes do not move.
        let old = Domain::LogUniformValues { min: 0.001, max: 0.1 };
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"distribution":"log_uniform_values","min":0.001,"max":0.1}"#
        );
    }
}
