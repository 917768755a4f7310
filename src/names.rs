//! Provider and module names. A provider name is `[a-z0-9][a-z0-9_-]*`; its module is
//! `<provider>_prov`. Names are checked when arguments are parsed, before a file is touched,
//! so `../x` can never become a path.

use std::fmt;
use std::str::FromStr;

/// The suffix that turns a provider name into its module name.
pub const MODULE_SUFFIX: &str = "_prov";

/// A validated provider name, such as `upcloud`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderName(String);

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

impl ProviderName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The module this provider is packaged and installed as: `upcloud` → `upcloud_prov`.
    pub fn module_name(&self) -> String {
        format!("{}{MODULE_SUFFIX}", self.0)
    }

    /// The provider a module name belongs to: `upcloud_prov` → `upcloud`.
    pub fn from_module_name(module: &str) -> Option<Self> {
        module
            .strip_suffix(MODULE_SUFFIX)
            .and_then(|name| name.parse().ok())
    }
}

impl FromStr for ProviderName {
    type Err = NameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        validate(name)?;
        Ok(Self(name.to_owned()))
    }
}

impl fmt::Display for ProviderName {
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
        let name: ProviderName = "upcloud".parse().expect("valid name");
        assert_eq!(name.module_name(), "upcloud_prov");
        assert_eq!(ProviderName::from_module_name("upcloud_prov"), Some(name));
        assert_eq!(ProviderName::from_module_name("upcloud"), None);
        assert_eq!(ProviderName::from_module_name("../x_prov"), None);
    }
}
