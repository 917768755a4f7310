//! An [`Inventory`] as CycloneDX 1.6 JSON: the infra is `metadata.component`, each module a
//! `library` component (a pinned pack with its sha256, purl, supplier and license; a linked
//! module without hashes, marked by the property `provisioning:mode` = `link`), and
//! `dependencies` the graph, every component listed.

use serde_json::{Value, json};

use super::{
    Component, Inventory, Origin, PROPERTY_PREFIX, TOOL, TOOL_VERSION, WorkspaceInventory,
};

/// The infra's own reference in the document.
fn infra_reference(inventory: &Inventory) -> String {
    format!("infra:{}", inventory.infra)
}

/// The document, pretty-printed, with a final line break.
pub fn render(inventory: &Inventory) -> String {
    let subject = json!({
        "type": "application",
        "bom-ref": infra_reference(inventory),
        "name": inventory.infra,
        "description": INFRA_DESCRIPTION,
    });
    let components = inventory.components.iter().map(component).collect();
    document(
        &inventory.created,
        subject,
        components,
        dependencies(inventory),
    )
}

const INFRA_DESCRIPTION: &str =
    "an infrastructure of provisioning: the modules its lock (providers.manifest.yaml) records";

/// A workspace as one document (`providers sbom --workspace`): the workspace is
/// `metadata.component`, each infra an `application` component with its modules nested in it
/// (as `<infra>/<module>@<version>`: a module may be in several infras, at several versions),
/// and `dependencies` the workspace on its infras, each infra on the modules installed by name,
/// each module on what it requires.
pub fn render_workspace(workspace: &WorkspaceInventory) -> String {
    let subject = json!({
        "type": "application",
        "bom-ref": format!("workspace:{}", workspace.name),
        "name": workspace.name,
        "description": "a workspace of provisioning: its infras, and the modules each one's lock records",
    });
    let mut graph = vec![json!({
        "ref": format!("workspace:{}", workspace.name),
        "dependsOn": workspace.infras.iter().map(infra_reference).collect::<Vec<_>>(),
    })];
    let mut components = Vec::new();
    for inventory in &workspace.infras {
        let nested = |reference: &str| format!("{}/{reference}", inventory.infra);
        let modules: Vec<Value> = inventory
            .components
            .iter()
            .map(|module| {
                let mut value = component(module);
                value["bom-ref"] = json!(nested(&module.reference()));
                value
            })
            .collect();
        components.push(json!({
            "type": "application",
            "bom-ref": infra_reference(inventory),
            "name": inventory.infra,
            "description": INFRA_DESCRIPTION,
            "components": modules,
        }));
        let own = infra_reference(inventory);
        let rename = |reference: &Value| match reference.as_str() {
            Some(reference) if reference != own => json!(nested(reference)),
            _ => reference.clone(),
        };
        for mut entry in dependencies(inventory) {
            entry["ref"] = rename(&entry["ref"]);
            if let Some(depends_on) = entry["dependsOn"].as_array() {
                entry["dependsOn"] = depends_on.iter().map(rename).collect();
            }
            graph.push(entry);
        }
    }
    document(&workspace.created, subject, components, graph)
}

/// The document around a subject, its components and their graph, with its serial number.
fn document(
    created: &str,
    subject: Value,
    components: Vec<Value>,
    dependencies: Vec<Value>,
) -> String {
    let mut document = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": TOOL,
                    "version": TOOL_VERSION,
                }],
            },
            "component": subject,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let serial = super::content_uuid(pretty(&document).as_bytes());
    document["serialNumber"] = Value::String(format!("urn:uuid:{serial}"));
    pretty(&document)
}

fn pretty(document: &Value) -> String {
    // A `Value` always serializes.
    serde_json::to_string_pretty(document).unwrap_or_default() + "\n"
}

fn property(name: &str, value: impl ToString) -> Value {
    json!({ "name": format!("{PROPERTY_PREFIX}:{name}"), "value": value.to_string() })
}

fn component(component: &Component) -> Value {
    let mut properties = vec![
        property("kind", component.kind.as_str()),
        property("direct", component.direct),
    ];
    let mut value = json!({
        "type": "library",
        "bom-ref": component.reference(),
        "name": component.module.as_str(),
        "version": component.version.to_string(),
    });
    match &component.origin {
        Origin::Link { source } => {
            properties.push(property("mode", "link"));
            properties.push(property("source", source));
            value["description"] =
                json!("linked live from a local source (link mode): no artifact, no hash");
        }
        Origin::Pack(pack) => {
            properties.push(property("mode", "pack"));
            properties.push(property("source", &pack.source));
            properties.push(property("signer", &pack.signer));
            properties.push(property("content_hash", pack.content_hash));
            value["hashes"] = json!([{ "alg": "SHA-256", "content": pack.sha256.to_string() }]);
            value["purl"] = json!(component.purl());
            if let Some(supplier) = &pack.supplier {
                value["supplier"] = json!({ "name": supplier });
            }
            if let Some(license) = &pack.license {
                value["licenses"] = if super::is_license_expression(license) {
                    json!([{ "expression": license }])
                } else {
                    json!([{ "license": { "name": license } }])
                };
            }
            if let Some(url) = &pack.download_url {
                value["externalReferences"] = json!([{ "type": "distribution", "url": url }]);
            }
        }
    }
    value["properties"] = Value::Array(properties);
    value
}

/// The infra depends on the modules installed by name; each module on what it requires.
fn dependencies(inventory: &Inventory) -> Vec<Value> {
    let reference = |module: &crate::names::ModuleName| {
        inventory
            .components
            .iter()
            .find(|component| component.module == *module)
            .map(Component::reference)
    };
    let direct: Vec<String> = inventory
        .components
        .iter()
        .filter(|component| component.direct)
        .map(Component::reference)
        .collect();
    let mut graph = vec![json!({ "ref": infra_reference(inventory), "dependsOn": direct })];
    for component in &inventory.components {
        let depends_on: Vec<String> = component.depends_on.iter().filter_map(reference).collect();
        graph.push(json!({ "ref": component.reference(), "dependsOn": depends_on }));
    }
    graph
}
