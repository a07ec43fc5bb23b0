//! The bundled data source: a CSV file with a header, feature columns
//! (numbers, or text read as categories) and a target column. Missing cells
//! are recognised here, rows without a target left out, and the spec's
//! policies checked, before anything is learned (`preprocess`).

use std::path::Path;

use sha2::{Digest, Sha256};

use super::preprocess::{
    self, Categorical, Cells, LeftOut, MissingPolicy, RawColumn, RawTable, StepOptions, StepsSpec, is_missing,
};
use super::{DataError, Table, TargetColumn};
use crate::params::hex;

/// Which columns of the file the model sees, and what happens to their cells (`[data]` in the spec).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CsvOptions {
    /// The target column.
    pub target: String,
    /// Exactly these feature columns, in this order (`features = [...]`).
    pub features: Option<Vec<String>>,
    /// Every column but the target and these (`drop = [...]`).
    pub drop: Vec<String>,
    /// Categories, missing cells, unseen categories (`categorical`, `missing`, `na_values`, `unseen`).
    pub steps: StepsSpec,
}

impl CsvOptions {
    /// Every column but `target` is a feature.
    pub fn target(target: &str) -> Self {
        CsvOptions { target: target.to_string(), ..Default::default() }
    }
}

/// Reads `path`: a header, the chosen numeric feature columns, and the target
/// column's cells as text (the task decides how to read them). Text columns
/// and missing cells are refused: they need the steps a sweep learns.
pub fn load_csv(path: &Path, options: &CsvOptions) -> Result<Table, DataError> {
    let raw = read_csv(path, options)?;
    if raw.steps.is_some() {
        return Err(DataError::Columns {
            path: path.to_path_buf(),
            message:
                "load_csv reads numeric features only; categorical and missing cells are learned by a sweep's split"
                    .into(),
        });
    }
    let n = raw.rows();
    let d = raw.columns.len();
    let mut x = vec![0.0; n * d];
    for (j, column) in raw.columns.iter().enumerate() {
        if let Cells::Numbers(v) = &column.cells {
            for (r, value) in v.iter().enumerate() {
                x[r * d + j] = *value;
            }
        }
    }
    Ok(Table {
        path: raw.path,
        fingerprint: raw.fingerprint,
        target: raw.target,
        features: raw.columns.into_iter().map(|c| c.name).collect(),
        x,
        targets: raw.targets,
        lines: raw.lines,
    })
}

/// How many line numbers a note about left-out rows lists.
const LINES_SHOWN: usize = 5;

/// Reads `path` into raw columns: numbers, or text for the columns the spec
/// makes categorical; missing cells marked (`na_values`); rows without a
/// target, or with a missing cell where the policy is `drop_rows`, left out
/// and counted. A missing cell where the policy is `error`, a text cell in a
/// numeric column stop the load with the file, line and column. (A
/// categorical column with about one value per row is refused by
/// [`RawTable::check_categories`], for the sweep's data, not for a small test file.)
pub(crate) fn read_csv(path: &Path, options: &CsvOptions) -> Result<RawTable, DataError> {
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
    let spec = &options.steps;
    // A column the spec configures must be a feature, or the setting would silently do nothing.
    let not_a_feature = |name: &str, key: &str| DataError::Columns {
        path: p(),
        message: format!(
            "{key} names \"{name}\", which is not a feature column (the target, or left out by features/drop)"
        ),
    };
    let listed: Vec<usize> = match &spec.categorical {
        Categorical::Columns(names) => {
            let mut listed = Vec::new();
            for name in names {
                let c = position(name, "data.categorical")?;
                let j = columns.iter().position(|&f| f == c).ok_or_else(|| not_a_feature(name, "data.categorical"))?;
                listed.push(j);
            }
            listed
        }
        _ => Vec::new(),
    };
    for name in spec.missing.columns.keys() {
        let c = position(name, "data.missing")?;
        if !columns.contains(&c) {
            return Err(not_a_feature(name, "data.missing"));
        }
    }
    let na = spec.na_values();

    let mut cells: Vec<Vec<String>> = vec![Vec::new(); columns.len()];
    let mut targets = Vec::new();
    let mut lines = Vec::new();
    let mut left_out = LeftOut::default();
    let mut target_lines = Vec::new();
    let mut record = ::csv::StringRecord::new();
    let mut rows_read = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|pos| pos.line()).unwrap_or(0);
                return Err(DataError::Malformed { path: p(), line, message: e.to_string() });
            }
        }
        rows_read += 1;
        let line = record.position().map(|pos| pos.line()).unwrap_or(0);
        let target = record.get(target_col).unwrap_or("");
        // A target is never imputed: a row without one cannot be learned from or graded.
        if is_missing(target, &na) {
            left_out.missing_target += 1;
            target_lines.push(line);
            continue;
        }
        for (&c, column) in columns.iter().zip(cells.iter_mut()) {
            column.push(record.get(c).unwrap_or("").to_string());
        }
        targets.push(target.to_string());
        lines.push(line);
    }
    if rows_read == 0 {
        return Err(DataError::Empty { path: p(), what: "the file has a header but no rows" });
    }

    // Which columns are text: those listed, or with "auto" those whose present cells are not all numbers.
    let is_text: Vec<bool> = (0..columns.len())
        .map(|j| {
            listed.contains(&j)
                || (spec.categorical == Categorical::Auto
                    && cells[j].iter().any(|c| !is_missing(c, &na) && c.parse::<f64>().is_err()))
        })
        .collect();
    let mut policies = Vec::with_capacity(columns.len());
    for (j, name) in features.iter().enumerate() {
        let explicit = spec.missing.columns.get(name).copied();
        let policy = match (is_text[j], explicit) {
            (true, Some(policy @ (MissingPolicy::Mean | MissingPolicy::Median))) => {
                return Err(DataError::Columns {
                    path: p(),
                    message: format!(
                        "data.missing gives \"{name}\" = \"{}\", but it is a categorical column: a category has no \
                         {0}; use \"most_frequent\"",
                        policy.as_str()
                    ),
                });
            }
            (true, _) => spec.missing.of(name).for_text(),
            (false, _) => spec.missing.of(name),
        };
        policies.push(policy);
    }

    // Rows with a missing cell where the policy drops them are left out before anything else.
    let mut keep = vec![true; targets.len()];
    let mut cells_lines = Vec::new();
    for (r, kept) in keep.iter_mut().enumerate() {
        let drops = (0..columns.len()).any(|j| policies[j] == MissingPolicy::DropRows && is_missing(&cells[j][r], &na));
        if drops {
            *kept = false;
            left_out.missing_cells += 1;
            cells_lines.push(lines[r]);
        }
    }
    // Errors in file order: the first bad cell is the one the user sees.
    for r in (0..targets.len()).filter(|&r| keep[r]) {
        for j in 0..columns.len() {
            let cell = &cells[j][r];
            if is_missing(cell, &na) {
                if policies[j] == MissingPolicy::Error {
                    return Err(DataError::Missing {
                        path: p(),
                        line: lines[r],
                        column: features[j].clone(),
                        value: cell.clone(),
                        hint: preprocess::missing_hint(&features[j], MissingPolicy::Error, false),
                    });
                }
            } else if !is_text[j] {
                let v: f64 = cell.parse().map_err(|_| DataError::NonNumeric {
                    path: p(),
                    line: lines[r],
                    column: features[j].clone(),
                    value: cell.clone(),
                })?;
                if !v.is_finite() {
                    return Err(DataError::NotFinite {
                        path: p(),
                        line: lines[r],
                        column: features[j].clone(),
                        value: cell.clone(),
                    });
                }
            }
        }
    }
    let kept: Vec<usize> = (0..targets.len()).filter(|&r| keep[r]).collect();
    if kept.is_empty() {
        return Err(DataError::Empty { path: p(), what: "no row has a target and every cell its policy needs" });
    }
    let raw_columns: Vec<RawColumn> = cells
        .into_iter()
        .enumerate()
        .map(|(j, column)| {
            let cells = if is_text[j] {
                Cells::Text(kept.iter().map(|&r| Some(&column[r]).filter(|c| !is_missing(c, &na)).cloned()).collect())
            } else {
                Cells::Numbers(
                    kept.iter()
                        .map(
                            |&r| {
                                if is_missing(&column[r], &na) {
                                    f64::NAN
                                } else {
                                    column[r].parse().unwrap_or(f64::NAN)
                                }
                            },
                        )
                        .collect(),
                )
            };
            RawColumn { name: features[j].clone(), cells, missing: policies[j] }
        })
        .collect();

    let mut notes = Vec::new();
    if spec.categorical == Categorical::Auto {
        let text: Vec<String> =
            (0..columns.len()).filter(|&j| is_text[j]).map(|j| format!("{:?}", features[j])).collect();
        notes.push(match text.is_empty() {
            true => "categorical = \"auto\": no text column, every feature is a number".to_string(),
            false => format!("categorical = \"auto\": one-hot encoding the text column(s) {}", text.join(", ")),
        });
    }
    for column in &raw_columns {
        if preprocess::looks_like_identifier(&column.cells) {
            notes.push(preprocess::identifier_warning(&column.name));
        }
    }
    let listed_lines = |lines: &[u64]| {
        let shown: Vec<String> = lines.iter().take(LINES_SHOWN).map(u64::to_string).collect();
        let more = if lines.len() > LINES_SHOWN { ", …" } else { "" };
        format!("line {}{more}", shown.join(", "))
    };
    if left_out.missing_target > 0 {
        notes.push(format!(
            "{} row(s) left out: the target {:?} is missing ({}); a target is never imputed",
            left_out.missing_target,
            options.target,
            listed_lines(&target_lines)
        ));
    }
    if left_out.missing_cells > 0 {
        notes.push(format!(
            "{} row(s) left out: a missing cell in a column with missing = \"drop_rows\" ({})",
            left_out.missing_cells,
            listed_lines(&cells_lines)
        ));
    }
    Ok(RawTable {
        path: p(),
        fingerprint,
        target: options.target.clone(),
        columns: raw_columns,
        targets: TargetColumn::Text(kept.iter().map(|&r| targets[r].clone()).collect()),
        lines: kept.iter().map(|&r| lines[r]).collect(),
        left_out,
        notes,
        steps: (!spec.is_default()).then_some(StepOptions { na_values: na, unseen: spec.unseen }),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::data::MissingSpec;

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
        assert!(e.ends_with(":2: column \"name\": got \"ann\", expected a number (a text column cannot be a feature as it is: make it a category with [data] categorical = [\"name\"], or leave it out with [data] drop = [\"name\"])"), "{e}");
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

    fn steps(spec: StepsSpec) -> CsvOptions {
        CsvOptions { steps: spec, ..CsvOptions::target("y") }
    }

    const GAPS: &str = "id,age,port,y\n1,22,S,a\n2,,C,b\n3,NA,S,\n4,30,?,a\n5,41,,NA\n";

    #[test]
    fn an_empty_cell_without_a_policy_says_it_is_missing_and_names_the_policies() {
        let (_d, path) = file(GAPS);
        let e = read_csv(&path, &CsvOptions { drop: vec!["port".into()], ..CsvOptions::target("y") })
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(
                ":3: column \"age\": the cell is missing (empty); [data] missing = \"error\" (the default) stops here; \
                 set [data] missing to \"drop_rows\", \"mean\", \"median\" or \"most_frequent\", or for this column \
                 only missing = { age = \"median\" }, or leave the column out with [data] drop = [\"age\"]"
            ),
            "{e}"
        );
    }

    #[test]
    fn rows_without_a_target_are_left_out_and_na_values_decide_what_is_missing() {
        let (_d, path) = file(GAPS);
        let spec = StepsSpec {
            categorical: Categorical::Columns(vec!["port".into()]),
            missing: MissingSpec { default: MissingPolicy::MostFrequent, ..Default::default() },
            ..Default::default()
        };
        let t = read_csv(&path, &steps(spec.clone())).unwrap();
        // Lines 4 (empty target) and 6 ("NA") are left out; "?" is a category by default.
        assert_eq!(t.lines, [2, 3, 5]);
        assert_eq!(t.left_out, LeftOut { missing_target: 2, missing_cells: 0 });
        assert!(t.notes.iter().any(|n| n.starts_with("2 row(s) left out: the target \"y\" is missing (line 4, 6)")));
        let Cells::Numbers(ages) = &t.columns[1].cells else { panic!("age is numeric") };
        assert_eq!((ages[0], ages[1].is_nan(), ages[2]), (22.0, true, 30.0));
        assert_eq!(t.columns[2].cells, Cells::Text(vec![Some("S".into()), Some("C".into()), Some("?".into())]));

        let question = StepsSpec { na_values: Some(vec!["".into(), "?".into()]), ..spec };
        let t = read_csv(&path, &steps(question)).unwrap();
        assert_eq!(t.lines, [2, 3, 5, 6], "\"NA\" is a label now: only the empty target is missing");
        assert_eq!(t.columns[2].cells, Cells::Text(vec![Some("S".into()), Some("C".into()), None, None]));
        // "NA" in a numeric column is no missing value any more, so it is text where a number belongs.
        let (_d2, path) = file("age,y\n1,a\nNA,b\n");
        let only_empty = StepsSpec { na_values: Some(vec!["".into()]), ..Default::default() };
        let e = read_csv(&path, &steps(only_empty)).unwrap_err().to_string();
        assert!(e.contains(":3: column \"age\": got \"NA\", expected a number"), "{e}");
    }

    #[test]
    fn drop_rows_leaves_rows_out_per_column_and_policies_must_fit_their_columns() {
        let (_d, path) = file(GAPS);
        let per_column = StepsSpec {
            categorical: Categorical::Columns(vec!["port".into()]),
            missing: MissingSpec {
                default: MissingPolicy::MostFrequent,
                columns: [("age".to_string(), MissingPolicy::DropRows)].into(),
            },
            ..Default::default()
        };
        let t = read_csv(&path, &steps(per_column)).unwrap();
        assert_eq!(t.lines, [2, 5], "line 3's empty age drops it; line 5's \"?\" port is a category");
        assert_eq!(t.left_out, LeftOut { missing_target: 2, missing_cells: 1 });

        let median_of_text = StepsSpec {
            categorical: Categorical::Columns(vec!["port".into()]),
            missing: MissingSpec {
                columns: [("port".to_string(), MissingPolicy::Median)].into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = read_csv(&path, &steps(median_of_text)).unwrap_err().to_string();
        assert!(e.contains("data.missing gives \"port\" = \"median\", but it is a categorical column"), "{e}");
        let not_a_feature = StepsSpec { categorical: Categorical::Columns(vec!["y".into()]), ..Default::default() };
        let e = read_csv(&path, &steps(not_a_feature)).unwrap_err().to_string();
        assert!(e.contains("data.categorical names \"y\", which is not a feature column"), "{e}");
    }

    #[test]
    fn auto_lists_the_text_columns_identifiers_warn_and_one_value_per_row_is_refused() {
        let mut csv = String::from("id,name,port,y\n");
        for i in 0..30 {
            csv.push_str(&format!("{},p{i},{},{}\n", 100 + i, ["S", "C", "Q"][i % 3], i % 2));
        }
        let (_d, path) = file(&csv);
        let auto = StepsSpec { categorical: Categorical::Auto, ..Default::default() };
        let e = read_csv(&path, &steps(auto.clone())).unwrap().check_categories().unwrap_err().to_string();
        assert!(
            e.contains("too many distinct values to one-hot encode in \"name\" (30 distinct values in 30 rows)")
                && e.ends_with("leave it out with [data] drop = [\"name\"]"),
            "{e}"
        );
        let t = read_csv(&path, &CsvOptions { drop: vec!["name".into()], ..steps(auto) }).unwrap();
        assert_eq!(t.notes[0], "categorical = \"auto\": one-hot encoding the text column(s) \"port\"");
        assert!(t.notes[1].starts_with("column \"id\" holds a different value in every row"), "{:?}", t.notes);
        assert_eq!(t.notes.len(), 2);
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
        let policy = prop_oneof![
            Just(MissingPolicy::Error),
            Just(MissingPolicy::DropRows),
            Just(MissingPolicy::Mean),
            Just(MissingPolicy::Median),
            Just(MissingPolicy::MostFrequent),
        ];
        let steps = prop_oneof![
            Just(StepsSpec::default()),
            (policy.clone(), any::<bool>()).prop_map(|(default, unseen)| StepsSpec {
                categorical: Categorical::Auto,
                missing: MissingSpec { default, ..Default::default() },
                unseen: if unseen { super::super::Unseen::Error } else { super::super::Unseen::Ignore },
                ..Default::default()
            }),
            (column.clone(), policy, proptest::option::of(proptest::collection::vec(any::<String>(), 0..3))).prop_map(
                |(name, p, na_values)| StepsSpec {
                    categorical: Categorical::Columns(vec![name.clone()]),
                    missing: MissingSpec { columns: [(name, p)].into(), ..Default::default() },
                    na_values,
                    ..Default::default()
                }
            ),
        ];
        (
            prop_oneof![Just("target".to_string()), column.clone()],
            proptest::option::of(proptest::collection::vec(column.clone(), 0..3)),
            proptest::collection::vec(column, 0..2),
            steps,
        )
            .prop_map(|(target, features, drop, steps)| CsvOptions { target, features, drop, steps })
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
            let plan = super::super::SplitPlan::valid_only(0.3);
            let result = read_csv(&path, &options)
                .and_then(|table| table.check_categories().map(|_| table))
                .and_then(|table| super::super::prepare_split(&table, task, &plan, seed).map(|_| ()));
            if let Err(e) = result {
                let message = e.to_string();
                prop_assert!(message.starts_with(&path.display().to_string()), "does not name the file: {message}");
                prop_assert!(!message.contains(['\n', '\r', '\0']), "not one line: {message:?}");
            }
        }
    }
}
