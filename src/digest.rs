//! Hashes as types: [`Sha256`] (an artifact's digest, 64 lower-case hex digits) and
//! [`ContentHash`] (the `h1:` hash of the files inside an artifact, Go's `dirhash.Hash1`). Both
//! are parsed once where they arrive as text (a lock, registry metadata, an OCI manifest), so
//! the rest of the code never slices or compares unchecked strings.
//!
//! This module also computes them; it reads no files.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use sha2::Digest as _;

/// A SHA-256 digest, printed as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256([u8; 32]);

/// The `h1:` hash of a set of files: `h1:` and the base64 of a SHA-256.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentHash([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("`{text}` is not a sha256: expected 64 lower-case hex digits")]
    Sha256 { text: String },
    #[error("`{text}` is not a content hash: expected `h1:` and 44 base64 characters")]
    ContentHash { text: String },
}

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(sha2::Sha256::digest(bytes).into())
    }

    /// The 32 bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 12 hex digits, for tables and status lines.
    pub fn short(&self) -> String {
        let mut text = self.to_string();
        text.truncate(12);
        text
    }

    /// `sha256:<hex>`, as OCI names blobs.
    pub fn oci_digest(&self) -> String {
        format!("sha256:{self}")
    }

    /// Parses an OCI digest; only `sha256:<64 hex>` is one.
    pub fn from_oci_digest(digest: &str) -> Result<Self, DigestError> {
        digest
            .strip_prefix("sha256:")
            .ok_or_else(|| DigestError::Sha256 {
                text: digest.to_owned(),
            })?
            .parse()
    }
}

/// A [`Sha256`] computed piece by piece, for bytes never all in memory at once (a download).
#[derive(Debug, Clone, Default)]
pub struct Sha256Hasher(sha2::Sha256);

impl Sha256Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Sha256 {
        Sha256(self.0.finalize().into())
    }
}

impl FromStr for Sha256 {
    type Err = DigestError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || DigestError::Sha256 {
            text: text.to_owned(),
        };
        let hex = text.as_bytes();
        if hex.len() != 64 {
            return Err(error());
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            let digit = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            *byte = digit(pair[0])
                .zip(digit(pair[1]))
                .map(|(h, l)| h << 4 | l)
                .ok_or_else(error)?;
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl ContentHash {
    /// The content hash of a set of files, by Go's `dirhash.Hash1` recipe: for each file, sorted
    /// by name, the line `<hex sha256 of its contents>  <name>\n`; the SHA-256 of those lines,
    /// base64-encoded, prefixed with `h1:`. Names are the paths inside the archive
    /// (`upcloud_prov/main.ncl`). It identifies the files whatever the archive format around them.
    pub fn of_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        Self::of_summary(&summary(files))
    }

    /// The hash of a [`summary`].
    pub fn of_summary(summary: &str) -> Self {
        Self(sha2::Sha256::digest(summary.as_bytes()).into())
    }
}

/// The lines [`ContentHash::of_files`] hashes: `<hex sha256>  <name>\n` for each file, sorted by
/// name. Kept beside a vendored module, they say which file changed.
pub fn summary<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut files: Vec<(&str, &[u8])> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(b.0));
    files
        .into_iter()
        .map(|(name, contents)| format!("{}  {name}\n", Sha256::of(contents)))
        .collect()
}

impl FromStr for ContentHash {
    type Err = DigestError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || DigestError::ContentHash {
            text: text.to_owned(),
        };
        let encoded = text.strip_prefix("h1:").ok_or_else(error)?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| error())?;
        Ok(Self(decoded.try_into().map_err(|_| error())?))
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(self.0)
        )
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

/// Serializes as its text and parses that text back, for the types of this module and others
/// built the same way (`Display` + `FromStr`).
macro_rules! serde_as_text {
    ($($type:ty),*) => {$(
        impl ::serde::Serialize for $type {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $type {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    )*};
}
pub(crate) use serde_as_text;

serde_as_text!(Sha256, ContentHash);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_in_pieces_is_the_hash_of_the_whole() {
        let mut hasher = Sha256Hasher::default();
        hasher.update(b"hello ");
        hasher.update(b"");
        hasher.update(b"world");
        assert_eq!(hasher.finish(), Sha256::of(b"hello world"));
    }

    #[test]
    fn content_hash_follows_gos_dirhash() {
        // Go: dirhash.Hash1([]string{"a/x", "a/y"}, open) with x = "hello\n", y = "" gives this.
        let hash = ContentHash::of_files([("a/y", b"".as_slice()), ("a/x", b"hello\n".as_slice())]);
        let expected_summary = format!(
            "{}  a/x\n{}  a/y\n",
            Sha256::of(b"hello\n"),
            Sha256::of(b"")
        );
        let expected = format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(expected_summary.as_bytes()))
        );
        assert_eq!(hash.to_string(), expected);
        assert_eq!(
            Sha256::of(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hashes_parse_only_their_exact_form() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let sha: Sha256 = hex.parse().expect("valid");
        assert_eq!(sha.to_string(), hex);
        assert_eq!(sha.short(), "e3b0c44298fc");
        assert_eq!(Sha256::from_oci_digest(&sha.oci_digest()), Ok(sha));
        for bad in [
            "",
            "00",
            &hex.to_uppercase(),
            &format!("{hex}0"),
            &hex.replace('e', "é"),
        ] {
            assert!(bad.parse::<Sha256>().is_err(), "{bad:?}");
        }
        assert!(Sha256::from_oci_digest(hex).is_err());
        let h1 = ContentHash::of_summary("x");
        assert_eq!(h1.to_string().parse::<ContentHash>(), Ok(h1));
        for bad in ["", "h1:", "h1:AAAA", "h2:x", &h1.to_string()[3..]] {
            assert!(bad.parse::<ContentHash>().is_err(), "{bad:?}");
        }
    }
}
