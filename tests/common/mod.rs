//! Helpers shared by the integration tests: the bundled data, running the real
//! binary, reading what it writes.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// Absolute path of a bundled dataset.
pub fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name).display().to_string()
}

/// Runs `sweep args...` in `dir`, with the fault-injection variables cleared, then `env` set.
pub fn sweep_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sweep"));
    cmd.current_dir(dir).args(args).env_remove("SWEEP_FAIL_TRIALS").env_remove("SWEEP_ABORT_TRIALS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the sweep binary runs")
}

/// Runs `sweep args...` in `dir`.
pub fn sweep(dir: &Path, args: &[&str]) -> Output {
    sweep_env(dir, args, &[])
}

/// Bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A CSV as a list of maps, header → cell.
pub fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| header.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}
