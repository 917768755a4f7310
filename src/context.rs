//! The environment a command runs in: the base directory, the resolved configuration, the
//! environment variables and the working directory. Commands read these from a [`Context`],
//! never from the process, so a test can point the tool anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::GlobalArgs;
use crate::config::{self, Config};

/// What marks a directory as a provisioning base when searching upwards from the working
/// directory.
const BASE_MARKERS: &[&str] = &["config/config.defaults.toml", "extensions"];

#[derive(Debug, Clone)]
pub struct Context {
    /// The base directory, absolute.
    pub base: PathBuf,
    pub config: Config,
    pub env: BTreeMap<String, String>,
    /// The working directory, absolute; relative paths on the command line start here.
    pub cwd: PathBuf,
    pub offline: bool,
    /// `--registry NAME|URL|DIR`.
    pub registry_flag: Option<String>,
    /// What the registries warn about while the command works (one passed over), for the
    /// caller to print.
    pub registry_warnings: crate::registry::Warnings,
}

#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error(
        "no provisioning base found in `{}` or any of its parents\nhint: pass `--base DIR`, set `PROVISIONING`, or run inside a directory holding `extensions/` or `config/config.defaults.toml`",
        cwd.display()
    )]
    NotFound { cwd: PathBuf },
    #[error("the base directory `{}` (from {origin}) does not exist or is not a directory", path.display())]
    Missing { path: PathBuf, origin: &'static str },
}

/// The process's environment variables (those that are UTF-8).
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

impl Context {
    /// Builds the context from the process: its arguments, environment and working directory.
    pub fn from_process(global: &GlobalArgs) -> anyhow::Result<Self> {
        let env = process_env();
        let cwd = std::env::current_dir().context("failed to read the working directory")?;
        Self::new(global, env, cwd)
    }

    pub fn new(
        global: &GlobalArgs,
        env: BTreeMap<String, String>,
        cwd: PathBuf,
    ) -> anyhow::Result<Self> {
        let user_config = global
            .config
            .clone()
            .or_else(|| env.get("PROVISIONING_CONFIG").map(PathBuf::from))
            .map(|path| config::absolutize(&cwd, &path));
        // The guide's `PROVISIONING_CONFIG=/path/to/provisioning`: a directory is the base (its
        // `config/config.defaults.toml` is read as always), an alternative to `PROVISIONING`.
        let (config_dir, user_config) = match user_config {
            Some(path) if path.is_dir() => (Some(path), None),
            other => (None, other),
        };
        let base = find_base(global.base.as_deref(), &env, config_dir.as_deref(), &cwd)?;
        // `exists`, not `is_file`: a FIFO or a device there is an error naming it, not skipped.
        let base_defaults = Some(base.join("config/config.defaults.toml")).filter(|p| p.exists());
        let config = config::load(&config::Sources {
            base_dir: &base,
            base_defaults,
            user_config,
            env: &env,
        })
        .context("failed to load the configuration")?;
        Ok(Self {
            base,
            config,
            env,
            cwd,
            offline: global.offline,
            registry_flag: global.registry.clone(),
            registry_warnings: crate::registry::Warnings::default(),
        })
    }

    /// Now, in seconds since the Unix epoch: `SOURCE_DATE_EPOCH` when it is set (reproducible
    /// builds' convention), else the system clock. A `SOURCE_DATE_EPOCH` that is not a number of
    /// seconds is an error, not silently the clock: a reproducible build must not drift.
    pub fn now(&self) -> anyhow::Result<u64> {
        match self.env.get("SOURCE_DATE_EPOCH") {
            Some(value) => value.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "`SOURCE_DATE_EPOCH` is `{value}`, not a number of seconds since 1970\nhint: set it to an integer such as `1764288000`, or unset it"
                )
            }),
            None => Ok(std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs())),
        }
    }

    /// What the registries of this run are built from.
    pub fn registry_options(&self) -> crate::registry::RegistryOptions<'_> {
        crate::registry::RegistryOptions {
            config: &self.config,
            env: &self.env,
            cwd: &self.cwd,
            flag: self.registry_flag.as_deref(),
            offline: self.offline,
            warnings: &self.registry_warnings,
        }
    }

    /// The keys a pack may be signed by: the user's own, those trusted with `keys trust`, and
    /// the base's `config/trusted-keys`.
    pub fn trusted_keys(&self) -> anyhow::Result<Vec<crate::signing::TrustedKey>> {
        Ok(crate::signing::trusted_keys(&self.env, &self.base)?)
    }

    /// The bounds of one Nickel evaluation.
    pub fn evaluation_bounds(&self) -> crate::nickel::Bounds {
        crate::nickel::Bounds::from_config(&self.config.evaluation)
    }

    /// The bounds on what one artifact may unpack to.
    pub fn unpack_limits(&self) -> crate::artifact::unpack::Limits {
        crate::artifact::unpack::Limits::from_config(&self.config.distribution)
    }

    /// The workspace's `infra/` directory.
    pub fn infra_root(&self) -> PathBuf {
        self.config.paths.workspace.join("infra")
    }

    /// `path` relative to the base when it lies inside it, for messages and records.
    pub fn display_path<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, Path> {
        match path.strip_prefix(&self.config.paths.base) {
            Ok(relative) if !relative.as_os_str().is_empty() => relative.into(),
            _ => path.into(),
        }
    }
}

/// The base: `--base`, else `PROVISIONING`, else a directory given as the configuration, else
/// the nearest ancestor of `cwd` that looks like one.
fn find_base(
    flag: Option<&Path>,
    env: &BTreeMap<String, String>,
    config_dir: Option<&Path>,
    cwd: &Path,
) -> Result<PathBuf, BaseError> {
    let explicit = flag
        .map(|path| (path.to_path_buf(), "`--base`"))
        .or_else(|| {
            env.get("PROVISIONING")
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), "`PROVISIONING`"))
        })
        .or_else(|| config_dir.map(|dir| (dir.to_path_buf(), "the configuration directory")));
    if let Some((path, origin)) = explicit {
        let path = config::absolutize(cwd, &path);
        return if path.is_dir() {
            Ok(path)
        } else {
            Err(BaseError::Missing { path, origin })
        };
    }
    cwd.ancestors()
        .find(|dir| BASE_MARKERS.iter().any(|marker| dir.join(marker).exists()))
        .map(Path::to_path_buf)
        .ok_or_else(|| BaseError::NotFound {
            cwd: cwd.to_path_buf(),
        })
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written directly
mod tests {
    use super::*;

    #[test]
    fn base_is_found_from_flag_env_then_ancestors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("b1/extensions")).expect("mkdir");
        std::fs::create_dir_all(root.join("b1/workspace/infra/wuji")).expect("mkdir");
        std::fs::create_dir_all(root.join("b2")).expect("mkdir");
        let nested = root.join("b1/workspace/infra/wuji");
        let none = BTreeMap::new();
        let with_env: BTreeMap<_, _> = [(
            "PROVISIONING".to_owned(),
            root.join("b2").display().to_string(),
        )]
        .into();

        assert_eq!(
            find_base(None, &none, None, &nested).expect("ancestor"),
            root.join("b1")
        );
        assert_eq!(
            find_base(None, &with_env, None, &nested).expect("env"),
            root.join("b2")
        );
        assert_eq!(
            find_base(Some(Path::new("../../..")), &with_env, None, &nested).expect("flag"),
            root.join("b1")
        );
        assert_eq!(
            find_base(None, &none, Some(&root.join("b2")), &nested).expect("config dir"),
            root.join("b2")
        );
        assert_eq!(
            find_base(None, &with_env, Some(&root.join("b1")), root).expect("env first"),
            root.join("b2")
        );
        assert!(matches!(
            find_base(None, &none, None, root),
            Err(BaseError::NotFound { .. })
        ));
        assert!(matches!(
            find_base(Some(Path::new("/nonexistent/base")), &none, None, root),
            Err(BaseError::Missing { .. })
        ));
    }
}
