//! UTC timestamps for registry metadata: seconds since the Unix epoch, printed as RFC 3339
//! (`2026-11-25T23:30:00Z`). The clock is read through [`crate::context::Context::now`], which
//! honours `SOURCE_DATE_EPOCH` for reproducible metadata.

/// RFC 3339 in UTC, to the second, for `seconds` since 1970-01-01T00:00:00Z (`humantime`'s
/// formatter; a time `SystemTime` cannot hold reads as the epoch).
pub fn rfc3339(seconds: u64) -> String {
    let time = std::time::UNIX_EPOCH
        .checked_add(std::time::Duration::from_secs(seconds))
        .unwrap_or(std::time::UNIX_EPOCH);
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_759_178_841, "2025-09-29T20:47:21Z"),
            (1_798_761_599, "2026-12-31T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(rfc3339(seconds), expected, "{seconds}");
        }
    }
}
