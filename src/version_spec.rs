//! What `--version` asks for. `1.2.3` is exactly that version (the guide's usage, and what
//! `pack` writes); anything else is a requirement in Cargo's syntax (`^1.2`, `~1.2.3`,
//! `>=1.0, <2.0`, `*`, and a bare `1.2`, which Cargo reads as `^1.2`), resolved to the newest
//! signed, non-yanked version that satisfies it. A requirement is kept in `manifest.toml` as
//! written; the lock pins the exact version.

use std::fmt;
use std::str::FromStr;

use semver::{Version, VersionReq};

use crate::module::REQUIREMENT_FORMS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSpec {
    Exact(Version),
    Requirement {
        requirement: VersionReq,
        /// As the user wrote it, for `manifest.toml`.
        written: String,
    },
}

impl VersionSpec {
    /// The requirement resolution works with: `=1.2.3` for an exact version.
    pub fn requirement(&self) -> VersionReq {
        match self {
            VersionSpec::Exact(version) => exactly(version),
            VersionSpec::Requirement { requirement, .. } => requirement.clone(),
        }
    }

    /// What `manifest.toml` records: the version, or the requirement as written.
    pub fn manifest_text(&self) -> String {
        match self {
            VersionSpec::Exact(version) => version.to_string(),
            VersionSpec::Requirement { written, .. } => written.clone(),
        }
    }

    /// Reads what a `manifest.toml` `version = "..."` holds, as `--version` would.
    pub fn from_manifest(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    /// Whether `version` is allowed.
    pub fn matches(&self, version: &Version) -> bool {
        match self {
            VersionSpec::Exact(exact) => exact == version,
            VersionSpec::Requirement { requirement, .. } => requirement.matches(version),
        }
    }
}

/// `=V`: the requirement of exactly one version, pre-release included.
pub fn exactly(version: &Version) -> VersionReq {
    VersionReq {
        comparators: vec![semver::Comparator {
            op: semver::Op::Exact,
            major: version.major,
            minor: Some(version.minor),
            patch: Some(version.patch),
            pre: version.pre.clone(),
        }],
    }
}

impl FromStr for VersionSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if let Ok(version) = Version::parse(trimmed) {
            return Ok(VersionSpec::Exact(version));
        }
        match VersionReq::parse(trimmed) {
            Ok(requirement) => Ok(VersionSpec::Requirement {
                requirement,
                written: trimmed.to_owned(),
            }),
            Err(_) => Err(format!(
                "`{text}` is neither a version nor a version requirement\nhint: give an exact version (`1.2.3`) or {REQUIREMENT_FORMS}"
            )),
        }
    }
}

impl fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSpec::Exact(version) => write!(f, "{version}"),
            VersionSpec::Requirement { written, .. } => f.write_str(written),
        }
    }
}

/// `module@requirement` on the command line (`aws_prov@^1.0`, `aws_prov@1.0.0`), or a bare
/// `module` for its newest version: what `pack mirror` resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSpec {
    pub module: crate::names::ModuleName,
    pub spec: VersionSpec,
}

impl FromStr for ModuleSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (module, spec) = match text.split_once('@') {
            Some((module, spec)) => (module, spec.parse()?),
            None => (
                text,
                VersionSpec::Requirement {
                    requirement: VersionReq::STAR,
                    written: "*".to_owned(),
                },
            ),
        };
        let module = module
            .parse()
            .map_err(|error| format!("`{text}`: {error}"))?;
        Ok(Self { module, spec })
    }
}

impl fmt::Display for ModuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.module, self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_versions_and_requirements() {
        let cases = [
            ("1.2.3", Some("=1.2.3")),
            ("1.2.3-beta.1", Some("=1.2.3-beta.1")),
            ("^1.2", Some("^1.2")),
            ("1.2", Some("^1.2")),
            ("~1.2.3", Some("~1.2.3")),
            (">=1.0, <2.0", Some(">=1.0, <2.0")),
            ("*", Some("*")),
            ("latest", None),
            ("", None),
        ];
        for (text, expected) in cases {
            let parsed = text.parse::<VersionSpec>();
            match expected {
                Some(requirement) => {
                    assert_eq!(
                        parsed.expect(text).requirement().to_string(),
                        requirement,
                        "{text}"
                    );
                }
                None => {
                    let error = parsed.expect_err(text);
                    assert!(error.contains("is neither a version"), "{error}");
                    assert!(
                        error.contains("`^1.2`"),
                        "the hint names the forms: {error}"
                    );
                }
            }
        }
    }

    #[test]
    fn module_specs() {
        let cases = [
            ("aws_prov@^1.0", Some(("aws_prov", "^1.0"))),
            ("aws_prov@1.0.0", Some(("aws_prov", "=1.0.0"))),
            ("aws_prov", Some(("aws_prov", "*"))),
            ("aws_prov@latest", None),
            ("Bad Name@1.0.0", None),
            ("@1.0.0", None),
        ];
        for (text, expected) in cases {
            let parsed = text.parse::<ModuleSpec>();
            match expected {
                Some((module, requirement)) => {
                    let parsed = parsed.expect(text);
                    assert_eq!(parsed.module.as_str(), module, "{text}");
                    assert_eq!(parsed.spec.requirement().to_string(), requirement, "{text}");
                }
                None => assert!(parsed.is_err(), "{text} parses"),
            }
        }
    }
}
