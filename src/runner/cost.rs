//! What a trial's best model costs to serve, measured once when the trial
//! ends, from the checkpoint bytes already in memory: its size, its tensor
//! elements, and how fast [`Model::predict`](crate::objective::Model::predict)
//! answers for one row and for a batch.
//!
//! The timings depend on the machine and its load, so they are costs, not
//! results: the identity checks skip them (`TIMING_COLUMNS`), and nothing
//! that decides a trial's own result reads them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::data::Prepared;
use crate::objective::Objective;
use crate::params::ResolvedParams;
use crate::store::ModelCost;

/// Untimed calls first, so allocations and lazily built state are warm.
const WARMUP: usize = 3;
/// Timed single-row calls: the p95 is the 48th of 50, stable enough to rank models 2× apart.
const SINGLE_ROW_CALLS: usize = 50;
/// Rows of the batch.
pub(crate) const BATCH_ROWS: usize = 1024;
/// Timed batch calls (rows_per_s is from the median).
const BATCH_CALLS: usize = 3;
/// What measuring may take: the single-row calls stop after this much time (at least
/// [`MIN_CALLS`] of them), and a batch slower than half of it is timed by one call. The
/// small MLPs take a few milliseconds in all.
const BUDGET: std::time::Duration = std::time::Duration::from_millis(20);
const MIN_CALLS: usize = 10;
/// The share of the trial's own time (up to [`BUDGET`]) that measuring may take, so that a
/// trial of a millisecond does not spend a third of it on its cost: W-trivial's logistic
/// regressions took 0.25 ms to measure next to 0.4 ms of training. (A quarter was tried
/// first: those trials still took all 50 one-row calls.)
const SHARE_OF_TRIAL: u32 = 10;
/// The one-row calls a short trial's model gets at least: the p95 is then the 19th of 20, so
/// one call slowed down by the machine does not become the p95.
const SHORT_TRIAL_CALLS: usize = 20;

/// How the timings are taken, stored with them: `single` one-row calls and `batches` batch calls
/// (`first_alone`: the first batch call alone, which took over half the budget).
fn method(single: usize, batches: usize, first_alone: bool) -> String {
    format!(
        "Model::predict on the sweep's device, one thread, warm ({WARMUP} untimed calls of one row); \
         latency: {single} calls of 1 row each (up to {SINGLE_ROW_CALLS}, fewer when they pass {} ms or, \
         after {SHORT_TRIAL_CALLS}, half of 1/{SHARE_OF_TRIAL} of the trial's time), timed with the \
         monotonic clock (std::time::Instant), p50/p95 by nearest rank; rows_per_s: {BATCH_ROWS} rows per call, \
         {}",
        BUDGET.as_millis(),
        if first_alone {
            format!("the first call alone (it took over {} ms)", (BUDGET / 2).as_millis())
        } else {
            format!(
                "median of {batches} calls after an untimed one (up to {BATCH_CALLS}, fewer once measuring \
                 passes 1/{SHARE_OF_TRIAL} of the trial's time)"
            )
        }
    )
}

/// The timings this process took, by [`Objective::serving_key`], shared by its workers.
#[derive(Debug, Default)]
pub(crate) struct ServingCosts(Mutex<HashMap<String, Timed>>);

/// One model's timings, and whose model it was.
#[derive(Debug, Clone)]
struct Timed {
    trial_id: String,
    latency_p50_ms: Option<f64>,
    latency_p95_ms: Option<f64>,
    rows_per_s: Option<f64>,
    method: String,
    extra: crate::metrics::Metrics,
}

impl ServingCosts {
    fn get(&self, key: &str) -> Option<Timed> {
        self.0.lock().ok()?.get(key).cloned()
    }

    fn keep(&self, key: String, timed: Timed) {
        if let Ok(mut known) = self.0.lock() {
            known.entry(key).or_insert(timed);
        }
    }
}

/// Where a trial's model may take the timings of an earlier model of its architecture.
pub(crate) struct Reuse<'a> {
    pub(crate) known: &'a ServingCosts,
    pub(crate) trial_id: &'a str,
}

/// The cost of the model `checkpoint` holds. The size always; the element
/// count where the checkpoint is safetensors; the timings where the
/// objective can load it and the sweep has rows to feed it (a program's
/// model, which sweep cannot load, has none). `trial_time` is how long the
/// trial took up to now: measuring takes about a tenth of it at most, never
/// fewer than [`SHORT_TRIAL_CALLS`] one-row calls and one timed batch. With
/// `reuse`, a model whose [`Objective::serving_key`] this process has timed
/// before takes those timings instead of being timed again.
pub(crate) fn measure(
    objective: &dyn Objective,
    checkpoint: &[u8],
    params: &ResolvedParams,
    data: &Prepared,
    device: &burn::tensor::Device,
    trial_time: std::time::Duration,
    reuse: Option<Reuse<'_>>,
) -> ModelCost {
    let share = (trial_time / SHARE_OF_TRIAL).min(BUDGET);
    let started = Instant::now();
    let mut cost = ModelCost {
        params: safetensors_elements(checkpoint),
        checkpoint_bytes: checkpoint.len() as u64,
        latency_p50_ms: None,
        latency_p95_ms: None,
        rows_per_s: None,
        method: String::new(),
        extra: Default::default(),
        measure_ms: 0.0,
    };
    let key = reuse.as_ref().and_then(|_| objective.serving_key(params, data.shape()));
    if let (Some(reuse), Some(key)) = (&reuse, &key)
        && let Some(timed) = reuse.known.get(key)
    {
        cost.latency_p50_ms = timed.latency_p50_ms;
        cost.latency_p95_ms = timed.latency_p95_ms;
        cost.rows_per_s = timed.rows_per_s;
        cost.extra = timed.extra;
        cost.method = format!(
            "the timings of trial {}'s model, which has the same architecture ({key}): one model \
             of each architecture is timed per process; its method: {}",
            timed.trial_id, timed.method
        );
        cost.measure_ms = started.elapsed().as_secs_f64() * 1e3;
        return cost;
    }
    let rows = sample_rows(data);
    let width = data.n_features;
    if let (Some(rows), Ok(model)) = (rows, objective.load(checkpoint, params, data.shape(), device)) {
        cost.extra = model.cost_fields();
        let one = |i: usize| &rows[(i % (rows.len() / width)) * width..][..width];
        // Copied row by row: a flat_map collect of the same 1,024 rows cost more than a small model's call.
        let mut batch: Vec<f32> = Vec::with_capacity(BATCH_ROWS * width);
        for i in 0..BATCH_ROWS {
            batch.extend_from_slice(one(i));
        }
        let timed = (|| -> Result<(Vec<f64>, Vec<f64>, bool), crate::objective::TrialError> {
            for i in 0..WARMUP {
                model.predict(one(i), 1)?;
            }
            let mut single = Vec::with_capacity(SINGLE_ROW_CALLS);
            let begun = Instant::now();
            for i in 0..SINGLE_ROW_CALLS {
                let spent = begun.elapsed();
                if (i >= MIN_CALLS && spent > BUDGET) || (i >= SHORT_TRIAL_CALLS && spent > share / 2) {
                    break;
                }
                let t = Instant::now();
                std::hint::black_box(model.predict(std::hint::black_box(one(i)), 1)?);
                single.push(t.elapsed().as_secs_f64());
            }
            // A batch slower than the budget is timed by its first call alone (after the
            // one-row calls have warmed the model): for a CNN that is 30 ms instead of 120.
            let t = Instant::now();
            std::hint::black_box(model.predict(std::hint::black_box(&batch), BATCH_ROWS)?);
            let first = t.elapsed();
            if first > BUDGET / 2 {
                return Ok((single, vec![first.as_secs_f64()], true));
            }
            let mut batched = Vec::with_capacity(BATCH_CALLS);
            for k in 0..BATCH_CALLS {
                if k >= 1 && started.elapsed() > share {
                    break;
                }
                let t = Instant::now();
                std::hint::black_box(model.predict(std::hint::black_box(&batch), BATCH_ROWS)?);
                batched.push(t.elapsed().as_secs_f64());
            }
            Ok((single, batched, false))
        })();
        if let Ok((single, batched, first_alone)) = timed {
            cost.method = method(single.len(), batched.len(), first_alone);
            cost.latency_p50_ms = nearest_rank(&single, 0.50).map(|s| s * 1e3);
            cost.latency_p95_ms = nearest_rank(&single, 0.95).map(|s| s * 1e3);
            cost.rows_per_s = nearest_rank(&batched, 0.50).filter(|s| *s > 0.0).map(|s| BATCH_ROWS as f64 / s);
            if let (Some(reuse), Some(key)) = (reuse, key) {
                let timed = Timed {
                    trial_id: reuse.trial_id.to_string(),
                    latency_p50_ms: cost.latency_p50_ms,
                    latency_p95_ms: cost.latency_p95_ms,
                    rows_per_s: cost.rows_per_s,
                    method: cost.method.clone(),
                    extra: cost.extra.clone(),
                };
                reuse.known.keep(key, timed);
            }
        }
    }
    cost.measure_ms = started.elapsed().as_secs_f64() * 1e3;
    cost
}

/// Rows to time with: the validation rows, or the training rows where there
/// are none (a refit); `None` when the sweep has no rows (a program's data).
fn sample_rows(data: &Prepared) -> Option<&[f32]> {
    let width = data.n_features;
    [&data.valid_x, &data.train_x].into_iter().find(|x| width > 0 && x.len() >= width).map(|x| x.as_slice())
}

/// The `q` quantile by nearest rank (the smallest value with at least `q` of
/// the values at or below it); `None` for no values.
pub(crate) fn nearest_rank(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

/// The tensor elements of a safetensors file: the sum over its tensors of
/// the product of their shape; `None` for any other format.
pub(crate) fn safetensors_elements(bytes: &[u8]) -> Option<u64> {
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(crate::store::safetensors_parts(bytes)?.0).ok()?;
    let mut total = 0u64;
    for (name, tensor) in &header {
        if name == "__metadata__" {
            continue;
        }
        let shape = tensor.get("shape")?.as_array()?;
        total += shape.iter().map(|d| d.as_u64()).product::<Option<u64>>()?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::data::{Table, TargetColumn};
    use crate::metrics::Task;
    use crate::objective::TrialContext;
    use crate::objective::mlp::MlpObjective;
    use crate::params::{ParamValue, Params};

    fn toy_data() -> Prepared {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (n, d) = (60, 4);
        let x: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let table = Table {
            path: "toy.csv".into(),
            fingerprint: String::new(),
            target: "y".into(),
            features: (0..d).map(|i| format!("x{i}")).collect(),
            targets: TargetColumn::Text(x.chunks(d).map(|r| usize::from(r[0] > 0.0).to_string()).collect()),
            x,
            lines: Vec::new(),
        };
        crate::data::prepare(&table, Task::Classification, 0.33, 0).unwrap()
    }

    fn params(entries: &[(&str, ParamValue)]) -> ResolvedParams {
        let swept: Params = entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        MlpObjective::default().schema().resolve(&Params::new(), &swept)
    }

    fn safetensors(header: &str) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes
    }

    #[test]
    fn elements_are_the_products_of_the_shapes_without_the_metadata() {
        let h = r#"{"__metadata__":{"epoch":"3"},"w":{"dtype":"F32","shape":[64,10],"data_offsets":[0,2560]},
                   "b":{"dtype":"F32","shape":[10],"data_offsets":[2560,2600]},"s":{"dtype":"F32","shape":[],"data_offsets":[2600,2604]}}"#;
        assert_eq!(safetensors_elements(&safetensors(h)), Some(64 * 10 + 10 + 1));
        assert_eq!(safetensors_elements(b"not a safetensors file"), None);
        assert_eq!(safetensors_elements(&safetensors(r#"{"w":{"shape":["x"]}}"#)), None);
        assert_eq!(safetensors_elements(&[0xff; 8]), None, "a length past the end is no header");
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0.5), Some(10.0));
        assert_eq!(nearest_rank(&v, 0.95), Some(19.0));
        assert_eq!(nearest_rank(&v, 1.0), Some(20.0));
        assert_eq!(nearest_rank(&[3.0], 0.95), Some(3.0));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }

    #[test]
    fn models_of_one_architecture_are_timed_once_per_process() {
        let cpu = crate::device::TrialDevice::cpu();
        let data = toy_data();
        let objective = MlpObjective::default();
        let checkpoint = |p: &ResolvedParams, seed| {
            let trial = TrialContext {
                index: 0,
                id: "t",
                seed,
                params: p,
                data: &data,
                dir: None,
                command: None,
                monitor: None,
                device: &cpu,
            };
            objective.start(&trial).unwrap().checkpoint(&BTreeMap::new()).unwrap()
        };
        let narrow = params(&[("hidden", ParamValue::Int(8))]);
        let narrow_dropout = params(&[("hidden", ParamValue::Int(8)), ("dropout", ParamValue::Float(0.3))]);
        let wide = params(&[("hidden", ParamValue::Int(9))]);
        let known = ServingCosts::default();
        let second = std::time::Duration::from_secs(1);
        let timed = |p: &ResolvedParams, seed, id: &str, reuse: bool| {
            let reuse = reuse.then_some(Reuse { known: &known, trial_id: id });
            measure(&objective, &checkpoint(p, seed), p, &data, &burn::tensor::Device::flex(), second, reuse)
        };
        let first = timed(&narrow, 1, "ta", true);
        assert!(first.latency_p50_ms.is_some() && !first.method.contains("the timings of trial"), "{}", first.method);
        let same = timed(&narrow_dropout, 2, "tb", true);
        assert_eq!(
            (same.latency_p50_ms, same.latency_p95_ms, same.rows_per_s),
            (first.latency_p50_ms, first.latency_p95_ms, first.rows_per_s)
        );
        assert!(same.method.starts_with("the timings of trial ta's model"), "{}", same.method);
        assert_eq!((same.params, same.checkpoint_bytes), (first.params, first.checkpoint_bytes));
        let other = timed(&wide, 3, "tc", true);
        assert!(!other.method.contains("the timings of trial"), "another architecture is timed: {}", other.method);
        assert_ne!(other.params, first.params);
        let alone = timed(&narrow, 4, "td", false);
        assert!(!alone.method.contains("the timings of trial"), "without reuse every model is timed");
    }
}
