//! The registries packs are asked of, in order: `[[distribution.registries]]` (each a `name`, a
//! `type` and a `url`, or a `path` for a `local` directory), or the single
//! `registry_type`/`registry_url` keys as one entry named `default`. Parsed here, once, when the
//! configuration loads; [`crate::registry`] opens them.
//!
//! Layering: the list is one value, so a later layer's list replaces an earlier one whole (as
//! any other key). The single keys and the list are two ways of saying the same thing: the
//! later layer wins (so `PROVISIONING_DISTRIBUTION_REGISTRY_TYPE`/`_URL` point one run at one
//! registry in place of a file's list), and one layer giving both is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::layers::Entry;
use super::typed::{RegistryKind, invalid};
use super::{ConfigError, Origin};
use crate::address::{HttpUrl, OciUrl, Remote};

const REGISTRIES: &str = "distribution.registries";

/// The name the single `registry_type`/`registry_url` keys give their registry.
pub const DEFAULT_NAME: &str = "default";

/// One registry of the configuration, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredRegistry {
    /// `[a-z0-9][a-z0-9_-]*`: what `--registry NAME` and `registry list` call it.
    pub name: String,
    pub location: Location,
}

/// Where a configured registry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Remote(Remote),
    /// A `distribution/`-shaped directory (`packages/` and `registry/` inside), absolute.
    Directory(PathBuf),
}

impl Location {
    /// `local`, `oci` or `http`: the entry's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Location::Directory(_) => "local",
            Location::Remote(Remote::Oci(_)) => "oci",
            Location::Remote(Remote::Http(_)) => "http",
        }
    }
}

/// One entry of `[[distribution.registries]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    #[serde(rename = "type")]
    kind: RegistryKind,
    url: Option<String>,
    path: Option<String>,
}

/// The configured registries in order: the list, or the single keys' one (`single`, with the
/// rank of the layer that set it), whichever layer (`rank`) came later.
pub(super) fn take(
    resolved: &mut BTreeMap<String, toml::Value>,
    entries: &BTreeMap<String, Entry>,
    single: Option<(Remote, u8)>,
    rank: &dyn Fn(&Origin) -> u8,
    base: &Path,
) -> Result<Vec<ConfiguredRegistry>, ConfigError> {
    let list = match resolved.remove(REGISTRIES) {
        Some(toml::Value::Array(list)) => list,
        _ => Vec::new(),
    };
    let one = |(remote, _)| ConfiguredRegistry {
        name: DEFAULT_NAME.to_owned(),
        location: Location::Remote(remote),
    };
    if list.is_empty() {
        return Ok(single.map(one).into_iter().collect());
    }
    let list_rank = entries
        .get(REGISTRIES)
        .map_or(0, |entry| rank(&entry.origin));
    match single {
        Some((_, single_rank)) if single_rank == list_rank => Err(invalid(
            REGISTRIES,
            entries,
            "`registry_type`/`registry_url` and `[[distribution.registries]]` are both set here: say it one way\nhint: make the single registry an entry of the list".to_owned(),
        )),
        Some(single) if single.1 > list_rank => Ok(vec![one(single)]),
        _ => parse_list(list, entries, base),
    }
}

fn parse_list(
    list: Vec<toml::Value>,
    entries: &BTreeMap<String, Entry>,
    base: &Path,
) -> Result<Vec<ConfiguredRegistry>, ConfigError> {
    let mut registries: Vec<ConfiguredRegistry> = Vec::new();
    for (position, value) in list.into_iter().enumerate() {
        let wrong = |message: String| {
            invalid(
                REGISTRIES,
                entries,
                format!("entry {}: {message}", position + 1),
            )
        };
        let raw: RawEntry = value
            .try_into()
            .map_err(|error: toml::de::Error| wrong(error.message().trim().to_owned()))?;
        crate::names::validate(&raw.name).map_err(|error| wrong(error.to_string()))?;
        if registries.iter().any(|known| known.name == raw.name) {
            return Err(wrong(format!(
                "the name `{}` is given twice: each registry needs its own",
                raw.name
            )));
        }
        let location = location(&raw, base).map_err(wrong)?;
        registries.push(ConfiguredRegistry {
            name: raw.name,
            location,
        });
    }
    Ok(registries)
}

/// A `local` entry has a `path` (relative to the base), an `oci` or `http` one a `url` of its
/// kind; never the other.
fn location(raw: &RawEntry, base: &Path) -> Result<Location, String> {
    let name = &raw.name;
    match (raw.kind, &raw.url, &raw.path) {
        (RegistryKind::Local, None, Some(path)) if !path.is_empty() => Ok(Location::Directory(
            super::absolutize(base, Path::new(path)),
        )),
        (RegistryKind::Local, _, _) => Err(format!(
            "`{name}` is `local`: it needs a `path` (a `distribution/` directory), and no `url`"
        )),
        (RegistryKind::Oci, Some(url), None) => OciUrl::parse(url)
            .map(|url| Location::Remote(Remote::Oci(url)))
            .map_err(|error| format!("`{name}`: {error}")),
        (RegistryKind::Http, Some(url), None) => HttpUrl::parse(url)
            .map(|url| Location::Remote(Remote::Http(url)))
            .map_err(|error| format!("`{name}`: {error}")),
        (_, _, _) => Err(format!(
            "`{name}` is a remote registry: it needs a `url` (`oci://host[:port]/namespace` or `https://host/path`), and no `path`"
        )),
    }
}
