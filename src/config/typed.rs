//! The values that name a thing, parsed into their types when the configuration loads: the
//! remote registry (`registry_type` with `registry_url`; the list of them is `registries.rs`'s), the core's module name and version,
//! the modules directory of an infra, the paths, the bounds above zero. A value that names
//! nothing is an error naming the key and the layer that set it (a file, a variable), never a
//! setting that quietly does nothing later. Nothing outside [`super`] parses these again.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde::Deserialize;

use super::layers::Entry;
use super::{ConfigError, Origin, PATH_KEYS};
use crate::address::{HttpUrl, OciUrl, Remote};

/// `distribution.registry_type`: where packs are shared beyond this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RegistryKind {
    /// Only the local directories (`pack_path`, `registry_path`).
    Local,
    /// An OCI registry at `registry_url`.
    Oci,
    /// A static HTTP registry at `registry_url`; read-only.
    Http,
}

pub(super) const REGISTRY_TYPE: &str = "distribution.registry_type";
pub(super) const REGISTRY_URL: &str = "distribution.registry_url";

/// A check of one key's text: what is wrong with it, if anything.
type Check = fn(&str) -> Result<(), String>;

/// Each key whose text must name something, and the parse that says whether it does. serde
/// reads the same text into the same type afterwards; checking here first is what lets the
/// error name the key and the file.
const CHECKS: &[(&str, Check)] = &[
    ("nickel.core_package_name", module_name),
    ("kcl.core_package_name", module_name),
    ("nickel.core_version", version),
    ("kcl.core_version", version),
    ("nickel.modules_dir", modules_dir),
    ("kcl.modules_dir", modules_dir),
    ("distribution.token_hosts", token_hosts),
];

fn token_hosts(text: &str) -> Result<(), String> {
    text.parse::<crate::address::TokenHosts>().map(drop)
}

fn module_name(text: &str) -> Result<(), String> {
    text.parse::<crate::names::ModuleName>()
        .map(drop)
        .map_err(|error| error.to_string())
}

fn version(text: &str) -> Result<(), String> {
    crate::names::parse_version(text)
        .map(drop)
        .map_err(|error| error.to_string())
}

/// A directory inside an infra: relative, and never leaving it.
fn modules_dir(text: &str) -> Result<(), String> {
    let path = Path::new(text);
    let inside = !text.is_empty()
        && path
            .components()
            .all(|component| matches!(component, Component::Normal(_)));
    if inside {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a directory inside an infra\nhint: a relative name such as `.nickel-modules`, without `..`"
        ))
    }
}

/// Checks the keys of [`CHECKS`], the paths (before they are made absolute: an empty one names
/// nothing) and the bounds.
pub(super) fn check(
    resolved: &BTreeMap<String, toml::Value>,
    entries: &BTreeMap<String, Entry>,
) -> Result<(), ConfigError> {
    let path_checks = PATH_KEYS.iter().map(|key| {
        let check: Check = |text| {
            if text.is_empty() {
                Err("a path cannot be empty\nhint: `.` is the base directory".to_owned())
            } else {
                Ok(())
            }
        };
        (*key, check)
    });
    for (key, check) in CHECKS.iter().copied().chain(path_checks) {
        if let Some(toml::Value::String(text)) = resolved.get(key) {
            check(text).map_err(|message| invalid(key, entries, message))?;
        }
    }
    // Every number is a count, a size or a time: checked here, so that no parser's wording
    // ("invalid value: integer `-1`, expected u64") reaches the user.
    for (key, value) in resolved {
        if let toml::Value::Integer(number) = value
            && *number < 0
        {
            let message = format!("`{number}` is negative: it must be a whole number, 0 or more");
            return Err(invalid(key, entries, message));
        }
    }
    let timeout = "distribution.network_timeout_secs";
    if let Some(toml::Value::Integer(0)) = resolved.get(timeout) {
        let message = "`0` would fail every request at once: it must be above zero".to_owned();
        return Err(invalid(timeout, entries, message));
    }
    Ok(())
}

/// Takes `registry_type` and `registry_url` out of `resolved` and parses them into the remote
/// registry they name: none for `local`; for `oci` and `http`, a URL of that kind, which must
/// be there.
pub(super) fn take_remote(
    resolved: &mut BTreeMap<String, toml::Value>,
    entries: &BTreeMap<String, Entry>,
) -> Result<Option<Remote>, ConfigError> {
    let kind = resolved
        .remove(REGISTRY_TYPE)
        .map(|value| {
            value
                .try_into::<RegistryKind>()
                .map_err(|error| invalid(REGISTRY_TYPE, entries, error.message().trim().into()))
        })
        .transpose()?
        .unwrap_or(RegistryKind::Local);
    let url = match resolved.remove(REGISTRY_URL) {
        Some(toml::Value::String(url)) => url,
        _ => String::new(),
    };
    let (name, form) = match kind {
        RegistryKind::Local => return Ok(None),
        RegistryKind::Oci => ("oci", "oci://host[:port]/namespace"),
        RegistryKind::Http => ("http", "https://host[:port]/path"),
    };
    if url.is_empty() {
        return Err(invalid(
            REGISTRY_TYPE,
            entries,
            format!(
                "`{name}` needs `distribution.registry_url`, which is empty\nhint: set `registry_url = \"{form}\"` in `[distribution]`, or `{}`",
                super::env_var_for(REGISTRY_URL)
            ),
        ));
    }
    let remote = match kind {
        RegistryKind::Oci => OciUrl::parse(&url).map(Remote::Oci),
        _ => HttpUrl::parse(&url).map(Remote::Http),
    };
    remote
        .map(Some)
        .map_err(|error| invalid(REGISTRY_URL, entries, error.to_string()))
}

pub(super) fn invalid(
    key: &str,
    entries: &BTreeMap<String, Entry>,
    message: String,
) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        origin: entries
            .get(key)
            .map_or(Origin::Embedded, |entry| entry.origin.clone()),
        message,
    }
}
