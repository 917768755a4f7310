//! What discovering and finding modules fails with, and the hints that list what there is.

use std::path::PathBuf;

use crate::module::ModuleKind;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("unknown provider `{name}`\nhint: {}", provider_hint(name, known))]
    UnknownProvider { name: String, known: Vec<String> },
    #[error("unknown module `{name}`\nhint: {}", known_list("modules", known))]
    UnknownModule { name: String, known: Vec<String> },
    #[error("unknown {} `{name}`\nhint: {}", kind.as_str(), known_list(kind.dir_name(), known))]
    UnknownOfKind {
        kind: ModuleKind,
        name: String,
        known: Vec<String>,
    },
    #[error(
        "the taskserv `{name}` is in more than one category: {}\nhint: a module name must be unique; rename one of them",
        categories.iter().map(|c| format!("`taskservs/{c}/{name}`")).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous {
        name: String,
        categories: Vec<String>,
    },
    #[error(
        "`{name}` is both a taskserv and a cluster\nhint: a module name must be unique across kinds; rename one of them"
    )]
    AmbiguousKinds { name: String },
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The providers there are; or, for a provider's module name (`upcloud_prov`), the provider's
/// name, which commands take.
fn provider_hint(name: &str, known: &[String]) -> String {
    match name.strip_suffix(crate::names::MODULE_SUFFIX) {
        Some(provider) if known.iter().any(|k| k == provider) => format!(
            "`{name}` is the module of the provider `{provider}`: commands name a provider `{provider}`"
        ),
        _ => known_list("providers", known),
    }
}

fn known_list(what: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("no {what} found")
    } else {
        let names: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
        format!("found {what}: {}", names.join(", "))
    }
}
