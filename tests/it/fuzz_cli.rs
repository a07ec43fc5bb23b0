//! Generated bad input on the real command line: specs, CSV files, model
//! names, aliases and references, with `/`, `..`, NUL, newlines, very long
//! strings and bytes that are not UTF-8. Every case must exit 2 with one line
//! on stderr that names the file (or the value), and must write nothing. And a
//! results folder whose trial folder is a symbolic link is refused, without a
//! write through the link.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::common::{sweep, text};

/// Every file and folder under `dir` (links not followed), with size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut all = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                todo.push(e.path());
            }
            all.insert(e.path(), (m.len(), m.modified().ok()));
        }
    }
    all
}

fn run_os(dir: &Path, args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sweep"))
        .current_dir(dir)
        .args(args)
        .env_remove("SWEEP_FAIL_TRIALS")
        .env_remove("SWEEP_ABORT_TRIALS")
        .output()
        .unwrap()
}

/// How the binary shows a value in a message: lossy UTF-8, control characters escaped.
fn shown(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .chars()
        .flat_map(|c| if c.is_control() && c != '\t' { c.escape_debug().collect::<Vec<_>>() } else { vec![c] })
        .collect()
}

/// Exit 2, and stderr is one line `error: ...` that contains `names`.
fn refused(out: &Output, names: &str, what: &str) -> Result<(), TestCaseError> {
    let err = text(&out.stderr);
    prop_assert_eq!(out.status.code(), Some(2), "{}: stderr {:?}", what, err);
    prop_assert!(err.starts_with("error: ") && err.ends_with('\n'), "{}: {:?}", what, err);
    prop_assert_eq!(err.lines().count(), 1, "{}: not one line: {:?}", what, err);
    prop_assert!(err.contains(names), "{}: does not name {:?}: {:?}", what, names, err);
    Ok(())
}

/// A fixed seed, so a red run is red again on the next try; `SWEEP_FUZZ_SEED=N` explores others.
fn runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let seed: u64 = std::env::var("SWEEP_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    TestRunner::new_with_rng(config, rng)
}

const SPEC: &str = r#"name = "fz"
method = "grid"
seed = 1
[data]
path = "data.csv"
valid_fraction = 0.25
[metric]
name = "mcc"
[train]
epochs = 1
[parameters]
hidden = { values = [4] }
"#;

/// Text that no key of a spec accepts as its value, TOML-quoted or bare.
fn bad_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"a/b\"".to_string()),
        Just("\"../../x\"".to_string()),
        Just("\"\\u0000\"".to_string()),
        Just("\"line\\nbreak\"".to_string()),
        Just(format!("\"{}\"", "n".repeat(5000))),
        Just("-1".to_string()),
        Just("1.5e308".to_string()),
        Just("nan".to_string()),
        Just("[]".to_string()),
        Just("{ x = 1 }".to_string()),
        "\"[a-z./]{1,10}\\.\\./[a-z]{0,5}\"",
    ]
}

/// The lines a bad spec is made of: a key of SPEC replaced by a bad value, an
/// unknown key, or bytes that are not UTF-8. The value is kept only where no
/// bad value could be right, so every case is bad input.
fn bad_spec() -> impl Strategy<Value = Vec<u8>> {
    let keys = ["name", "method", "valid_fraction", "name = \"mcc\"", "epochs", "hidden"];
    prop_oneof![
        (prop::sample::select(keys.to_vec()), bad_value()).prop_map(|(key, value)| {
            let mut out = String::new();
            for line in SPEC.lines() {
                let k = line.split('=').next().unwrap_or("").trim();
                if (key == "name = \"mcc\"" && line == "name = \"mcc\"") || (k == key && line != "name = \"mcc\"") {
                    out.push_str(&format!("{k} = {value}\n"));
                } else {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out.into_bytes()
        }),
        "[a-z_]{1,12}".prop_map(|k| format!("{SPEC}bogus_{k} = 1\n").into_bytes()),
        (any::<prop::sample::Index>(), proptest::collection::vec(0x80u8..=0xff, 1..3)).prop_map(|(at, junk)| {
            let mut bytes = SPEC.as_bytes().to_vec();
            let at = at.index(bytes.len());
            bytes.splice(at..at, junk.into_iter().chain([0xc0]));
            bytes
        }),
    ]
}

/// Names for a spec file: `..`, newlines, bytes that are not UTF-8, a name too long for a file.
fn spec_file_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"s.toml".to_vec()),
        Just(b"..s.toml".to_vec()),
        Just(b"line\nbreak.toml".to_vec()),
        Just(b"caf\xe9.toml".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        "[a-z]{1,8}".prop_map(|s| format!("{s}.spec").into_bytes()),
    ]
}

/// 40 rows, 2 numeric features, a balanced 0/1 target.
fn good_csv() -> String {
    let mut csv = String::from("a,b,target\n");
    for i in 0..40 {
        csv.push_str(&format!("{},{},{}\n", i, i * 3 % 7, i % 2));
    }
    csv
}

/// A CSV that cannot be used, by construction: a feature cell that is no
/// number (text, NaN, NUL, a quoted newline, bytes that are not UTF-8), a
/// ragged row, a missing target column, no rows, or one class.
fn bad_csv() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        "[a-wyz \\x00]{0,6}x".prop_map(String::into_bytes),
        Just(b"nan".to_vec()),
        Just(b"inf".to_vec()),
        Just(b"\"two\nlines\"".to_vec()),
        Just(b"\"\0\"".to_vec()),
        Just(b"\xff\xfe1".to_vec()),
        Just(b"../../x".to_vec()),
        Just(vec![b'z'; 5000]),
    ];
    prop_oneof![
        (1usize..=40, 0usize..2, cell).prop_map(|(row, col, cell)| {
            let csv = good_csv();
            let mut out = Vec::new();
            for (i, line) in csv.lines().enumerate() {
                if i == row {
                    let mut cells: Vec<Vec<u8>> = line.split(',').map(|c| c.as_bytes().to_vec()).collect();
                    cells[col] = cell.clone();
                    out.extend(cells.join(&b","[..]));
                } else {
                    out.extend(line.as_bytes());
                }
                out.push(b'\n');
            }
            out
        }),
        (1usize..=40).prop_map(|row| {
            let csv = good_csv();
            let lines: Vec<String> =
                csv.lines().enumerate().map(|(i, l)| if i == row { format!("{l},9") } else { l.to_string() }).collect();
            (lines.join("\n") + "\n").into_bytes()
        }),
        Just(good_csv().replacen("target", "label", 1).into_bytes()),
        Just(b"a,b,target\n".to_vec()),
        Just(Vec::new()),
        Just(good_csv().replace(",1\n", ",0\n").into_bytes()),
    ]
}

#[test]
fn bad_specs_exit_2_in_one_line_naming_the_file_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("data.csv"), good_csv()).unwrap();
    let cases = std::cell::Cell::new(0);
    runner(150)
        .run(&(bad_spec(), spec_file_name()), |(spec, name)| {
            cases.set(cases.get() + 1);
            let file = tmp.path().join(OsStr::from_bytes(&name));
            fs::write(&file, &spec).unwrap();
            let before = snapshot(tmp.path());
            let out = run_os(tmp.path(), &[OsStr::new("run"), OsStr::from_bytes(&name), OsStr::new("-q")]);
            fs::remove_file(&file).unwrap();
            refused(&out, &shown(&name), "run")?;
            let mut after = snapshot(tmp.path());
            after.insert(file.clone(), before[&file]);
            prop_assert_eq!(&before, &after, "something was written");
            Ok(())
        })
        .unwrap();
    assert_eq!(cases.get(), 150);

    // A spec file that is not there, by a name longer than a file name (255) and than a path (4096).
    for len in [300, 5000] {
        let name = "s".repeat(len);
        let out = sweep(tmp.path(), &["run", &name]);
        refused(&out, &name, "a long name").unwrap();
        assert!(!tmp.path().join("results").exists());
    }
}

#[test]
fn bad_data_exits_2_in_one_line_naming_the_file_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("s.toml"), SPEC).unwrap();
    let csv = tmp.path().join("data.csv");
    runner(150)
        .run(&bad_csv(), |bytes| {
            fs::write(&csv, &bytes).unwrap();
            let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
            refused(&out, "data.csv", "run")?;
            prop_assert!(!tmp.path().join("results").exists(), "results written");
            Ok(())
        })
        .unwrap();

    // data.path itself: `..`, NUL, a folder, a name longer than a path.
    for path in ["../../no/such.csv", "nul\\u0000.csv", ".", &"p".repeat(5000)] {
        fs::write(tmp.path().join("s.toml"), SPEC.replace("\"data.csv\"", &format!("\"{path}\""))).unwrap();
        let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
        let named = path.replace("\\u0000", "\\0");
        refused(&out, &named, path).unwrap();
        assert!(!tmp.path().join("results").exists(), "{path}: results written");
    }
}

/// Names, aliases and references for the registry and the model commands.
fn bad_name() -> impl Strategy<Value = OsString> {
    prop_oneof![
        Just(OsString::from("..")),
        Just(OsString::from("a/b")),
        Just(OsString::from("../../etc")),
        Just(OsString::from("x\ny")),
        Just(OsString::from("-")),
        // Found by fuzzing: the parts of " @" are both bad, and the message must quote it whole.
        Just(OsString::from(" @")),
        Just(OsString::from("n".repeat(65))),
        Just(OsString::from("n".repeat(5000))),
        Just(OsString::from_vec(b"caf\xe9".to_vec())),
        Just(OsString::from_vec(vec![0xff; 300])),
        "[a-z]{0,3}[/ ][./@ ]{0,2}[a-z]{0,3}".prop_map(OsString::from),
    ]
}

#[test]
fn bad_names_and_references_exit_2_in_one_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("data.csv"), good_csv()).unwrap();
    fs::write(tmp.path().join("s.toml"), SPEC).unwrap();
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = sweep(tmp.path(), &["registry", "register", "results/fz", "--name", "good"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let os = |s: &str| OsString::from(s);
    let cases = std::cell::Cell::new(0);
    runner(40)
        .run(&(bad_name(), 0..9usize), |(bad, command)| {
            cases.set(cases.get() + 1);
            let mut at = bad.clone();
            at.push("@1");
            // `--name=VALUE` and `--` so that values starting with '-' reach sweep, not clap's flag parser.
            let eq = |flag: &str, value: &OsStr| {
                let mut a = OsString::from(flag);
                a.push("=");
                a.push(value);
                a
            };
            let args: Vec<OsString> = match command {
                0 => vec![os("registry"), os("register"), os("results/fz"), eq("--name", &bad)],
                1 => vec![os("registry"), os("register"), os("results/fz"), os("--name=new"), eq("--alias", &bad)],
                2 => vec![os("registry"), os("alias"), os("--"), os("good@1"), bad.clone()],
                3 => vec![os("registry"), os("alias"), os("--"), at, os("champion")],
                4 => vec![os("registry"), os("show"), os("--"), bad.clone()],
                5 => vec![os("predict"), os("--split=valid"), os("--"), bad.clone()],
                6 => vec![os("evaluate"), os("--split=valid"), os("--"), bad.clone()],
                7 => vec![os("verify"), os("--"), bad.clone()],
                _ => vec![os("export"), os("--to=exported"), os("--"), bad.clone()],
            };
            let before = snapshot(tmp.path());
            let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
            let out = run_os(tmp.path(), &args);
            let named = if bad.to_str().is_some() { shown(bad.as_bytes()) } else { String::new() };
            refused(&out, &named, &format!("{args:?}"))?;
            prop_assert_eq!(&before, &snapshot(tmp.path()), "{:?}: something was written", args);
            Ok(())
        })
        .unwrap();
    assert_eq!(cases.get(), 40);

    // A name that is fine but not registered is refused before the registry's lock is taken.
    let registry = tmp.path().join("results/registry");
    fs::remove_dir_all(&registry).unwrap();
    let out = sweep(tmp.path(), &["registry", "alias", "nosuch@1", "champion"]);
    refused(&out, "nosuch", "alias of an unknown model").unwrap();
    assert!(!registry.exists(), "the registry folder was created");
}

#[test]
fn a_trial_folder_that_is_a_link_is_refused_and_nothing_is_written_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("data.csv"), good_csv()).unwrap();
    fs::write(tmp.path().join("s.toml"), SPEC.replace("values = [4]", "values = [4, 8]")).unwrap();
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // One trial folder moves out of the results folder and a link takes its place;
    // the other loses its record, so a resume would train it again.
    let trials = tmp.path().join("results/fz/trials");
    let mut ids: Vec<PathBuf> = fs::read_dir(&trials).unwrap().map(|e| e.unwrap().path()).collect();
    ids.sort();
    let elsewhere = tmp.path().join("elsewhere");
    fs::rename(&ids[0], &elsewhere).unwrap();
    fs::remove_file(elsewhere.join("trial.json")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &ids[0]).unwrap();
    fs::remove_file(ids[1].join("trial.json")).unwrap();
    let link = ids[0].strip_prefix(tmp.path()).unwrap().display().to_string();

    let before = snapshot(tmp.path());
    let elsewhere_before = snapshot(&elsewhere);
    for args in [
        vec!["run", "s.toml", "--resume", "-q"],
        vec!["run", "s.toml", "--resume", "--retry-failed", "-q"],
        vec!["trial", "s.toml", "--index", "0", "--force"],
        vec!["aggregate", "results/fz", "-q"],
        vec!["report", "results/fz"],
        vec![
            "registry",
            "register",
            "results/fz",
            "--trial",
            ids[0].file_name().unwrap().to_str().unwrap(),
            "--name",
            "m",
        ],
    ] {
        let out = sweep(tmp.path(), &args);
        refused(&out, &link, &format!("{args:?}")).unwrap();
        assert!(text(&out.stderr).contains("symbolic link"), "{args:?}: {}", text(&out.stderr));
        assert_eq!(snapshot(&elsewhere), elsewhere_before, "{args:?} wrote through the link");
        assert_eq!(snapshot(tmp.path()), before, "{args:?} wrote something");
    }
}
