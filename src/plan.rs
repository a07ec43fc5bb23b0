//! The plan: every trial of a sweep with its stable id and seed.
//!
//! Any process (a local worker, a SLURM array task, a resumed run) rebuilds the
//! same plan from the spec alone, so trial `i` means the same thing everywhere.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::params::{Params, params_hash};
use crate::sampler::tpe::{Observation, Tpe};
use crate::sampler::{self, Sampler};
use crate::spec::{Method, SweepSpec};

/// One planned trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialSpec {
    /// Position in the plan, from 0.
    pub index: usize,
    /// `t0007-1a2b3c4d`: the index, then a short hash of the params.
    pub id: String,
    /// The trial's own seed, derived from (sweep seed, index).
    pub seed: u64,
    /// Swept parameter values.
    pub params: Params,
    /// Which configuration (parameter set) of the sampler: `index / repeats`.
    #[serde(default)]
    pub config: usize,
    /// Which of the configuration's `repeats` seeds: `index % repeats`.
    #[serde(default)]
    pub repeat: usize,
}

/// A seed for `purpose` and `index`, derived from the sweep seed by SHA-256,
/// so seeds of neighbouring trials are unrelated and stable across versions.
pub fn derive_seed(sweep_seed: u64, purpose: &str, index: u64) -> u64 {
    let mut h = Sha256::new();
    h.update(sweep_seed.to_le_bytes());
    h.update(purpose.as_bytes());
    h.update(index.to_le_bytes());
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Where a plan's params come from.
enum Source {
    /// A fixed list (grid, random): any trial can be built on its own.
    Fixed(Box<dyn Sampler + Send + Sync>),
    /// TPE: a trial's params depend on the results of the configurations before its batch.
    Tpe { tpe: Tpe, configs: usize },
}

/// The trials of a sweep, built lazily from its sampler.
pub struct Plan {
    source: Source,
    seed: u64,
    repeats: usize,
}

impl Plan {
    /// The plan of a validated spec.
    pub fn new(spec: &SweepSpec) -> Self {
        let source = match (sampler::for_spec(spec), &spec.method) {
            (Some(s), _) => Source::Fixed(s),
            (None, Method::Tpe { trials, settings }) => {
                Source::Tpe { tpe: Tpe::new(&spec.parameters, spec.seed, *settings), configs: *trials }
            }
            (None, _) => Source::Fixed(Box::new(crate::sampler::GridSampler::new(&spec.parameters))),
        };
        Plan { source, seed: spec.seed, repeats: spec.repeats.max(1) }
    }

    /// Number of configurations.
    pub fn configs(&self) -> usize {
        match &self.source {
            Source::Fixed(s) => s.len(),
            Source::Tpe { configs, .. } => *configs,
        }
    }

    /// Trials per configuration.
    pub fn repeats(&self) -> usize {
        self.repeats
    }

    /// Number of trials: every configuration `repeats` times.
    pub fn len(&self) -> usize {
        self.configs() * self.repeats
    }

    /// Whether trials depend on earlier results (TPE): such a plan runs in
    /// batches, and no single trial can be built on its own.
    pub fn is_adaptive(&self) -> bool {
        matches!(self.source, Source::Tpe { .. })
    }

    /// Whether the plan is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Trial `index`: configuration `index / repeats`, with a seed of its own.
    /// For an adaptive plan this is the proposal with no results known (a random draw).
    pub fn trial(&self, index: usize) -> TrialSpec {
        self.trial_given(index, &[])
    }

    /// Trial `index`, given the results of the configurations before its batch
    /// (ignored by fixed plans).
    pub fn trial_given(&self, index: usize, history: &[Observation]) -> TrialSpec {
        let (config, repeat) = (index / self.repeats, index % self.repeats);
        let params = match &self.source {
            Source::Fixed(s) => s.params(config),
            Source::Tpe { tpe, .. } => tpe.propose(config, history),
        };
        TrialSpec {
            index,
            id: format!("t{index:04}-{}", params_hash(&params)),
            seed: derive_seed(self.seed, "trial", index as u64),
            params,
            config,
            repeat,
        }
    }

    /// Every trial, in order.
    pub fn trials(&self) -> impl Iterator<Item = TrialSpec> + '_ {
        (0..self.len()).map(|i| self.trial(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_depend_on_sweep_seed_and_index_only() {
        assert_eq!(derive_seed(42, "trial", 3), derive_seed(42, "trial", 3));
        assert_ne!(derive_seed(42, "trial", 3), derive_seed(42, "trial", 4));
        assert_ne!(derive_seed(42, "trial", 3), derive_seed(43, "trial", 3));
        assert_ne!(derive_seed(42, "trial", 3), derive_seed(42, "sample", 3));
    }

    #[test]
    fn ids_carry_index_and_params_hash() {
        let spec = crate::spec::parse(
            "name='x'\nmethod='grid'\n[data]\npath='d.csv'\n[metric]\nname='mcc'\n[parameters]\nlr={values=[0.1,0.2]}\n",
            std::path::Path::new("x.toml"),
        )
        .unwrap();
        let plan = Plan::new(&spec);
        let ids: Vec<String> = plan.trials().map(|t| t.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids[0].starts_with("t0000-") && ids[1].starts_with("t0001-"));
        assert_ne!(ids[0][6..], ids[1][6..]);
        assert_eq!(plan.trial(1), Plan::new(&spec).trial(1));
    }

    #[test]
    fn repeats_run_each_configuration_with_its_own_seeds() {
        let spec = crate::spec::parse(
            "name='x'\nmethod='grid'\nrepeats=3\n[data]\npath='d.csv'\n[metric]\nname='mcc'\n[parameters]\nlr={values=[0.1,0.2]}\n",
            std::path::Path::new("x.toml"),
        )
        .unwrap();
        let plan = Plan::new(&spec);
        assert_eq!(plan.len(), 6);
        let trials: Vec<TrialSpec> = plan.trials().collect();
        assert_eq!(
            trials.iter().map(|t| (t.config, t.repeat)).collect::<Vec<_>>(),
            [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
        );
        assert_eq!(trials[0].params, trials[2].params);
        assert_ne!(trials[0].params, trials[3].params);
        let seeds: std::collections::BTreeSet<u64> = trials.iter().map(|t| t.seed).collect();
        assert_eq!(seeds.len(), 6);
    }
}
