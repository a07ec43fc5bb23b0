//! W&B sweep files as YAML trees that know the line of every node, under
//! YAML 1.2's core schema.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

/// A YAML node and the (1-based) line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node {
    pub(super) value: Yaml,
    pub(super) line: usize,
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in file order, each with its line.
    Map(Vec<(String, usize, Node)>),
}

/// A container being filled while the events stream in.
enum Frame {
    Seq { items: Vec<Node>, line: usize, anchor: usize },
    Map { entries: Vec<(String, usize, Node)>, key: Option<(String, usize)>, line: usize, anchor: usize },
}

/// The one document of a YAML text as a tree; errors as (line, message).
pub(super) fn load_yaml(text: &str) -> Result<Node, (usize, String)> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut docs: Vec<Node> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| (e.marker().line(), format!("invalid YAML: {}", e.info())))?;
        let line = span.start.line();
        let (node, anchor) = match event {
            Event::Scalar(value, style, anchor, tag) => {
                (Node { value: scalar(&value, style, tag, line)?, line }, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq { items: Vec::new(), line, anchor });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map { entries: Vec::new(), key: None, line, anchor });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { items, line, anchor }) => (Node { value: Yaml::Seq(items), line }, anchor),
                Some(Frame::Map { entries, line, anchor, .. }) => (Node { value: Yaml::Map(entries), line }, anchor),
                None => return Err((line, "invalid YAML: a collection ends that never started".into())),
            },
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => (Node { value: node.value.clone(), line }, 0),
                None => return Err((line, "invalid YAML: an alias (*name) to no anchor".into())),
            },
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {
                continue;
            }
        };
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    let name = match node.value {
                        Yaml::Str(s) => s,
                        Yaml::Int(i) => i.to_string(),
                        Yaml::Bool(b) => b.to_string(),
                        Yaml::Float(f) => f.to_string(),
                        Yaml::Null | Yaml::Seq(_) | Yaml::Map(_) => {
                            return Err((node.line, "a key must be a name, not empty or a collection".into()));
                        }
                    };
                    if entries.iter().any(|(k, _, _)| *k == name) {
                        return Err((node.line, format!("key \"{name}\" appears twice in one mapping; keep one")));
                    }
                    *key = Some((name, node.line));
                }
                Some((name, kline)) => entries.push((name, kline, node)),
            },
        }
    }
    match docs.len() {
        0 => Err((1, "is empty, expected a W&B sweep configuration (method:, metric:, parameters:, ...)".into())),
        1 => Ok(docs.remove(0)),
        _ => Err((docs[1].line, "holds several YAML documents (---), expected one sweep".into())),
    }
}

/// A scalar's value under YAML 1.2's core schema; quoted ones are strings.
fn scalar(text: &str, style: ScalarStyle, tag: Option<Cow<'_, Tag>>, line: usize) -> Result<Yaml, (usize, String)> {
    if let Some(tag) = tag {
        let wrong = |what: &str| (line, format!("\"{text}\" is tagged !!{what} but is not one"));
        if !tag.is_yaml_core_schema() {
            return Err((line, format!("the YAML tag {}{} is not supported", tag.handle, tag.suffix)));
        }
        return match (tag.suffix.as_str(), plain(text)) {
            ("str", _) => Ok(Yaml::Str(text.to_string())),
            ("int", Yaml::Int(i)) => Ok(Yaml::Int(i)),
            ("float", Yaml::Float(f)) => Ok(Yaml::Float(f)),
            ("float", Yaml::Int(i)) => Ok(Yaml::Float(i as f64)),
            ("bool", Yaml::Bool(b)) => Ok(Yaml::Bool(b)),
            ("null", Yaml::Null) => Ok(Yaml::Null),
            (what @ ("int" | "float" | "bool" | "null"), _) => Err(wrong(what)),
            (other, _) => Err((line, format!("the YAML tag !!{other} is not supported"))),
        };
    }
    Ok(match style {
        ScalarStyle::Plain => plain(text),
        _ => Yaml::Str(text.to_string()),
    })
}

/// A plain scalar: null, a boolean, an integer, a float, else a string.
fn plain(text: &str) -> Yaml {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Yaml::Null,
        "true" | "True" | "TRUE" => return Yaml::Bool(true),
        "false" | "False" | "FALSE" => return Yaml::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Yaml::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Yaml::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Yaml::Float(f64::NAN),
        _ => {}
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if digits(unsigned, 10) {
        if let Ok(i) = text.parse::<i64>() {
            return Yaml::Int(i);
        }
    } else if let Some(octal) = text.strip_prefix("0o").filter(|s| digits(s, 8)) {
        if let Ok(i) = i64::from_str_radix(octal, 8) {
            return Yaml::Int(i);
        }
    } else if let Some(hex) = text.strip_prefix("0x").filter(|s| digits(s, 16))
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Yaml::Int(i);
    }
    if is_float(unsigned)
        && let Ok(f) = text.parse::<f64>()
    {
        return Yaml::Float(f);
    }
    Yaml::Str(text.to_string())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float without its sign.
fn is_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_resolve_as_yaml_1_2() {
        for (text, want) in [
            ("1e-4", Yaml::Float(1e-4)),
            ("-3", Yaml::Int(-3)),
            ("0x1f", Yaml::Int(31)),
            ("0o17", Yaml::Int(15)),
            ("1.", Yaml::Float(1.0)),
            (".5", Yaml::Float(0.5)),
            ("+2.5E3", Yaml::Float(2500.0)),
            ("True", Yaml::Bool(true)),
            ("~", Yaml::Null),
            ("yes", Yaml::Str("yes".into())),
            ("1e", Yaml::Str("1e".into())),
            ("1_000", Yaml::Str("1_000".into())),
            ("adam", Yaml::Str("adam".into())),
        ] {
            assert_eq!(plain(text), want, "{text}");
        }
    }

    #[test]
    fn anchors_and_aliases_are_copies() {
        let root = load_yaml("a: &x {values: [1, 2]}\nb: *x\n").unwrap();
        let Yaml::Map(entries) = root.value else { panic!() };
        assert_eq!(entries[0].2.value, entries[1].2.value);
        assert_eq!((entries[0].1, entries[1].1), (1, 2));
    }
}
