//! `registry tuf …`: the registry's TUF metadata (docs/trust.md).

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum TufCommand {
    /// Give the local registry TUF metadata: four new keys (targets, snapshot and timestamp into
    /// your keyring, the root key into a file of its own, to keep offline) and the first
    /// metadata; from then on every command that changes the registry signs it again
    Init(TufInitArgs),
    /// Sign a new timestamp (and the snapshot and targets when they would expire first): run it
    /// from cron more often than `tuf.timestamp_expiry_secs`
    Refresh,
    /// Replace a role's key: a new root version, signed by the current root key (and the new
    /// one when the root itself rotates), lists the new key; the role is signed again with it
    Rotate(TufRotateArgs),
}

#[derive(Debug, Args)]
pub struct TufInitArgs {
    /// Where to write the new root key [default: `<keyring>/tuf-root/<key id>.pk8`]; never
    /// overwritten. Keep it offline: it is needed only to rotate keys
    #[arg(long, value_name = "FILE")]
    pub root_key_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TufRotateArgs {
    /// The role whose key is replaced
    #[arg(value_enum)]
    pub role: crate::tuf::Role,
    /// The current root key's file (what `tuf init` or the last `rotate root` wrote)
    #[arg(long, value_name = "FILE")]
    pub root_key: PathBuf,
    /// Where to write the new root key, for `rotate root` [default:
    /// `<keyring>/tuf-root/<key id>.pk8`]
    #[arg(long, value_name = "FILE")]
    pub new_root_key_out: Option<PathBuf>,
}
