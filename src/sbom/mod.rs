//! The software bill of materials of an infra (`providers sbom`): every module its lock records,
//! pinned packs and linked sources, with the graph of who requires whom, written as CycloneDX 1.6
//! JSON ([`cyclonedx`]) or SPDX 2.3 JSON ([`spdx`]).
//!
//! An [`Inventory`] is built from the lock alone plus, for each pin, the local registry
//! directory's metadata of that version (license and maintainer), when it records the pinned
//! sha256: the SBOM never touches the network, so it is the same offline and online, and
//! describes what the lock pins, not what a registry holds today. It owns no file format of ours
//! and writes nothing; the command writes the document.
//!
//! Everything in a document is derived from its content: components and relationships are
//! sorted, the creation time is `SOURCE_DATE_EPOCH` or the lock file's modification time, and
//! the document's identity (CycloneDX `serialNumber`, SPDX `documentNamespace`) is a UUID made
//! from the sha256 of the document rendered without it. The same lock and metadata give the
//! same bytes.

pub mod cyclonedx;
pub mod spdx;

use std::collections::{BTreeMap, BTreeSet};

use sha2::Digest as _;

use crate::address::{HttpUrl, OciUrl};
use crate::digest::{ContentHash, Sha256};
use crate::infra::lockfile::{Installed, ProvidersLock, Signer};
use crate::module::ModuleKind;
use crate::names::ModuleName;
use crate::registry::DirectoryRegistry;

/// The property (CycloneDX) and comment (SPDX) namespace of what only `provisioning` records.
pub const PROPERTY_PREFIX: &str = "provisioning";

/// Everything one SBOM says about an infra.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The infra's name: the document's subject.
    pub infra: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// Every module of the lock, sorted by module name.
    pub components: Vec<Component>,
}

/// Everything one SBOM of a workspace (`providers sbom --workspace`) says: each infra's
/// inventory, in infra order.
#[derive(Debug, Clone)]
pub struct WorkspaceInventory {
    /// The workspace directory's name: the document's subject.
    pub name: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub infras: Vec<Inventory>,
}

/// One module of the infra.
#[derive(Debug, Clone)]
pub struct Component {
    pub module: ModuleName,
    pub kind: ModuleKind,
    pub version: semver::Version,
    /// Installed by name (the infra depends on it), not only because others require it.
    pub direct: bool,
    /// The modules it requires, as the lock's `required_by` says, sorted.
    pub depends_on: BTreeSet<ModuleName>,
    pub origin: Origin,
}

/// How a module reaches the infra.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A pinned pack.
    Pack(Box<PackOrigin>),
    /// A link to a live source, relative to the base: no artifact, nothing to hash.
    Link { source: String },
}

/// What is known of a pinned pack.
#[derive(Debug, Clone)]
pub struct PackOrigin {
    /// The registry it came from, as the lock records it.
    pub source: String,
    pub sha256: Sha256,
    pub content_hash: ContentHash,
    pub signer: Signer,
    /// From the local registry's metadata, when it records this version with this sha256.
    pub license: Option<String>,
    pub supplier: Option<String>,
    /// Where the artifact can be downloaded from with a plain GET (an HTTP registry, or a loose
    /// artifact's URL).
    pub download_url: Option<String>,
    /// The OCI repository namespace it came from (`oci://host/ns`).
    pub repository_url: Option<String>,
}

impl Component {
    /// The identifier of the component inside a document: `module@version` (one version of a
    /// module per infra).
    pub fn reference(&self) -> String {
        format!("{}@{}", self.module, self.version)
    }

    /// The package URL of a pinned pack. There is no registered purl type for our packs, so it
    /// is `pkg:generic/<module>@<version>` with the artifact's `checksum`, and `download_url`
    /// or `repository_url` when the source has one.
    pub fn purl(&self) -> Option<String> {
        let Origin::Pack(pack) = &self.origin else {
            return None;
        };
        let mut purl = format!(
            "pkg:generic/{}@{}?checksum=sha256:{}",
            self.module, self.version, pack.sha256
        );
        if let Some(url) = &pack.download_url {
            purl.push_str(&format!("&download_url={}", purl_encode(url)));
        }
        if let Some(url) = &pack.repository_url {
            purl.push_str(&format!("&repository_url={}", purl_encode(url)));
        }
        Some(purl)
    }
}

/// Percent-encodes a purl qualifier value: what would end it (`&`, `#`), start a new one (`=`,
/// `?`), the escape itself, and anything outside printable ASCII.
fn purl_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'&' | b'#' | b'=' | b'?' | b'%' | b'+' | b' ' => {
                encoded.push_str(&format!("%{byte:02X}"));
            }
            0x21..=0x7e => encoded.push(char::from(byte)),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// The inventory of `lock`, with the license and supplier `local` records of each pinned
/// version. A metadata file that cannot be read or parsed leaves those unknown (`local` is a
/// convenience here, not a source of truth: the lock is).
pub fn inventory(
    infra: &str,
    created: String,
    lock: &ProvidersLock,
    local: &DirectoryRegistry,
) -> Inventory {
    let mut depends_on: BTreeMap<&ModuleName, BTreeSet<ModuleName>> = BTreeMap::new();
    for entry in &lock.providers {
        for requirer in &entry.required_by {
            depends_on
                .entry(requirer)
                .or_default()
                .insert(entry.module.clone());
        }
    }
    let mut components: Vec<Component> = lock
        .providers
        .iter()
        .map(|entry| Component {
            module: entry.module.clone(),
            kind: entry.kind,
            version: entry.version.clone(),
            direct: entry.direct,
            depends_on: depends_on.remove(&entry.module).unwrap_or_default(),
            origin: match &entry.installed {
                Installed::Link { source } => Origin::Link {
                    source: source.clone(),
                },
                Installed::Pack(pin) => {
                    let (license, supplier) = registry_metadata(local, &entry.module, &pin.sha256);
                    let artifact = format!("{}_{}.tar", entry.module, entry.version);
                    Origin::Pack(Box::new(PackOrigin {
                        source: pin.source.clone(),
                        sha256: pin.sha256,
                        content_hash: pin.content_hash,
                        signer: pin.signer.clone(),
                        license,
                        supplier,
                        download_url: download_url(&pin.source, &artifact),
                        repository_url: OciUrl::parse(&pin.source).ok().map(|url| url.display()),
                    }))
                }
            },
        })
        .collect();
    components.sort_by(|a, b| a.module.cmp(&b.module));
    Inventory {
        infra: infra.to_owned(),
        created,
        components,
    }
}

/// The license and maintainer of `module`'s metadata in the local registry, when it records a
/// version with `sha256` (the pinned bytes); empty or placeholder values count as unknown.
fn registry_metadata(
    local: &DirectoryRegistry,
    module: &ModuleName,
    sha256: &Sha256,
) -> (Option<String>, Option<String>) {
    let Ok(Some(metadata)) = local.read(module) else {
        return (None, None);
    };
    if !metadata
        .versions
        .iter()
        .any(|version| version.sha256 == *sha256)
    {
        return (None, None);
    }
    let known = |text: &str| {
        let text = text.trim();
        (!text.is_empty() && text != "..." && text != "NOASSERTION").then(|| text.to_owned())
    };
    (known(&metadata.license), known(&metadata.maintainer))
}

/// A plain-GET URL of `artifact` at `source`: the source itself when it is an artifact's
/// `https://` URL (a loose artifact), or the artifact under an HTTP registry's `packages/`.
fn download_url(source: &str, artifact: &str) -> Option<String> {
    if !crate::address::is_http_url(source) {
        return None;
    }
    if source.ends_with(&format!("/{artifact}")) {
        return Some(source.to_owned());
    }
    HttpUrl::parse(source)
        .ok()
        .map(|url| url.join(&format!("packages/{artifact}")).to_string())
}

/// Whether `license` reads as an SPDX license expression (`MIT`, `Apache-2.0 OR MIT`,
/// `LicenseRef-x`): only identifiers, operators and parentheses. Anything else is a name.
pub fn is_license_expression(license: &str) -> bool {
    !license.is_empty()
        && license.split_whitespace().all(|word| {
            let word = word.trim_matches(|c| c == '(' || c == ')');
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':'))
        })
}

/// A UUID shaped as RFC 4122 version 5 (name-based; SHA-256 instead of SHA-1) from the
/// first 16 bytes of the sha256 of `content`: the same document always has the same identity.
pub fn content_uuid(content: &[u8]) -> String {
    let digest = sha2::Sha256::digest(content);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The tool that wrote a document, and its version.
pub const TOOL: &str = "provisioning";
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_qualifiers_are_encoded() {
        let cases = [
            ("https://host/p/a_1.0.0.tar", "https://host/p/a_1.0.0.tar"),
            ("https://host/p?x=1&y", "https://host/p%3Fx%3D1%26y"),
            ("a b#c%", "a%20b%23c%25"),
            ("é", "%C3%A9"),
        ];
        for (value, expected) in cases {
            assert_eq!(purl_encode(value), expected, "{value}");
        }
    }

    #[test]
    fn license_expressions_are_told_from_names() {
        let cases = [
            ("MIT", true),
            ("Apache-2.0 OR MIT", true),
            ("(MIT AND BSD-3-Clause)", true),
            ("GPL-2.0+", true),
            ("", false),
            ("Proprietary, see LICENSE", false),
            ("All rights reserved!", false),
        ];
        for (license, expected) in cases {
            assert_eq!(is_license_expression(license), expected, "{license}");
        }
    }

    #[test]
    fn content_uuids_are_version_5_and_stable() {
        let uuid = content_uuid(b"lock");
        assert_eq!(uuid, content_uuid(b"lock"));
        assert_ne!(uuid, content_uuid(b"lock2"));
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "5");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
    }

    #[test]
    fn download_urls_come_from_http_sources_only() {
        let artifact = "aws_prov_1.0.0.tar";
        assert_eq!(download_url("distribution/registry", artifact), None);
        assert_eq!(download_url("oci://127.0.0.1:5000/ns", artifact), None);
        assert_eq!(
            download_url("https://example.com/dist", artifact).as_deref(),
            Some("https://example.com/dist/packages/aws_prov_1.0.0.tar")
        );
        assert_eq!(
            download_url("https://example.com/rel/aws_prov_1.0.0.tar", artifact).as_deref(),
            Some("https://example.com/rel/aws_prov_1.0.0.tar")
        );
    }
}
