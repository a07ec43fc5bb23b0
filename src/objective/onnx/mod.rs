//! ONNX graphs, built in code and written as `model.onnx` by
//! `sweep export --format onnx`.
//!
//! The seam: an objective's [`crate::objective::Model::onnx`] adds the nodes
//! of its own network to an [`OnnxGraph`], from the standardized feature rows
//! to its raw outputs, exactly what [`crate::objective::Model::predict`]
//! computes. Sweep puts the rest around it, the same for every objective: the
//! graph input of raw features, the standardization with the training split's
//! means and stds, and the head that turns raw outputs into what `sweep
//! predict` writes (softmax probabilities, or predictions in the target's
//! original units). So a user's objective writes only its layers, and the
//! preprocessing cannot drift from the one `predict` applies.
//!
//! Files are ONNX IR version [`IR_VERSION`] with operators from the default
//! domain at opset [`OPSET`]: what ONNX 1.12 defined, which onnxruntime 1.12 and later runs.
//! Encoded with hand-written prost messages (`proto.rs`): no protoc at build time.

pub(crate) mod proto;

use std::collections::BTreeSet;

use burn::nn::Linear;
use prost::Message;

use super::{TrialError, to_vec};
use proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto, attribute_type,
};

/// The ONNX IR version of the files written (ONNX 1.10 and later read it).
pub const IR_VERSION: i64 = 8;
/// The `ai.onnx` operator set the nodes come from.
pub const OPSET: i64 = 17;
/// The `ai.onnx.ml` domain, of the traditional-ML operators (`Imputer`, `OneHotEncoder`).
pub const ML_DOMAIN: &str = "ai.onnx.ml";
/// Its operator set: what `Imputer` and `OneHotEncoder` have been since ONNX 1.2.
pub const ML_OPSET: i64 = 1;

/// A node attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    /// A float (`alpha` of `Gemm`, ...).
    Float(f32),
    /// An integer (`axis`, `transB`, ...).
    Int(i64),
    /// A list of floats.
    Floats(Vec<f32>),
    /// A list of integers (`perm`, `kernel_shape`, ...).
    Ints(Vec<i64>),
    /// A string (`mode`, `auto_pad`, ...).
    String(String),
    /// A list of strings (`cats_strings`, ...).
    Strings(Vec<String>),
}

impl Attribute {
    fn proto(&self, name: &str) -> AttributeProto {
        let mut a = AttributeProto { name: Some(name.to_string()), ..AttributeProto::default() };
        match self {
            Attribute::Float(f) => (a.r#type, a.f) = (Some(attribute_type::FLOAT), Some(*f)),
            Attribute::Int(i) => (a.r#type, a.i) = (Some(attribute_type::INT), Some(*i)),
            Attribute::Floats(v) => (a.r#type, a.floats) = (Some(attribute_type::FLOATS), v.clone()),
            Attribute::Ints(v) => (a.r#type, a.ints) = (Some(attribute_type::INTS), v.clone()),
            Attribute::String(s) => (a.r#type, a.s) = (Some(attribute_type::STRING), Some(s.as_bytes().to_vec())),
            Attribute::Strings(v) => {
                (a.r#type, a.strings) =
                    (Some(attribute_type::STRINGS), v.iter().map(|s| s.as_bytes().to_vec()).collect())
            }
        }
        a
    }
}

/// One axis of a graph input's or output's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    /// Known size.
    Fixed(usize),
    /// Any size, named (`N` for the batch).
    Named(&'static str),
}

/// A graph under construction: constants (initializers) and nodes, each
/// referring only to values defined before it, so the nodes are in the
/// topological order ONNX requires. Every method returns the name of the
/// value it defines; pass those names on as inputs.
#[derive(Debug, Default)]
pub struct OnnxGraph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    defined: BTreeSet<String>,
    /// Whether a node of the `ai.onnx.ml` domain is in the graph (then the file imports its opset).
    uses_ml: bool,
}

impl OnnxGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a value of this name is defined (a graph input, a constant or a node's output).
    pub fn contains(&self, name: &str) -> bool {
        self.defined.contains(name)
    }

    /// `hint` if no value has that name yet, else `hint_2`, `hint_3`, ...
    fn fresh(&self, hint: &str) -> String {
        if !self.contains(hint) {
            return hint.to_string();
        }
        (2..).map(|i| format!("{hint}_{i}")).find(|n| !self.contains(n)).unwrap_or_default()
    }

    /// A float32 constant of shape `dims` (row-major `values`), named `name`
    /// (made unique); returns its name.
    pub fn constant(&mut self, name: &str, dims: &[usize], values: &[f32]) -> Result<String, TrialError> {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_constant(name, dims, values.len(), proto::FLOAT, raw)
    }

    /// An int64 constant (shapes for `Reshape`, axes, ...); returns its name.
    pub fn constant_i64(&mut self, name: &str, dims: &[usize], values: &[i64]) -> Result<String, TrialError> {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_constant(name, dims, values.len(), proto::INT64, raw)
    }

    fn add_constant(
        &mut self,
        name: &str,
        dims: &[usize],
        len: usize,
        data_type: i32,
        raw: Vec<u8>,
    ) -> Result<String, TrialError> {
        let expected: usize = dims.iter().product();
        if expected != len {
            return Err(TrialError::failed(format!(
                "ONNX constant \"{name}\": shape {dims:?} holds {expected} values, but {len} were given"
            )));
        }
        let name = self.fresh(name);
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(data_type),
            name: Some(name.clone()),
            raw_data: Some(raw),
        });
        self.defined.insert(name.clone());
        Ok(name)
    }

    /// A node of operator `op_type` (from the `ai.onnx` domain at opset
    /// [`OPSET`]) with one output; returns the output's name. An input that
    /// is not defined yet is an error: the nodes stay in topological order.
    /// An empty input name stands for an omitted optional input.
    pub fn node(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        attributes: &[(&str, Attribute)],
    ) -> Result<String, TrialError> {
        let output = self.fresh(&op_type.to_lowercase());
        self.node_as(op_type, inputs, attributes, &output)?;
        Ok(output)
    }

    /// A node of the `ai.onnx.ml` domain at [`ML_OPSET`] (`Imputer`, `OneHotEncoder`), with one output.
    pub(crate) fn ml_node(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        attributes: &[(&str, Attribute)],
    ) -> Result<String, TrialError> {
        let output = self.node(op_type, inputs, attributes)?;
        if let Some(node) = self.nodes.last_mut() {
            node.domain = Some(ML_DOMAIN.to_string());
        }
        self.uses_ml = true;
        Ok(output)
    }

    /// Like [`OnnxGraph::node`], with the output's name given: the names of the graph's outputs.
    pub(crate) fn node_as(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        attributes: &[(&str, Attribute)],
        output: &str,
    ) -> Result<(), TrialError> {
        if let Some(missing) = inputs.iter().find(|i| !i.is_empty() && !self.contains(i)) {
            return Err(TrialError::failed(format!(
                "ONNX node {op_type}: its input \"{missing}\" is not defined before it (defined: {})",
                self.defined.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        if self.contains(output) {
            return Err(TrialError::failed(format!("ONNX node {op_type}: value \"{output}\" is already defined")));
        }
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name: Some(format!("{op_type}_{}", self.nodes.len())),
            op_type: Some(op_type.to_string()),
            domain: None,
            attribute: attributes.iter().map(|(name, value)| value.proto(name)).collect(),
        });
        self.defined.insert(output.to_string());
        Ok(())
    }

    /// A Burn `Linear` (weights `[in, out]`, `y = x W + b`) applied to
    /// `input`, as one `Gemm` whose constants are named `{name}.weight` and
    /// `{name}.bias`; returns its output.
    pub fn linear(&mut self, input: &str, layer: &Linear, name: &str) -> Result<String, TrialError> {
        let weight = layer.weight.val();
        let dims = weight.dims();
        let w = self.constant(&format!("{name}.weight"), &dims, &to_vec(weight)?)?;
        let b = match &layer.bias {
            Some(bias) => {
                let bias = bias.val();
                let dims = bias.dims();
                self.constant(&format!("{name}.bias"), &dims, &to_vec(bias)?)?
            }
            None => String::new(),
        };
        let inputs: Vec<&str> = if b.is_empty() { vec![input, &w] } else { vec![input, &w, &b] };
        self.node("Gemm", &inputs, &[])
    }

    /// Declares a float32 graph input of this shape.
    pub(crate) fn input(&mut self, name: &str, dims: &[Dim]) -> Result<(), TrialError> {
        self.typed_input(name, dims, proto::FLOAT)
    }

    /// Declares a string graph input of this shape (a text column's cells).
    pub(crate) fn string_input(&mut self, name: &str, dims: &[Dim]) -> Result<(), TrialError> {
        self.typed_input(name, dims, proto::STRING)
    }

    fn typed_input(&mut self, name: &str, dims: &[Dim], elem_type: i32) -> Result<(), TrialError> {
        if self.contains(name) {
            return Err(TrialError::failed(format!("ONNX input \"{name}\" is already defined")));
        }
        self.inputs.push(value_info(name, dims, elem_type));
        self.defined.insert(name.to_string());
        Ok(())
    }

    /// Declares a defined value a float32 graph output of this shape.
    pub(crate) fn output(&mut self, name: &str, dims: &[Dim]) -> Result<(), TrialError> {
        if !self.contains(name) {
            return Err(TrialError::failed(format!("ONNX output \"{name}\" is not defined by any node")));
        }
        self.outputs.push(value_info(name, dims, proto::FLOAT));
        Ok(())
    }

    /// The model file: this graph, named `name`, with `metadata` as its metadata_props.
    pub(crate) fn into_model(self, name: &str, doc: &str, metadata: Vec<(String, String)>) -> ModelProto {
        ModelProto {
            ir_version: Some(IR_VERSION),
            opset_import: std::iter::once(OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) })
                .chain(
                    self.uses_ml
                        .then(|| OperatorSetIdProto { domain: Some(ML_DOMAIN.to_string()), version: Some(ML_OPSET) }),
                )
                .collect(),
            producer_name: Some("sweep".into()),
            producer_version: Some(env!("CARGO_PKG_VERSION").into()),
            domain: None,
            doc_string: Some(doc.to_string()),
            graph: Some(GraphProto {
                node: self.nodes,
                name: Some(name.to_string()),
                initializer: self.initializers,
                doc_string: None,
                input: self.inputs,
                output: self.outputs,
            }),
            metadata_props: metadata
                .into_iter()
                .map(|(k, v)| StringStringEntryProto { key: Some(k), value: Some(v) })
                .collect(),
        }
    }
}

fn value_info(name: &str, dims: &[Dim], elem_type: i32) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => Dimension { dim_value: Some(*n as i64), dim_param: None },
            Dim::Named(s) => Dimension { dim_value: None, dim_param: Some(s.to_string()) },
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto { elem_type: Some(elem_type), shape: Some(TensorShapeProto { dim }) }),
        }),
        doc_string: None,
    }
}

/// The protobuf bytes of a model: what `model.onnx` holds.
pub(crate) fn encode(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_refer_only_to_values_defined_before_them() {
        let mut g = OnnxGraph::new();
        g.input("x", &[Dim::Named("N"), Dim::Fixed(2)]).unwrap();
        let err = g.node("Relu", &["y"], &[]).unwrap_err().to_string();
        assert!(err.contains("\"y\" is not defined"), "{err}");
        let r = g.node("Relu", &["x"], &[]).unwrap();
        let r2 = g.node("Relu", &[&r], &[]).unwrap();
        assert_eq!((r.as_str(), r2.as_str()), ("relu", "relu_2"));
        assert!(g.constant("w", &[2, 3], &[0.0; 5]).is_err(), "6 values expected");
        let w = g.constant("w", &[2, 3], &[0.0; 6]).unwrap();
        assert_eq!(g.constant("w", &[1], &[1.0]).unwrap(), "w_2");
        g.node("MatMul", &[&r2, &w], &[]).unwrap();
        assert!(g.output("nope", &[]).is_err());
    }

    #[test]
    fn a_model_decodes_back_to_what_was_built() {
        let mut g = OnnxGraph::new();
        g.input("x", &[Dim::Named("N"), Dim::Fixed(2)]).unwrap();
        let c = g.constant("c", &[2], &[1.5, -2.0]).unwrap();
        let s = g.constant_i64("shape", &[1], &[-1]).unwrap();
        let y = g.node("Add", &["x", &c], &[]).unwrap();
        g.node_as("Softmax", &[&y], &[("axis", Attribute::Int(1))], "p").unwrap();
        g.node_as("Reshape", &["p", &s], &[], "flat").unwrap();
        g.output("p", &[Dim::Named("N"), Dim::Fixed(2)]).unwrap();
        let model = g.into_model("g", "doc", vec![("task".into(), "classification".into())]);
        let back = ModelProto::decode(encode(&model).as_slice()).unwrap();
        assert_eq!(back, model);
        assert_eq!(back.ir_version, Some(IR_VERSION));
        assert_eq!(back.opset_import[0].version, Some(OPSET));
        let graph = back.graph.unwrap();
        assert_eq!(graph.initializer[0].raw_data.as_deref(), Some(&[0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0][..]));
        assert_eq!(graph.node[1].attribute[0].i, Some(1));
        assert_eq!(graph.node[1].attribute[0].r#type, Some(attribute_type::INT));
        let shape = graph.input[0].r#type.as_ref().unwrap().tensor_type.as_ref().unwrap().shape.as_ref().unwrap();
        assert_eq!(shape.dim[0].dim_param.as_deref(), Some("N"));
        assert_eq!(shape.dim[1].dim_value, Some(2));
    }
}
