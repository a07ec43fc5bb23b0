//! The protobuf messages TensorBoard reads, as far as sweep writes them:
//! `tensorboard/compat/proto/{event,summary,tensor}.proto`,
//! `tensorboard/plugins/hparams/{api,plugin_data}.proto` and
//! `google/protobuf/struct.proto`. Field numbers are those files'; fields
//! sweep never sets are left out (a reader skips absent fields, so the bytes
//! are the same as with the full messages).

use std::collections::BTreeMap;

/// `tensorboard.Event`: one record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The training step (here: the epoch).
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// `Event.what`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum What {
    /// The first event of every file: `brain.Event:2`.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Summary values.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorboard.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorboard.Summary.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SummaryValue {
    /// The tag, e.g. `valid/mcc`.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Which plugin the value is for, with its data.
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    /// The value.
    #[prost(oneof = "ValueKind", tags = "2, 8")]
    pub value: Option<ValueKind>,
}

/// `Summary.Value.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum ValueKind {
    /// A scalar (TensorBoard shows it in its Scalars and Time Series tabs).
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// A tensor (the HParams plugin's summaries carry an empty one).
    #[prost(message, tag = "8")]
    Tensor(TensorProto),
}

/// `tensorboard.SummaryMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SummaryMetadata {
    /// The plugin and its content.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
    /// `DataClass`: 2 is `DATA_CLASS_TENSOR`.
    #[prost(int32, tag = "4")]
    pub data_class: i32,
}

/// `tensorboard.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PluginData {
    /// E.g. `hparams`.
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    /// The plugin's own serialized message.
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// `tensorboard.TensorProto`, only what an empty float tensor needs.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorProto {
    /// `DataType`: 1 is `DT_FLOAT`.
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// The shape.
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShape>,
}

/// `tensorboard.TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorShape {
    /// One entry per dimension.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<TensorDim>,
}

/// `tensorboard.TensorShapeProto.Dim`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorDim {
    /// The dimension's size.
    #[prost(int64, tag = "1")]
    pub size: i64,
}

/// `tensorboard.hparams.HParamsPluginData`: the content of every `hparams` summary.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct HParamsPluginData {
    /// Always 0 (`PLUGIN_DATA_VERSION`).
    #[prost(int32, tag = "1")]
    pub version: i32,
    /// Which summary it is.
    #[prost(oneof = "HParamsData", tags = "2, 3, 4")]
    pub data: Option<HParamsData>,
}

/// `HParamsPluginData.data`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(super) enum HParamsData {
    /// The sweep: its hyperparameters and metrics.
    #[prost(message, tag = "2")]
    Experiment(Experiment),
    /// A trial's hyperparameter values.
    #[prost(message, tag = "3")]
    SessionStartInfo(SessionStartInfo),
    /// How a trial ended.
    #[prost(message, tag = "4")]
    SessionEndInfo(SessionEndInfo),
}

/// `tensorboard.hparams.Experiment`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Experiment {
    /// Free text.
    #[prost(string, tag = "1")]
    pub description: String,
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "3")]
    pub time_created_secs: f64,
    /// The hyperparameters (the HParams tab's columns).
    #[prost(message, repeated, tag = "4")]
    pub hparam_infos: Vec<HParamInfo>,
    /// The metrics (the HParams tab's metric columns).
    #[prost(message, repeated, tag = "5")]
    pub metric_infos: Vec<MetricInfo>,
    /// The experiment's name.
    #[prost(string, tag = "6")]
    pub name: String,
}

/// `tensorboard.hparams.DataType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataType {
    /// Unknown or mixed.
    Unset = 0,
    /// `DATA_TYPE_STRING`.
    String = 1,
    /// `DATA_TYPE_BOOL`.
    Bool = 2,
    /// `DATA_TYPE_FLOAT64`.
    Float64 = 3,
}

/// `tensorboard.hparams.HParamInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct HParamInfo {
    /// The parameter's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// What the spec says about it.
    #[prost(string, tag = "3")]
    pub description: String,
    /// Its value type.
    #[prost(enumeration = "DataType", tag = "4")]
    pub r#type: i32,
    /// Where its values come from.
    #[prost(oneof = "Domain", tags = "5, 6")]
    pub domain: Option<Domain>,
}

/// `HParamInfo.domain`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(super) enum Domain {
    /// The values a list (`values = [...]`) allows.
    #[prost(message, tag = "5")]
    Discrete(ListValue),
    /// The range a distribution draws from.
    #[prost(message, tag = "6")]
    Interval(Interval),
}

/// `tensorboard.hparams.Interval`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Interval {
    /// Lower bound.
    #[prost(double, tag = "1")]
    pub min_value: f64,
    /// Upper bound.
    #[prost(double, tag = "2")]
    pub max_value: f64,
}

/// `tensorboard.hparams.DatasetType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DatasetType {
    /// Neither.
    Unknown = 0,
    /// Measured on the training rows.
    Training = 1,
    /// Measured on the validation rows.
    Validation = 2,
}

/// `tensorboard.hparams.MetricInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct MetricInfo {
    /// The scalar the HParams tab reads, in each trial's run.
    #[prost(message, optional, tag = "1")]
    pub name: Option<MetricName>,
    /// What it is.
    #[prost(string, tag = "4")]
    pub description: String,
    /// Which rows it is measured on.
    #[prost(enumeration = "DatasetType", tag = "5")]
    pub dataset_type: i32,
}

/// `tensorboard.hparams.MetricName`: a scalar tag in a session's run (`group` empty).
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct MetricName {
    /// A subfolder of the session's run, or empty for the run itself.
    #[prost(string, tag = "1")]
    pub group: String,
    /// The scalar's tag.
    #[prost(string, tag = "2")]
    pub tag: String,
}

/// `tensorboard.hparams.SessionStartInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct SessionStartInfo {
    /// The trial's parameter values.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hparams: BTreeMap<String, Value>,
    /// Sessions with one group name are shown as one row.
    #[prost(string, tag = "4")]
    pub group_name: String,
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "5")]
    pub start_time_secs: f64,
}

/// `tensorboard.hparams.Status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Status {
    /// Unknown.
    Unknown = 0,
    /// Trained to the end (or stopped early, with a model).
    Success = 1,
    /// Failed or diverged.
    Failure = 2,
    /// Still running.
    Running = 3,
}

/// `tensorboard.hparams.SessionEndInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct SessionEndInfo {
    /// How the trial ended.
    #[prost(enumeration = "Status", tag = "1")]
    pub status: i32,
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "2")]
    pub end_time_secs: f64,
}

/// `google.protobuf.Value`, the kinds a parameter can have.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct Value {
    /// The value.
    #[prost(oneof = "Kind", tags = "2, 3, 4")]
    pub kind: Option<Kind>,
}

/// `Value.kind`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(super) enum Kind {
    /// Any number.
    #[prost(double, tag = "2")]
    Number(f64),
    /// A string.
    #[prost(string, tag = "3")]
    String(String),
    /// A boolean.
    #[prost(bool, tag = "4")]
    Bool(bool),
}

/// `google.protobuf.ListValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ListValue {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<Value>,
}
