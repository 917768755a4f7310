//! What a module is, as every layer records it: its kind ([`ModuleKind`]), which package of it
//! is used ([`Layout`]) and its manifest ([`PackageManifest`], `[capabilities]`). A low module:
//! the catalog, packs, registries and infras all build on it and it on none of them.

mod kind;
mod manifest;
mod nickel_pkg;

pub use kind::{Layout, ModuleKind};
pub use manifest::{
    Capabilities, PackageManifest, REQUIREMENT_FORMS, parse_package_manifest, parse_requirement,
    read_package_manifest,
};
pub use nickel_pkg::{
    MINIMAL_NICKEL_VERSION, NICKEL_PKG_FILE, NickelPackage, declare_in_nickel_pkg_hint,
    nickel_string,
};
