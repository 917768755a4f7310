//! The insta settings every snapshot reads with: what changes from run to run (key ids, temporary
//! paths, server addresses, digests) replaced by a placeholder, in one place instead of a
//! `.replace` in each test.
//!
//! A literal filter replaces only that exact text, so a snapshot keeps its strength: any other
//! text stays in the snapshot and is compared.

use insta::internals::SettingsBindDropGuard;

use super::TestContext;

/// insta filters for one base, built with [`TestContext::filters`] and bound to the test's scope
/// with [`Filters::bind`].
pub struct Filters {
    settings: insta::Settings,
}

impl TestContext {
    /// Filters for this base: the id of its first trusted key reads `[KEY]` (none before
    /// `keys generate` or `keys trust`), its base directory `[BASE]` and the temporary directory
    /// around it `[TEMP]`.
    pub fn filters(&self) -> Filters {
        let mut filters = Filters {
            settings: insta::Settings::clone_current(),
        };
        filters = filters.literal(&self.base.display().to_string(), "[BASE]");
        let temp = self.base.parent().expect("temp root");
        filters = filters.literal(&temp.display().to_string(), "[TEMP]");
        let keys = self.run(["keys", "list", "--format", "json"]);
        let keys: serde_json::Value = serde_json::from_str(&keys.stdout).unwrap_or_default();
        if let Some(key) = keys[0]["key_id"].as_str() {
            filters = filters.literal(key, "[KEY]");
        }
        filters
    }
}

impl Filters {
    /// `text`, exactly, reads `placeholder`.
    pub fn literal(mut self, text: &str, placeholder: &str) -> Self {
        self.settings.add_filter(&escape(text), placeholder);
        self
    }

    /// Every hex SHA-256 (64 digits) reads `[SHA256]`.
    pub fn sha256(mut self) -> Self {
        self.settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
        self
    }

    /// Every TUF key id, whole (64 hex digits) or as status lines shorten it (16), reads
    /// `[KEY ID]`: they are new at every `registry tuf init`.
    pub fn tuf_key_ids(mut self) -> Self {
        self.settings
            .add_filter(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{16}\b", "[KEY ID]");
        self
    }

    /// Every short SHA-256 as messages print it (`sha256 2fac80784304`) reads `sha256 [SHORT]`.
    pub fn short_sha256(mut self) -> Self {
        self.settings
            .add_filter(r"\bsha256 [0-9a-f]{12}\b", "sha256 [SHORT]");
        self
    }

    /// Applies the filters to every snapshot until the guard drops (the end of the test).
    #[must_use = "the filters apply while the guard lives"]
    pub fn bind(self) -> SettingsBindDropGuard {
        self.settings.bind_to_scope()
    }
}

/// `text` as a regular expression that matches it exactly.
fn escape(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(character) {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern
}
