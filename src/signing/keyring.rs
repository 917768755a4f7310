//! The keyring: the user's key pair and the public keys trusted, each with the modules it may
//! sign ([`KeyScope`]). Where they live is said in [the module's documentation](super).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minisign::{PublicKey, PublicKeyBox, SecretKey, SecretKeyBox};

use super::scope::{self, KeyScope};
use super::{KeyId, SigningError, io, key_id};

const SECRET_KEY_FILE: &str = "provisioning.key";
const PUBLIC_KEY_FILE: &str = "provisioning.pub";

/// Where a trusted key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// The user's own signing key.
    Own,
    /// Added with `keys trust`.
    User,
    /// Committed in the base's `config/trusted-keys/`.
    Base,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeySource::Own => "your own key",
            KeySource::User => "trusted with `keys trust`",
            KeySource::Base => "trusted by the base's `config/trusted-keys`",
        })
    }
}

#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub key_id: KeyId,
    pub source: KeySource,
    pub path: PathBuf,
    pub key: PublicKey,
    /// The modules it may sign.
    pub scope: KeyScope,
}

/// The keys of one user and one base.
#[derive(Debug, Clone)]
pub struct Keyring {
    /// `$PROVISIONING_KEYRING`, else `<config dir>/provisioning`.
    pub config_dir: PathBuf,
    /// The base's `config/trusted-keys`; none outside a base (`keys` run anywhere).
    pub base_trusted_dir: Option<PathBuf>,
}

impl Keyring {
    /// The user's keys only, with no base: keys belong to the user, so `keys list | public |
    /// generate | trust` work outside a base.
    pub fn of_user(env: &BTreeMap<String, String>) -> Result<Self, SigningError> {
        let mut keyring = Self::new(env, Path::new(""))?;
        keyring.base_trusted_dir = None;
        Ok(keyring)
    }

    pub fn new(env: &BTreeMap<String, String>, base: &Path) -> Result<Self, SigningError> {
        let base_trusted_dir = Some(base.join("config/trusted-keys"));
        // A keyring of its own (a walk-through, CI), away from the user's real key.
        if let Some(dir) = env.get("PROVISIONING_KEYRING").filter(|v| !v.is_empty()) {
            return Ok(Self {
                config_dir: PathBuf::from(dir),
                base_trusted_dir,
            });
        }
        let config_home = env
            .get("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                env.get("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| Path::new(home).join(".config"))
            })
            .ok_or(SigningError::NoConfigDir)?;
        Ok(Self {
            config_dir: config_home.join("provisioning"),
            base_trusted_dir,
        })
    }

    fn keys_dir(&self) -> PathBuf {
        self.config_dir.join("keys")
    }

    fn user_trusted_dir(&self) -> PathBuf {
        self.config_dir.join("trusted")
    }

    pub fn secret_key_path(&self) -> PathBuf {
        self.keys_dir().join(SECRET_KEY_FILE)
    }

    pub fn public_key_path(&self) -> PathBuf {
        self.keys_dir().join(PUBLIC_KEY_FILE)
    }

    /// Creates the user's key pair (refusing to replace one unless `force`), and trusts it.
    pub fn generate(&self, force: bool) -> Result<String, SigningError> {
        let secret_path = self.secret_key_path();
        if secret_path.exists() && !force {
            return Err(SigningError::KeyExists { path: secret_path });
        }
        let pair = minisign::KeyPair::generate_unencrypted_keypair().map_err(|error| {
            SigningError::BadKey {
                path: secret_path.clone(),
                message: error.to_string(),
            }
        })?;
        let id = key_id(pair.pk.keynum());
        let secret = pair
            .sk
            .to_box(Some(&format!("provisioning secret key {id}")))
            .map_err(|error| SigningError::BadKey {
                path: secret_path.clone(),
                message: error.to_string(),
            })?
            .into_string();
        let public = public_box(&pair.pk)?;
        let keys_dir = self.keys_dir();
        crate::fs::create_dir_all(&keys_dir).map_err(io(&keys_dir))?;
        write_secret(&secret_path, secret.as_bytes())?;
        crate::fs::atomic_write(&self.public_key_path(), public.as_bytes())
            .map_err(io(&self.public_key_path()))?;
        Ok(id.to_string())
    }

    /// The user's secret key and its public key, if a key pair exists.
    pub fn signing_key(&self) -> Result<Option<(SecretKey, PublicKey)>, SigningError> {
        let path = self.secret_key_path();
        let text = match crate::fs::read_to_string(&path, crate::fs::FileKind::Key) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SigningError::Io { path, source }),
        };
        let bad = |message: String| SigningError::BadKey {
            path: path.clone(),
            message,
        };
        let secret = SecretKeyBox::from_string(&text)
            .and_then(SecretKey::from_unencrypted_box)
            .map_err(|error| bad(format!("{error} (an encrypted key cannot sign unattended)")))?;
        let public = PublicKey::from_secret_key(&secret).map_err(|error| bad(error.to_string()))?;
        Ok(Some((secret, public)))
    }

    /// The user's public key in minisign's `.pub` format.
    pub fn public_key(&self) -> Result<String, SigningError> {
        let (_, public) = self.signing_key()?.ok_or(SigningError::NoKey)?;
        public_box(&public)
    }

    /// Trusts a public key (a `.pub` file, the key itself, or the id of a key trusted already,
    /// to change its scope) for the modules of `scope`: the key in the user's `trusted/`, and
    /// its scope beside it (no scope file for every module), written together or not at all.
    pub fn trust(&self, input: &str, scope: KeyScope) -> Result<Trusted, SigningError> {
        let trusted = self.trusted()?;
        let key = self.key_to_trust(input, &trusted)?;
        let id = key_id(key.keynum());
        let before = trusted.iter().find(|known| known.key_id == id);
        if let Some(own) = before.filter(|known| known.source == KeySource::Own)
            && scope != KeyScope::Every
        {
            return Err(SigningError::OwnKeyScoped {
                key_id: id,
                path: own.path.clone(),
            });
        }
        let dir = self.user_trusted_dir();
        crate::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let target = dir.join(format!("{id}.pub"));
        let scope_file = scope::scope_path(&target);
        let mut transaction = crate::fs::Transaction::new();
        match scope::render(id, &scope) {
            Some(text) => transaction.write(&scope_file, text.as_bytes()),
            None => transaction.remove_file(&scope_file),
        }
        .map_err(io(&scope_file))?;
        transaction
            .write(&target, public_box(&key)?.as_bytes())
            .map_err(io(&target))?;
        let warnings = transaction.commit();
        Ok(Trusted {
            key: TrustedKey {
                key_id: id,
                source: KeySource::User,
                path: target,
                key,
                scope,
            },
            before: before.map(|known| (known.source, known.scope.clone())),
            warnings,
        })
    }

    /// The key `input` names: a `.pub` file, the key itself, or the id of a trusted key.
    fn key_to_trust(&self, input: &str, trusted: &[TrustedKey]) -> Result<PublicKey, SigningError> {
        let path = Path::new(input);
        if path.exists() {
            let text =
                crate::fs::read_to_string(path, crate::fs::FileKind::Key).map_err(io(path))?;
            return parse_public_key(&text).map_err(|message| SigningError::BadKey {
                path: path.to_owned(),
                message,
            });
        }
        if looks_like_a_public_key(input) {
            return parse_public_key(input).map_err(|message| SigningError::BadPublicKey {
                input: input.to_owned(),
                message,
            });
        }
        if let Ok(id) = input.parse::<KeyId>() {
            return trusted
                .iter()
                .find(|known| known.key_id == id)
                .map(|known| known.key.clone())
                .ok_or(SigningError::NotTrusted { key_id: id });
        }
        Err(SigningError::NoKeyFile {
            path: path.to_owned(),
        })
    }

    /// Every trusted key: the user's own, the user's trusted, the base's; a key in more than
    /// one place is trusted as the first says (its scope too). A key file or a scope file that
    /// cannot be read is an error naming it.
    pub fn trusted(&self) -> Result<Vec<TrustedKey>, SigningError> {
        let mut keys: Vec<TrustedKey> = Vec::new();
        if let Some((_, public)) = self.signing_key()? {
            keys.push(TrustedKey {
                key_id: key_id(public.keynum()),
                source: KeySource::Own,
                path: self.public_key_path(),
                key: public,
                scope: KeyScope::Every,
            });
        }
        let base = self
            .base_trusted_dir
            .iter()
            .map(|dir| (dir.clone(), KeySource::Base));
        for (dir, source) in std::iter::once((self.user_trusted_dir(), KeySource::User)).chain(base)
        {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "pub"))
                .collect();
            paths.sort();
            for path in paths {
                let key = read_trusted_key(&path, source)?;
                if !keys.iter().any(|known| known.key_id == key.key_id) {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }
}

/// A trusted key's `.pub` file and its scope file beside it (every module when there is none).
fn read_trusted_key(path: &Path, source: KeySource) -> Result<TrustedKey, SigningError> {
    let text = crate::fs::read_to_string(path, crate::fs::FileKind::Key).map_err(io(path))?;
    let key = parse_public_key(&text).map_err(|message| SigningError::BadKey {
        path: path.to_owned(),
        message,
    })?;
    let scope_file = scope::scope_path(path);
    let scope = match crate::fs::read_to_string(&scope_file, crate::fs::FileKind::Key) {
        Ok(text) => scope::parse(&text).map_err(|message| SigningError::BadScope {
            path: scope_file,
            message,
        })?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => KeyScope::Every,
        Err(source) => {
            return Err(SigningError::Io {
                path: scope_file,
                source,
            });
        }
    };
    Ok(TrustedKey {
        key_id: key_id(key.keynum()),
        source,
        path: path.to_owned(),
        key,
        scope,
    })
}

/// What `keys trust` did: the key as trusted now, and where and for what it was trusted before.
#[derive(Debug)]
pub struct Trusted {
    pub key: TrustedKey,
    pub before: Option<(KeySource, KeyScope)>,
    /// What to say although it worked.
    pub warnings: Vec<String>,
}

/// The keys trusted in this context; none when there is no config directory to hold them.
pub fn trusted_keys(
    env: &BTreeMap<String, String>,
    base: &Path,
) -> Result<Vec<TrustedKey>, SigningError> {
    match Keyring::new(env, base) {
        Ok(keyring) => keyring.trusted(),
        Err(SigningError::NoConfigDir) => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

fn public_box(key: &PublicKey) -> Result<String, SigningError> {
    key.to_box()
        .map(PublicKeyBox::into_string)
        .map_err(|error| SigningError::BadPublicKey {
            input: key_id(key.keynum()).to_string(),
            message: error.to_string(),
        })
}

/// Whether text given for a key (not an existing file) is meant as the key itself: minisign's
/// public keys are base64 of `Ed...`, so they start with `RW`.
fn looks_like_a_public_key(text: &str) -> bool {
    text.starts_with("RW") && !text.ends_with(".pub")
}

fn parse_public_key(text: &str) -> Result<PublicKey, String> {
    let text = text.trim();
    if text.lines().count() > 1 {
        PublicKeyBox::from_string(text)
            .and_then(PublicKeyBox::into_public_key)
            .map_err(|error| error.to_string())
    } else {
        PublicKey::from_base64(text).map_err(|error| error.to_string())
    }
}

fn write_secret(path: &Path, contents: &[u8]) -> Result<(), SigningError> {
    crate::fs::atomic_write_private(path, contents).map_err(io(path))
}
