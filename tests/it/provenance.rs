//! The provenance of packs (`<module>_<version>.intoto.jsonl`): its DSSE signature checked by an
//! independent Ed25519 implementation (PyNaCl, libsodium's), its subject and SLSA fields,
//! `pack verify --provenance | --rebuild`, and yank reasons.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::common::{TestContext, sha256_file};

const PROVENANCE: &str = "distribution/packages/aws_prov_1.0.0.intoto.jsonl";
const ARTIFACT: &str = "distribution/packages/aws_prov_1.0.0.tar";

/// Verifies the envelope at `path` with PyNaCl: the signature over DSSE's PAE encoding by the
/// raw Ed25519 key inside the minisign public key `public` (a `.pub` file's text), and that
/// `keyid` is the minisign key id. Prints the statement (the decoded payload).
fn independently_verified(path: &std::path::Path, public: &str) -> serde_json::Value {
    const SCRIPT: &str = r#"
import base64, json, sys
from nacl.signing import VerifyKey
envelope = json.loads(open(sys.argv[1]).readline())
key = base64.b64decode(sys.argv[2].strip().splitlines()[1])
assert key[:2] == b"Ed", "a minisign Ed25519 key"
key_id = key[2:10][::-1].hex().upper()
payload = base64.b64decode(envelope["payload"])
ptype = envelope["payloadType"].encode()
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
[signature] = envelope["signatures"]
assert signature["keyid"] == key_id, (signature["keyid"], key_id)
VerifyKey(key[10:42]).verify(pae, base64.b64decode(signature["sig"]))
print(payload.decode())
"#;
    let output = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .arg(public)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "PyNaCl refused the envelope (pip install pynacl into the test venv):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the payload is JSON")
}

#[test]
fn provenance_is_signed_dsse_that_an_independent_ed25519_verifies() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let statement = independently_verified(&context.path(PROVENANCE), &context.public_key());
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(
        statement["subject"],
        serde_json::json!([{
            "name": "aws_prov_1.0.0.tar",
            "digest": {"sha256": sha256_file(&context.path(ARTIFACT))},
        }])
    );
    let build = &statement["predicate"]["buildDefinition"];
    assert_eq!(
        build["buildType"],
        "https://provisioning.dev/build-types/pack/v1"
    );
    let parameters = &build["externalParameters"];
    assert_eq!(parameters["module"], "aws_prov");
    assert_eq!(parameters["version"], "1.0.0");
    assert_eq!(parameters["kind"], "provider");
    // The base is not in git: the source is its path.
    let source = context.path("extensions/providers/aws/nickel");
    assert_eq!(
        parameters["source"],
        serde_json::json!({"path": source.display().to_string()})
    );
    // The source, then the dependency closure with each pack's sha256.
    let core = context.read("distribution/registry/provisioning_core.json");
    let core: serde_json::Value = serde_json::from_str(&core).expect("json");
    assert_eq!(
        build["resolvedDependencies"],
        serde_json::json!([
            {"name": "source", "uri": format!("file://{}", source.display())},
            {
                "name": "provisioning_core_0.1.0.tar",
                "digest": {"sha256": core["versions"][0]["sha256"]},
                "annotations": {"module": "provisioning_core", "version": "0.1.0"},
            },
        ])
    );
    let builder = &statement["predicate"]["runDetails"]["builder"];
    assert_eq!(
        builder["version"]["provisioning"],
        env!("CARGO_PKG_VERSION")
    );
    // The registry metadata names it.
    let metadata: serde_json::Value =
        serde_json::from_str(&context.read("distribution/registry/aws_prov.json")).expect("json");
    assert_eq!(
        metadata["versions"][0]["provenance"],
        "aws_prov_1.0.0.intoto.jsonl"
    );
}

#[test]
fn provenance_in_git_records_the_commit_and_a_dirty_tree() {
    let context = TestContext::examples().signed();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&context.base)
            .output()
            .expect("git runs");
        assert!(status.status.success(), "git {args:?}");
        String::from_utf8_lossy(&status.stdout).trim().to_owned()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "examples"]);
    let commit = git(&["rev-parse", "HEAD"]);
    let context = context.packed(&["core", "provider aws"]);
    let statement = independently_verified(&context.path(PROVENANCE), &context.public_key());
    let source = &statement["predicate"]["buildDefinition"]["externalParameters"]["source"];
    assert_eq!(
        source["git"],
        serde_json::json!({
            "repository": context.base.display().to_string(),
            "commit": commit,
            "directory": "extensions/providers/aws/nickel",
            "dirty": false,
        })
    );
    // An edit not committed: the tree is dirty, and a rebuild from the recorded commit (the
    // repository is at hand) still gives the published bytes.
    let defaults = "extensions/providers/aws/nickel/defaults.ncl";
    context.write(defaults, &format!("{}\n", context.read(defaults)));
    let rebuilt = context.run(["pack", "verify", "--rebuild", "aws_prov@1.0.0"]);
    rebuilt.success();
    assert!(
        rebuilt.stdout.contains(&format!(
            "reproducible: identical (rebuilt from commit {commit}"
        )),
        "{rebuilt}"
    );
    context
        .run(["pack", "provider", "aws", "--version", "1.0.1"])
        .success();
    let statement = independently_verified(
        &context.path("distribution/packages/aws_prov_1.0.1.intoto.jsonl"),
        &context.public_key(),
    );
    assert_eq!(
        statement["predicate"]["buildDefinition"]["externalParameters"]["source"]["git"]["dirty"],
        true
    );
}

#[test]
fn pack_verify_provenance_prints_source_and_builder() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let verified = context.run_keyed(["pack", "verify", "--provenance", "aws_prov@1.0.0"]);
    verified.success();
    // The recorded path is absolute, under the test's base.
    assert!(
        verified
            .stderr
            .contains("Source `[BASE]/extensions/providers/aws/nickel` (not in git)"),
        "{verified}"
    );
    assert!(
        verified.stderr.contains(&format!(
            "Builder provisioning {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{verified}"
    );
    assert!(
        verified.stdout.contains("provenance") && verified.stdout.contains("signed by key [KEY]"),
        "{verified}"
    );
}

/// Rewrites the provenance file's envelope with `change`.
fn tamper(context: &TestContext, change: impl FnOnce(&mut serde_json::Value)) {
    let mut envelope: serde_json::Value =
        serde_json::from_str(&context.read(PROVENANCE)).expect("json");
    change(&mut envelope);
    context.write(PROVENANCE, &format!("{envelope}\n"));
}

#[test]
fn pack_verify_provenance_refuses_a_changed_foreign_misplaced_or_missing_envelope() {
    let context = TestContext::examples().signed().packed(&[
        "core",
        "provider aws",
        "provider aws --version 2.0.0",
    ]);
    let original = context.read(PROVENANCE);
    let verify = || context.run_keyed(["pack", "verify", "--provenance", "aws_prov@1.0.0"]);

    // The statement changed after signing.
    tamper(&context, |envelope| {
        let payload = STANDARD
            .decode(envelope["payload"].as_str().expect("payload"))
            .expect("base64");
        let changed = String::from_utf8(payload)
            .expect("utf-8")
            .replace("\"kind\":\"provider\"", "\"kind\":\"cluster\"");
        envelope["payload"] = STANDARD.encode(changed).into();
    });
    let changed = verify();
    assert_eq!(changed.code, 1, "{changed}");
    assert!(
        changed.stderr.contains(
            "provenance: the signature of `aws_prov_1.0.0.intoto.jsonl` by key [KEY] does not match its statement: it was changed after signing"
        ),
        "{changed}"
    );

    // Signed by a key nobody trusts.
    context.write(PROVENANCE, &original);
    tamper(&context, |envelope| {
        envelope["signatures"][0]["keyid"] = "0123456789ABCDEF".into();
    });
    let foreign = verify();
    assert_eq!(foreign.code, 1, "{foreign}");
    assert!(
        foreign
            .stderr
            .contains("provenance: `aws_prov_1.0.0.intoto.jsonl` is signed only by keys that are not trusted: 0123456789ABCDEF"),
        "{foreign}"
    );

    // The provenance of another version, put in its place.
    context.write(
        PROVENANCE,
        &context.read("distribution/packages/aws_prov_2.0.0.intoto.jsonl"),
    );
    let misplaced = verify();
    assert_eq!(misplaced.code, 1, "{misplaced}");
    assert!(
        misplaced
            .stderr
            .contains("is about `aws_prov_2.0.0.tar` with sha256"),
        "{misplaced}"
    );
    assert!(
        misplaced
            .stderr
            .contains("not about `aws_prov_1.0.0.tar` with sha256"),
        "{misplaced}"
    );

    // None at all.
    std::fs::remove_file(context.path(PROVENANCE)).expect("rm");
    let missing = verify();
    assert_eq!(missing.code, 1, "{missing}");
    assert!(
        missing
            .stderr
            .contains("`aws_prov` 1.0.0 has no provenance (`aws_prov_1.0.0.intoto.jsonl`)"),
        "{missing}"
    );
}

#[test]
fn pack_verify_rebuild_is_identical_then_names_the_edited_file() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let rebuilt = context.run(["pack", "verify", "--rebuild", "aws_prov@1.0.0"]);
    rebuilt.success();
    assert!(
        rebuilt.stdout.contains("reproducible: identical"),
        "{rebuilt}"
    );
    let file = "extensions/providers/aws/nickel/server_aws.ncl";
    context.write(file, &format!("{}\n# edited\n", context.read(file)));
    let edited = context.run(["pack", "verify", "--rebuild", "aws_prov@1.0.0"]);
    assert_eq!(edited.code, 1, "{edited}");
    assert!(
        edited
            .stderr
            .contains("rebuild: not reproducible: `server_aws.ncl` differs"),
        "{edited}"
    );
    // `--source` rebuilds from another directory: a copy of the unchanged source.
    let copy = context.path("copy");
    crate::common::copy_tree(&context.path("extensions/providers/aws/nickel"), &copy);
    context.write(
        "copy/server_aws.ncl",
        &context.read(file).replace("\n# edited\n", ""),
    );
    let from_copy = context.run([
        "pack",
        "verify",
        "--rebuild",
        "aws_prov@1.0.0",
        "--source",
        "copy",
    ]);
    from_copy.success();
    assert!(
        from_copy
            .stdout
            .contains("reproducible: identical (rebuilt from `copy`)"),
        "{from_copy}"
    );
}

#[test]
fn yank_reason_is_recorded_and_outdated_shows_it() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"])
        .installed("wuji", &["aws@1.0.0"]);
    let yanked = context.run([
        "pack",
        "yank",
        "aws_prov@1.0.0",
        "--reason",
        "GHSA-1234: leaks credentials",
    ]);
    yanked.success();
    assert!(
        yanked.stderr.contains("(GHSA-1234: leaks credentials)"),
        "{yanked}"
    );
    let metadata: serde_json::Value =
        serde_json::from_str(&context.read("distribution/registry/aws_prov.json")).expect("json");
    assert_eq!(
        metadata["versions"][0]["yank_reason"],
        "GHSA-1234: leaks credentials"
    );
    let outdated = context.run(["providers", "outdated", "wuji"]);
    assert!(
        outdated
            .stdout
            .contains("the pinned version is yanked: GHSA-1234: leaks credentials"),
        "{outdated}"
    );
    // Restored, the reason goes with the yank.
    context
        .run(["pack", "yank", "aws_prov@1.0.0", "--undo"])
        .success();
    let metadata: serde_json::Value =
        serde_json::from_str(&context.read("distribution/registry/aws_prov.json")).expect("json");
    assert!(metadata["versions"][0].get("yank_reason").is_none());
}

#[test]
fn pack_verify_provenance_through_a_static_http_registry() {
    let releaser = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let server = crate::common::StaticServer::start(&releaser.path("distribution"));
    // A teammate with nothing packed locally, who trusts the release key.
    let team = TestContext::examples().trusting(&releaser);
    let url = server.url();
    let output = team
        .command()
        .args([
            "--registry",
            &url,
            "pack",
            "verify",
            "--provenance",
            "aws_prov@1.0.0",
        ])
        .output()
        .expect("runs");
    let verified = crate::common::Run::from_output(output, &team.base, &[(&url, "[REGISTRY]")]);
    verified.success();
    assert!(
        verified.stderr.contains("Builder provisioning"),
        "{verified}"
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|request| request == "GET /packages/aws_prov_1.0.0.intoto.jsonl 200"),
        "{:?}",
        server.requests()
    );
}

/// Reads the provenance referrer of `repository:tag` from the registry at `host` with plain
/// HTTP (no code of ours): the manifest's digest, the `sha256-<hex>` tag of the referrers tag
/// schema (Distribution 2.x has no referrers API), the referrer it lists, its one layer.
fn referrer_over_plain_http(host: &str, repository: &str, tag: &str) -> Vec<u8> {
    const SCRIPT: &str = r#"
import hashlib, json, sys, urllib.request
host, repository, tag = sys.argv[1:4]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
def get(path, accept=None):
    request = urllib.request.Request(f"http://{host}/v2/{repository}/{path}")
    if accept:
        request.add_header("Accept", accept)
    return urllib.request.urlopen(request).read()
subject = "sha256:" + hashlib.sha256(get(f"manifests/{tag}", MANIFEST)).hexdigest()
index = json.loads(get(f"manifests/sha256-{subject[7:]}", "application/vnd.oci.image.index.v1+json"))
[entry] = [m for m in index["manifests"] if m.get("artifactType") == "application/vnd.in-toto+json"]
referrer = json.loads(get(f"manifests/{entry['digest']}", MANIFEST))
assert referrer["artifactType"] == "application/vnd.in-toto+json", referrer
assert referrer["subject"]["digest"] == subject, (referrer["subject"], subject)
[layer] = referrer["layers"]
assert layer["mediaType"] == "application/vnd.in-toto+json", layer
sys.stdout.buffer.write(get(f"blobs/{layer['digest']}"))
"#;
    let output = Command::new("python3")
        .args(["-c", SCRIPT, host, repository, tag])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn provenance_round_trips_through_an_oci_registry_as_a_referrer() {
    let registry = crate::common::RegistryServer::start();
    let (releaser, public) = crate::oci::release(&registry);
    let host = format!("127.0.0.1:{}", registry.port);
    assert_eq!(
        referrer_over_plain_http(&host, "provisioning/aws_prov", "1.0.0"),
        std::fs::read(releaser.path(PROVENANCE)).expect("packed"),
    );
    // A teammate with nothing packed verifies it from the registry.
    let team = crate::oci::teammate(&public);
    let verified =
        crate::oci::client(&registry)(&team, &["pack", "verify", "--provenance", "aws_prov@1.0.0"]);
    verified.success();
    assert!(
        verified
            .stdout
            .contains("provenance    ok      signed by key"),
        "{verified}"
    );
    // Publishing again adds no second referrer.
    crate::oci::client(&registry)(&releaser, &["pack", "publish"]).success();
    referrer_over_plain_http(&host, "provisioning/aws_prov", "1.0.0");
}
