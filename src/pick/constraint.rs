//! `[select] constraints`: `"latency_p95_ms <= 1.0"`, one bound on one
//! leaderboard column each.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A comparison of a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Op {
    /// `<=`
    #[serde(rename = "<=")]
    AtMost,
    /// `<`
    #[serde(rename = "<")]
    Below,
    /// `>=`
    #[serde(rename = ">=")]
    AtLeast,
    /// `>`
    #[serde(rename = ">")]
    Above,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::AtMost => "<=",
            Op::Below => "<",
            Op::AtLeast => ">=",
            Op::Above => ">",
        }
    }
}

/// `column op bound`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Constraint {
    /// The leaderboard column.
    pub column: String,
    /// The comparison.
    pub op: Op,
    /// The bound.
    pub bound: f64,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.column, self.op.as_str(), self.bound)
    }
}

impl Constraint {
    /// Reads `"column op number"`; the message says what was expected.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let expected = "expected \"<column> <op> <number>\" with op one of <=, <, >=, > (as \"latency_p95_ms <= 1.0\")";
        // Two-character operators first, so `<=` is not read as `<` followed by `=...`.
        let found = ["<=", ">=", "<", ">"].iter().find_map(|op| text.find(op).map(|at| (at, *op)));
        let Some((at, op)) = found else {
            return Err(format!("got \"{text}\", which has no comparison; {expected}"));
        };
        let column = text[..at].trim();
        let bound_text = text[at + op.len()..].trim();
        if column.is_empty() || !column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return Err(format!("got \"{text}\", whose column \"{column}\" is not a column name; {expected}"));
        }
        let bound: f64 = bound_text.parse().ok().filter(|b: &f64| b.is_finite()).ok_or_else(|| {
            format!("got \"{text}\", whose bound \"{bound_text}\" is not a finite number; {expected}")
        })?;
        let op = match op {
            "<=" => Op::AtMost,
            ">=" => Op::AtLeast,
            "<" => Op::Below,
            _ => Op::Above,
        };
        Ok(Constraint { column: column.to_string(), op, bound })
    }

    /// Whether `value` meets it; a missing or non-finite value never does.
    pub(crate) fn holds(&self, value: Option<f64>) -> bool {
        let Some(v) = value.filter(|v| v.is_finite()) else { return false };
        match self.op {
            Op::AtMost => v <= self.bound,
            Op::Below => v < self.bound,
            Op::AtLeast => v >= self.bound,
            Op::Above => v > self.bound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_operator_and_spacing() {
        let c = Constraint::parse("latency_p95_ms <= 1.0").unwrap();
        assert_eq!((c.column.as_str(), c.op, c.bound), ("latency_p95_ms", Op::AtMost, 1.0));
        assert_eq!(Constraint::parse("params<20000").unwrap().op, Op::Below);
        assert_eq!(Constraint::parse("best_mcc >= 0.9").unwrap().op, Op::AtLeast);
        assert_eq!(
            Constraint::parse(" rows_per_s > 1e5 ").unwrap(),
            Constraint { column: "rows_per_s".into(), op: Op::Above, bound: 1e5 }
        );
        assert_eq!(Constraint::parse("params <= 20000").unwrap().to_string(), "params <= 20000");
    }

    #[test]
    fn refuses_what_is_not_a_bound() {
        for (text, part) in [
            ("params 20000", "no comparison"),
            ("<= 3", "not a column name"),
            ("lat ency <= 3", "not a column name"),
            ("params <= fast", "not a finite number"),
            ("params <= inf", "not a finite number"),
            ("params <= ", "not a finite number"),
            ("params == 3", "no comparison"),
        ] {
            let e = Constraint::parse(text).unwrap_err();
            assert!(e.contains(part), "{text}: {e}");
        }
    }

    #[test]
    fn holds_at_the_bound_only_when_inclusive() {
        let at_most = Constraint::parse("x <= 1").unwrap();
        let below = Constraint::parse("x < 1").unwrap();
        let at_least = Constraint::parse("x >= 1").unwrap();
        assert!(at_most.holds(Some(1.0)) && !below.holds(Some(1.0)) && at_least.holds(Some(1.0)));
        assert!(below.holds(Some(0.5)) && !at_least.holds(Some(0.5)));
        assert!(!at_most.holds(None) && !at_most.holds(Some(f64::NAN)), "missing never meets a constraint");
    }
}
