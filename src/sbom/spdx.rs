//! An [`Inventory`] as SPDX 2.3 JSON: the document `DESCRIBES` the infra (a package of its
//! own), the infra `DEPENDS_ON` the modules installed by name, each module on what it requires.
//! A pinned pack has its sha256 checksum, purl, supplier and declared license; a linked module
//! has `downloadLocation` `NOASSERTION`, no checksum, and a comment that says it is a live
//! source.

use serde_json::{Value, json};

use super::{Component, Inventory, Origin, TOOL, TOOL_VERSION};
use crate::names::ModuleName;

const NOASSERTION: &str = "NOASSERTION";

fn infra_id() -> &'static str {
    "SPDXRef-Infra"
}

/// An SPDX element id for `module`: `SPDXRef-Package-` and the name with `_` written `.`
/// (ids allow letters, digits, `.` and `-`; module names never hold `.`, so no two collide).
fn package_id(module: &ModuleName) -> String {
    format!("SPDXRef-Package-{}", module.as_str().replace('_', "."))
}

/// The document, pretty-printed, with a final line break.
pub fn render(inventory: &Inventory) -> String {
    let mut packages = vec![json!({
        "SPDXID": infra_id(),
        "name": inventory.infra,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "primaryPackagePurpose": "APPLICATION",
        "comment": "an infrastructure of provisioning: the modules its lock (providers.manifest.yaml) records",
    })];
    packages.extend(inventory.components.iter().map(package));
    let mut document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{} (provisioning infra)", inventory.infra),
        "creationInfo": {
            "created": inventory.created,
            "creators": [format!("Tool: {TOOL}-{TOOL_VERSION}")],
        },
        "documentDescribes": [infra_id()],
        "packages": packages,
        "relationships": relationships(inventory),
    });
    let uuid = super::content_uuid(pretty(&document).as_bytes());
    document["documentNamespace"] = Value::String(format!(
        "https://spdx.org/spdxdocs/provisioning-{}-{uuid}",
        inventory.infra
    ));
    pretty(&document)
}

fn pretty(document: &Value) -> String {
    // A `Value` always serializes.
    serde_json::to_string_pretty(document).unwrap_or_default() + "\n"
}

fn package(component: &Component) -> Value {
    let mut value = json!({
        "SPDXID": package_id(&component.module),
        "name": component.module.as_str(),
        "versionInfo": component.version.to_string(),
        "filesAnalyzed": false,
        "primaryPackagePurpose": "LIBRARY",
        "licenseConcluded": NOASSERTION,
        "copyrightText": NOASSERTION,
    });
    let kind = component.kind.as_str();
    match &component.origin {
        Origin::Link { source } => {
            value["downloadLocation"] = json!(NOASSERTION);
            value["licenseDeclared"] = json!(NOASSERTION);
            value["supplier"] = json!(NOASSERTION);
            value["comment"] = json!(format!(
                "{kind}, linked live from the local source `{source}` (link mode): no artifact, no checksum"
            ));
        }
        Origin::Pack(pack) => {
            value["downloadLocation"] = json!(
                pack.download_url
                    .clone()
                    .unwrap_or_else(|| NOASSERTION.into())
            );
            value["checksums"] =
                json!([{ "algorithm": "SHA256", "checksumValue": pack.sha256.to_string() }]);
            value["licenseDeclared"] = json!(
                pack.license
                    .as_deref()
                    .filter(|license| super::is_license_expression(license))
                    .unwrap_or(NOASSERTION)
            );
            value["supplier"] = json!(pack.supplier.as_ref().map_or_else(
                || NOASSERTION.to_owned(),
                |name| format!("Organization: {name}")
            ));
            value["externalRefs"] = json!([{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": component.purl(),
            }]);
            value["comment"] = json!(format!(
                "{kind}, a pinned pack (pack mode) from `{}`, signer {}, content hash {}",
                pack.source, pack.signer, pack.content_hash
            ));
        }
    }
    value
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({ "spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to })
}

fn relationships(inventory: &Inventory) -> Vec<Value> {
    let mut relationships = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", infra_id())];
    for component in &inventory.components {
        let id = package_id(&component.module);
        if component.direct {
            relationships.push(relationship(infra_id(), "DEPENDS_ON", &id));
        }
    }
    for component in &inventory.components {
        let id = package_id(&component.module);
        for dependency in &component.depends_on {
            let known = inventory
                .components
                .iter()
                .any(|other| other.module == *dependency);
            if known {
                relationships.push(relationship(&id, "DEPENDS_ON", &package_id(dependency)));
            }
        }
    }
    relationships
}
