//! Signatures that come after their version (issue 19): a signature is not part of a version's
//! immutable bytes. Packing again with a key signs the same bytes in the local registry;
//! `pack publish` adds the signature to an OCI registry that holds the version unsigned (as a
//! referrer, read back by an independent client); a static HTTP registry serves it once the
//! directory is uploaded again. Another key's signature is kept and reported, never replaced;
//! other bytes for a version are still refused.

use insta::assert_snapshot;

use crate::common::{RegistryServer, Run, StaticServer, TestContext};
use crate::oci::client;

/// `run` with the ids of `keys` shown as `[KEY]`, `[KEY 2]`...
fn keyed(run: &Run, keys: &[&str]) -> String {
    let mut text = run.to_string();
    for (index, key) in keys.iter().enumerate() {
        let name = if index == 0 {
            "[KEY]".to_owned()
        } else {
            format!("[KEY {}]", index + 1)
        };
        text = text.replace(key, &name);
    }
    text
}

/// `text` with every `sha256-<64 hex>` as `sha256-[DIGEST]`.
fn filter_tag_digests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("sha256-") {
        let (before, after) = rest.split_at(at + "sha256-".len());
        out.push_str(before);
        let hex = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex == 64 {
            out.push_str("[DIGEST]");
            rest = &after[64..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Regression (issue 19): a version packed unsigned, then packed again after `keys generate`:
/// the same bytes get the signature, and installing it verifies.
#[test]
fn packing_again_with_a_key_adds_the_signature_to_the_same_bytes() {
    let context = TestContext::examples();
    context.run(["pack", "core"]).success();
    context.run(["pack", "provider", "local"]).success();
    let artifact = context.path("distribution/packages/local_prov_0.2.0.tar");
    let bytes = std::fs::read(&artifact).expect("packed");
    let install = [
        "providers",
        "install",
        "local",
        "homelab",
        "--version",
        "0.2.0",
    ];
    context.run(["keys", "generate"]).success();
    let key = context.key_id();
    // With a key, the hint says what signs it: packing again, not generating a key.
    assert_snapshot!(context.run(install), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `homelab`
      caused by: `local_prov` 0.2.0 failed verification: signature: the artifact is not signed
    hint: pack it again to sign it with your key: `provisioning pack provider local`, or pass `--allow-unsigned=local` to accept it unsigned
    ");
    let verify = context.run(["pack", "verify", "local_prov@0.2.0"]);
    assert_eq!(verify.code, 1, "{verify}");
    assert!(
        verify
            .stderr
            .contains("hint: pack it again to sign it with your key"),
        "{verify}"
    );
    let signed = context.run(["pack", "provider", "local"]);
    assert_snapshot!(keyed(&signed, &[&key]), @"
    exit: 0
    --- stdout
    --- stderr
          Signed `local_prov` 0.2.0 → `distribution/packages/local_prov_0.2.0.tar` (5.50 KiB, sha256 07aedecd33a3, added the signature of key [KEY], the bytes are unchanged)
    ");
    assert_eq!(std::fs::read(&artifact).expect("still there"), bytes);
    let metadata: serde_json::Value =
        serde_json::from_str(&context.read("distribution/registry/local_prov.json")).expect("json");
    assert_eq!(metadata["versions"][0]["signer"], key.as_str());
    assert_eq!(
        metadata["versions"][0]["signature"],
        "local_prov_0.2.0.tar.minisig"
    );
    assert!(
        context
            .path("distribution/packages/local_prov_0.2.0.tar.minisig")
            .is_file()
    );
    context.run(install).success();
    // Again: nothing to add.
    let again = context.run(["pack", "provider", "local"]);
    assert_snapshot!(keyed(&again, &[&key]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged `local_prov` 0.2.0 → `distribution/packages/local_prov_0.2.0.tar` (5.50 KiB, sha256 07aedecd33a3, signed by [KEY])
    ");
}

/// A copy taken before the signature came is unsigned; the hint names where the same bytes are
/// signed.
#[test]
fn an_unsigned_copy_of_bytes_signed_since_points_at_the_signed_ones() {
    let context = TestContext::examples();
    context.run(["pack", "core"]).success();
    context.run(["pack", "provider", "local"]).success();
    std::fs::create_dir_all(context.path("downloads")).expect("mkdir");
    std::fs::copy(
        context.path("distribution/packages/local_prov_0.2.0.tar"),
        context.path("downloads/local_prov_0.2.0.tar"),
    )
    .expect("copy");
    let from = [
        "providers",
        "install",
        "local",
        "homelab",
        "--from",
        "downloads/local_prov_0.2.0.tar",
    ];
    assert_snapshot!(context.run(from), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `homelab`
      caused by: `downloads/local_prov_0.2.0.tar` (`local_prov` 0.2.0) failed verification: signature: the artifact is not signed
    hint: a signed artifact comes with its signature beside it (`local_prov_0.2.0.tar.minisig`): get it from where the artifact came from, or pass `--allow-unsigned=local` to accept it unsigned
    ");
    context.run(["keys", "generate"]).success();
    context.run(["pack", "core"]).success();
    context.run(["pack", "provider", "local"]).success();
    assert_snapshot!(context.run(from), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `homelab`
      caused by: `downloads/local_prov_0.2.0.tar` (`local_prov` 0.2.0) failed verification: signature: the artifact is not signed
    hint: `distribution/registry` holds the same bytes signed: install from there, without `--from`, or pass `--allow-unsigned=local` to accept it unsigned
    ");
}

#[test]
fn packing_again_with_another_key_keeps_the_signature_and_says_so() {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "provider", "local"]).success();
    let first = context.key_id();
    let signature = context.read("distribution/packages/local_prov_0.2.0.tar.minisig");
    context.run(["keys", "generate", "--force"]).success();
    let second = context.key_id();
    let again = context.run(["pack", "provider", "local"]);
    assert_snapshot!(keyed(&again, &[&first, &second]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged `local_prov` 0.2.0 → `distribution/packages/local_prov_0.2.0.tar` (5.50 KiB, sha256 07aedecd33a3, signed by [KEY])
    warning: kept the signature of `local_prov` 0.2.0 by key [KEY]: your key [KEY 2] did not replace it
    hint: pass `--force` to sign it with your key instead
    ");
    assert_eq!(
        context.read("distribution/packages/local_prov_0.2.0.tar.minisig"),
        signature
    );
    // Other bytes for the version are still refused.
    context.write("extensions/providers/local/nickel/extra.ncl", "{}");
    let changed = context.run(["pack", "provider", "local"]);
    assert_eq!(changed.code, 1, "{changed}");
    assert!(
        changed.stderr.contains("packed versions are immutable"),
        "{changed}"
    );
}

/// Regression (issue 19): `pack publish` of a version the registry holds unsigned, signed
/// locally since, said "already there" and the registry kept serving it unsigned.
#[test]
fn a_signature_published_after_its_version_is_added_as_a_referrer() {
    let registry = RegistryServer::start();
    let run = client(&registry);
    let releaser = TestContext::examples();
    releaser.run(["pack", "core"]).success();
    releaser.run(["pack", "providers"]).success();
    run(&releaser, &["pack", "publish"]).success();
    let team = TestContext::examples();
    let install = ["providers", "install", "aws", "wuji", "--version", "1.0.0"];
    let before = team.tree("workspace");
    assert_snapshot!(run(&team, &install), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: `aws_prov` 1.0.0 failed verification: signature: the artifact is not signed
    hint: `[REGISTRY]` holds it unsigned: its publisher can add the signature later (`provisioning keys generate`, pack it again, then `provisioning pack publish aws_prov@1.0.0`), or pass `--allow-unsigned=aws` to accept it unsigned
    ");
    assert_eq!(team.tree("workspace"), before);

    releaser.run(["keys", "generate"]).success();
    let key = releaser.key_id();
    releaser.run(["pack", "core"]).success();
    releaser.run(["pack", "providers"]).success();
    let published = run(&releaser, &["pack", "publish"]);
    assert_snapshot!(keyed(&published, &[&key]), @"
    exit: 0
    --- stdout
    --- stderr
          Signed `aws_prov` 1.0.0 in `[REGISTRY]`: added the signature of key [KEY] (the published bytes are unchanged)
          Signed `local_prov` 0.2.0 in `[REGISTRY]`: added the signature of key [KEY] (the published bytes are unchanged)
          Signed `provisioning_core` 0.1.0 in `[REGISTRY]`: added the signature of key [KEY] (the published bytes are unchanged)
          Signed `upcloud_prov` 0.0.1 in `[REGISTRY]`: added the signature of key [KEY] (the published bytes are unchanged)
        Finished 0 published, 4 signatures added, 0 already there, in `[REGISTRY]`
    ");
    let again = run(&releaser, &["pack", "publish"]);
    assert_snapshot!(keyed(&again, &[&key]), @"
    exit: 0
    --- stdout
    --- stderr
        Finished 0 published, 4 already there, in `[REGISTRY]`
    ");

    // The teammate's cache holds the pack unsigned: the signature is found all the same.
    let public = releaser.run(["keys", "public"]).stdout;
    team.write("release.pub", &public);
    team.run(["keys", "trust", "release.pub"]).success();
    let installed = run(&team, &install);
    installed.success();
    assert!(
        installed.stderr.contains(&format!(
            "Installed `aws_prov` 1.0.0 into `wuji` (pack from `[REGISTRY]`, signed by {key})"
        )),
        "{installed}"
    );
    // And offline, from the cache.
    let offline = run(
        &team,
        &[
            "--offline",
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "1.0.0",
        ],
    );
    offline.success();
    assert_snapshot!(
        keyed(&run(&team, &["--offline", "pack", "verify", "aws_prov@1.0.0"]), &[&key]),
        @"
    exit: 0
    --- stdout
    CHECK         STATUS  DETAIL
    size          ok      9216
    sha256        ok      a1e6981c291bd2c354fd53c974941a7e62207c3593bac2b37a216b30f0922485
    content hash  ok      h1:aYJDcvNaVg74mmvLBeGqU1KJ8WPd0ELWE3yBNxjLzCw=
    signature     ok      signed by key [KEY] (trusted with `keys trust`)
    --- stderr
        Verified `aws_prov` 1.0.0: signed by key [KEY] (trusted with `keys trust`)
    "
    );

    // An independent client finds the referrer, through the tag schema on this registry.
    let out = tempfile::tempdir().expect("temp dir");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oci_referrers.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(format!("127.0.0.1:{}", registry.port))
        .arg("provisioning/aws_prov")
        .arg("1.0.0")
        .arg(out.path())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found = String::from_utf8_lossy(&output.stdout).replace(&key, "[KEY]");
    // The pack manifest's digest depends on when it was packed.
    let found = filter_tag_digests(&found);
    assert_snapshot!(found, @r#"
    {
      "referrers_api": 404,
      "via": "tag sha256-[DIGEST]",
      "layer_media_type": "application/vnd.provisioning.pack.signature.v1.minisig",
      "signer": "[KEY]",
      "file": "aws_prov_1.0.0.tar.minisig"
    }
    "#);
    assert_eq!(
        std::fs::read(out.path().join("aws_prov_1.0.0.tar.minisig")).expect("pulled"),
        std::fs::read(releaser.path("distribution/packages/aws_prov_1.0.0.tar.minisig"))
            .expect("signed locally")
    );

    // Another key's signature of the same bytes is kept, and said.
    let other = TestContext::examples();
    other.run(["keys", "generate"]).success();
    let other_key = other.key_id();
    other.run(["pack", "core"]).success();
    other.run(["pack", "provider", "aws"]).success();
    let refused = run(&other, &["pack", "publish", "aws_prov"]);
    assert_snapshot!(keyed(&refused, &[&key, &other_key]), @"
    exit: 0
    --- stdout
    --- stderr
    warning: `[REGISTRY]` keeps `aws_prov` 1.0.0 signed by key [KEY]: your signature (key [KEY 2]) was not published
    hint: a published signature is never replaced; whoever installs it must trust key [KEY] (`provisioning keys trust <public key>`)
        Finished 0 published, 0 already there, 1 signed there by another key, in `[REGISTRY]`
    ");

    // Other bytes for a published version are still refused.
    releaser.write("extensions/providers/aws/nickel/extra.ncl", "{}");
    releaser
        .run(["pack", "provider", "aws", "--force"])
        .success();
    let changed = run(&releaser, &["pack", "publish", "aws_prov"]);
    assert_eq!(changed.code, 1, "{changed}");
    assert!(
        changed.stderr.contains("published versions are immutable"),
        "{changed}"
    );
}

/// A version published signed (the signature a layer of its manifest, as before referrers) by
/// one key, published again by another: kept, and reported with both keys.
#[test]
fn a_registry_signature_by_another_key_is_reported_not_replaced() {
    let registry = RegistryServer::start();
    let (releaser, _) = crate::oci::release(&registry);
    let key = releaser.key_id();
    let run = client(&registry);
    let other = TestContext::examples();
    other.run(["keys", "generate"]).success();
    let other_key = other.key_id();
    other.run(["pack", "core"]).success();
    other.run(["pack", "provider", "upcloud"]).success();
    let published = run(
        &other,
        &["pack", "publish", "upcloud_prov", "--format", "json"],
    );
    assert_snapshot!(keyed(&published, &[&key, &other_key]), @r#"
    exit: 0
    --- stdout
    [
      {
        "module": "upcloud_prov",
        "version": "0.0.1",
        "result": "signed_by_another_key",
        "registry_signer": "[KEY]",
        "error": null
      }
    ]
    --- stderr
    warning: `[REGISTRY]` keeps `upcloud_prov` 0.0.1 signed by key [KEY]: your signature (key [KEY 2]) was not published
    hint: a published signature is never replaced; whoever installs it must trust key [KEY] (`provisioning keys trust <public key>`)
        Finished 0 published, 0 already there, 1 signed there by another key, in `[REGISTRY]`
    "#);
}

/// A signature added to the `distribution/` a static host serves reaches a teammate whose
/// cache holds the pack unsigned; the artifact is not downloaded again.
#[test]
fn a_static_registry_serves_a_signature_added_later() {
    let releaser = TestContext::examples();
    releaser.run(["pack", "core"]).success();
    releaser.run(["pack", "providers"]).success();
    let server = StaticServer::start(&releaser.path("distribution"));
    let url = server.url();
    let team = TestContext::examples();
    let run = |args: &[&str]| {
        let output = team
            .command()
            .arg("--registry")
            .arg(&url)
            .args(args)
            .output()
            .expect("runs");
        Run::from_output(output, &team.base, &[(&url, "[REGISTRY]")])
    };
    let install = [
        "providers",
        "install",
        "upcloud",
        "wuji",
        "--version",
        "0.0.1",
    ];
    assert_snapshot!(run(&install), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 0.0.1 into `wuji`
      caused by: `upcloud_prov` 0.0.1 failed verification: signature: the artifact is not signed
    hint: `[REGISTRY]` holds it unsigned: its publisher can add the signature later (`provisioning keys generate`, pack it again, then upload the `distribution/` directory again), or pass `--allow-unsigned=upcloud` to accept it unsigned
    ");
    // Accepted unsigned once, so the teammate's cache holds it.
    run(&[
        "providers",
        "install",
        "upcloud",
        "homelab",
        "--version",
        "0.0.1",
        "--allow-unsigned",
    ])
    .success();

    releaser.run(["keys", "generate"]).success();
    let key = releaser.key_id();
    releaser.run(["pack", "core"]).success();
    releaser.run(["pack", "providers"]).success();
    team.write("release.pub", &releaser.run(["keys", "public"]).stdout);
    team.run(["keys", "trust", "release.pub"]).success();
    let since = server.requests().len();
    let installed = run(&install);
    assert_snapshot!(keyed(&installed, &[&key]), @"
    exit: 0
    --- stdout
    --- stderr
       Installed `upcloud_prov` 0.0.1 into `wuji` (pack from `[REGISTRY]`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by upcloud_prov)
    ");
    assert_snapshot!(server.requests()[since..].join("\n"), @"
    GET /registry/upcloud_prov.json 200
    GET /packages/upcloud_prov_0.0.1.tar.minisig 200
    GET /registry/provisioning_core.json 200
    GET /registry/provisioning_core.json 304
    GET /packages/provisioning_core_0.1.0.tar.minisig 200
    ");
}
