//! A check that a device computes right before trials trust it: stock Debian 12
//! Mesa (22.3.6) ends every shader loop after 65,535 iterations, so its
//! lavapipe sums 2^19 ones to 65,532. Reductions here use `sum_dim`, never a
//! whole-tensor `sum`, which on a GPU adds with float atomics in no fixed order.

use burn::tensor::{Tensor, TensorData};
use serde::Serialize;

use super::TrialDevice;

/// Rows of the reduction: past 65,535, where the broken driver stops.
const ROWS: usize = 1 << 19;

/// What the canary measured on a device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CanaryReport {
    /// The device, as [`super::DeviceInfo::label`] writes it.
    pub device: String,
    /// `ones([2^19, 4]).sum_dim(0)`: each column should be 2^19.
    pub column_sums: Vec<f64>,
    /// A 64 × 64 matrix product's largest difference from the same product in f64.
    pub matmul_error: f64,
    /// Whether every answer was right.
    pub ok: bool,
}

/// Runs the checks on `device`.
pub fn canary(device: &TrialDevice) -> Result<CanaryReport, String> {
    let ones = Tensor::<2>::ones([ROWS, 4], &device.device);
    let sums = ones.sum_dim(0).into_data().convert::<f64>().try_into_vec::<f64>().map_err(|e| format!("{e:?}"))?;
    let n = 64;
    let a: Vec<f32> = (0..n * n).map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5).collect();
    let b: Vec<f32> = (0..n * n).map(|i| ((i * 104_729) % 89) as f32 / 89.0 - 0.5).collect();
    let ta = Tensor::<2>::from_data(TensorData::new(a.clone(), [n, n]), &device.device);
    let tb = Tensor::<2>::from_data(TensorData::new(b.clone(), [n, n]), &device.device);
    let product = ta.matmul(tb).into_data().convert::<f64>().try_into_vec::<f64>().map_err(|e| format!("{e:?}"))?;
    let mut matmul_error = 0.0f64;
    for i in 0..n {
        for j in 0..n {
            let exact: f64 = (0..n).map(|k| f64::from(a[i * n + k]) * f64::from(b[k * n + j])).sum();
            matmul_error = matmul_error.max((product[i * n + j] - exact).abs());
        }
    }
    let ok = sums.len() == 4 && sums.iter().all(|&s| s == ROWS as f64) && matmul_error < 1e-4;
    Ok(CanaryReport { device: device.info.label(), column_sums: sums, matmul_error, ok })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_passes_the_canary() {
        let report = canary(&TrialDevice::cpu()).unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.column_sums, vec![ROWS as f64; 4]);
    }
}
