//! Where a trial computes: the CPU (Burn's `flex` backend, always built) or a
//! GPU through Burn's `wgpu` backend (the cargo feature `wgpu`). The runner
//! opens one device per worker process from the spec's `[resources]` and hands
//! it to the trial ([`crate::objective::TrialContext::device`]); the device's
//! identity is recorded with every trial, so a model says what trained it.
//!
//! `placement.rs` decides which worker uses which device (pure); `wgpu.rs`
//! lists and opens GPUs; `canary.rs` catches a driver that computes wrong sums.

mod canary;
mod placement;
#[cfg(feature = "wgpu")]
mod wgpu;

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use canary::{CanaryReport, canary};
pub(crate) use placement::{Placement, Resources};

/// A kind of device a spec can ask for (`[resources] device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The CPU, through Burn's `flex` backend.
    Cpu,
    /// A GPU (Vulkan, Metal or DX12) through Burn's `wgpu` backend.
    Wgpu,
}

impl Backend {
    /// Every backend sweep knows, built or not.
    pub const ALL: [Backend; 2] = [Backend::Cpu, Backend::Wgpu];

    /// Its name in specs, on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The backend a spec's word names.
    pub fn parse(word: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == word)
    }

    /// Whether this binary was built with it.
    pub fn built(self) -> bool {
        match self {
            Backend::Cpu => true,
            Backend::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// Whether it is a GPU, whose trials each run in a worker process of
    /// their own that opens exactly its device.
    pub fn is_gpu(self) -> bool {
        self != Backend::Cpu
    }

    /// The backends of this binary, for messages: `cpu, wgpu`.
    pub fn built_names() -> String {
        Backend::ALL.into_iter().filter(|b| b.built()).map(Backend::name).collect::<Vec<_>>().join(", ")
    }
}

/// What trained a model: stored in `trial.json`, the registry and the model card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// `cpu` or `wgpu`.
    pub backend: Backend,
    /// The device's index among this machine's devices of its backend (GPUs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The adapter's name (`NVIDIA H100 PCIe`, `llvmpipe (LLVM 15.0.6, 256 bits)`), or the CPU's model.
    pub name: String,
    /// The driver and its version, as the graphics API reports them (GPUs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The graphics API (`vulkan`, `metal`, `dx12`; GPUs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
}

impl DeviceInfo {
    /// `wgpu:0 (NVIDIA H100 PCIe, driver …)`, `cpu (AMD EPYC …)`.
    pub fn label(&self) -> String {
        let at = match self.index {
            Some(i) => format!("{}:{i}", self.backend.name()),
            None => self.backend.name().to_string(),
        };
        match &self.driver {
            Some(d) => format!("{at} ({}, {d})", self.name),
            None => format!("{at} ({})", self.name),
        }
    }

    /// Whether `other` is the same kind of device: same backend, adapter and driver.
    pub fn same_hardware(&self, other: &DeviceInfo) -> bool {
        self.backend == other.backend && self.name == other.name && self.driver == other.driver
    }
}

/// A device opened for trials (or for loading a model), with what it is.
#[derive(Debug, Clone)]
pub struct TrialDevice {
    /// Burn's device: tensors and modules are created on it.
    pub device: Device,
    /// What it is, for records.
    pub info: DeviceInfo,
}

impl TrialDevice {
    /// The CPU (Burn's `flex` backend).
    pub fn cpu() -> TrialDevice {
        static INFO: OnceLock<DeviceInfo> = OnceLock::new();
        let info = INFO.get_or_init(|| DeviceInfo {
            backend: Backend::Cpu,
            index: None,
            name: cpu_model(),
            driver: None,
            api: None,
        });
        TrialDevice { device: Device::flex(), info: info.clone() }
    }
}

/// Why a device cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    /// The binary lacks the backend's feature.
    #[error(
        "device \"{}\" is not in this binary, which has: {}; build sweep with `cargo build --release --features {}`",
        backend.name(), Backend::built_names(), backend.name()
    )]
    NotBuilt {
        /// The backend asked for.
        backend: Backend,
    },
    /// No device of the backend answers.
    #[error(
        "no {api} device answers for device \"{}\": install the GPU's {api} driver (or Mesa's lavapipe for a \
         software one); `sweep devices` lists what this machine shows",
        backend.name()
    )]
    NoneVisible {
        /// The backend asked for.
        backend: Backend,
        /// The graphics API it was looked for on.
        api: String,
    },
    /// An index past the devices the machine has.
    #[error("device {} index {index} does not exist: this machine has {}; `sweep devices` lists them", backend.name(), listed(visible))]
    Missing {
        /// The backend asked for.
        backend: Backend,
        /// The index asked for.
        index: usize,
        /// What the machine has.
        visible: Vec<DeviceInfo>,
    },
    /// The device is there but would not open.
    #[error("cannot open {label}: {message}")]
    Open {
        /// The device.
        label: String,
        /// Why, as the driver says.
        message: String,
    },
    /// The objective cannot train on the backend.
    #[error(
        "objective \"{objective}\" trains on {} only, not on device \"{}\"; set [resources] device to one of them",
        supported.iter().map(|b| b.name()).collect::<Vec<_>>().join(", "), backend.name()
    )]
    Unsupported {
        /// The objective.
        objective: String,
        /// The backend asked for.
        backend: Backend,
        /// What it declares.
        supported: Vec<Backend>,
    },
}

fn listed(visible: &[DeviceInfo]) -> String {
    if visible.is_empty() {
        return "none".to_string();
    }
    visible.iter().map(DeviceInfo::label).collect::<Vec<_>>().join("; ")
}

/// The devices of `backend` this machine shows, in index order: the CPU for
/// `cpu`; for `wgpu`, the adapters of the platform's graphics API (Vulkan;
/// Metal on macOS; DX12 on Windows), never a fallback to OpenGL.
pub fn visible(backend: Backend) -> Result<Vec<DeviceInfo>, DeviceError> {
    match backend {
        Backend::Cpu => Ok(vec![TrialDevice::cpu().info]),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Ok(wgpu::adapters()),
        #[cfg(not(feature = "wgpu"))]
        Backend::Wgpu => Err(DeviceError::NotBuilt { backend }),
    }
}

/// Opens device `index` of `backend`, once per process: a GPU runtime cannot
/// be initialised twice, so later calls get the device opened first.
pub fn open(backend: Backend, index: usize) -> Result<TrialDevice, DeviceError> {
    match backend {
        Backend::Cpu => Ok(TrialDevice::cpu()),
        Backend::Wgpu => {
            static OPENED: OnceLock<Mutex<BTreeMap<usize, TrialDevice>>> = OnceLock::new();
            let mut opened =
                OPENED.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(device) = opened.get(&index) {
                return Ok(device.clone());
            }
            let device = open_gpu(backend, index)?;
            opened.insert(index, device.clone());
            Ok(device)
        }
    }
}

#[cfg(feature = "wgpu")]
fn open_gpu(_: Backend, index: usize) -> Result<TrialDevice, DeviceError> {
    wgpu::open(index)
}

#[cfg(not(feature = "wgpu"))]
fn open_gpu(backend: Backend, _: usize) -> Result<TrialDevice, DeviceError> {
    Err(DeviceError::NotBuilt { backend })
}

/// The device for training after the trials (the refit of a cross-validation's
/// winner), which runs where the aggregation runs: the resources' first
/// device where it opens, else the CPU. The refit's record says which.
pub(crate) fn for_follow_up(resources: &Resources) -> TrialDevice {
    if !resources.backend.is_gpu() {
        return TrialDevice::cpu();
    }
    let index = resources.devices.as_ref().and_then(|d| d.first().copied()).unwrap_or(0);
    open(resources.backend, index).unwrap_or_else(|_| TrialDevice::cpu())
}

/// The device to load a model on that trained on `trained`: that device
/// where this binary has its backend and the machine the same adapter at the
/// same index (else at another index), otherwise the CPU.
pub(crate) fn for_model(trained: &DeviceInfo) -> TrialDevice {
    if !trained.backend.is_gpu() || !trained.backend.built() {
        return TrialDevice::cpu();
    }
    let Ok(visible) = visible(trained.backend) else { return TrialDevice::cpu() };
    let same = |i: &usize| visible.get(*i).is_some_and(|v| v.same_hardware(trained));
    let index = trained.index.filter(same).or_else(|| (0..visible.len()).find(same));
    index.and_then(|i| open(trained.backend, i).ok()).unwrap_or_else(TrialDevice::cpu)
}

/// Whether a message from a device says it ran out of memory, so a trial
/// that did says so in words rather than as the driver's panic.
pub(crate) fn is_out_of_memory(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["out of memory", "outofmemory", "out_of_memory", "allocation failed", "failed to allocate"]
        .iter()
        .any(|needle| m.contains(needle))
}

/// The CPU's model name (Linux's `/proc/cpuinfo`), else the architecture.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string())
            })
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_parse_by_their_names_and_the_cpu_is_always_built() {
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.name()), Some(b));
        }
        assert_eq!(Backend::parse("cuda"), None);
        assert!(Backend::Cpu.built());
        assert_eq!(Backend::Wgpu.built(), cfg!(feature = "wgpu"));
        assert!(!Backend::Cpu.is_gpu() && Backend::Wgpu.is_gpu());
    }

    #[test]
    fn a_missing_index_names_what_the_machine_has() {
        let gpu = DeviceInfo {
            backend: Backend::Wgpu,
            index: Some(0),
            name: "llvmpipe".into(),
            driver: Some("Mesa 25.0.7".into()),
            api: Some("vulkan".into()),
        };
        let e = DeviceError::Missing { backend: Backend::Wgpu, index: 3, visible: vec![gpu] };
        assert_eq!(
            e.to_string(),
            "device wgpu index 3 does not exist: this machine has wgpu:0 (llvmpipe, Mesa 25.0.7); `sweep devices` lists them"
        );
        let e = DeviceError::NotBuilt { backend: Backend::Wgpu };
        assert!(e.to_string().contains("--features wgpu"), "{e}");
    }

    #[test]
    fn out_of_memory_is_recognised_in_the_drivers_words() {
        assert!(is_out_of_memory("Error in Queue::submit: Out of Memory"));
        assert!(is_out_of_memory("wgpu error: Validation Error: OutOfMemory"));
        assert!(is_out_of_memory("failed to allocate 4294967296 bytes"));
        assert!(!is_out_of_memory("index out of bounds: the len is 3"));
    }

    #[test]
    fn the_cpu_device_records_no_index_or_driver() {
        let cpu = TrialDevice::cpu();
        assert_eq!(cpu.info.backend, Backend::Cpu);
        assert_eq!((cpu.info.index, cpu.info.driver.as_ref()), (None, None));
        assert!(!cpu.info.name.is_empty());
        let json = serde_json::to_string(&cpu.info).unwrap();
        assert!(json.starts_with("{\"backend\":\"cpu\",\"name\":"), "{json}");
    }
}
