//! What kind of module one is ([`ModuleKind`]: the command line and directories name it in the
//! plural, `providers`; locks, packs and metadata record it in the singular, `provider`) and
//! which package of it is used ([`Layout`]).

use serde::{Deserialize, Serialize};

use crate::names::ModuleName;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ModuleKind {
    /// A provider (`providers/<name>`): its name is `upcloud`, its module `upcloud_prov`.
    #[default]
    #[value(name = "providers")]
    Provider,
    /// The core schemas: one module, found through the configuration, never discovered; its
    /// name is its module name.
    #[value(skip)]
    Core,
    /// A taskserv (`taskservs/<category>/<name>`): its name is its module name.
    #[value(name = "taskservs")]
    Taskserv,
    /// A cluster (`clusters/<name>`): its name is its module name.
    #[value(name = "clusters")]
    Cluster,
}

impl ModuleKind {
    /// The kinds `module-loader load` serves, in the order infras list them.
    pub const LOADABLE: [ModuleKind; 3] = [
        ModuleKind::Provider,
        ModuleKind::Taskserv,
        ModuleKind::Cluster,
    ];

    /// The kind of a module whose record does not say (packs and locks from before taskservs
    /// and clusters were modules): providers end in `_prov`, the rest was the core.
    pub fn of(module: &ModuleName) -> Self {
        if module.provider().is_some() {
            ModuleKind::Provider
        } else {
            ModuleKind::Core
        }
    }

    /// One module of the kind, as records and messages name it: `provider`, `core`,
    /// `taskserv`, `cluster`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleKind::Provider => "provider",
            ModuleKind::Taskserv => "taskserv",
            ModuleKind::Cluster => "cluster",
            ModuleKind::Core => "core",
        }
    }

    /// The kind as the command line and the directories of `extensions/` and of an infra name
    /// it: `providers`, `taskservs`, `clusters`, `core`.
    pub fn dir_name(self) -> &'static str {
        match self {
            ModuleKind::Provider => "providers",
            ModuleKind::Taskserv => "taskservs",
            ModuleKind::Cluster => "clusters",
            ModuleKind::Core => "core",
        }
    }

    /// Serializes the kind as its directory name (`providers`), for outputs that list modules
    /// found under `extensions/`, which have always named the kind so.
    pub fn serialize_dir_name<S: serde::Serializer>(
        kind: &ModuleKind,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind.dir_name())
    }

    pub fn is_default(&self) -> bool {
        *self == ModuleKind::Provider
    }
}

/// Which package of a module is used: Nickel (the default) or the legacy KCL one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    #[default]
    Nickel,
    Kcl,
}

impl Layout {
    pub fn from_kcl_flag(kcl: bool) -> Self {
        if kcl { Layout::Kcl } else { Layout::Nickel }
    }

    /// The package directory inside a module: `nickel` or `kcl`.
    pub fn package_dir(self) -> &'static str {
        match self {
            Layout::Nickel => "nickel",
            Layout::Kcl => "kcl",
        }
    }

    /// The manifest inside a package, and the infra's own manifest: `manifest.toml` or
    /// `kcl.mod`.
    pub fn manifest_file(self) -> &'static str {
        match self {
            Layout::Nickel => "manifest.toml",
            Layout::Kcl => "kcl.mod",
        }
    }

    pub fn default_entry(self) -> &'static str {
        match self {
            Layout::Nickel => "main.ncl",
            Layout::Kcl => "main.k",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Layout::Nickel
    }
}
