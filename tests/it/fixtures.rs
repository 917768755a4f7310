//! Shared fixtures of released modules: "the examples released into a registry holding signed
//! packs" and "an infra that pins one of them", one line each in a test.

use crate::common::{Run, TestContext};

impl TestContext {
    /// The example base released: a signing key, and the core schemas and every provider,
    /// taskserv and cluster packed and signed into the local registry.
    pub fn released() -> Self {
        let context = Self::examples();
        for args in [
            &["keys", "generate"][..],
            &["pack", "core"],
            &["pack", "providers"],
            &["pack", "taskservs"],
            &["pack", "clusters"],
        ] {
            context.run(args).success();
        }
        context
    }

    /// [`TestContext::released`] with the infra `lab`: the taskserv `kubernetes` linked, and
    /// `containerd` (linked first, then switched) pinned as its signed pack 0.1.0.
    pub fn released_and_pinned() -> Self {
        let context = Self::released();
        context
            .run([
                "module-loader",
                "init",
                "lab",
                "--taskservs",
                "kubernetes,containerd",
            ])
            .success();
        context
            .run([
                "module-loader",
                "load",
                "taskservs",
                "lab",
                "containerd",
                "--version",
                "0.1.0",
            ])
            .success();
        context
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
