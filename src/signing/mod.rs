//! Signing keys and signatures, in minisign's formats (the `minisign` crate), so the standard
//! `minisign` tool verifies our signatures and we verify its.
//!
//! - The user's key pair lives in `<config dir>/provisioning/keys/` (`provisioning.key`, mode
//!   0600, unencrypted so CI can sign unattended; `provisioning.pub`).
//! - Trusted public keys: the user's own, those added with `keys trust` (in
//!   `<config dir>/provisioning/trusted/<KEY ID>.pub`), and a team's keys committed in the base's
//!   `config/trusted-keys/*.pub` ([`keyring`]).
//! - A trusted key may be limited to some modules (`keys trust KEY --for 'aws_*'`): a signature
//!   by a key trusted for other modules only is refused as untrusted ([`scope`]).
//! - A signature's **trusted comment** names module, version and sha256
//!   (`provisioning-pack module=upcloud_prov version=0.0.1 sha256=…`), and verification requires
//!   all three to match: a valid signature of one version cannot be replayed for another.
//!
//! `<config dir>` is `$XDG_CONFIG_HOME`, else `$HOME/.config`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use minisign::{PublicKey, SecretKey, SignatureBox};

use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};

mod keyring;
pub mod scope;

pub use keyring::{KeySource, Keyring, Trusted, TrustedKey, trusted_keys};
pub use scope::{KeyScope, ModulePattern};

const TRUSTED_COMMENT_PREFIX: &str = "provisioning-pack";

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("neither `XDG_CONFIG_HOME` nor `HOME` is set: no place for keys")]
    NoConfigDir,
    #[error("a signing key already exists at `{}`\nhint: pass `--force` to replace it (signatures made with the old key will no longer be yours)", path.display())]
    KeyExists { path: PathBuf },
    #[error("no signing key\nhint: create one with `provisioning keys generate`")]
    NoKey,
    #[error("`{}` is not a minisign key: {message}", path.display())]
    BadKey { path: PathBuf, message: String },
    #[error("`{input}` is not a minisign public key: {message}")]
    BadPublicKey { input: String, message: String },
    #[error("no such file `{}`\nhint: give a minisign `.pub` file, or the public key itself (`RW...`, the second line of a `.pub` file)", path.display())]
    NoKeyFile { path: PathBuf },
    #[error("failed to sign `{}` {}: {message}", pack.module, pack.version)]
    Sign { pack: PackRef, message: String },
    #[error("`{}` is not a minisign signature: {message}", path.display())]
    BadSignature { path: PathBuf, message: String },
    #[error("`{}` is signed by key {key_id}, which is not trusted\nhint: if you trust it, `provisioning keys trust <its .pub file>`", path.display())]
    UntrustedKey { path: PathBuf, key_id: KeyId },
    #[error(
        "`{}` is signed by key {key_id}, which is trusted only for {scope} (`{}`), not for `{module}`: refusing it as untrusted\nhint: if key {key_id} may sign `{module}`, `provisioning keys trust {key_id} {}`",
        path.display(),
        scope_file.display(),
        scope.widened_to(module)
    )]
    OutOfScope {
        path: PathBuf,
        key_id: KeyId,
        module: ModuleName,
        scope: KeyScope,
        scope_file: PathBuf,
    },
    #[error("`{}` is not a key scope: {message}\nhint: a scope file holds `modules = [\"<pattern>\", ...]`; `provisioning keys trust <KEY> --for '<pattern>'` writes one", path.display())]
    BadScope { path: PathBuf, message: String },
    #[error(
        "key {key_id} is not trusted\nhint: give its `.pub` file, or the public key itself (`RW...`)"
    )]
    NotTrusted { key_id: KeyId },
    #[error("key {key_id} is your own signing key (`{}`): it signs every module, and cannot be limited to some", path.display())]
    OwnKeyScoped { key_id: KeyId, path: PathBuf },
    #[error("the signature `{}` does not match the artifact (key {key_id}): {message}", path.display())]
    Mismatch {
        path: PathBuf,
        key_id: KeyId,
        message: String,
    },
    #[error(
        "the signature `{}` was made for {found}, not for {expected}: refusing a replayed signature",
        path.display()
    )]
    Replayed {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("failed to access `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SigningError + '_ {
    move |source| SigningError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A minisign key id as minisign prints it: 16 upper-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a key id: expected 16 upper-case hex digits")]
pub struct KeyIdError {
    text: String,
}

impl std::str::FromStr for KeyId {
    type Err = KeyIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = text.len() == 16
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
        valid
            .then(|| u64::from_str_radix(text, 16).ok())
            .flatten()
            .map(Self)
            .ok_or_else(|| KeyIdError {
                text: text.to_owned(),
            })
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016X}", self.0)
    }
}

crate::digest::serde_as_text!(KeyId);

/// The id of a minisign key number (its first 8 bytes, little-endian).
pub fn key_id(keynum: &[u8]) -> KeyId {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&keynum[..8.min(keynum.len())]);
    KeyId(u64::from_le_bytes(bytes))
}

/// What a verified signature says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signer {
    pub key_id: KeyId,
    pub source: KeySource,
    pub trusted_comment: String,
}

/// The trusted comment that binds a signature to one module, version and artifact.
pub fn trusted_comment(pack: &PackRef, sha256: &Sha256) -> String {
    format!(
        "{TRUSTED_COMMENT_PREFIX} module={} version={} sha256={sha256}",
        pack.module, pack.version
    )
}

/// Signs an artifact; returns the `.minisig` file's contents.
pub fn sign(
    secret: &SecretKey,
    public: &PublicKey,
    artifact: &[u8],
    pack: &PackRef,
    sha256: &Sha256,
) -> Result<String, SigningError> {
    let comment = trusted_comment(pack, sha256);
    minisign::sign(
        Some(public),
        secret,
        Cursor::new(artifact),
        Some(&comment),
        Some(&format!(
            "signature from provisioning key {}",
            key_id(public.keynum())
        )),
    )
    .map(SignatureBox::into_string)
    .map_err(|error| SigningError::Sign {
        pack: pack.clone(),
        message: error.to_string(),
    })
}

/// The id of the key that made `signature` (a minisign signature file's text), without
/// verifying it; `None` when it is not one.
pub fn signature_key_id(signature: &str) -> Option<KeyId> {
    parse_signature(signature)
        .ok()
        .map(|signature_box| key_id(signature_box.keynum()))
}

/// A minisign signature file's text, parsed as hostile input.
fn parse_signature(signature: &str) -> Result<SignatureBox, String> {
    // `minisign` 0.10 panics on a global signature of the wrong length (it slices 64 bytes
    // without checking); a signature file is hostile input, so check the shape first.
    let global = signature.lines().nth(3).unwrap_or_default().trim();
    let global_len = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, global)
        .map_or(0, |bytes| bytes.len());
    if global_len != 64 {
        return Err("its global signature (the fourth line) is not 64 base64-encoded bytes".into());
    }
    SignatureBox::from_string(signature).map_err(|error| error.to_string())
}

/// Verifies `signature` (the text of `signature_path`) over `artifact` with the trusted keys,
/// and that its trusted comment names exactly this module, version and sha256.
pub fn verify(
    trusted: &[TrustedKey],
    signature_path: &Path,
    signature: &str,
    artifact: &[u8],
    pack: &PackRef,
    sha256: &Sha256,
) -> Result<Signer, SigningError> {
    let bad = |message: String| SigningError::BadSignature {
        path: signature_path.to_owned(),
        message,
    };
    let signature_box = parse_signature(signature).map_err(bad)?;
    let id = key_id(signature_box.keynum());
    let Some(key) = trusted.iter().find(|key| key.key_id == id) else {
        return Err(SigningError::UntrustedKey {
            path: signature_path.to_owned(),
            key_id: id,
        });
    };
    if !key.scope.allows(&pack.module) {
        return Err(SigningError::OutOfScope {
            path: signature_path.to_owned(),
            key_id: id,
            module: pack.module.clone(),
            scope: key.scope.clone(),
            scope_file: scope::scope_path(&key.path),
        });
    }
    minisign::verify(
        &key.key,
        &signature_box,
        Cursor::new(artifact),
        true,
        false,
        false,
    )
    .map_err(|error| SigningError::Mismatch {
        path: signature_path.to_owned(),
        key_id: id,
        message: error.to_string(),
    })?;
    let comment = signature_box
        .trusted_comment()
        .map_err(|error| SigningError::BadSignature {
            path: signature_path.to_owned(),
            message: error.to_string(),
        })?;
    let expected = trusted_comment(pack, sha256);
    if comment != expected {
        return Err(SigningError::Replayed {
            path: signature_path.to_owned(),
            expected: describe(&expected),
            found: describe(&comment),
        });
    }
    Ok(Signer {
        key_id: id,
        source: key.source,
        trusted_comment: comment,
    })
}

/// `module=x version=y sha256=z` as "`x` y (sha256 z…)" for messages.
fn describe(comment: &str) -> String {
    let field = |name: &str| {
        comment
            .split_whitespace()
            .find_map(|part| part.strip_prefix(&format!("{name}=")))
            .unwrap_or("?")
            .to_owned()
    };
    let sha = field("sha256");
    format!(
        "`{}` {} (sha256 {})",
        field("module"),
        field("version"),
        sha.chars().take(12).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> (tempfile::TempDir, Keyring) {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = [("HOME".to_owned(), dir.path().display().to_string())].into();
        let keyring = Keyring::new(&env, &dir.path().join("base")).expect("keyring");
        (dir, keyring)
    }

    #[test]
    fn a_signature_verifies_only_for_its_module_version_and_hash() {
        let (_dir, keyring) = keyring();
        let id = keyring.generate(false).expect("generates");
        let (secret, public) = keyring.signing_key().expect("reads").expect("exists");
        let artifact = b"artifact bytes";
        let pack: PackRef = "m_prov@1.0.0".parse().expect("valid");
        let sha256 = Sha256::of(artifact);
        let signature = sign(&secret, &public, artifact, &pack, &sha256).expect("signs");
        let trusted = keyring.trusted().expect("trusted");
        let path = Path::new("m_prov_1.0.0.tar.minisig");
        let signer =
            verify(&trusted, path, &signature, artifact, &pack, &sha256).expect("verifies");
        assert_eq!(signer.key_id.to_string(), id);
        assert_eq!(signer.source, KeySource::Own);
        let other: PackRef = "m_prov@2.0.0".parse().expect("valid");
        let replayed = verify(&trusted, path, &signature, artifact, &other, &sha256);
        assert!(
            matches!(replayed, Err(SigningError::Replayed { .. })),
            "{replayed:?}"
        );
        let tampered = verify(
            &trusted,
            path,
            &signature,
            b"artifact bytez",
            &pack,
            &sha256,
        );
        assert!(
            matches!(tampered, Err(SigningError::Mismatch { .. })),
            "{tampered:?}"
        );
        let untrusted = verify(&[], path, &signature, artifact, &pack, &sha256);
        assert!(
            matches!(untrusted, Err(SigningError::UntrustedKey { .. })),
            "{untrusted:?}"
        );
    }

    #[test]
    fn generating_twice_needs_force_and_the_secret_key_is_private() {
        let (_dir, keyring) = keyring();
        keyring.generate(false).expect("generates");
        assert!(matches!(
            keyring.generate(false),
            Err(SigningError::KeyExists { .. })
        ));
        keyring.generate(true).expect("replaces");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(keyring.secret_key_path())
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
