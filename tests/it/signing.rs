//! `keys ...`, signed packs and `pack verify`, against the real `minisign` tool both ways.

use std::process::Command;

use insta::assert_snapshot;

use crate::common::TestContext;

/// The standard `minisign` tool; CI installs Debian's package.
fn minisign() -> Command {
    let probe = Command::new("minisign").arg("-v").output();
    assert!(
        probe.is_ok(),
        "the `minisign` tool is needed for these tests (apt-get install minisign)"
    );
    Command::new("minisign")
}

/// A minisign key pair made by the `minisign` tool: `team.pub` and `team.key` in the base.
fn team_key(context: &TestContext) {
    let generated = minisign()
        .args(["-G", "-W", "-p"])
        .arg(context.path("team.pub"))
        .arg("-s")
        .arg(context.path("team.key"))
        .output()
        .expect("minisign -G");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
}

/// Signs `artifact` with `team.key` and the trusted comment `comment`, as `minisign -S` does.
fn team_sign(context: &TestContext, artifact: &std::path::Path, comment: &str) {
    let signed = minisign()
        .arg("-S")
        .arg("-s")
        .arg(context.path("team.key"))
        .arg("-m")
        .arg(artifact)
        .arg("-t")
        .arg(comment)
        .output()
        .expect("minisign -S");
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
}

#[test]
fn keys_generate_list_public() {
    let context = TestContext::examples();
    let generated = context.run(["keys", "generate"]);
    generated.success();
    let id = context.key_id();
    assert_eq!(id.len(), 16);
    assert!(
        generated
            .stderr
            .contains(&format!("Generated signing key {id}")),
        "{generated}"
    );
    let public = context.run(["keys", "public"]);
    assert!(
        public
            .stdout
            .starts_with(&format!("untrusted comment: minisign public key: {id}\nRW")),
        "{public}"
    );
    let again = context.run(["keys", "generate"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("a signing key already exists"),
        "{again}"
    );
    context.run(["keys", "generate", "--force"]).success();
    assert_ne!(context.key_id(), id);
    let secret = context
        .base
        .parent()
        .expect("home")
        .join(".config/provisioning/keys/provisioning.key");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(secret)
            .expect("secret key")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn keys_trust_refuses_what_is_not_a_key() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["keys", "trust", "RWnotakey"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `RWnotakey` is not a minisign public key: base64 conversion failed - was an actual public key given?
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
fn our_signatures_verify_with_the_minisign_tool() {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "core"]).success();
    context.run(["pack", "provider", "aws"]).success();
    let public = context.run(["keys", "public"]).stdout;
    context.write("release.pub", &public);
    let output = minisign()
        .args(["-V", "-p"])
        .arg(context.path("release.pub"))
        .arg("-m")
        .arg(context.path("distribution/packages/aws_prov_1.0.0.tar"))
        .output()
        .expect("minisign runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sha256 =
        crate::common::sha256_file(&context.path("distribution/packages/aws_prov_1.0.0.tar"));
    assert!(
        stdout.contains(&format!(
            "Trusted comment: provisioning-pack module=aws_prov version=1.0.0 sha256={sha256}"
        )),
        "{stdout}"
    );
    let metadata: serde_json::Value =
        serde_json::from_str(&context.read("distribution/registry/aws_prov.json")).expect("json");
    assert_eq!(
        metadata["versions"][0]["signature"],
        "aws_prov_1.0.0.tar.minisig"
    );
    assert_eq!(metadata["versions"][0]["signer"], context.key_id());
}

#[test]
fn a_signature_made_by_minisign_with_a_trusted_key_is_accepted() {
    let context = TestContext::examples();
    context.run(["pack", "provider", "local"]).success();
    let artifact = context.path("distribution/packages/local_prov_0.2.0.tar");
    team_key(&context);
    let sha256 = crate::common::sha256_file(&artifact);
    team_sign(
        &context,
        &artifact,
        &format!("provisioning-pack module=local_prov version=0.2.0 sha256={sha256}"),
    );
    // Not trusted yet.
    let untrusted = context.run(["pack", "verify", "local_prov@0.2.0"]);
    assert_eq!(untrusted.code, 1, "{untrusted}");
    assert!(
        untrusted.stderr.contains("which is not trusted"),
        "{untrusted}"
    );
    let trusted = context.run(["keys", "trust", "team.pub"]);
    trusted.success();
    let verified = context.run(["pack", "verify", "local_prov@0.2.0"]);
    verified.success();
    assert!(
        verified
            .stderr
            .contains("Verified `local_prov` 0.2.0: signed by key"),
        "{verified}"
    );
    assert!(
        verified.stderr.contains("trusted with `keys trust`"),
        "{verified}"
    );
    context
        .run([
            "providers",
            "install",
            "local",
            "homelab",
            "--version",
            "0.2.0",
        ])
        .success();
}

#[test]
fn pack_verify_reports_every_check() {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "provider", "upcloud"]).success();
    let id = context.key_id();
    let verified = context.run(["pack", "verify", "upcloud_prov@0.0.1"]);
    assert_snapshot!(verified.to_string().replace(&id, "[KEY]"), @"
    exit: 0
    --- stdout
    CHECK         STATUS  DETAIL
    size          ok      11264
    sha256        ok      b759f2260e7cc7ef36d0bd5663ee1b25dd6054fd6856ed7b3eb5911b9e94c4a2
    content hash  ok      h1:idtJgTmOQirU6EnyfBVAtavCmxvTSwXwkSXIDMiCviw=
    signature     ok      signed by key [KEY] (your own key)
    --- stderr
        Verified `upcloud_prov` 0.0.1: signed by key [KEY] (your own key)
    ");
    // By path, from elsewhere.
    let by_path = context.run([
        "pack",
        "verify",
        "distribution/packages/upcloud_prov_0.0.1.tar",
        "--format",
        "json",
    ]);
    by_path.success();
    let report: serde_json::Value = serde_json::from_str(&by_path.stdout).expect("json");
    assert_eq!(report["verified"], true);
    assert_eq!(report["signer"], id.as_str());
}

#[test]
fn one_changed_byte_of_an_artifact_or_its_signature_is_detected() {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "core"]).success();
    context.run(["pack", "provider", "aws"]).success();
    let artifact = context.path("distribution/packages/aws_prov_1.0.0.tar");
    let original = std::fs::read(&artifact).expect("read");
    let mut tampered = original.clone();
    // A byte inside the contents of the first file (after the 512-byte headers).
    tampered[1024 + 10] ^= 0x01;
    std::fs::write(&artifact, &tampered).expect("write");
    let run = context.run(["pack", "verify", "aws_prov@1.0.0"]);
    assert_eq!(run.code, 1);
    let statuses: Vec<String> = run
        .stdout
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .take(2)
                .collect::<Vec<_>>()
                .join(": ")
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "CHECK: STATUS",
            "size: ok",
            "sha256: FAILED",
            "content hash: FAILED",
            "signature: FAILED"
        ]
    );
    let install = context.run([
        "providers",
        "install",
        "aws",
        "homelab",
        "--version",
        "1.0.0",
    ]);
    assert_eq!(install.code, 1);
    assert!(
        install.stderr.contains("failed verification: sha256"),
        "{install}"
    );
    std::fs::write(&artifact, &original).expect("restore");

    let signature = context.path("distribution/packages/aws_prov_1.0.0.tar.minisig");
    let text = std::fs::read_to_string(&signature).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // The signature line: change one base64 character in the middle of the signature.
    let line = &mut lines[1];
    let flipped = if line.as_bytes()[40] == b'A' {
        "B"
    } else {
        "A"
    };
    line.replace_range(40..41, flipped);
    std::fs::write(&signature, lines.join("\n") + "\n").expect("write");
    let run = context.run(["pack", "verify", "aws_prov@1.0.0"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("signature: "), "{run}");
    let install = context.run([
        "providers",
        "install",
        "aws",
        "homelab",
        "--version",
        "1.0.0",
        "--allow-unsigned",
    ]);
    assert_eq!(
        install.code, 1,
        "a bad signature is refused even with --allow-unsigned: {install}"
    );
}

#[test]
fn a_signature_replayed_for_another_version_is_refused() {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "provider", "local"]).success();
    // A registry that claims the very bytes and signature of 0.2.0 are 0.3.0.
    let packages = context.path("distribution/packages");
    std::fs::copy(
        packages.join("local_prov_0.2.0.tar"),
        packages.join("local_prov_0.3.0.tar"),
    )
    .expect("copy");
    std::fs::copy(
        packages.join("local_prov_0.2.0.tar.minisig"),
        packages.join("local_prov_0.3.0.tar.minisig"),
    )
    .expect("copy");
    let mut metadata: serde_json::Value =
        serde_json::from_str(&context.read("distribution/registry/local_prov.json")).expect("json");
    let mut forged = metadata["versions"][0].clone();
    forged["version"] = "0.3.0".into();
    forged["package_file"] = "local_prov_0.3.0.tar".into();
    forged["signature"] = "local_prov_0.3.0.tar.minisig".into();
    metadata["versions"]
        .as_array_mut()
        .expect("array")
        .push(forged);
    context.write(
        "distribution/registry/local_prov.json",
        &serde_json::to_string_pretty(&metadata).expect("json"),
    );
    let run = context.run([
        "providers",
        "install",
        "local",
        "homelab",
        "--version",
        "0.3.0",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("was made for `local_prov` 0.2.0"),
        "{run}"
    );
    assert!(
        run.stderr.contains("refusing a replayed signature"),
        "{run}"
    );
}

#[test]
fn a_trusted_comment_with_a_multibyte_character_at_the_cut_is_reported_not_a_panic() {
    // Regression: the comment's sha256 was cut at byte 12, inside `é`, and the tool panicked.
    let context = TestContext::examples();
    context.run(["pack", "provider", "local"]).success();
    let artifact = context.path("distribution/packages/local_prov_0.2.0.tar");
    team_key(&context);
    team_sign(
        &context,
        &artifact,
        "provisioning-pack module=local_prov version=0.2.0 sha256=abcdefghijké\u{1b}[2J",
    );
    context.run(["keys", "trust", "team.pub"]).success();
    let run = context.run(["pack", "verify", "local_prov@0.2.0"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("(sha256 abcdefghijké)"),
        "the comment is described, cut at a character: {run}"
    );
    assert!(
        !run.stderr.contains('\u{1b}'),
        "control characters from the signature are escaped: {run}"
    );
}

#[test]
fn metadata_with_a_short_sha256_is_an_error_not_a_panic() {
    // Regression: `pack list` sliced the first 12 characters of the recorded sha256.
    let context = TestContext::examples();
    context.run(["pack", "provider", "local"]).success();
    let metadata = context.read("distribution/registry/local_prov.json");
    let sha256 =
        crate::common::sha256_file(&context.path("distribution/packages/local_prov_0.2.0.tar"));
    context.write(
        "distribution/registry/local_prov.json",
        &metadata.replace(&sha256, "abc"),
    );
    for args in [
        &["pack", "list"][..],
        &["pack", "verify", "local_prov@0.2.0"],
    ] {
        let run = context.run(args);
        assert_eq!(run.code, 1, "{args:?}: {run}");
        assert!(
            run.stderr
                .contains("`abc` is not a sha256: expected 64 lower-case hex digits"),
            "{args:?}: {run}"
        );
    }
}
