//! Seeds derived from the sweep seed: the split's, each trial's, each
//! sampler draw's. Pure, so every process that rebuilds a plan from the spec
//! gets the same seeds.

use sha2::{Digest, Sha256};

/// A seed for `purpose` and `index`, derived from the sweep seed by SHA-256,
/// so seeds of neighbouring trials are unrelated and stable across versions.
pub(crate) fn derive_seed(sweep_seed: u64, purpose: &str, index: u64) -> u64 {
    let mut h = Sha256::new();
    h.update(sweep_seed.to_le_bytes());
    h.update(purpose.as_bytes());
    h.update(index.to_le_bytes());
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_depend_on_sweep_seed_purpose_and_index_only() {
        assert_eq!(derive_seed(42, "trial", 3), derive_seed(42, "trial", 3));
        assert_ne!(derive_seed(42, "trial", 3), derive_seed(42, "trial", 4));
        assert_ne!(derive_seed(42, "trial", 3), derive_seed(43, "trial", 3));
        assert_ne!(derive_seed(42, "trial", 3), derive_seed(42, "sample", 3));
    }
}
