//! Text columns as categories: one indicator column per category seen in the
//! training rows (sorted, as scikit-learn's `OneHotEncoder` orders them), and
//! what a category the training rows never had becomes.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A categorical column with more distinct values than this share of the
/// rows (fewer than 5 rows per category on average, like a target's classes)
/// and more than [`MIN_CATEGORIES_CHECKED`] is refused: one-hot encoding it
/// gives the model about one column per row.
pub const MAX_CATEGORY_SHARE: f64 = 0.2;
/// Below this many distinct values a column is never refused for its cardinality.
pub const MIN_CATEGORIES_CHECKED: usize = 20;

/// `[data] categorical`: which text columns become categories.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Categorical {
    /// None: a text cell in a feature column is an error.
    #[default]
    None,
    /// Every column whose cells are not all numbers.
    Auto,
    /// These columns (their cells read as text, even numbers).
    Columns(Vec<String>),
}

impl Categorical {
    /// Whether nothing is asked.
    pub fn is_none(&self) -> bool {
        self == &Categorical::None
    }
}

/// `[data] unseen`: what a category the training rows never had becomes at prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unseen {
    /// All-zero indicators, and a warning that counts the rows.
    #[default]
    Ignore,
    /// An error naming the row, the column and the value.
    Error,
}

impl Unseen {
    /// As the spec writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Unseen::Ignore => "ignore",
            Unseen::Error => "error",
        }
    }
}

/// The distinct present values, sorted (Unicode code points, as Python sorts strings).
pub(crate) fn learn_categories<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    values.flatten().collect::<BTreeSet<&str>>().into_iter().map(String::from).collect()
}

/// Whether `distinct` categories in `rows` rows are too many to one-hot encode.
pub(crate) fn too_many(distinct: usize, rows: usize) -> bool {
    distinct > MIN_CATEGORIES_CHECKED && distinct as f64 > MAX_CATEGORY_SHARE * rows as f64
}

/// Writes `value`'s indicators into `out` (one per category); `false` when it
/// is no known category (the indicators stay zero).
pub(crate) fn indicators(categories: &[String], value: &str, out: &mut [f64]) -> bool {
    match categories.binary_search_by(|c| c.as_str().cmp(value)) {
        Ok(k) => {
            out[k] = 1.0;
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pinned from scikit-learn 1.9.1:
    //   enc = OneHotEncoder(handle_unknown="ignore").fit([["male"], ["female"], ["male"], ["Q"]])
    //   enc.categories_ == [array(['Q', 'female', 'male'])]; enc.transform([["female"], ["x"]]).toarray()
    //   == [[0, 1, 0], [0, 0, 0]]
    #[test]
    fn categories_and_indicators_match_scikit_learn() {
        let cats = learn_categories([Some("male"), Some("female"), None, Some("male"), Some("Q")].into_iter());
        assert_eq!(cats, ["Q", "female", "male"]);
        let mut row = [0.0; 3];
        assert!(indicators(&cats, "female", &mut row));
        assert_eq!(row, [0.0, 1.0, 0.0]);
        let mut row = [0.0; 3];
        assert!(!indicators(&cats, "x", &mut row));
        assert_eq!(row, [0.0; 3]);
    }

    #[test]
    fn the_cardinality_limit_is_a_share_of_the_rows_above_a_floor() {
        assert!(!too_many(20, 21), "20 categories are always fine");
        assert!(!too_many(30, 200));
        assert!(too_many(41, 200));
        assert!(too_many(1000, 1000));
    }
}
