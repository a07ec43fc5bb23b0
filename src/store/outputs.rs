//! `best_valid_outputs.safetensors`: a trial's outputs on its validation rows
//! at its best epoch (logits, or predictions in model units), kept so that
//! aggregation can bootstrap the validation metrics without retraining.
//! The validation targets come with them (each fold of a cross-validation
//! has its own rows). A plain safetensors file (F32 `outputs`, `rows ×
//! outputs`, and F64 `targets`: class index or value in the target's units),
//! so Python's `safetensors.numpy.load_file` reads it too.

use std::collections::BTreeMap;

use super::header_keys;

/// Why an outputs file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a validation outputs file: {0}")]
pub(crate) struct OutputsFormatError(String);

/// The stored outputs of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredOutputs {
    /// The epoch they were produced at.
    pub epoch: usize,
    /// Rows.
    pub rows: usize,
    /// Outputs per row.
    pub width: usize,
    /// `rows × width`, row-major.
    pub values: Vec<f32>,
    /// Each row's true class index, or true value in the target's units.
    pub targets: Vec<f64>,
    /// Regression: the target's scale (model units → original units).
    pub scale: Option<crate::metrics::TargetScale>,
}

/// The file's bytes.
pub(crate) fn encode_outputs(outputs: &StoredOutputs) -> Vec<u8> {
    let out_len = outputs.values.len() * 4;
    let data_len = out_len + outputs.targets.len() * 8;
    let mut meta = BTreeMap::from([(header_keys::EPOCH, outputs.epoch.to_string())]);
    if let Some(scale) = outputs.scale {
        meta.insert(header_keys::TARGET_MEAN, scale.mean.to_string());
        meta.insert(header_keys::TARGET_STD, scale.std.to_string());
    }
    let header = serde_json::json!({
        "__metadata__": meta,
        "outputs": { "dtype": "F32", "shape": [outputs.rows, outputs.width], "data_offsets": [0, out_len] },
        "targets": { "dtype": "F64", "shape": [outputs.targets.len()], "data_offsets": [out_len, data_len] },
    });
    let mut header = serde_json::to_vec(&header).unwrap_or_default();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + data_len);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for v in &outputs.values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in &outputs.targets {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Reads what [`encode_outputs`] wrote.
pub(crate) fn decode_outputs(bytes: &[u8]) -> Result<StoredOutputs, OutputsFormatError> {
    let bad = |what: &str| OutputsFormatError(what.to_string());
    if bytes.len() < 8 {
        return Err(bad("too short"));
    }
    let (header, data) = super::safetensors_parts(bytes).ok_or_else(|| bad("header cut"))?;
    let header: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| OutputsFormatError(format!("header: {e}")))?;
    let epoch = header["__metadata__"][header_keys::EPOCH]
        .as_str()
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| bad("no epoch"))?;
    let tensor = &header["outputs"];
    if tensor["dtype"] != "F32" {
        return Err(bad("dtype is not F32"));
    }
    let dim = |i: usize| tensor["shape"][i].as_u64().map(|d| d as usize).ok_or_else(|| bad("shape"));
    let (rows, width) = (dim(0)?, dim(1)?);
    let sizes = rows.checked_mul(width).and_then(|n| n.checked_mul(4)).zip(rows.checked_mul(8));
    let Some((out_len, targets_len)) = sizes else { return Err(bad("shape")) };
    if Some(data.len()) != out_len.checked_add(targets_len) {
        return Err(OutputsFormatError(format!("{} data bytes for {rows} rows of {width} outputs", data.len())));
    }
    let values = data[..out_len].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let targets = data[out_len..].chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
    let number = |key: &str| header["__metadata__"][key].as_str().and_then(|v| v.parse::<f64>().ok());
    let scale = match (number(header_keys::TARGET_MEAN), number(header_keys::TARGET_STD)) {
        (Some(mean), Some(std)) => Some(crate::metrics::TargetScale { mean, std }),
        _ => None,
    };
    Ok(StoredOutputs { epoch, rows, width, values, targets, scale })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_round_trip_and_bad_files_are_refused() {
        let o = StoredOutputs {
            epoch: 7,
            rows: 2,
            width: 3,
            values: vec![1.0, -2.5, 3.0, 0.0, f32::MIN_POSITIVE, 6.0],
            targets: vec![2.0, 0.0],
            scale: None,
        };
        let bytes = encode_outputs(&o);
        assert_eq!(decode_outputs(&bytes).unwrap(), o);
        let r = StoredOutputs {
            width: 1,
            values: vec![0.5, -1.0],
            targets: vec![151.0, 75.25],
            scale: Some(crate::metrics::TargetScale { mean: 152.1, std: 77.0 }),
            ..o.clone()
        };
        assert_eq!(decode_outputs(&encode_outputs(&r)).unwrap(), r);
        assert!(decode_outputs(&bytes[..bytes.len() - 4]).is_err());
        assert!(decode_outputs(b"nope").is_err());
        // Lengths a damaged or crafted file may claim are errors, not overflows.
        let with_header = |header: &str| {
            let mut f = (header.len() as u64).to_le_bytes().to_vec();
            f.extend_from_slice(header.as_bytes());
            f
        };
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(decode_outputs(&huge).unwrap_err().to_string().ends_with("header cut"));
        assert!(decode_outputs(&with_header("{}")[..9]).unwrap_err().to_string().ends_with("header cut"));
        let vast = r#"{"__metadata__":{"sweep.epoch":"1"},"outputs":{"dtype":"F32","shape":[4611686018427387904,4]}}"#;
        assert!(decode_outputs(&with_header(vast)).unwrap_err().to_string().ends_with("shape"));
    }
}
