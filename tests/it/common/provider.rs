//! A provider built on disk with given files, version and dependencies.

use std::path::PathBuf;

use super::TestContext;

impl TestContext {
    /// Starts a provider with a valid manifest and `main.ncl`.
    pub fn provider(&self, name: &str) -> ProviderBuilder<'_> {
        ProviderBuilder {
            context: self,
            name: name.to_owned(),
            version: "0.0.1".to_owned(),
            description: format!("The {name} provider"),
            dependencies: Vec::new(),
            capabilities: String::new(),
            manifest: true,
            files: vec![(
                "main.ncl".to_owned(),
                format!("{{ provider = \"{name}\", size | Number = 1 }}\n"),
            )],
        }
    }
}

pub struct ProviderBuilder<'a> {
    context: &'a TestContext,
    name: String,
    version: String,
    description: String,
    files: Vec<(String, String)>,
    dependencies: Vec<(String, String)>,
    capabilities: String,
    /// Whether it has a `manifest.toml` (else `Nickel-pkg.ncl` describes it).
    manifest: bool,
}

impl ProviderBuilder<'_> {
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_owned();
        self
    }

    /// Declares a dependency: `module = "requirement"` under `[dependencies]`.
    pub fn dependency(mut self, module: &str, requirement: &str) -> Self {
        self.dependencies
            .push((module.to_owned(), requirement.to_owned()));
        self
    }

    /// Declares `[capabilities] provides` and `requires`.
    pub fn capabilities(mut self, provides: &[&str], requires: &[&str]) -> Self {
        self.capabilities =
            format!("\n[capabilities]\nprovides = {provides:?}\nrequires = {requires:?}\n");
        self
    }

    /// Describes it by `Nickel-pkg.ncl` alone: `contents` is written there, and no
    /// `manifest.toml` (its version, description and dependencies are ignored).
    pub fn nickel_pkg_only(mut self, contents: &str) -> Self {
        self.manifest = false;
        self.file("Nickel-pkg.ncl", contents)
    }

    /// Adds or replaces a file of the provider's `nickel/` package.
    pub fn file(mut self, name: &str, contents: &str) -> Self {
        self.files.retain(|(existing, _)| existing != name);
        self.files.push((name.to_owned(), contents.to_owned()));
        self
    }

    pub fn create(self) -> PathBuf {
        let dir = self
            .context
            .path(&format!("extensions/providers/{}/nickel", self.name));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut manifest = format!(
            "[package]\nname = \"{}_prov\"\nversion = \"{}\"\ndescription = \"{}\"\n",
            self.name, self.version, self.description
        );
        if !self.dependencies.is_empty() {
            manifest.push_str("\n[dependencies]\n");
            for (module, requirement) in &self.dependencies {
                manifest.push_str(&format!("{module} = \"{requirement}\"\n"));
            }
        }
        manifest.push_str(&self.capabilities);
        if self.manifest {
            std::fs::write(dir.join("manifest.toml"), manifest).expect("write manifest");
        }
        for (name, contents) in &self.files {
            std::fs::write(dir.join(name), contents).expect("write file");
        }
        dir
    }
}
