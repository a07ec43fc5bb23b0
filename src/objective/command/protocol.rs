//! The command protocol's messages (protocol 1), one JSON object a line:
//! the program says `hello`, then `report`s each epoch and hears a
//! `decision`, and confirms a checkpoint sweep asked for with `saved`.
//! Parsing and checking are pure, so every rule is tested here.

use std::path::Path;

use serde_json::{Value, json};

use crate::data::Targets;
use crate::metrics::{Metrics, Monitor, Task};
use crate::objective::Validation;

/// The protocol version this sweep speaks.
pub(crate) const PROTOCOL: u64 = 1;

/// A line from the program.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Message {
    /// The first line: the protocol it speaks and the token sweep gave it.
    Hello { protocol: u64, token: String },
    /// One epoch's results.
    Report { epoch: usize, validation: Validation },
    /// The checkpoint sweep asked for at `epoch` is complete.
    Saved { epoch: usize },
}

/// Parses one line for a trial of `task`; the error says what is wrong, in the program's terms.
pub(crate) fn parse(line: &[u8], task: Task) -> Result<Message, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("sent a line that is not JSON ({e})"))?;
    let kind = value.get("type").and_then(Value::as_str).unwrap_or_default();
    let epoch = || -> Result<usize, String> {
        match value.get("epoch").and_then(Value::as_u64) {
            Some(e) if e >= 1 => Ok(e as usize),
            _ => Err(format!("sent a \"{kind}\" without \"epoch\": a whole number from 1")),
        }
    };
    match kind {
        "hello" => Ok(Message::Hello {
            protocol: value.get("protocol").and_then(Value::as_u64).unwrap_or(0),
            token: value.get("token").and_then(Value::as_str).unwrap_or_default().to_string(),
        }),
        "saved" => Ok(Message::Saved { epoch: epoch()? }),
        "report" => {
            let epoch = epoch()?;
            let metrics = match value.get("metrics") {
                None | Some(Value::Null) => Metrics::new(),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        number(v)
                            .map(|x| (k.clone(), x))
                            .ok_or_else(|| format!("reported {k} = {v}, expected a number"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(other) => return Err(format!("reported metrics = {other}, expected {{\"name\": number, ...}}")),
            };
            let validation = match (value.get("outputs"), value.get("targets")) {
                (None | Some(Value::Null), None | Some(Value::Null)) => Validation::Metrics(metrics),
                (Some(outputs), Some(targets)) => own_outputs(outputs, targets, task, metrics)?,
                _ => return Err("sent outputs without targets, or targets without outputs; send both".into()),
            };
            Ok(Message::Report { epoch, validation })
        }
        other => Err(format!("sent a message of type {other:?}; expected \"hello\", \"report\" or \"saved\"")),
    }
}

/// A number, or the text JSON has for the values it cannot write (`NaN`, `Infinity`).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "nan" => Some(f64::NAN),
            "infinity" | "inf" => Some(f64::INFINITY),
            "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

/// Raw outputs and their targets: rows of logits and class indices, or one
/// prediction and one real target per row.
fn own_outputs(outputs: &Value, targets: &Value, task: Task, reported: Metrics) -> Result<Validation, String> {
    let (Some(outputs), Some(targets)) = (outputs.as_array(), targets.as_array()) else {
        return Err("sent outputs or targets that are not lists".into());
    };
    if outputs.is_empty() || outputs.len() != targets.len() {
        return Err(format!(
            "sent {} output rows and {} targets; expected one target per row, at least one row",
            outputs.len(),
            targets.len()
        ));
    }
    let (rows, width) = output_rows(outputs)?;
    let targets = match task {
        Task::Classification => {
            if width < 2 {
                return Err(format!(
                    "sent {width} output per row for classification; expected one logit per class (2 or more)"
                ));
            }
            let labels = targets
                .iter()
                .map(|t| match t.as_f64() {
                    Some(k) if k >= 0.0 && k.fract() == 0.0 && (k as usize) < width => Ok(k as usize),
                    _ => Err(format!("sent the target {t}; expected a class index from 0 to {}", width - 1)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Targets::Classes(labels)
        }
        Task::Regression => {
            if width != 1 {
                return Err(format!("sent {width} outputs per row for regression; expected one prediction"));
            }
            let values = targets
                .iter()
                .map(|t| number(t).ok_or_else(|| format!("sent the target {t}; expected a number")))
                .collect::<Result<Vec<_>, _>>()?;
            Targets::Values { model: values.iter().map(|&v| v as f32).collect(), original: values }
        }
    };
    Ok(Validation::Own { outputs: rows, targets, reported })
}

/// Output rows, each a list of numbers (or one number): row-major values and
/// their width. `outputs` is a non-empty list.
fn output_rows(outputs: &[Value]) -> Result<(Vec<f32>, usize), String> {
    let row = |r: &Value| -> Result<Vec<f32>, String> {
        match r {
            Value::Array(values) => values
                .iter()
                .map(|v| number(v).map(|x| x as f32).ok_or_else(|| format!("sent an output {v}, expected a number")))
                .collect(),
            v => number(v).map(|x| vec![x as f32]).ok_or_else(|| format!("sent an output {v}, expected a number")),
        }
    };
    let rows: Vec<Vec<f32>> = outputs.iter().map(row).collect::<Result<_, _>>()?;
    let width = rows.first().map_or(0, Vec::len);
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != width) {
        return Err(format!(
            "sent output row {i} with {} values and row 0 with {width}; every row needs as many",
            r.len()
        ));
    }
    Ok((rows.concat(), width))
}

/// A predictions file a `[command] predict` wrote: `{"outputs": rows}`, the
/// rows in the layout of a report's `outputs`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Predictions {
    /// Rows.
    pub rows: usize,
    /// Outputs per row.
    pub width: usize,
    /// `rows × width`, row-major, as f32 like the outputs of a report.
    pub values: Vec<f32>,
}

/// Parses a predictions file; the error says what is wrong, in the program's terms.
pub(crate) fn parse_predictions(bytes: &[u8]) -> Result<Predictions, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("wrote a file that is not JSON ({e})"))?;
    let Some(outputs) = value.get("outputs").and_then(Value::as_array).filter(|o| !o.is_empty()) else {
        return Err("wrote no \"outputs\": expected {\"outputs\": [[...], ...]}, one row per validation row".into());
    };
    let (values, width) = output_rows(outputs)?;
    Ok(Predictions { rows: outputs.len(), width, values })
}

/// The checks on a report the runner cannot make itself: it is the epoch
/// expected next, and it has the monitored metric (or outputs to compute it from).
pub(crate) fn check_report(
    epoch: usize,
    expected: usize,
    validation: &Validation,
    monitor: &Monitor,
) -> Result<(), String> {
    if epoch != expected {
        return Err(format!(
            "reported epoch {epoch}, expected {expected} (epochs are reported 1, 2, 3, ... once each)"
        ));
    }
    if let Validation::Metrics(m) = validation
        && !m.contains_key(&monitor.metric)
    {
        let names: Vec<&str> = m.keys().map(String::as_str).collect();
        return Err(format!(
            "reported no \"{}\" (the monitored metric) at epoch {epoch}, only {}; report it every epoch, or send outputs and targets",
            monitor.metric,
            if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
        ));
    }
    Ok(())
}

/// sweep's answer to a report, as one line.
pub(crate) fn decision(epoch: usize, save: bool, stop: bool, checkpoint: &Path) -> Vec<u8> {
    let path = save.then(|| checkpoint.display().to_string());
    let mut line = json!({"type": "decision", "epoch": epoch, "save": save, "stop": stop, "checkpoint_path": path})
        .to_string()
        .into_bytes();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Goal;

    fn report(line: &str, task: Task) -> Result<Validation, String> {
        match parse(line.as_bytes(), task)? {
            Message::Report { validation, .. } => Ok(validation),
            other => panic!("not a report: {other:?}"),
        }
    }

    #[test]
    fn metrics_are_taken_as_reported_with_json_spellings_of_non_finite_values() {
        let v =
            report(r#"{"type":"report","epoch":2,"metrics":{"mcc":0.5,"loss":"NaN"}}"#, Task::Classification).unwrap();
        let Validation::Metrics(m) = v else { panic!() };
        assert_eq!(m["mcc"], 0.5);
        assert!(m["loss"].is_nan());
        assert!(
            report(r#"{"type":"report","epoch":1,"metrics":{"mcc":"high"}}"#, Task::Classification)
                .unwrap_err()
                .contains("mcc = \"high\"")
        );
    }

    #[test]
    fn outputs_become_rows_with_their_targets() {
        let v = report(
            r#"{"type":"report","epoch":1,"metrics":{"train_loss":0.3},"outputs":[[1,0],[0,2]],"targets":[0,1]}"#,
            Task::Classification,
        )
        .unwrap();
        assert_eq!(
            v,
            Validation::Own {
                outputs: vec![1.0, 0.0, 0.0, 2.0],
                targets: Targets::Classes(vec![0, 1]),
                reported: Metrics::from([("train_loss".into(), 0.3)])
            }
        );
        let r = report(r#"{"type":"report","epoch":1,"outputs":[1.5,2],"targets":[1,2.5]}"#, Task::Regression).unwrap();
        let whole = report(r#"{"type":"report","epoch":1,"outputs":[[1,0]],"targets":[1.0]}"#, Task::Classification);
        assert!(
            matches!(whole, Ok(Validation::Own { targets: Targets::Classes(_), .. })),
            "a class index may come as 1.0"
        );
        assert!(matches!(r, Validation::Own { targets: Targets::Values { .. }, .. }));
    }

    #[test]
    fn malformed_outputs_say_what_is_wrong() {
        let c = Task::Classification;
        let e = |l: &str| report(l, c).unwrap_err();
        assert!(
            e(r#"{"type":"report","epoch":1,"outputs":[[1,0]],"targets":[2]}"#).contains("class index from 0 to 1")
        );
        assert!(e(r#"{"type":"report","epoch":1,"outputs":[[1,0],[1]],"targets":[0,1]}"#).contains("row 1"));
        assert!(e(r#"{"type":"report","epoch":1,"outputs":[[1,0]],"targets":[0,1]}"#).contains("one target per row"));
        assert!(e(r#"{"type":"report","epoch":1,"outputs":[[1,0]]}"#).contains("send both"));
        assert!(e(r#"{"type":"report","epoch":0}"#).contains("from 1"));
        assert!(parse(b"not json", c).unwrap_err().contains("not JSON"));
    }

    #[test]
    fn predictions_read_like_a_reports_outputs() {
        let p = parse_predictions(br#"{"outputs":[[1,0],[0,"inf"]]}"#).unwrap();
        assert_eq!(p, Predictions { rows: 2, width: 2, values: vec![1.0, 0.0, 0.0, f32::INFINITY] });
        let r = parse_predictions(br#"{"outputs":[1.5,2]}"#).unwrap();
        assert_eq!((r.rows, r.width), (2, 1));
        assert!(parse_predictions(br#"{"outputs":[[1,0],[1]]}"#).unwrap_err().contains("row 1"));
        assert!(parse_predictions(br#"{"outputs":[]}"#).unwrap_err().contains("no \"outputs\""));
        assert!(parse_predictions(br#"[[1,0]]"#).unwrap_err().contains("no \"outputs\""));
        assert!(parse_predictions(b"{").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn a_report_must_be_the_next_epoch_and_carry_the_monitored_metric() {
        let monitor = Monitor::new("mcc", Goal::Maximize, 0.0);
        let m = Validation::Metrics(Metrics::from([("mcc".into(), 0.1)]));
        assert!(check_report(1, 1, &m, &monitor).is_ok());
        assert!(check_report(3, 2, &m, &monitor).unwrap_err().contains("expected 2"));
        let none = Validation::Metrics(Metrics::from([("acc".into(), 0.1)]));
        assert!(check_report(1, 1, &none, &monitor).unwrap_err().contains("no \"mcc\""));
    }

    #[test]
    fn a_decision_names_the_checkpoint_path_only_when_it_asks_for_a_save() {
        let d = |save| String::from_utf8(decision(3, save, false, Path::new("/t/c"))).unwrap();
        assert_eq!(
            d(true),
            "{\"checkpoint_path\":\"/t/c\",\"epoch\":3,\"save\":true,\"stop\":false,\"type\":\"decision\"}\n"
        );
        assert!(d(false).contains("\"checkpoint_path\":null"));
    }
}
