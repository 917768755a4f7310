//! Interpolation of `{{section.key}}` and `{{env.NAME}}` in string values, recursively, with
//! cycles, unknown keys, unset variables and unclosed braces reported by key and origin.

use std::collections::BTreeMap;

use super::ConfigError;
use super::layers::Entry;

/// Resolves `key`, interpolating its references first. `stack` holds the keys being resolved,
/// to detect cycles.
pub(super) fn resolve(
    key: &str,
    entries: &BTreeMap<String, Entry>,
    env: &BTreeMap<String, String>,
    resolved: &mut BTreeMap<String, toml::Value>,
    stack: &mut Vec<String>,
) -> Result<toml::Value, ConfigError> {
    if let Some(value) = resolved.get(key) {
        return Ok(value.clone());
    }
    if let Some(position) = stack.iter().position(|seen| seen == key) {
        let mut cycle = stack[position..].to_vec();
        cycle.push(key.to_owned());
        return Err(ConfigError::Cycle { cycle });
    }
    let entry = &entries[key];
    let toml::Value::String(text) = &entry.value else {
        resolved.insert(key.to_owned(), entry.value.clone());
        return Ok(entry.value.clone());
    };
    stack.push(key.to_owned());
    let mut output = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{{") {
        output.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(ConfigError::Unclosed {
                key: key.to_owned(),
                origin: entry.origin.clone(),
            });
        };
        let reference = after[..end].trim();
        if let Some(name) = reference.strip_prefix("env.") {
            let Some(value) = env.get(name) else {
                return Err(ConfigError::UnsetVariable {
                    key: key.to_owned(),
                    name: name.to_owned(),
                    origin: entry.origin.clone(),
                });
            };
            output.push_str(value);
        } else if entries.contains_key(reference) {
            match resolve(reference, entries, env, resolved, stack)? {
                toml::Value::String(value) => output.push_str(&value),
                other => output.push_str(&other.to_string()),
            }
        } else {
            return Err(ConfigError::UnknownReference {
                key: key.to_owned(),
                reference: reference.to_owned(),
                origin: entry.origin.clone(),
            });
        }
        rest = &after[end + 2..];
    }
    output.push_str(rest);
    stack.pop();
    let value = toml::Value::String(output);
    resolved.insert(key.to_owned(), value.clone());
    Ok(value)
}
