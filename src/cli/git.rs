//! The arguments of `git setup` and `lock merge`: the merge drivers that let teams merge the
//! files the tool writes into an infra.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum GitCommand {
    /// Register `lock merge` as the merge driver of every infra's `providers.manifest.yaml`,
    /// `manifest.toml` and generated `providers.ncl`, `taskservs.ncl`, `clusters.ncl`: in the
    /// repository's `.git/config` (through `git config`) and its `.gitattributes` (lines added
    /// once, the others kept). Running it again changes nothing
    Setup,
}

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// The merge driver `git setup` registers (`lock merge %O %A %B %P`): merge three versions
    /// of an infra's lock, manifest or generated file, write the result into OURS, exit 0 when
    /// clean and 1 on a conflict (written between git's markers, with the command that finishes
    /// it, and printed on stderr)
    Merge(LockMergeArgs),
}

#[derive(Debug, Args)]
pub struct LockMergeArgs {
    /// The common ancestor's version of the file (git's `%O`)
    #[arg(value_name = "BASE")]
    pub ancestor: PathBuf,
    /// Our version (`%A`), where the merged file is written
    pub ours: PathBuf,
    /// Their version (`%B`)
    pub theirs: PathBuf,
    /// The file's path in the repository (`%P`): its name says what it is
    /// (`providers.manifest.yaml`, `manifest.toml`, `providers.ncl`, ...)
    pub path: PathBuf,
}
