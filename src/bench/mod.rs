//! `sweep bench`: the performance workloads of the project, measured in one
//! sitting and compared with their targets. Long measurements live here, not
//! in timed tests.

mod baseline;
mod file_floor;
mod measure;
mod workloads;

use std::path::PathBuf;

pub(crate) use baseline::{Baseline, BaselineRow, BaselineRun, merge as merge_baseline};
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

/// The verdict column of a figure.
fn verdict(f: &Figure, missed: &'static str) -> &'static str {
    match f.pass {
        Some(true) => "met",
        Some(false) => missed,
        None => "",
    }
}

/// The figures as CSV; with a baseline (one per figure), its value and the
/// ratio ours/baseline follow each value (empty where the baseline has none).
pub(crate) fn to_csv(figures: &[Figure], baseline: Option<&[Baseline]>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["workload", "measure", "value"];
    if baseline.is_some() {
        header.extend(["baseline", "ratio"]);
    }
    header.extend(["unit", "target", "verdict"]);
    let _ = w.write_record(&header);
    for (i, f) in figures.iter().enumerate() {
        let mut row = vec![f.workload.clone(), f.measure.clone(), format!("{:.6}", f.value)];
        if let Some(baseline) = baseline {
            let b = baseline.get(i).copied().unwrap_or(Baseline::Missing);
            row.push(match b {
                Baseline::Value(v) => format!("{v:.6}"),
                Baseline::Missing => String::new(),
            });
            row.push(b.ratio(f.value).map(|r| format!("{r:.6}")).unwrap_or_default());
        }
        row.extend([f.unit.clone(), f.target.clone().unwrap_or_default(), verdict(f, "missed").to_string()]);
        let _ = w.write_record(&row);
    }
    w.into_inner().unwrap_or_default()
}

/// A value as the table prints it.
fn table_value(v: f64) -> String {
    if v.abs() >= 1000.0 { format!("{v:.0}") } else { format!("{v:.3}") }
}

/// The figures as an aligned table; with a baseline, its value and the ratio
/// ours/baseline (`n/a` where the baseline has no such figure) follow each value.
pub(crate) fn to_table(figures: &[Figure], baseline: Option<&[Baseline]>) -> String {
    let compared = |base: &str, ratio: &str| {
        if baseline.is_some() { format!(" {base:>14} {ratio:>8}") } else { String::new() }
    };
    let mut out = format!(
        "{:<18} {:<44} {:>14}{} {:<10} {:<12} {}\n",
        "workload",
        "measure",
        "value",
        compared("baseline", "ratio"),
        "unit",
        "target",
        ""
    );
    for (i, f) in figures.iter().enumerate() {
        let b = baseline.map(|b| b.get(i).copied().unwrap_or(Baseline::Missing));
        let (base, ratio) = match b {
            Some(Baseline::Value(v)) => (table_value(v), baseline::format_ratio(Baseline::Value(v).ratio(f.value))),
            _ => ("n/a".to_string(), "n/a".to_string()),
        };
        out.push_str(&format!(
            "{:<18} {:<44} {:>14}{} {:<10} {:<12} {}\n",
            f.workload,
            f.measure,
            table_value(f.value),
            compared(&base, &ratio),
            f.unit,
            f.target.as_deref().unwrap_or(""),
            verdict(f, "MISSED")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Vec<Figure> {
        vec![
            Figure::at_most("plan", "plan of 10 trials", 0.5, "s", 1.0),
            Figure::at_least("W-trivial", "trials per second", 4000.0, "trials/s", 5000.0),
        ]
    }

    #[test]
    fn without_a_baseline_the_csv_keeps_its_columns() {
        let csv = String::from_utf8(to_csv(&figures(), None)).unwrap();
        assert_eq!(
            csv,
            "workload,measure,value,unit,target,verdict\n\
             plan,plan of 10 trials,0.500000,s,<= 1,met\n\
             W-trivial,trials per second,4000.000000,trials/s,>= 5000,missed\n"
        );
        assert!(!to_table(&figures(), None).contains("baseline"));
    }

    #[test]
    fn a_baseline_adds_its_value_and_the_ratio_or_na() {
        let baseline = [Baseline::Value(2.0), Baseline::Missing];
        let csv = String::from_utf8(to_csv(&figures(), Some(&baseline))).unwrap();
        assert_eq!(
            csv,
            "workload,measure,value,baseline,ratio,unit,target,verdict\n\
             plan,plan of 10 trials,0.500000,2.000000,0.250000,s,<= 1,met\n\
             W-trivial,trials per second,4000.000000,,,trials/s,>= 5000,missed\n"
        );
        let table = to_table(&figures(), Some(&baseline));
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("baseline") && lines[0].contains("ratio"), "{table}");
        assert!(lines[1].contains("0.500") && lines[1].contains("2.000") && lines[1].contains("0.25x"), "{table}");
        assert!(lines[1].ends_with("met"), "{table}");
        assert_eq!(lines[2].matches("n/a").count(), 2, "{table}");
        assert!(lines[2].ends_with("MISSED"), "{table}");
    }
}
