//! The README's commands, run as written, so the quick start cannot drift from the tool.

use std::path::{Path, PathBuf};

use crate::common::{BIN, TestContext};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The `sh` block of the README that starts with `first_line`.
fn block(readme: &str, first_line: &str) -> String {
    let start = readme.find(first_line).expect("the block");
    let end = readme[start..].find("```").expect("its end");
    readme[start..start + end].to_owned()
}

/// Runs `script` with `bash -eu` in the repository, `provisioning` on `PATH`, a home of its own
/// and `/tmp/base` replaced by a scratch directory.
fn run_in_bash(script: &str, scratch: &Path) -> std::process::Output {
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let link = bin.join("provisioning");
    if !link.exists() {
        std::os::unix::fs::symlink(BIN, &link).expect("link the binary");
    }
    let base = scratch.join("base");
    let script = script.replace("/tmp/base", &base.display().to_string());
    std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", scratch.join("home"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run bash")
}

/// The first quick-start command: `cargo run -- --base examples providers validate wuji`, on the
/// example base as committed (its links resolve on a fresh clone).
#[test]
fn the_quick_start_validates_the_committed_example() {
    assert!(readme().contains("cargo run -- --base examples providers validate wuji"));
    let context = TestContext::examples_as_committed();
    let run = context.run(["providers", "validate", "wuji"]);
    run.success();
    assert!(
        run.stderr
            .contains("Valid `wuji`: 6 modules and 4 Nickel files"),
        "{run}"
    );
}

/// The walk-through, in a real shell, exactly as written: twice, because every block of the
/// README must be rerunnable (a second `cp -r` once nested the copy, and `keys generate` failed
/// on the key the first run made, in the user's real config).
#[test]
fn the_walk_through_runs_as_written_and_again() {
    let script = block(
        &readme(),
        "rm -rf /tmp/base && cp -r examples /tmp/base && cd /tmp/base\n",
    );
    assert!(
        script
            .lines()
            .filter(|l| l.starts_with("provisioning "))
            .count()
            >= 15,
        "{script}"
    );
    let scratch = tempfile::tempdir().expect("temp dir");
    for round in ["first", "second"] {
        let output = run_in_bash(&script, scratch.path());
        assert!(
            output.status.success(),
            "the walk-through failed on its {round} run:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let base: PathBuf = scratch.path().join("base");
    assert!(
        !base.join("base").exists(),
        "the second copy nested the first"
    );
    let lock = std::fs::read_to_string(base.join("workspace/infra/wuji/providers.manifest.yaml"))
        .expect("lock");
    assert!(lock.contains("mode: pack"), "{lock}");
    assert!(
        base.join(".keyring/keys").is_dir(),
        "the key went into the scratch keyring"
    );
    assert!(
        !scratch.path().join("home/.config/provisioning").exists(),
        "the walk-through wrote into the user's config"
    );
    // `remove` of homelab's only provider left it as committed.
    let homelab = base.join("workspace/infra/homelab");
    let mut entries: Vec<String> = std::fs::read_dir(&homelab)
        .expect("homelab")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["manifest.toml"]);
    assert_eq!(
        std::fs::read_to_string(homelab.join("manifest.toml")).expect("manifest"),
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/workspace/infra/homelab/manifest.toml")
        )
        .expect("committed manifest")
    );
}

/// The completions and man pages block, as written, into a home of its own.
#[test]
fn the_completions_and_man_pages_block_runs_as_written() {
    let script = block(
        &readme(),
        "mkdir -p ~/.local/share/bash-completion/completions ~/.zfunc ~/.config/fish/completions\n",
    );
    let scratch = tempfile::tempdir().expect("temp dir");
    for round in ["first", "second"] {
        let output = run_in_bash(&script, scratch.path());
        assert!(
            output.status.success(),
            "the block failed on its {round} run:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let home = scratch.path().join("home");
    for file in [
        ".local/share/bash-completion/completions/provisioning",
        ".zfunc/_provisioning",
        ".config/fish/completions/provisioning.fish",
        ".local/share/man/man1/provisioning.1",
        ".local/share/man/man1/provisioning-providers-install.1",
        ".local/share/man/man1/provisioning-module-loader-load.1",
    ] {
        let path = home.join(file);
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        assert!(size > 0, "`{file}` was not written");
    }
}
