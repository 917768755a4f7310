//! The registries of one run after the local directory: the one `--registry` names (a name of
//! `[[distribution.registries]]`, else a URL or a `distribution/` directory, as before the list
//! existed), else every configured one, in order. Also the warnings a [`super::Chain`] gives
//! while it works (a registry passed over), kept for the command to print.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::{DirectoryRegistry, Registry, RegistryError, RegistryOptions};
use crate::address::Remote;
use crate::config::{ConfiguredRegistry, Location};

/// Warnings given while a command works, shared by every registry it opens; printed by the
/// command's caller, each once.
#[derive(Debug, Clone, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    pub fn push(&self, message: String) {
        let mut warnings = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !warnings.contains(&message) {
            warnings.push(message);
        }
    }

    /// The warnings given so far, leaving none.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// One registry of the run, with its configured name when it is one of the configuration's.
pub struct Named {
    pub name: Option<String>,
    pub registry: Box<dyn Registry>,
}

/// The configured registry `--registry` names, when it names one by its name.
fn by_name<'a>(options: &RegistryOptions<'a>) -> Option<&'a ConfiguredRegistry> {
    let flag = options.flag?;
    options
        .config
        .distribution
        .registries
        .iter()
        .find(|registry| registry.name == flag)
}

/// The registries of this run after the local directory, in order.
pub(super) fn open(options: &RegistryOptions<'_>) -> Result<Vec<Named>, RegistryError> {
    if let Some(registry) = by_name(options) {
        return Ok(vec![open_configured(registry, options)]);
    }
    match options.flag {
        Some(flag) => Ok(vec![Named {
            name: None,
            registry: super::open_flag(flag, options)?,
        }]),
        None => Ok(options
            .config
            .distribution
            .registries
            .iter()
            .map(|registry| open_configured(registry, options))
            .collect()),
    }
}

fn open_configured(registry: &ConfiguredRegistry, options: &RegistryOptions<'_>) -> Named {
    let opened: Box<dyn Registry> = match &registry.location {
        Location::Remote(remote) => super::open_remote(remote, options),
        Location::Directory(dir) => Box::new(
            DirectoryRegistry::in_distribution_dir(dir, &options.config.paths.base)
                .with_tuf(options),
        ),
    };
    Named {
        name: Some(registry.name.clone()),
        registry: opened,
    }
}

/// The remote registry of this run, without opening it: the one `--registry` names (by name or
/// URL), else the configuration's only remote one; none for a directory. A configuration naming
/// several remote registries needs `--registry` to say which.
pub(super) fn remote_address(
    options: &RegistryOptions<'_>,
) -> Result<Option<Remote>, RegistryError> {
    if let Some(registry) = by_name(options) {
        return Ok(match &registry.location {
            Location::Remote(remote) => Some(remote.clone()),
            Location::Directory(_) => None,
        });
    }
    match options.flag {
        Some(flag) if flag.contains("://") => Ok(Some(Remote::parse(flag)?)),
        Some(_) => Ok(None),
        None => {
            let remotes: Vec<(&String, &Remote)> = options
                .config
                .distribution
                .registries
                .iter()
                .filter_map(|registry| match &registry.location {
                    Location::Remote(remote) => Some((&registry.name, remote)),
                    Location::Directory(_) => None,
                })
                .collect();
            match remotes.as_slice() {
                [] => Ok(None),
                [(_, remote)] => Ok(Some((*remote).clone())),
                several => Err(RegistryError::WhichRemote {
                    names: several.iter().map(|(name, _)| (*name).clone()).collect(),
                }),
            }
        }
    }
}

/// The directory `--registry` names (by name, or as a path), when it names one.
pub(super) fn flag_directory(options: &RegistryOptions<'_>) -> Option<PathBuf> {
    if let Some(registry) = by_name(options) {
        return match &registry.location {
            Location::Directory(dir) => Some(dir.clone()),
            Location::Remote(_) => None,
        };
    }
    options
        .flag
        .filter(|flag| !flag.contains("://"))
        .map(|flag| crate::config::absolutize(options.cwd, std::path::Path::new(flag)))
}
