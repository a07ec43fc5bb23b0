//! Samplers turn a spec's parameter domains into the list of parameter sets
//! to try. They are pure: the same spec always yields the same list.

mod grid;
mod random;

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

/// The sampler a spec asks for.
pub fn for_spec(spec: &SweepSpec) -> Box<dyn Sampler + Send + Sync> {
    match spec.method {
        Method::Grid => Box::new(GridSampler::new(&spec.parameters)),
        Method::Random { trials } => Box::new(RandomSampler::new(&spec.parameters, trials, spec.seed)),
    }
}
