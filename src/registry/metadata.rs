//! `<module>.json`: the guide's fields for the latest version (`name`, `version`,
//! `package_file`, `created`, `maintainer`, `repository`, `license`, `homepage`), and every
//! version with its artifact, hashes, size, creation time and signature file.

use serde::{Deserialize, Serialize};

use crate::config::Metadata;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleMetadata {
    pub name: String,
    /// The newest version, in semver order.
    pub version: String,
    pub package_file: String,
    pub created: String,
    pub maintainer: String,
    pub repository: String,
    pub license: String,
    pub homepage: String,
    /// Every version, oldest first (semver order).
    pub versions: Vec<VersionEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionEntry {
    pub version: String,
    /// The artifact, relative to the packages directory.
    pub package_file: String,
    pub sha256: String,
    /// The `h1:` hash of the files inside the artifact.
    pub content_hash: String,
    pub size: u64,
    pub created: String,
    /// The detached signature, relative to the packages directory, when the artifact is signed.
    #[serde(default)]
    pub signature: Option<String>,
    /// The id of the key that made the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

impl VersionEntry {
    pub fn semver(&self) -> Option<semver::Version> {
        semver::Version::parse(&self.version).ok()
    }
}

impl ModuleMetadata {
    pub fn new(name: &str, metadata: &Metadata) -> Self {
        Self {
            name: name.to_owned(),
            version: String::new(),
            package_file: String::new(),
            created: String::new(),
            maintainer: metadata.maintainer.clone(),
            repository: metadata.repository.clone(),
            license: metadata.license.clone(),
            homepage: metadata.homepage.clone(),
            versions: Vec::new(),
        }
    }

    /// Checks what serde cannot: every version is semver and listed once.
    pub fn check(&self) -> Result<(), String> {
        crate::names::validate(&self.name).map_err(|error| format!("module name: {error}"))?;
        let mut seen = std::collections::BTreeSet::new();
        for entry in &self.versions {
            // Files are named relative to the packages directory: a path could point anywhere
            // (and `pack clean` deletes what it names).
            for file in std::iter::once(&entry.package_file).chain(&entry.signature) {
                let plain = !file.is_empty()
                    && !file.starts_with('.')
                    && !file.contains(['/', '\\'])
                    && file.chars().all(|c| !c.is_control());
                if !plain {
                    return Err(format!(
                        "version `{}` of `{}` names the file `{file}`, which is not a plain file name",
                        entry.version, self.name
                    ));
                }
            }
            let version = semver::Version::parse(&entry.version).map_err(|error| {
                format!("version `{}` of `{}`: {error}", entry.version, self.name)
            })?;
            if !seen.insert(version) {
                return Err(format!(
                    "version `{}` of `{}` is listed twice",
                    entry.version, self.name
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, version: &semver::Version) -> Option<&VersionEntry> {
        self.versions
            .iter()
            .find(|entry| entry.semver().as_ref() == Some(version))
    }

    /// Adds or replaces a version, and refreshes the latest-version fields.
    pub fn upsert(&mut self, entry: VersionEntry, metadata: &Metadata) {
        let version = entry.semver();
        self.versions
            .retain(|existing| existing.semver() != version);
        self.versions.push(entry);
        self.maintainer.clone_from(&metadata.maintainer);
        self.repository.clone_from(&metadata.repository);
        self.license.clone_from(&metadata.license);
        self.homepage.clone_from(&metadata.homepage);
        self.refresh();
    }

    /// Removes a version; says whether it was there.
    pub fn remove(&mut self, version: &semver::Version) -> bool {
        let before = self.versions.len();
        self.versions
            .retain(|entry| entry.semver().as_ref() != Some(version));
        self.refresh();
        before != self.versions.len()
    }

    /// Sorts versions (semver order) and points the top-level fields at the newest.
    fn refresh(&mut self) {
        self.versions.sort_by_key(VersionEntry::semver);
        if let Some(latest) = self.versions.last() {
            self.version.clone_from(&latest.version);
            self.package_file.clone_from(&latest.package_file);
            self.created.clone_from(&latest.created);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str) -> VersionEntry {
        VersionEntry {
            version: version.into(),
            package_file: format!("m_prov_{version}.tar"),
            sha256: "00".into(),
            content_hash: "h1:x".into(),
            size: 1,
            created: format!("created {version}"),
            signature: None,
            signer: None,
        }
    }

    #[test]
    fn latest_is_the_newest_in_semver_order() {
        let config = Metadata {
            maintainer: "m".into(),
            repository: "r".into(),
            license: "MIT".into(),
            homepage: "h".into(),
        };
        let mut metadata = ModuleMetadata::new("m_prov", &config);
        for version in ["0.10.0", "0.9.0", "0.10.1", "0.2.0"] {
            metadata.upsert(entry(version), &config);
        }
        let order: Vec<&str> = metadata
            .versions
            .iter()
            .map(|e| e.version.as_str())
            .collect();
        assert_eq!(order, ["0.2.0", "0.9.0", "0.10.0", "0.10.1"]);
        assert_eq!(metadata.version, "0.10.1");
        assert_eq!(metadata.package_file, "m_prov_0.10.1.tar");
        assert!(metadata.remove(&semver::Version::new(0, 10, 1)));
        assert_eq!(metadata.version, "0.10.0");
        assert!(!metadata.remove(&semver::Version::new(9, 9, 9)));
    }
}
