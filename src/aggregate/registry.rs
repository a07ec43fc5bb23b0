//! `registry.json`: the sweep's model registry, one entry per successful
//! trial in rank order, with everything needed to pick and trust a model.

use serde::{Deserialize, Serialize};

use super::{AggregateError, Exporter, Leaderboard};
use crate::metrics::Metrics;
use crate::metrics::Monitor;
use crate::params::Params;
use crate::store::{TrialRecord, names};

/// One registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RegistryEntry {
    /// 1-based rank of the trial in the sweep's leaderboard.
    pub rank: usize,
    /// With `repeats > 1`: 1-based rank of the trial's configuration by its mean metric
    /// (the registry is then ordered by it, so the top pick is the best configuration's best trial).
    #[serde(default)]
    pub config_rank: Option<usize>,
    /// Trial id.
    pub trial_id: String,
    /// Swept params.
    pub params: Params,
    /// Every parameter of the objective, resolved.
    pub settings: Params,
    /// The objective that trained it.
    #[serde(default)]
    pub objective: String,
    /// Its version.
    #[serde(default)]
    pub objective_version: String,
    /// The trial's seed.
    pub seed: u64,
    /// The epoch of the checkpoint.
    pub best_epoch: usize,
    /// All metrics of that epoch.
    pub metrics: Metrics,
    /// Checkpoint path relative to the sweep folder.
    pub checkpoint: String,
    /// SHA-256 of the checkpoint.
    pub checkpoint_sha256: String,
    /// SHA-256 of the data file.
    pub data_fingerprint: String,
    /// Hash of the spec.
    pub spec_hash: String,
    /// When the trial finished (RFC 3339).
    pub created_at: String,
    /// Every metric on the test split (`loss`, ...), for the models evaluated there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_metrics: Option<Metrics>,
    /// The 95 % bootstrap interval of the monitored metric over the validation rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    /// Whether the top trial is better in fewer than 95 % of the paired resamples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tied_with_top: Option<bool>,
    /// For a refit: what it retrains and its cross-validated metrics (`metrics` are their means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refit: Option<crate::store::RefitInfo>,
    /// The device that trained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<crate::device::DeviceInfo>,
    /// What the model costs to serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::store::ModelCost>,
    /// With `[select] constraints`: the ones it fails (empty: it meets them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violates: Option<Vec<String>>,
    /// With `[metric] trade_off`: its front (1 = non-dominated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pareto_rank: Option<usize>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepRegistry {
    /// Sweep name.
    pub sweep: String,
    /// Spec hash.
    pub spec_hash: String,
    /// The ranking key.
    pub monitor: Monitor,
    /// Models, best first.
    pub models: Vec<RegistryEntry>,
    /// With cross-validation: the bootstrap bias-corrected estimate of the
    /// configuration it picks, beside the winner's `cv_mean`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbc: Option<super::bbc::Bbc>,
}

impl SweepRegistry {
    /// The registry of a leaderboard: a refit first (`rank` 0: it is not a
    /// ranked trial), then its completed trials with a checkpoint, in rank
    /// order, or with repeats and folds, in configuration-rank order.
    pub(crate) fn from_leaderboard(board: &Leaderboard) -> Self {
        // Each entry copies its record's parameters, settings and metrics: on every core
        // (half a second for 10^5 trials on one), in registry order.
        use rayon::prelude::*;
        let models: Vec<RegistryEntry> = in_registry_order(board).par_iter().map(|m| entry(board, m)).collect();
        SweepRegistry {
            sweep: board.sweep.clone(),
            spec_hash: board.spec_hash.clone(),
            monitor: board.monitor.clone(),
            models,
            bbc: board.bbc.clone(),
        }
    }
}

impl SweepRegistry {
    /// The registry without its models.
    fn shallow(&self) -> Self {
        SweepRegistry {
            sweep: self.sweep.clone(),
            spec_hash: self.spec_hash.clone(),
            monitor: self.monitor.clone(),
            models: Vec::new(),
            bbc: self.bbc.clone(),
        }
    }

    /// The pick: the first model that meets every `[select] constraint` (the
    /// first model, without constraints); `None` when none does.
    pub(crate) fn pick(&self) -> Option<&RegistryEntry> {
        self.models.iter().find(|m| m.violates.as_ref().is_none_or(Vec::is_empty))
    }
}

/// A model where the registry lists it.
pub(crate) struct Listed<'a> {
    pub record: &'a TrialRecord,
    /// 1-based rank of the trial (0: the refit).
    pub rank: usize,
    /// With repeats: 1-based rank of its configuration.
    pub config_rank: Option<usize>,
    saved: Saved<'a>,
}

/// The checkpoint a record names, as a registry entry needs it.
struct Saved<'a> {
    best_epoch: usize,
    checkpoint: &'a str,
    sha256: &'a str,
}

impl<'a> Saved<'a> {
    /// `None` for a record without a checkpoint and its epoch: no model to list.
    fn of(r: &'a TrialRecord) -> Option<Self> {
        Some(Saved {
            best_epoch: r.best_epoch?,
            checkpoint: r.checkpoint.as_deref()?,
            sha256: r.checkpoint_sha256.as_deref()?,
        })
    }
}

/// The models of a leaderboard in the registry's order, without their entries: a refit first
/// (`rank` 0: it is not a ranked trial), then its completed trials with a checkpoint, in rank
/// order, or with repeats and folds, in configuration-rank order; those that meet every
/// constraint ahead of the rest.
pub(crate) fn in_registry_order(board: &Leaderboard) -> Vec<Listed<'_>> {
    let config_ranks: std::collections::BTreeMap<usize, usize> = if board.repeats {
        super::rank_configs(board).iter().enumerate().map(|(i, c)| (c.config, i + 1)).collect()
    } else {
        Default::default()
    };
    let mut models: Vec<Listed<'_>> = board
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status.has_model())
        .filter_map(|(i, r)| {
            Some(Listed {
                record: r,
                rank: i + 1,
                config_rank: config_ranks.get(&r.config).copied(),
                saved: Saved::of(r)?,
            })
        })
        .collect();
    // Stable: within a configuration the trial ranking stays.
    models.sort_by_key(|m| m.config_rank.unwrap_or(0));
    if let Some((record, saved)) = board.refit.as_ref().and_then(|r| Some((r, Saved::of(r)?))) {
        models.insert(0, Listed { record, rank: 0, config_rank: Some(1), saved });
    }
    // Stable: the models that meet every constraint keep their order, ahead of the rest,
    // so the first model (what register_as and the champion alias take) is the pick.
    models.sort_by_key(|m| !board.meets_constraints(&m.record.id));
    models
}

/// The registry entry of a listed model.
fn entry(board: &Leaderboard, listed: &Listed<'_>) -> RegistryEntry {
    let (r, saved) = (listed.record, &listed.saved);
    let u = board.uncertainty.get(&r.id);
    RegistryEntry {
        rank: listed.rank,
        config_rank: listed.config_rank,
        trial_id: r.id.clone(),
        params: r.params.clone(),
        settings: r.settings.clone(),
        objective: r.objective.clone(),
        objective_version: r.objective_version.clone(),
        seed: r.seed,
        best_epoch: saved.best_epoch,
        metrics: r.best_metrics.clone(),
        checkpoint: saved.checkpoint.to_string(),
        checkpoint_sha256: saved.sha256.to_string(),
        data_fingerprint: r.data_fingerprint.clone(),
        spec_hash: r.spec_hash.clone(),
        created_at: r.finished_at.clone(),
        test_metrics: board.test.get(&r.id).cloned(),
        interval: u.map(|u| (u.low, u.high)),
        tied_with_top: u.and_then(|u| u.tied_with_top),
        refit: r.refit.clone(),
        device: r.device.clone(),
        cost: r.cost.clone(),
        violates: board.violates.get(&r.id).cloned(),
        pareto_rank: board.pareto.get(&r.id).copied(),
    }
}

/// Exports [`SweepRegistry`] as pretty JSON.
pub(crate) struct RegistryJson;

impl Exporter for RegistryJson {
    fn file_name(&self) -> &'static str {
        names::REGISTRY
    }

    fn render(&self, board: &Leaderboard) -> Result<Vec<u8>, AggregateError> {
        let mut bytes = pretty_json(&SweepRegistry::from_leaderboard(board))
            .map_err(|e| AggregateError::Render { file: names::REGISTRY, message: e.to_string() })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// `serde_json::to_vec_pretty(registry)`, byte for byte, with the models serialised on every
/// core: one after the other they took most of the time of aggregating 10^5 trials.
fn pretty_json(registry: &SweepRegistry) -> serde_json::Result<Vec<u8>> {
    use rayon::prelude::*;
    // Where the models go: a key at the top level is indented by two spaces, and a string
    // value cannot hold this text unescaped.
    const EMPTY: &[u8] = b"\n  \"models\": []";
    let models = &registry.models;
    let frame = serde_json::to_vec_pretty(&registry.shallow())?;
    let at = match frame.windows(EMPTY.len()).position(|w| w == EMPTY) {
        Some(at) if !models.is_empty() => at,
        _ => return serde_json::to_vec_pretty(registry),
    };
    let chunks: Vec<Vec<u8>> = models
        .par_chunks(256)
        .map(|chunk| {
            let mut out = Vec::new();
            for model in chunk {
                // Each model at the depth to_vec_pretty nests it: inside the top level and the array.
                for (i, line) in serde_json::to_vec_pretty(model)?.split(|&b| b == b'\n').enumerate() {
                    out.extend_from_slice(if i == 0 { b"    " } else { b"\n    " });
                    out.extend_from_slice(line);
                }
                out.extend_from_slice(b",\n");
            }
            Ok(out)
        })
        .collect::<serde_json::Result<_>>()?;
    let mut out = Vec::with_capacity(frame.len() + chunks.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(&frame[..at]);
    out.extend_from_slice(b"\n  \"models\": [\n");
    for chunk in &chunks {
        out.extend_from_slice(chunk);
    }
    // The last model takes no comma.
    out.truncate(out.len() - 2);
    out.extend_from_slice(b"\n  ]");
    out.extend_from_slice(&frame[at + EMPTY.len()..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Goal;

    fn entry(i: usize) -> RegistryEntry {
        serde_json::from_value(serde_json::json!({
            "rank": i + 1,
            "trial_id": format!("t{i:04}-\"odd\"\nname"),
            "params": { "lr": 0.001 * i as f64, "optimizer": "adam" },
            "settings": {},
            "seed": i,
            "best_epoch": 3,
            "metrics": { "mcc": 0.5, "valid_loss": 0.25 },
            "checkpoint": "trials/t/best.safetensors",
            "checkpoint_sha256": "ab",
            "data_fingerprint": "cd",
            "spec_hash": "ef",
            "created_at": "2026-12-06T00:00:00Z",
            "interval": [0.1, 0.9],
            "violates": if i.is_multiple_of(3) { vec!["latency_p95_ms <= 1"] } else { vec![] },
        }))
        .unwrap()
    }

    #[test]
    fn only_models_that_name_their_checkpoint_its_hash_and_epoch_are_listed() {
        let monitor = Monitor::new("mcc", Goal::Maximize, 0.0);
        let record = |i: usize, edit: fn(&mut TrialRecord)| {
            let mut r = TrialRecord {
                status: crate::store::TrialStatus::Completed,
                index: i,
                best_epoch: Some(2),
                checkpoint: Some(format!("trials/t{i}/best.safetensors")),
                checkpoint_sha256: Some(format!("{i:064}")),
                ..TrialRecord::synthetic("s", &format!("t{i}"), monitor.clone())
            };
            r.best_metrics.insert("mcc".into(), 1.0 - i as f64 / 10.0);
            edit(&mut r);
            r
        };
        let records = vec![
            record(0, |_| {}),
            record(1, |r| r.checkpoint_sha256 = None),
            record(2, |r| r.checkpoint = None),
            record(3, |r| r.best_epoch = None),
            record(4, |_| {}),
        ];
        let dir = crate::store::SweepDir::new(std::path::PathBuf::from("unused"));
        let board = Leaderboard::from_records(&dir, records, Vec::new()).unwrap();
        let registry = SweepRegistry::from_leaderboard(&board);
        let listed: Vec<(&str, usize)> = registry.models.iter().map(|m| (m.trial_id.as_str(), m.rank)).collect();
        let rank_of = |id: &str| board.rows.iter().position(|r| r.id == id).map(|i| i + 1);
        assert_eq!(listed, [("t0", 1), ("t4", rank_of("t4").unwrap())]);
        assert_eq!(registry.models[1].checkpoint, "trials/t4/best.safetensors");
        assert_eq!(registry.models[1].checkpoint_sha256, format!("{:064}", 4));
        assert_eq!(registry.models[1].best_epoch, 2);
        let order: Vec<&str> = board.registry_order().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["t0", "t4"], "the registry's order lists the same models");
    }

    #[test]
    fn the_registry_is_serialised_as_serde_json_pretty_prints_it() {
        for (models, bbc) in [(0, false), (1, false), (1, true), (3, true), (700, false), (700, true)] {
            let registry = SweepRegistry {
                sweep: "a \"models\": [] sweep".into(),
                spec_hash: "h".into(),
                monitor: Monitor::new("mcc", Goal::Maximize, 0.0),
                models: (0..models).map(entry).collect(),
                bbc: bbc.then(|| serde_json::from_value(serde_json::json!({
                    "metric": "mcc", "mean": 0.5, "low": 0.4, "high": 0.6, "resamples": 100, "configurations": 3, "rows": 9
                })).unwrap()),
            };
            let ours = String::from_utf8(pretty_json(&registry).unwrap()).unwrap();
            let serde = String::from_utf8(serde_json::to_vec_pretty(&registry).unwrap()).unwrap();
            assert!(ours == serde, "{models} models, bbc {bbc}:\n{ours}\n---\n{serde}");
        }
    }
}
