//! Positions in text, for error messages that say where a file is wrong on one line:
//! `line 4, column 14: unclosed table, expected `]``.

use std::ops::Range;

/// The 1-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, column)
}

/// A parser's message with the position of its span, on one line.
pub fn located(text: &str, message: &str, span: Option<Range<usize>>) -> String {
    let message = plain_words(message.trim()).replace('\n', "; ");
    match span {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// A message of serde's (or of a parser built on it) in our words: what was expected and what
/// was found, never serde's internals ("invalid type: string \"big\", expected u64", "data did
/// not match any variant of untagged enum").
pub fn plain_words(message: &str) -> String {
    // libyaml adds what it was in the middle of: its parser's state, not the user's mistake.
    let message = message.split(", while parsing").next().unwrap_or(message);
    // serde_yaml and serde_json put the position last; keep it there, untouched.
    let (message, position) = match message.rfind(" at line ") {
        Some(index) => message.split_at(index),
        None => (message, ""),
    };
    if message.starts_with("EOF while parsing") {
        return format!("the text ends before its value does (cut short?){position}");
    }
    for marker in ["invalid type: ", "invalid value: "] {
        if let Some(index) = message.find(marker)
            && let Some((found, expected)) =
                message[index + marker.len()..].split_once(", expected ")
        {
            let (before, _) = message.split_at(index);
            let expected = type_words(expected);
            return format!("{before}expected {expected}, found {found}{position}");
        }
    }
    if let Some(index) = message.find("invalid length ")
        && let Some((found, expected)) =
            message[index + "invalid length ".len()..].split_once(", expected ")
    {
        let (before, _) = message.split_at(index);
        let expected = type_words(expected);
        return format!("{before}expected {expected}, found a list of {found} values{position}");
    }
    if let Some(index) = message.find("missing field ") {
        let (before, rest) = message.split_at(index);
        let field = &rest["missing field ".len()..];
        return format!("{before}the field {field} is missing{position}");
    }
    if let Some(index) = message.find("data did not match any variant of untagged enum") {
        let (before, _) = message.split_at(index);
        return format!("{before}the value has none of the accepted forms{position}");
    }
    let message = message.replace(
        "expected semver version",
        "expected a version (`MAJOR.MINOR.PATCH`)",
    );
    format!("{message}{position}")
}

/// serde's and Rust's names of the types a field must have, in words.
fn type_words(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "semver version" => "a version (`MAJOR.MINOR.PATCH`)".to_owned(),
        "a boolean" => "`true` or `false`".to_owned(),
        // `struct Envelope`, `struct Envelope with 3 elements`: the name of one of our types.
        other if other.starts_with("struct ") => "a record of fields (`{ … }`)".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_wording_becomes_ours() {
        let cases = [
            (
                "invalid type: string \"big\", expected u64",
                "expected a whole number (0 or more), found string \"big\"",
            ),
            (
                "invalid type: integer `1`, expected semver version",
                "expected a version (`MAJOR.MINOR.PATCH`), found integer `1`",
            ),
            ("missing field `name`", "the field `name` is missing"),
            (
                "did not find expected node content at line 3 column 1, while parsing a flow node",
                "did not find expected node content at line 3 column 1",
            ),
            (
                "EOF while parsing a value",
                "the text ends before its value does (cut short?)",
            ),
            (
                "data did not match any variant of untagged enum Requirement",
                "the value has none of the accepted forms",
            ),
            (
                "invalid type: string \"x\", expected struct Envelope at line 1 column 3",
                "expected a record of fields (`{ … }`), found string \"x\" at line 1 column 3",
            ),
            (
                "invalid length 0, expected struct Envelope with 3 elements at line 1 column 2",
                "expected a record of fields (`{ … }`), found a list of 0 values at line 1 column 2",
            ),
            (
                "unclosed table, expected `]`",
                "unclosed table, expected `]`",
            ),
        ];
        for (serde, ours) in cases {
            assert_eq!(plain_words(serde), ours);
        }
    }

    #[test]
    fn positions_are_one_based() {
        let text = "a\nbc\n\ndé";
        let cases = [
            (0, (1, 1)),
            (1, (1, 2)),
            (2, (2, 1)),
            (4, (2, 3)),
            (5, (3, 1)),
            (7, (4, 2)),
            (99, (4, 3)),
        ];
        for (offset, expected) in cases {
            assert_eq!(line_column(text, offset), expected, "offset {offset}");
        }
    }
}
