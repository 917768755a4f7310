//! What kind of module one is ([`ModuleKind`], as discovery and the command line name kinds;
//! [`EntryKind`], as locks, packs and metadata record one module) and which package of it is
//! used ([`Layout`]).

use serde::{Deserialize, Serialize};

use crate::names::ModuleName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleKind {
    Providers,
    Taskservs,
    Clusters,
    /// The core schemas: one module, found through the configuration, never discovered.
    #[value(skip)]
    Core,
}

impl ModuleKind {
    /// The kinds `module-loader load` serves, in the order infras list them.
    pub const LOADABLE: [ModuleKind; 3] = [
        ModuleKind::Providers,
        ModuleKind::Taskservs,
        ModuleKind::Clusters,
    ];

    /// One module of the kind, for messages: `provider`, `taskserv`, `cluster`, `core`.
    pub fn singular(self) -> &'static str {
        match self {
            ModuleKind::Providers => "provider",
            ModuleKind::Taskservs => "taskserv",
            ModuleKind::Clusters => "cluster",
            ModuleKind::Core => "core",
        }
    }

    pub fn dir_name(self) -> &'static str {
        match self {
            ModuleKind::Providers => "providers",
            ModuleKind::Taskservs => "taskservs",
            ModuleKind::Clusters => "clusters",
            ModuleKind::Core => "core",
        }
    }
}

/// What kind of module one is, as locks, packs and registry metadata record it: `provider`,
/// `core`, `taskserv`, `cluster`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A provider: its name is `upcloud`, its module `upcloud_prov`.
    #[default]
    Provider,
    /// The core schemas: its name is its module name.
    Core,
    /// A taskserv (`taskservs/<category>/<name>`): its name is its module name.
    Taskserv,
    /// A cluster (`clusters/<name>`): its name is its module name.
    Cluster,
}

impl EntryKind {
    /// The kind of a module whose record does not say (packs and locks from before taskservs
    /// and clusters were modules): providers end in `_prov`, the rest was the core.
    pub fn of(module: &ModuleName) -> Self {
        if module.provider().is_some() {
            EntryKind::Provider
        } else {
            EntryKind::Core
        }
    }

    pub fn from_module_kind(kind: ModuleKind) -> Self {
        match kind {
            ModuleKind::Providers => EntryKind::Provider,
            ModuleKind::Taskservs => EntryKind::Taskserv,
            ModuleKind::Clusters => EntryKind::Cluster,
            ModuleKind::Core => EntryKind::Core,
        }
    }

    pub fn module_kind(self) -> ModuleKind {
        match self {
            EntryKind::Provider => ModuleKind::Providers,
            EntryKind::Taskserv => ModuleKind::Taskservs,
            EntryKind::Cluster => ModuleKind::Clusters,
            EntryKind::Core => ModuleKind::Core,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.module_kind().singular()
    }

    pub fn is_default(&self) -> bool {
        *self == EntryKind::Provider
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
