//! Random search: independent seeded draws from each parameter's domain.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{History, KeyError, Method, MethodConfig, MethodKeys, Registration, Sampler, StoredMethod};
use crate::params::Params;
use crate::seed::derive_seed;
use crate::space::Domain;

pub(super) const REGISTRATION: Registration = Registration { name: "random", parse, stored };

/// `method = "random"` with `trials` draws.
pub(crate) fn method(trials: usize) -> Method {
    Method::new(Random { trials })
}

#[derive(Debug)]
struct Random {
    trials: usize,
}

impl MethodConfig for Random {
    fn name(&self) -> &'static str {
        "random"
    }

    fn trials(&self) -> Option<usize> {
        Some(self.trials)
    }

    fn sampler(&self, parameters: &BTreeMap<String, Domain>, seed: u64) -> Box<dyn Sampler> {
        Box::new(RandomSampler::new(parameters, self.trials, seed))
    }

    fn description(&self) -> String {
        format!("random, {} trials", self.trials)
    }
}

fn parse(keys: &MethodKeys) -> Result<Method, KeyError> {
    match keys.trials {
        Some(t) if (1..=10_000_000).contains(t.get_ref()) => Ok(method(*t.get_ref() as usize)),
        Some(t) => {
            Err(KeyError::at(t, "trials", format!("got {}, expected a whole number from 1 to 10000000", t.get_ref())))
        }
        None => Err(KeyError::at(keys.method, "trials", "is missing: method = \"random\" needs trials = N")),
    }
}

fn stored(stored: &StoredMethod) -> Result<Method, String> {
    Ok(method(stored.needs_trials()?))
}

/// Draws trial `i` from an RNG seeded by (sweep seed, i), so a trial's params
/// do not depend on how many trials are asked for or which ran before.
pub(super) struct RandomSampler {
    parameters: BTreeMap<String, Domain>,
    trials: usize,
    seed: u64,
}

impl RandomSampler {
    /// A sampler of `trials` draws.
    pub(super) fn new(parameters: &BTreeMap<String, Domain>, trials: usize, seed: u64) -> Self {
        RandomSampler { parameters: parameters.clone(), trials, seed }
    }
}

impl Sampler for RandomSampler {
    fn len(&self) -> usize {
        self.trials
    }

    fn needs_history(&self) -> bool {
        false
    }

    fn propose(&self, index: usize, _: &History) -> Params {
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.seed, "sample", index as u64));
        crate::space::sample_all(&self.parameters, &mut rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Goal, Monitor};
    use crate::params::ParamValue;

    impl RandomSampler {
        fn params(&self, index: usize) -> Params {
            self.propose(index, &History::empty(&Monitor::new("accuracy", Goal::Maximize, 0.0)))
        }
    }

    fn space() -> BTreeMap<String, Domain> {
        let mut p = BTreeMap::new();
        p.insert("lr".to_string(), Domain::LogUniformValues { min: 1e-4, max: 1e-1 });
        p.insert("hidden".to_string(), Domain::IntUniform { min: 16, max: 256 });
        p.insert(
            "optimizer".to_string(),
            Domain::Values { values: vec![ParamValue::Str("adam".into()), ParamValue::Str("sgd".into())] },
        );
        p
    }

    #[test]
    fn draws_are_reproducible_and_independent_of_the_budget() {
        let a = RandomSampler::new(&space(), 10, 42);
        let b = RandomSampler::new(&space(), 100, 42);
        for i in 0..10 {
            assert_eq!(a.params(i), b.params(i));
        }
        let c = RandomSampler::new(&space(), 10, 43);
        assert_ne!(a.params(0), c.params(0));
        assert_ne!(a.params(0), a.params(1));
    }

    #[test]
    fn wandb_domains_draw_by_seed_and_index_only() {
        let mut space = space();
        space.insert("momentum".to_string(), Domain::QUniform { min: 0.0, max: 0.9, q: 0.1, integer: false });
        space.insert("wd".to_string(), Domain::LogNormal { mu: -9.0, sigma: 1.0, min: Some(0.0), max: None });
        space.insert(
            "layers".to_string(),
            Domain::Categorical { values: vec![ParamValue::Int(1), ParamValue::Int(2)], probabilities: vec![0.5, 0.5] },
        );
        let a = RandomSampler::new(&space, 5, 42);
        let b = RandomSampler::new(&space, 50, 42);
        for i in 0..5 {
            assert_eq!(a.params(i), b.params(i));
        }
        assert_ne!(a.params(0), RandomSampler::new(&space, 5, 43).params(0));
        assert_eq!(a.params(3), RandomSampler::new(&space, 5, 42).params(3));
    }

    #[test]
    fn every_parameter_is_drawn() {
        let a = RandomSampler::new(&space(), 3, 1);
        let p = a.params(2);
        assert_eq!(p.len(), 3);
        assert!(matches!(p["hidden"], ParamValue::Int(16..=256)));
    }
}
