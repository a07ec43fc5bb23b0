//! The MLP's training step on the CPU as loops over flat `f32` buffers.
//!
//! On flex, `network::manual_gradients` and Burn's optimizers are some forty tensor operations a
//! step, each with an allocation, layout checks and dispatch; on the digits grid those cost more
//! than the matrix products themselves. This file does the same arithmetic in the same order: the
//! products through flex's own kernel, called as flex calls it (`gemm.rs`), and every element-wise
//! operation and sum as flex computes it (flex is built without its `simd` feature: plain loops,
//! sums from left to right). A trial's checkpoints therefore stay bit for bit those of the tensor
//! path, which the tests check for every optimizer and both tasks. GPUs keep the tensor path.

use std::collections::BTreeMap;

use super::gemm::{View, matmul};
use super::network::InitialLayer;
use super::optimizer::{BETA_1, BETA_2, EPSILON};
use super::settings::MlpSettings;

/// The version `Cargo.toml` pins Burn to, which Burn writes into every checkpoint's metadata
/// (the fused-against-tensor test compares the files byte for byte, so a new Burn shows here).
const BURN_VERSION: &str = "0.22.1";

/// One Linear layer: `w` is `d_in × d_out`, row-major (Burn's layout).
#[derive(Debug, Clone, PartialEq)]
struct Dense {
    d_in: usize,
    d_out: usize,
    w: Vec<f32>,
    b: Vec<f32>,
}

/// The network's layers, hidden ones first, the head last.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FusedMlp {
    layers: Vec<Dense>,
}

impl FusedMlp {
    /// The network with these initial values.
    pub(super) fn new(layers: Vec<InitialLayer>) -> Self {
        FusedMlp {
            layers: layers.into_iter().map(|l| Dense { d_in: l.d_in, d_out: l.d_out, w: l.w, b: l.b }).collect(),
        }
    }

    /// The weights as the safetensors file `weights::save` writes for the same `Mlp` (Burn's
    /// names, its tensor order by name, its own `format`/`producer`/`version` metadata beside
    /// `metadata`), with the header's keys sorted as the store writes every checkpoint. Going
    /// through Burn copied a wide network's weights three times per save.
    pub(super) fn safetensors(&self, metadata: &BTreeMap<String, String>) -> Vec<u8> {
        let hidden = self.layers.len().saturating_sub(1);
        let mut tensors: Vec<(String, Vec<usize>, &[f32])> = Vec::with_capacity(2 * self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let name = if i < hidden { format!("hidden.{i}") } else { "out".to_string() };
            tensors.push((format!("{name}.weight"), vec![layer.d_in, layer.d_out], &layer.w));
            tensors.push((format!("{name}.bias"), vec![layer.d_out], &layer.b));
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let mut header = serde_json::Map::new();
        let mut meta: serde_json::Map<String, serde_json::Value> =
            metadata.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
        for (k, v) in [("format", "safetensors"), ("producer", "burn"), ("version", BURN_VERSION)] {
            meta.insert(k.into(), v.into());
        }
        header.insert("__metadata__".into(), meta.into());
        let mut offset = 0;
        for (name, shape, values) in &tensors {
            let end = offset + 4 * values.len();
            header.insert(
                name.clone(),
                serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, end] }),
            );
            offset = end;
        }
        let mut head = serde_json::Value::Object(header).to_string().into_bytes();
        while !head.len().is_multiple_of(8) {
            head.push(b' ');
        }
        let mut out = Vec::with_capacity(8 + head.len() + offset);
        out.extend_from_slice(&(head.len() as u64).to_le_bytes());
        out.extend_from_slice(&head);
        for (_, _, values) in &tensors {
            for v in values.iter() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// The network a checkpoint of this MLP holds (the file [`FusedMlp::safetensors`] or
    /// `weights::save` writes), for layers of widths `d_in`, then `hidden` × `layers`, then
    /// `n_out`. Every tensor must be there, in `F32` and of its shape, and nothing else.
    pub(super) fn from_safetensors(
        bytes: &[u8],
        d_in: usize,
        hidden: usize,
        layers: usize,
        n_out: usize,
    ) -> Result<Self, String> {
        let (header, data) =
            crate::store::safetensors_parts(bytes).ok_or("the file is shorter than its header says")?;
        let mut header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| format!("its header is not JSON: {e}"))?;
        header.remove("__metadata__");
        let mut tensor = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
            let t = header.remove(name).ok_or_else(|| format!("`{name}` is missing"))?;
            let found: Option<Vec<usize>> = t["shape"]
                .as_array()
                .and_then(|a| a.iter().map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok())).collect());
            if found.as_deref() != Some(shape) {
                return Err(format!("`{name}` has shape {}, expected {shape:?}", t["shape"]));
            }
            if t["dtype"] != "F32" {
                return Err(format!("`{name}` has dtype {}, expected \"F32\"", t["dtype"]));
            }
            let offset = |i: usize| t["data_offsets"][i].as_u64().and_then(|o| usize::try_from(o).ok());
            let elements: usize = shape.iter().product();
            let values = match (offset(0), offset(1)) {
                (Some(start), Some(end)) if end.checked_sub(start) == Some(4 * elements) => data.get(start..end),
                _ => None,
            }
            .ok_or_else(|| {
                format!("`{name}`'s data offsets {} do not fit its shape and the file", t["data_offsets"])
            })?;
            Ok(values.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        };
        let mut dense = Vec::with_capacity(layers + 1);
        let mut width = d_in;
        for i in 0..=layers {
            let (name, d_out) = if i < layers { (format!("hidden.{i}"), hidden) } else { ("out".to_string(), n_out) };
            let w = tensor(&format!("{name}.weight"), &[width, d_out])?;
            let b = tensor(&format!("{name}.bias"), &[d_out])?;
            dense.push(Dense { d_in: width, d_out, w, b });
            width = d_out;
        }
        if let Some(extra) = header.keys().next() {
            return Err(format!("`{extra}` is not a tensor of this model"));
        }
        Ok(FusedMlp { layers: dense })
    }

    /// Outputs for `rows` rows of `x`, without dropout: `Mlp::forward(x, None)`. The two
    /// buffers are reused from call to call (a wide layer's would otherwise be fresh pages
    /// every epoch); the outputs are left in the first.
    pub(super) fn forward(&self, x: &[f32], rows: usize, buffers: &mut (Vec<f32>, Vec<f32>)) {
        let (out, scratch) = buffers;
        for (i, layer) in self.layers.iter().enumerate() {
            scratch.resize(rows * layer.d_out, 0.0);
            layer.apply(if i == 0 { x } else { out }, rows, scratch);
            if i + 1 < self.layers.len() {
                scratch.iter_mut().for_each(|v| *v = relu(*v));
            }
            std::mem::swap(out, scratch);
        }
    }
}

impl Dense {
    /// `z = a·w + b` for `rows` rows: flex's `linear` (a matmul, then the bias broadcast-added).
    fn apply(&self, a: &[f32], rows: usize, z: &mut [f32]) {
        matmul(z, View::rows(a, rows, self.d_in), View::rows(&self.w, self.d_in, self.d_out));
        for row in z[..rows * self.d_out].chunks_exact_mut(self.d_out) {
            for (v, b) in row.iter_mut().zip(&self.b) {
                *v += b;
            }
        }
    }
}

/// Flex's ReLU: NaN passes through, as in PyTorch.
fn relu(x: f32) -> f32 {
    if x.is_nan() || x > 0.0 { x } else { 0.0 }
}

/// How the optimizer the settings name updates one parameter tensor, with Burn's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    /// Adam with L2 weight decay added to the gradient.
    Adam { decay: Option<f32> },
    /// AdamW: decoupled weight decay.
    AdamW { weight_decay: f32 },
    /// SGD, with momentum (no dampening, no Nesterov) and L2 weight decay.
    Sgd { momentum: Option<f32>, decay: Option<f32> },
}

impl Rule {
    fn new(s: &MlpSettings) -> Self {
        let decay = (s.weight_decay > 0.0).then_some(s.weight_decay as f32);
        match s.optimizer.as_str() {
            "adamw" => Rule::AdamW { weight_decay: s.weight_decay as f32 },
            "sgd" => Rule::Sgd { momentum: (s.momentum > 0.0).then_some(s.momentum as f32), decay },
            _ => Rule::Adam { decay },
        }
    }
}

/// One parameter tensor's optimizer state: Adam's and AdamW's moments, or SGD's velocity in
/// `first`; `steps` taken so far (0: nothing set yet).
#[derive(Debug, Clone, Default, PartialEq)]
struct Slot {
    first: Vec<f32>,
    second: Vec<f32>,
    steps: i32,
}

/// Adam's moment update (burn-optim's `AdaptiveMomentum::transform`: the first step sets the
/// moments, later ones blend them in), then `step(w, m, v)` as the new weight, in one pass. The
/// branch sits outside the loops so that each vectorises.
#[inline(always)]
fn adam_pass(w: &mut [f32], g: &[f32], slot: &mut Slot, first: bool, step: impl Fn(f32, f32, f32) -> f32) {
    let (f1, f2) = (1.0 - BETA_1, 1.0 - BETA_2);
    slot.first.resize(w.len(), 0.0);
    slot.second.resize(w.len(), 0.0);
    let each = w.iter_mut().zip(g).zip(slot.first.iter_mut().zip(slot.second.iter_mut()));
    if first {
        for ((w, g), (m, v)) in each {
            *m = g * f1;
            *v = (g * g) * f2;
            *w = step(*w, *m, *v);
        }
    } else {
        for ((w, g), (m, v)) in each {
            *m = *m * BETA_1 + g * f1;
            *v = *v * BETA_2 + (g * g) * f2;
            *w = step(*w, *m, *v);
        }
    }
}

/// Applies one step of `rule` to `w` with gradient `g` (used as scratch): burn-optim's
/// `Adam::step`, `AdamW::step` and `Sgd::step`, operation by operation. Scalars reach flex's
/// scalar ops as f32, as Burn passes them (`lr` is an f64 cast once).
///
/// The loops run inside a function compiled for the widest vector instructions the CPU has
/// (`pulp`'s dispatch; AVX2 on most x86 machines, against the build's SSE2 baseline): Adam's
/// square root and division per element cost a tenth of a digits trial at SSE2's width. Each
/// element is computed exactly as the scalar code computes it: LLVM never fuses a multiply and
/// an add unless told to, and nothing here tells it.
fn update(rule: Rule, lr: f64, w: &mut [f32], g: &mut [f32], slot: &mut Slot) {
    pulp::Arch::new().dispatch(Update { rule, lr, w, g, slot });
}

/// [`update`]'s arguments, for `pulp` to run it in a function compiled for the CPU's features
/// (a closure is not inlined there, and would keep the baseline's instructions).
struct Update<'a> {
    rule: Rule,
    lr: f64,
    w: &'a mut [f32],
    g: &'a mut [f32],
    slot: &'a mut Slot,
}

impl pulp::WithSimd for Update<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        update_here(self.rule, self.lr, self.w, self.g, self.slot);
    }
}

#[inline(always)]
fn update_here(rule: Rule, lr: f64, w: &mut [f32], g: &mut [f32], slot: &mut Slot) {
    let lr32 = lr as f32;
    let first = slot.steps == 0;
    slot.steps += 1;
    let time = slot.steps;
    let l2 = |g: &mut [f32], w: &[f32], penalty: f32| {
        for (g, w) in g.iter_mut().zip(w) {
            *g += w * penalty;
        }
    };
    match rule {
        Rule::Adam { decay } => {
            if let Some(p) = decay {
                l2(g, w, p);
            }
            let bias_correction2_sqrt = (1.0 - BETA_2.powi(time)).sqrt();
            let combined = bias_correction2_sqrt / (1.0 - BETA_1.powi(time));
            let eps = EPSILON * bias_correction2_sqrt;
            adam_pass(w, g, slot, first, |w, m, v| w - ((m * combined) / (v.sqrt() + eps)) * lr32);
        }
        Rule::AdamW { weight_decay } => {
            let (c1, c2) = (1.0 - BETA_1.powi(time), 1.0 - BETA_2.powi(time));
            let decay_rate = lr * f64::from(weight_decay);
            let (decays, keep) = (decay_rate != 0.0, (1.0 - decay_rate) as f32);
            adam_pass(w, g, slot, first, |w, m, v| {
                let step = (m / c1) / ((v / c2).sqrt() + EPSILON);
                (if decays { w * keep } else { w }) - step * lr32
            });
        }
        Rule::Sgd { momentum, decay } => {
            if let Some(p) = decay {
                l2(g, w, p);
            }
            if let Some(mu) = momentum {
                if first {
                    slot.first = g.to_vec();
                } else {
                    for (v, g) in slot.first.iter_mut().zip(g.iter_mut()) {
                        // (1 − dampening) with dampening 0, as Burn multiplies it.
                        *v = *g * 1.0 + *v * mu;
                        *g = *v;
                    }
                }
            }
            for (w, g) in w.iter_mut().zip(g.iter()) {
                *w -= g * lr32;
            }
        }
    }
}

/// What a batch's loss compares the outputs with.
#[derive(Debug, Clone, Copy)]
pub(super) enum Head {
    /// Softmax cross-entropy against one-hot rows.
    CrossEntropy,
    /// Squared error against standardized values.
    SquaredError,
}

/// The network, its optimizer state, and the buffers a step reuses.
pub(super) struct FusedStepper {
    pub(super) net: FusedMlp,
    rule: Rule,
    /// (weight, bias) per layer.
    slots: Vec<(Slot, Slot)>,
    head: Head,
    /// Inputs of each layer: the batch's rows, then each hidden layer's activations.
    inputs: Vec<Vec<f32>>,
    /// ReLU's derivative (0 or 1) per hidden layer.
    gates: Vec<Vec<f32>>,
    outputs: Vec<f32>,
    /// The gradient flowing back, and the one being formed for the layer below.
    grad: Vec<f32>,
    grad_below: Vec<f32>,
    /// Each layer's (dW, db).
    grads: Vec<(Vec<f32>, Vec<f32>)>,
}

impl FusedStepper {
    pub(super) fn new(net: FusedMlp, settings: &MlpSettings, head: Head) -> Self {
        let slots = net.layers.iter().map(|_| (Slot::default(), Slot::default())).collect();
        let grads = net.layers.iter().map(|l| (vec![0.0; l.d_in * l.d_out], vec![0.0; l.d_out])).collect();
        FusedStepper {
            rule: Rule::new(settings),
            slots,
            head,
            inputs: vec![Vec::new(); net.layers.len()],
            gates: vec![Vec::new(); net.layers.len().saturating_sub(1)],
            outputs: Vec::new(),
            grad: Vec::new(),
            grad_below: Vec::new(),
            grads,
            net,
        }
    }

    /// The batch's rows go here before [`FusedStepper::step`] (`batch × d_in`).
    pub(super) fn batch_input(&mut self) -> &mut Vec<f32> {
        &mut self.inputs[0]
    }

    /// One step on the `batch` rows in [`FusedStepper::batch_input`], against `targets`
    /// (`batch × outputs`), with a dropout mask per hidden layer: `manual_gradients`, then
    /// the optimizer on every weight and bias. Returns the batch's loss.
    pub(super) fn step(&mut self, batch: usize, targets: &[f32], masks: Option<&[Vec<f32>]>, lr: f64) -> f32 {
        let hidden = self.net.layers.len() - 1;
        for l in 0..hidden {
            let layer = &self.net.layers[l];
            let (below, above) = self.inputs.split_at_mut(l + 1);
            let z = &mut above[0];
            z.resize(batch * layer.d_out, 0.0);
            layer.apply(&below[l], batch, z);
            let gate = &mut self.gates[l];
            gate.resize(z.len(), 0.0);
            // ReLU's 0/1 derivative, then the activation (masked): one pass.
            let each = z.iter_mut().zip(gate.iter_mut());
            match masks.and_then(|m| m.get(l)) {
                Some(mask) => each.zip(mask).for_each(|((v, g), m)| {
                    *g = if *v > 0.0 { 1.0 } else { 0.0 };
                    *v = relu(*v) * m;
                }),
                None => each.for_each(|(v, g)| {
                    *g = if *v > 0.0 { 1.0 } else { 0.0 };
                    *v = relu(*v);
                }),
            }
        }
        let head = &self.net.layers[hidden];
        let k = head.d_out;
        self.outputs.resize(batch * k, 0.0);
        head.apply(&self.inputs[hidden], batch, &mut self.outputs);

        self.grad.resize(batch * k, 0.0);
        let loss = match self.head {
            Head::CrossEntropy => cross_entropy(&self.outputs, targets, k, batch, &mut self.grad),
            Head::SquaredError => squared_error(&self.outputs, targets, batch, &mut self.grad),
        };

        for l in (0..=hidden).rev() {
            let layer = &self.net.layers[l];
            let (dw, db) = &mut self.grads[l];
            let a = View::rows(&self.inputs[l], batch, layer.d_in);
            matmul(dw, a.t(), View::rows(&self.grad, batch, layer.d_out));
            column_sums(&self.grad, layer.d_out, db);
            if l == 0 {
                break;
            }
            let below = self.net.layers[l - 1].d_out;
            self.grad_below.resize(batch * below, 0.0);
            matmul(
                &mut self.grad_below,
                View::rows(&self.grad, batch, layer.d_out),
                View::rows(&layer.w, layer.d_in, layer.d_out).t(),
            );
            // Through the mask, then the ReLU gate, as (g·mask)·gate: one pass.
            let each = self.grad_below.iter_mut().zip(&self.gates[l - 1]);
            match masks.and_then(|m| m.get(l - 1)) {
                Some(mask) => each.zip(mask).for_each(|((g, gate), m)| *g = (*g * m) * gate),
                None => each.for_each(|(g, gate)| *g *= gate),
            }
            std::mem::swap(&mut self.grad, &mut self.grad_below);
        }

        for ((layer, (dw, db)), (sw, sb)) in self.net.layers.iter_mut().zip(&mut self.grads).zip(&mut self.slots) {
            update(self.rule, lr, &mut layer.w, dw, sw);
            update(self.rule, lr, &mut layer.b, db, sb);
        }
        loss
    }
}

/// `log_softmax` (flex's row max, shift, exp, row sum, log), the loss `Σ(log p · onehot) / −B`,
/// and its gradient `(exp(log p) − onehot) / B` into `grad`.
fn cross_entropy(outputs: &[f32], onehot: &[f32], k: usize, batch: usize, grad: &mut [f32]) -> f32 {
    let b = batch as f32;
    for (row, out) in grad.chunks_exact_mut(k).zip(outputs.chunks_exact(k)) {
        let mut max = out[0];
        for &v in out {
            if v.is_nan() {
                max = f32::NAN;
                break;
            }
            if v > max {
                max = v;
            }
        }
        let mut sum = -0.0f32;
        for (g, &v) in row.iter_mut().zip(out) {
            *g = v - max;
            sum += g.exp();
        }
        let log_sum = sum.ln();
        row.iter_mut().for_each(|g| *g -= log_sum);
    }
    // `grad` holds log p here; Burn sums the product over the whole batch from left to right.
    let loss = grad.iter().zip(onehot).fold(-0.0f32, |acc, (lp, t)| acc + lp * t) / -b;
    for (g, t) in grad.iter_mut().zip(onehot) {
        *g = (g.exp() - t) / b;
    }
    loss
}

/// The loss `Σ(out − y)² / B` and its gradient `(out − y) · (2 / B)` into `grad`.
fn squared_error(outputs: &[f32], y: &[f32], batch: usize, grad: &mut [f32]) -> f32 {
    let scale = 2.0 / batch as f32;
    let mut sum = -0.0f32;
    for ((g, o), y) in grad.iter_mut().zip(outputs).zip(y) {
        let diff = o - y;
        sum += diff * diff;
        *g = diff * scale;
    }
    sum / batch as f32
}

/// `sum_dim(0)` of a row-major `rows × cols` matrix: flex adds row after row onto zeros.
fn column_sums(m: &[f32], cols: usize, out: &mut [f32]) {
    out.iter_mut().for_each(|v| *v = 0.0);
    for row in m.chunks_exact(cols) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}
