//! A trusted key's scope: the modules it may sign (`keys trust KEY --for 'aws_*'`). A key
//! trusted without a scope signs every module, as before scopes existed.
//!
//! The scope lives beside the key's `.pub` file, in `<stem>.scope.toml` (the user's
//! `trusted/<KEY ID>.scope.toml`, written by `keys trust`; a base's
//! `config/trusted-keys/<name>.scope.toml`, written by hand and committed), so that a person
//! reads it and git shows who widened it:
//!
//! ```toml
//! # The modules key E255C139D0B6CF9D may sign (`provisioning keys trust ... --for`).
//! modules = ["aws_*", "provisioning_core"]
//! ```
//!
//! This module parses and renders scopes and matches module names; the keyring reads and
//! writes the files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::KeyId;
use crate::names::ModuleName;

/// What follows a key file's stem to name its scope file.
const SCOPE_SUFFIX: &str = ".scope.toml";

/// A glob over module names: `*` stands for any characters (none too), `?` for one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModulePattern(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a module pattern: expected a module name in which `*` stands for any characters and `?` for one (`aws_*`, `provisioning_core`)"
)]
pub struct ModulePatternError {
    text: String,
}

impl std::str::FromStr for ModulePattern {
    type Err = ModulePatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*?".contains(&b));
        valid
            .then(|| Self(text.to_owned()))
            .ok_or_else(|| ModulePatternError {
                text: text.to_owned(),
            })
    }
}

impl std::fmt::Display for ModulePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ModulePattern {
    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        glob_matches(self.0.as_bytes(), name.as_bytes())
    }

    fn is_everything(&self) -> bool {
        self.0.bytes().all(|b| b == b'*')
    }
}

/// `*` and `?` over bytes (patterns and module names are ASCII), iteratively: the last `*`
/// seen is where a mismatch backtracks to, so no input makes it slow.
fn glob_matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p, n));
                p += 1;
            }
            Some(&b) if b == b'?' || b == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match backtrack {
                Some((star, from)) => {
                    p = star + 1;
                    n = from + 1;
                    backtrack = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// The modules a trusted key may sign.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KeyScope {
    /// Every module: a key trusted without `--for` (or with `--for '*'`).
    #[default]
    Every,
    /// The modules matching one of these patterns.
    Only(BTreeSet<ModulePattern>),
}

impl KeyScope {
    /// The scope `--for` gives: every module when no pattern is given or one is `*`.
    pub fn of(patterns: impl IntoIterator<Item = ModulePattern>) -> Self {
        let patterns: BTreeSet<ModulePattern> = patterns.into_iter().collect();
        if patterns.is_empty() || patterns.iter().any(ModulePattern::is_everything) {
            KeyScope::Every
        } else {
            KeyScope::Only(patterns)
        }
    }

    /// Whether a key of this scope may sign `module`.
    pub fn allows(&self, module: &ModuleName) -> bool {
        match self {
            KeyScope::Every => true,
            KeyScope::Only(patterns) => patterns
                .iter()
                .any(|pattern| pattern.matches(module.as_str())),
        }
    }

    /// The patterns, as `keys list --format json` gives them: `["*"]` for every module.
    pub fn patterns(&self) -> Vec<String> {
        match self {
            KeyScope::Every => vec!["*".to_owned()],
            KeyScope::Only(patterns) => patterns.iter().map(ToString::to_string).collect(),
        }
    }

    /// The `--for` options that give this scope widened to `module`: a refusal's hint.
    pub fn widened_to(&self, module: &ModuleName) -> String {
        let mut options: Vec<String> = match self {
            KeyScope::Every => Vec::new(),
            KeyScope::Only(patterns) => patterns
                .iter()
                .map(|pattern| format!("--for '{pattern}'"))
                .collect(),
        };
        options.push(format!("--for '{module}'"));
        options.join(" ")
    }
}

/// `every module`, or the patterns in backticks: `` `aws_*`, `provisioning_core` ``.
impl std::fmt::Display for KeyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyScope::Every => f.write_str("every module"),
            KeyScope::Only(patterns) => {
                let each: Vec<String> = patterns
                    .iter()
                    .map(|pattern| format!("`{pattern}`"))
                    .collect();
                f.write_str(&each.join(", "))
            }
        }
    }
}

/// The scope file of the key in `key_path`: `<stem>.scope.toml` beside it.
pub fn scope_path(key_path: &Path) -> PathBuf {
    let stem = key_path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    key_path.with_file_name(format!("{stem}{SCOPE_SUFFIX}"))
}

/// A scope file as written.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeFile {
    modules: Vec<String>,
}

/// Parses a scope file's text; the message says what is wrong (and, from TOML, where).
pub fn parse(text: &str) -> Result<KeyScope, String> {
    let file: ScopeFile = toml::from_str(text)
        .map_err(|error| crate::text::located(text, error.message(), error.span()))?;
    if file.modules.is_empty() {
        return Err(
            "`modules` is empty: a key trusted for no module is not trusted; delete the key instead"
                .to_owned(),
        );
    }
    let patterns = file
        .modules
        .iter()
        .map(|text| text.parse::<ModulePattern>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| error.to_string())?;
    Ok(KeyScope::of(patterns))
}

/// The scope file's text for `key_id` limited to `scope`; none for every module (no file).
pub fn render(key_id: KeyId, scope: &KeyScope) -> Option<String> {
    let KeyScope::Only(patterns) = scope else {
        return None;
    };
    let modules: Vec<String> = patterns
        .iter()
        .map(|pattern| format!("\"{pattern}\""))
        .collect();
    Some(format!(
        "# The modules key {key_id} may sign (`provisioning keys trust ... --for`).\nmodules = [{}]\n",
        modules.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> ModulePattern {
        text.parse().expect("a pattern")
    }

    #[test]
    fn patterns_match_whole_module_names() {
        let cases = [
            ("aws_*", "aws_prov", true),
            ("aws_*", "aws_", true),
            ("aws_*", "xaws_prov", false),
            ("*_prov", "upcloud_prov", true),
            ("*_prov", "provisioning_core", false),
            ("?ws_prov", "aws_prov", true),
            ("?ws_prov", "ws_prov", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("provisioning_core", "provisioning_core", true),
            ("provisioning_core", "provisioning_cores", false),
            ("*", "anything", true),
            ("**", "", true),
        ];
        for (glob, name, expected) in cases {
            assert_eq!(
                pattern(glob).matches(name),
                expected,
                "{glob} against {name}"
            );
        }
    }

    #[test]
    fn a_pattern_has_only_module_name_characters_and_wildcards() {
        for bad in ["", "AWS_*", "aws prov", "aws/*", "[ab]*"] {
            assert!(bad.parse::<ModulePattern>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_star_alone_or_no_pattern_is_every_module() {
        assert_eq!(KeyScope::of([]), KeyScope::Every);
        assert_eq!(
            KeyScope::of([pattern("aws_*"), pattern("*")]),
            KeyScope::Every
        );
        let scope = KeyScope::of([pattern("aws_*")]);
        assert!(scope.allows(&"aws_prov".parse().expect("module")));
        assert!(!scope.allows(&"upcloud_prov".parse().expect("module")));
    }

    #[test]
    fn a_rendered_scope_parses_back() {
        let scope = KeyScope::of([pattern("aws_*"), pattern("provisioning_core")]);
        let key_id: KeyId = "E255C139D0B6CF9D".parse().expect("key id");
        let text = render(key_id, &scope).expect("a file");
        assert_eq!(parse(&text), Ok(scope));
        assert_eq!(render(key_id, &KeyScope::Every), None);
    }

    #[test]
    fn a_malformed_scope_says_what_is_wrong() {
        assert!(parse("modules = []").is_err_and(|e| e.contains("`modules` is empty")));
        assert!(parse("modules = [\"AWS\"]").is_err_and(|e| e.contains("`AWS` is not a module")));
        assert!(parse("module = [\"aws_*\"]").is_err_and(|e| e.contains("unknown field")));
        assert!(parse("modules = [").is_err_and(|e| e.starts_with("line 1, column 12: ")));
    }

    #[test]
    fn the_scope_file_sits_beside_the_key() {
        assert_eq!(
            scope_path(Path::new("/k/trusted/E255C139D0B6CF9D.pub")),
            Path::new("/k/trusted/E255C139D0B6CF9D.scope.toml")
        );
        assert_eq!(
            scope_path(Path::new("config/trusted-keys/alice.pub")),
            Path::new("config/trusted-keys/alice.scope.toml")
        );
    }
}
