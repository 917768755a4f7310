//! The sandbox every integration test runs in: a provisioning base in a temporary directory,
//! built from fixture builders, and the real binary run against it.

mod archive;
mod assertions;
mod process;
mod provider;
mod servers;
mod snapshot;
pub mod tuf;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use archive::{archive_file, artifact_file, inspect_archive, sha256_file};
pub use process::{assert_success, nickel_cli, output_within};
// No test names the builder's type today; the path stays as it was before the split.
#[allow(unused_imports)]
pub use provider::ProviderBuilder;
pub use servers::{HostileRegistry, RegistryServer, StaticServer};

pub const BIN: &str = env!("CARGO_BIN_EXE_provisioning");

/// A provisioning base in a temporary directory.
pub struct TestContext {
    _temp: tempfile::TempDir,
    /// The base directory, canonical (so paths in output are stable to filter).
    pub base: PathBuf,
}

impl TestContext {
    /// An empty base: `extensions/providers/` and `workspace/infra/`.
    pub fn new() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let base = temp
            .path()
            .canonicalize()
            .expect("canonical temp dir")
            .join("base");
        std::fs::create_dir_all(base.join("extensions/providers")).expect("mkdir");
        std::fs::create_dir_all(base.join("workspace/infra")).expect("mkdir");
        Self { _temp: temp, base }
    }

    /// A copy of the repository's `examples/` base exactly as committed (`wuji` has `upcloud`,
    /// `aws`, the `kubernetes` and `containerd` taskservs and the `web` cluster linked).
    pub fn examples_as_committed() -> Self {
        let context = Self::new();
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
            &context.base,
        );
        // What the quick start leaves in `examples/` (git ignores it: the evaluation cache,
        // packs tried there) is not the committed base.
        let _ = std::fs::remove_dir_all(context.base.join("distribution"));
        context
    }

    /// A copy of the repository's `examples/` base, with no provider installed.
    pub fn examples() -> Self {
        let context = Self::examples_as_committed();
        for infra in ["wuji", "homelab"] {
            let dir = context.base.join("workspace/infra").join(infra);
            let _ = std::fs::remove_dir_all(dir.join(".nickel-modules"));
            let _ = std::fs::remove_file(dir.join("providers.manifest.yaml"));
            for generated in ["providers.ncl", "taskservs.ncl", "clusters.ncl"] {
                let _ = std::fs::remove_file(dir.join(generated));
            }
        }
        std::fs::write(
            context.base.join("workspace/infra/wuji/manifest.toml"),
            "# The wuji infrastructure: web servers on UpCloud, a database on AWS.\n[package]\nname = \"wuji\"\nversion = \"0.1.0\"\n",
        )
        .expect("reset manifest");
        context
    }

    /// The example base with `upcloud` and `aws` linked into `wuji`, as the repository has it.
    pub fn examples_installed() -> Self {
        let context = Self::examples();
        for provider in ["upcloud", "aws"] {
            context
                .run(["providers", "install", provider, "wuji"])
                .success();
        }
        context
    }

    /// The id of the first trusted key (after `keys generate`: the user's own).
    pub fn key_id(&self) -> String {
        let run = self.run(["keys", "list", "--format", "json"]);
        let keys: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
        keys[0]["key_id"].as_str().expect("a key").to_owned()
    }

    /// Unpacks `distribution/packages/<artifact>` into the infra's `vendor/` with the real
    /// `tar`, as the guide's migration does by hand.
    pub fn untar_into_vendor(&self, infra: &str, artifact: &str) {
        let dir = self.path(&format!("workspace/infra/{infra}"));
        std::fs::create_dir_all(dir.join("vendor")).expect("mkdir");
        let untar = Command::new("tar")
            .arg("-xf")
            .arg(self.path("distribution/packages").join(artifact))
            .args(["-C", "vendor/"])
            .current_dir(&dir)
            .status()
            .expect("tar");
        assert!(untar.success(), "tar -xf {artifact}");
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.base.join(relative)
    }

    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative))
            .unwrap_or_else(|e| panic!("read {relative}: {e}"))
    }

    /// Creates an infra directory with a minimal `manifest.toml`.
    pub fn infra(&self, name: &str) -> PathBuf {
        let dir = self.path(&format!("workspace/infra/{name}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("manifest.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n"),
        )
        .expect("write manifest");
        dir
    }

    /// A command for the binary, run in the base with a clean environment.
    pub fn command(&self) -> Command {
        self.command_under(&[])
    }

    /// [`TestContext::command`] run by another program: `wrapper` is its command line before
    /// the binary (`["strace", "-f", "-o", "trace"]`); empty runs the binary itself.
    pub fn command_under(&self, wrapper: &[&str]) -> Command {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(BIN);
                command
            }
            None => Command::new(BIN),
        };
        command
            .current_dir(&self.base)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.base.parent().expect("temp root"))
            .env("NO_COLOR", "1")
            // Registry metadata records creation times; fix the clock for stable snapshots.
            .env("SOURCE_DATE_EPOCH", "1764115200");
        command
    }

    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let output = self
            .command()
            .args(args)
            .output()
            .expect("run provisioning");
        Run::new(output, &self.base)
    }

    /// Starts every command at once, waits for all, and returns their runs in order.
    pub fn run_concurrently(&self, commands: &[Vec<String>]) -> Vec<Run> {
        let children: Vec<_> = commands
            .iter()
            .map(|args| {
                self.command()
                    .args(args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        children
            .into_iter()
            .map(|child| Run::new(child.wait_with_output().expect("wait"), &self.base))
            .collect()
    }

    /// Every file, directory and link under `relative`, with link targets and file contents,
    /// for snapshotting what a command wrote (and proving what it did not).
    pub fn tree(&self, relative: &str) -> String {
        let root = self.path(relative);
        let mut out = String::new();
        let mut paths = Vec::new();
        collect(&root, &root, &mut paths);
        paths.sort();
        for relative_path in paths {
            let path = root.join(&relative_path);
            let metadata = std::fs::symlink_metadata(&path).expect("metadata");
            if metadata.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("read link");
                let _ = writeln!(out, "{relative_path} -> {}", target.display());
            } else if metadata.is_dir() {
                let _ = writeln!(out, "{relative_path}/");
            } else {
                let contents = std::fs::read_to_string(&path).unwrap_or_else(|_| "<binary>".into());
                let _ = writeln!(out, "{relative_path}:");
                for line in contents.lines() {
                    let _ = writeln!(out, "  | {line}");
                }
            }
        }
        out
    }
}

fn collect(root: &Path, dir: &Path, paths: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .expect("under root")
            .display()
            .to_string();
        let is_real_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        paths.push(relative);
        if is_real_dir {
            collect(root, &path, paths);
        }
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        let file_type = entry.file_type().expect("file type");
        if file_type.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("read link");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else if file_type.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The outcome of one run, rendered for snapshots with the base path filtered out.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn new(output: Output, base: &Path) -> Self {
        Self::from_output(output, base, &[])
    }

    /// Filters the base path, and each `(text, placeholder)` pair, out of the output.
    pub fn from_output(output: Output, base: &Path, filters: &[(&str, &str)]) -> Self {
        let filter = |bytes: &[u8]| {
            let mut text =
                String::from_utf8_lossy(bytes).replace(&base.display().to_string(), "[BASE]");
            for (from, to) in filters {
                text = text.replace(from, to);
            }
            text
        };
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: filter(&output.stdout),
            stderr: filter(&output.stderr),
        }
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success:\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "exit: {}", self.code)?;
        writeln!(f, "--- stdout")?;
        write!(f, "{}", self.stdout)?;
        writeln!(f, "--- stderr")?;
        write!(f, "{}", self.stderr)
    }
}
