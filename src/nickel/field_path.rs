//! `export --field PATH`: a dotted path of record fields, as `nickel export --field` takes it,
//! checked where the argument arrives so that a malformed path is a usage error that says what
//! is wrong with it, not a parse error of Nickel's "query" blamed on the infra's file.

/// Checks that `text` is a field path Nickel accepts: record fields separated by `.`, each an
/// identifier (`servers`, `web-1`) or a quoted string (`"my field"`). Arrays have no fields:
/// `servers.0` is refused with the reason.
pub fn parse(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err(format!("the field path is empty\n{HINT}"));
    }
    let mut rest = text;
    loop {
        let element;
        (element, rest) =
            split_element(rest).map_err(|reason| format!("`{text}`: {reason}\n{HINT}"))?;
        if !element.starts_with('"') && !is_identifier(element) {
            let reason = if element.is_empty() {
                "a field name is empty (two `.` in a row, or one at an end)".to_owned()
            } else if element.bytes().all(|b| b.is_ascii_digit()) {
                format!(
                    "`{element}` is not a field name: a field path cannot index an array (export the array, `{}`, and pick the item from the output)",
                    text.split(&format!(".{element}")).next().unwrap_or(text)
                )
            } else {
                format!("`{element}` is not a field name (quote it: `\"{element}\"`)")
            };
            return Err(format!("`{text}`: {reason}\n{HINT}"));
        }
        match rest.strip_prefix('.') {
            Some(after) => rest = after,
            None if rest.is_empty() => return Ok(text.to_owned()),
            None => return Err(format!("`{text}`: unexpected `{rest}`\n{HINT}")),
        }
    }
}

const HINT: &str = "hint: a field path names record fields separated by `.`: `servers`, `network.zone`, `\"a field\".name`";

/// The first element of `text` (a quoted string, with its quotes, or everything up to the next
/// `.`) and what follows it.
fn split_element(text: &str) -> Result<(&str, &str), String> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut escaped = false;
        for (index, c) in quoted.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return Ok(text.split_at(index + 2)),
                _ => escaped = false,
            }
        }
        return Err("a quoted field name has no closing `\"`".to_owned());
    }
    Ok(text.split_at(text.find('.').unwrap_or(text.len())))
}

/// A Nickel identifier: a letter or `_`, then letters, digits, `_`, `-` and `'`.
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '\''))
}

#[cfg(test)]
mod tests {
    #[test]
    fn field_paths_are_record_fields_only() {
        let cases = [
            ("servers", Ok(())),
            ("network.zone", Ok(())),
            ("\"a.b\".c", Ok(())),
            ("web-1", Ok(())),
            (
                "servers.0.plan",
                Err(
                    "`servers.0.plan`: `0` is not a field name: a field path cannot index an array (export the array, `servers`, and pick the item from the output)",
                ),
            ),
            (
                "servers..plan",
                Err("`servers..plan`: a field name is empty"),
            ),
            ("servers.", Err("`servers.`: a field name is empty")),
            ("a b", Err("`a b`: `a b` is not a field name")),
            (
                "\"open",
                Err("`\"open`: a quoted field name has no closing"),
            ),
            ("\"a\"b", Err("`\"a\"b`: unexpected `b`")),
            ("", Err("the field path is empty")),
        ];
        for (text, expected) in cases {
            match (super::parse(text), expected) {
                (Ok(parsed), Ok(())) => assert_eq!(parsed, text),
                (Err(error), Err(start)) => {
                    assert!(error.starts_with(start), "{text}: {error}");
                    assert!(error.contains("\nhint: "), "{text}: {error}");
                }
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
    }
}
