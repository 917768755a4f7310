//! An [`Inventory`] as SPDX 2.3 JSON: the document `DESCRIBES` the infra (a package of its
//! own), the infra `DEPENDS_ON` the modules installed by name, each module on what it requires.
//! A pinned pack has its sha256 checksum, purl, supplier and declared license; a linked module
//! has `downloadLocation` `NOASSERTION`, no checksum, and a comment that says it is a live
//! source.

use serde_json::{Value, json};

use super::{Component, Inventory, Origin, TOOL, TOOL_VERSION, WorkspaceInventory};
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

/// The package of the infra itself, as `spdx_id`.
fn infra_package(inventory: &Inventory, spdx_id: &str) -> serde_json::Value {
    json!({
        "SPDXID": spdx_id,
        "name": inventory.infra,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "primaryPackagePurpose": "APPLICATION",
        "comment": "an infrastructure of provisioning: the modules its lock (providers.manifest.yaml) records",
    })
}

/// The document, pretty-printed, with a final line break.
pub fn render(inventory: &Inventory) -> String {
    let mut packages = vec![infra_package(inventory, infra_id())];
    packages.extend(
        inventory
            .components
            .iter()
            .map(|component| package(component, package_id(&component.module))),
    );
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
        "relationships": std::iter::once(relationship("SPDXRef-DOCUMENT", "DESCRIBES", infra_id()))
            .chain(relationships(inventory, infra_id(), &package_id))
            .collect::<Vec<_>>(),
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

fn package(component: &Component, id: String) -> Value {
    let mut value = json!({
        "SPDXID": id,
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

/// The infra (`infra`) depends on the modules installed by name, each module on what it
/// requires; `id` names a module of the infra.
fn relationships(
    inventory: &Inventory,
    infra: &str,
    id: &dyn Fn(&ModuleName) -> String,
) -> Vec<Value> {
    let mut relationships = Vec::new();
    for component in &inventory.components {
        if component.direct {
            relationships.push(relationship(infra, "DEPENDS_ON", &id(&component.module)));
        }
    }
    for component in &inventory.components {
        let from = id(&component.module);
        for dependency in &component.depends_on {
            let known = inventory
                .components
                .iter()
                .any(|other| other.module == *dependency);
            if known {
                relationships.push(relationship(&from, "DEPENDS_ON", &id(dependency)));
            }
        }
    }
    relationships
}

/// A workspace as one document (`providers sbom --workspace`): the document `DESCRIBES` the
/// workspace, which `CONTAINS` each infra (`SPDXRef-Infra-<n>`, by position: infra names may
/// hold characters ids do not), each with its modules (`SPDXRef-Package-<n>-<module>`) and
/// their relationships as in an infra's document.
pub fn render_workspace(workspace: &WorkspaceInventory) -> String {
    let workspace_id = "SPDXRef-Workspace";
    let mut packages = vec![json!({
        "SPDXID": workspace_id,
        "name": workspace.name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "primaryPackagePurpose": "APPLICATION",
        "comment": "a workspace of provisioning: its infras, and the modules each one's lock records",
    })];
    let mut relationships_all = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", workspace_id)];
    for (index, inventory) in workspace.infras.iter().enumerate() {
        let infra = format!("SPDXRef-Infra-{index}");
        let id = |module: &ModuleName| {
            format!(
                "SPDXRef-Package-{index}-{}",
                module.as_str().replace('_', ".")
            )
        };
        packages.push(infra_package(inventory, &infra));
        packages.extend(
            inventory
                .components
                .iter()
                .map(|component| package(component, id(&component.module))),
        );
        relationships_all.push(relationship(workspace_id, "CONTAINS", &infra));
        relationships_all.extend(relationships(inventory, &infra, &id));
    }
    let mut document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{} (provisioning workspace)", workspace.name),
        "creationInfo": {
            "created": workspace.created,
            "creators": [format!("Tool: {TOOL}-{TOOL_VERSION}")],
        },
        "documentDescribes": [workspace_id],
        "packages": packages,
        "relationships": relationships_all,
    });
    let uuid = super::content_uuid(pretty(&document).as_bytes());
    document["documentNamespace"] = Value::String(format!(
        "https://spdx.org/spdxdocs/provisioning-workspace-{}-{uuid}",
        workspace.name
    ));
    pretty(&document)
}
