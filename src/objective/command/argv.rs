//! A command objective's command line: W&B's macros, checked when the spec
//! is read and expanded for each trial.

use std::path::Path;

use crate::params::{ParamValue, Params};

/// W&B's command when a sweep file names a `program` but no `command`.
pub(crate) const WANDB_DEFAULT: [&str; 4] = ["${env}", "${interpreter}", "${program}", "${args}"];

/// Macros that stand for several arguments, so each must be an element of its own.
const LIST_MACROS: [&str; 2] = ["${args}", "${args_no_hyphens}"];
/// Macros that stand for one piece of text, anywhere in an element.
const TEXT_MACROS: [&str; 5] = ["${env}", "${interpreter}", "${program}", "${args_json}", "${args_json_file}"];
/// Macros only `[command] predict` has: filled when `sweep verify` runs it, not when the trial starts.
pub(crate) const PREDICT_MACROS: [&str; 2] = ["${checkpoint}", "${output}"];

/// What the macros of one trial's command line stand for.
pub(crate) struct Expansion<'a> {
    /// `${program}`.
    pub program: Option<&'a str>,
    /// `${interpreter}`; an element that is only this macro is dropped when it is empty.
    pub interpreter: &'a str,
    /// The trial's parameters (`${args}`, `${args_json}`).
    pub params: &'a Params,
    /// Where the parameters are written as JSON (`${args_json_file}`).
    pub params_file: &'a Path,
}

/// The checks a spec's `argv` must pass: not empty, every `${...}` a macro
/// sweep knows and used where it can be, `${program}` only with a program.
pub(crate) fn check(argv: &[String], has_program: bool) -> Result<(), String> {
    check_with(argv, has_program, &[])
}

/// The checks of [`check`] for `[command] predict`, which may also use
/// [`PREDICT_MACROS`] and must name `${output}`: without it the program
/// would not know where sweep reads its predictions.
pub(crate) fn check_predict(argv: &[String], has_program: bool) -> Result<(), String> {
    check_with(argv, has_program, &PREDICT_MACROS)?;
    if !argv.iter().any(|a| a.contains("${output}")) {
        return Err("names no ${output}: the file the program writes its predictions to, e.g. \
                    [\"python3\", \"predict.py\", \"${checkpoint}\", \"${output}\"]"
            .into());
    }
    Ok(())
}

fn check_with(argv: &[String], has_program: bool, extra: &[&str]) -> Result<(), String> {
    if argv.is_empty() || argv.iter().all(|a| a.is_empty() || a == "${env}") {
        return Err("is empty, expected the command line, e.g. [\"python3\", \"train.py\", \"${args}\"]".into());
    }
    for arg in argv {
        let mut rest = arg.as_str();
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else {
                return Err(format!("{arg:?} opens \"${{\" without closing it"));
            };
            let found = &rest[start..start + len + 1];
            if LIST_MACROS.contains(&found) && arg != found {
                return Err(format!(
                    "{found} stands for several arguments, so it must be an element of its own, not part of {arg:?}"
                ));
            }
            if !LIST_MACROS.contains(&found) && !TEXT_MACROS.contains(&found) && !extra.contains(&found) {
                return Err(format!(
                    "{found} is not a macro sweep knows; expected one of {}",
                    [&LIST_MACROS[..], &TEXT_MACROS[..], extra].concat().join(" ")
                ));
            }
            if found == "${program}" && !has_program {
                return Err("uses ${program}, but [command] sets no program".into());
            }
            rest = &rest[start + len + 1..];
        }
    }
    Ok(())
}

/// The command line of one trial. `argv` passed [`check`].
pub(crate) fn expand(argv: &[String], x: &Expansion) -> Vec<String> {
    let mut out = Vec::new();
    for arg in argv {
        match arg.as_str() {
            "${args}" => out.extend(x.params.iter().map(|(k, v)| format!("--{k}={}", arg_value(v)))),
            "${args_no_hyphens}" => out.extend(x.params.iter().map(|(k, v)| format!("{k}={}", arg_value(v)))),
            "${interpreter}" if x.interpreter.is_empty() => {}
            "${env}" if ENV.is_empty() => {}
            _ => {
                let json = serde_json::to_string(x.params).unwrap_or_default();
                out.push(
                    arg.replace("${env}", ENV)
                        .replace("${interpreter}", x.interpreter)
                        .replace("${program}", x.program.unwrap_or_default())
                        .replace("${args_json_file}", &x.params_file.display().to_string())
                        .replace("${args_json}", &json),
                );
            }
        }
    }
    out
}

/// A predict command line expanded for its trial ([`expand`] leaves
/// [`PREDICT_MACROS`] as they are), with the checkpoint and the predictions file filled in.
pub(crate) fn fill_predict(argv: &[String], checkpoint: &Path, output: &Path) -> Vec<String> {
    argv.iter()
        .map(|a| {
            a.replace("${checkpoint}", &checkpoint.display().to_string())
                .replace("${output}", &output.display().to_string())
        })
        .collect()
}

/// What W&B's `${env}` stands for.
const ENV: &str = if cfg!(unix) { "/usr/bin/env" } else { "" };

/// A parameter as W&B writes it on a command line: Python's `True`/`False`,
/// numbers as text that parses back to the same value.
fn arg_value(v: &ParamValue) -> String {
    match v {
        ParamValue::Bool(true) => "True".into(),
        ParamValue::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// The interpreter W&B would pick for `program`: Python for `.py`, a shell
/// for `.sh`, none (the program runs itself) otherwise.
pub(crate) fn default_interpreter(program: &str) -> &'static str {
    if program.ends_with(".py") {
        "python3"
    } else if program.ends_with(".sh") {
        "bash"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params::from([
            ("lr".to_string(), ParamValue::Float(0.01)),
            ("layers".to_string(), ParamValue::Int(2)),
            ("bias".to_string(), ParamValue::Bool(true)),
            ("opt".to_string(), ParamValue::Str("adam".into())),
        ])
    }

    fn expanded(argv: &[&str], program: Option<&str>, interpreter: &str) -> Vec<String> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let p = params();
        let x = Expansion { program, interpreter, params: &p, params_file: Path::new("/r/t/params.json") };
        expand(&argv, &x)
    }

    #[test]
    fn wandb_default_command_runs_the_program_with_its_interpreter_and_hyphenated_args() {
        let got = expanded(&WANDB_DEFAULT, Some("train.py"), "python3");
        assert_eq!(
            got,
            ["/usr/bin/env", "python3", "train.py", "--bias=True", "--layers=2", "--lr=0.01", "--opt=adam"]
        );
    }

    #[test]
    fn every_macro_expands() {
        let got = expanded(
            &["${interpreter}", "x", "${args_no_hyphens}", "--json=${args_json}", "${args_json_file}"],
            None,
            "",
        );
        assert_eq!(
            got,
            [
                "x",
                "bias=True",
                "layers=2",
                "lr=0.01",
                "opt=adam",
                r#"--json={"bias":true,"layers":2,"lr":0.01,"opt":"adam"}"#,
                "/r/t/params.json"
            ]
        );
    }

    #[test]
    fn check_names_the_macro_that_is_wrong() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check(&v(&["python3", "t.py", "${args}"]), false).is_ok());
        assert!(check(&v(&["python3", "${argz}"]), false).unwrap_err().contains("${argz} is not a macro"));
        assert!(check(&v(&["python3", "--x=${args}"]), false).unwrap_err().contains("element of its own"));
        assert!(check(&v(&["python3", "${program}"]), false).unwrap_err().contains("no program"));
        assert!(check(&v(&["python3", "${oops"]), false).unwrap_err().contains("without closing"));
        assert!(check(&v(&[]), false).unwrap_err().contains("is empty"));
        assert!(check(&v(&["x", "${output}"]), false).unwrap_err().contains("${output} is not a macro"));
    }

    #[test]
    fn predict_takes_the_checkpoint_and_output_macros_and_must_name_the_output() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_predict(&v(&["p", "${checkpoint}", "--out=${output}", "${args}"]), false).is_ok());
        assert!(check_predict(&v(&["p", "${checkpoint}"]), false).unwrap_err().contains("names no ${output}"));
        assert!(check_predict(&v(&["p", "${outptu}"]), false).unwrap_err().contains("${checkpoint} ${output}"));
        let trial = expanded(&["p", "${checkpoint}", "--out=${output}", "${args}"], None, "");
        assert_eq!(trial[..3], ["p", "${checkpoint}", "--out=${output}"], "the trial's expansion leaves them");
        let filled = fill_predict(&trial, Path::new("/t/best.safetensors"), Path::new("/tmp/p.json"));
        assert_eq!(filled[..4], ["p", "/t/best.safetensors", "--out=/tmp/p.json", "--bias=True"]);
    }
}
