//! Parameter domains: where a swept parameter may take its values from.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::params::ParamValue;

/// The domain of one swept parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case")]
pub enum Domain {
    /// An explicit list (`values = [...]`); random search draws uniformly from it.
    Values {
        /// The choices, in the order the spec lists them.
        values: Vec<ParamValue>,
    },
    /// A real number drawn uniformly from `[min, max]`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// A positive real number whose logarithm is uniform in `[ln min, ln max]`.
    LogUniformValues {
        /// Lower bound (> 0).
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// A whole number drawn uniformly from `min..=max`.
    IntUniform {
        /// Lower bound.
        min: i64,
        /// Upper bound (inclusive).
        max: i64,
    },
}

impl Domain {
    /// The grid points of this domain, if it is a finite list.
    pub fn grid_values(&self) -> Option<&[ParamValue]> {
        match self {
            Domain::Values { values } => Some(values),
            _ => None,
        }
    }

    /// Draws one value.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> ParamValue {
        match self {
            Domain::Values { values } => values[rng.random_range(0..values.len())].clone(),
            Domain::Uniform { min, max } => ParamValue::Float(min + (max - min) * rng.random::<f64>()),
            Domain::LogUniformValues { min, max } => {
                let (lo, hi) = (min.ln(), max.ln());
                ParamValue::Float((lo + (hi - lo) * rng.random::<f64>()).exp())
            }
            Domain::IntUniform { min, max } => ParamValue::Int(rng.random_range(*min..=*max)),
        }
    }

    /// The name used in specs (`values`, `uniform`, ...), for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Domain::Values { .. } => "values",
            Domain::Uniform { .. } => "uniform",
            Domain::LogUniformValues { .. } => "log_uniform_values",
            Domain::IntUniform { .. } => "int_uniform",
        }
    }
}

/// One draw from every domain, in name order: a random-search trial's params.
pub fn sample_all<R: Rng>(
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
}
