//! The command line, as clap definitions only. Help text lives in the doc comments here, so
//! `--help`, the man page and the shell completions all come from one source.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::names::ShortName;

mod git;
mod pack;
mod tuf;

pub use git::*;
pub use pack::*;
pub use tuf::*;

/// Manage the modules of a Nickel infrastructure (providers, the core schemas, taskservs,
/// clusters): link them live for development, pin signed packs for production.
#[derive(Debug, Parser)]
#[command(name = "provisioning", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The options every subcommand takes, listed under their own heading in each `--help`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The provisioning base directory [default: `$PROVISIONING`, else the nearest ancestor
    /// holding `config/config.defaults.toml` or `extensions/`]
    #[arg(long, global = true, value_name = "DIR")]
    pub base: Option<PathBuf>,
    /// A user configuration file layered over the defaults [env: PROVISIONING_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How to print data on stdout (`toml` and `text` are for `export` only, `dot` and
    /// `mermaid` for `module-loader graph`, `cyclonedx` and `spdx` for `providers sbom`)
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Print nothing on stderr but errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more about what is done
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Never use the network
    #[arg(long, global = true)]
    pub offline: bool,
    /// The only registry for this run: a name of `[[distribution.registries]]`,
    /// `oci://host[:port]/namespace`, a static HTTP registry (`https://host/path`), or a
    /// `distribution/` directory [default: `distribution.registries` in order, or
    /// `registry_type` and `registry_url`]
    #[arg(long, global = true, value_name = "NAME|URL|DIR")]
    pub registry: Option<String>,
    /// When to color status output (`NO_COLOR` turns it off in `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
    // `export` only; refused by the other commands.
    Toml,
    // `export` only: a string value, as it is.
    #[value(alias = "raw")]
    Text,
    // `module-loader graph` only: Graphviz.
    Dot,
    // `module-loader graph` only: a Mermaid flowchart, for Markdown.
    Mermaid,
    // `providers sbom` only: CycloneDX 1.6 JSON (its default).
    #[value(name = "cyclonedx")]
    CycloneDx,
    // `providers sbom` only: SPDX 2.3 JSON.
    Spdx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Discover providers and install them into infrastructures
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// Modules of every kind (providers, taskservs, clusters) in an infra: discover, init,
    /// load, unload, installed, graph, sync, test
    #[command(subcommand, name = "module-loader")]
    ModuleLoader(ModuleLoaderCommand),
    /// Build versioned, reproducible artifacts of providers, taskservs, clusters and the core
    /// schemas, and manage them in the registry
    #[command(subcommand)]
    Pack(PackCommand),
    /// Create, show and trust minisign signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read the configured registry (a local directory, OCI, or a static HTTP host)
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Set up the git repository holding the base for a team: merge drivers for the lock files
    #[command(subcommand)]
    Git(GitCommand),
    /// Merge infra lock files three ways (the merge driver `git setup` registers)
    #[command(subcommand)]
    Lock(LockCommand),
    /// Evaluate an infra's Nickel with its modules as packages and on the import path, as `nickel
    /// export -I .nickel-modules -I vendor` would, and print it (JSON unless `--format` says
    /// otherwise)
    Export(ExportArgs),
    /// Print the shell line that puts an infra's modules on `NICKEL_IMPORT_PATH`, so that plain
    /// `nickel export main.ncl` works in the path form (`import "upcloud_prov/main.ncl"`): `eval
    /// "$(provisioning env wuji)"`
    Env(EnvArgs),
    /// Print a shell completion script on stdout
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout, or write one page per subcommand into a directory
    Man(ManArgs),
    /// Internal: evaluates Nickel files sent on stdin, for the command that started it
    #[command(name = "__evaluate-worker", hide = true)]
    EvaluateWorker(EvaluateWorkerArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)
    pub infra: String,
    /// The file to evaluate, relative to the infra directory (`defs/servers.ncl`)
    /// [default: main.ncl]
    pub file: Option<PathBuf>,
    /// Only this field of the result: a dotted path of record fields (`servers`,
    /// `network.zone`); an array's items have no field names
    #[arg(long, value_name = "PATH", value_parser = crate::nickel::field_path::parse)]
    pub field: Option<String>,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)
    pub infra: String,
    /// The shell to print the line for
    #[arg(long, value_enum, default_value_t = Shell::Sh)]
    pub shell: Shell,
}

/// The shells `env` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// POSIX shells: sh, bash, zsh (`eval "$(provisioning env wuji)"`)
    Sh,
    /// fish (`provisioning env wuji --shell fish | source`)
    Fish,
    /// Nushell (`$env.NICKEL_IMPORT_PATH = ...`)
    Nu,
}

#[derive(Debug, Args)]
pub struct EvaluateWorkerArgs {
    /// The address-space limit of the worker, in bytes
    #[arg(long)]
    pub max_memory_bytes: u64,
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// List every provider under `extensions/providers/`
    List(LayoutArgs),
    /// Show one provider in full: manifest, files, entry point, infras that use it
    Info(InfoArgs),
    /// Install a provider (or the core schemas, by their name) into an infra: a live link, or a
    /// verified pack with `--version` or `--from`
    Install(InstallArgs),
    /// Undo an install; never touches the provider's source
    Remove(RemoveArgs),
    /// What an infra has installed, and in what state
    Installed(TargetArgs),
    /// Check an infra's links and manifests, and evaluate its Nickel
    Validate(TargetArgs),
    /// Write the infra's `Nickel-pkg.ncl`: its installed modules as `'Path` dependencies, so a
    /// package-enabled `nickel` evaluates its `import <module>` as `export` does
    NickelPkg(InfraArgs),
    /// Rebuild an infra's module links and `vendor/` from `providers.manifest.yaml`
    Sync(SyncArgs),
    /// Each pinned module: its pin, the newest version its requirement allows, the newest
    /// overall, and why the pin is behind
    Outdated(OutdatedArgs),
    /// Move pins forward within their requirements (all, or the modules named and what they
    /// need)
    Update(UpdateArgs),
    /// Run the examples in a provider's doc comments, as `nickel test` runs them (`pack` runs
    /// them too, and refuses a module whose examples fail)
    Test(ProviderTestArgs),
    /// Write the software bill of materials of an infra: every module its lock records (pinned
    /// packs with their sha256, signer, license and purl; linked sources marked so) and who
    /// requires whom, as CycloneDX 1.6 JSON (`--format cyclonedx`, the default) or SPDX 2.3 JSON
    /// (`--format spdx`). Reads the lock and the local registry's metadata only: no network.
    /// With `--workspace`, one document: each infra a component, with its modules
    Sbom(SbomArgs),
    /// Check every pin of an infra: yanked, signed by a key no longer trusted, without
    /// provenance, or with provenance that does not match. Exit 1 when a pin is yanked or
    /// untrusted (a CI step); `--offline` checks what the cache holds
    Audit(TargetArgs),
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write the document into FILE (atomically) instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProviderTestArgs {
    /// The provider, e.g. `upcloud`
    pub provider: ShortName,
}

#[derive(Debug, Args)]
pub struct ModuleTestArgs {
    /// What kind of module
    #[arg(value_enum)]
    pub kind: crate::module::ModuleKind,
    /// The module, by name: `kubernetes`
    pub name: ModuleArg,
}

#[derive(Debug, Args)]
pub struct OutdatedArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Exit 1 when a pin is behind the newest version its requirement allows (for CI)
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`).
    /// With `--workspace` there is none: every name given is a provider to update
    #[arg(required_unless_present = "workspace")]
    pub infra: Option<String>,
    /// Every infra under the workspace's `infra/`, as one: a module moves to the same version in
    /// every infra that pins it, or in none (one plan over all the infras first, then one
    /// transaction per infra)
    #[arg(long)]
    pub workspace: bool,
    /// The providers to update (and what they need) [default: every pinned module]
    pub providers: Vec<ShortName>,
    /// Print what would change, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Accept unsigned versions, or versions signed by an untrusted key: of every module, or with
    /// `=NAMES` (`--allow-unsigned=provisioning_core`) of the modules named only
    #[arg(long, num_args = 0.., require_equals = true, value_delimiter = ',', value_name = "NAMES")]
    pub allow_unsigned: Option<Vec<ModuleArg>>,
    /// Accept a version signed by another key than the one that signed the pinned version (the
    /// lock then records the new signer); without it, such an update is refused
    #[arg(long)]
    pub accept_signer: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModuleLoaderCommand {
    /// Discover providers, taskservs or clusters, filtered by a name fragment
    Discover(DiscoverArgs),
    /// Create an infra when it does not exist (manifest, main.ncl, lock), and load the modules
    /// given
    Init(InitArgs),
    /// Load modules of one kind into an infra: live links, or verified packs with `--version` or
    /// `--from`
    Load(LoadArgs),
    /// Unload modules of one kind from an infra; never touches their sources
    Unload(UnloadArgs),
    /// Every module an infra has, of every kind: mode, version, state; and its generated files
    Installed(TargetArgs),
    /// Draw an infra: its modules by kind, their dependencies and capabilities
    /// (`--format dot|mermaid|json`, dot by default)
    Graph(InfraArgs),
    /// Rebuild an infra's module links and `vendor/` from `providers.manifest.yaml`
    #[command(alias = "sync-kcl")]
    Sync(SyncArgs),
    /// Run the examples in a module's doc comments, as `nickel test` runs them
    Test(ModuleTestArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)
    pub infra: String,
    /// Providers to load, comma-separated: `upcloud,aws`
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub providers: Vec<ModuleArg>,
    /// Taskservs to load, comma-separated: `kubernetes,containerd`
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub taskservs: Vec<ModuleArg>,
    /// Clusters to load, comma-separated: `web`
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub clusters: Vec<ModuleArg>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("pack_source").args(["version", "from"]).multiple(true)))]
pub struct LoadArgs {
    /// What kind of modules
    #[arg(value_enum)]
    pub kind: crate::module::ModuleKind,
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)
    pub infra: String,
    /// The modules, by name: `kubernetes containerd`
    #[arg(required = true)]
    pub names: Vec<ModuleArg>,
    /// Load packed versions (pack mode) instead of linking the live sources: exactly `1.2.3`,
    /// or the newest matching a requirement (`^1.2`)
    #[arg(long, value_name = "V|REQ")]
    pub version: Option<crate::version_spec::VersionSpec>,
    /// With `--version` or `--from`: accept unsigned packs, or packs signed by an untrusted key:
    /// of every module, or with `=NAMES` (`--allow-unsigned=provisioning_core`) of the modules
    /// named only, the others still checked
    #[arg(
        long,
        requires = "pack_source",
        num_args = 0..,
        require_equals = true,
        value_delimiter = ',',
        value_name = "NAMES"
    )]
    pub allow_unsigned: Option<Vec<ModuleArg>>,
    /// With `--version` or `--from`: accept a version signed by another key than the one that
    /// signed the version the infra pins (the lock then records the new signer); without it,
    /// moving such a pin is refused
    #[arg(long, requires = "pack_source")]
    pub accept_signer: bool,
    /// Link the modules even where the infra pins a pack of one (without it, a pin stays: a
    /// pack becomes a link only when asked)
    #[arg(long, conflicts_with = "pack_source")]
    pub link: bool,
    #[command(flatten)]
    pub from: FromArgs,
    /// Replace whatever stands where a module goes (a directory where the link goes, a
    /// `vendor/<module>` that `provisioning` did not unpack)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct UnloadArgs {
    /// What kind of modules
    #[arg(value_enum)]
    pub kind: crate::module::ModuleKind,
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)
    pub infra: String,
    /// The modules, by name
    #[arg(required = true)]
    pub names: Vec<ModuleArg>,
    /// Also unload what loaded modules still require, and clean a half-loaded state
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LayoutArgs {
    /// Use the legacy KCL layout (`kcl/`, `.kcl-modules/`, `kcl.mod`)
    #[arg(long)]
    pub kcl: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The provider, e.g. `upcloud`
    pub provider: ShortName,
    #[command(flatten)]
    pub layout: LayoutArgs,
}

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("pack_source")
        .args(["version", "from"])
        .multiple(true)
        .conflicts_with("kcl")
))]
pub struct InstallArgs {
    /// The provider, e.g. `upcloud`
    pub provider: ShortName,
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)
    pub infra: String,
    /// Replace whatever stands where the module goes: a directory or file where the link goes,
    /// or a `vendor/<module>` that `provisioning` did not unpack (its files are lost)
    #[arg(long)]
    pub force: bool,
    /// Install a packed version (pack mode) instead of linking the live source: exactly `1.2.3`,
    /// or the newest matching a requirement (`^1.2`, `~1.2.3`, `>=1.0, <2.0`, `*`)
    #[arg(long, value_name = "V|REQ", conflicts_with = "kcl")]
    pub version: Option<crate::version_spec::VersionSpec>,
    /// With `--version` or `--from`: accept unsigned packs, or packs signed by an untrusted key
    /// (recorded in the lock): of every module, or with `=NAMES` of the modules named only
    /// (`--allow-unsigned=provisioning_core`, a dependency), the others still checked
    #[arg(
        long,
        requires = "pack_source",
        num_args = 0..,
        require_equals = true,
        value_delimiter = ',',
        value_name = "NAMES"
    )]
    pub allow_unsigned: Option<Vec<ModuleArg>>,
    /// With `--version` or `--from`: accept a version signed by another key than the one that
    /// signed the version the infra pins (the lock then records the new signer); without it,
    /// moving such a pin is refused
    #[arg(long, requires = "pack_source")]
    pub accept_signer: bool,
    #[command(flatten)]
    pub from: FromArgs,
    #[command(flatten)]
    pub layout: LayoutArgs,
}

/// `--from`, as `providers install` and `module-loader load` take it.
#[derive(Debug, Args)]
pub struct FromArgs {
    /// Install from loose artifacts (pack mode), looked in before the configured registries for
    /// the module and its dependencies; repeatable. An artifact (`aws_prov_1.0.0.tar`, its
    /// `.minisig` beside it), a directory (every `*.tar` in it, checked against a `SHA256SUMS`
    /// there if any), an `https://` URL of an artifact, or a release URL: a directory on a
    /// static host whose `SHA256SUMS` lists its artifacts. Without `--version`, each module
    /// named is installed at the newest version the artifacts hold
    #[arg(id = "from", long = "from", value_name = "PATH|DIR|URL")]
    pub values: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The provider, e.g. `upcloud`, or the core schemas (`provisioning_core`); a taskserv or a
    /// cluster is unloaded with `module-loader unload`
    pub provider: ShortName,
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)
    pub infra: String,
    /// Also clean a half-installed or drifted state, and succeed when nothing is installed
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InfraArgs {
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)
    pub infra: String,
}

/// `<INFRA>` or `--workspace`: one infra, or every infra of the workspace.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").args(["infra", "workspace"]).required(true)))]
pub struct TargetArgs {
    /// The infra: a name under the workspace's `infra/`, or a path (contains `/`, or is `.`)
    pub infra: Option<String>,
    /// Every infra under the workspace's `infra/` instead of one: one table with an INFRA
    /// column, one exit code (the worst); an infra that fails does not stop the others
    #[arg(long)]
    pub workspace: bool,
}

/// What a command runs over: one infra, or every infra of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Infra(&'a str),
    Workspace,
}

impl TargetArgs {
    pub fn target(&self) -> Target<'_> {
        match &self.infra {
            Some(infra) if !self.workspace => Target::Infra(infra),
            // clap requires one of the two, and refuses both.
            _ => Target::Workspace,
        }
    }
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Hash every vendored file, whatever the stat index in the cache says of it (a file whose size,
    /// times and inode are unchanged is otherwise not read)
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// What to discover
    #[arg(value_enum)]
    pub kind: crate::module::ModuleKind,
    /// Keep only modules whose name contains this fragment
    pub query: Option<String>,
    #[command(flatten)]
    pub layout: LayoutArgs,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `provisioning.1` and a page per subcommand (`provisioning-providers-install.1`,
    /// ...) into DIR, e.g. `~/.local/share/man/man1`, instead of printing the top page
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Names the binary answers to besides `provisioning`: invoked through a link named so, it
/// behaves as that subcommand (`pack providers` is `provisioning pack providers`).
/// `module` or `module@version` on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackSelector {
    Module(crate::names::ModuleName),
    Version(crate::names::PackRef),
}

impl std::str::FromStr for PackSelector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.contains('@') {
            text.parse().map(Self::Version).map_err(|e| e.to_string())
        } else {
            text.parse().map(Self::Module).map_err(|e| e.to_string())
        }
    }
}

const INVOCATION_NAMES: &[&str] = &["module-loader", "pack", "providers"];

/// Rewrites `module-loader sync x` (the binary invoked through a link named `module-loader`,
/// `pack` or `providers`, as the guide's commands are written) into
/// `provisioning module-loader sync x`.
pub fn expand_invocation_name(mut args: Vec<OsString>) -> Vec<OsString> {
    let invoked_as = args
        .first()
        .and_then(|arg0| std::path::Path::new(arg0).file_stem())
        .and_then(|stem| stem.to_str())
        .map(str::to_owned);
    if let Some(name) = invoked_as.filter(|name| INVOCATION_NAMES.contains(&name.as_str())) {
        args[0] = OsString::from("provisioning");
        args.insert(1, OsString::from(name));
    }
    args
}

#[cfg(test)]
mod tests;
