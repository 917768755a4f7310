//! Names as types: [`ShortName`] (how commands and locks name a module: `upcloud`,
//! `provisioning_core`, `kubernetes`), [`ModuleName`] (`upcloud_prov`, `provisioning_core`) and
//! [`PackRef`] (`upcloud_prov@1.2.0`). Both kinds of name are `[a-z0-9][a-z0-9_-]*`;
//! a provider's module is `<provider>_prov`. Names are checked where they arrive (arguments,
//! locks, metadata), before a file is touched, so `../x` can never become a path.

use std::fmt;
use std::str::FromStr;

/// The suffix that turns a provider name into its module name.
pub const MODULE_SUFFIX: &str = "_prov";

/// A validated short name: how commands and locks name a module. A provider's is its provider
/// name (`upcloud`, module `upcloud_prov`); every other kind's is its module name
/// (`provisioning_core`, `kubernetes`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShortName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name cannot be empty")]
    Empty,
    #[error(
        "`{name}` is not a valid name: it must start with a lower-case letter or digit and hold only `a-z`, `0-9`, `_` and `-`"
    )]
    Invalid { name: String },
}

/// Checks `name` against `[a-z0-9][a-z0-9_-]*`.
pub fn validate(name: &str) -> Result<(), NameError> {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return Err(NameError::Empty);
    };
    let valid = (first.is_ascii_lowercase() || first.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(NameError::Invalid {
            name: name.to_owned(),
        })
    }
}

impl ShortName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The module this provider is packaged and installed as: `upcloud` → `upcloud_prov`.
    pub fn provider_module(&self) -> ModuleName {
        ModuleName(format!("{}{MODULE_SUFFIX}", self.0))
    }

    /// The provider a module name belongs to: `upcloud_prov` → `upcloud`.
    pub fn from_provider_module(module: &str) -> Option<Self> {
        module
            .strip_suffix(MODULE_SUFFIX)
            .and_then(|name| name.parse().ok())
    }
}

/// A validated module name: a provider's `upcloud_prov`, the core's `provisioning_core`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleName(String);

impl ModuleName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The provider this module packages, when it is a provider's (`upcloud_prov` → `upcloud`).
    pub fn provider(&self) -> Option<ShortName> {
        ShortName::from_provider_module(&self.0)
    }

    /// How commands and locks name the module: its provider (`upcloud`), or else the module
    /// name itself (`provisioning_core`).
    pub fn short_name(&self) -> ShortName {
        self.provider().unwrap_or_else(|| ShortName(self.0.clone()))
    }
}

/// A name as a module name: the core schemas' entry in a lock is named by its module name.
impl From<&ShortName> for ModuleName {
    fn from(name: &ShortName) -> Self {
        ModuleName(name.0.clone())
    }
}

impl FromStr for ModuleName {
    type Err = NameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        validate(name)?;
        Ok(Self(name.to_owned()))
    }
}

impl fmt::Display for ModuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<std::path::Path> for ModuleName {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl PartialEq<str> for ModuleName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// One version of one module: `upcloud_prov@1.2.0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackRef {
    pub module: ModuleName,
    pub version: semver::Version,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackRefError {
    #[error("`{text}` is not `module@version`")]
    NoVersion { text: String },
    #[error("`{text}`: {source}")]
    Name {
        text: String,
        #[source]
        source: NameError,
    },
    #[error("`{text}`: {error}")]
    Version { text: String, error: VersionError },
}

/// Text that is not an exact version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("the version is empty\nhint: {VERSION_FORM}")]
    Empty,
    #[error("`{text}` is not a version\nhint: {VERSION_FORM}")]
    Invalid { text: String },
}

const VERSION_FORM: &str =
    "give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release";

/// An exact version, where one arrives as text (`module@version`, `pack --version`). semver's
/// own errors ("unexpected character 'l' while parsing major version number") describe its
/// parser, not what to type.
pub fn parse_version(text: &str) -> Result<semver::Version, VersionError> {
    semver::Version::parse(text).map_err(|_| match text {
        "" => VersionError::Empty,
        _ => VersionError::Invalid {
            text: text.to_owned(),
        },
    })
}

impl PackRef {
    pub fn new(module: ModuleName, version: semver::Version) -> Self {
        Self { module, version }
    }
}

impl FromStr for PackRef {
    type Err = PackRefError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (module, version) = text
            .split_once('@')
            .ok_or_else(|| PackRefError::NoVersion {
                text: text.to_owned(),
            })?;
        let module = module.parse().map_err(|source| PackRefError::Name {
            text: text.to_owned(),
            source,
        })?;
        let version = parse_version(version).map_err(|error| PackRefError::Version {
            text: text.to_owned(),
            error,
        })?;
        Ok(Self { module, version })
    }
}

impl fmt::Display for PackRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.module, self.version)
    }
}

crate::digest::serde_as_text!(ShortName, ModuleName);

impl FromStr for ShortName {
    type Err = NameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        validate(name)?;
        Ok(Self(name.to_owned()))
    }
}

impl fmt::Display for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern() {
        let cases = [
            ("upcloud", true),
            ("aws", true),
            ("0cloud", true),
            ("my_cloud-2", true),
            ("", false),
            ("../x", false),
            ("up cloud", false),
            ("UpCloud", false),
            ("-x", false),
            ("_x", false),
            ("x/y", false),
            (".", false),
            ("é", false),
        ];
        for (name, valid) in cases {
            assert_eq!(validate(name).is_ok(), valid, "for {name:?}");
        }
    }

    #[test]
    fn module_names_round_trip() {
        let name: ShortName = "upcloud".parse().expect("valid name");
        assert_eq!(name.provider_module().as_str(), "upcloud_prov");
        assert_eq!(ShortName::from_provider_module("upcloud_prov"), Some(name));
        assert_eq!(ShortName::from_provider_module("upcloud"), None);
        assert_eq!(ShortName::from_provider_module("../x_prov"), None);
    }

    #[test]
    fn pack_refs_parse_module_and_version() {
        let pack: PackRef = "aws_prov@1.2.0-rc.1".parse().expect("valid");
        assert_eq!(pack.module.as_str(), "aws_prov");
        assert_eq!(pack.to_string(), "aws_prov@1.2.0-rc.1");
        for bad in [
            "aws_prov",
            "aws_prov@",
            "@1.0.0",
            "../x@1.0.0",
            "aws_prov@1.0",
            "a@b@1.0.0",
        ] {
            assert!(bad.parse::<PackRef>().is_err(), "{bad:?}");
        }
    }
}
