//! Configuration: the embedded defaults, a base's `config/config.defaults.toml`, a user config
//! file and `PROVISIONING_<SECTION>_<KEY>` variables, layered in that order, then interpolated.
//!
//! The embedded defaults are also the schema: a key they do not hold is an error that names the
//! key and the file, so a typo never silently falls back to a default. `{{section.key}}` refers
//! to another key and `{{env.NAME}}` to an environment variable; references resolve recursively,
//! and a cycle is an error naming the keys in it. Relative paths are relative to the base
//! directory. Every value that names a thing (a module, a version, a registry's address, a
//! path) is parsed into its type here, once (`typed.rs`): the rest of the tool takes the types.
//! This module does not find the base directory; [`crate::context`] does.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use self::interpolate::resolve;
pub use self::layers::env_var_for;
use self::layers::{apply_env_overrides, flatten, unflatten};
use crate::names::ModuleName;

mod interpolate;
mod layers;
mod registries;
mod typed;

pub use self::registries::{ConfiguredRegistry, DEFAULT_NAME, Location};

/// The defaults compiled into the binary.
pub const EMBEDDED_DEFAULTS: &str = include_str!("defaults.toml");

/// Where a configuration value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded,
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Embedded => f.write_str("the embedded defaults"),
            Origin::File(path) => write!(f, "`{}`", path.display()),
            Origin::Env(name) => write!(f, "the environment variable `{name}`"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not valid TOML: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("unknown configuration key `{key}` in {origin}")]
    UnknownKey { key: String, origin: Origin },
    #[error("configuration key `{key}` in {origin} must be {expected}")]
    WrongType {
        key: String,
        origin: Origin,
        expected: &'static str,
    },
    #[error("`{{{{{reference}}}}}` in `{key}` ({origin}) refers to an unknown configuration key")]
    UnknownReference {
        key: String,
        reference: String,
        origin: Origin,
    },
    #[error(
        "`{{{{env.{name}}}}}` in `{key}` ({origin}): the environment variable `{name}` is not set"
    )]
    UnsetVariable {
        key: String,
        name: String,
        origin: Origin,
    },
    #[error("configuration keys refer to each other in a cycle: {}", cycle.join(" → "))]
    Cycle { cycle: Vec<String> },
    #[error("unclosed `{{{{` in `{key}` ({origin})")]
    Unclosed { key: String, origin: Origin },
    #[error("configuration key `{key}` in {origin}: {message}")]
    InvalidValue {
        key: String,
        origin: Origin,
        message: String,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The resolved configuration. Every path is absolute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub paths: Paths,
    pub distribution: Distribution,
    pub evaluation: Evaluation,
    pub tuf: Tuf,
    pub nickel: ModulesConfig,
    pub kcl: ModulesConfig,
    /// The settings a layer gave that change nothing here, each with why: warned about by
    /// every command, never silently a no-op.
    #[serde(skip)]
    pub ignored: Vec<String>,
}

/// Keys the guide's configuration has that do nothing in this tool, and why. Set to anything
/// but the built-in default, each is reported.
const IGNORED_KEYS: &[(&str, &str)] = &[
    (
        "nickel.use_module_loader",
        "link mode is always available: `providers install` without `--version` links",
    ),
    (
        "kcl.use_module_loader",
        "link mode is always available: `providers install --kcl` links",
    ),
    (
        "kcl.core_module",
        "the KCL layout is only linked, never packed: `pack core` packs `nickel.core_module`",
    ),
    (
        "kcl.core_version",
        "the KCL layout is only linked, never packed: `pack core` uses `nickel.core_version`",
    ),
    (
        "kcl.core_package_name",
        "the KCL layout is only linked, never packed: `pack core` uses `nickel.core_package_name`",
    ),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    pub base: PathBuf,
    pub workspace: PathBuf,
    pub extensions: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    pub pack_path: PathBuf,
    pub registry_path: PathBuf,
    pub cache_path: PathBuf,
    /// The registries packs are asked of after the local directories, in order:
    /// `[[distribution.registries]]`, or the one `registry_type` with `registry_url` name; none
    /// when packs are shared through the local directories only.
    #[serde(skip)]
    pub registries: Vec<ConfiguredRegistry>,
    pub unpack_max_entries: u64,
    pub unpack_max_bytes: u64,
    /// The deadline of the whole command's network work, counted from its start: every fetch,
    /// listing and publication of every registry.
    pub network_timeout_secs: std::num::NonZeroU64,
    /// The speed floor of every body read from a remote registry: fewer than this many bytes a
    /// second over `low_speed_time_secs` fails the transfer (0 turns the floor off).
    pub low_speed_limit: u64,
    /// The window the speed floor is measured over, in seconds (0 turns the floor off).
    pub low_speed_time_secs: u64,
    /// The hosts besides a registry's own that may receive its credentials for a token.
    pub token_hosts: crate::address::TokenHosts,
    pub metadata: Metadata,
}

/// `[evaluation]`: the bounds of one Nickel evaluation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    pub timeout_secs: u64,
    pub max_memory_mib: u64,
}

/// `[tuf]`: how long the TUF metadata a registry's publisher signs stays valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuf {
    pub root_expiry_days: u64,
    pub targets_expiry_days: u64,
    pub snapshot_expiry_days: u64,
    pub timestamp_expiry_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub maintainer: String,
    pub repository: String,
    pub license: String,
    pub homepage: String,
}

/// The `[nickel]` (or legacy `[kcl]`) section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModulesConfig {
    pub core_module: PathBuf,
    pub core_version: semver::Version,
    pub core_package_name: ModuleName,
    pub use_module_loader: bool,
    /// A relative directory inside an infra.
    pub modules_dir: String,
}

/// Keys whose values are paths, resolved against the base directory when relative.
const PATH_KEYS: &[&str] = &[
    "paths.base",
    "paths.workspace",
    "paths.extensions",
    "distribution.pack_path",
    "distribution.registry_path",
    "distribution.cache_path",
    "nickel.core_module",
    "kcl.core_module",
];

/// The inputs of [`load`]: the layers to read, in order, and the environment.
#[derive(Debug, Clone)]
pub struct Sources<'a> {
    pub base_dir: &'a Path,
    /// The base's own `config/config.defaults.toml`, when it exists.
    pub base_defaults: Option<PathBuf>,
    /// The user's config file (`--config` or `PROVISIONING_CONFIG`).
    pub user_config: Option<PathBuf>,
    pub env: &'a BTreeMap<String, String>,
}

/// Loads, layers, interpolates and type-checks the configuration.
pub fn load(sources: &Sources<'_>) -> Result<Config, ConfigError> {
    let mut entries = BTreeMap::new();
    let defaults: toml::Table = EMBEDDED_DEFAULTS
        .parse()
        .map_err(|error: toml::de::Error| ConfigError::Invalid(error.to_string()))?;
    flatten(&defaults, "", &Origin::Embedded, &mut entries, None)?;

    for path in sources.base_defaults.iter().chain(&sources.user_config) {
        let text =
            crate::fs::read_to_string(path, crate::fs::FileKind::Config).map_err(|source| {
                ConfigError::Read {
                    path: path.clone(),
                    source,
                }
            })?;
        let table: toml::Table =
            text.parse()
                .map_err(|error: toml::de::Error| ConfigError::Parse {
                    path: path.clone(),
                    message: crate::text::located(&text, error.message(), error.span()),
                })?;
        let origin = Origin::File(path.clone());
        let schema = entries.clone();
        flatten(&table, "", &origin, &mut entries, Some(&schema))?;
    }

    apply_env_overrides(&mut entries, sources.env)?;
    let ignored = ignored_settings(&entries, &defaults);

    let mut resolved = BTreeMap::new();
    let keys: Vec<String> = entries.keys().cloned().collect();
    for key in &keys {
        resolve(key, &entries, sources.env, &mut resolved, &mut Vec::new())?;
    }

    typed::check(&resolved, &entries)?;
    let rank = |origin: &Origin| layer_rank(origin, sources);
    let single = typed::take_remote(&mut resolved, &entries)?.map(|remote| {
        let set_by = [typed::REGISTRY_TYPE, typed::REGISTRY_URL]
            .iter()
            .filter_map(|key| entries.get(*key))
            .map(|entry| rank(&entry.origin));
        (remote, set_by.max().unwrap_or(0))
    });
    let registries = registries::take(&mut resolved, &entries, single, &rank, sources.base_dir)?;
    for key in PATH_KEYS {
        if let Some(toml::Value::String(path)) = resolved.get_mut(*key) {
            *path = absolutize(sources.base_dir, Path::new(path))
                .to_string_lossy()
                .into_owned();
        }
    }

    let table = unflatten(&resolved);
    let mut config: Config = toml::Value::Table(table)
        .try_into()
        .map_err(|error: toml::de::Error| ConfigError::Invalid(error.to_string()))?;
    config.ignored = ignored;
    config.distribution.registries = registries;
    Ok(config)
}

/// The place of the layer that set a value, in the order layers apply: the embedded defaults,
/// the base's defaults, the user's file, the environment.
fn layer_rank(origin: &Origin, sources: &Sources<'_>) -> u8 {
    match origin {
        Origin::Embedded => 0,
        Origin::File(path) if sources.base_defaults.as_ref() == Some(path) => 1,
        Origin::File(_) => 2,
        Origin::Env(_) => 3,
    }
}

/// A warning for each of [`IGNORED_KEYS`] that a layer set to other than its default.
fn ignored_settings(
    entries: &BTreeMap<String, layers::Entry>,
    defaults: &toml::Table,
) -> Vec<String> {
    IGNORED_KEYS
        .iter()
        .filter_map(|(key, why)| {
            let entry = entries.get(*key)?;
            let (section, name) = key.split_once('.')?;
            let default = defaults.get(section)?.get(name)?;
            (entry.origin != Origin::Embedded && entry.value != *default)
                .then(|| format!("`{key}` (set in {}) has no effect: {why}", entry.origin))
        })
        .collect()
}

/// Joins a relative `path` onto `base` and removes `.` components and resolvable `..`
/// components lexically (no disk access: the path may not exist yet).
pub fn absolutize(base: &Path, path: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    let mut normal = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normal.pop() {
                    normal.push("..");
                }
            }
            other => normal.push(other),
        }
    }
    normal
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written directly
mod tests {
    use super::*;

    fn load_with(files: &[(&str, &str)], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut paths = Vec::new();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write config");
            paths.push(path);
        }
        let env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut paths = paths.into_iter();
        load(&Sources {
            base_dir: Path::new("/base"),
            base_defaults: paths.next(),
            user_config: paths.next(),
            env: &env,
        })
    }

    #[test]
    fn embedded_defaults_resolve_against_the_base() {
        let config = load_with(&[], &[]).expect("defaults load");
        assert_eq!(config.paths.base, Path::new("/base"));
        assert_eq!(config.paths.workspace, Path::new("/base/workspace"));
        assert_eq!(
            config.distribution.pack_path,
            Path::new("/base/distribution/packages")
        );
        assert_eq!(config.nickel.modules_dir, ".nickel-modules");
        assert_eq!(config.kcl.modules_dir, ".kcl-modules");
    }

    #[test]
    fn layers_override_in_order() {
        let config = load_with(
            &[
                ("base.toml", "[paths]\nworkspace = \"ws\"\n[distribution.metadata]\nlicense = \"Apache-2.0\"\n"),
                ("user.toml", "[distribution.metadata]\nlicense = \"BSD-3-Clause\"\n"),
            ],
            &[("PROVISIONING_DISTRIBUTION_METADATA_MAINTAINER", "ops team")],
        )
        .expect("layers load");
        assert_eq!(config.paths.workspace, Path::new("/base/ws"));
        assert_eq!(config.distribution.metadata.license, "BSD-3-Clause");
        assert_eq!(config.distribution.metadata.maintainer, "ops team");
    }

    #[test]
    fn env_overrides_beat_user_config() {
        let config = load_with(
            &[
                ("base.toml", ""),
                ("user.toml", "[nickel]\nuse_module_loader = true\n"),
            ],
            &[("PROVISIONING_NICKEL_USE_MODULE_LOADER", "false")],
        )
        .expect("loads");
        assert!(!config.nickel.use_module_loader);
    }

    #[test]
    fn interpolation_is_recursive_and_reads_env() {
        let config = load_with(
            &[(
                "base.toml",
                "[paths]\nbase = \"{{env.ROOT}}/x\"\n[distribution]\npack_path = \"{{distribution.cache_path}}/p\"\n",
            )],
            &[("ROOT", "/srv")],
        )
        .expect("loads");
        assert_eq!(config.paths.workspace, Path::new("/srv/x/workspace"));
        assert_eq!(
            config.distribution.pack_path,
            Path::new("/srv/x/distribution/cache/p")
        );
    }

    #[test]
    fn errors_name_the_key_and_the_file() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case<'_>] = &[
            (
                "[paths]\nbsae = \"x\"\n",
                &[],
                "unknown configuration key `paths.bsae` in `",
            ),
            (
                "[nope]\nx = 1\n",
                &[],
                "unknown configuration key `nope` in `",
            ),
            (
                "[paths]\nbase = \"{{paths.nope}}\"\n",
                &[],
                "`{{paths.nope}}` in `paths.base`",
            ),
            (
                "[paths]\nbase = \"{{env.MISSING_VAR}}\"\n",
                &[],
                "`MISSING_VAR` is not set",
            ),
            (
                "[paths]\nbase = \"{{paths.workspace}}\"\nworkspace = \"{{paths.base}}/w\"\n",
                &[],
                "cycle: paths.base → paths.workspace → paths.base",
            ),
            (
                "[nickel]\nuse_module_loader = \"yes\"\n",
                &[],
                "`nickel.use_module_loader` in `",
            ),
            (
                "[paths]\nbase = \"{{paths.workspace\"\n",
                &[],
                "unclosed `{{` in `paths.base`",
            ),
            ("[paths\n", &[], "is not valid TOML"),
            (
                "",
                &[("PROVISIONING_NICKEL_USE_MODULE_LOADER", "maybe")],
                "environment variable",
            ),
            (
                "",
                &[("PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS", "0")],
                "`distribution.network_timeout_secs` in the environment variable `PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS`: `0` would fail every request at once: it must be above zero",
            ),
            // Regression (issue 20): a negative number said "invalid value: integer `-1`,
            // expected u64", without the origin.
            (
                "",
                &[("PROVISIONING_DISTRIBUTION_LOW_SPEED_LIMIT", "-1")],
                "`distribution.low_speed_limit` in the environment variable `PROVISIONING_DISTRIBUTION_LOW_SPEED_LIMIT`: `-1` is negative: it must be a whole number, 0 or more",
            ),
            (
                "[evaluation]\ntimeout_secs = -5\n",
                &[],
                "`evaluation.timeout_secs` in `",
            ),
            (
                "[nickel]\ncore_package_name = \"Provisioning Core\"\n",
                &[],
                "`nickel.core_package_name` in `",
            ),
            (
                "[kcl]\ncore_version = \"latest\"\n",
                &[],
                "`kcl.core_version` in `",
            ),
            (
                "[nickel]\nmodules_dir = \"../shared\"\n",
                &[],
                "`nickel.modules_dir` in `",
            ),
            ("[paths]\nworkspace = \"\"\n", &[], "`paths.workspace` in `"),
            (
                "[distribution]\nregistry_type = \"oci\"\n",
                &[],
                "`distribution.registry_type` in `",
            ),
            (
                "[distribution]\nregistry_type = \"http\"\nregistry_url = \"oci://127.0.0.1:5000/p\"\n",
                &[],
                "`distribution.registry_url` in `",
            ),
            (
                "",
                &[
                    ("PROVISIONING_DISTRIBUTION_REGISTRY_TYPE", "oci"),
                    (
                        "PROVISIONING_DISTRIBUTION_REGISTRY_URL",
                        "oci://127.0.0.1:5000/Upper",
                    ),
                ],
                "`distribution.registry_url` in the environment variable `PROVISIONING_DISTRIBUTION_REGISTRY_URL`: ",
            ),
        ];
        for (text, env, expected) in cases {
            let error = load_with(&[("config.toml", text)], env).expect_err(text);
            let message = error.to_string();
            assert!(
                message.contains(expected),
                "{text:?}: {message:?} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn the_remote_registry_is_parsed_at_load() {
        let cases = [
            ("", None),
            ("registry_url = \"oci://127.0.0.1:5000/p\"\n", None),
            (
                "registry_type = \"oci\"\nregistry_url = \"oci://127.0.0.1:5000/p\"\n",
                Some("oci://127.0.0.1:5000/p"),
            ),
            (
                "registry_type = \"http\"\nregistry_url = \"https://packs.example/d/\"\n",
                Some("https://packs.example/d"),
            ),
        ];
        for (text, expected) in cases {
            let config =
                load_with(&[("config.toml", &format!("[distribution]\n{text}"))], &[]).expect(text);
            let remote =
                config
                    .distribution
                    .registries
                    .first()
                    .map(|registry| match &registry.location {
                        Location::Remote(remote) => remote.display(),
                        Location::Directory(path) => path.display().to_string(),
                    });
            assert_eq!(remote.as_deref(), expected, "{text}");
        }
        let config = load_with(&[], &[]).expect("defaults");
        assert_eq!(
            config.nickel.core_package_name.as_str(),
            "provisioning_core"
        );
        assert_eq!(config.nickel.core_version, semver::Version::new(0, 0, 1));
    }

    #[test]
    fn absolutize_normalises_lexically() {
        let cases = [
            ("/b", ".", "/b"),
            ("/b", "./w", "/b/w"),
            ("/b", "../w", "/w"),
            ("/b/c", "x/../y", "/b/c/y"),
            ("/b", "/abs/./p", "/abs/p"),
        ];
        for (base, path, expected) in cases {
            assert_eq!(
                absolutize(Path::new(base), Path::new(path)),
                Path::new(expected)
            );
        }
    }
}
