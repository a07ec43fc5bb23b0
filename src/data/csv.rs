//! The bundled data source: a CSV file with a header, numeric feature columns
//! and a target column.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{DataError, Table, TargetColumn};
use crate::params::hex;

/// Which columns of the file the model sees (`[data]` in the spec).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CsvOptions {
    /// The target column.
    pub target: String,
    /// Exactly these feature columns, in this order (`features = [...]`).
    pub features: Option<Vec<String>>,
    /// Every column but the target and these (`drop = [...]`).
    pub drop: Vec<String>,
}

impl CsvOptions {
    /// Every column but `target` is a feature.
    pub fn target(target: &str) -> Self {
        CsvOptions { target: target.to_string(), ..Default::default() }
    }
}

/// Reads `path`: a header, the chosen numeric feature columns, and the target
/// column's cells as text (the task decides how to read them).
pub fn load_csv(path: &Path, options: &CsvOptions) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
        hint: match std::env::current_dir() {
            Ok(cwd) if path.is_relative() => {
                format!(" (relative paths are read from the current directory, {})", cwd.display())
            }
            _ => String::new(),
        },
    })?;
    let fingerprint = hex(&Sha256::digest(&bytes));
    let p = || path.to_path_buf();

    let mut reader = ::csv::ReaderBuilder::new().has_headers(true).trim(::csv::Trim::All).from_reader(&bytes[..]);
    let header =
        reader.headers().map_err(|e| DataError::Malformed { path: p(), line: 1, message: e.to_string() })?.clone();
    if header.is_empty() || header.iter().all(str::is_empty) {
        return Err(DataError::Empty { path: p(), what: "the file is empty" });
    }
    let available = || header.iter().collect::<Vec<_>>().join(", ");
    let position = |column: &str, key: &'static str| {
        header.iter().position(|h| h == column).ok_or_else(|| DataError::MissingColumn {
            path: p(),
            column: column.to_string(),
            key,
            available: available(),
        })
    };
    let target_col = position(&options.target, "data.target")?;
    // Columns the spec names, by position; naming the target is a mistake worth explaining.
    let named = |names: &[String], key: &'static str, why_not_the_target: &str| -> Result<Vec<usize>, DataError> {
        let mut columns = Vec::with_capacity(names.len());
        for name in names {
            let c = position(name, key)?;
            if c == target_col {
                return Err(DataError::Columns {
                    path: p(),
                    message: format!("{key} lists \"{name}\", the target; {why_not_the_target}"),
                });
            }
            if columns.contains(&c) {
                return Err(DataError::Columns { path: p(), message: format!("{key} lists \"{name}\" twice") });
            }
            columns.push(c);
        }
        Ok(columns)
    };
    let columns: Vec<usize> = match &options.features {
        Some(_) if !options.drop.is_empty() => {
            return Err(DataError::Columns {
                path: p(),
                message: "[data] has both features and drop; give one".into(),
            });
        }
        Some(features) => named(features, "data.features", "a model cannot learn from its own answer")?,
        None => {
            let dropped = named(&options.drop, "data.drop", "the target is never a feature anyway")?;
            (0..header.len()).filter(|c| *c != target_col && !dropped.contains(c)).collect()
        }
    };
    if columns.is_empty() {
        return Err(DataError::NoFeatures { path: p(), column: options.target.clone() });
    }
    let features: Vec<String> = columns.iter().map(|&c| header.get(c).unwrap_or("?").to_string()).collect();

    let mut x = Vec::new();
    let mut targets = Vec::new();
    let mut lines = Vec::new();
    let mut record = ::csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|pos| pos.line()).unwrap_or(0);
                return Err(DataError::Malformed { path: p(), line, message: e.to_string() });
            }
        }
        let line = record.position().map(|pos| pos.line()).unwrap_or(0);
        for (&c, column) in columns.iter().zip(&features) {
            let cell = record.get(c).unwrap_or("");
            let v: f64 = cell.parse().map_err(|_| DataError::NonNumeric {
                path: p(),
                line,
                column: column.clone(),
                value: cell.to_string(),
            })?;
            if !v.is_finite() {
                return Err(DataError::NotFinite { path: p(), line, column: column.clone(), value: cell.to_string() });
            }
            x.push(v);
        }
        targets.push(record.get(target_col).unwrap_or("").to_string());
        lines.push(line);
    }
    if targets.is_empty() {
        return Err(DataError::Empty { path: p(), what: "the file has a header but no rows" });
    }
    Ok(Table {
        path: p(),
        fingerprint,
        target: options.target.clone(),
        features,
        x,
        targets: TargetColumn::Text(targets),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const PEOPLE: &str = "name,age,height,y\nann,30,1.6,a\nbob,40,1.8,b\n";

    #[test]
    fn features_and_drop_choose_the_columns() {
        let (_d, path) = file(PEOPLE);
        let dropped = load_csv(&path, &CsvOptions { drop: vec!["name".into()], ..CsvOptions::target("y") }).unwrap();
        assert_eq!(dropped.features, ["age", "height"]);
        assert_eq!(dropped.x, [30.0, 1.6, 40.0, 1.8]);
        assert_eq!(dropped.lines, [2, 3]);
        let chosen =
            load_csv(&path, &CsvOptions { features: Some(vec!["height".into()]), ..CsvOptions::target("y") }).unwrap();
        assert_eq!(chosen.features, ["height"]);
        assert_eq!(chosen.x, [1.6, 1.8]);
    }

    #[test]
    fn a_text_column_names_itself_and_suggests_drop() {
        let (_d, path) = file(PEOPLE);
        let e = load_csv(&path, &CsvOptions::target("y")).unwrap_err().to_string();
        assert!(e.ends_with(":2: column \"name\": got \"ann\", expected a number (a text column cannot be a feature: leave it out with [data] drop = [\"name\"])"), "{e}");
    }

    #[test]
    fn columns_the_spec_names_must_exist_and_make_sense() {
        let (_d, path) = file(PEOPLE);
        let missing = CsvOptions { drop: vec!["weight".into()], ..CsvOptions::target("y") };
        assert!(
            load_csv(&path, &missing)
                .unwrap_err()
                .to_string()
                .contains("no column \"weight\" (data.drop); the header has: name, age, height, y")
        );
        let target_as_feature = CsvOptions { features: Some(vec!["y".into()]), ..CsvOptions::target("y") };
        assert!(load_csv(&path, &target_as_feature).unwrap_err().to_string().contains("the target"));
        let both =
            CsvOptions { features: Some(vec!["age".into()]), drop: vec!["name".into()], ..CsvOptions::target("y") };
        assert!(load_csv(&path, &both).unwrap_err().to_string().contains("both features and drop"));
        let nothing_left =
            CsvOptions { drop: vec!["name".into(), "age".into(), "height".into()], ..CsvOptions::target("y") };
        assert!(matches!(load_csv(&path, &nothing_left), Err(DataError::NoFeatures { .. })));
    }

    const SMALL: &str = "a,b,name,target\n1,2,x,0\n3,4,y,1\n5,6,z,0\n7,8,w,1\n9,10,v,0\n11,12,u,1\n";

    /// Cells and lines that break a CSV: text, NaN, quotes, newlines, NUL, long runs, invalid UTF-8.
    fn junk() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..12),
            any::<String>().prop_map(String::into_bytes),
            Just(b"nan".to_vec()),
            Just(b"-inf".to_vec()),
            Just(b"\"a\nb\"".to_vec()),
            Just(b"\"unterminated".to_vec()),
            Just(b"\0".to_vec()),
            Just(b"\xff\xfe".to_vec()),
            Just(b",,,,,".to_vec()),
            Just(b"\n".to_vec()),
            Just(vec![b'9'; 5000]),
            Just(b"../../etc/passwd".to_vec()),
        ]
    }

    fn mutated_csv() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec((any::<prop::sample::Index>(), any::<bool>(), junk()), 1..4).prop_map(|edits| {
            let mut bytes = SMALL.as_bytes().to_vec();
            for (at, replace, junk) in edits {
                let at = at.index(bytes.len() + 1);
                let end = if replace { (at + junk.len().max(1)).min(bytes.len()) } else { at };
                bytes.splice(at..end, junk);
            }
            bytes
        })
    }

    fn options() -> impl Strategy<Value = CsvOptions> {
        let column = prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("name".to_string()),
            Just("target".to_string()),
            any::<String>()
        ];
        (
            prop_oneof![Just("target".to_string()), column.clone()],
            proptest::option::of(proptest::collection::vec(column.clone(), 0..3)),
            proptest::collection::vec(column, 0..2),
        )
            .prop_map(|(target, features, drop)| CsvOptions { target, features, drop })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the file holds and whatever columns the spec names, the
        /// loader and the split either succeed or say, in one line, which file
        /// is wrong.
        #[test]
        fn any_file_loads_or_fails_in_one_line_naming_it(
            bytes in prop_oneof![mutated_csv(), proptest::collection::vec(any::<u8>(), 0..200)],
            options in prop_oneof![Just(CsvOptions { drop: vec!["name".into()], ..CsvOptions::target("target") }), options()],
            regression in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("d.csv");
            std::fs::write(&path, &bytes).unwrap();
            let task = if regression { crate::metrics::Task::Regression } else { crate::metrics::Task::Classification };
            let result = load_csv(&path, &options).and_then(|table| super::super::prepare(&table, task, 0.3, seed).map(|_| ()));
            if let Err(e) = result {
                let message = e.to_string();
                prop_assert!(message.starts_with(&path.display().to_string()), "does not name the file: {message}");
                prop_assert!(!message.contains(['\n', '\r', '\0']), "not one line: {message:?}");
            }
        }
    }
}
