//! The plan: every trial of a sweep with its stable id and seed.
//!
//! Any process (a local worker, a SLURM array task, a resumed run) rebuilds the
//! same plan from the spec alone, so trial `i` means the same thing everywhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::params::{Params, params_hash};
use crate::sampler::tpe::{Observation, Tpe};
use crate::sampler::{self, Method, Sampler};
use crate::seed::derive_seed;
use crate::space::Domain;

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
    /// Which of the configuration's `repeats` seeds (with cross-validation: which fold): `index % repeats`.
    #[serde(default)]
    pub repeat: usize,
    /// Which attempt at the trial a run makes (from its claim; 0 in a plan).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
    /// The plan of `method` over `parameters`: every configuration `repeats`
    /// times, each trial with a seed derived from (`seed`, its index).
    pub fn new(method: &Method, parameters: &BTreeMap<String, Domain>, seed: u64, repeats: usize) -> Self {
        let source = match (sampler::fixed(method, parameters, seed), method) {
            (Some(s), _) => Source::Fixed(s),
            (None, Method::Tpe { trials, settings }) => {
                Source::Tpe { tpe: Tpe::new(parameters, seed, *settings), configs: *trials }
            }
            (None, _) => Source::Fixed(Box::new(crate::sampler::GridSampler::new(parameters))),
        };
        Plan { source, seed, repeats: repeats.max(1) }
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
            attempt: 0,
        }
    }

    /// Trial `index` with the given params (the proposal an asynchronous TPE
    /// recorded for it, or its configuration's first trial's).
    pub fn trial_with_params(&self, index: usize, params: Params) -> TrialSpec {
        TrialSpec {
            index,
            id: format!("t{index:04}-{}", params_hash(&params)),
            seed: derive_seed(self.seed, "trial", index as u64),
            params,
            config: index / self.repeats,
            repeat: index % self.repeats,
            attempt: 0,
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
    use crate::params::ParamValue;

    fn lr_grid() -> BTreeMap<String, Domain> {
        BTreeMap::from([(
            "lr".to_string(),
            Domain::Values { values: vec![ParamValue::Float(0.1), ParamValue::Float(0.2)] },
        )])
    }

    #[test]
    fn ids_carry_index_and_params_hash() {
        let plan = Plan::new(&Method::Grid, &lr_grid(), 0, 1);
        let ids: Vec<String> = plan.trials().map(|t| t.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids[0].starts_with("t0000-") && ids[1].starts_with("t0001-"));
        assert_ne!(ids[0][6..], ids[1][6..]);
        assert_eq!(plan.trial(1), Plan::new(&Method::Grid, &lr_grid(), 0, 1).trial(1));
        assert_ne!(plan.trial(1).seed, Plan::new(&Method::Grid, &lr_grid(), 1, 1).trial(1).seed);
    }

    #[test]
    fn repeats_run_each_configuration_with_its_own_seeds() {
        let plan = Plan::new(&Method::Grid, &lr_grid(), 0, 3);
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
