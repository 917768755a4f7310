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
    let message = message.trim().replace('\n', "; ");
    match span {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
