//! Package imports, `import upcloud_prov`: Nickel's package map as this tool builds it, and the
//! bare imports a file holds.
//!
//! Nickel (since 1.12) resolves `import <name>` through a package map: the evaluated file sees
//! the map's top level, and a package's `main.ncl` sees the names that package declared
//! (package-local). [`Packages`] is that map as data (serializable, for the worker; hashable,
//! for the evaluator it selects); [`Packages::to_map`] makes `nickel-lang-core`'s of it. Who
//! builds it decides what the names are: an infra names every installed module, from its lock
//! (`crate::infra::packages`); `pack` names the catalog's modules in its import directory. The
//! names that are not declared are refused before evaluation, statically, as undeclared path
//! imports are ([`crate::dependencies::undeclared_imports`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nickel_lang_core::identifier::Ident;
use nickel_lang_core::package::PackageMap;
use serde::{Deserialize, Serialize};

/// What `import <name>` reaches: the package's directory, whose `main.ncl` Nickel loads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Packages {
    /// The names the evaluated file (and the files it imports by path) sees.
    pub top_level: BTreeMap<String, PathBuf>,
    /// The names each package sees, by the package's directory (as `top_level` spells it).
    pub scoped: BTreeMap<PathBuf, BTreeMap<String, PathBuf>>,
}

impl Packages {
    /// `name` reaches `dir` from the top level.
    pub fn add(&mut self, name: &str, dir: &Path) {
        self.top_level.insert(name.to_owned(), dir.to_owned());
    }

    /// Inside the package at `package`, `name` reaches `dir`.
    pub fn add_scoped(&mut self, package: &Path, name: &str, dir: &Path) {
        self.scoped
            .entry(package.to_owned())
            .or_default()
            .insert(name.to_owned(), dir.to_owned());
    }

    /// `nickel-lang-core`'s package map of it.
    pub fn to_map(&self) -> PackageMap {
        PackageMap {
            top_level: self
                .top_level
                .iter()
                .map(|(name, dir)| (Ident::new(name), dir.clone()))
                .collect(),
            packages: self
                .scoped
                .iter()
                .flat_map(|(package, names)| {
                    names
                        .iter()
                        .map(|(name, dir)| ((package.clone(), Ident::new(name)), dir.clone()))
                })
                .collect(),
        }
    }

    /// What stands for the map in the evaluation cache's key, after the import paths: one
    /// `package:<scope>:<name>=<dir>` line per entry (the scope empty for the top level).
    pub fn cache_key(&self) -> Vec<PathBuf> {
        let top = self
            .top_level
            .iter()
            .map(|(name, dir)| PathBuf::from(format!("package::{name}={}", dir.display())));
        let scoped = self.scoped.iter().flat_map(|(package, names)| {
            names.iter().map(move |(name, dir)| {
                PathBuf::from(format!(
                    "package:{}:{name}={}",
                    package.display(),
                    dir.display()
                ))
            })
        });
        top.chain(scoped).collect()
    }
}

/// Every bare `import <name>` in `text` (a package import), with its line. Comments are skipped;
/// `import "path"` is [`super::imports`]'s.
pub fn package_imports(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let code = code_of(line);
        let mut rest = code.as_str();
        while let Some(at) = rest.find("import") {
            let preceded = rest[..at]
                .chars()
                .last()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '-' && c != '\'');
            let after = &rest[at + "import".len()..];
            rest = after;
            let spaced = after.starts_with(char::is_whitespace);
            let name: String = after
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '\''))
                .collect();
            let starts_well = name.starts_with(|c: char| c.is_alphabetic() || c == '_');
            if preceded && spaced && starts_well {
                found.push((index + 1, name));
            }
        }
    }
    found
}

/// `line` as code: up to a `#` that is not inside a string, with what strings hold blanked.
fn code_of(line: &str) -> String {
    let mut code = String::with_capacity(line.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            _ if escaped => {
                escaped = false;
                code.push(' ');
            }
            '\\' if in_string => {
                escaped = true;
                code.push(' ');
            }
            '"' => {
                in_string = !in_string;
                code.push('"');
            }
            '#' if !in_string => break,
            _ if in_string => code.push(' '),
            other => code.push(other),
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_imports_are_found_with_their_lines_and_nothing_else() {
        let text = "let core = import provisioning_core in # import not_me\nlet a = import \"a.ncl\" in\n{ reimport = 1, s = \"import nor_me\", u = import upcloud_prov }";
        assert_eq!(
            package_imports(text),
            [
                (1, "provisioning_core".to_owned()),
                (3, "upcloud_prov".to_owned())
            ]
        );
    }

    #[test]
    fn the_cache_key_names_every_entry() {
        let mut packages = Packages::default();
        packages.add("a_prov", Path::new("/i/a_prov"));
        packages.add_scoped(Path::new("/i/a_prov"), "core", Path::new("/i/core"));
        assert_eq!(
            packages.cache_key(),
            [
                PathBuf::from("package::a_prov=/i/a_prov"),
                PathBuf::from("package:/i/a_prov:core=/i/core")
            ]
        );
    }
}
