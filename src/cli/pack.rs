//! The arguments of `pack`, `registry` and `keys`: what is packed, where it goes, and the
//! registry and keys it is shared and signed with.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::PackSelector;
use crate::names::ShortName;

#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Pack the core schemas (`[nickel] core_module`) as `core_package_name`, at their
    /// manifest's version
    Core(PackCoreArgs),
    /// Evaluate one provider and pack it with its registry metadata
    Provider(PackProviderArgs),
    /// Pack every provider, in parallel; one failure does not stop the others
    Providers(PackProvidersArgs),
    /// Evaluate one taskserv and pack it with its registry metadata
    Taskserv(PackModuleArgs),
    /// Pack every taskserv, in parallel; one failure does not stop the others
    Taskservs(PackProvidersArgs),
    /// Evaluate one cluster and pack it with its registry metadata
    Cluster(PackModuleArgs),
    /// Pack every cluster, in parallel; one failure does not stop the others
    Clusters(PackProvidersArgs),
    /// Withdraw a version from resolution without deleting it (`--undo` restores it)
    Yank(YankArgs),

    /// Packages and versions present: size, created, hash, signed or not
    List,
    /// Delete all but the newest versions of each package (semver order)
    Clean(CleanArgs),
    /// Check an artifact's size, hashes and signature; print who signed it
    Verify(VerifyArgs),
    /// Push packed versions to an OCI registry (all that are not there yet, by default)
    Publish(PublishArgs),
    /// Copy the packs some infras pin, or some requirements resolve to, into a mirror for
    /// sites without a network: a directory that is itself a registry, or an OCI namespace
    Mirror(MirrorArgs),
    /// Write the registry's `index.json` and web pages (`index.html`, `modules/*.html`) from its
    /// metadata; every pack command keeps them current
    Index,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// What to publish: `module` (every packed version) or `module@version`
    pub packs: Vec<PackSelector>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["workspace", "infra", "packs"])))]
pub struct MirrorArgs {
    /// The mirror: a directory (written as a registry: `packages/`, `registry/`, `index.json`
    /// and the web pages; merged into one that is already a registry) or
    /// `oci://host[:port]/namespace`
    #[arg(long, value_name = "DIR|oci://…")]
    pub to: String,
    /// The registry to copy from: a directory, `oci://host[:port]/namespace` or an HTTP
    /// registry's `https://…` [default: the configured registry]
    #[arg(long, value_name = "REGISTRY")]
    pub from: Option<String>,
    /// What every infra of the workspace pins
    #[arg(long)]
    pub workspace: bool,
    /// What these infras pin, by exact version and hash
    #[arg(long, value_name = "NAME", num_args = 1..)]
    pub infra: Vec<String>,
    /// Modules with a version requirement, resolved as `install` resolves them, with their
    /// dependencies: `aws_prov@^1.0`, `aws_prov@1.0.0` (a bare module: its newest version)
    #[arg(value_name = "MODULE@REQ")]
    pub packs: Vec<crate::version_spec::ModuleSpec>,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Modules and versions in the registry; with several configured, each in order with its
    /// state
    List(RegistryListArgs),
    /// The registry's TUF metadata: signed lists of what it holds, so that clients detect a
    /// server that lies (docs/trust.md)
    #[command(subcommand)]
    Tuf(super::TufCommand),
}

#[derive(Debug, Args)]
pub struct RegistryListArgs {
    /// Only this module, e.g. `upcloud_prov`
    pub module: Option<crate::names::ModuleName>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An artifact file (`distribution/packages/upcloud_prov_0.0.1.tar`) or `module@version`
    pub target: String,
    /// Also check its provenance (`<module>_<version>.intoto.jsonl`): the DSSE signature
    /// against the trusted keys, the subject against the artifact; print its source and
    /// builder
    #[arg(long)]
    pub provenance: bool,
    /// Rebuild it from its recorded source (or `--source DIR`) in a scratch directory and
    /// compare the bytes with the artifact: "reproducible: identical", or the first file
    /// that differs
    #[arg(long)]
    pub rebuild: bool,
    /// The module's source directory to rebuild from, instead of the one its provenance records
    #[arg(long, value_name = "DIR", requires = "rebuild")]
    pub source: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create your Ed25519 signing key pair (minisign format) and trust it
    Generate(KeysGenerateArgs),
    /// Print your public key in minisign's `.pub` format
    Public,
    /// List the trusted public keys
    List,
    /// Trust a public key: a minisign `.pub` file, or the key itself
    Trust(KeysTrustArgs),
}

#[derive(Debug, Args)]
pub struct KeysGenerateArgs {
    /// Replace an existing key pair
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct KeysTrustArgs {
    /// A `.pub` file, a base64 public key (`RW...`), or the id of a key trusted already (to
    /// change its scope)
    pub key: String,
    /// Trust the key only for the modules matching PATTERN (`*` any characters, `?` one):
    /// `--for 'aws_*'`; repeatable. Without it, for every module. Replaces the scope the key had
    #[arg(long = "for", value_name = "PATTERN")]
    pub modules: Vec<crate::signing::ModulePattern>,
}

#[derive(Debug, Args)]
pub struct PackOutputArgs {
    /// Write artifacts to DIR instead of the packages directory (the registry metadata is then
    /// left as it is)
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Replace an existing version whose contents differ (packed versions are immutable
    /// otherwise), and sign with your key a version another key signed
    #[arg(long)]
    pub force: bool,
    /// Pack without running the examples in the module's doc comments (the registry metadata
    /// records that they were not run)
    #[arg(long)]
    pub skip_tests: bool,
}

#[derive(Debug, Args)]
pub struct PackCoreArgs {
    /// The version to pack as [default: the `version` in the core's `manifest.toml`
    /// (`schemas/manifest.toml`); `[nickel] core_version` only when the core has no manifest]
    #[arg(long, value_name = "V", value_parser = crate::names::parse_version)]
    pub version: Option<semver::Version>,
    #[command(flatten)]
    pub output: PackOutputArgs,
}

#[derive(Debug, Args)]
pub struct PackProviderArgs {
    /// The provider, e.g. `upcloud`
    pub name: ShortName,
    /// The version to pack as, in the artifact only [default: the provider's manifest version]
    #[arg(long, value_name = "V", value_parser = crate::names::parse_version)]
    pub version: Option<semver::Version>,
    #[command(flatten)]
    pub output: PackOutputArgs,
}

#[derive(Debug, Args)]
pub struct PackModuleArgs {
    /// The module's name, e.g. `kubernetes` (a taskserv is found in whichever category holds
    /// it)
    pub name: ModuleArg,
    /// The version to pack as, in the artifact only [default: the module's manifest version]
    #[arg(long, value_name = "V")]
    pub version: Option<semver::Version>,
    #[command(flatten)]
    pub output: PackOutputArgs,
}

/// A module name as typed (`kubernetes`, `web`, `upcloud`): checked against the name grammar
/// before a file is touched.
pub type ModuleArg = ShortName;

#[derive(Debug, Args)]
pub struct PackProvidersArgs {
    /// The version to pack every provider as (a release), in the artifacts only [default: each
    /// provider's manifest version]
    #[arg(long, value_name = "V", value_parser = crate::names::parse_version)]
    pub version: Option<semver::Version>,
    #[command(flatten)]
    pub output: PackOutputArgs,
}

#[derive(Debug, Args)]
pub struct YankArgs {
    /// The version to yank: `module@version`
    pub pack: crate::names::PackRef,
    /// Restore a yanked version
    #[arg(long)]
    pub undo: bool,
    /// Why it is yanked (an advisory id, a bug): recorded with the yank, shown by `outdated`
    /// and on the registry's pages
    #[arg(long, value_name = "TEXT", conflicts_with = "undo", value_parser = parse_reason)]
    pub reason: Option<String>,
}

/// A yank reason is text for people: an empty one would be recorded and shown as nothing.
fn parse_reason(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(
            "a reason cannot be empty (without `--reason`, a yank records none)".to_owned(),
        );
    }
    Ok(text.to_owned())
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// How many of the newest versions of each package to keep
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub keep_latest: usize,
    /// Print what would be deleted, and delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete versions that an infra pins
    #[arg(long)]
    pub force: bool,
}
