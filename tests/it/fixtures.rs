//! Shared fixtures of released modules: "the examples released into a registry holding signed
//! packs", "a teammate who trusts the release key" and "an infra that pins one of them", one
//! line each in a test.
//!
//! The steps are builder methods on [`TestContext`] that take the base and give it back, so a
//! test states its starting point as one chain:
//! `TestContext::examples().signed().packed(&["core", "providers"]).installed("wuji", &["aws@1.0.0"])`.
//! Each step runs the real command and fails the test if it does not succeed.

use crate::common::{Run, TestContext};

impl TestContext {
    /// The example base released: a signing key, and the core schemas and every provider,
    /// taskserv and cluster packed and signed into the local registry.
    pub fn released() -> Self {
        Self::examples()
            .signed()
            .packed(&["core", "providers", "taskservs", "clusters"])
    }

    /// [`TestContext::released`] with the infra `lab`: the taskserv `kubernetes` linked, and
    /// `containerd` (linked first, then switched) pinned as its signed pack 0.1.0.
    pub fn released_and_pinned() -> Self {
        Self::released()
            .initialized("lab", "taskservs", &["kubernetes", "containerd"])
            .pinned("lab", "taskservs", &["containerd@0.1.0"])
    }

    /// `keys generate`: the base has a signing key of its own.
    pub fn signed(self) -> Self {
        self.run(["keys", "generate"]).success();
        self
    }

    /// `pack <what>` for each: `"core"`, `"providers"`, `"provider aws"`,
    /// `"provider local --version 0.9.0"`.
    pub fn packed(self, what: &[&str]) -> Self {
        for command in what {
            self.run(std::iter::once("pack").chain(command.split_whitespace()))
                .success();
        }
        self
    }

    /// `providers install <provider> <infra>` for each: `"upcloud"` links it, `"aws@1.0.0"`
    /// installs that version's pack.
    pub fn installed(self, infra: &str, providers: &[&str]) -> Self {
        for provider in providers {
            let mut args = vec!["providers", "install"];
            match provider.split_once('@') {
                Some((name, version)) => args.extend([name, infra, "--version", version]),
                None => args.extend([provider, infra]),
            }
            self.run(args).success();
        }
        self
    }

    /// `module-loader init <infra> --<kind> <modules>`: the infra with those modules linked.
    pub fn initialized(self, infra: &str, kind: &str, modules: &[&str]) -> Self {
        let flag = format!("--{kind}");
        let modules = modules.join(",");
        self.run([
            "module-loader",
            "init",
            infra,
            flag.as_str(),
            modules.as_str(),
        ])
        .success();
        self
    }

    /// `module-loader load <kind> <infra> <modules>`: those modules linked into the infra.
    pub fn loaded(self, infra: &str, kind: &str, modules: &[&str]) -> Self {
        self.run(["module-loader", "load", kind, infra].iter().chain(modules))
            .success();
        self
    }

    /// `module-loader load <kind> <infra> <module> --version <version>` for each `module@version`:
    /// the infra pins those packs.
    pub fn pinned(self, infra: &str, kind: &str, modules: &[&str]) -> Self {
        for pin in modules {
            let (module, version) = pin.split_once('@').expect("module@version");
            self.run([
                "module-loader",
                "load",
                kind,
                infra,
                module,
                "--version",
                version,
            ])
            .success();
        }
        self
    }

    /// The example base written in the path form (`import "upcloud_prov/main.ncl"`), as before
    /// Nickel packages: the infra `wuji` and the providers that import the core schemas, which
    /// a plain `nickel` evaluates with the import path `env` prints. A link sees the change.
    pub fn in_path_form(self) -> Self {
        for file in [
            "workspace/infra/wuji/main.ncl",
            "extensions/providers/upcloud/nickel/contracts.ncl",
            "extensions/providers/aws/nickel/contracts.ncl",
        ] {
            let package_form = self.read(file);
            let path_form = ["upcloud_prov", "aws_prov", "provisioning_core"]
                .iter()
                .fold(package_form.clone(), |text, module| {
                    text.replace(
                        &format!("import {module} in"),
                        &format!("import \"{module}/main.ncl\" in"),
                    )
                });
            assert_ne!(path_form, package_form, "`{file}` is in the package form");
            self.write(file, &path_form);
        }
        self
    }

    /// `keys trust` of the release engineer's public key: a teammate who installs what
    /// `releaser` signed.
    pub fn trusting(self, releaser: &TestContext) -> Self {
        self.write("release.pub", &releaser.public_key());
        self.run(["keys", "trust", "release.pub"]).success();
        self
    }

    /// The public key of the base's signing key (`keys public`), as a `.pub` file holds it.
    pub fn public_key(&self) -> String {
        let run = self.run(["keys", "public"]);
        run.success();
        run.stdout
    }

    /// Runs the binary; the id of the signing key reads `[KEY]`.
    pub fn run_keyed<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let key = self.key_id();
        let output = self
            .command()
            .args(args)
            .output()
            .expect("run provisioning");
        Run::from_output(output, &self.base, &[(key.as_str(), "[KEY]")])
    }
}
