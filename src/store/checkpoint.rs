//! Checkpoint bytes made reproducible.
//!
//! burn-store fills the safetensors header from a `HashMap`, so its key order
//! (and with it the file's bytes and sha256) changes from run to run even for
//! identical weights. Rewriting the header with sorted keys makes identical
//! models give identical files, which is what lets a sha256 prove that two
//! runs, or a run and its reload, hold the same model.

/// The keys sweep writes into a safetensors header's `__metadata__` (a
/// checkpoint's, and a kept validation-outputs file's), so that a file copied
/// away from its folder still says what it holds. Their names are part of the
/// results format: readers outside sweep (`safetensors.safe_open(...).metadata()`)
/// find them by these names.
pub(crate) mod header_keys {
    /// The trial the checkpoint belongs to.
    pub(crate) const TRIAL_ID: &str = "sweep.trial_id";
    /// The objective and its version: `mlp 1`.
    pub(crate) const OBJECTIVE: &str = "sweep.objective";
    /// The epoch whose weights (or outputs) the file holds.
    pub(crate) const EPOCH: &str = "sweep.epoch";
    /// That epoch's metrics, as JSON.
    pub(crate) const METRICS: &str = "sweep.metrics";
    /// The trial's parameters, as JSON.
    pub(crate) const PARAMS: &str = "sweep.params";
    pub(crate) const SEED: &str = "sweep.seed";
    /// The fingerprint of the data the model was trained on.
    pub(crate) const DATA_FINGERPRINT: &str = "sweep.data_fingerprint";
    /// A refit's: the configuration it retrains.
    pub(crate) const REFIT_OF_CONFIG: &str = "sweep.refit_of_config";
    /// Validation outputs of a regression: the mean the targets were standardized with.
    pub(crate) const TARGET_MEAN: &str = "sweep.target_mean";
    /// Validation outputs of a regression: the standard deviation the targets were standardized with.
    pub(crate) const TARGET_STD: &str = "sweep.target_std";
}

/// A safetensors file's JSON header and the data after it; `None` when the file is
/// shorter than the header length its first eight bytes give.
pub(crate) fn safetensors_parts(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let data_start = len.checked_add(8)?;
    Some((bytes.get(8..data_start)?, &bytes[data_start..]))
}

/// Why a checkpoint could not be canonicalised.
#[derive(Debug, thiserror::Error)]
#[error("not a safetensors file: {0}")]
pub(crate) struct CheckpointFormatError(String);

/// Returns the same safetensors file with its JSON header keys sorted (and
/// padded with spaces to 8 bytes, as the format recommends). Tensor data is untouched.
pub(crate) fn canonical_safetensors(bytes: &[u8]) -> Result<Vec<u8>, CheckpointFormatError> {
    let (header, data) =
        safetensors_parts(bytes).ok_or_else(|| CheckpointFormatError("shorter than its header".into()))?;
    // serde_json's map is ordered by key, so a parse/print round trip sorts every level.
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| CheckpointFormatError(format!("header: {e}")))?;
    let mut new_header = serde_json::to_vec(&value).map_err(|e| CheckpointFormatError(e.to_string()))?;
    while new_header.len() % 8 != 0 {
        new_header.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + new_header.len() + data.len());
    out.extend_from_slice(&(new_header.len() as u64).to_le_bytes());
    out.extend_from_slice(&new_header);
    out.extend_from_slice(data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn a_file_splits_into_its_header_and_data_when_it_holds_the_header_it_announces() {
        let bytes = file("{}", &[1, 2]);
        assert_eq!(safetensors_parts(&bytes), Some((&b"{}"[..], &[1u8, 2][..])));
        assert_eq!(safetensors_parts(&bytes[..9]), None, "a cut header");
        assert_eq!(safetensors_parts(&bytes[..7]), None, "no length");
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert_eq!(safetensors_parts(&huge), None, "a length past any file");
    }

    #[test]
    fn key_order_no_longer_changes_the_bytes() {
        let a = file(
            r#"{"__metadata__":{"b":"2","a":"1"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            &[1, 2, 3, 4],
        );
        let b = file(
            r#"{"w":{"data_offsets":[0,4],"dtype":"F32","shape":[1]},"__metadata__":{"a":"1","b":"2"}}"#,
            &[1, 2, 3, 4],
        );
        let (ca, cb) = (canonical_safetensors(&a).unwrap(), canonical_safetensors(&b).unwrap());
        assert_eq!(ca, cb);
        let n = u64::from_le_bytes(ca[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        assert_eq!(&ca[8 + n..], &[1, 2, 3, 4]);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(canonical_safetensors(b"abc").is_err());
        assert!(canonical_safetensors(&file("{nope", &[])).is_err());
    }
}
