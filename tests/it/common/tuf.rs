//! A registry's publisher in tests: the tool's own `registry tuf init | refresh | rotate` on a
//! release engineer's base, with the root key in a file of its own, and the metadata files kept
//! and put back (a replay).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::TestContext;

pub struct TufPublisher {
    distribution: PathBuf,
    /// The current root key's file.
    root_key: PathBuf,
    rotations: usize,
}

impl TufPublisher {
    /// `registry tuf init` in `releaser`'s base: the first metadata of its `distribution/`.
    pub fn init(releaser: &TestContext) -> Self {
        let root_key = releaser.path("root-key-0.pk8");
        releaser
            .run(
                ["registry", "tuf", "init", "--root-key-out"]
                    .iter()
                    .copied()
                    .chain([root_key.to_str().expect("path")]),
            )
            .success();
        Self {
            distribution: releaser.path("distribution"),
            root_key,
            rotations: 0,
        }
    }

    /// `registry tuf refresh`, with `PROVISIONING_TUF_TIMESTAMP_EXPIRY_SECS` when given.
    pub fn refresh(&self, releaser: &TestContext, timestamp_expiry_secs: Option<&str>) {
        let mut command = releaser.command();
        if let Some(secs) = timestamp_expiry_secs {
            command.env("PROVISIONING_TUF_TIMESTAMP_EXPIRY_SECS", secs);
        }
        let output = command
            .args(["registry", "tuf", "refresh"])
            .output()
            .expect("runs");
        assert!(output.status.success(), "{output:?}");
    }

    /// `registry tuf rotate <role>`: a new root version, signed by the current root key (and
    /// the new one for the root itself).
    pub fn rotate(&mut self, releaser: &TestContext, role: &str) {
        let root_key = self.root_key.to_str().expect("path").to_owned();
        let mut args = vec!["registry", "tuf", "rotate", role, "--root-key", &root_key];
        let new_root_key = releaser.path(&format!("root-key-{}.pk8", self.rotations + 1));
        let new_root_key_text = new_root_key.to_str().expect("path").to_owned();
        if role == "root" {
            args.extend(["--new-root-key-out", &new_root_key_text]);
        }
        releaser.run(args).success();
        if role == "root" {
            self.root_key = new_root_key;
            self.rotations += 1;
        }
    }

    /// The metadata files as they are now (to put back later: a replay).
    pub fn keep(&self) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(self.distribution.join("tuf"))
            .expect("tuf dir")
            .flatten()
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(entry.path()).expect("read"))
            })
            .collect()
    }

    /// Puts the `kept` files `names` back (the others stay).
    pub fn put_back(&self, kept: &BTreeMap<String, Vec<u8>>, names: &[&str]) {
        for name in names {
            std::fs::write(self.distribution.join("tuf").join(name), &kept[*name]).expect("write");
        }
    }
}
