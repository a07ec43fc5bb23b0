//! `sweep bench`: the performance workloads of the project, measured in one
//! sitting and compared with their targets. Long measurements live here, not
//! in timed tests.

mod measure;
mod workloads;

use std::path::PathBuf;

pub(crate) use measure::measure_command;
pub(crate) use workloads::{BenchOptions, run_all};

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    /// Which workload.
    pub workload: String,
    /// What was measured.
    pub measure: String,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// The target, in words, if any (`<= 1 s`).
    pub target: Option<String>,
    /// Whether the target is met.
    pub pass: Option<bool>,
}

impl Figure {
    /// A figure without a target.
    pub(crate) fn info(workload: &str, measure: &str, value: f64, unit: &str) -> Self {
        Figure {
            workload: workload.into(),
            measure: measure.into(),
            value,
            unit: unit.into(),
            target: None,
            pass: None,
        }
    }

    /// A figure that must be at most `limit`.
    pub(crate) fn at_most(workload: &str, measure: &str, value: f64, unit: &str, limit: f64) -> Self {
        Figure {
            target: Some(format!("<= {limit}")),
            pass: Some(value <= limit),
            ..Self::info(workload, measure, value, unit)
        }
    }

    /// A figure that must be at least `limit`.
    pub(crate) fn at_least(workload: &str, measure: &str, value: f64, unit: &str, limit: f64) -> Self {
        Figure {
            target: Some(format!(">= {limit}")),
            pass: Some(value >= limit),
            ..Self::info(workload, measure, value, unit)
        }
    }
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BenchError {
    /// A workload failed.
    #[error("{workload}: {message}")]
    Workload {
        /// Which.
        workload: String,
        message: String,
    },
    /// Writing the results failed.
    #[error("{path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The figures as CSV.
pub(crate) fn to_csv(figures: &[Figure]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["workload", "measure", "value", "unit", "target", "verdict"]);
    for f in figures {
        let verdict = match f.pass {
            Some(true) => "met",
            Some(false) => "missed",
            None => "",
        };
        let _ = w.write_record([
            f.workload.as_str(),
            f.measure.as_str(),
            &format!("{:.6}", f.value),
            f.unit.as_str(),
            f.target.as_deref().unwrap_or(""),
            verdict,
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// The figures as an aligned table.
pub(crate) fn to_table(figures: &[Figure]) -> String {
    let mut out =
        format!("{:<18} {:<44} {:>14} {:<10} {:<12} {}\n", "workload", "measure", "value", "unit", "target", "");
    for f in figures {
        let verdict = match f.pass {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        let value = if f.value.abs() >= 1000.0 { format!("{:.0}", f.value) } else { format!("{:.3}", f.value) };
        out.push_str(&format!(
            "{:<18} {:<44} {:>14} {:<10} {:<12} {}\n",
            f.workload,
            f.measure,
            value,
            f.unit,
            f.target.as_deref().unwrap_or(""),
            verdict
        ));
    }
    out
}
