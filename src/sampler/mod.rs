//! Samplers turn a spec's parameter domains into the list of parameter sets
//! to try. They are pure: the same spec always yields the same list.

mod grid;
mod random;
pub mod tpe;

pub use grid::GridSampler;
pub use random::RandomSampler;

use crate::params::Params;
use crate::spec::{Method, SweepSpec};

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

/// The fixed sampler a spec asks for; `None` for TPE, whose proposals depend on results.
pub fn for_spec(spec: &SweepSpec) -> Option<Box<dyn Sampler + Send + Sync>> {
    match spec.method {
        Method::Grid => Some(Box::new(GridSampler::new(&spec.parameters))),
        Method::Random { trials } => Some(Box::new(RandomSampler::new(&spec.parameters, trials, spec.seed))),
        Method::Tpe { .. } => None,
    }
}
