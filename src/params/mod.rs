//! Hyperparameters: their values as the planner hands them to a trial, the
//! [`Schema`] an objective declares them with, and the [`ResolvedParams`] a
//! trainer reads them from.
//!
//! Params live in a `BTreeMap` so that every rendering of them (ids, hashes,
//! CSV columns, JSON) has one stable order, whatever order the spec used.

mod resolved;
mod schema;

pub use resolved::{ParamError, ResolvedParams};
pub(crate) use schema::RESERVED;
pub use schema::{Bound, EPOCHS, ParamDef, ParamKind, Schema};

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One hyperparameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A whole number, e.g. `hidden = 128`.
    Int(i64),
    /// A real number, e.g. `lr = 0.003`.
    Float(f64),
    /// A boolean flag.
    Bool(bool),
    /// A name, e.g. `optimizer = "adam"`.
    Str(String),
}

impl ParamValue {
    /// The value as a real number, if it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(v) => Some(*v as f64),
            ParamValue::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a whole number, if it is one (a float with no fraction counts).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ParamValue::Int(v) => Some(*v),
            ParamValue::Float(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(*v as i64),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamValue::Int(_) => "integer",
            ParamValue::Float(_) => "float",
            ParamValue::Bool(_) => "boolean",
            ParamValue::Str(_) => "string",
        }
    }
}

impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        ParamValue::Float(v)
    }
}

impl From<i64> for ParamValue {
    fn from(v: i64) -> Self {
        ParamValue::Int(v)
    }
}

impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Bool(v)
    }
}

impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        ParamValue::Str(v.to_string())
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            // Debug on f64 prints the shortest text that parses back to the same
            // bits, with an exponent for very large or small values (1e30, not 31 digits).
            ParamValue::Float(v) => write!(f, "{v:?}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Str(s) => write!(f, "{s}"),
        }
    }
}

/// The hyperparameters of one trial, by name.
pub type Params = BTreeMap<String, ParamValue>;

/// A short, stable hash of a parameter set: the first 8 hex digits of the
/// SHA-256 of its canonical JSON.
pub(crate) fn params_hash(params: &Params) -> String {
    let canonical = serde_json::to_string(params).unwrap_or_default();
    canonical_hash(canonical.as_bytes())
}

/// [`params_hash`] of params already serialised to their canonical JSON
/// (`serde_json` of the map), for a caller that needs that JSON anyway.
pub(crate) fn canonical_hash(canonical: &[u8]) -> String {
    hex(&Sha256::digest(canonical)[..4])
}

/// Lower-case hex of some bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Renders params as `lr=0.003 hidden=128` for tables and messages, with
/// floats cut to 4 significant digits so random-search values stay readable.
pub(crate) fn params_display(params: &Params) -> String {
    params
        .iter()
        .map(|(k, v)| match v {
            ParamValue::Float(x) => format!("{k}={}", short_float(*x)),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// 4 significant digits: `0.003`, `0.1163`, `1.5e-5`.
pub(crate) fn short_float(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let text = if (1e-3..1e5).contains(&x.abs()) {
        let decimals = (3 - x.abs().log10().floor() as i32).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        return format!("{x:.3e}").replace(".000e", "e");
    };
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_order_independent() {
        let mut a = Params::new();
        a.insert("lr".into(), ParamValue::Float(0.001));
        a.insert("hidden".into(), ParamValue::Int(64));
        let mut b = Params::new();
        b.insert("hidden".into(), ParamValue::Int(64));
        b.insert("lr".into(), ParamValue::Float(0.001));
        assert_eq!(params_hash(&a), params_hash(&b));
        assert_eq!(params_hash(&a).len(), 8);
        b.insert("lr".into(), ParamValue::Float(0.003));
        assert_ne!(params_hash(&a), params_hash(&b));
    }

    #[test]
    fn short_floats_keep_four_significant_digits() {
        assert_eq!(short_float(0.003), "0.003");
        assert_eq!(short_float(0.11631300560895586), "0.1163");
        assert_eq!(short_float(245.0), "245");
        assert_eq!(short_float(1e30), "1e30");
        assert_eq!(short_float(1.5e-5), "1.500e-5");
        assert_eq!(ParamValue::Float(1e30).to_string(), "1e30");
        assert_eq!(ParamValue::Float(0.001).to_string(), "0.001");
    }

    #[test]
    fn whole_floats_count_as_integers() {
        assert_eq!(ParamValue::Float(3.0).as_i64(), Some(3));
        assert_eq!(ParamValue::Float(3.5).as_i64(), None);
        assert_eq!(ParamValue::Str("x".into()).as_f64(), None);
    }
}
