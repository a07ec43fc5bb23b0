//! A trial's parameters after resolution: every parameter of the objective's
//! schema with its value, read with typed getters.

use serde::de::DeserializeOwned;

use super::{ParamValue, Params};

/// A parameter could not be read as the objective asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// No parameter of that name: the objective asked for one its schema lacks.
    #[error("no parameter \"{name}\" (the objective's schema has: {known})")]
    Missing {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// The value has another type than the one asked for.
    #[error("parameter \"{name}\" is {value}, not {expected}")]
    Type {
        /// The parameter.
        name: String,
        /// What was asked for.
        expected: &'static str,
        /// What it holds.
        value: String,
    },
    /// The values do not fit the objective's own settings struct.
    #[error("the parameters do not fit the objective's settings: {0}")]
    Deserialize(String),
}

/// Every parameter of a trial, resolved from its swept values, the spec's
/// `[train]` and the schema's defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolvedParams {
    values: Params,
}

impl ResolvedParams {
    /// Wraps resolved values (see [`super::Schema::resolve`]).
    pub fn new(values: Params) -> Self {
        ResolvedParams { values }
    }

    /// Every value, by name.
    pub fn values(&self) -> &Params {
        &self.values
    }

    /// A value by name.
    pub fn get(&self, name: &str) -> Result<&ParamValue, ParamError> {
        self.values.get(name).ok_or_else(|| ParamError::Missing {
            name: name.to_string(),
            known: self.values.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    fn typed<T>(
        &self,
        name: &str,
        expected: &'static str,
        read: impl FnOnce(&ParamValue) -> Option<T>,
    ) -> Result<T, ParamError> {
        let value = self.get(name)?;
        read(value).ok_or_else(|| ParamError::Type { name: name.to_string(), expected, value: value.to_string() })
    }

    /// A real number (whole numbers count).
    pub fn f64(&self, name: &str) -> Result<f64, ParamError> {
        self.typed(name, "a number", ParamValue::as_f64)
    }

    /// A whole number.
    pub fn i64(&self, name: &str) -> Result<i64, ParamError> {
        self.typed(name, "a whole number", ParamValue::as_i64)
    }

    /// A whole number `>= 0`, as a size or a count.
    pub fn usize(&self, name: &str) -> Result<usize, ParamError> {
        self.typed(name, "a whole number >= 0", |v| v.as_i64().and_then(|i| usize::try_from(i).ok()))
    }

    /// `true` or `false`.
    pub fn bool(&self, name: &str) -> Result<bool, ParamError> {
        self.typed(name, "true or false", |v| match v {
            ParamValue::Bool(b) => Some(*b),
            _ => None,
        })
    }

    /// A name.
    pub fn str(&self, name: &str) -> Result<&str, ParamError> {
        let value = self.get(name)?;
        value.as_str().ok_or_else(|| ParamError::Type {
            name: name.to_string(),
            expected: "a name",
            value: value.to_string(),
        })
    }

    /// The maximum number of epochs (every schema has it).
    pub fn epochs(&self) -> Result<usize, ParamError> {
        self.usize(super::EPOCHS)
    }

    /// The values as the objective's own settings struct, by field name
    /// (serde), so an objective can keep its settings typed in one place.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ParamError> {
        let value = serde_json::to_value(&self.values).map_err(|e| ParamError::Deserialize(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| ParamError::Deserialize(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_say_what_went_wrong() {
        let r = ResolvedParams::new(Params::from([
            ("lr".to_string(), ParamValue::Float(0.1)),
            ("hidden".to_string(), ParamValue::Int(8)),
            ("opt".to_string(), ParamValue::Str("sgd".into())),
        ]));
        assert_eq!(r.f64("hidden").unwrap(), 8.0);
        assert_eq!(r.usize("hidden").unwrap(), 8);
        assert_eq!(r.str("opt").unwrap(), "sgd");
        assert_eq!(r.usize("lr").unwrap_err().to_string(), "parameter \"lr\" is 0.1, not a whole number >= 0");
        assert_eq!(
            r.f64("channels").unwrap_err().to_string(),
            "no parameter \"channels\" (the objective's schema has: hidden, lr, opt)"
        );

        #[derive(serde::Deserialize)]
        struct Settings {
            lr: f64,
            hidden: usize,
            opt: String,
        }
        let s: Settings = r.deserialize().unwrap();
        assert_eq!((s.lr, s.hidden, s.opt.as_str()), (0.1, 8, "sgd"));
    }
}
