//! `registry tuf …`: the registry's TUF metadata (docs/trust.md).

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum TufCommand {
    /// The publisher's: `init`, `refresh`, `rotate`.
    #[command(flatten)]
    Publish(TufPublishCommand),
    /// The consumer's: `pin`, `status`.
    #[command(flatten)]
    Client(TufClientCommand),
}

#[derive(Debug, Subcommand)]
pub enum TufPublishCommand {
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

#[derive(Debug, Subcommand)]
pub enum TufClientCommand {
    /// Trust a registry's TUF root (`root.json`, from its publisher by a channel you trust):
    /// from then on every read from that registry is checked against its TUF metadata
    Pin(TufPinArgs),
    /// Each role's version, expiry and key ids as last verified; without a registry, every
    /// pinned one
    Status(TufStatusArgs),
}

#[derive(Debug, Args)]
pub struct TufPinArgs {
    /// The registry: a static HTTP one (`https://host/path`) or a `distribution/` directory
    #[arg(value_name = "URL|DIR")]
    pub registry: String,
    /// The root metadata to trust (`tuf/1.root.json` as its publisher gave it)
    #[arg(value_name = "ROOT_JSON")]
    pub root: PathBuf,
    /// Replace a root pinned before (and forget the metadata trusted under it)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct TufStatusArgs {
    /// One registry (`https://host/path` or a `distribution/` directory); every pinned one when
    /// omitted
    #[arg(value_name = "URL|DIR")]
    pub registry: Option<String>,
}
