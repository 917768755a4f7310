//! Scoped author keys (`keys trust KEY --for PATTERN`), and the signer an infra's lock records
//! for each pin: an update to a version signed by another key needs `--accept-signer`.
//!
//! Two authors, `alice` and `bob`, each sign with a keyring of their own
//! (`PROVISIONING_KEYRING`), packing into the one base; the user running the other commands has
//! no key of their own and trusts theirs.

use std::path::PathBuf;

use insta::assert_snapshot;

use crate::common::{Run, TestContext};

/// An author: a keyring of their own, their key id, and their public key in `<name>.pub` in the
/// base.
struct Author {
    keyring: PathBuf,
    key_id: String,
}

impl Author {
    fn new(context: &TestContext, name: &str) -> Self {
        let keyring = context.base.parent().expect("temp root").join(name);
        let author = Self {
            keyring,
            key_id: String::new(),
        };
        author
            .run(context, &["keys", "generate", "--force"])
            .success();
        let public = author.run(context, &["keys", "public"]);
        context.write(&format!("{name}.pub"), &public.success().stdout);
        let listed = author.run(context, &["keys", "list", "--format", "json"]);
        let keys: serde_json::Value = serde_json::from_str(&listed.stdout).expect("json");
        let key_id = keys[0]["key_id"].as_str().expect("a key").to_owned();
        Self { key_id, ..author }
    }

    /// Runs the tool as this author (with their keyring).
    fn run(&self, context: &TestContext, args: &[&str]) -> Run {
        let output = context
            .command()
            .env("PROVISIONING_KEYRING", &self.keyring)
            .args(args)
            .output()
            .expect("run provisioning");
        Run::from_output(output, &context.base, &[])
    }
}

/// The examples with `alice` and `bob` as authors, and the filters that name them.
fn two_authors() -> (TestContext, Author, Author) {
    let context = TestContext::examples();
    let alice = Author::new(&context, "alice");
    let mut bob = Author::new(&context, "bob");
    // Keys are listed in the order of their ids: alice's first, for stable snapshots.
    while bob.key_id < alice.key_id {
        bob = Author::new(&context, "bob");
    }
    (context, alice, bob)
}

fn filters(context: &TestContext, authors: &[&Author]) -> insta::internals::SettingsBindDropGuard {
    let mut filters = context.filters().sha256().short_sha256();
    for (author, name) in authors.iter().zip(["[ALICE]", "[BOB]"]) {
        filters = filters.literal(&author.key_id, name);
    }
    filters.bind()
}

fn lock(context: &TestContext, infra: &str) -> String {
    context.read(&format!("workspace/infra/{infra}/providers.manifest.yaml"))
}

#[test]
fn keys_trust_for_patterns_is_listed_and_a_new_scope_replaces_the_old_one() {
    let (context, alice, bob) = two_authors();
    let _filters = filters(&context, &[&alice, &bob]);
    assert_snapshot!(context.run(["keys", "trust", "alice.pub", "--for", "aws_*", "--for", "provisioning_core"]), @"
    exit: 0
    --- stdout
    --- stderr
         Trusted key [ALICE] for `aws_*`, `provisioning_core` (`[TEMP]/.config/provisioning/trusted/[ALICE].pub`)
    ");
    context.run(["keys", "trust", "bob.pub"]).success();
    let scope_file = format!(".config/provisioning/trusted/{}.scope.toml", alice.key_id);
    let temp = context.base.parent().expect("temp root");
    assert_snapshot!(std::fs::read_to_string(temp.join(&scope_file)).expect("scope file"), @r#"
    # The modules key [ALICE] may sign (`provisioning keys trust ... --for`).
    modules = ["aws_*", "provisioning_core"]
    "#);
    assert_snapshot!(context.run(["keys", "list"]), @"
    exit: 0
    --- stdout
    KEY ID            SOURCE   SCOPE                     PATH
    [ALICE]  trusted  aws_*, provisioning_core  [TEMP]/.config/provisioning/trusted/[ALICE].pub
    [BOB]  trusted  every module              [TEMP]/.config/provisioning/trusted/[BOB].pub
    --- stderr
    ");
    assert_snapshot!(context.run(["keys", "list", "--format", "json"]), @r#"
    exit: 0
    --- stdout
    [
      {
        "key_id": "[ALICE]",
        "source": "user",
        "path": "[TEMP]/.config/provisioning/trusted/[ALICE].pub",
        "scope": [
          "aws_*",
          "provisioning_core"
        ]
      },
      {
        "key_id": "[BOB]",
        "source": "user",
        "path": "[TEMP]/.config/provisioning/trusted/[BOB].pub",
        "scope": [
          "*"
        ]
      }
    ]
    --- stderr
    "#);

    // By its id, as the hint of a refusal gives it: the scope is replaced, and said so.
    assert_snapshot!(context.run(["keys", "trust", &alice.key_id, "--for", "local_*"]), @"
    exit: 0
    --- stdout
    --- stderr
         Trusted key [ALICE] for `local_*` (`[TEMP]/.config/provisioning/trusted/[ALICE].pub`): its scope was `aws_*`, `provisioning_core`, and is replaced
    ");
    assert_snapshot!(context.run(["keys", "trust", &alice.key_id, "--for", "local_*"]), @"
    exit: 0
    --- stdout
    --- stderr
         Trusted key [ALICE] for `local_*` (`[TEMP]/.config/provisioning/trusted/[ALICE].pub`): trusted so already
    ");
    // Without `--for` (or with `'*'`): every module again, and no scope file.
    assert_snapshot!(context.run(["keys", "trust", &alice.key_id, "--for", "*"]), @"
    exit: 0
    --- stdout
    --- stderr
         Trusted key [ALICE] for every module (`[TEMP]/.config/provisioning/trusted/[ALICE].pub`): its scope was `local_*`, and is replaced
    ");
    assert!(
        !temp.join(&scope_file).exists(),
        "no scope file for every module"
    );
    assert_snapshot!(context.run(["keys", "trust", "bob.pub", "--for", "up?loud_prov"]), @"
    exit: 0
    --- stdout
    --- stderr
         Trusted key [BOB] for `up?loud_prov` (`[TEMP]/.config/provisioning/trusted/[BOB].pub`): its scope was every module, and is replaced
    ");
    assert_snapshot!(context.run(["keys", "trust", "bob.pub"]), @"
    exit: 0
    --- stdout
    --- stderr
         Trusted key [BOB] for every module (`[TEMP]/.config/provisioning/trusted/[BOB].pub`): its scope was `up?loud_prov`, and is replaced
    ");
}

#[test]
fn keys_trust_refuses_a_bad_pattern_an_unknown_key_id_and_scoping_your_own_key() {
    let (context, alice, bob) = two_authors();
    let _filters = filters(&context, &[&alice, &bob]);
    assert_snapshot!(context.run(["keys", "trust", "alice.pub", "--for", "AWS_*"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'AWS_*' for '--for <PATTERN>': `AWS_*` is not a module pattern: expected a module name in which `*` stands for any characters and `?` for one (`aws_*`, `provisioning_core`)

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["keys", "trust", &alice.key_id, "--for", "aws_*"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: key [ALICE] is not trusted
    hint: give its `.pub` file, or the public key itself (`RW...`)
    ");
    assert_snapshot!(alice.run(&context, &["keys", "trust", &alice.key_id, "--for", "aws_*"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: key [ALICE] is your own signing key (`[TEMP]/alice/keys/provisioning.pub`): it signs every module, and cannot be limited to some
    ");
    assert_snapshot!(context.run(["keys", "list"]), @"
    exit: 0
    --- stdout
    no trusted keys
    hint: `provisioning keys generate`, or `provisioning keys trust <file>`
    --- stderr
    ");
}

#[test]
fn a_malformed_scope_file_is_an_error_naming_it_and_nothing_is_written() {
    let (context, alice, bob) = two_authors();
    let _filters = filters(&context, &[&alice, &bob]);
    context
        .run(["keys", "trust", "alice.pub", "--for", "aws_*"])
        .success();
    let temp = context.base.parent().expect("temp root");
    let scope_file = temp.join(format!(
        ".config/provisioning/trusted/{}.scope.toml",
        alice.key_id
    ));
    let cases = [
        ("not toml", "modules = [\"aws_*\"\n"),
        ("a wrong field", "module = [\"aws_*\"]\n"),
        ("a bad pattern", "modules = [\"aws/*\"]\n"),
        ("no module", "modules = []\n"),
    ];
    let mut runs = String::new();
    for (case, text) in cases {
        std::fs::write(&scope_file, text).expect("write");
        let before = context.tree("..");
        let run = context.run(["keys", "trust", "bob.pub", "--for", "local_*"]);
        assert_eq!(context.tree(".."), before, "{case}: nothing written");
        runs.push_str(&format!("## {case}\n{run}"));
    }
    assert_snapshot!(runs, @r#"
    ## not toml
    exit: 1
    --- stdout
    --- stderr
    error: `[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml` is not a key scope: line 1, column 19: unclosed array, expected `]`
    hint: a scope file holds `modules = ["<pattern>", ...]`; `provisioning keys trust <KEY> --for '<pattern>'` writes one
    ## a wrong field
    exit: 1
    --- stdout
    --- stderr
    error: `[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml` is not a key scope: line 1, column 1: unknown field `module`, expected `modules`
    hint: a scope file holds `modules = ["<pattern>", ...]`; `provisioning keys trust <KEY> --for '<pattern>'` writes one
    ## a bad pattern
    exit: 1
    --- stdout
    --- stderr
    error: `[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml` is not a key scope: `aws/*` is not a module pattern: expected a module name in which `*` stands for any characters and `?` for one (`aws_*`, `provisioning_core`)
    hint: a scope file holds `modules = ["<pattern>", ...]`; `provisioning keys trust <KEY> --for '<pattern>'` writes one
    ## no module
    exit: 1
    --- stdout
    --- stderr
    error: `[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml` is not a key scope: `modules` is empty: a key trusted for no module is not trusted; delete the key instead
    hint: a scope file holds `modules = ["<pattern>", ...]`; `provisioning keys trust <KEY> --for '<pattern>'` writes one
    "#);

    // A base's scope file, beside a key the team committed, is read the same way.
    std::fs::remove_file(&scope_file).expect("rm");
    bob.run(&context, &["pack", "provider", "local"]).success();
    context.write("config/trusted-keys/bob.pub", &context.read("bob.pub"));
    context.write(
        "config/trusted-keys/bob.scope.toml",
        "modules = \"local_*\"\n",
    );
    assert_snapshot!(context.run(["pack", "verify", "local_prov@0.2.0"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: `[BASE]/config/trusted-keys/bob.scope.toml` is not a key scope: line 1, column 11: expected a sequence, found string "local_*"
    hint: a scope file holds `modules = ["<pattern>", ...]`; `provisioning keys trust <KEY> --for '<pattern>'` writes one
    "#);
}

/// `alice` signs the core and `aws`, `bob` signs `local`.
fn packed_by_two(context: &TestContext, alice: &Author, bob: &Author) {
    alice.run(context, &["pack", "core"]).success();
    alice.run(context, &["pack", "provider", "aws"]).success();
    bob.run(context, &["pack", "provider", "local"]).success();
}

#[test]
fn two_keys_with_disjoint_scopes_each_sign_only_their_modules() {
    let (context, alice, bob) = two_authors();
    let _filters = filters(&context, &[&alice, &bob]);
    packed_by_two(&context, &alice, &bob);
    context
        .run([
            "keys",
            "trust",
            "alice.pub",
            "--for",
            "aws_*",
            "--for",
            "provisioning_*",
        ])
        .success();
    context
        .run(["keys", "trust", "bob.pub", "--for", "local_*"])
        .success();
    for provider in ["aws", "local"] {
        context
            .run([
                "providers",
                "install",
                provider,
                "homelab",
                "--version",
                "*",
            ])
            .success();
    }
    assert_snapshot!(context.run(["pack", "verify", "aws_prov@1.0.0"]), @"
    exit: 0
    --- stdout
    CHECK         STATUS  DETAIL
    size          ok      9216
    sha256        ok      [SHA256]
    content hash  ok      h1:aYJDcvNaVg74mmvLBeGqU1KJ8WPd0ELWE3yBNxjLzCw=
    signature     ok      signed by key [ALICE] (trusted with `keys trust`)
    --- stderr
        Verified `aws_prov` 1.0.0: signed by key [ALICE] (trusted with `keys trust`)
    ");

    // Each key trusted for the other's modules: every check refuses, naming key, module, scope.
    context
        .run(["keys", "trust", "alice.pub", "--for", "local_*"])
        .success();
    context
        .run([
            "keys",
            "trust",
            "bob.pub",
            "--for",
            "aws_*",
            "--for",
            "provisioning_*",
        ])
        .success();
    assert_snapshot!(context.run(["pack", "verify", "aws_prov@1.0.0"]), @"
    exit: 1
    --- stdout
    CHECK         STATUS  DETAIL
    size          ok      9216
    sha256        ok      [SHA256]
    content hash  ok      h1:aYJDcvNaVg74mmvLBeGqU1KJ8WPd0ELWE3yBNxjLzCw=
    signature     FAILED  `[BASE]/distribution/packages/aws_prov_1.0.0.tar.minisig` is signed by key [ALICE], which is trusted only for `local_*` (`[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml`), not for `aws_prov`: refusing it as untrusted
    --- stderr
    error: signature: `[BASE]/distribution/packages/aws_prov_1.0.0.tar.minisig` is signed by key [ALICE], which is trusted only for `local_*` (`[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml`), not for `aws_prov`: refusing it as untrusted
    hint: if key [ALICE] may sign `aws_prov`, `provisioning keys trust [ALICE] --for 'local_*' --for 'aws_prov'`
    error: `aws_prov` 1.0.0 failed verification (signature)
    ");
    let before = context.tree("workspace");
    assert_snapshot!(context.run(["providers", "install", "aws", "wuji", "--version", "1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: `aws_prov` 1.0.0 failed verification: signature: `[BASE]/distribution/packages/aws_prov_1.0.0.tar.minisig` is signed by key [ALICE], which is trusted only for `local_*` (`[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml`), not for `aws_prov`: refusing it as untrusted
    hint: if key [ALICE] may sign `aws_prov`, `provisioning keys trust [ALICE] --for 'local_*' --for 'aws_prov'`
    ");
    assert_snapshot!(context.run(["providers", "install", "local", "wuji", "--from", "distribution/packages/local_prov_0.2.0.tar"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `wuji`
      caused by: `distribution/packages/local_prov_0.2.0.tar` (`local_prov` 0.2.0) failed verification: signature: `[BASE]/distribution/packages/local_prov_0.2.0.tar.minisig` is signed by key [BOB], which is trusted only for `aws_*`, `provisioning_*` (`[TEMP]/.config/provisioning/trusted/[BOB].scope.toml`), not for `local_prov`: refusing it as untrusted
    hint: if key [BOB] may sign `local_prov`, `provisioning keys trust [BOB] --for 'aws_*' --for 'provisioning_*' --for 'local_prov'`
    ");
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    let removed = context.tree("workspace");
    assert_snapshot!(context.run(["providers", "sync", "homelab"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to sync `aws_prov`: `aws_prov` 1.0.0 failed verification: signature: `[BASE]/distribution/packages/aws_prov_1.0.0.tar.minisig` is signed by key [ALICE], which is trusted only for `local_*` (`[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml`), not for `aws_prov`: refusing it as untrusted
    hint: if key [ALICE] may sign `aws_prov`, `provisioning keys trust [ALICE] --for 'local_*' --for 'aws_prov'`
    error: failed to sync `local_prov`: `local_prov` 0.2.0 failed verification: signature: `[BASE]/distribution/packages/local_prov_0.2.0.tar.minisig` is signed by key [BOB], which is trusted only for `aws_*`, `provisioning_*` (`[TEMP]/.config/provisioning/trusted/[BOB].scope.toml`), not for `local_prov`: refusing it as untrusted
    hint: if key [BOB] may sign `local_prov`, `provisioning keys trust [BOB] --for 'aws_*' --for 'provisioning_*' --for 'local_prov'`
    error: failed to sync `provisioning_core`: `provisioning_core` 0.1.0 failed verification: signature: `[BASE]/distribution/packages/provisioning_core_0.1.0.tar.minisig` is signed by key [ALICE], which is trusted only for `local_*` (`[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml`), not for `provisioning_core`: refusing it as untrusted
    hint: if key [ALICE] may sign `provisioning_core`, `provisioning keys trust [ALICE] --for 'local_*' --for 'provisioning_core'`
    error: 3 of 3 modules of `homelab` could not be synced
    ");
    assert_ne!(before, removed);
    assert_eq!(
        context.tree("workspace"),
        removed,
        "a refused sync restores nothing"
    );
    assert_snapshot!(context.run(["pack", "mirror", "--to", "mirror", "--infra", "homelab"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to mirror `aws_prov` 1.0.0: `aws_prov` 1.0.0 failed verification: signature: `[BASE]/distribution/packages/aws_prov_1.0.0.tar.minisig` is signed by key [ALICE], which is trusted only for `local_*` (`[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml`), not for `aws_prov`: refusing it as untrusted
    hint: if key [ALICE] may sign `aws_prov`, `provisioning keys trust [ALICE] --for 'local_*' --for 'aws_prov'`
    error: failed to mirror `local_prov` 0.2.0: `local_prov` 0.2.0 failed verification: signature: `[BASE]/distribution/packages/local_prov_0.2.0.tar.minisig` is signed by key [BOB], which is trusted only for `aws_*`, `provisioning_*` (`[TEMP]/.config/provisioning/trusted/[BOB].scope.toml`), not for `local_prov`: refusing it as untrusted
    hint: if key [BOB] may sign `local_prov`, `provisioning keys trust [BOB] --for 'aws_*' --for 'provisioning_*' --for 'local_prov'`
    error: failed to mirror `provisioning_core` 0.1.0: `provisioning_core` 0.1.0 failed verification: signature: `[BASE]/distribution/packages/provisioning_core_0.1.0.tar.minisig` is signed by key [ALICE], which is trusted only for `local_*` (`[TEMP]/.config/provisioning/trusted/[ALICE].scope.toml`), not for `provisioning_core`: refusing it as untrusted
    hint: if key [ALICE] may sign `provisioning_core`, `provisioning keys trust [ALICE] --for 'local_*' --for 'provisioning_core'`
    error: 3 of 3 packs could not be mirrored
    ");
    assert!(
        !context.path("mirror/packages").exists(),
        "nothing mirrored"
    );
    assert_snapshot!(context.run(["providers", "outdated", "homelab"]), @"
    exit: 0
    --- stdout
    MODULE             PINNED  REQUIREMENT  MATCHING  NEWEST  WHY
    aws_prov           1.0.0   *            -         -       up to date
    local_prov         0.2.0   *            -         -       up to date
    provisioning_core  0.1.0                -         -       up to date
    --- stderr
    ");

    // `--allow-unsigned` accepts what no trusted key may sign, and the lock records no signer.
    assert_snapshot!(context.run(["providers", "install", "local", "wuji", "--version", "0.2.0", "--allow-unsigned=local"]), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `local_prov` 0.2.0 into `wuji` (pack from `distribution/registry`, unsigned, allowed by `--allow-unsigned`)
    ");
    assert!(
        lock(&context, "wuji").contains("signer: unsigned"),
        "{}",
        lock(&context, "wuji")
    );
}

/// `alice`'s core and `aws` 1.0.0 pinned (`^1`) in `infras`; `alice` trusted for every module,
/// `bob` for the `scope` given (every module when empty). The filters live as long as the guard.
fn pinned_by_alice(
    infras: &[&str],
    scope: &[&str],
) -> (
    TestContext,
    Author,
    Author,
    insta::internals::SettingsBindDropGuard,
) {
    let (context, alice, bob) = two_authors();
    let guard = filters(&context, &[&alice, &bob]);
    alice.run(&context, &["pack", "core"]).success();
    alice.run(&context, &["pack", "provider", "aws"]).success();
    context.run(["keys", "trust", "alice.pub"]).success();
    let mut trust_bob = vec!["keys", "trust", "bob.pub"];
    for pattern in scope {
        trust_bob.extend(["--for", pattern]);
    }
    context.run(&trust_bob).success();
    for infra in infras {
        context
            .run(["providers", "install", "aws", infra, "--version", "^1"])
            .success();
    }
    (context, alice, bob, guard)
}

#[test]
fn update_to_a_version_signed_by_another_key_needs_accept_signer() {
    let (context, alice, bob, _filters) = pinned_by_alice(&["homelab", "wuji"], &["aws_*"]);
    assert!(lock(&context, "homelab").contains(&format!("signer: {}", alice.key_id)));
    bob.run(&context, &["pack", "provider", "aws", "--version", "1.1.0"])
        .success();

    // A dry run fetches no signature: it says what the registry records.
    assert_snapshot!(context.run(["providers", "update", "homelab", "--dry-run"]), @"
    exit: 0
    --- stdout
    --- stderr
        Updating aws_prov 1.0.0 -> 1.1.0
    warning: `aws_prov` 1.1.0 is recorded as signed by key [BOB], not by key [ALICE] which signed the pinned 1.0.0: the update needs `--accept-signer`
    warning: dry run: nothing was changed
    ");
    let before = context.tree("workspace");
    assert_snapshot!(context.run(["providers", "update", "homelab"]), @"
    exit: 1
    --- stdout
    --- stderr
        Updating aws_prov 1.0.0 -> 1.1.0
    error: failed to update `aws_prov` in `homelab`
      caused by: `aws_prov` 1.1.0 is signed by key [BOB], but the pinned 1.0.0 was signed by key [ALICE]: refusing a change of signer
    hint: if key [BOB] may sign `aws_prov` from now on, pass `--accept-signer`
    error: 1 of 1 modules could not be updated in `homelab`, so none were
    ");
    assert_snapshot!(context.run(["providers", "update", "--workspace"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the workspace was not updated: nothing was written
      `homelab`: `aws_prov` cannot be updated: `aws_prov` 1.1.0 is signed by key [BOB], but the pinned 1.0.0 was signed by key [ALICE]: refusing a change of signer
      `wuji`: `aws_prov` cannot be updated: `aws_prov` 1.1.0 is signed by key [BOB], but the pinned 1.0.0 was signed by key [ALICE]: refusing a change of signer
    hint: if key [BOB] may sign `aws_prov` from now on, pass `--accept-signer`
    ");
    assert_eq!(
        context.tree("workspace"),
        before,
        "a refused update writes nothing"
    );

    assert_snapshot!(context.run(["providers", "update", "homelab", "--accept-signer"]), @"
    exit: 0
    --- stdout
    --- stderr
        Updating aws_prov 1.0.0 -> 1.1.0
    warning: `aws_prov` 1.1.0 is signed by key [BOB], not by key [ALICE] which signed the pinned 1.0.0: the lock records key [BOB] from now on (`--accept-signer`)
         Updated `homelab`: 1 change
    ");
    assert_snapshot!(lock(&context, "homelab"), @"
    # Written by `provisioning`; keep it in git.
    # `provisioning providers sync <infra>` rebuilds the infra's modules from this file.
    format_version: 1
    providers:
    - name: aws
      module: aws_prov
      mode: pack
      version: 1.1.0
      source: distribution/registry
      sha256: [SHA256]
      content_hash: h1:UrWX+vZQ3WXfd7nI2SU8MDWpe/DVkWGr9TGlwLWvrhc=
      signer: [BOB]
    - name: provisioning_core
      module: provisioning_core
      kind: core
      mode: pack
      version: 0.1.0
      source: distribution/registry
      sha256: [SHA256]
      content_hash: h1:nw/nSc0wO7AKpN7MI3HWaCbydLt7SfLKkWSm9TeBhOk=
      signer: [ALICE]
      required_by:
      - aws_prov
      direct: false
    ");
    assert_snapshot!(context.run(["providers", "update", "--workspace", "--accept-signer"]), @"
    exit: 0
    --- stdout
    INFRA  MODULE    FROM   TO
    wuji   aws_prov  1.0.0  1.1.0
    --- stderr
       Unchanged every pin of `homelab` is as new as its requirements allow
        Updating aws_prov 1.0.0 -> 1.1.0
    warning: `aws_prov` 1.1.0 is signed by key [BOB], not by key [ALICE] which signed the pinned 1.0.0: the lock records key [BOB] from now on (`--accept-signer`)
         Updated `wuji`: 1 change
    ");
    assert!(lock(&context, "wuji").contains(&format!("signer: {}", bob.key_id)));
    context.run(["providers", "validate", "homelab"]).success();
}

#[test]
fn sync_restores_the_pinned_bytes_signed_by_another_trusted_key_and_keeps_the_lock() {
    let (context, _alice, bob, _filters) = pinned_by_alice(&["homelab"], &["aws_*"]);
    let pinned = lock(&context, "homelab");
    // The same bytes, signed again by bob.
    bob.run(&context, &["pack", "provider", "aws", "--force"])
        .success();
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    assert_snapshot!(context.run(["providers", "sync", "homelab"]), @"
    exit: 0
    --- stdout
    --- stderr
    warning: `aws_prov` 1.0.0: the lock records key [ALICE] as its signer, but the signature `distribution/registry` serves now is by key [BOB]: restored, since the bytes are those pinned and key [BOB] is trusted for it; the lock still records key [ALICE]
        Restored `aws_prov` 1.0.0 from `distribution/registry` (verified)
        Restored `provisioning_core` 0.1.0 from `distribution/registry` (verified)
          Synced 2 modules of `homelab`
    ");
    assert_eq!(lock(&context, "homelab"), pinned, "the lock is not changed");
    context.run(["providers", "validate", "homelab"]).success();

    // Bob's key trusted for other modules only: the pinned bytes are refused.
    context
        .run(["keys", "trust", "bob.pub", "--for", "local_*"])
        .success();
    std::fs::remove_dir_all(context.path("workspace/infra/homelab/vendor")).expect("rm vendor");
    assert_snapshot!(context.run(["providers", "sync", "homelab"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to sync `aws_prov`: `aws_prov` 1.0.0 failed verification: signature: `[BASE]/distribution/packages/aws_prov_1.0.0.tar.minisig` is signed by key [BOB], which is trusted only for `local_*` (`[TEMP]/.config/provisioning/trusted/[BOB].scope.toml`), not for `aws_prov`: refusing it as untrusted
    hint: if key [BOB] may sign `aws_prov`, `provisioning keys trust [BOB] --for 'local_*' --for 'aws_prov'`
        Restored `provisioning_core` 0.1.0 from `distribution/registry` (verified)
    error: 1 of 2 modules of `homelab` could not be synced
    ");
    assert_eq!(lock(&context, "homelab"), pinned, "the lock is not changed");
}

#[test]
fn install_or_load_over_a_pin_signed_by_another_key_needs_accept_signer() {
    let (context, _alice, bob, _filters) = pinned_by_alice(&["homelab"], &[]);
    bob.run(&context, &["pack", "provider", "aws", "--version", "1.1.0"])
        .success();
    let before = context.tree("workspace");
    assert_snapshot!(context.run(["providers", "install", "aws", "homelab", "--version", "1.1.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.1.0 into `homelab`
      caused by: `aws_prov` 1.1.0 is signed by key [BOB], but the pinned 1.0.0 was signed by key [ALICE]: refusing a change of signer
    hint: if key [BOB] may sign `aws_prov` from now on, pass `--accept-signer`
    ");
    assert_snapshot!(context.run(["module-loader", "load", "providers", "homelab", "aws", "--version", "1.1.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load `aws_prov` into `homelab`
      caused by: `aws_prov` 1.1.0 is signed by key [BOB], but the pinned 1.0.0 was signed by key [ALICE]: refusing a change of signer
    hint: if key [BOB] may sign `aws_prov` from now on, pass `--accept-signer`
    error: 1 of 1 modules could not be loaded into `homelab`, so none were
    ");
    assert_eq!(
        context.tree("workspace"),
        before,
        "a refused install writes nothing"
    );
    assert_snapshot!(context.run(["module-loader", "load", "providers", "homelab", "aws", "--version", "1.1.0", "--accept-signer"]), @"
    exit: 0
    --- stdout
    --- stderr
    warning: `aws_prov` 1.1.0 is signed by key [BOB], not by key [ALICE] which signed the pinned 1.0.0: the lock records key [BOB] from now on (`--accept-signer`)
          Loaded provider `aws_prov` 1.1.0 into `homelab` (pack from `distribution/registry`, signed by [BOB])
    ");
    assert!(lock(&context, "homelab").contains(&format!("signer: {}", bob.key_id)));
    // `--accept-signer` goes with pack mode only.
    assert_snapshot!(context.run(["providers", "install", "aws", "wuji", "--accept-signer"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: the following required arguments were not provided:
      <--version <V|REQ>|--from <PATH|DIR|URL>>

    Usage: provisioning providers install --accept-signer <--version <V|REQ>|--from <PATH|DIR|URL>> <PROVIDER> <INFRA>

    For more information, try '--help'.
    ");
}
