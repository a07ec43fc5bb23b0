//! The training settings of the built-in MLP objective: their names, types,
//! allowed ranges and defaults. The spec validator checks `[train]` and
//! `[parameters]` against this schema, and the trainer resolves a trial's
//! settings from it, so both always agree on what a setting means.

use serde::{Deserialize, Serialize};

use crate::params::{ParamValue, Params};

/// What values a setting accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SettingKind {
    /// A real number strictly greater than zero.
    PositiveFloat,
    /// A real number `>= 0`.
    NonNegativeFloat,
    /// A real number in `[0, 1)`.
    Fraction,
    /// A whole number in `min..=max`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// One of a fixed set of names.
    Choice(&'static [&'static str]),
}

/// One training setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Its key in `[train]` and `[parameters]`.
    pub name: &'static str,
    /// The values it accepts.
    pub kind: SettingKind,
    /// Its value when the spec does not set it.
    pub default: DefaultValue,
}

/// A setting's default, as a compile-time constant.
#[derive(Debug, Clone, Copy)]
pub enum DefaultValue {
    /// A real number.
    Float(f64),
    /// A whole number.
    Int(i64),
    /// A name.
    Str(&'static str),
}

impl DefaultValue {
    fn value(self) -> ParamValue {
        match self {
            DefaultValue::Float(v) => ParamValue::Float(v),
            DefaultValue::Int(v) => ParamValue::Int(v),
            DefaultValue::Str(v) => ParamValue::Str(v.to_string()),
        }
    }
}

/// Optimizers the built-in trainer offers.
pub const OPTIMIZERS: &[&str] = &["adam", "adamw", "sgd"];

/// Every setting of the built-in MLP trainer.
pub const SETTINGS: &[Setting] = &[
    Setting { name: "lr", kind: SettingKind::PositiveFloat, default: DefaultValue::Float(0.001) },
    Setting { name: "hidden", kind: SettingKind::Int { min: 1, max: 65_536 }, default: DefaultValue::Int(64) },
    Setting { name: "layers", kind: SettingKind::Int { min: 0, max: 64 }, default: DefaultValue::Int(1) },
    Setting { name: "dropout", kind: SettingKind::Fraction, default: DefaultValue::Float(0.0) },
    Setting { name: "batch_size", kind: SettingKind::Int { min: 1, max: 1 << 24 }, default: DefaultValue::Int(64) },
    Setting { name: "weight_decay", kind: SettingKind::NonNegativeFloat, default: DefaultValue::Float(0.0) },
    Setting { name: "optimizer", kind: SettingKind::Choice(OPTIMIZERS), default: DefaultValue::Str("adam") },
    Setting { name: "momentum", kind: SettingKind::Fraction, default: DefaultValue::Float(0.9) },
    Setting { name: "epochs", kind: SettingKind::Int { min: 1, max: 1_000_000 }, default: DefaultValue::Int(10) },
];

/// Looks a setting up by name.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The names of all settings, for "expected one of" messages.
pub fn setting_names() -> String {
    SETTINGS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

impl SettingKind {
    /// Checks a value and converts it to the setting's canonical type
    /// (an integer `64` given for `lr` becomes the float `64.0`).
    /// The error text says what was expected.
    pub fn coerce(&self, value: &ParamValue) -> Result<ParamValue, String> {
        match *self {
            SettingKind::PositiveFloat | SettingKind::NonNegativeFloat | SettingKind::Fraction => {
                let Some(v) = value.as_f64() else {
                    return Err(format!("expected a number, got the {} {value:?}", value.type_name()));
                };
                let ok = v.is_finite()
                    && match self {
                        SettingKind::PositiveFloat => v > 0.0,
                        SettingKind::NonNegativeFloat => v >= 0.0,
                        _ => (0.0..1.0).contains(&v),
                    };
                if ok { Ok(ParamValue::Float(v)) } else { Err(format!("got {v}, expected {}", self.describe())) }
            }
            SettingKind::Int { min, max } => match value.as_i64() {
                Some(v) if (min..=max).contains(&v) => Ok(ParamValue::Int(v)),
                _ => Err(format!("got {}, expected {}", render(value), self.describe())),
            },
            SettingKind::Choice(names) => match value.as_str() {
                Some(s) if names.contains(&s) => Ok(ParamValue::Str(s.to_string())),
                _ => Err(format!("got {}, expected {}", render(value), self.describe())),
            },
        }
    }

    /// What the setting accepts, in words.
    pub fn describe(&self) -> String {
        match self {
            SettingKind::PositiveFloat => "a number > 0".into(),
            SettingKind::NonNegativeFloat => "a number >= 0".into(),
            SettingKind::Fraction => "a number in [0, 1)".into(),
            SettingKind::Int { min, max } => format!("a whole number from {min} to {max}"),
            SettingKind::Choice(names) => {
                format!("one of {}", names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "))
            }
        }
    }

    /// Whether numeric distributions (`uniform`, `log_uniform_values`, `int_uniform`) make sense.
    pub fn is_numeric(&self) -> bool {
        !matches!(self, SettingKind::Choice(_))
    }

    /// Whether the setting takes whole numbers only.
    pub fn is_int(&self) -> bool {
        matches!(self, SettingKind::Int { .. })
    }
}

fn render(value: &ParamValue) -> String {
    match value {
        ParamValue::Str(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

/// The resolved training settings of one trial: defaults, overridden by
/// `[train]`, overridden by the trial's swept params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// Learning rate.
    pub lr: f64,
    /// Width of each hidden layer.
    pub hidden: usize,
    /// Number of hidden layers (0 gives a linear classifier).
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

impl TrainSettings {
    /// Resolves settings: each from `params`, else `fixed`, else its default.
    /// Both maps hold values already checked by the spec validator.
    pub fn resolve(fixed: &Params, params: &Params) -> Self {
        let get = |name: &str| -> ParamValue {
            params
                .get(name)
                .or_else(|| fixed.get(name))
                .cloned()
                .or_else(|| setting(name).map(|s| s.default.value()))
                .unwrap_or(ParamValue::Int(0))
        };
        let float = |name: &str| get(name).as_f64().unwrap_or(0.0);
        let int = |name: &str| get(name).as_i64().unwrap_or(0).max(0) as usize;
        TrainSettings {
            lr: float("lr"),
            hidden: int("hidden"),
            layers: int("layers"),
            dropout: float("dropout"),
            batch_size: int("batch_size").max(1),
            weight_decay: float("weight_decay"),
            optimizer: get("optimizer").as_str().unwrap_or("adam").to_string(),
            momentum: float("momentum"),
            epochs: int("epochs").max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercion_checks_ranges_and_types() {
        let lr = setting("lr").unwrap().kind;
        assert_eq!(lr.coerce(&ParamValue::Int(1)), Ok(ParamValue::Float(1.0)));
        assert!(lr.coerce(&ParamValue::Float(0.0)).unwrap_err().contains("> 0"));
        let hidden = setting("hidden").unwrap().kind;
        assert_eq!(hidden.coerce(&ParamValue::Float(64.0)), Ok(ParamValue::Int(64)));
        assert!(hidden.coerce(&ParamValue::Float(64.5)).is_err());
        let opt = setting("optimizer").unwrap().kind;
        assert!(opt.coerce(&ParamValue::Str("rmsprop".into())).unwrap_err().contains("\"adamw\""));
        let dropout = setting("dropout").unwrap().kind;
        assert!(dropout.coerce(&ParamValue::Float(1.0)).is_err());
    }

    #[test]
    fn params_override_fixed_override_defaults() {
        let mut fixed = Params::new();
        fixed.insert("epochs".into(), ParamValue::Int(30));
        fixed.insert("lr".into(), ParamValue::Float(0.5));
        let mut params = Params::new();
        params.insert("lr".into(), ParamValue::Float(0.01));
        let s = TrainSettings::resolve(&fixed, &params);
        assert_eq!(s.lr, 0.01);
        assert_eq!(s.epochs, 30);
        assert_eq!(s.hidden, 64);
        assert_eq!(s.optimizer, "adam");
    }
}
