//! The layers of the configuration as dotted leaf keys (`distribution.pack_path`), each with the
//! layer that set it: flattening a TOML table against the schema (the embedded defaults), the
//! `PROVISIONING_<SECTION>_<KEY>` overrides, and the way back to a table.

use std::collections::BTreeMap;

use super::{ConfigError, Origin};

/// One leaf value and the layer that set it.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub value: toml::Value,
    pub origin: Origin,
}

/// Flattens a table into dotted leaf keys. With a schema, every key must already exist there
/// and keep its type.
pub(super) fn flatten(
    table: &toml::Table,
    prefix: &str,
    origin: &Origin,
    entries: &mut BTreeMap<String, Entry>,
    schema: Option<&BTreeMap<String, Entry>>,
) -> Result<(), ConfigError> {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if let toml::Value::Table(inner) = value {
            let is_section = schema.is_none_or(|schema| {
                schema
                    .keys()
                    .any(|known| known.starts_with(&format!("{key}.")))
            });
            if !is_section {
                return Err(ConfigError::UnknownKey {
                    key,
                    origin: origin.clone(),
                });
            }
            flatten(inner, &key, origin, entries, schema)?;
            continue;
        }
        if let Some(schema) = schema {
            let Some(known) = schema.get(&key) else {
                return Err(ConfigError::UnknownKey {
                    key,
                    origin: origin.clone(),
                });
            };
            if known.value.type_str() != value.type_str() {
                return Err(ConfigError::WrongType {
                    key,
                    origin: origin.clone(),
                    expected: type_description(&known.value),
                });
            }
        }
        entries.insert(
            key,
            Entry {
                value: value.clone(),
                origin: origin.clone(),
            },
        );
    }
    Ok(())
}

fn type_description(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "`true` or `false`",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// The variable that overrides `key`: `distribution.metadata.license` →
/// `PROVISIONING_DISTRIBUTION_METADATA_LICENSE`.
pub fn env_var_for(key: &str) -> String {
    format!(
        "PROVISIONING_{}",
        key.replace('.', "_").to_ascii_uppercase()
    )
}

pub(super) fn apply_env_overrides(
    entries: &mut BTreeMap<String, Entry>,
    env: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for (key, entry) in entries.iter_mut() {
        let name = env_var_for(key);
        let Some(raw) = env.get(&name) else { continue };
        let origin = Origin::Env(name);
        let value = match &entry.value {
            toml::Value::String(_) => Some(toml::Value::String(raw.clone())),
            toml::Value::Boolean(_) => raw.parse().ok().map(toml::Value::Boolean),
            toml::Value::Integer(_) => raw.parse().ok().map(toml::Value::Integer),
            _ => None,
        };
        let Some(value) = value else {
            return Err(ConfigError::WrongType {
                key: key.clone(),
                origin,
                expected: type_description(&entry.value),
            });
        };
        *entry = Entry { value, origin };
    }
    Ok(())
}

pub(super) fn unflatten(resolved: &BTreeMap<String, toml::Value>) -> toml::Table {
    let mut root = toml::Table::new();
    for (key, value) in resolved {
        let mut table = &mut root;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                table.insert(part.to_owned(), value.clone());
            } else {
                let next = table
                    .entry(part.to_owned())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(next) = next else {
                    break;
                };
                table = next;
            }
        }
    }
    root
}
