//! A release's listing: `SHA256SUMS`, as `sha256sum *.tar > SHA256SUMS` writes it (GNU
//! coreutils' format, which release pages commonly carry). It is how a release URL says which
//! artifacts it holds (a static host cannot list a directory), and it pins their bytes.
//!
//! One artifact a line: 64 hex digits, a space, a space or `*` (binary mode), the file name.
//! Blank lines are skipped; lines naming anything but a `.tar` (signatures, other files) are
//! ignored; a file name with a `/` (another directory) or a line of another shape is an error
//! naming the line.

use crate::digest::Sha256;

/// The listing's file name, beside the artifacts.
pub const FILE_NAME: &str = "SHA256SUMS";

/// The largest listing read.
pub const MAX_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error(
    "`{listing}` line {line}: {reason}\nhint: a listing is what `sha256sum *.tar > {FILE_NAME}` writes"
)]
pub struct ListingError {
    pub listing: String,
    pub line: usize,
    pub reason: String,
}

/// One artifact a listing names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub file: String,
    pub sha256: Sha256,
}

/// The artifacts `text` lists, in its order; `listing` names it in errors.
pub fn parse(text: &str, listing: &str) -> Result<Vec<Listed>, ListingError> {
    let mut listed = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let error = |reason: &str| ListingError {
            listing: listing.to_owned(),
            line: index + 1,
            reason: reason.to_owned(),
        };
        if line.trim().is_empty() {
            continue;
        }
        let (hex, rest) = line
            .split_once(' ')
            .ok_or_else(|| error("expected `<sha256>  <file>`"))?;
        let file = rest
            .strip_prefix(' ')
            .or_else(|| rest.strip_prefix('*'))
            .ok_or_else(|| {
                error("expected two spaces (or ` *`) between the sha256 and the file")
            })?;
        let file = file.strip_prefix("./").unwrap_or(file);
        if !file.ends_with(".tar") {
            continue;
        }
        let sha256: Sha256 = hex
            .parse()
            .map_err(|_| error("the sha256 is not 64 hex digits"))?;
        if file.contains('/') || file.contains('\\') {
            return Err(error(&format!(
                "`{file}` is not in the listing's directory"
            )));
        }
        listed.push(Listed {
            file: file.to_owned(),
            sha256,
        });
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "896a8c041dbd65aa0de48e8b5c64189d43d7050cb65ead2ce97e349dbd88de51";

    #[test]
    fn lines_as_sha256sum_writes_them() {
        let text = format!(
            "{HEX}  aws_prov_1.0.0.tar\n\n{HEX} *./core_0.1.0.tar\n{HEX}  aws_prov_1.0.0.tar.minisig\n"
        );
        let listed = parse(&text, "SHA256SUMS").expect("parses");
        let files: Vec<&str> = listed.iter().map(|l| l.file.as_str()).collect();
        assert_eq!(files, ["aws_prov_1.0.0.tar", "core_0.1.0.tar"]);
        assert_eq!(listed[0].sha256.to_string(), HEX);
    }

    #[test]
    fn malformed_lines_are_named() {
        let cases = [
            ("nothing", "line 1: expected `<sha256>  <file>`"),
            ("abc  x.tar", "line 1: the sha256 is not 64 hex digits"),
            (&format!("{HEX}  sub/x.tar"), "`sub/x.tar` is not in"),
            (&format!("{HEX} x.tar"), "expected two spaces"),
        ];
        for (text, expected) in cases {
            let error = parse(text, "SHA256SUMS").expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
