//! An objective's parameters: their names, kinds, ranges, defaults and
//! one-line descriptions. The spec validator checks `[train]` and
//! `[parameters]` against an objective's [`Schema`], and the runner resolves
//! each trial's values from it, so both always agree on what a parameter means.

use std::ops::RangeInclusive;

use super::{ParamValue, Params, ResolvedParams};

/// The parameter every objective has: the runner owns the epoch loop.
pub const EPOCHS: &str = "epochs";

/// Keys of `[train]` that are not parameters.
pub(crate) const RESERVED: &[&str] = &["early_stopping"];

/// One end of a real-valued range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// No limit on this side.
    Unbounded,
    /// The value itself is allowed.
    Inclusive(f64),
    /// Only values strictly beyond it are allowed.
    Exclusive(f64),
}

/// What values a parameter accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    /// A finite real number between two bounds.
    Float {
        /// Lower bound.
        min: Bound,
        /// Upper bound.
        max: Bound,
    },
    /// A whole number in `min..=max`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// `true` or `false`.
    Bool,
    /// One of a fixed set of names.
    Choice(Vec<String>),
    /// Any text, such as a path.
    Text,
}

/// One parameter of an objective.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    /// Its key in `[train]` and `[parameters]`.
    pub name: String,
    /// The values it accepts.
    pub kind: ParamKind,
    /// Its value when the spec sets none.
    pub default: ParamValue,
    /// One line for `sweep objectives` and error messages.
    pub description: String,
}

impl ParamDef {
    /// A real number (any finite value until [`ParamDef::positive`] and the like narrow it).
    pub fn float(name: &str, default: f64, description: &str) -> Self {
        Self::new(name, ParamKind::Float { min: Bound::Unbounded, max: Bound::Unbounded }, default.into(), description)
    }

    /// A whole number in `range`.
    pub fn int(name: &str, default: i64, range: RangeInclusive<i64>, description: &str) -> Self {
        let kind = ParamKind::Int { min: *range.start(), max: *range.end() };
        Self::new(name, kind, ParamValue::Int(default), description)
    }

    /// `true` or `false`.
    pub fn bool(name: &str, default: bool, description: &str) -> Self {
        Self::new(name, ParamKind::Bool, ParamValue::Bool(default), description)
    }

    /// Any text, such as a folder of images.
    pub fn text(name: &str, default: &str, description: &str) -> Self {
        Self::new(name, ParamKind::Text, ParamValue::Str(default.to_string()), description)
    }

    /// One of `choices`.
    pub fn choice(name: &str, default: &str, choices: &[&str], description: &str) -> Self {
        let kind = ParamKind::Choice(choices.iter().map(|c| c.to_string()).collect());
        Self::new(name, kind, ParamValue::Str(default.to_string()), description)
    }

    /// A parameter an open schema does not declare, of `kind` ([`ParamKind::of_values`]).
    pub(crate) fn undeclared(name: &str, kind: ParamKind) -> Self {
        let default = match kind {
            ParamKind::Int { .. } => ParamValue::Int(0),
            ParamKind::Float { .. } => ParamValue::Float(0.0),
            ParamKind::Bool => ParamValue::Bool(false),
            ParamKind::Choice(_) | ParamKind::Text => ParamValue::Str(String::new()),
        };
        Self::new(name, kind, default, "a parameter of the program")
    }

    fn new(name: &str, kind: ParamKind, default: ParamValue, description: &str) -> Self {
        ParamDef { name: name.to_string(), kind, default, description: description.to_string() }
    }

    /// Narrows a real number to `> 0`.
    pub fn positive(self) -> Self {
        self.with_bounds(Bound::Exclusive(0.0), Bound::Unbounded)
    }

    /// Narrows a real number to `>= 0`.
    pub fn non_negative(self) -> Self {
        self.with_bounds(Bound::Inclusive(0.0), Bound::Unbounded)
    }

    /// Narrows a real number to `[0, 1)`, as a dropout probability.
    pub fn fraction(self) -> Self {
        self.with_bounds(Bound::Inclusive(0.0), Bound::Exclusive(1.0))
    }

    /// Narrows a real number to `[min, max]`.
    pub fn between(self, min: f64, max: f64) -> Self {
        self.with_bounds(Bound::Inclusive(min), Bound::Inclusive(max))
    }

    /// Narrows a real number to any bounds.
    pub fn with_bounds(mut self, min: Bound, max: Bound) -> Self {
        if let ParamKind::Float { .. } = self.kind {
            self.kind = ParamKind::Float { min, max };
        }
        self
    }
}

impl ParamKind {
    /// Checks a value and converts it to the kind's canonical type (an
    /// integer `64` given for a real number becomes `64.0`). The error says
    /// what was expected.
    pub(crate) fn coerce(&self, value: &ParamValue) -> Result<ParamValue, String> {
        match self {
            ParamKind::Float { min, max } => {
                let Some(v) = value.as_f64() else {
                    return Err(format!("expected a number, got the {} {}", value.type_name(), render(value)));
                };
                let above = match *min {
                    Bound::Unbounded => true,
                    Bound::Inclusive(m) => v >= m,
                    Bound::Exclusive(m) => v > m,
                };
                let below = match *max {
                    Bound::Unbounded => true,
                    Bound::Inclusive(m) => v <= m,
                    Bound::Exclusive(m) => v < m,
                };
                if v.is_finite() && above && below {
                    Ok(ParamValue::Float(v))
                } else {
                    Err(format!("got {v}, expected {}", self.describe()))
                }
            }
            ParamKind::Int { min, max } => match value.as_i64() {
                Some(v) if (*min..=*max).contains(&v) => Ok(ParamValue::Int(v)),
                _ => Err(format!("got {}, expected {}", render(value), self.describe())),
            },
            ParamKind::Bool => match value {
                ParamValue::Bool(b) => Ok(ParamValue::Bool(*b)),
                _ => Err(format!("got {}, expected true or false", render(value))),
            },
            ParamKind::Choice(names) => match value.as_str() {
                Some(s) if names.iter().any(|n| n == s) => Ok(ParamValue::Str(s.to_string())),
                _ => Err(format!("got {}, expected {}", render(value), self.describe())),
            },
            ParamKind::Text => match value.as_str() {
                Some(s) => Ok(ParamValue::Str(s.to_string())),
                None => Err(format!("got {}, expected a string", render(value))),
            },
        }
    }

    /// What the parameter accepts, in words.
    pub(crate) fn describe(&self) -> String {
        match self {
            ParamKind::Float { min, max } => match (min, max) {
                (Bound::Unbounded, Bound::Unbounded) => "a number".into(),
                (Bound::Exclusive(m), Bound::Unbounded) => format!("a number > {m}"),
                (Bound::Inclusive(m), Bound::Unbounded) => format!("a number >= {m}"),
                (Bound::Unbounded, Bound::Exclusive(m)) => format!("a number < {m}"),
                (Bound::Unbounded, Bound::Inclusive(m)) => format!("a number <= {m}"),
                (lo, hi) => {
                    let (open, a) = match lo {
                        Bound::Exclusive(a) => ('(', a),
                        Bound::Inclusive(a) => ('[', a),
                        Bound::Unbounded => unreachable!("handled above"),
                    };
                    let (close, b) = match hi {
                        Bound::Exclusive(b) => (')', b),
                        Bound::Inclusive(b) => (']', b),
                        Bound::Unbounded => unreachable!("handled above"),
                    };
                    format!("a number in {open}{a}, {b}{close}")
                }
            },
            ParamKind::Int { min: i64::MIN, max: i64::MAX } => "a whole number".into(),
            ParamKind::Int { min, max } => format!("a whole number from {min} to {max}"),
            ParamKind::Bool => "true or false".into(),
            ParamKind::Choice(names) => {
                format!("one of {}", names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "))
            }
            ParamKind::Text => "a string".into(),
        }
    }

    /// The kind of a parameter an open schema does not declare, from the
    /// values a spec gives it: whole numbers, numbers, true/false, or text.
    pub(crate) fn of_values<'v>(values: impl IntoIterator<Item = &'v ParamValue>) -> ParamKind {
        let values: Vec<&ParamValue> = values.into_iter().collect();
        let all = |f: fn(&ParamValue) -> bool| !values.is_empty() && values.iter().all(|v| f(v));
        if all(|v| matches!(v, ParamValue::Int(_))) {
            ParamKind::Int { min: i64::MIN, max: i64::MAX }
        } else if all(|v| matches!(v, ParamValue::Int(_) | ParamValue::Float(_))) {
            ParamKind::Float { min: Bound::Unbounded, max: Bound::Unbounded }
        } else if all(|v| matches!(v, ParamValue::Bool(_))) {
            ParamKind::Bool
        } else {
            ParamKind::Text
        }
    }

    /// Whether numeric distributions (`uniform`, `log_uniform_values`, `int_uniform`) make sense.
    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self, ParamKind::Float { .. } | ParamKind::Int { .. })
    }

    /// Whether the parameter takes whole numbers only.
    pub(crate) fn is_int(&self) -> bool {
        matches!(self, ParamKind::Int { .. })
    }
}

fn render(value: &ParamValue) -> String {
    match value {
        ParamValue::Str(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

/// Every parameter of an objective, in the order it declares them. It always
/// holds [`EPOCHS`], the runner's maximum number of epochs (default 10).
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    params: Vec<ParamDef>,
    /// Whether the spec may add parameters it does not declare ([`Schema::open`]).
    open: bool,
}

impl Default for Schema {
    fn default() -> Self {
        Self::new()
    }
}

impl Schema {
    /// A schema with only `epochs`.
    pub fn new() -> Self {
        Schema { params: vec![ParamDef::int(EPOCHS, 10, 1..=1_000_000, "maximum epochs a trial trains")], open: false }
    }

    /// Also accepts parameters it does not declare, of the kind their values
    /// in the spec have (whole numbers, numbers, true/false or text), and
    /// resolves them with the declared ones: for an objective that hands
    /// every parameter to a program of the user's (`objective = "command"`).
    pub fn open(mut self) -> Self {
        self.open = true;
        self
    }

    /// Whether it accepts parameters it does not declare.
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// A schema with no parameter at all, for options that are not an
    /// objective's parameters (a data source's `[data]` keys).
    pub fn empty() -> Self {
        Schema { params: Vec::new(), open: false }
    }

    /// Adds a parameter; one of the same name (such as `epochs`, to change
    /// its default) is replaced.
    pub fn param(mut self, def: ParamDef) -> Self {
        match self.params.iter_mut().find(|p| p.name == def.name) {
            Some(existing) => *existing = def,
            None => self.params.push(def),
        }
        self
    }

    /// A parameter by name.
    pub fn get(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Every parameter.
    pub fn iter(&self) -> impl Iterator<Item = &ParamDef> {
        self.params.iter()
    }

    /// The names, for "expected one of" messages.
    pub fn names(&self) -> String {
        self.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Checks what an objective declared: names usable as TOML keys, not
    /// reserved, and defaults its own kinds accept.
    pub(crate) fn check(&self) -> Result<(), String> {
        for p in &self.params {
            let name_ok = !p.name.is_empty() && p.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !name_ok {
                return Err(format!("parameter \"{}\": expected letters, digits and '_'", p.name));
            }
            if RESERVED.contains(&p.name.as_str()) {
                return Err(format!("parameter \"{}\": the name is reserved for [train]'s own settings", p.name));
            }
            if let ParamKind::Choice(names) = &p.kind
                && names.is_empty()
            {
                return Err(format!("parameter \"{}\": a choice needs at least one name", p.name));
            }
            if let Err(e) = p.kind.coerce(&p.default) {
                return Err(format!("parameter \"{}\": its default does not fit: {e}", p.name));
            }
        }
        Ok(())
    }

    /// A trial's values: each from `swept`, else `fixed` (`[train]`), else its
    /// default. Both maps hold values the spec validator already checked.
    pub fn resolve(&self, fixed: &Params, swept: &Params) -> ResolvedParams {
        let mut values: Params = self
            .params
            .iter()
            .map(|p| {
                let v = swept.get(&p.name).or_else(|| fixed.get(&p.name)).unwrap_or(&p.default);
                (p.name.clone(), v.clone())
            })
            .collect();
        if self.open {
            for (name, v) in fixed.iter().chain(swept) {
                if self.get(name).is_none() {
                    values.insert(name.clone(), swept.get(name).unwrap_or(v).clone());
                }
            }
        }
        ResolvedParams::new(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::new()
            .param(ParamDef::float("lr", 0.001, "learning rate").positive())
            .param(ParamDef::int("hidden", 64, 1..=65_536, "width"))
            .param(ParamDef::float("dropout", 0.0, "dropout").fraction())
            .param(ParamDef::choice("optimizer", "adam", &["adam", "adamw", "sgd"], "optimizer"))
            .param(ParamDef::bool("bias", true, "use biases"))
    }

    #[test]
    fn an_open_schema_resolves_undeclared_parameters_and_types_them_by_their_values() {
        let fixed = Params::from([("data".to_string(), ParamValue::Str("d.csv".into()))]);
        let swept = Params::from([("lr".to_string(), ParamValue::Float(0.1))]);
        let closed = Schema::new().resolve(&fixed, &swept);
        assert_eq!(closed.values().len(), 1, "a closed schema keeps only what it declares");
        let open = Schema::new().open().resolve(&fixed, &swept);
        assert_eq!(open.values().len(), 3);
        assert_eq!(open.str("data").unwrap(), "d.csv");
        assert_eq!(open.epochs().unwrap(), 10);
        let kind = |v: &[ParamValue]| ParamKind::of_values(v);
        assert!(kind(&[ParamValue::Int(1), ParamValue::Int(2)]).is_int());
        assert_eq!(
            kind(&[ParamValue::Int(1), ParamValue::Float(0.5)]),
            ParamKind::Float { min: Bound::Unbounded, max: Bound::Unbounded }
        );
        assert_eq!(kind(&[ParamValue::Bool(true)]), ParamKind::Bool);
        assert_eq!(kind(&[ParamValue::Str("a".into()), ParamValue::Int(1)]), ParamKind::Text);
    }

    #[test]
    fn coercion_checks_ranges_and_types() {
        let s = schema();
        let kind = |n: &str| s.get(n).unwrap().kind.clone();
        assert_eq!(kind("lr").coerce(&ParamValue::Int(1)), Ok(ParamValue::Float(1.0)));
        assert_eq!(kind("lr").coerce(&ParamValue::Float(0.0)).unwrap_err(), "got 0, expected a number > 0");
        assert_eq!(kind("hidden").coerce(&ParamValue::Float(64.0)), Ok(ParamValue::Int(64)));
        assert!(kind("hidden").coerce(&ParamValue::Float(64.5)).is_err());
        assert!(kind("optimizer").coerce(&ParamValue::Str("rmsprop".into())).unwrap_err().contains("\"adamw\""));
        assert_eq!(kind("dropout").coerce(&ParamValue::Float(1.0)).unwrap_err(), "got 1, expected a number in [0, 1)");
        assert!(kind("bias").coerce(&ParamValue::Int(1)).unwrap_err().contains("true or false"));
        assert_eq!(
            ParamKind::Float { min: Bound::Inclusive(-1.0), max: Bound::Inclusive(1.0) }.describe(),
            "a number in [-1, 1]"
        );
    }

    #[test]
    fn swept_values_override_fixed_ones_which_override_defaults() {
        let fixed = Params::from([("epochs".to_string(), ParamValue::Int(30)), ("lr".into(), ParamValue::Float(0.5))]);
        let swept = Params::from([("lr".to_string(), ParamValue::Float(0.01))]);
        let r = schema().resolve(&fixed, &swept);
        assert_eq!(r.f64("lr").unwrap(), 0.01);
        assert_eq!(r.usize("epochs").unwrap(), 30);
        assert_eq!(r.usize("hidden").unwrap(), 64);
        assert_eq!(r.str("optimizer").unwrap(), "adam");
        assert!(r.bool("bias").unwrap());
        assert_eq!(r.values().len(), 6, "every parameter of the schema, epochs included");
    }

    #[test]
    fn a_later_definition_replaces_an_earlier_one() {
        let s = Schema::new().param(ParamDef::int(EPOCHS, 30, 1..=100, "epochs"));
        assert_eq!(s.get(EPOCHS).unwrap().default, ParamValue::Int(30));
        assert_eq!(s.iter().count(), 1);
    }

    #[test]
    fn declarations_are_checked() {
        assert!(schema().check().is_ok());
        let bad_default = Schema::new().param(ParamDef::float("lr", 0.0, "lr").positive());
        assert!(bad_default.check().unwrap_err().contains("its default does not fit"));
        let reserved = Schema::new().param(ParamDef::bool("early_stopping", false, "x"));
        assert!(reserved.check().unwrap_err().contains("reserved"));
        let spaced = Schema::new().param(ParamDef::bool("two words", false, "x"));
        assert!(spaced.check().is_err());
    }
}
