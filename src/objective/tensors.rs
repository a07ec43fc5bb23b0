//! Burn tensors for an objective: the split as tensors on a device, outputs
//! back as the flat `Vec<f32>` the runner reads, and [`Forward`], which
//! makes any Burn module that maps rows to outputs a loadable [`Model`].

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::{Model, TrialContext, TrialError};

/// A tensor's values, row-major, as [`super::Trainer::validate`] and
/// [`Model::predict`] return them.
pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, TrialError> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrialError::failed(format!("reading outputs: {e:?}")))
}

/// Rows of features as a `rows × features` tensor.
pub fn rows_tensor(x: &[f32], rows: usize, device: &Device) -> Tensor<2> {
    let features = x.len() / rows.max(1);
    Tensor::from_data(TensorData::new(x.to_vec(), [rows, features]), device)
}

/// A Burn module that maps a `rows × features` tensor of standardized
/// features to its outputs (`rows × classes` logits, or `rows × 1`
/// predictions). Every such module is a [`Model`] once loaded: `load` can
/// return `Box::new(weights::load(skeleton, checkpoint)?)`.
pub trait Forward: Module + 'static {
    /// The outputs for `x`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2>;
}

impl<M: Forward> Model for M {
    /// On the device the module was loaded on.
    fn predict(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, TrialError> {
        let device = self.devices().into_iter().next().unwrap_or_else(Device::flex);
        to_vec(Forward::forward(self, rows_tensor(x, rows, &device)))
    }
}

impl TrialContext<'_> {
    /// The training features, `n_train × n_features`, on `device`.
    pub fn train_x(&self, device: &Device) -> Tensor<2> {
        rows_tensor(&self.data.train_x, self.data.n_train(), device)
    }

    /// The validation features, `n_valid × n_features`, on `device`.
    pub fn valid_x(&self, device: &Device) -> Tensor<2> {
        rows_tensor(&self.data.valid_x, self.data.n_valid(), device)
    }

    /// The training class indices on `device`; an error for a regression task.
    pub fn train_labels(&self, device: &Device) -> Result<Tensor<1, Int>, TrialError> {
        let labels: Vec<i64> = self.train_classes()?.iter().map(|&y| y as i64).collect();
        let n = labels.len();
        Ok(Tensor::from_data(TensorData::new(labels, [n]), device))
    }

    /// The standardized training targets, `n_train × 1`, on `device`; an error for classification.
    pub fn train_values(&self, device: &Device) -> Result<Tensor<2>, TrialError> {
        let values =
            self.data.train_values().ok_or_else(|| TrialError::failed("this objective trains regression only"))?;
        Ok(Tensor::from_data(TensorData::new(values.to_vec(), [values.len(), 1]), device))
    }
}
