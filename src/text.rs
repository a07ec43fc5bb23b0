//! Text from users shown back to them in one-line messages.
//!
//! Error messages quote what the user gave (a cell, a name, a path), and that
//! text can hold newlines, NUL or terminal escapes. Every error is promised to
//! be one line on stderr, so such characters are shown escaped, never raw.

use std::borrow::Cow;

/// `text` with every control character escaped (`\n`, `\r`, `\0`, `\u{1b}`):
/// it prints as one line and cannot move the cursor. Tabs are kept.
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(one_line("plain ü\ttext"), "plain ü\ttext");
        assert_eq!(one_line("a\nb\r\0c\u{1b}[31m"), "a\\nb\\r\\0c\\u{1b}[31m");
        assert!(matches!(one_line("x"), Cow::Borrowed(_)));
    }
}
