//! The docs against the code: the configuration reference names every key of the built-in
//! defaults, the environment reference every variable the source reads, the index every page,
//! and every relative link in the README and the docs leads somewhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every file under `dir` whose name ends with `suffix`, recursively.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(files(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Every key of `src/config/defaults.toml`, dotted (`distribution.metadata.license`), with its
/// default as TOML writes it (`"."`, `10000`, `true`).
fn config_defaults() -> Vec<(String, String)> {
    fn walk(table: &toml::Table, prefix: &str, keys: &mut Vec<(String, String)>) {
        for (name, value) in table {
            let key = format!("{prefix}{name}");
            match value {
                toml::Value::Table(inner) => walk(inner, &format!("{key}."), keys),
                _ => keys.push((key, value.to_string())),
            }
        }
    }
    let defaults: toml::Table = read(&root().join("src/config/defaults.toml"))
        .parse()
        .expect("defaults.toml parses");
    let mut keys = Vec::new();
    walk(&defaults, "", &mut keys);
    keys
}

fn config_keys() -> Vec<String> {
    config_defaults().into_iter().map(|(key, _)| key).collect()
}

/// Each key has a row `| key | type | default | meaning |` whose default is the built-in one.
#[test]
fn the_configuration_reference_names_every_key_with_its_default() {
    let page = read(&root().join("docs/reference/configuration.md"));
    let defaults = config_defaults();
    assert!(defaults.len() >= 20, "{defaults:?}");
    let mut wrong = Vec::new();
    for (key, default) in &defaults {
        let row = page
            .lines()
            .find(|line| line.starts_with(&format!("| `{key}` |")));
        let cells: Vec<&str> = row
            .map(|row| row.split(" | ").collect())
            .unwrap_or_default();
        match cells.get(2) {
            None => wrong.push(format!("`{key}`: no row")),
            Some(cell) if !cell.starts_with(&format!("`{default}`")) => {
                wrong.push(format!("`{key}`: default {cell}, built in `{default}`"));
            }
            Some(_) if cells.len() < 4 || cells[3].trim_end_matches(" |").is_empty() => {
                wrong.push(format!("`{key}`: no meaning"));
            }
            Some(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/reference/configuration.md against src/config/defaults.toml:\n{}",
        wrong.join("\n")
    );
}

/// The names of the environment variables the source reads: every `PROVISIONING_*` name it
/// mentions, and every name it asks its environment for (`env.get("NAME")`, `var_os("NAME")`).
fn env_vars_in_source() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in files(&root().join("src"), ".rs") {
        let text = read(&file);
        for (start, _) in text.match_indices("PROVISIONING_") {
            let name: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // `PROVISIONING_` alone, or `PROVISIONING_<SECTION>_<KEY>` as a pattern.
            if name.len() > "PROVISIONING_".len() && !name.ends_with('_') {
                names.insert(name);
            }
        }
        for call in ["get(\"", "var_os(\"", "var(\""] {
            for (start, _) in text.match_indices(call) {
                let rest = &text[start + call.len()..];
                let name = &rest[..rest.find('"').unwrap_or(0)];
                let is_env_name = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if is_env_name {
                    names.insert(name.to_owned());
                }
            }
        }
    }
    names
}

#[test]
fn the_environment_reference_names_every_variable_the_source_reads() {
    let page = read(&root().join("docs/reference/environment.md"));
    let names = env_vars_in_source();
    for expected in ["PROVISIONING_KEYRING", "HOME", "NO_COLOR", "DOCKER_CONFIG"] {
        assert!(
            names.contains(expected),
            "the scan missed {expected}: {names:?}"
        );
    }
    let overrides = config_keys()
        .into_iter()
        .map(|key| format!("PROVISIONING_{}", key.replace('.', "_").to_uppercase()));
    let missing: Vec<String> = names
        .into_iter()
        .chain(overrides)
        .filter(|name| !page.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "environment variables missing from docs/reference/environment.md: {missing:?}"
    );
}

/// The variable names of the man page's ENVIRONMENT section (`src/commands/man.rs`'s list), as
/// `provisioning man` prints them: each term's names, split at `, `.
fn env_vars_in_man_page() -> Vec<String> {
    let output = std::process::Command::new(crate::common::BIN)
        .arg("man")
        .output()
        .expect("`provisioning man` runs");
    assert!(output.status.success(), "{output:?}");
    let page = String::from_utf8(output.stdout).expect("the page is UTF-8");
    let section = page
        .split(".SH ENVIRONMENT\n")
        .nth(1)
        .expect("the page has an ENVIRONMENT section");
    let section = section.split("\n.SH ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("\\fB")?.strip_suffix("\\fR"))
        .flat_map(|term| term.split(", "))
        .map(str::to_owned)
        .collect()
}

/// The man pages' ENVIRONMENT section is generated from one list in the code: the reference
/// page explains every entry of it, and it names every variable the source reads (the
/// configuration keys' variables as the one `PROVISIONING_<SECTION>_<KEY>` line).
#[test]
fn the_man_pages_environment_lists_every_variable_and_the_reference_explains_each() {
    let listed = env_vars_in_man_page();
    for expected in [
        "PROVISIONING_KEYRING",
        "PROVISIONING_<SECTION>_<KEY>",
        "NETRC",
    ] {
        assert!(
            listed.iter().any(|name| name == expected),
            "the ENVIRONMENT section lacks {expected}: {listed:?}"
        );
    }
    let page = read(&root().join("docs/reference/environment.md"));
    let unexplained: Vec<&String> = listed
        .iter()
        .filter(|name| !page.contains(&format!("`{name}`")))
        .collect();
    assert!(
        unexplained.is_empty(),
        "in the man pages' ENVIRONMENT but not in docs/reference/environment.md: {unexplained:?}"
    );
    let overrides: BTreeSet<String> = config_keys()
        .into_iter()
        .map(|key| format!("PROVISIONING_{}", key.replace('.', "_").to_uppercase()))
        .collect();
    let unlisted: Vec<String> = env_vars_in_source()
        .into_iter()
        .filter(|name| !overrides.contains(name) && !listed.contains(name))
        .collect();
    assert!(
        unlisted.is_empty(),
        "read by the source but not in the man pages' ENVIRONMENT (src/commands/man.rs): {unlisted:?}"
    );
}

#[test]
fn the_docs_index_lists_every_page() {
    let docs = root().join("docs");
    let index = read(&docs.join("README.md"));
    let unlisted: Vec<String> = files(&docs, ".md")
        .into_iter()
        .map(|path| {
            path.strip_prefix(&docs)
                .expect("under docs")
                .to_string_lossy()
                .into_owned()
        })
        .filter(|page| page != "README.md" && !page.starts_with("bench/"))
        .filter(|page| !index.contains(&format!("]({page})")))
        .collect();
    assert!(
        unlisted.is_empty(),
        "pages docs/README.md does not list: {unlisted:?}"
    );
}

/// GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut found = BTreeSet::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// The targets of the inline links `[text](target)` of a markdown text, outside code blocks.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut in_code = false;
    let mut targets = Vec::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        for (start, _) in line.match_indices("](") {
            let rest = &line[start + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_owned());
            }
        }
    }
    targets
}

#[test]
fn every_relative_link_in_the_readme_and_the_docs_leads_somewhere() {
    let mut pages = files(&root().join("docs"), ".md");
    pages.push(root().join("README.md"));
    let mut broken = Vec::new();
    for page in &pages {
        let text = read(page);
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() {
                page.clone()
            } else {
                page.parent().expect("dir").join(file)
            };
            let name = page.strip_prefix(root()).expect("in the repo").display();
            if !path.exists() {
                broken.push(format!("{name}: {target} (no such file)"));
            } else if !fragment.is_empty()
                && path.extension().is_some_and(|e| e == "md")
                && !anchors(&read(&path)).contains(fragment)
            {
                broken.push(format!("{name}: {target} (no such heading)"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
