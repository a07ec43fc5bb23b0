//! Samplers turn a spec's parameter domains into the list of parameter sets
//! to try. They are pure: the same spec always yields the same list.

mod grid;
mod random;
pub mod tpe;

pub use grid::GridSampler;
pub use random::RandomSampler;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::space::Domain;

/// Proposes the parameter sets of a sweep.
pub trait Sampler {
    /// How many trials the sampler proposes.
    fn len(&self) -> usize;

    /// Whether it proposes nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The params of trial `index` (`index < len()`), independent of every other index,
    /// so any single trial can be rebuilt on its own (a SLURM array task, a resumed run).
    fn params(&self, index: usize) -> Params;
}

/// How trials are planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// Every combination of the listed values.
    Grid,
    /// `trials` seeded draws from the parameter domains.
    Random {
        /// How many trials to draw.
        trials: usize,
    },
    /// Tree-structured Parzen Estimator: `trials` proposals, each from the results
    /// of the batches before it.
    Tpe {
        /// How many configurations to propose.
        trials: usize,
        /// Start-up trials, candidates, gamma.
        settings: tpe::TpeSettings,
    },
}

/// The fixed sampler a method asks for; `None` for TPE, whose proposals depend on results.
pub fn fixed(
    method: &Method,
    parameters: &BTreeMap<String, Domain>,
    seed: u64,
) -> Option<Box<dyn Sampler + Send + Sync>> {
    match method {
        Method::Grid => Some(Box::new(GridSampler::new(parameters))),
        Method::Random { trials } => Some(Box::new(RandomSampler::new(parameters, *trials, seed))),
        Method::Tpe { .. } => None,
    }
}
