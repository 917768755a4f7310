//! The consumer side of TUF: a release engineer's `distribution/` with TUF metadata (the tool's
//! own `registry tuf init`, and every pack signing again), served by a real static server on
//! loopback (python-tuf's own client checks the same metadata in `tuf_publish.rs`); a
//! teammate who pins its root and installs from it; and the attacks the metadata stops, each
//! refused with its own message, nothing written to the infra, and the honest registry working
//! again after each.

use std::collections::BTreeMap;
use std::path::Path;

use insta::assert_snapshot;

use crate::common::tuf::TufPublisher;
use crate::common::{Run, StaticServer, TestContext};

/// A release engineer who packs and signs the examples, `aws` in two versions, and publishes
/// TUF metadata for them.
fn release() -> (TestContext, TufPublisher) {
    let releaser = TestContext::examples().signed().packed(&[
        "core",
        "providers",
        "provider aws --version 1.1.0",
    ]);
    let publisher = TufPublisher::init(&releaser);
    (releaser, publisher)
}

/// A teammate who trusts the release key and pinned the registry's root.
fn team_pinning(releaser: &TestContext, registry: &str) -> TestContext {
    let team = TestContext::examples().trusting(releaser);
    let root = releaser.path("distribution/tuf/1.root.json");
    team.run([
        "registry",
        "tuf",
        "pin",
        registry,
        root.to_str().expect("path"),
    ])
    .success();
    team
}

use crate::http_registry::{requests_since, run};

/// Every file of the infra `infra` with its bytes (links as their targets).
fn infra_files(context: &TestContext, infra: &str) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = path
                .strip_prefix(root)
                .expect("inside")
                .display()
                .to_string();
            if entry.file_type().is_ok_and(|kind| kind.is_symlink()) {
                let target = std::fs::read_link(&path).expect("link");
                files.insert(name, target.display().to_string().into_bytes());
            } else if path.is_dir() {
                walk(&path, root, files);
            } else {
                files.insert(name, std::fs::read(&path).expect("read"));
            }
        }
    }
    let root = context.infra(infra);
    let mut files = BTreeMap::new();
    walk(&root, &root, &mut files);
    files
}

#[test]
fn pin_checks_the_root_refuses_oci_and_replaces_a_pin_only_when_asked() {
    let (releaser, mut publisher) = release();
    let team = TestContext::examples();
    let distribution = releaser.path("distribution");
    let dir = distribution.to_str().expect("path");
    let root = distribution.join("tuf/1.root.json");
    let root = root.to_str().expect("path");
    let _filters = team
        .filters()
        .literal(dir, "[DISTRIBUTION]")
        .literal(&releaser.base.display().to_string(), "[RELEASER]")
        .bind();

    let timestamp = distribution.join("tuf/timestamp.json");
    assert_snapshot!(team.run(["registry", "tuf", "pin", dir, timestamp.to_str().expect("path")]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[DISTRIBUTION]/tuf/timestamp.json` is not a TUF root signed by its own root keys: missing field `consistent_snapshot`
    hint: pin the `tuf/root.json` the registry's publisher gave you
    ");
    assert_snapshot!(team.run(["registry", "tuf", "pin", "oci://127.0.0.1:5000/provisioning", root]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `oci://127.0.0.1:5000/provisioning` is an OCI registry, and TUF metadata does not travel through OCI registries yet: a pinned root would check nothing there, so it is refused
    hint: pin a directory or static HTTP registry that serves the same packs (`provisioning pack mirror --to DIR`); docs/trust.md says why
    ");
    assert_snapshot!(team.run(["registry", "tuf", "status", dir]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[DISTRIBUTION]` has no pinned TUF root
    hint: pin it: `provisioning registry tuf pin [DISTRIBUTION] <root.json>`
    ");

    assert_snapshot!(team.run(["registry", "tuf", "pin", dir, root]), @"
    exit: 0
    --- stdout
    --- stderr
          Pinned the TUF root of `[DISTRIBUTION]` (version 1): every read from it is now checked against its TUF metadata
    ");
    assert_snapshot!(team.run(["registry", "tuf", "pin", dir, root]), @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged `[DISTRIBUTION]`: this TUF root (version 1) is pinned already
    ");
    publisher.rotate(&releaser, "root");
    let rotated = distribution.join("tuf/2.root.json");
    let rotated = rotated.to_str().expect("path");
    assert_snapshot!(team.run(["registry", "tuf", "pin", dir, rotated]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[DISTRIBUTION]` has another TUF root pinned already
    hint: `provisioning registry tuf status [DISTRIBUTION]` shows it; `--force` replaces it (and forgets the metadata trusted under it)
    ");
    team.run(["registry", "tuf", "pin", dir, rotated, "--force"])
        .success();

    let status = team.run(["registry", "tuf", "status", "--format", "json"]);
    status.success();
    let status: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    assert_eq!(status[0]["registry"], dir);
    assert_eq!(status[0]["roles"][0]["role"], "root");
    assert_eq!(status[0]["roles"][0]["version"], 2);
    assert_eq!(status[0]["verified_at"], serde_json::Value::Null);
}

#[test]
fn a_pinned_http_registry_is_verified_once_and_a_warm_sync_makes_no_request() {
    let (releaser, _publisher) = release();
    let mut server = StaticServer::start(&releaser.path("distribution"));
    let team = team_pinning(&releaser, &server.url());

    let installed = run(
        &server,
        &team,
        &["providers", "install", "aws", "wuji", "--version", "1.0.0"],
    );
    let _filters = team.filters().bind();
    assert_snapshot!(installed, @"
    exit: 0
    --- stdout
    --- stderr
       Installed `aws_prov` 1.0.0 into `wuji` (pack from `[REGISTRY]`, signed by [KEY])
        Vendored provisioning_core 0.1.0 (required by aws_prov)
    ");
    assert_snapshot!(requests_since(&server, 0), @"
    GET /tuf/2.root.json 404
    GET /tuf/timestamp.json 200
    GET /tuf/snapshot.json 200
    GET /tuf/targets.json 200
    GET /registry/aws_prov.json 200
    GET /packages/aws_prov_1.0.0.tar 200
    GET /packages/aws_prov_1.0.0.tar.minisig 200
    GET /registry/provisioning_core.json 200
    GET /packages/provisioning_core_0.1.0.tar 200
    GET /packages/provisioning_core_0.1.0.tar.minisig 200
    ");
    let seen = server.requests().len();

    // A module record the cache holds as the targets record it costs no request.
    assert_snapshot!(run(&server, &team, &["registry", "list"]), @"
    exit: 0
    --- stdout
    MODULE             VERSION
    aws_prov           1.0.0
    aws_prov           1.1.0
    local_prov         0.2.0
    provisioning_core  0.1.0
    upcloud_prov       0.0.1
    --- stderr
    ");
    // (Read concurrently, so in any order: sorted here.)
    let mut listed = server.requests()[seen..].to_vec();
    listed.sort();
    assert_snapshot!(listed.join("\n"), @"
    GET /registry/local_prov.json 200
    GET /registry/upcloud_prov.json 200
    GET /tuf/2.root.json 404
    GET /tuf/timestamp.json 200
    ");
    let seen = server.requests().len();

    // A teammate after `git pull`: the pack is in the cache, its bytes in the last trusted
    // targets, so sync asks for nothing at all.
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    run(&server, &team, &["providers", "sync", "wuji"]).success();
    assert_eq!(
        requests_since(&server, seen),
        "",
        "a warm sync makes no request"
    );

    let status = team.run(["registry", "tuf", "status"]);
    let _filters = team
        .filters()
        .literal(&server.url(), "[REGISTRY]")
        .sha256()
        .tuf()
        .bind();
    assert_snapshot!(status, @"
    exit: 0
    --- stdout
    REGISTRY                ROLE       VERSION  EXPIRES               KEY IDS
    [REGISTRY]  root       1        [TIME]  [KEYID]
    [REGISTRY]  timestamp  1        [TIME]  [KEYID]
    [REGISTRY]  snapshot   1        [TIME]  [KEYID]
    [REGISTRY]  targets    1        [TIME]  [KEYID]
    --- stderr
    ");

    // Offline, the last trusted metadata, and how old it is.
    server.stop();
    let offline = run(
        &server,
        &team,
        &["--offline", "providers", "outdated", "wuji"],
    );
    assert_snapshot!(offline, @"
    exit: 0
    --- stdout
    MODULE             PINNED  REQUIREMENT      MATCHING  NEWEST  WHY
    aws_prov           1.0.0   =1.0.0           1.0.0     1.1.0   the requirement =1.0.0 excludes 1.1.0
    provisioning_core  0.1.0   ^0.1 (aws_prov)  0.1.0     0.1.0   up to date
    --- stderr
    warning: `--offline`: using the TUF metadata of `[REGISTRY]` verified less than a minute ago
    ");
}

/// Runs `args` expecting a refusal that leaves the infra `homelab` as it was, and gives the run.
fn refused(server: &StaticServer, team: &TestContext, args: &[&str]) -> Run {
    let before = infra_files(team, "homelab");
    let refused = run(server, team, args);
    assert_eq!(refused.code, 1, "{refused}");
    assert_eq!(
        infra_files(team, "homelab"),
        before,
        "nothing written: {refused}"
    );
    refused
}

/// The honest registry still works: the teammate lists it.
fn honest(server: &StaticServer, team: &TestContext) {
    run(server, team, &["registry", "list"]).success();
}

const INSTALL_12: &[&str] = &[
    "providers",
    "install",
    "aws",
    "homelab",
    "--version",
    "1.2.0",
];

#[test]
fn replayed_stale_and_mixed_metadata_is_refused_naming_the_attack() {
    let (releaser, publisher) = release();
    let distribution = releaser.path("distribution");
    let server = StaticServer::start(&distribution);
    let team = team_pinning(&releaser, &server.url());
    run(
        &server,
        &team,
        &["providers", "install", "aws", "wuji", "--version", "1.0.0"],
    )
    .success();
    let old_metadata = publisher.keep();
    let old_record = std::fs::read(distribution.join("registry/aws_prov.json")).expect("read");
    releaser
        .run(["pack", "provider", "aws", "--version", "1.2.0"])
        .success();
    let new_metadata = publisher.keep();
    let new_record = std::fs::read(distribution.join("registry/aws_prov.json")).expect("read");
    run(&server, &team, &["providers", "outdated", "wuji"]).success();
    let _filters = team
        .filters()
        .literal(&server.url(), "[REGISTRY]")
        .short_sha256()
        .bind();

    // Rollback: yesterday's timestamp, snapshot and targets, which know no 1.2.0.
    let roles = ["timestamp.json", "snapshot.json", "targets.json"];
    publisher.put_back(&old_metadata, &roles);
    assert_snapshot!(refused(&server, &team, INSTALL_12), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.2.0 into `homelab`
      caused by: rollback attack refused: `[REGISTRY]` serves timestamp metadata version 1, older than version 2 trusted before
    hint: the registry (or a mirror, a proxy) serves old metadata; `provisioning registry tuf status [REGISTRY]` shows what is trusted
    ");
    publisher.put_back(&new_metadata, &roles);
    honest(&server, &team);

    // Mix-and-match: the record of before 1.2.0, with the current metadata (a teammate whose
    // cache does not hold the current record yet).
    let fresh = team_pinning(&releaser, &server.url());
    std::fs::write(distribution.join("registry/aws_prov.json"), &old_record).expect("write");
    assert_snapshot!(refused(&server, &fresh, INSTALL_12), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.2.0 into `homelab`
      caused by: mix-and-match or tampering refused: `registry/aws_prov.json` from `[REGISTRY]` is 1325 bytes where 1830 are recorded, not what its targets metadata records
    hint: the registry serves a file its signed metadata does not describe; the files were not published together, or were changed after signing
    ");
    std::fs::write(distribution.join("registry/aws_prov.json"), &new_record).expect("write");
    honest(&server, &fresh);

    // A record changed without signing it again (a version unyanked, a hash swapped...).
    let record = distribution.join("registry/upcloud_prov.json");
    let honest_record = std::fs::read(&record).expect("read");
    let changed = String::from_utf8(honest_record.clone())
        .expect("utf-8")
        .replacen("\"license\": \"", "\"license\": \"GPL-or-", 1);
    std::fs::write(&record, changed).expect("write");
    let upcloud = [
        "providers",
        "install",
        "upcloud",
        "homelab",
        "--version",
        "0.0.1",
    ];
    // (`fresh` holds the honest record, as verified: it would not ask for it again.)
    let another = team_pinning(&releaser, &server.url());
    assert_snapshot!(refused(&server, &another, &upcloud), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 0.0.1 into `homelab`
      caused by: mix-and-match or tampering refused: `registry/upcloud_prov.json` from `[REGISTRY]` is longer than the 841 bytes recorded (endless data?), not what its targets metadata records
    hint: the registry serves a file its signed metadata does not describe; the files were not published together, or were changed after signing
    ");
    std::fs::write(&record, &honest_record).expect("write");
    honest(&server, &another);

    // An artifact swapped for other bytes of the same length.
    let artifact = distribution.join("packages/local_prov_0.2.0.tar");
    let honest_bytes = std::fs::read(&artifact).expect("read");
    let mut swapped = honest_bytes.clone();
    swapped[600] ^= 0x20;
    std::fs::write(&artifact, &swapped).expect("write");
    let local = [
        "providers",
        "install",
        "local",
        "homelab",
        "--version",
        "0.2.0",
    ];
    let _filters = team
        .filters()
        .literal(&server.url(), "[REGISTRY]")
        .short_sha256()
        .bind();
    assert_snapshot!(refused(&server, &fresh, &local), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `homelab`
      caused by: mix-and-match or tampering refused: `packages/local_prov_0.2.0.tar` from `[REGISTRY]` does not match its digest (its bytes hash to sha256:9ce604facfcc…), not what its targets metadata records
    hint: the registry serves a file its signed metadata does not describe; the files were not published together, or were changed after signing
    ");
    std::fs::write(&artifact, &honest_bytes).expect("write");
    run(&server, &fresh, &local).success();
}

#[test]
fn an_expired_timestamp_is_a_freeze_and_rotated_keys_are_followed() {
    let (releaser, mut publisher) = release();
    let server = StaticServer::start(&releaser.path("distribution"));
    let team = team_pinning(&releaser, &server.url());
    honest(&server, &team);
    let _filters = team
        .filters()
        .literal(&server.url(), "[REGISTRY]")
        .sha256()
        .tuf()
        .bind();

    // Freeze: a timestamp signed to expire at once.
    publisher.refresh(&releaser, Some("0"));
    assert_snapshot!(refused(&server, &team, INSTALL_12), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.2.0 into `homelab`
      caused by: freeze attack refused: the timestamp metadata of `[REGISTRY]` expired at [TIME]
    hint: `provisioning registry tuf status [REGISTRY]` shows each role's expiry; its publisher re-signs with `provisioning registry tuf refresh`
    ");
    publisher.refresh(&releaser, None);
    honest(&server, &team);

    // The timestamp key rotated: the client follows the new root; a timestamp signed by the
    // retired key is refused.
    let signed_by_retired = publisher.keep();
    publisher.rotate(&releaser, "timestamp");
    honest(&server, &team);
    let rotated = publisher.keep();
    publisher.put_back(&signed_by_retired, &["timestamp.json"]);
    assert_snapshot!(refused(&server, &team, INSTALL_12), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.2.0 into `homelab`
      caused by: signature threshold not met: the timestamp metadata of `[REGISTRY]` has 0 valid signature(s) of the 1 needed, from the keys `[SHA256]`
    hint: metadata signed by a retired or unknown key is refused; `provisioning registry tuf status [REGISTRY]` shows the trusted keys
    ");
    publisher.put_back(&rotated, &["timestamp.json"]);
    honest(&server, &team);

    // The root key rotated: the new root is signed by the old key and the new one.
    publisher.rotate(&releaser, "root");
    honest(&server, &team);
    let status = team.run(["registry", "tuf", "status", "--format", "json"]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    assert_eq!(status[0]["roles"][0]["version"], 3, "{status}");
}

#[test]
fn a_pinned_directory_registry_is_checked_too() {
    let (releaser, _publisher) = release();
    let distribution = releaser.path("distribution");
    let dir = distribution.to_str().expect("path");
    let team = team_pinning(&releaser, dir);
    let install = |args: &[&str]| {
        let mut full = vec!["--registry", dir];
        full.extend(args);
        team.run(full)
    };
    install(&["providers", "install", "aws", "wuji", "--version", "1.0.0"]).success();
    let record = distribution.join("registry/upcloud_prov.json");
    let honest_record = std::fs::read(&record).expect("read");
    std::fs::write(&record, [&honest_record[..], b" "].concat()).expect("write");
    let _filters = team.filters().literal(dir, "[DISTRIBUTION]").bind();
    let before = infra_files(&team, "homelab");
    assert_snapshot!(install(&["providers", "install", "upcloud", "homelab", "--version", "0.0.1"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 0.0.1 into `homelab`
      caused by: mix-and-match or tampering refused: `registry/upcloud_prov.json` from `[DISTRIBUTION]` is longer than the 841 bytes recorded (endless data?), not what its targets metadata records
    hint: the registry serves a file its signed metadata does not describe; the files were not published together, or were changed after signing
    ");
    assert_eq!(infra_files(&team, "homelab"), before);
    std::fs::write(&record, &honest_record).expect("write");
    install(&[
        "providers",
        "install",
        "upcloud",
        "homelab",
        "--version",
        "0.0.1",
    ])
    .success();
}
