//! Tree-structured Parzen Estimator (Bergstra et al., 2011), one parameter at
//! a time as in Optuna's default: split the finished trials into the best
//! `gamma` share ("good") and the rest, fit a Parzen density to each, and
//! propose the candidate that maximises good/bad density.
//!
//! Every proposal is a pure function of (sweep seed, trial index, the results
//! of the earlier trials), so a sweep that proposes in fixed batches is
//! reproducible for a fixed seed and worker count.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{History, KeyError, Method, MethodConfig, MethodKeys, Registration, Sampler, StoredMethod};
use crate::metrics::Goal;
use crate::params::{ParamValue, Params};
use crate::seed::derive_seed;
use crate::space::{Domain, normal_cdf, number, quantize_within};

/// The method's name, and its table's.
pub(super) const NAME: &str = "tpe";

pub(super) const REGISTRATION: Registration = Registration { name: NAME, parse, stored };

/// `method = "tpe"`: `trials` proposals with these settings.
pub(crate) fn method(trials: usize, settings: TpeSettings) -> Method {
    Method::new(TpeMethod { trials, settings })
}

/// The `[tpe]` table as the spec writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTpe {
    pub startup_trials: Option<i64>,
    pub candidates: Option<i64>,
    pub gamma: Option<f64>,
}

#[derive(Debug)]
struct TpeMethod {
    trials: usize,
    settings: TpeSettings,
}

impl MethodConfig for TpeMethod {
    fn name(&self) -> &'static str {
        NAME
    }

    fn trials(&self) -> Option<usize> {
        Some(self.trials)
    }

    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        let TpeSettings { startup_trials, candidates, gamma } = self.settings;
        vec![("startup_trials", startup_trials.into()), ("candidates", candidates.into()), ("gamma", gamma.into())]
    }

    fn sampler(&self, parameters: &BTreeMap<String, Domain>, seed: u64) -> Box<dyn Sampler> {
        Box::new(TpeSampler { tpe: Tpe::new(parameters, seed, self.settings), configs: self.trials })
    }

    fn label(&self) -> &'static str {
        "TPE"
    }

    fn summary(&self) -> String {
        format!("tpe, {} start-up trials", self.settings.startup_trials)
    }

    fn description(&self) -> String {
        format!(
            "TPE, {} trials ({} random start-up, gamma {})",
            self.trials, self.settings.startup_trials, self.settings.gamma
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
        None => return Err(KeyError::at(keys.method, "trials", "is missing: method = \"tpe\" needs trials = N")),
    };
    Ok(method(trials, settings(keys.tpe)?))
}

/// `[tpe]`: every key optional, each in its range.
fn settings(raw: Option<&Spanned<RawTpe>>) -> Result<TpeSettings, KeyError> {
    let mut settings = TpeSettings::default();
    let Some(t) = raw else {
        return Ok(settings);
    };
    let r = t.get_ref();
    if let Some(n) = r.startup_trials {
        if !(1..=100_000).contains(&n) {
            return Err(KeyError::at(
                t,
                "tpe.startup_trials",
                format!("got {n}, expected a whole number from 1 to 100000"),
            ));
        }
        settings.startup_trials = n as usize;
    }
    if let Some(n) = r.candidates {
        if !(1..=10_000).contains(&n) {
            return Err(KeyError::at(t, "tpe.candidates", format!("got {n}, expected a whole number from 1 to 10000")));
        }
        settings.candidates = n as usize;
    }
    if let Some(g) = r.gamma {
        if !(g > 0.0 && g < 1.0) {
            return Err(KeyError::at(t, "tpe.gamma", format!("got {g}, expected a number in (0, 1)")));
        }
        settings.gamma = g;
    }
    Ok(settings)
}

fn stored(stored: &StoredMethod) -> Result<Method, String> {
    let settings = match &stored.settings {
        Some(s) => TpeSettings::deserialize(s).map_err(|e| format!("tpe settings: {e}"))?,
        None => TpeSettings::default(),
    };
    Ok(method(stored.needs_trials()?, settings))
}

/// TPE as a sweep's sampler: `configs` proposals, each from the trials
/// committed before its batch.
struct TpeSampler {
    tpe: Tpe,
    configs: usize,
}

impl Sampler for TpeSampler {
    fn len(&self) -> usize {
        self.configs
    }

    fn needs_history(&self) -> bool {
        true
    }

    fn propose(&self, config: usize, history: &History) -> Params {
        self.tpe.propose(config, &observations(history))
    }

    fn known_up_front(&self) -> usize {
        self.tpe.settings.startup_trials.min(self.configs)
    }
}

/// What TPE learns from committed trials: per configuration, the mean
/// best-epoch monitored metric over its repeats that left a model, oriented
/// so smaller is better; `None` where none did.
fn observations(history: &History) -> Vec<Observation> {
    let monitor = &history.monitor;
    let mut by_config: BTreeMap<usize, (Params, Vec<f64>)> = BTreeMap::new();
    for t in &history.trials {
        let entry = by_config.entry(t.config).or_insert_with(|| (t.params.clone(), Vec::new()));
        if t.has_model
            && let Some(v) = t.best_metrics.get(&monitor.metric).filter(|v| v.is_finite())
        {
            entry.1.push(*v);
        }
    }
    by_config
        .into_values()
        .map(|(params, values)| {
            let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
            let loss = mean.map(|m| if monitor.goal == Goal::Maximize { -m } else { m });
            Observation { params, loss }
        })
        .collect()
}

/// TPE's settings (`[tpe]` in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct TpeSettings {
    /// Random trials before TPE starts modelling.
    pub startup_trials: usize,
    /// Candidates drawn from the good density per proposal.
    pub candidates: usize,
    /// Share of finished trials counted as good.
    pub gamma: f64,
}

impl Default for TpeSettings {
    fn default() -> Self {
        TpeSettings { startup_trials: 10, candidates: 24, gamma: 0.25 }
    }
}

/// A finished trial as TPE sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observation {
    /// Its params.
    pub params: Params,
    /// Its best-epoch monitored metric, oriented so that smaller is better; None if it failed.
    pub loss: Option<f64>,
}

/// The TPE proposer.
#[derive(Debug, Clone)]
pub(crate) struct Tpe {
    parameters: BTreeMap<String, Domain>,
    seed: u64,
    settings: TpeSettings,
}

impl Tpe {
    /// A proposer over `parameters`.
    pub(crate) fn new(parameters: &BTreeMap<String, Domain>, seed: u64, settings: TpeSettings) -> Self {
        Tpe { parameters: parameters.clone(), seed, settings }
    }

    /// The params of trial `index`, given the trials finished before its batch.
    pub(crate) fn propose(&self, index: usize, history: &[Observation]) -> Params {
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.seed, "tpe", index as u64));
        let mut finished: Vec<(&Params, f64)> =
            history.iter().filter_map(|o| o.loss.filter(|l| l.is_finite()).map(|l| (&o.params, l))).collect();
        if index < self.settings.startup_trials || finished.len() < 2 {
            return crate::space::sample_all(&self.parameters, &mut rng);
        }
        finished.sort_by(|a, b| a.1.total_cmp(&b.1));
        let n_good = ((self.settings.gamma * finished.len() as f64).ceil() as usize).clamp(1, finished.len() - 1);
        let (good, bad) = finished.split_at(n_good);
        self.parameters
            .iter()
            .map(|(name, domain)| {
                let values = |set: &[(&Params, f64)]| -> Vec<ParamValue> {
                    set.iter().filter_map(|(p, _)| p.get(name).cloned()).collect()
                };
                let value = propose_one(domain, &values(good), &values(bad), self.settings.candidates, &mut rng);
                (name.clone(), value)
            })
            .collect()
    }
}

fn propose_one(
    domain: &Domain,
    good: &[ParamValue],
    bad: &[ParamValue],
    candidates: usize,
    rng: &mut ChaCha8Rng,
) -> ParamValue {
    match domain {
        Domain::Values { values } => categorical(values, None, good, bad, candidates, rng),
        Domain::Categorical { values, probabilities } => {
            categorical(values, Some(probabilities), good, bad, candidates, rng)
        }
        Domain::Uniform { min, max } => {
            let x = numeric(*min, *max, good, bad, candidates, rng, |v| v);
            ParamValue::Float(x.clamp(*min, *max))
        }
        // 1/x of a log-uniform x is log-uniform itself: both are modelled in log space.
        Domain::LogUniformValues { min, max } | Domain::InvLogUniformValues { min, max } => {
            let x = numeric(min.ln(), max.ln(), good, bad, candidates, rng, f64::ln);
            ParamValue::Float(x.exp().clamp(*min, *max))
        }
        Domain::IntUniform { min, max } => {
            let x = numeric(*min as f64 - 0.5, *max as f64 + 0.5, good, bad, candidates, rng, |v| v);
            ParamValue::Int((x.round() as i64).clamp(*min, *max))
        }
        // The q_ domains are modelled as their continuous domain, and the proposal rounded.
        Domain::QUniform { min, max, q, integer } => {
            let x = numeric(*min, *max, good, bad, candidates, rng, |v| v);
            number(quantize_within(x, *q, *min, *max), *integer)
        }
        Domain::QLogUniformValues { min, max, q, integer } => {
            let x = numeric(min.ln(), max.ln(), good, bad, candidates, rng, f64::ln).exp();
            number(quantize_within(x, *q, *min, *max), *integer)
        }
        Domain::Normal { mu, sigma, min, max } | Domain::QNormal { mu, sigma, min, max, .. } => {
            let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
            let Some((a, b)) = window(*mu, *sigma, lo, hi) else { return domain.sample(rng) };
            let x = numeric(a, b, good, bad, candidates, rng, |v| v);
            match domain {
                Domain::QNormal { q, integer, .. } => number(quantize_within(x, *q, lo, hi), *integer),
                _ => ParamValue::Float(x.clamp(lo, hi)),
            }
        }
        // Fitted to the logarithm, where the prior is normal.
        Domain::LogNormal { mu, sigma, min, max } | Domain::QLogNormal { mu, sigma, min, max, .. } => {
            let (lo, hi) = (min.unwrap_or(0.0), max.unwrap_or(f64::INFINITY));
            let Some((a, b)) = window(*mu, *sigma, lo.ln(), hi.ln()) else { return domain.sample(rng) };
            let x = numeric(a, b, good, bad, candidates, rng, f64::ln).exp();
            match domain {
                Domain::QLogNormal { q, integer, .. } => number(quantize_within(x, *q, lo, hi), *integer),
                _ => ParamValue::Float(x.clamp(lo, hi)),
            }
        }
    }
}

/// Where a Parzen estimator of a normal prior lives: mu ± 4 sigma (all but
/// 0.006 % of the prior), cut to the parameter's range; `None` when empty.
fn window(mu: f64, sigma: f64, lo: f64, hi: f64) -> Option<(f64, f64)> {
    let (a, b) = ((mu - 4.0 * sigma).max(lo), (mu + 4.0 * sigma).min(hi));
    (a < b).then_some((a, b))
}

fn categorical(
    values: &[ParamValue],
    prior: Option<&[f64]>,
    good: &[ParamValue],
    bad: &[ParamValue],
    candidates: usize,
    rng: &mut ChaCha8Rng,
) -> ParamValue {
    let l = categorical_weights(values, prior, good);
    let g = categorical_weights(values, prior, bad);
    let best = (0..candidates.max(1))
        .map(|_| pick(&l, rng))
        .max_by(|&a, &b| (l[a].ln() - g[a].ln()).total_cmp(&(l[b].ln() - g[b].ln())))
        .unwrap_or(0);
    values[best].clone()
}

/// Category probabilities: observed counts plus one prior count, spread evenly
/// or, where the spec gives probabilities, by them.
fn categorical_weights(values: &[ParamValue], prior: Option<&[f64]>, observed: &[ParamValue]) -> Vec<f64> {
    let k = values.len() as f64;
    let total = observed.len() as f64 + 1.0;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let prior = prior.map_or(1.0 / k, |p| p[i]);
            (observed.iter().filter(|o| *o == v).count() as f64 + prior) / total
        })
        .collect()
}

fn pick(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

/// A Parzen estimator on [lo, hi]: one truncated normal per observation plus a
/// wide prior component, equally weighted.
struct Parzen {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    lo: f64,
    hi: f64,
}

impl Parzen {
    fn new(points: &[f64], lo: f64, hi: f64) -> Self {
        let range = hi - lo;
        let mut mus: Vec<f64> = points.iter().map(|p| p.clamp(lo, hi)).collect();
        mus.push((lo + hi) / 2.0);
        let mut sorted = mus.clone();
        sorted.sort_by(f64::total_cmp);
        // Bandwidth: the larger gap to a neighbour (bounds count as neighbours),
        // clipped as Optuna does so no component is too narrow or too wide.
        let floor = range / (100.0f64).min(1.0 + mus.len() as f64);
        let sigmas = mus
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                if i == mus.len() - 1 {
                    return range; // the prior
                }
                let pos = sorted.partition_point(|&s| s < m);
                let left = if pos == 0 { lo } else { sorted[pos - 1] };
                let right = sorted.get(pos + 1).copied().unwrap_or(hi);
                (m - left).max(right - m).clamp(floor, range)
            })
            .collect();
        Parzen { mus, sigmas, lo, hi }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        let k = rng.random_range(0..self.mus.len());
        let (mu, sigma) = (self.mus[k], self.sigmas[k]);
        for _ in 0..64 {
            // Box–Muller.
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random());
            let x = mu + sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            if (self.lo..=self.hi).contains(&x) {
                return x;
            }
        }
        mu
    }

    fn log_density(&self, x: f64) -> f64 {
        let n = self.mus.len() as f64;
        let density: f64 = self
            .mus
            .iter()
            .zip(&self.sigmas)
            .map(|(&mu, &s)| {
                let z = (x - mu) / s;
                let mass = normal_cdf((self.hi - mu) / s) - normal_cdf((self.lo - mu) / s);
                (-0.5 * z * z).exp() / (s * (std::f64::consts::TAU).sqrt()) / mass.max(1e-12)
            })
            .sum::<f64>()
            / n;
        density.max(1e-300).ln()
    }
}

fn numeric(
    lo: f64,
    hi: f64,
    good: &[ParamValue],
    bad: &[ParamValue],
    candidates: usize,
    rng: &mut ChaCha8Rng,
    to_space: impl Fn(f64) -> f64,
) -> f64 {
    let points = |vs: &[ParamValue]| -> Vec<f64> { vs.iter().filter_map(ParamValue::as_f64).map(&to_space).collect() };
    let l = Parzen::new(&points(good), lo, hi);
    let g = Parzen::new(&points(bad), lo, hi);
    (0..candidates.max(1))
        .map(|_| l.sample(rng))
        .map(|x| (x, l.log_density(x) - g.log_density(x)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or((lo + hi) / 2.0, |(x, _)| x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> BTreeMap<String, Domain> {
        BTreeMap::from([
            ("lr".to_string(), Domain::LogUniformValues { min: 1e-5, max: 1.0 }),
            ("hidden".to_string(), Domain::IntUniform { min: 1, max: 100 }),
            (
                "optimizer".to_string(),
                Domain::Values { values: ["adam", "sgd", "adamw"].map(|s| ParamValue::Str(s.into())).to_vec() },
            ),
        ])
    }

    /// A known function, smallest at lr = 10^-2.5, hidden = 70, optimizer = sgd.
    fn loss(p: &Params) -> f64 {
        let lr = p["lr"].as_f64().unwrap().log10();
        let hidden = p["hidden"].as_f64().unwrap();
        let opt = if p["optimizer"].as_str() == Some("sgd") { 0.0 } else { 1.0 };
        (lr + 2.5).powi(2) + ((hidden - 70.0) / 20.0).powi(2) + opt
    }

    fn run(seed: u64, batch: usize, n: usize) -> Vec<Observation> {
        let tpe = Tpe::new(&space(), seed, TpeSettings::default());
        let mut history: Vec<Observation> = Vec::new();
        while history.len() < n {
            let start = history.len();
            let proposed: Vec<Params> = (start..(start + batch).min(n)).map(|i| tpe.propose(i, &history)).collect();
            history.extend(proposed.into_iter().map(|p| Observation { loss: Some(loss(&p)), params: p }));
        }
        history
    }

    #[test]
    fn proposals_move_toward_the_optimum() {
        let history = run(7, 2, 80);
        let mean = |obs: &[Observation]| obs.iter().map(|o| o.loss.unwrap()).sum::<f64>() / obs.len() as f64;
        let (startup, late) = (mean(&history[..10]), mean(&history[60..]));
        assert!(late < startup / 3.0, "random start-up mean loss {startup}, last 20 {late}");
        let late_sgd = history[60..].iter().filter(|o| o.params["optimizer"].as_str() == Some("sgd")).count();
        assert!(late_sgd >= 14, "the better category dominates late proposals: {late_sgd} of 20");
        let best = history.iter().map(|o| o.loss.unwrap()).fold(f64::INFINITY, f64::min);
        assert!(best < 0.1, "best {best}");
    }

    #[test]
    fn proposals_are_reproducible_and_stay_in_bounds() {
        assert_eq!(run(3, 2, 30), run(3, 2, 30));
        assert_ne!(run(3, 2, 30), run(4, 2, 30));
        for o in run(5, 3, 40) {
            let lr = o.params["lr"].as_f64().unwrap();
            assert!((1e-5..=1.0).contains(&lr));
            assert!(matches!(o.params["hidden"], ParamValue::Int(1..=100)));
        }
    }

    #[test]
    fn failed_trials_are_ignored_and_startup_is_random() {
        let tpe = Tpe::new(&space(), 1, TpeSettings { startup_trials: 5, ..TpeSettings::default() });
        let failed: Vec<Observation> =
            (0..8).map(|i| Observation { params: tpe.propose(i, &[]), loss: None }).collect();
        // With no finished trial TPE falls back to random draws, which equal the start-up draws.
        assert_eq!(tpe.propose(9, &failed), tpe.propose(9, &[]));
    }

    #[test]
    fn proposals_over_the_old_domains_are_what_they_were() {
        // Measured with the TPE before the W&B distributions were added: TPE sweeps resume.
        let space = BTreeMap::from([
            ("lr".to_string(), Domain::LogUniformValues { min: 1e-5, max: 1.0 }),
            ("hidden".to_string(), Domain::IntUniform { min: 1, max: 100 }),
            (
                "optimizer".to_string(),
                Domain::Values { values: ["adam", "sgd", "adamw"].map(|s| ParamValue::Str(s.into())).to_vec() },
            ),
            ("dropout".to_string(), Domain::Uniform { min: 0.0, max: 0.5 }),
        ]);
        let f = |p: &Params| loss(p) + p["dropout"].as_f64().unwrap();
        let history = run_on(&space, 3, 2, 30, f);
        let got: Vec<(f64, i64, f64)> = history[26..]
            .iter()
            .map(|o| {
                assert_eq!(o.params["optimizer"].as_str(), Some("sgd"));
                (
                    o.params["dropout"].as_f64().unwrap(),
                    o.params["hidden"].as_i64().unwrap(),
                    o.params["lr"].as_f64().unwrap(),
                )
            })
            .collect();
        let before = [
            (0.029558220696578947, 63, 0.0009612750356269463),
            (0.02637094176413188, 66, 0.0011639272213746516),
            (0.04579867397668367, 54, 0.001293098934696825),
            (0.043751576625838576, 77, 0.0013008169359752886),
        ];
        assert_eq!(got, before);
    }

    fn run_on(
        space: &BTreeMap<String, Domain>,
        seed: u64,
        batch: usize,
        n: usize,
        f: impl Fn(&Params) -> f64,
    ) -> Vec<Observation> {
        let tpe = Tpe::new(space, seed, TpeSettings::default());
        let mut history: Vec<Observation> = Vec::new();
        while history.len() < n {
            let start = history.len();
            let proposed: Vec<Params> = (start..(start + batch).min(n)).map(|i| tpe.propose(i, &history)).collect();
            history.extend(proposed.into_iter().map(|p| Observation { loss: Some(f(&p)), params: p }));
        }
        history
    }

    fn wandb_space() -> BTreeMap<String, Domain> {
        BTreeMap::from([
            ("a_q".to_string(), Domain::QUniform { min: 0.0, max: 1.0, q: 0.125, integer: false }),
            ("b_qlog".to_string(), Domain::QLogUniformValues { min: 8.0, max: 512.0, q: 8.0, integer: true }),
            ("c_inv".to_string(), Domain::InvLogUniformValues { min: 1e-4, max: 1e-1 }),
            ("d_normal".to_string(), Domain::Normal { mu: 0.0, sigma: 2.0, min: Some(-1.0), max: None }),
            (
                "e_qnormal".to_string(),
                Domain::QNormal { mu: 10.0, sigma: 5.0, q: 2.0, integer: true, min: Some(1.0), max: Some(16.0) },
            ),
            ("f_lognormal".to_string(), Domain::LogNormal { mu: -5.0, sigma: 1.5, min: None, max: None }),
            (
                "g_qlognormal".to_string(),
                Domain::QLogNormal { mu: 4.0, sigma: 0.5, q: 4.0, integer: false, min: Some(1e-300), max: None },
            ),
            (
                "h_weighted".to_string(),
                Domain::Categorical {
                    values: ["x", "y", "z"].map(|s| ParamValue::Str(s.into())).to_vec(),
                    probabilities: vec![0.8, 0.2, 0.0],
                },
            ),
        ])
    }

    /// Smallest at a_q = 0.75, d_normal = 1, f_lognormal = e^-4.
    fn wandb_loss(p: &Params) -> f64 {
        let f = |k: &str| p[k].as_f64().unwrap();
        (f("a_q") - 0.75).powi(2) + (f("d_normal") - 1.0).powi(2) + (f("f_lognormal").ln() + 4.0).powi(2)
    }

    #[test]
    fn proposals_over_the_wandb_domains_stay_in_them_and_improve() {
        let history = run_on(&wandb_space(), 11, 2, 60, wandb_loss);
        assert_eq!(history, run_on(&wandb_space(), 11, 2, 60, wandb_loss), "reproducible");
        for o in &history {
            let p = &o.params;
            let f = |k: &str| p[k].as_f64().unwrap();
            let multiple = |x: f64, q: f64| ((x / q) - (x / q).round()).abs() < 1e-9;
            assert!((0.0..=1.0).contains(&f("a_q")) && multiple(f("a_q"), 0.125), "{p:?}");
            assert!(matches!(p["b_qlog"], ParamValue::Int(v) if v % 8 == 0 && (8..=512).contains(&v)), "{p:?}");
            assert!((1e-4..=1e-1).contains(&f("c_inv")), "{p:?}");
            assert!(f("d_normal") >= -1.0, "{p:?}");
            assert!(matches!(p["e_qnormal"], ParamValue::Int(v) if v % 2 == 0 && (2..=16).contains(&v)), "{p:?}");
            assert!(f("f_lognormal") > 0.0, "{p:?}");
            assert!(f("g_qlognormal") >= 4.0 && multiple(f("g_qlognormal"), 4.0), "{p:?}");
            assert_ne!(p["h_weighted"].as_str(), Some("z"), "a zero prior and no observation: never proposed");
        }
        let mean = |obs: &[Observation]| obs.iter().map(|o| o.loss.unwrap()).sum::<f64>() / obs.len() as f64;
        let (startup, late) = (mean(&history[..10]), mean(&history[40..]));
        assert!(late < startup / 2.0, "random start-up mean loss {startup}, last 20 {late}");
    }

    #[test]
    fn the_weighted_prior_leads_until_observations_outweigh_it() {
        let values = ["x", "y"].map(|s| ParamValue::Str(s.into())).to_vec();
        let w = categorical_weights(&values, Some(&[0.9, 0.1]), &[]);
        assert_eq!(w, vec![0.9, 0.1]);
        let seen_y = vec![ParamValue::Str("y".into()); 3];
        let w = categorical_weights(&values, Some(&[0.9, 0.1]), &seen_y);
        assert!(w[1] > w[0], "{w:?}");
        assert_eq!(categorical_weights(&values, None, &[]), vec![0.5, 0.5]);
    }

    #[test]
    fn normal_cdf_by_table() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.0) - 0.841_344_746).abs() < 1e-6);
        assert!((normal_cdf(-1.96) - 0.024_997_895).abs() < 1e-6);
    }
}
