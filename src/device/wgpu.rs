//! GPUs through Burn's `wgpu` backend: the adapters of the platform's
//! graphics API, and opening one by its index through Burn's erroring
//! `wgpu_options().init()` path, never `Device::wgpu`, which panics without an
//! adapter and can silently fall back to OpenGL (other numerics).

use burn::tensor::wgpu::{WgpuBackend, wgpu};
use burn::tensor::{Device, DeviceKind};

use super::{Backend, DeviceError, DeviceInfo, TrialDevice};

/// The graphics API sweep uses on this platform, as Burn and wgpu name it.
fn api() -> (WgpuBackend, wgpu::Backends, &'static str) {
    if cfg!(target_os = "macos") {
        (WgpuBackend::Metal, wgpu::Backends::METAL, "metal")
    } else if cfg!(windows) {
        (WgpuBackend::Dx12, wgpu::Backends::DX12, "dx12")
    } else {
        (WgpuBackend::Vulkan, wgpu::Backends::VULKAN, "vulkan")
    }
}

/// The adapters, in wgpu's enumeration order: a device's index is its place here.
fn adapter_infos() -> Vec<wgpu::AdapterInfo> {
    let (_, backends, _) = api();
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    block_on(instance.enumerate_adapters(backends)).iter().map(wgpu::Adapter::get_info).collect()
}

fn info_of(index: usize, adapter: &wgpu::AdapterInfo) -> DeviceInfo {
    let driver = format!("{} {}", adapter.driver, adapter.driver_info).trim().to_string();
    DeviceInfo {
        backend: Backend::Wgpu,
        index: Some(index),
        name: adapter.name.clone(),
        driver: (!driver.is_empty()).then_some(driver),
        api: Some(api().2.to_string()),
    }
}

pub(super) fn adapters() -> Vec<DeviceInfo> {
    adapter_infos().iter().enumerate().map(|(i, a)| info_of(i, a)).collect()
}

/// Burn's selector for the adapter at `index` of `types`: each adapter type
/// counts from zero on its own there (`DiscreteGpu(1)` is the second discrete
/// GPU), and a CPU adapter carries no index.
fn kind_at(types: &[wgpu::DeviceType], index: usize) -> Option<DeviceKind> {
    let ty = *types.get(index)?;
    let before = types[..index].iter().filter(|t| **t == ty).count();
    Some(match ty {
        wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(before),
        wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(before),
        wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(before),
        wgpu::DeviceType::Cpu if before == 0 => DeviceKind::Cpu,
        // A second CPU adapter cannot be selected by Burn's selector.
        wgpu::DeviceType::Cpu => return None,
        wgpu::DeviceType::Other => return None,
    })
}

pub(super) fn open(index: usize) -> Result<TrialDevice, DeviceError> {
    let infos = adapter_infos();
    let visible: Vec<DeviceInfo> = infos.iter().enumerate().map(|(i, a)| info_of(i, a)).collect();
    let Some(wanted) = visible.get(index).cloned() else {
        return Err(DeviceError::Missing { backend: Backend::Wgpu, index, visible });
    };
    let types: Vec<wgpu::DeviceType> = infos.iter().map(|a| a.device_type).collect();
    let label = wanted.label();
    let kind = kind_at(&types, index).ok_or_else(|| DeviceError::Open {
        label: label.clone(),
        message: format!("Burn cannot select a {:?} adapter by index", types[index]),
    })?;
    let (graphics, _, _) = api();
    let (device, setup) = Device::wgpu_options()
        .device_kind(kind)
        .graphics_api(graphics)
        .init_with_setup()
        .map_err(|e| DeviceError::Open { label: label.clone(), message: e.to_string() })?;
    let got = info_of(index, &setup.adapter.get_info());
    if got.name != wanted.name {
        return Err(DeviceError::Open {
            label,
            message: format!("Burn opened another adapter ({}) for this index", got.label()),
        });
    }
    Ok(TrialDevice { device, info: got })
}

/// Drives a wgpu future to its end: native wgpu's futures are ready at once.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut context) {
            return out;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::DeviceType::{Cpu, DiscreteGpu, IntegratedGpu};

    #[test]
    fn each_adapter_type_counts_from_zero() {
        let types = [DiscreteGpu, IntegratedGpu, DiscreteGpu, Cpu];
        assert_eq!(kind_at(&types, 0), Some(DeviceKind::DiscreteGpu(0)));
        assert_eq!(kind_at(&types, 1), Some(DeviceKind::IntegratedGpu(0)));
        assert_eq!(kind_at(&types, 2), Some(DeviceKind::DiscreteGpu(1)));
        assert_eq!(kind_at(&types, 3), Some(DeviceKind::Cpu));
        assert_eq!(kind_at(&types, 4), None);
        assert_eq!(kind_at(&[Cpu, Cpu], 1), None, "a second CPU adapter has no selector");
    }
}
