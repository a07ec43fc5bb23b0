//! `sweep_client.py`, shipped inside the binary and installed once per
//! version where every program's `PYTHONPATH` can find it.

use std::path::PathBuf;

/// The Python client, as `python/sweep_client.py` holds it.
pub(crate) const PYTHON: &str = include_str!("../../../python/sweep_client.py");

/// The folder holding this binary's `sweep_client.py`, written if it is not
/// there yet. Its name carries the file's hash, so binaries of different
/// versions on one machine never hand a program each other's client.
pub(crate) fn installed() -> std::io::Result<PathBuf> {
    let hash = crate::store::sha256_hex(PYTHON.as_bytes());
    let dir = std::env::temp_dir().join(format!("sweep-client-{}", &hash[..16]));
    let file = dir.join("sweep_client.py");
    if std::fs::read(&file).ok().as_deref() != Some(PYTHON.as_bytes()) {
        std::fs::create_dir_all(&dir)?;
        crate::store::write_atomic(&file, PYTHON.as_bytes())?;
    }
    Ok(dir)
}
