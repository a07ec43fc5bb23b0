//! Empty cells: which cells count as missing, what the spec says to do with
//! them, and the fill values an imputer learns from the training rows.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// What a CSV cell must be (after trimming) to count as missing, unless `[data] na_values` says otherwise.
pub const DEFAULT_NA_VALUES: &[&str] = &["", "NA", "NaN", "null"];

/// What to do with a missing cell of a feature column (`[data] missing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingPolicy {
    /// Stop with an error naming the cell.
    #[default]
    Error,
    /// Leave the row out of the sweep (counted in the run's output and `splits.json`).
    DropRows,
    /// The training rows' mean (numeric columns).
    Mean,
    /// The training rows' median (numeric columns).
    Median,
    /// The training rows' most frequent value (the smallest of ties, as scikit-learn).
    MostFrequent,
}

impl MissingPolicy {
    /// Every policy, as the spec writes them.
    pub const NAMES: &'static [&'static str] = &["error", "drop_rows", "mean", "median", "most_frequent"];

    /// The policy the spec spells `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "error" => MissingPolicy::Error,
            "drop_rows" => MissingPolicy::DropRows,
            "mean" => MissingPolicy::Mean,
            "median" => MissingPolicy::Median,
            "most_frequent" => MissingPolicy::MostFrequent,
            _ => return None,
        })
    }

    /// As the spec writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MissingPolicy::Error => "error",
            MissingPolicy::DropRows => "drop_rows",
            MissingPolicy::Mean => "mean",
            MissingPolicy::Median => "median",
            MissingPolicy::MostFrequent => "most_frequent",
        }
    }

    /// Whether it fills cells with a value learned on the training rows.
    pub fn imputes(self) -> bool {
        matches!(self, MissingPolicy::Mean | MissingPolicy::Median | MissingPolicy::MostFrequent)
    }

    /// The policy a text (categorical) column gets: a mean or median of text does
    /// not exist, so a sweep-wide `mean`/`median` fills it with its most frequent category.
    pub(crate) fn for_text(self) -> Self {
        match self {
            MissingPolicy::Mean | MissingPolicy::Median => MissingPolicy::MostFrequent,
            other => other,
        }
    }
}

/// `[data] missing`: one policy for every feature column, and per-column exceptions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MissingSpec {
    /// The policy of every column not named in `columns`.
    #[serde(default)]
    pub default: MissingPolicy,
    /// Per column (`missing = { Horsepower = "median" }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, MissingPolicy>,
}

impl MissingSpec {
    /// Whether nothing is asked beyond the default error.
    pub fn is_default(&self) -> bool {
        self == &MissingSpec::default()
    }

    /// The policy of `column`.
    pub fn of(&self, column: &str) -> MissingPolicy {
        self.columns.get(column).copied().unwrap_or(self.default)
    }
}

/// Whether `cell` (already trimmed) is one of `na_values`.
pub(crate) fn is_missing(cell: &str, na_values: &[String]) -> bool {
    na_values.iter().any(|na| na == cell)
}

/// The mean, median or most frequent of the present (non-NaN) values,
/// computed as scikit-learn's `SimpleImputer` does; `None` without any.
pub(crate) fn numeric_fill(values: impl Iterator<Item = f64>, policy: MissingPolicy) -> Option<f64> {
    let mut present: Vec<f64> = values.filter(|v| !v.is_nan()).collect();
    if present.is_empty() {
        return None;
    }
    match policy {
        MissingPolicy::Mean => Some(present.iter().sum::<f64>() / present.len() as f64),
        MissingPolicy::Median => {
            present.sort_by(f64::total_cmp);
            let n = present.len();
            Some(if n % 2 == 1 { present[n / 2] } else { (present[n / 2 - 1] + present[n / 2]) / 2.0 })
        }
        MissingPolicy::MostFrequent => {
            let mut counts: BTreeMap<u64, (f64, usize)> = BTreeMap::new();
            for v in present {
                // -0.0 and 0.0 are one value, as for numpy.
                let v = if v == 0.0 { 0.0 } else { v };
                counts.entry(v.to_bits()).or_insert((v, 0)).1 += 1;
            }
            let most = counts.values().map(|(_, c)| *c).max()?;
            counts.values().filter(|(_, c)| *c == most).map(|(v, _)| *v).min_by(f64::total_cmp)
        }
        MissingPolicy::Error | MissingPolicy::DropRows => None,
    }
}

/// The most frequent present category (the smallest of ties); `None` without any.
pub(crate) fn text_fill<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Option<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in values.flatten() {
        *counts.entry(v).or_default() += 1;
    }
    let most = counts.values().copied().max()?;
    counts.into_iter().filter(|(_, c)| *c == most).map(|(v, _)| v).min().map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pinned from scikit-learn 1.9.1:
    //   SimpleImputer(strategy=s).fit(np.array([[3.0], [nan], [1.0], [4.0], [1.0], [5.0]])).statistics_
    // gives 2.8 (mean), 3.0 (median), 1.0 (most_frequent); [[2.0], [1.0], [2.0], [1.0]] gives 1.0
    // (most_frequent: the smallest of ties) and 1.5 (median of an even count).
    #[test]
    fn fills_are_the_ones_scikit_learn_learns() {
        let v = [3.0, f64::NAN, 1.0, 4.0, 1.0, 5.0];
        assert!((numeric_fill(v.into_iter(), MissingPolicy::Mean).unwrap() - 2.8).abs() < 1e-12);
        assert_eq!(numeric_fill(v.into_iter(), MissingPolicy::Median), Some(3.0));
        assert_eq!(numeric_fill(v.into_iter(), MissingPolicy::MostFrequent), Some(1.0));
        let ties = [2.0, 1.0, 2.0, 1.0];
        assert_eq!(numeric_fill(ties.into_iter(), MissingPolicy::MostFrequent), Some(1.0));
        assert_eq!(numeric_fill(ties.into_iter(), MissingPolicy::Median), Some(1.5));
        assert_eq!(numeric_fill([f64::NAN].into_iter(), MissingPolicy::Mean), None);
        let text = [Some("S"), None, Some("C"), Some("S"), Some("C"), Some("Q")];
        assert_eq!(text_fill(text.into_iter()).as_deref(), Some("C"));
    }

    #[test]
    fn policies_parse_as_the_spec_writes_them() {
        for name in MissingPolicy::NAMES {
            assert_eq!(MissingPolicy::parse(name).map(MissingPolicy::as_str), Some(*name));
        }
        assert_eq!(MissingPolicy::parse("zero"), None);
        assert_eq!(MissingPolicy::Median.for_text(), MissingPolicy::MostFrequent);
        assert_eq!(MissingPolicy::DropRows.for_text(), MissingPolicy::DropRows);
    }
}
