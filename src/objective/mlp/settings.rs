//! The built-in MLP's parameters: its [`Schema`], and the typed settings a
//! trial's resolved parameters become.

use serde::{Deserialize, Serialize};

use crate::params::{ParamDef, ParamError, ResolvedParams, Schema};

/// Optimizers the MLP offers.
pub(crate) const OPTIMIZERS: &[&str] = &["adam", "adamw", "sgd"];

/// Every parameter of the MLP.
pub(crate) fn schema() -> Schema {
    Schema::new()
        .param(ParamDef::float("lr", 0.001, "learning rate").positive())
        .param(ParamDef::int("hidden", 64, 1..=65_536, "width of each hidden layer"))
        .param(ParamDef::int("layers", 1, 0..=64, "hidden layers (0 = a linear model)"))
        .param(ParamDef::float("dropout", 0.0, "dropout after each hidden layer").fraction())
        .param(ParamDef::int("batch_size", 64, 1..=1 << 24, "mini-batch size"))
        .param(ParamDef::float("weight_decay", 0.0, "L2 penalty (decoupled for adamw)").non_negative())
        .param(ParamDef::choice("optimizer", "adam", OPTIMIZERS, "the optimizer"))
        .param(ParamDef::float("momentum", 0.9, "momentum of sgd (0 = none)").fraction())
}

/// A trial's MLP settings, read from its resolved parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MlpSettings {
    /// Learning rate.
    pub lr: f64,
    /// Width of each hidden layer.
    pub hidden: usize,
    /// Number of hidden layers (0 gives a linear model).
    pub layers: usize,
    /// Dropout probability after each hidden layer.
    pub dropout: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// L2 penalty (decoupled for adamw).
    pub weight_decay: f64,
    /// `adam`, `adamw` or `sgd`.
    pub optimizer: String,
    /// Momentum for `sgd`.
    pub momentum: f64,
    /// Maximum number of epochs.
    pub epochs: usize,
}

impl MlpSettings {
    /// The settings in `params` (every parameter of [`schema`]).
    pub(crate) fn from_params(params: &ResolvedParams) -> Result<Self, ParamError> {
        params.deserialize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{ParamValue, Params};

    #[test]
    fn resolved_parameters_become_typed_settings() {
        let fixed = Params::from([("epochs".to_string(), ParamValue::Int(30))]);
        let swept = Params::from([("lr".to_string(), ParamValue::Float(0.01)), ("optimizer".into(), "sgd".into())]);
        let s = MlpSettings::from_params(&schema().resolve(&fixed, &swept)).unwrap();
        assert_eq!((s.lr, s.epochs, s.hidden, s.optimizer.as_str()), (0.01, 30, 64, "sgd"));
        assert!(schema().check().is_ok());
    }
}
