//! An adversarial pass over TUF's publisher side (`registry tuf init | rotate`): each refusal
//! says precisely what is wrong and leaves the registry and the keyring as they were.

use insta::assert_snapshot;

use crate::common::TestContext;

/// The keyring's directory, beside the base (`$HOME/.config/provisioning`), as `tree` names it.
const KEYRING: &str = "../.config/provisioning";

/// A release engineer's packed registry, TUF metadata given or not.
fn release(tuf: bool) -> TestContext {
    let releaser = TestContext::examples().signed().packed(&["providers"]);
    if tuf {
        releaser.run(["registry", "tuf", "init"]).success();
    }
    releaser
}

#[test]
fn init_with_a_file_that_cannot_be_a_target_writes_no_key() {
    let releaser = release(false);
    let _filters = releaser.filters().tuf_key_ids().bind();
    releaser.write("distribution/packages/notes:draft", "a stray file");
    let keyring = releaser.tree(KEYRING);
    let run = releaser.run_unchanged("distribution", ["registry", "tuf", "init"]);
    assert_snapshot!(run, @r#"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/distribution/packages/notes:draft` cannot be a TUF target: illegal argument: Path cannot contain ":"
    hint: rename or remove it: every file of `packages/` and `registry/` is signed by its path
    "#);
    assert_eq!(releaser.tree(KEYRING), keyring, "no key was written");
}

/// The root key `init` wrote.
fn root_key(context: &TestContext) -> String {
    let dir = context.path(KEYRING).join("tuf-root");
    let entry = std::fs::read_dir(dir)
        .expect("tuf-root")
        .next()
        .expect("a key");
    entry.expect("entry").path().display().to_string()
}

#[test]
fn rotate_without_a_key_it_signs_again_with_writes_no_new_key() {
    let releaser = release(true);
    let _filters = releaser.filters().tuf_key_ids().bind();
    let root: serde_json::Value =
        serde_json::from_str(&releaser.read("distribution/tuf/root.json")).expect("JSON");
    let targets = root["signed"]["roles"]["targets"]["keyids"][0]
        .as_str()
        .expect("a targets key");
    std::fs::remove_file(releaser.path(&format!("{KEYRING}/tuf-keys/{targets}.pk8")))
        .expect("remove the targets key");
    let keyring = releaser.tree(KEYRING);
    let root_key = root_key(&releaser);
    let run = releaser.run_unchanged(
        "distribution",
        [
            "registry",
            "tuf",
            "rotate",
            "snapshot",
            "--root-key",
            &root_key,
        ],
    );
    assert_snapshot!(run, @"
    exit: 1
    --- stdout
    --- stderr
    error: the targets key [KEY ID] is not in your keyring (`[TEMP]/.config/provisioning/tuf-keys/[KEY ID].pk8`)
    hint: the registry's TUF keys are where `registry tuf init` ran: sign there, or copy the key file here
    ");
    assert_eq!(releaser.tree(KEYRING), keyring, "no key was written");
}

#[test]
fn rotate_beside_a_file_that_cannot_be_a_target_writes_no_new_key() {
    let releaser = release(true);
    let _filters = releaser.filters().tuf_key_ids().bind();
    releaser.write("distribution/packages/notes:draft", "a stray file");
    let keyring = releaser.tree(KEYRING);
    let root_key = root_key(&releaser);
    let run = releaser.run_unchanged(
        "distribution",
        [
            "registry",
            "tuf",
            "rotate",
            "targets",
            "--root-key",
            &root_key,
        ],
    );
    assert!(run.stderr.contains("cannot be a TUF target"), "{run}");
    assert_eq!(releaser.tree(KEYRING), keyring, "no key was written");
}

#[test]
fn rotate_root_to_an_existing_file_names_the_option_of_rotate() {
    let releaser = release(true);
    let _filters = releaser.filters().tuf_key_ids().bind();
    releaser.write("keep.pk8", "the only copy of something");
    let root_key = root_key(&releaser);
    let run = releaser.run_unchanged(
        "distribution",
        [
            "registry",
            "tuf",
            "rotate",
            "root",
            "--root-key",
            &root_key,
            "--new-root-key-out",
            "keep.pk8",
        ],
    );
    assert_snapshot!(run, @"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/keep.pk8` already exists: a root key is never overwritten (it may be the only copy)
    hint: name another file with `--new-root-key-out`
    ");
    assert_eq!(releaser.read("keep.pk8"), "the only copy of something");
}

#[test]
fn pack_beside_a_file_that_cannot_be_a_target_is_refused_before_any_change() {
    let releaser = release(true);
    releaser.write("distribution/packages/notes:draft", "a stray file");
    let _filters = releaser.filters().bind();
    let registry = || {
        let dirs = ["registry", "packages", "tuf"]
            .map(|dir| releaser.tree(&format!("distribution/{dir}")));
        (dirs, releaser.read("distribution/index.json"))
    };
    let before = registry();
    let run = releaser.run(["pack", "core"]);
    assert_snapshot!(run, @r#"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `distribution` carries TUF metadata, and this command cannot sign it: nothing was changed
      caused by: `[BASE]/distribution/packages/notes:draft` cannot be a TUF target: illegal argument: Path cannot contain ":"
    hint: rename or remove it: every file of `packages/` and `registry/` is signed by its path
    "#);
    assert_eq!(registry(), before, "the registry changed");
}

/// A client that trusted nothing yet reads a copy of the registry, pinned to its first root.
fn fresh_client_reads(releaser: &TestContext) -> crate::common::Run {
    let served = releaser.path("served");
    let _ = std::fs::remove_dir_all(&served);
    crate::common::copy_tree(&releaser.path("distribution"), &served);
    let keyring = releaser.path("client-keyring");
    let _ = std::fs::remove_dir_all(&keyring);
    let run = |args: &[&str]| {
        let output = releaser
            .command()
            .env("PROVISIONING_KEYRING", &keyring)
            .args(args)
            .output()
            .expect("runs");
        crate::common::Run::from_output(output, &releaser.base, &[])
    };
    run(&["registry", "tuf", "pin", "served", "served/tuf/1.root.json"]).success();
    run(&["--registry", "served", "registry", "list"])
}

#[test]
fn refresh_repairs_a_signing_killed_between_targets_and_snapshot() {
    let releaser = release(true);
    let tuf = releaser.path("distribution/tuf");
    let before: Vec<Vec<u8>> = ["snapshot.json", "timestamp.json"]
        .iter()
        .map(|name| std::fs::read(tuf.join(name)).expect("read"))
        .collect();
    // A signing of new targets and snapshot, killed once `targets.json` landed.
    let output = releaser
        .command()
        .env("PROVISIONING_TUF_TIMESTAMP_EXPIRY_SECS", "864000")
        .args(["registry", "tuf", "refresh"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    for (name, bytes) in ["snapshot.json", "timestamp.json"].iter().zip(&before) {
        std::fs::write(tuf.join(name), bytes).expect("write");
    }
    let refused = fresh_client_reads(&releaser);
    assert!(
        refused
            .stderr
            .contains("mix-and-match or tampering refused"),
        "{refused}"
    );

    releaser.run(["registry", "tuf", "refresh"]).success();
    fresh_client_reads(&releaser).success();
}
