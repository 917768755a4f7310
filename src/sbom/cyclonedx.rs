//! An [`Inventory`] as CycloneDX 1.6 JSON: the infra is `metadata.component`, each module a
//! `library` component (a pinned pack with its sha256, purl, supplier and license; a linked
//! module without hashes, marked by the property `provisioning:mode` = `link`), and
//! `dependencies` the graph, every component listed.

use serde_json::{Value, json};

use super::{Component, Inventory, Origin, PROPERTY_PREFIX, TOOL, TOOL_VERSION};

/// The infra's own reference in the document.
fn infra_reference(inventory: &Inventory) -> String {
    format!("infra:{}", inventory.infra)
}

/// The document, pretty-printed, with a final line break.
pub fn render(inventory: &Inventory) -> String {
    let mut document = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": inventory.created,
            "tools": {
                "components": [{
                    "type": "application",
                    "name": TOOL,
                    "version": TOOL_VERSION,
                }],
            },
            "component": {
                "type": "application",
                "bom-ref": infra_reference(inventory),
                "name": inventory.infra,
                "description": "an infrastructure of provisioning: the modules its lock (providers.manifest.yaml) records",
            },
        },
        "components": inventory.components.iter().map(component).collect::<Vec<_>>(),
        "dependencies": dependencies(inventory),
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
