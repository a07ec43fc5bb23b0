//! A trial's best model as the files of a W&B artifact.
//!
//! `wandb sync` reads each file from the manifest's `local_path` and may delete what it
//! uploaded (the SDK's staging copies), so the manifest points at a hard link or copy made
//! under the run's folder, never at the checkpoint under `trials/`.

use std::io;
use std::path::{Path, PathBuf};

use base64::Engine;
use md5::{Digest, Md5};

use crate::store::write_atomic_deferred;

/// One file of an artifact, staged under the export folder.
#[derive(Debug, Clone)]
pub(super) struct Staged {
    /// Its path inside the artifact.
    pub path: String,
    /// The staged copy, absolute: `wandb sync` runs from anywhere.
    pub local_path: PathBuf,
    /// W&B's digest of a file: base64 of its MD5.
    pub md5_b64: String,
    pub size: u64,
}

/// W&B's digest of a file's bytes.
pub(super) fn md5_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes))
}

/// The artifact's digest (`MANIFEST_MD5`, as `wandb/sdk/artifacts` computes it): the hex MD5 of
/// a header line and one `path:digest` line per file, in path order.
pub(super) fn manifest_digest<'a>(files: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut files: Vec<(&str, &str)> = files.collect();
    files.sort();
    let mut hasher = Md5::new();
    hasher.update(b"wandb-artifact-manifest-v1\n");
    for (path, digest) in files {
        hasher.update(format!("{path}:{digest}\n").as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Stages `source` as `to`: a hard link where the filesystem allows (a checkpoint is not copied
/// once per export), else an atomic copy; a `to` that already holds the same bytes is kept.
/// Returns whether it wrote.
pub(super) fn stage_file(source: &Path, bytes: &[u8], to: &Path) -> io::Result<bool> {
    if std::fs::read(to).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    // The process id keeps two exports of one folder (a SLURM aggregation and a user's) apart.
    let name = to.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = to.with_file_name(format!(".{name}.{}.link", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(source, &tmp).is_ok() {
        // The source may have changed since it was read: link only what was hashed.
        if std::fs::read(&tmp).is_ok_and(|linked| linked == bytes) {
            std::fs::rename(&tmp, to)?;
            return Ok(true);
        }
        let _ = std::fs::remove_file(&tmp);
    }
    write_atomic_deferred(to, bytes)?;
    Ok(true)
}

/// Writes `bytes` to `to` atomically unless it already holds them.
pub(super) fn write_if_changed(to: &Path, bytes: &[u8]) -> io::Result<bool> {
    if std::fs::read(to).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    write_atomic_deferred(to, bytes)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_digests_are_base64_md5() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(md5_b64(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn the_manifest_digest_is_order_free() {
        let a = manifest_digest([("b.json", "x=="), ("a.bin", "y==")].into_iter());
        let b = manifest_digest([("a.bin", "y=="), ("b.json", "x==")].into_iter());
        assert_eq!(a, b);
        let mut by_hand = Md5::new();
        by_hand.update(b"wandb-artifact-manifest-v1\na.bin:y==\nb.json:x==\n");
        let expected: String = by_hand.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(a, expected);
    }

    #[test]
    fn staging_links_or_copies_and_never_writes_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("best.safetensors");
        std::fs::write(&source, b"weights").unwrap();
        let to = dir.path().join("staged");
        stage_file(&source, b"weights", &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"weights");
        // Removing the staged file (as `wandb sync` may) leaves the source.
        std::fs::remove_file(&to).unwrap();
        assert_eq!(std::fs::read(&source).unwrap(), b"weights");
        // Bytes that no longer match the source are copied, not linked.
        stage_file(&source, b"other", &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"other");
        assert_eq!(std::fs::read(&source).unwrap(), b"weights");
    }
}
