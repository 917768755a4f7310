//! TUF metadata for directory and HTTP registries (The Update Framework, specification 1.0):
//! `distribution/tuf/` beside `registry/` holds `root.json` (and `<N>.root.json` for every root
//! version), `targets.json`, `snapshot.json` and `timestamp.json`, Ed25519-signed in canonical
//! JSON by rust-tuf. The targets are the files a client reads, by their path relative to
//! `distribution/`: `index.json`, `registry/<module>.json` and every file in `packages/`.
//! `consistent_snapshot` is false: a static host serves the files by their plain names, and a
//! client fetches `<N>.root.json` to follow root rotations. docs/trust.md tells the whole story.

pub mod keys;
pub mod publish;
pub mod roots;
pub mod targets;

use std::path::{Path, PathBuf};

/// The directory of the metadata, inside the registry's `distribution/`.
pub const TUF_DIR: &str = "tuf";

/// The four top-level roles, as the spec and the commands name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Root,
    Targets,
    Snapshot,
    Timestamp,
}

impl Role {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Targets => "targets",
            Self::Snapshot => "snapshot",
            Self::Timestamp => "timestamp",
        }
    }

    pub fn file_name(self) -> String {
        format!("{}.json", self.name())
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The metadata directory of the registry whose `distribution/` is `site_dir`.
pub fn tuf_dir(site_dir: &Path) -> PathBuf {
    site_dir.join(TUF_DIR)
}

/// Whether the registry whose `distribution/` is `site_dir` carries TUF metadata (its publisher
/// ran `registry tuf init`): then every change of the registry signs new metadata.
pub fn is_enabled(site_dir: &Path) -> bool {
    tuf_dir(site_dir).join(Role::Root.file_name()).exists()
}

#[derive(Debug, thiserror::Error)]
pub enum TufError {
    #[error("failed to access `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to {what}: {message}")]
    Crypto { what: &'static str, message: String },
    #[error("`{}` is not an Ed25519 private key in PKCS#8 (the form `registry tuf init` writes)", path.display())]
    NotAKey { path: PathBuf },
    #[error("the {role} key {key_id} is not in your keyring (`{}`)\nhint: the registry's TUF keys are where `registry tuf init` ran: sign there, or copy the key file here", path.display())]
    MissingKey {
        role: &'static str,
        key_id: String,
        path: PathBuf,
    },
    #[error("`{}` already exists: a root key is never overwritten (it may be the only copy)\nhint: name another file with `{flag}`", path.display())]
    RootKeyExists { path: PathBuf, flag: &'static str },
    #[error("the registry `{}` already has TUF metadata (`tuf/root.json`)\nhint: `provisioning registry tuf rotate <role>` replaces a key; `registry tuf status` shows the roles", site.display())]
    AlreadyInitialized { site: PathBuf },
    #[error("the registry `{}` has no TUF metadata\nhint: `provisioning registry tuf init` creates it", site.display())]
    NotInitialized { site: PathBuf },
    #[error("`{}` is not valid TUF {role} metadata: {message}", path.display())]
    Malformed {
        path: PathBuf,
        role: &'static str,
        message: String,
    },
    #[error("the key in `{}` ({given}) is not the registry's root key ({expected})\nhint: give the root key file `registry tuf init` (or the last `rotate root`) wrote", path.display())]
    WrongRootKey {
        path: PathBuf,
        given: String,
        expected: String,
    },
    #[error("the registry directory is `{}` and its packages directory `{}`: TUF metadata needs the `distribution/` shape, `packages/` and `registry/` side by side\nhint: set `distribution.pack_path` and `distribution.registry_path` to `<dir>/packages` and `<dir>/registry`", registry.display(), packages.display())]
    NotDistributionShaped {
        registry: PathBuf,
        packages: PathBuf,
    },
    #[error("`{}` cannot be a TUF target: {message}\nhint: rename or remove it: every file of `packages/` and `registry/` is signed by its path", path.display())]
    NotATarget { path: PathBuf, message: String },
    #[error("failed to read the registry's records, which the targets describe")]
    Records(#[source] crate::registry::RegistryError),
    #[error(
        "a TUF role's version would pass {max}: the registry's metadata cannot be signed again"
    )]
    VersionOverflow { max: u32 },
}

impl TufError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn crypto(what: &'static str) -> impl FnOnce(tuf::Error) -> Self {
        move |error| Self::Crypto {
            what,
            message: error.to_string(),
        }
    }
}
