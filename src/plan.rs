//! The plan: every trial of a sweep with its stable id and seed.
//!
//! Any process (a local worker, a SLURM array task, a resumed run) rebuilds the
//! same plan from the spec alone, so trial `i` means the same thing everywhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::{Goal, Monitor};
use crate::params::{Params, params_hash};
use crate::sampler::{History, Method, Sampler};
use crate::seed::derive_seed;
use crate::space::Domain;

/// One planned trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TrialSpec {
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
    /// The claim created the trial's folder, which holds nothing of an earlier attempt (false in a plan).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_folder: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The monitor of an empty history: with no trial committed, nothing is compared.
static NO_MONITOR: Monitor = Monitor { metric: String::new(), goal: Goal::Minimize, min_delta: 0.0 };

/// The trials of a sweep, built lazily from its sampler.
pub(crate) struct Plan {
    sampler: Box<dyn Sampler>,
    seed: u64,
    repeats: usize,
}

impl Plan {
    /// The plan of `method` over `parameters`: every configuration `repeats`
    /// times, each trial with a seed derived from (`seed`, its index).
    pub(crate) fn new(method: &Method, parameters: &BTreeMap<String, Domain>, seed: u64, repeats: usize) -> Self {
        Plan { sampler: method.sampler(parameters, seed), seed, repeats: repeats.max(1) }
    }

    /// Number of configurations.
    pub(crate) fn configs(&self) -> usize {
        self.sampler.len()
    }

    /// Trials per configuration.
    pub(crate) fn repeats(&self) -> usize {
        self.repeats
    }

    /// Number of trials: every configuration `repeats` times.
    pub(crate) fn len(&self) -> usize {
        self.configs() * self.repeats
    }

    /// Whether trials depend on earlier results (TPE): such a plan runs in
    /// batches, and no single trial can be built on its own.
    pub(crate) fn is_adaptive(&self) -> bool {
        self.sampler.needs_history()
    }

    /// How many trials, from the first on, are the same whatever the results
    /// (every one of a plan that is not adaptive).
    pub(crate) fn known_up_front(&self) -> usize {
        (self.sampler.known_up_front() * self.repeats).min(self.len())
    }

    /// How many configurations from `first` on one batch proposes from the
    /// same history, with `workers` trials at once.
    pub(crate) fn batch_len(&self, first: usize, workers: usize) -> usize {
        self.sampler.batch_len(first, workers).max(1)
    }

    /// How many leading configurations must be committed before
    /// configuration `config` can be proposed by a worker that asks when free.
    pub(crate) fn waits_for(&self, config: usize) -> usize {
        self.sampler.waits_for(config)
    }

    /// Trial `index`: configuration `index / repeats`, with a seed of its own.
    /// For an adaptive plan this is the proposal with no results known (a random draw).
    pub(crate) fn trial(&self, index: usize) -> TrialSpec {
        self.trial_with_params(index, self.sampler.propose(index / self.repeats, &History::empty(&NO_MONITOR)))
    }

    /// Trial `index`, given the trials committed before its batch (ignored by
    /// plans that are not adaptive).
    pub(crate) fn trial_given(&self, index: usize, history: &History) -> TrialSpec {
        self.trial_with_params(index, self.sampler.propose(index / self.repeats, history))
    }

    /// Trial `index` with the given params (the proposal an asynchronous TPE
    /// recorded for it, or its configuration's first trial's).
    pub(crate) fn trial_with_params(&self, index: usize, params: Params) -> TrialSpec {
        TrialSpec {
            index,
            id: format!("t{index:04}-{}", params_hash(&params)),
            seed: derive_seed(self.seed, "trial", index as u64),
            params,
            config: index / self.repeats,
            repeat: index % self.repeats,
            attempt: 0,
            new_folder: false,
        }
    }

    /// Every trial, in order.
    pub(crate) fn trials(&self) -> impl Iterator<Item = TrialSpec> + '_ {
        (0..self.len()).map(|i| self.trial(i))
    }

    /// Writes the first `count` trials as JSON Lines (`sweep plan --json`).
    /// Trials are independent, so blocks of them are built and serialised on
    /// every core; the blocks are written in order, so the bytes are the same
    /// whatever the number of threads. Returns how many trials were written.
    pub(crate) fn write_json_lines(&self, count: usize, out: &mut impl std::io::Write) -> std::io::Result<usize> {
        use rayon::prelude::*;
        const BLOCK: usize = 1024;
        let count = count.min(self.len());
        // A bounded number of blocks in flight, so a plan of any size needs little memory; their
        // buffers are reused from one wave to the next, since fresh large buffers cost a page
        // fault per 4 KiB, which showed in the profile as much as the JSON did.
        let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); 4 * rayon::current_num_threads().max(1)];
        let wave = BLOCK * buffers.len();
        let mut start = 0;
        while start < count {
            let end = count.min(start + wave);
            buffers.par_iter_mut().enumerate().try_for_each(|(k, buf)| -> std::io::Result<()> {
                buf.clear();
                let mut params_json = Vec::new();
                let first = start + k * BLOCK;
                for index in first..end.min(first + BLOCK) {
                    self.write_json_line(index, &mut params_json, buf)?;
                }
                Ok(())
            })?;
            for buf in &buffers {
                out.write_all(buf)?;
            }
            start = end;
        }
        Ok(count)
    }

    /// Trial `index` as `serde_json` writes its [`TrialSpec`], and a newline.
    /// The params are serialised once, for the id's hash and for the line:
    /// formatting their numbers twice was a fifth of a large plan's time.
    /// (A test compares the bytes with `serde_json`'s for every field.)
    fn write_json_line(&self, index: usize, params_json: &mut Vec<u8>, out: &mut Vec<u8>) -> std::io::Result<()> {
        use std::io::Write;
        let params = self.sampler.propose(index / self.repeats, &History::empty(&NO_MONITOR));
        params_json.clear();
        serde_json::to_writer(&mut *params_json, &params)?;
        let hash = crate::params::canonical_hash(params_json);
        let seed = derive_seed(self.seed, "trial", index as u64);
        // The id is `t`, digits, `-` and hex digits: nothing JSON escapes.
        write!(out, "{{\"index\":{index},\"id\":\"t{index:04}-{hash}\",\"seed\":{seed},\"params\":")?;
        out.extend_from_slice(params_json);
        writeln!(out, ",\"config\":{},\"repeat\":{}}}", index / self.repeats, index % self.repeats)
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
        let plan = Plan::new(&crate::sampler::grid_method(), &lr_grid(), 0, 1);
        let ids: Vec<String> = plan.trials().map(|t| t.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids[0].starts_with("t0000-") && ids[1].starts_with("t0001-"));
        assert_ne!(ids[0][6..], ids[1][6..]);
        assert_eq!(plan.trial(1), Plan::new(&crate::sampler::grid_method(), &lr_grid(), 0, 1).trial(1));
        assert_ne!(plan.trial(1).seed, Plan::new(&crate::sampler::grid_method(), &lr_grid(), 1, 1).trial(1).seed);
    }

    #[test]
    fn json_lines_are_the_trials_in_order_whatever_the_threads() {
        let values: Vec<ParamValue> = (0..50).map(ParamValue::Int).collect();
        let grid = BTreeMap::from([
            ("a".to_string(), Domain::Values { values: values.clone() }),
            ("b".to_string(), Domain::Values { values: values[..3].to_vec() }),
        ]);
        // 30000 trials: several blocks, and more than one wave on one thread.
        let plan = Plan::new(&crate::sampler::grid_method(), &grid, 3, 200);
        let mut expected = Vec::new();
        for trial in plan.trials() {
            serde_json::to_writer(&mut expected, &trial).unwrap();
            expected.push(b'\n');
        }
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut got = Vec::new();
            assert_eq!(pool.install(|| plan.write_json_lines(usize::MAX, &mut got)).unwrap(), plan.len());
            assert!(got == expected, "{threads} threads");
        }
        let mut first = Vec::new();
        assert_eq!(plan.write_json_lines(5, &mut first).unwrap(), 5);
        assert_eq!(first.iter().filter(|&&b| b == b'\n').count(), 5);
        assert!(expected.starts_with(&first));
    }

    #[test]
    fn repeats_run_each_configuration_with_its_own_seeds() {
        let plan = Plan::new(&crate::sampler::grid_method(), &lr_grid(), 0, 3);
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
