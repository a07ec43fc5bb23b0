//! Burn's optimizers applied to the MLP: per parameter tensor with the
//! hand-written gradients (the default), or as Burn's `ModuleOptimizer` with
//! autodiff (the reference the first is tested against).

use burn::module::Param;
use burn::nn::Linear;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    Adam, AdamConfig, AdamState, AdamW, AdamWConfig, AdamWState, ModuleOptimizer, Optimizer, Sgd, SgdConfig, SgdState,
};
use burn::tensor::Tensor;

use super::settings::MlpSettings;

/// Adam's and AdamW's betas (Burn's and PyTorch's defaults), and epsilon as in PyTorch, so
/// results compare with the Python peers. `fused.rs` applies the same constants.
pub(super) const BETA_1: f32 = 0.9;
pub(super) const BETA_2: f32 = 0.999;
pub(super) const EPSILON: f32 = 1e-8;

/// The optimizer the settings ask for, as Burn configures it (SGD without dampening).
fn configs(s: &MlpSettings) -> (AdamConfig, AdamWConfig, SgdConfig) {
    let decay = (s.weight_decay > 0.0).then(|| WeightDecayConfig::new(s.weight_decay as f32));
    let momentum = (s.momentum > 0.0).then(|| MomentumConfig::new().with_momentum(s.momentum).with_dampening(0.0));
    (
        AdamConfig::new()
            .with_beta_1(BETA_1)
            .with_beta_2(BETA_2)
            .with_epsilon(EPSILON)
            .with_weight_decay(decay.clone()),
        AdamWConfig::new()
            .with_beta_1(BETA_1)
            .with_beta_2(BETA_2)
            .with_epsilon(EPSILON)
            .with_weight_decay(s.weight_decay as f32),
        SgdConfig::new().with_weight_decay(decay).with_momentum(momentum),
    )
}

/// Burn's `ModuleOptimizer` for autodiff training.
pub(super) fn module_optimizer(s: &MlpSettings) -> ModuleOptimizer {
    let (adam, adamw, sgd) = configs(s);
    match s.optimizer.as_str() {
        "adamw" => adamw.init(),
        "sgd" => sgd.init(),
        _ => adam.init(),
    }
}

/// Burn's optimizers applied one parameter tensor at a time (their
/// [`Optimizer::step`]), the same update `ModuleOptimizer` makes, without autodiff.
#[derive(Clone)]
pub(super) enum ParamOptimizer {
    Adam(Adam),
    AdamW(AdamW),
    Sgd(Sgd),
}

/// A parameter's optimizer state.
#[derive(Clone)]
pub(super) enum ParamState<const D: usize> {
    Adam(AdamState<D>),
    AdamW(AdamWState<D>),
    Sgd(SgdState<D>),
}

/// The states of one Linear layer: weight, bias.
pub(super) type LinearState = (Option<ParamState<2>>, Option<ParamState<1>>);

impl ParamOptimizer {
    pub(super) fn new(s: &MlpSettings) -> Self {
        let (adam, adamw, sgd) = configs(s);
        match s.optimizer.as_str() {
            "adamw" => ParamOptimizer::AdamW(adamw.build()),
            "sgd" => ParamOptimizer::Sgd(sgd.build()),
            _ => ParamOptimizer::Adam(adam.build()),
        }
    }

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<ParamState<D>>,
    ) -> (Tensor<D>, Option<ParamState<D>>) {
        match self {
            ParamOptimizer::Adam(o) => {
                let state = match state {
                    Some(ParamState::Adam(s)) => Some(s),
                    _ => None,
                };
                let (t, s) = o.step(lr, tensor, grad, state);
                (t, s.map(ParamState::Adam))
            }
            ParamOptimizer::AdamW(o) => {
                let state = match state {
                    Some(ParamState::AdamW(s)) => Some(s),
                    _ => None,
                };
                let (t, s) = o.step(lr, tensor, grad, state);
                (t, s.map(ParamState::AdamW))
            }
            ParamOptimizer::Sgd(o) => {
                let state = match state {
                    Some(ParamState::Sgd(s)) => Some(s),
                    _ => None,
                };
                let (t, s) = o.step(lr, tensor, grad, state);
                (t, s.map(ParamState::Sgd))
            }
        }
    }

    /// Applies one step to a Linear layer's weight and bias.
    pub(super) fn update_linear(
        &self,
        lr: f64,
        layer: Linear,
        (grad_w, grad_b): (Tensor<2>, Tensor<1>),
        state: &mut LinearState,
    ) -> Linear {
        let (id, w, mapper) = layer.weight.consume();
        let (w, sw) = self.step(lr, w, grad_w, state.0.take());
        state.0 = sw;
        let bias = layer.bias.map(|bias| {
            let (id, b, mapper) = bias.consume();
            let (b, sb) = self.step(lr, b, grad_b, state.1.take());
            state.1 = sb;
            Param::from_mapped_value(id, b, mapper)
        });
        Linear { weight: Param::from_mapped_value(id, w, mapper), bias }
    }
}
