//! Columns that name rows rather than describe them (a passenger's name, a
//! customer id): a model can only memorise them, so using one as a feature
//! deserves a word.

use std::collections::HashSet;

use super::Cells;

/// Fewer present cells than this never look like an identifier: a handful of
/// distinct values is no evidence.
pub(crate) const MIN_ROWS: usize = 10;

/// Whether every present cell differs from every other: text, or whole
/// numbers (distinct measurements with fractions are ordinary features).
pub(crate) fn looks_like_identifier(cells: &Cells) -> bool {
    match cells {
        Cells::Text(v) => {
            let present: Vec<&str> = v.iter().flatten().map(String::as_str).collect();
            present.len() >= MIN_ROWS && present.iter().collect::<HashSet<_>>().len() == present.len()
        }
        Cells::Numbers(v) => {
            let present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            present.len() >= MIN_ROWS
                && present.iter().all(|x| x.fract() == 0.0)
                && present.iter().map(|x| x.to_bits()).collect::<HashSet<_>>().len() == present.len()
        }
    }
}

/// The warning for identifier-like `column`.
pub(crate) fn warning(column: &str) -> String {
    format!(
        "column {column:?} holds a different value in every row, like a name or an id: a model can only memorise \
         it, not learn from it; leave it out with [data] drop = [{column:?}]"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_look_like_identifiers_measurements_do_not() {
        let ids = Cells::Numbers((1..=12).map(f64::from).collect());
        assert!(looks_like_identifier(&ids));
        let measured = Cells::Numbers((1..=12).map(|i| f64::from(i) + 0.5).collect());
        assert!(!looks_like_identifier(&measured));
        let repeated = Cells::Numbers((1..=12).map(|i| f64::from(i % 6)).collect());
        assert!(!looks_like_identifier(&repeated));
        let names = Cells::Text((0..12).map(|i| Some(format!("passenger {i}"))).collect());
        assert!(looks_like_identifier(&names));
        let few = Cells::Text((0..5).map(|i| Some(format!("p{i}"))).collect());
        assert!(!looks_like_identifier(&few), "too few rows to tell");
    }
}
