//! NSGA-II (Deb et al., 2002) as Optuna's `NSGAIISampler` runs it: the
//! first generation random; each later one bred from the parent population
//! (the elite of the previous parents and the previous generation, by
//! non-dominated sorting, then crowding distance), each child from two
//! parents chosen by binary tournament on dominance, uniform crossover with
//! `crossover_prob` (else a copy of one parent), and each parameter redrawn
//! from its domain with `mutation_prob` (default 1 / the parameter count).
//!
//! The objectives are the monitored metric and `[metric] trade_off`. A child
//! of generation `g` is a pure function of (sweep seed, its index, the
//! committed trials of generations before `g`), and a generation is proposed
//! only once every trial before it is committed, so a sweep is reproducible
//! for a fixed seed whatever the worker count, as long as the objectives
//! are: a trade-off on a timing (`latency_*`, `rows_per_s`) makes the search
//! follow the machine's timings.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{History, KeyError, Method, MethodConfig, MethodKeys, Registration, Sampler, StoredMethod};
use crate::params::Params;
use crate::pick::{TradeOff, crowding_distance, dominates, minimized, non_dominated_fronts};
use crate::seed::derive_seed;
use crate::space::Domain;

/// The method's name, and its table's.
pub(super) const NAME: &str = "nsga2";

pub(super) const REGISTRATION: Registration = Registration { name: NAME, parse, stored };

/// `method = "nsga2"`: `trials` proposals with these settings.
pub(crate) fn method(trials: usize, settings: Nsga2Settings) -> Method {
    Method::new(Nsga2Method { trials, settings })
}

/// The `[nsga2]` table as the spec writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNsga2 {
    pub population_size: Option<i64>,
    pub crossover_prob: Option<f64>,
    pub swapping_prob: Option<f64>,
    pub mutation_prob: Option<f64>,
}

/// NSGA-II's settings, Optuna's defaults but the objectives, which are the sweep's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Nsga2Settings {
    /// Children per generation (Optuna's `population_size`, 50).
    pub population_size: usize,
    /// Chance that a child is a crossover of two parents (0.9).
    pub crossover_prob: f64,
    /// Chance that uniform crossover takes a parameter from the second parent (0.5).
    pub swapping_prob: f64,
    /// Chance that a parameter is redrawn from its domain; `None`: 1 / the parameter count.
    pub mutation_prob: Option<f64>,
    /// The objectives besides the monitored metric (`[metric] trade_off`): they
    /// change the proposals, so they are part of the method (and of the spec hash).
    pub trade_off: Vec<TradeOff>,
}

impl Default for Nsga2Settings {
    fn default() -> Self {
        Nsga2Settings {
            population_size: 50,
            crossover_prob: 0.9,
            swapping_prob: 0.5,
            mutation_prob: None,
            trade_off: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct Nsga2Method {
    trials: usize,
    settings: Nsga2Settings,
}

impl MethodConfig for Nsga2Method {
    fn name(&self) -> &'static str {
        NAME
    }

    fn trials(&self) -> Option<usize> {
        Some(self.trials)
    }

    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        let s = &self.settings;
        vec![
            ("population_size", s.population_size.into()),
            ("crossover_prob", s.crossover_prob.into()),
            ("swapping_prob", s.swapping_prob.into()),
            ("mutation_prob", s.mutation_prob.into()),
            ("trade_off", serde_json::to_value(&s.trade_off).unwrap_or_default()),
        ]
    }

    fn sampler(&self, parameters: &BTreeMap<String, Domain>, seed: u64) -> Box<dyn Sampler> {
        Box::new(Nsga2Sampler {
            parameters: parameters.clone(),
            seed,
            settings: self.settings.clone(),
            configs: self.trials,
        })
    }

    fn label(&self) -> &'static str {
        "NSGA-II"
    }

    fn summary(&self) -> String {
        format!("nsga2, population {}", self.settings.population_size)
    }

    fn description(&self) -> String {
        let objectives: Vec<&str> = self.settings.trade_off.iter().map(|t| t.name.as_str()).collect();
        format!(
            "NSGA-II, {} trials (population {}, crossover {}, trade-offs: {})",
            self.trials,
            self.settings.population_size,
            self.settings.crossover_prob,
            if objectives.is_empty() { "none".to_string() } else { objectives.join(", ") }
        )
    }
}

fn parse(keys: &MethodKeys) -> Result<Method, KeyError> {
    let trials = match keys.trials {
        Some(t) if (1..=1_000_000).contains(t.get_ref()) => *t.get_ref() as usize,
        Some(t) => {
            return Err(KeyError::at(
                t,
                "trials",
                format!("got {}, expected a whole number from 1 to 1000000", t.get_ref()),
            ));
        }
        None => return Err(KeyError::at(keys.method, "trials", "is missing: method = \"nsga2\" needs trials = N")),
    };
    if let Some(t) = keys.trade_off.iter().find(|t| t.name.starts_with("test_")) {
        return Err(KeyError::at(
            keys.method,
            "metric.trade_off",
            format!(
                "holds \"{}\", a test metric, which is measured after the sweep; NSGA-II can only trade off \
                 validation metrics and costs",
                t.name
            ),
        ));
    }
    let mut settings = settings(keys.nsga2)?;
    settings.trade_off = keys.trade_off.to_vec();
    Ok(method(trials, settings))
}

/// `[nsga2]`: every key optional, each in its range.
fn settings(raw: Option<&Spanned<RawNsga2>>) -> Result<Nsga2Settings, KeyError> {
    let mut settings = Nsga2Settings::default();
    let Some(t) = raw else {
        return Ok(settings);
    };
    let r = t.get_ref();
    if let Some(n) = r.population_size {
        if !(2..=100_000).contains(&n) {
            return Err(KeyError::at(
                t,
                "nsga2.population_size",
                format!("got {n}, expected a whole number from 2 to 100000"),
            ));
        }
        settings.population_size = n as usize;
    }
    let share = |v: Option<f64>, key: &str| -> Result<Option<f64>, KeyError> {
        match v {
            Some(p) if !(0.0..=1.0).contains(&p) => {
                Err(KeyError::at(t, key, format!("got {p}, expected a probability from 0 to 1")))
            }
            other => Ok(other),
        }
    };
    if let Some(p) = share(r.crossover_prob, "nsga2.crossover_prob")? {
        settings.crossover_prob = p;
    }
    if let Some(p) = share(r.swapping_prob, "nsga2.swapping_prob")? {
        settings.swapping_prob = p;
    }
    settings.mutation_prob = share(r.mutation_prob, "nsga2.mutation_prob")?;
    Ok(settings)
}

fn stored(stored: &StoredMethod) -> Result<Method, String> {
    let settings = match &stored.settings {
        Some(s) => Nsga2Settings::deserialize(s).map_err(|e| format!("nsga2 settings: {e}"))?,
        None => Nsga2Settings::default(),
    };
    Ok(method(stored.needs_trials()?, settings))
}

/// NSGA-II as a sweep's sampler.
struct Nsga2Sampler {
    parameters: BTreeMap<String, Domain>,
    seed: u64,
    settings: Nsga2Settings,
    configs: usize,
}

/// A configuration of the population: its params and its objectives, each to be minimized.
#[derive(Debug, Clone)]
struct Member {
    config: usize,
    params: Params,
    point: Vec<f64>,
}

impl Sampler for Nsga2Sampler {
    fn len(&self) -> usize {
        self.configs
    }

    fn needs_history(&self) -> bool {
        true
    }

    fn known_up_front(&self) -> usize {
        self.settings.population_size.min(self.configs)
    }

    fn batch_len(&self, first: usize, _workers: usize) -> usize {
        let pop = self.settings.population_size;
        (pop - first % pop).min(self.configs.saturating_sub(first)).max(1)
    }

    fn waits_for(&self, config: usize) -> usize {
        let pop = self.settings.population_size;
        config / pop * pop
    }

    fn propose(&self, config: usize, history: &History) -> Params {
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.seed, "nsga2", config as u64));
        let generation = config / self.settings.population_size;
        let parents = self.parents(generation, history);
        if generation == 0 || parents.is_empty() {
            return crate::space::sample_all(&self.parameters, &mut rng);
        }
        self.child(&parents, &mut rng)
    }
}

impl Nsga2Sampler {
    /// The committed configurations of `generation` that left a model, with
    /// their objectives (the mean over repeats).
    fn generation(&self, generation: usize, history: &History) -> Vec<Member> {
        let pop = self.settings.population_size;
        let range = generation * pop..(generation + 1) * pop;
        let mut by_config: BTreeMap<usize, (Params, Vec<Vec<f64>>)> = BTreeMap::new();
        for t in history.trials.iter().filter(|t| range.contains(&t.config) && t.has_model) {
            let mut point = vec![minimized(t.best_metrics.get(&history.monitor.metric).copied(), history.monitor.goal)];
            point.extend(self.settings.trade_off.iter().map(|o| {
                let name = o.name.strip_prefix("best_").unwrap_or(&o.name);
                minimized(t.best_metrics.get(name).or_else(|| t.costs.get(name)).copied(), o.goal)
            }));
            by_config.entry(t.config).or_insert_with(|| (t.params.clone(), Vec::new())).1.push(point);
        }
        by_config
            .into_iter()
            .map(|(config, (params, points))| {
                let n = points.len() as f64;
                let point = (0..points[0].len()).map(|d| points.iter().map(|p| p[d]).sum::<f64>() / n).collect();
                Member { config, params, point }
            })
            .collect()
    }

    /// The parent population of `generation`: the elite of the previous
    /// generation's parents and the previous generation itself.
    fn parents(&self, generation: usize, history: &History) -> Vec<Member> {
        let mut parents: Vec<Member> = Vec::new();
        for g in 0..generation {
            let mut pool = parents;
            pool.extend(self.generation(g, history));
            parents = self.elite(pool);
        }
        parents
    }

    /// Keeps `population_size` members: whole fronts first, then the most
    /// isolated of the front that does not fit (Optuna's elite selection).
    fn elite(&self, pool: Vec<Member>) -> Vec<Member> {
        let size = self.settings.population_size;
        let points: Vec<Vec<f64>> = pool.iter().map(|m| m.point.clone()).collect();
        let mut kept = Vec::new();
        for front in non_dominated_fronts(&points) {
            if kept.len() + front.len() <= size {
                kept.extend(front);
                continue;
            }
            let distance = crowding_distance(&points, &front);
            let mut order: Vec<usize> = (0..front.len()).collect();
            // Most isolated first; ties by configuration, so the choice never depends on float noise.
            order.sort_by(|&a, &b| {
                distance[b].total_cmp(&distance[a]).then(pool[front[a]].config.cmp(&pool[front[b]].config))
            });
            kept.extend(order.into_iter().take(size - kept.len()).map(|i| front[i]));
            break;
        }
        kept.sort_unstable();
        kept.into_iter().map(|i| pool[i].clone()).collect()
    }

    /// One child: two parents by tournament, uniform crossover or a copy, mutation.
    fn child(&self, parents: &[Member], rng: &mut ChaCha8Rng) -> Params {
        let s = &self.settings;
        let first = tournament(parents, rng);
        let base: Params = if rng.random::<f64>() < s.crossover_prob && parents.len() > 1 {
            // Two different parents, as Optuna draws them.
            let second = loop {
                let p = tournament(parents, rng);
                if p.config != first.config {
                    break p;
                }
            };
            self.parameters
                .keys()
                .filter_map(|name| {
                    let from = if rng.random::<f64>() < s.swapping_prob { second } else { first };
                    from.params.get(name).map(|v| (name.clone(), v.clone()))
                })
                .collect()
        } else {
            parents[rng.random_range(0..parents.len())].params.clone()
        };
        let mutation = s.mutation_prob.unwrap_or(1.0 / (self.parameters.len().max(1) as f64));
        self.parameters
            .iter()
            .map(|(name, domain)| {
                // Drawn for every parameter, mutated or not, so the stream does not depend on the outcome.
                let redraw = domain.sample(rng);
                let keep = rng.random::<f64>() >= mutation;
                match base.get(name) {
                    Some(v) if keep => (name.clone(), v.clone()),
                    _ => (name.clone(), redraw),
                }
            })
            .collect()
    }
}

/// Binary tournament: of two members drawn at random, the one that
/// dominates the other, else the second (Optuna's `_select_parent`).
fn tournament<'a>(population: &'a [Member], rng: &mut ChaCha8Rng) -> &'a Member {
    let a = &population[rng.random_range(0..population.len())];
    let b = &population[rng.random_range(0..population.len())];
    if dominates(&a.point, &b.point) { a } else { b }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Goal, Metrics, Monitor};
    use crate::params::ParamValue;
    use crate::sampler::Observed;

    fn space() -> BTreeMap<String, Domain> {
        BTreeMap::from([
            ("lr".to_string(), Domain::LogUniformValues { min: 1e-4, max: 1e-1 }),
            ("hidden".to_string(), Domain::IntUniform { min: 16, max: 256 }),
            (
                "opt".to_string(),
                Domain::Values { values: vec![ParamValue::Str("adam".into()), ParamValue::Str("sgd".into())] },
            ),
        ])
    }

    fn sampler(pop: usize, crossover: f64, mutation: Option<f64>) -> Nsga2Sampler {
        Nsga2Sampler {
            parameters: space(),
            seed: 42,
            settings: Nsga2Settings {
                population_size: pop,
                crossover_prob: crossover,
                mutation_prob: mutation,
                trade_off: vec![TradeOff { name: "params".into(), goal: Goal::Minimize }],
                ..Nsga2Settings::default()
            },
            configs: 100,
        }
    }

    /// A history of configurations `0..n` proposed by `s`, scored: mcc grows with hidden, params with it too.
    fn history(s: &Nsga2Sampler, n: usize) -> History {
        let monitor = Monitor::new("mcc", Goal::Maximize, 0.0);
        let mut h = History::empty(&monitor);
        for config in 0..n {
            let params = s.propose(config, &h);
            let hidden = match params["hidden"] {
                ParamValue::Int(h) => h as f64,
                _ => unreachable!(),
            };
            h.trials.push(Observed {
                config,
                repeat: 0,
                params,
                has_model: config % 7 != 3,
                best_metrics: Metrics::from([("mcc".into(), 1.0 - 1.0 / hidden)]),
                costs: Metrics::from([("params".into(), hidden * 10.0)]),
            });
        }
        h
    }

    #[test]
    fn the_same_seed_and_history_give_the_same_children() {
        let s = sampler(8, 0.9, None);
        let h = history(&s, 24);
        let again = history(&sampler(8, 0.9, None), 24);
        assert_eq!(h, again, "three generations, proposed twice, alike");
        let other = Nsga2Sampler { seed: 43, ..sampler(8, 0.9, None) };
        assert_ne!(other.propose(9, &h), s.propose(9, &h), "another seed breeds other children");
        // A child of generation 2 reads only generations 0 and 1: later trials change nothing.
        let mut longer = h.clone();
        longer.trials.extend(history(&s, 30).trials.into_iter().skip(24));
        assert_eq!(s.propose(17, &h), s.propose(17, &longer));
        assert_eq!((s.waits_for(17), s.batch_len(17, 2), s.batch_len(16, 64)), (16, 7, 8));
    }

    #[test]
    fn without_mutation_children_hold_only_their_parents_values() {
        let s = sampler(6, 1.0, Some(0.0));
        let h = history(&s, 6);
        let parents = s.parents(1, &h);
        assert!(parents.iter().all(|p| p.config % 7 != 3), "failed trials are no parents");
        for config in 6..12 {
            let child = s.propose(config, &h);
            for (name, v) in &child {
                assert!(parents.iter().any(|p| &p.params[name] == v), "{name} = {v:?} comes from a parent");
            }
        }
        // With certain mutation every value is a fresh draw: at least one differs from every parent's.
        let wild = sampler(6, 1.0, Some(1.0));
        let fresh = (6..12).any(|c| wild.propose(c, &h).iter().any(|(n, v)| parents.iter().all(|p| &p.params[n] != v)));
        assert!(fresh);
    }

    #[test]
    fn the_elite_keeps_fronts_then_the_most_isolated() {
        let s = sampler(3, 0.9, None);
        let m = |config: usize, a: f64, b: f64| Member { config, params: Params::new(), point: vec![a, b] };
        // Front 1: configs 0, 1, 2, 3 (a staircase); 4 is dominated. Only three fit: the two ends
        // (infinite crowding) and, of 1 and 2, the lonelier one (2: its neighbours are farther apart).
        let pool = vec![m(0, 0.0, 10.0), m(1, 1.0, 9.0), m(2, 5.0, 5.0), m(3, 10.0, 0.0), m(4, 11.0, 11.0)];
        let kept: Vec<usize> = s.elite(pool).iter().map(|m| m.config).collect();
        assert_eq!(kept, [0, 2, 3]);
    }

    #[test]
    fn the_tournament_favours_the_dominating_parent() {
        let m = |config: usize, a: f64| Member { config, params: Params::new(), point: vec![a, a] };
        let population = [m(0, 0.0), m(1, 1.0)];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let wins = (0..4000).filter(|_| tournament(&population, &mut rng).config == 0).count();
        // Of the four equally likely pairs, three hold the dominating member: it wins 3 in 4.
        assert!((2800..3200).contains(&wins), "{wins} of 4000");
    }

    #[test]
    fn children_stay_inside_their_domains() {
        let s = sampler(5, 0.9, Some(0.5));
        let h = history(&s, 25);
        for t in &h.trials {
            assert!(matches!(t.params["hidden"], ParamValue::Int(16..=256)));
            let ParamValue::Float(lr) = t.params["lr"] else { panic!("lr is a float") };
            assert!((1e-4..=1e-1).contains(&lr));
        }
    }
}
