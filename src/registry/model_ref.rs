//! Naming a model on the command line: `NAME`, `NAME@VERSION`, `NAME@ALIAS`, or a folder.

use std::path::PathBuf;

use super::RegistryError;

/// Which version of a named model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// The newest version (`NAME` or `NAME@latest`).
    Latest,
    /// `NAME@3`.
    Version(u32),
    /// `NAME@champion`.
    Alias(String),
}

/// A model as named by a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModelRef {
    /// A trial folder or registry version folder.
    Folder(PathBuf),
    /// A registered model.
    Named {
        name: String,
        /// Which version.
        selector: Selector,
    },
}

impl ModelRef {
    /// Parses a reference: anything with a `/` (or an existing folder) is a folder.
    pub(crate) fn parse(text: &str) -> Result<ModelRef, RegistryError> {
        // The user typed the whole reference, so the message quotes it whole, whichever part is bad.
        Self::parse_parts(text).map_err(|why| RegistryError::BadRef { reference: text.to_string(), why })
    }

    fn parse_parts(text: &str) -> Result<ModelRef, String> {
        let named = |e: RegistryError| e.to_string();
        if text.contains('/') || std::path::Path::new(text).is_dir() {
            return Ok(ModelRef::Folder(PathBuf::from(text)));
        }
        // Names and aliases hold no '@', so a reference with two is wrong either way; splitting at
        // the last one makes the error name the bad model name (" @" of " @@1"), not a part of it.
        let (name, selector) = match text.rsplit_once('@') {
            None => (text, Selector::Latest),
            Some((name, "latest")) => (name, Selector::Latest),
            Some((name, sel)) => match sel.parse::<u32>() {
                Ok(v) => (name, Selector::Version(v)),
                Err(_) => {
                    validate_name(sel, "alias").map_err(named)?;
                    (name, Selector::Alias(sel.to_string()))
                }
            },
        };
        if name.is_empty() {
            return Err(EXPECTED.to_string());
        }
        validate_name(name, "model name").map_err(named)?;
        Ok(ModelRef::Named { name: name.to_string(), selector })
    }
}

pub(crate) const EXPECTED: &str = "expected NAME, NAME@VERSION, NAME@ALIAS or a trial folder";

/// Names and aliases become folder names: only `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, never `..`.
pub(crate) fn validate_name(value: &str, what: &'static str) -> Result<(), RegistryError> {
    let ok = (1..=64).contains(&value.len())
        && value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !value.contains("..");
    if ok { Ok(()) } else { Err(RegistryError::BadName { what, value: value.to_string() }) }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn references_parse() {
        let named = |n: &str, s: Selector| ModelRef::Named { name: n.into(), selector: s };
        assert_eq!(ModelRef::parse("digits").unwrap(), named("digits", Selector::Latest));
        assert_eq!(ModelRef::parse("digits@3").unwrap(), named("digits", Selector::Version(3)));
        assert_eq!(ModelRef::parse("digits@champion").unwrap(), named("digits", Selector::Alias("champion".into())));
        assert_eq!(ModelRef::parse("digits@latest").unwrap(), named("digits", Selector::Latest));
        assert_eq!(ModelRef::parse("results/x/trials/t0").unwrap(), ModelRef::Folder("results/x/trials/t0".into()));
        assert!(ModelRef::parse("@3").is_err());
    }

    #[test]
    fn path_unsafe_names_are_refused() {
        for bad in ["..", "a..b", ".hidden", "a b", "x/y", "", "-x", "ü", &"a".repeat(65)] {
            assert!(validate_name(bad, "alias").is_err(), "{bad:?}");
        }
        for good in ["champion", "v1.2", "my_model-3"] {
            assert!(validate_name(good, "alias").is_ok(), "{good:?}");
        }
        // The message quotes the whole reference, then the part that is wrong: with two '@' that
        // is the model name, which holds the extra one.
        for (text, part) in [("digits@a..b", "alias \"a..b\""), (" @@1", "model name \" @\""), (" @", "alias \"\"")] {
            match ModelRef::parse(text) {
                Err(e @ RegistryError::BadRef { .. }) => {
                    let message = e.to_string();
                    assert!(message.starts_with(&format!("{text:?} is not a model reference: {part}")), "{message}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    /// Names with the kinds of trouble a folder name can hold.
    fn nasty() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9._@/\\x00\\n-]{0,80}",
            Just("..".to_string()),
            Just("a/../../b".to_string()),
            Just("nul\0".to_string()),
            Just("x@".to_string()),
            Just("@".to_string()),
            Just("x@4294967296".to_string()),
            Just("x@-1".to_string()),
            (60usize..70).prop_map(|n| "a".repeat(n)),
            Just("b".repeat(5000)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// A name is accepted exactly when it is a safe folder name, and refused in one line.
        #[test]
        fn names_are_safe_folder_names_or_refused_in_one_line(name in nasty()) {
            let safe = (1..=64).contains(&name.len())
                && name.bytes().enumerate().all(|(i, b)| b.is_ascii_alphanumeric() || (i > 0 && b"._-".contains(&b)))
                && !name.contains("..");
            match validate_name(&name, "model name") {
                Ok(()) => prop_assert!(safe, "{name:?} accepted"),
                Err(e) => {
                    prop_assert!(!safe, "{name:?} refused");
                    let message = e.to_string();
                    prop_assert!(!message.contains(['\n', '\r', '\0']), "not one line: {message:?}");
                    prop_assert!(message.starts_with("model name \""), "{message}");
                }
            }
        }

        /// A reference parses to a folder (it has a `/`), to names that are
        /// safe folder names, or to an error in one line.
        #[test]
        fn references_name_a_folder_or_safe_names_or_fail_in_one_line(text in nasty()) {
            match ModelRef::parse(&text) {
                Ok(ModelRef::Folder(dir)) => prop_assert!(text.contains('/') || dir.is_dir()),
                Ok(ModelRef::Named { name, selector }) => {
                    prop_assert!(validate_name(&name, "model name").is_ok());
                    if let Selector::Alias(alias) = selector {
                        prop_assert!(validate_name(&alias, "alias").is_ok());
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(!message.contains(['\n', '\r', '\0']), "not one line: {message:?}");
                }
            }
        }
    }
}
