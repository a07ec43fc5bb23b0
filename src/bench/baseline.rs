//! `sweep bench --baseline PATH`: the same workloads run by another sweep
//! binary (an older build) in the same sitting, so that every figure comes with
//! a baseline measured on the machine as it is now, not on another day.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Figure;

/// What the baseline binary gave for one figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Baseline {
    /// Its value for the same workload and measure.
    Value(f64),
    /// The baseline has no such figure: an older binary without the workload
    /// or the measure, or one whose run failed.
    Missing,
}

impl Baseline {
    /// `ours / baseline`; `None` where there is no baseline value or the
    /// ratio means nothing (a zero or non-finite baseline).
    pub(crate) fn ratio(self, ours: f64) -> Option<f64> {
        match self {
            Baseline::Value(base) if base != 0.0 && base.is_finite() && ours.is_finite() => Some(ours / base),
            _ => None,
        }
    }
}

/// One figure of the baseline's `bench.csv`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BaselineRow {
    /// The workload column.
    pub workload: String,
    /// The measure column.
    pub measure: String,
    /// The value column.
    pub value: f64,
}

/// Reads a `bench.csv` as any version writes it: the columns are found by
/// name, so a baseline with fewer or more columns still gives its values.
/// Rows whose value does not parse are left out (they match nothing).
pub(crate) fn parse_csv(bytes: &[u8]) -> Result<Vec<BaselineRow>, String> {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().map_err(|e| format!("bench.csv header: {e}"))?.clone();
    let column =
        |name: &str| header.iter().position(|h| h == name).ok_or_else(|| format!("bench.csv has no {name} column"));
    let (workload, measure, value) = (column("workload")?, column("measure")?, column("value")?);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("bench.csv: {e}"))?;
        let (Some(w), Some(m), Some(v)) = (record.get(workload), record.get(measure), record.get(value)) else {
            continue;
        };
        if let Ok(value) = v.trim().parse::<f64>() {
            rows.push(BaselineRow { workload: w.to_string(), measure: m.to_string(), value });
        }
    }
    Ok(rows)
}

/// The baseline of each figure: the row with the same workload and measure
/// (the measure names the size, so figures of other sizes do not match).
pub(crate) fn merge(figures: &[Figure], baseline: &[BaselineRow]) -> Vec<Baseline> {
    figures
        .iter()
        .map(|f| {
            baseline
                .iter()
                .find(|b| b.workload == f.workload && b.measure == f.measure)
                .map_or(Baseline::Missing, |b| Baseline::Value(b.value))
        })
        .collect()
}

/// A ratio as the table prints it: `0.52x`, or `n/a`.
pub(crate) fn format_ratio(ratio: Option<f64>) -> String {
    match ratio {
        Some(r) => format!("{r:.2}x"),
        None => "n/a".into(),
    }
}

/// How to run the baseline binary for one workload.
#[derive(Debug, Clone)]
pub(crate) struct BaselineRun {
    /// The other sweep binary.
    pub program: PathBuf,
    /// Its `--out` (its own, so neither run reads the other's scratch folders;
    /// kept from one bench to the next like ours, for W-trivial's folder).
    pub out: PathBuf,
}

impl BaselineRun {
    /// Runs `program bench --only only --out out <flags>` in `cwd` and reads
    /// its `bench.csv`. A baseline that cannot run the workload gives no rows
    /// and a reason: its figures show as `n/a`, and ours are still measured.
    pub(crate) fn run(&self, only: &str, flags: &[String], cwd: &Path) -> (Vec<BaselineRow>, Option<String>) {
        let csv_path = self.out.join("bench.csv");
        // A bench.csv of an earlier run must not pass for this one.
        let _ = std::fs::remove_file(&csv_path);
        let mut args: Vec<String> = vec!["bench".into(), "--only".into(), only.into(), "--out".into()];
        args.push(self.out.to_string_lossy().into_owned());
        args.extend(flags.iter().cloned());
        let output = Command::new(&self.program)
            .args(&args)
            .current_dir(cwd)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        let output = match output {
            Ok(o) => o,
            Err(e) => return (Vec::new(), Some(format!("{}: {e}", self.program.display()))),
        };
        // A bench writes bench.csv only once every workload it ran gave its figures, and then
        // exits 1 where one missed its target: the baseline's own verdicts say which, so only
        // another ending is worth a note.
        let code = output.status.code();
        let note = || {
            let how = code.map_or_else(|| "was killed by a signal".to_string(), |c| format!("exited with {c}"));
            let stderr = String::from_utf8_lossy(&output.stderr);
            match stderr.lines().rev().find(|l| !l.trim().is_empty()).map(str::trim) {
                Some(last) => format!("the baseline's bench --only {only} {how}: {last}"),
                None => format!("the baseline's bench --only {only} {how}"),
            }
        };
        match std::fs::read(&csv_path) {
            Ok(bytes) => match parse_csv(&bytes) {
                Ok(rows) => (rows, (!matches!(code, Some(0 | 1))).then(note)),
                Err(e) => (Vec::new(), Some(format!("{}: {e}", csv_path.display()))),
            },
            Err(e) if output.status.success() => (Vec::new(), Some(format!("{}: {e}", csv_path.display()))),
            Err(_) => (Vec::new(), Some(note())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(workload: &str, measure: &str, value: f64) -> Figure {
        Figure::info(workload, measure, value, "s")
    }

    #[test]
    fn reads_the_columns_by_name_and_skips_values_that_do_not_parse() {
        let csv = b"verdict,measure,workload,value,extra\n\
                    met,\"plan of 10 trials (ids, seeds, JSON)\",plan,0.5,x\n\
                    ,broken,plan,,y\n\
                    missed,aggregate 5 records,aggregate,2.25,z\n";
        let rows = parse_csv(csv).unwrap();
        assert_eq!(
            rows,
            vec![
                BaselineRow {
                    workload: "plan".into(),
                    measure: "plan of 10 trials (ids, seeds, JSON)".into(),
                    value: 0.5
                },
                BaselineRow { workload: "aggregate".into(), measure: "aggregate 5 records".into(), value: 2.25 },
            ]
        );
        assert!(parse_csv(b"workload,value\nplan,1\n").unwrap_err().contains("measure"));
        assert_eq!(parse_csv(b"").unwrap_err(), "bench.csv has no workload column");
    }

    #[test]
    fn reads_what_to_csv_writes() {
        let mut figures = vec![figure("plan", "plan of 10 trials (ids, seeds, JSON)", 0.123456)];
        figures.push(Figure::at_most("aggregate", "aggregate 5 records", 2.0, "s", 3.0));
        let rows = parse_csv(&super::super::to_csv(&figures, None)).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].workload.as_str(), rows[0].value), ("plan", 0.123456));
        assert_eq!((rows[1].measure.as_str(), rows[1].value), ("aggregate 5 records", 2.0));
    }

    #[test]
    fn figures_match_on_workload_and_measure_or_are_missing() {
        let ours = [
            figure("plan", "plan of 10 trials", 1.0),
            figure("aggregate", "aggregate 5 records", 2.0),
            figure("wandb", "export 3 trials", 3.0),
            figure("W-digits", "wall time, 2 workers", 4.0),
        ];
        let base = [
            BaselineRow { workload: "aggregate".into(), measure: "aggregate 5 records".into(), value: 4.0 },
            // Another size: not the same figure.
            BaselineRow { workload: "plan".into(), measure: "plan of 20 trials".into(), value: 1.0 },
            BaselineRow { workload: "W-digits".into(), measure: "wall time, 2 workers".into(), value: 0.0 },
        ];
        let merged = merge(&ours, &base);
        assert_eq!(merged, [Baseline::Missing, Baseline::Value(4.0), Baseline::Missing, Baseline::Value(0.0)]);
        let ratios: Vec<String> = merged.iter().zip(&ours).map(|(b, f)| format_ratio(b.ratio(f.value))).collect();
        assert_eq!(ratios, ["n/a", "0.50x", "n/a", "n/a"]);
    }

    #[test]
    fn ratios_are_ours_over_the_baseline() {
        assert_eq!(Baseline::Value(2.0).ratio(1.0), Some(0.5));
        assert_eq!(Baseline::Value(0.5).ratio(1.5), Some(3.0));
        assert_eq!(Baseline::Value(f64::NAN).ratio(1.0), None);
        assert_eq!(Baseline::Value(1.0).ratio(f64::INFINITY), None);
        assert_eq!(Baseline::Missing.ratio(1.0), None);
        assert_eq!(format_ratio(Some(1.0 / 3.0)), "0.33x");
        assert_eq!(format_ratio(Some(12.345)), "12.35x");
    }

    /// A stand-in for a baseline binary: a shell script that writes `csv` (if any) as its
    /// bench.csv, prints `stderr` and exits with `code`.
    fn fake_baseline(dir: &Path, csv: Option<&str>, stderr: &str, code: i32) -> BaselineRun {
        use std::os::unix::fs::PermissionsExt;
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let program = dir.join("sweep");
        let write = csv.map_or(String::new(), |c| format!("printf '{c}' > \"$5/bench.csv\"\n"));
        std::fs::write(&program, format!("#!/bin/sh\n{write}echo '{stderr}' >&2\nexit {code}\n")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        BaselineRun { program, out }
    }

    #[test]
    fn a_missed_target_of_the_baseline_is_no_note_but_a_failed_workload_is() {
        let csv = "workload,measure,value,verdict\\nplan,plan of 10 trials,1.5,missed\\n";
        let tmp = tempfile::tempdir().unwrap();
        let plan = BaselineRow { workload: "plan".into(), measure: "plan of 10 trials".into(), value: 1.5 };

        let missed = fake_baseline(&tmp.path().join("missed"), Some(csv), "running plan ...", 1);
        assert_eq!(missed.run("plan", &[], tmp.path()), (vec![plan.clone()], None));

        let failed = fake_baseline(&tmp.path().join("failed"), None, "error: plan: disk full", 1);
        let (rows, note) = failed.run("plan", &[], tmp.path());
        assert!(rows.is_empty());
        assert_eq!(note.as_deref(), Some("the baseline's bench --only plan exited with 1: error: plan: disk full"));

        let usage = fake_baseline(&tmp.path().join("usage"), Some(csv), "error: unexpected argument", 2);
        let (rows, note) = usage.run("plan", &[], tmp.path());
        assert_eq!(rows, [plan]);
        assert_eq!(note.as_deref(), Some("the baseline's bench --only plan exited with 2: error: unexpected argument"));
    }
}
