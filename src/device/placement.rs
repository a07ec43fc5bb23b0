//! Which worker trains on which device: each worker process opens exactly one
//! device, and no device holds more than `trials_per_device` workers.

use serde::{Deserialize, Serialize};

use super::{Backend, DeviceError, DeviceInfo};

/// `[resources]` of a spec, with the command line's overrides applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Resources {
    /// `device`: where trials compute.
    pub backend: Backend,
    /// `devices`: the indices to use; `None`: every visible one.
    pub devices: Option<Vec<usize>>,
    /// `trials_per_device`: worker processes that share one device.
    pub trials_per_device: usize,
}

impl Default for Resources {
    fn default() -> Self {
        Resources { backend: Backend::Cpu, devices: None, trials_per_device: 1 }
    }
}

/// The devices a run's workers use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placement {
    /// The backend.
    pub backend: Backend,
    /// The device index of each worker slot; empty on the CPU, where every
    /// worker shares the one CPU device.
    pub slots: Vec<usize>,
}

impl Placement {
    /// On the CPU: workers as asked.
    pub(crate) fn cpu() -> Placement {
        Placement { backend: Backend::Cpu, slots: Vec::new() }
    }

    /// Checks `resources` against the devices the machine shows and spreads
    /// the workers over them: before anything is written, a device the binary
    /// lacks or the machine does not have is an error.
    pub(crate) fn resolve(resources: &Resources, workers: Option<usize>) -> Result<Placement, DeviceError> {
        if !resources.backend.built() {
            return Err(DeviceError::NotBuilt { backend: resources.backend });
        }
        if !resources.backend.is_gpu() {
            return Ok(Placement::cpu());
        }
        let visible = super::visible(resources.backend)?;
        let devices = chosen(resources, &visible)?;
        Ok(Placement { backend: resources.backend, slots: slots(&devices, resources.trials_per_device, workers) })
    }

    /// How many workers the run starts: one per slot on a GPU.
    pub(crate) fn workers(&self) -> Option<usize> {
        (!self.slots.is_empty()).then_some(self.slots.len())
    }
}

/// The device indices `resources` asks for, each checked against `visible`.
fn chosen(resources: &Resources, visible: &[DeviceInfo]) -> Result<Vec<usize>, DeviceError> {
    let backend = resources.backend;
    if visible.is_empty() {
        let api = visible_api();
        return Err(DeviceError::NoneVisible { backend, api });
    }
    match &resources.devices {
        None => Ok((0..visible.len()).collect()),
        Some(asked) => {
            for &index in asked {
                if index >= visible.len() {
                    return Err(DeviceError::Missing { backend, index, visible: visible.to_vec() });
                }
            }
            Ok(asked.clone())
        }
    }
}

fn visible_api() -> String {
    if cfg!(target_os = "macos") {
        "Metal"
    } else if cfg!(windows) {
        "DX12"
    } else {
        "Vulkan"
    }
    .to_string()
}

/// A device index per worker slot: round robin over `devices`, so a run with
/// fewer workers than slots still spreads them evenly, at most
/// `per_device` on each; `workers` (when asked) caps the total.
pub(crate) fn slots(devices: &[usize], per_device: usize, workers: Option<usize>) -> Vec<usize> {
    let capacity = devices.len() * per_device.max(1);
    let n = workers.map_or(capacity, |w| w.clamp(1, capacity.max(1)));
    (0..n).filter_map(|w| devices.get(w % devices.len().max(1)).copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(index: usize) -> DeviceInfo {
        DeviceInfo {
            backend: Backend::Wgpu,
            index: Some(index),
            name: format!("gpu {index}"),
            driver: None,
            api: Some("vulkan".into()),
        }
    }

    fn per_device(slots: &[usize]) -> std::collections::BTreeMap<usize, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for &d in slots {
            *counts.entry(d).or_default() += 1;
        }
        counts
    }

    #[test]
    fn every_device_gets_its_share_and_no_more() {
        assert_eq!(slots(&[0, 1], 2, None), vec![0, 1, 0, 1]);
        assert_eq!(slots(&[0, 1], 1, None), vec![0, 1]);
        assert_eq!(slots(&[3], 4, None), vec![3, 3, 3, 3]);
        // Fewer workers than slots: spread, not packed onto the first device.
        assert_eq!(slots(&[0, 1, 2], 4, Some(3)), vec![0, 1, 2]);
        // More workers than slots: capped, so no device holds more than its share.
        let capped = slots(&[0, 1], 2, Some(9));
        assert_eq!(capped.len(), 4);
        assert!(per_device(&capped).values().all(|&n| n <= 2), "{capped:?}");
    }

    #[test]
    fn asked_devices_must_exist() {
        let visible = vec![gpu(0), gpu(1)];
        let r = |devices: Option<Vec<usize>>| Resources { backend: Backend::Wgpu, devices, trials_per_device: 1 };
        assert_eq!(chosen(&r(None), &visible), Ok(vec![0, 1]), "default: every visible device");
        assert_eq!(chosen(&r(Some(vec![1])), &visible), Ok(vec![1]));
        match chosen(&r(Some(vec![0, 2])), &visible) {
            Err(DeviceError::Missing { index: 2, visible: v, .. }) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(matches!(chosen(&r(None), &[]), Err(DeviceError::NoneVisible { .. })));
    }

    #[test]
    fn the_cpu_places_nothing_and_a_missing_feature_is_named() {
        assert_eq!(Placement::resolve(&Resources::default(), Some(3)), Ok(Placement::cpu()));
        assert_eq!(Placement::cpu().workers(), None);
        let gpu = Resources { backend: Backend::Wgpu, devices: Some(vec![0]), trials_per_device: 2 };
        if !cfg!(feature = "wgpu") {
            assert_eq!(Placement::resolve(&gpu, None), Err(DeviceError::NotBuilt { backend: Backend::Wgpu }));
        }
    }
}
