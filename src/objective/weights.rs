//! Checkpoints of Burn modules: a safetensors file whose header carries the
//! runner's metadata (trial, epoch, metrics), and its reload. Any
//! `#[derive(Module)]` struct works.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::store::{ModuleSnapshot, SafetensorsStore};

use super::TrialError;

/// The module's weights as safetensors bytes, `metadata` in the header. Save
/// the inference copy (`model.valid()`) of a model trained with autodiff.
pub fn save<M: Module>(module: &M, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError> {
    let mut store = SafetensorsStore::from_bytes(None);
    for (k, v) in metadata {
        store = store.metadata(k.clone(), v.clone());
    }
    module.save_into(&mut store).map_err(|e| TrialError::failed(format!("saving checkpoint: {e}")))?;
    store.get_bytes().map_err(|e| TrialError::failed(format!("saving checkpoint: {e}")))
}

/// Loads `bytes` (written by [`save`]) into `module`, which must have the
/// same structure; a tensor missing, left over or of another shape is an
/// error, never a half-loaded model.
pub fn load<M: Module>(mut module: M, bytes: &[u8]) -> Result<M, TrialError> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec()));
    let applied = module.load_from(&mut store).map_err(|e| TrialError::failed(format!("loading checkpoint: {e}")))?;
    if !applied.errors.is_empty() || !applied.missing.is_empty() || !applied.unused.is_empty() {
        let missing: Vec<&str> = applied.missing.iter().map(|(path, _)| path.as_str()).collect();
        return Err(TrialError::failed(format!(
            "the checkpoint does not fit the model built from its parameters: missing {missing:?}, \
             unexpected {:?}, errors {:?}",
            applied.unused, applied.errors
        )));
    }
    Ok(module)
}
