//! The publisher's side of TUF (`registry tuf init | refresh | rotate`, and the metadata every
//! change of the registry signs), checked by a client that is not ours: python-tuf's
//! `ngclient.Updater` (`tests/tuf_client.py`, from the test venv) against the registry served
//! by a real static server on loopback.

use std::path::{Path, PathBuf};
use std::process::Command;

use insta::assert_snapshot;
use serde_json::Value;

use crate::common::{StaticServer, TestContext, sha256_file};

/// A release engineer who packs and signs the examples, and gives the registry TUF metadata.
fn tuf_release() -> TestContext {
    let releaser = TestContext::examples()
        .signed()
        .packed(&["core", "providers"]);
    releaser.run(["registry", "tuf", "init"]).success();
    releaser
}

/// The root key `init` wrote (the only file in the keyring's `tuf-root/`).
fn root_key(context: &TestContext) -> PathBuf {
    let dir = context
        .base
        .parent()
        .expect("temp root")
        .join(".config/provisioning/tuf-root");
    let mut keys: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tuf-root")
        .map(|entry| entry.expect("entry").path())
        .collect();
    keys.sort();
    keys.into_iter().next().expect("a root key")
}

/// python-tuf's client: the trusted versions and the sha256 of each downloaded target, or what
/// it refused with.
fn python_tuf(
    server: &StaticServer,
    state: &Path,
    bootstrap: Option<&Path>,
    targets: &[&str],
) -> Result<Value, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tuf_client.py");
    let mut command = Command::new("python3");
    command.arg(script).arg(server.url()).arg(state);
    if let Some(root) = bootstrap {
        command.arg("--bootstrap").arg(root);
    }
    let output = command
        .args(targets)
        .output()
        .expect("python3 runs (scripts/test puts the test venv first on PATH)");
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).expect("the client prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

fn versions(answer: &Value) -> String {
    ["root", "timestamp", "snapshot", "targets"]
        .map(|role| format!("{role} {}", answer[role]))
        .join(", ")
}

#[test]
fn python_tuf_verifies_a_served_registry_across_changes_and_rotations() {
    let releaser = tuf_release();
    let dist = releaser.path("distribution");
    let server = StaticServer::start(&dist);
    let state = tempfile::tempdir().expect("temp dir");
    let root_v1 = dist.join("tuf/1.root.json");

    let first = python_tuf(
        &server,
        state.path(),
        Some(&root_v1),
        &[
            "packages/aws_prov_1.0.0.tar",
            "registry/aws_prov.json",
            "index.json",
        ],
    )
    .expect("python-tuf verifies the registry");
    assert_eq!(
        versions(&first),
        "root 1, timestamp 1, snapshot 1, targets 1"
    );
    for (target, file) in [
        (
            "packages/aws_prov_1.0.0.tar",
            "distribution/packages/aws_prov_1.0.0.tar",
        ),
        (
            "registry/aws_prov.json",
            "distribution/registry/aws_prov.json",
        ),
        ("index.json", "distribution/index.json"),
    ] {
        assert_eq!(
            first["downloaded"][target],
            sha256_file(&releaser.path(file)),
            "{target}"
        );
    }

    // A change of the registry signs new targets, snapshot and timestamp in its transaction.
    let yanked = releaser.run([
        "pack",
        "yank",
        "aws_prov@1.0.0",
        "--reason",
        "CVE-2026-0001",
    ]);
    yanked.success();
    assert!(
        yanked.stderr.contains(
            "Signed TUF metadata of `distribution/`: targets v2, snapshot v2, timestamp v2"
        ),
        "{yanked}"
    );
    let after_yank = python_tuf(&server, state.path(), None, &["registry/aws_prov.json"])
        .expect("the client follows");
    assert_eq!(
        versions(&after_yank),
        "root 1, timestamp 2, snapshot 2, targets 2"
    );
    assert_eq!(
        after_yank["downloaded"]["registry/aws_prov.json"],
        sha256_file(&releaser.path("distribution/registry/aws_prov.json"))
    );

    // Rotations: the client follows the new roots (2.root.json, 3.root.json) from its state.
    let key = root_key(&releaser);
    let key = key.to_str().expect("UTF-8 path");
    releaser
        .run(["registry", "tuf", "rotate", "timestamp", "--root-key", key])
        .success();
    let new_root = releaser.path("new-root.pk8");
    let new_root = new_root.to_str().expect("UTF-8 path");
    releaser
        .run([
            "registry",
            "tuf",
            "rotate",
            "root",
            "--root-key",
            key,
            "--new-root-key-out",
            new_root,
        ])
        .success();
    let after_rotation = python_tuf(
        &server,
        state.path(),
        None,
        &["packages/aws_prov_1.0.0.tar"],
    )
    .expect("the client follows the rotations");
    assert_eq!(
        versions(&after_rotation),
        "root 3, timestamp 3, snapshot 2, targets 2"
    );

    // The check can fail: an artifact changed on the server is refused by the client.
    let artifact = releaser.path("distribution/packages/aws_prov_1.0.0.tar");
    let mut bytes = std::fs::read(&artifact).expect("read");
    bytes[600] ^= 1;
    std::fs::write(&artifact, bytes).expect("tamper");
    let refused = python_tuf(
        &server,
        state.path(),
        None,
        &["packages/aws_prov_1.0.0.tar"],
    )
    .expect_err("a changed artifact is refused");
    assert!(refused.contains("LengthOrHashMismatchError"), "{refused}");
}

/// Every file of `distribution/tuf/` with its sha256: what must not change.
fn tuf_files(context: &TestContext) -> String {
    let dir = context.path("distribution/tuf");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("tuf/")
        .map(|entry| {
            let path = entry.expect("entry").path();
            format!(
                "{} {}",
                path.file_name().expect("name").to_string_lossy(),
                sha256_file(&path)
            )
        })
        .collect();
    files.sort();
    files.join("\n")
}

#[test]
fn init_twice_and_an_existing_root_key_file_are_refused_and_change_nothing() {
    let releaser = tuf_release();
    let _filters = releaser.filters().tuf_key_ids().bind();
    let before = tuf_files(&releaser);
    assert_snapshot!(releaser.run(["registry", "tuf", "init"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `distribution` already has TUF metadata (`tuf/root.json`)
    hint: `provisioning registry tuf rotate <role>` replaces a key; `registry tuf status` shows the roles
    ");
    assert_eq!(tuf_files(&releaser), before);

    let fresh = TestContext::examples().signed().packed(&["providers"]);
    fresh.write("keep.pk8", "the only copy of something");
    assert_snapshot!(fresh.run(["registry", "tuf", "init", "--root-key-out", "keep.pk8"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/keep.pk8` already exists: a root key is never overwritten (it may be the only copy)
    hint: name another file with `--root-key-out`
    ");
    assert_eq!(fresh.read("keep.pk8"), "the only copy of something");
    assert!(
        !fresh.path("distribution/tuf/root.json").exists(),
        "no metadata"
    );
}

#[test]
fn a_change_the_keyring_cannot_sign_is_refused_before_anything_changes() {
    let releaser = tuf_release();
    let _filters = releaser.filters().tuf_key_ids().bind();
    let record = releaser.read("distribution/registry/aws_prov.json");
    let before = tuf_files(&releaser);
    // Another user's keyring: the release key, but none of the registry's TUF keys.
    let other = releaser.path("other-keyring");
    std::fs::create_dir_all(other.join("keys")).expect("mkdir");
    let output = releaser
        .command()
        .env("PROVISIONING_KEYRING", &other)
        .args(["pack", "yank", "aws_prov@1.0.0"])
        .output()
        .expect("runs");
    let run = crate::common::Run::from_output(output, &releaser.base, &[]);
    assert_snapshot!(run, @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `distribution` carries TUF metadata, and this command cannot sign it: nothing was changed
      caused by: the targets key [KEY ID] is not in your keyring (`[BASE]/other-keyring/tuf-keys/[KEY ID].pk8`)
    hint: the registry's TUF keys are where `registry tuf init` ran: sign there, or copy the key file here
    ");
    assert_eq!(releaser.read("distribution/registry/aws_prov.json"), record);
    assert_eq!(tuf_files(&releaser), before);
}

#[test]
fn rotate_needs_the_current_root_key_and_refresh_signs_only_what_expires() {
    let releaser = tuf_release();
    let _filters = releaser.filters().tuf_key_ids().bind();
    let before = tuf_files(&releaser);
    releaser.write("not-a-key.pk8", "");
    let not_a_key = releaser.run([
        "registry",
        "tuf",
        "rotate",
        "targets",
        "--root-key",
        "not-a-key.pk8",
    ]);
    assert_snapshot!(not_a_key, @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/not-a-key.pk8` is not an Ed25519 private key in PKCS#8 (the form `registry tuf init` writes)
    ");
    // A key of the registry, but not its root key: one of the keyring's online keys.
    let keyring = releaser
        .base
        .parent()
        .expect("temp root")
        .join(".config/provisioning/tuf-keys");
    let online = std::fs::read_dir(&keyring)
        .expect("tuf-keys")
        .next()
        .expect("a key")
        .expect("entry")
        .path();
    let not_root = releaser.run([
        "registry",
        "tuf",
        "rotate",
        "targets",
        "--root-key",
        online.to_str().expect("UTF-8"),
    ]);
    assert_snapshot!(not_root, @"
    exit: 1
    --- stdout
    --- stderr
    error: the key in `[TEMP]/.config/provisioning/tuf-keys/[KEY ID].pk8` ([KEY ID]) is not the registry's root key ([KEY ID])
    hint: give the root key file `registry tuf init` (or the last `rotate root`) wrote
    ");
    assert_eq!(tuf_files(&releaser), before);

    // Nothing changed: `pack index` signs nothing.
    let indexed = releaser.run(["pack", "index"]);
    indexed.success();
    assert!(!indexed.stderr.contains("Signed"), "{indexed}");
    assert_eq!(tuf_files(&releaser), before);

    let refreshed = releaser.run(["registry", "tuf", "refresh"]);
    assert_snapshot!(refreshed, @"
    exit: 0
    --- stdout
    --- stderr
          Signed TUF metadata of `distribution/`: targets v1, snapshot v1, timestamp v2 (valid for 86400s)
    ");
    // A snapshot (7 days) that would expire before the new timestamp (10 days) is signed again
    // with it, and the targets too.
    let output = releaser
        .command()
        .env("PROVISIONING_TUF_TIMESTAMP_EXPIRY_SECS", "864000")
        .args(["registry", "tuf", "refresh"])
        .output()
        .expect("runs");
    let renewed = crate::common::Run::from_output(output, &releaser.base, &[]);
    assert_snapshot!(renewed, @"
    exit: 0
    --- stdout
    --- stderr
          Signed TUF metadata of `distribution/`: targets v2, snapshot v2, timestamp v3 (valid for 864000s)
    ");
}
