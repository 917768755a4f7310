//! The README's commands, run as written, so the quick start cannot drift from the tool.

use std::path::{Path, PathBuf};

use crate::common::{BIN, TestContext};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// Every `sh` block of the README, in the README's order.
fn sh_blocks(readme: &str) -> Vec<String> {
    readme
        .split("```sh\n")
        .skip(1)
        .map(|rest| rest[..rest.find("```").expect("the block's end")].to_owned())
        .collect()
}

/// The blocks no test runs as written: the quick start (its first command has a test of its own,
/// below; its second is `scripts/test`, which runs this test) and the development commands
/// (the test suite, benchmarks and fault injection, each run on its own).
const NOT_RUN: [&str; 2] = [
    "cargo run -- --base examples providers validate wuji",
    "scripts/test                                  # all tests",
];

/// The README's install line. The test cannot run it (a release build of the whole tool, into
/// the user's `~/.cargo`): it puts the binary under test where that line would, in the
/// scratch home's `.cargo/bin`, the only place on `PATH` that has a `provisioning`.
const INSTALL: &str = "cargo install --locked --path .";

/// The blocks a reader runs, in order, as one shell session.
fn walk_through(readme: &str) -> String {
    let blocks: Vec<String> = sh_blocks(readme)
        .into_iter()
        .filter(|block| !NOT_RUN.iter().any(|first| block.starts_with(first)))
        .collect();
    assert!(blocks.len() >= 3, "{blocks:#?}");
    let script = blocks.concat();
    assert_eq!(script.matches(INSTALL).count(), 1, "{script}");
    script.replace(
        INSTALL,
        &format!("mkdir -p ~/.cargo/bin && ln -sf {BIN} ~/.cargo/bin/provisioning"),
    )
}

/// Runs `script` with `bash -euo pipefail` in the repository, with a home of its own, its
/// `~/.cargo/bin` on `PATH`, and `/tmp/base` replaced by a scratch directory.
fn run_in_bash(script: &str, scratch: &Path) -> std::process::Output {
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
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
                home.join(".cargo/bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .output()
        .expect("run bash")
}

/// The first quick-start command: `cargo run -- --base examples providers validate wuji`, on the
/// example base as committed (its links resolve on a fresh clone).
#[test]
fn the_quick_start_validates_the_committed_example() {
    let quick_start = sh_blocks(&readme()).remove(0);
    let commands: Vec<&str> = quick_start
        .lines()
        .map(|line| line.split(" #").next().unwrap_or(line).trim())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run -- --base examples providers validate wuji",
            "scripts/test"
        ],
        "the quick start is two commands on a fresh machine"
    );
    let context = TestContext::examples_as_committed();
    let run = context.run(["providers", "validate", "wuji"]);
    run.success();
    assert!(
        run.stderr
            .contains("Valid `wuji`: 6 modules and 4 Nickel files"),
        "{run}"
    );
}

/// The README's blocks, in a real shell, as the README orders them (install, walk-through,
/// completions and man pages) and as one session, twice: every block says it can be run again.
/// A line calling `provisioning` before the install line fails (nothing else on `PATH` has
/// it); a second `cp -r` once nested the copy, and `keys generate` failed on the key the first
/// run made, in the user's real config.
#[test]
fn the_readme_blocks_run_in_order_and_again() {
    let script = walk_through(&readme());
    assert!(
        script
            .lines()
            .filter(|l| l.starts_with("provisioning "))
            .count()
            >= 20,
        "{script}"
    );
    let scratch = tempfile::tempdir().expect("temp dir");
    for round in ["first", "second"] {
        let output = run_in_bash(&script, scratch.path());
        assert!(
            output.status.success(),
            "the README's blocks failed on their {round} run:\n{}\n{}",
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
    let home = scratch.path().join("home");
    assert!(
        !home.join(".config/provisioning").exists(),
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
    for file in [
        ".local/share/bash-completion/completions/provisioning",
        ".zfunc/_provisioning",
        ".config/fish/completions/provisioning.fish",
        ".local/share/man/man1/provisioning.1",
        ".local/share/man/man1/provisioning-providers-install.1",
        ".local/share/man/man1/provisioning-module-loader-load.1",
    ] {
        let size = std::fs::metadata(home.join(file)).map_or(0, |m| m.len());
        assert!(size > 0, "`{file}` was not written");
    }
}

/// The README says which walk-through lines cannot be repeated alone; they are the ones that
/// fail when repeated, after the walk-through.
#[test]
fn the_lines_the_readme_calls_unrepeatable_fail_when_repeated() {
    let readme = readme();
    let prose = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        prose.contains("`keys generate` refuses to replace the key it made")
            && prose.contains("`providers remove` fails when the provider is no longer installed"),
        "the README no longer names the lines that cannot be repeated"
    );
    let script = walk_through(&readme);
    let scratch = tempfile::tempdir().expect("temp dir");
    assert!(run_in_bash(&script, scratch.path()).status.success());
    for line in [
        "provisioning keys generate",
        "provisioning providers remove local homelab",
    ] {
        assert!(script.lines().any(|l| l.starts_with(line)), "{line}");
        let again =
            format!("cd /tmp/base && export PROVISIONING_KEYRING=/tmp/base/.keyring && {line}");
        let output = run_in_bash(&again, scratch.path());
        assert_eq!(output.status.code(), Some(1), "`{line}` repeated");
    }
}
