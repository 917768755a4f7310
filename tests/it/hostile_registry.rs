//! The real binary against a hostile OCI registry ([`HostileRegistry`]): a blob far longer than
//! its descriptor, a descriptor over the limit, an endless manifest, a blob shorter than its
//! descriptor, a registry that drips one byte a second, a redirect loop, garbage JSON; and
//! listings two entries a page. Each misbehaviour is refused with a precise error and exit 1,
//! in bounded time, leaving the infra as it was and nothing in the cache but verified blobs.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use insta::assert_snapshot;

use crate::common::{HostileRegistry, Run, TestContext, output_within, sha256_file};

/// How long a command may run before the harness kills it and fails the test: a guard against a
/// hang, far above what any of these takes. No test asserts a duration.
const HANG: Duration = Duration::from_secs(60);
pub(crate) const PACK: &str = "aws_prov@1.0.0";
pub(crate) const INSTALL: &[&str] = &["providers", "install", "aws", "wuji", "--version", "1.0.0"];

/// A release engineer who packed and signed `aws`, and a teammate who trusts their key and
/// has the core schemas `aws` depends on in their local registry (the test registry serves one
/// module: `aws`).
pub(crate) fn releaser_and_teammate() -> (TestContext, TestContext) {
    let releaser = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let team = TestContext::examples().trusting(&releaser);
    for file in [
        "packages/provisioning_core_0.1.0.tar",
        "packages/provisioning_core_0.1.0.tar.minisig",
        "registry/provisioning_core.json",
    ] {
        let target = team.path(&format!("distribution/{file}"));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(releaser.path(&format!("distribution/{file}")), target).expect("copy");
    }
    (releaser, team)
}

/// Runs the binary in `context` with `--registry` the hostile one, and `env`.
pub(crate) fn run(
    context: &TestContext,
    registry: &HostileRegistry,
    env: &[(&str, &str)],
    args: &[&str],
) -> Run {
    run_wrapped(context, registry, env, args, std::convert::identity)
}

/// [`run`], the command passed through `wrap` first (to run it under `prlimit`).
pub(crate) fn run_wrapped(
    context: &TestContext,
    registry: &HostileRegistry,
    env: &[(&str, &str)],
    args: &[&str],
    wrap: impl FnOnce(Command) -> Command,
) -> Run {
    let mut command = context.command();
    command
        .arg("--registry")
        .arg(registry.url())
        .args(args)
        .envs(env.iter().copied());
    let host = format!("127.0.0.1:{}", registry.port);
    Run::from_output(
        output_within(wrap(command), HANG),
        &context.base,
        &[(&registry.url(), "[REGISTRY]"), (&host, "[HOST]")],
    )
}

/// `providers install aws wuji --version 1.0.0` from a registry misbehaving as `mode`, which
/// must be refused: exit 1, the infra as it was, nothing in the cache but verified blobs.
fn refused_install(mode: &str) -> (Run, HostileRegistry) {
    let (releaser, team) = releaser_and_teammate();
    let registry = HostileRegistry::start(mode, &releaser, PACK);
    let before = team.tree("workspace");
    let refused = run(&team, &registry, &[], INSTALL);
    assert_eq!(refused.code, 1, "{refused}");
    assert_eq!(team.tree("workspace"), before, "the infra is unchanged");
    assert_only_verified_blobs(&team.path("distribution/cache/oci"));
    (refused, registry)
}

/// The cache holds blobs named by their sha256 and nothing else: no manifest (a pack is recorded
/// only whole), no partial download.
fn assert_only_verified_blobs(cache: &Path) {
    assert!(!cache.join("refs").exists(), "no manifest is recorded");
    let blobs = cache.join("blobs/sha256");
    let Ok(entries) = std::fs::read_dir(&blobs) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert_eq!(sha256_file(&path), name, "only verified blobs are cached");
    }
}

#[test]
fn the_test_registry_behaving_serves_a_pack_that_installs() {
    let (releaser, team) = releaser_and_teammate();
    let registry = HostileRegistry::start("ok", &releaser, PACK);
    let installed = run(&team, &registry, &[], INSTALL);
    installed.success();
    assert!(
        installed
            .stderr
            .contains("Installed `aws_prov` 1.0.0 into `wuji` (pack from `[REGISTRY]`, signed by"),
        "{installed}"
    );
}

#[test]
fn a_blob_far_longer_than_its_descriptor_is_refused_without_reading_it_all() {
    let (refused, _registry) = refused_install("huge-blob");
    assert_snapshot!(refused, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[HOST]` failed to give `aws_prov` 1.0.0: its pack layer is longer than the 9216 bytes its manifest gives
    ");
}

#[test]
fn a_descriptor_over_the_limit_is_refused_before_its_blob_is_asked_for() {
    let (refused, registry) = refused_install("huge-descriptor");
    assert_snapshot!(refused, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[HOST]` failed to give `aws_prov` 1.0.0: its pack layer is 1099511627776 bytes, more than `distribution.unpack_max_bytes` (268435456)
    hint: if the pack is genuine, raise `distribution.unpack_max_bytes`
    ");
    let requests = registry.requests();
    assert!(
        requests.contains("GET /v2/team/aws_prov/manifests/1.0.0") && !requests.contains("/blobs/"),
        "the manifest is read, no blob is asked for: {requests}"
    );
}

#[test]
fn an_endless_manifest_is_refused() {
    let (refused, _registry) = refused_install("huge-manifest");
    assert_snapshot!(refused, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[HOST]` failed to give `aws_prov` 1.0.0: its manifest is larger than 4194304 bytes
    ");
}

#[test]
fn a_blob_shorter_than_its_descriptor_is_refused() {
    let (refused, _registry) = refused_install("wrong-size");
    assert_snapshot!(refused, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[HOST]` failed to give `aws_prov` 1.0.0: its pack layer ended after 9216 of the 10216 bytes its manifest gives
    ");
}

#[test]
fn a_redirect_loop_is_refused() {
    let (refused, _registry) = refused_install("redirect-loop");
    assert_snapshot!(refused, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[HOST]` failed to give `aws_prov` 1.0.0: error following redirect for url (http://[HOST]/v2/team/aws_prov/manifests/1.0.0): more than 10 redirects in a row
    ");
}

#[test]
fn garbage_json_is_refused_by_install_and_list() {
    let (refused, registry) = refused_install("garbage-json");
    assert_snapshot!(refused, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[HOST]` failed to give `aws_prov` 1.0.0: its manifest is not an OCI image manifest: expected value at line 1 column 33
    ");
    let team = TestContext::examples();
    assert_snapshot!(run(&team, &registry, &[], &["registry", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `[HOST]` failed to list its modules: the answer is not a listing: expected value at line 1 column 19
    ");
    assert_snapshot!(run(&team, &registry, &[], &["registry", "list", "aws_prov"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `[HOST]` failed to list the versions of `aws_prov`: the answer is not a listing: expected value at line 1 column 11
    ");
}

/// A registry that drips one byte a second defeats per-read timeouts; the deadline of each
/// operation stops install, publish and list alike.
#[test]
fn a_registry_dripping_bytes_meets_the_deadline() {
    let (releaser, team) = releaser_and_teammate();
    let registry = HostileRegistry::start("slow", &releaser, PACK);
    let deadline = [("PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS", "2")];
    let before = team.tree("workspace");
    let install = run(&team, &registry, &deadline, INSTALL);
    assert_snapshot!(install, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[HOST]` is too slow: fetching `aws_prov` 1.0.0 did not finish within the command's network deadline of 2 s
    hint: for a registry that is only slow, raise `distribution.network_timeout_secs` (or `PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS`)
    ");
    assert_eq!(team.tree("workspace"), before, "the infra is unchanged");
    assert_only_verified_blobs(&team.path("distribution/cache/oci"));
    let publish = run(&releaser, &registry, &deadline, &["pack", "publish", PACK]);
    assert_snapshot!(publish, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to publish `aws_prov` 1.0.0: the registry `[HOST]` is too slow: publishing `aws_prov` 1.0.0 did not finish within the command's network deadline of 2 s
    hint: for a registry that is only slow, raise `distribution.network_timeout_secs` (or `PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS`)
    error: 1 of 1 packs could not be published
    ");
    assert_snapshot!(run(&team, &registry, &deadline, &["registry", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `[HOST]` is too slow: listing its modules did not finish within the command's network deadline of 2 s
    hint: for a registry that is only slow, raise `distribution.network_timeout_secs` (or `PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS`)
    ");
}

/// Catalogs and tag lists come two entries a page, whatever `n` asks for, with no `Link`
/// header: every page is read, not the first one only.
#[test]
fn registry_list_reads_every_page() {
    let (releaser, team) = releaser_and_teammate();
    let registry = HostileRegistry::start("ok", &releaser, PACK);
    assert_snapshot!(run(&team, &registry, &[], &["registry", "list"]), @"
    exit: 0
    --- stdout
    MODULE        VERSION
    aws_prov      0.1.0
    aws_prov      0.2.0
    aws_prov      1.0.0
    aws_prov      1.1.0
    aws_prov      2.0.0
    gcp_prov      0.1.0
    gcp_prov      0.2.0
    gcp_prov      1.0.0
    gcp_prov      1.1.0
    gcp_prov      2.0.0
    hetzner_prov  0.1.0
    hetzner_prov  0.2.0
    hetzner_prov  1.0.0
    hetzner_prov  1.1.0
    hetzner_prov  2.0.0
    local_prov    0.1.0
    local_prov    0.2.0
    local_prov    1.0.0
    local_prov    1.1.0
    local_prov    2.0.0
    upcloud_prov  0.1.0
    upcloud_prov  0.2.0
    upcloud_prov  1.0.0
    upcloud_prov  1.1.0
    upcloud_prov  2.0.0
    --- stderr
    ");
    assert_snapshot!(run(&team, &registry, &[], &["registry", "list", "aws_prov", "--format", "json"]), @r#"
    exit: 0
    --- stdout
    [
      {
        "module": "aws_prov",
        "version": "0.1.0"
      },
      {
        "module": "aws_prov",
        "version": "0.2.0"
      },
      {
        "module": "aws_prov",
        "version": "1.0.0"
      },
      {
        "module": "aws_prov",
        "version": "1.1.0"
      },
      {
        "module": "aws_prov",
        "version": "2.0.0"
      }
    ]
    --- stderr
    "#);
}

/// Issue 24: a registry dripping a 700-byte manifest held `install` for the whole network
/// deadline (300 s), the per-read timeout never firing. Slower than the speed floor, the
/// transfer fails, naming the host and the floor: the error is the floor's, not the deadline's,
/// so it came long before the deadline.
#[test]
fn a_manifest_slower_than_the_speed_floor_fails_naming_the_host_and_the_floor() {
    let (releaser, team) = releaser_and_teammate();
    let registry = HostileRegistry::start("drip-manifest", &releaser, PACK);
    let floor = [("PROVISIONING_DISTRIBUTION_LOW_SPEED_TIME_SECS", "2")];
    let before = team.tree("workspace");
    assert_snapshot!(run(&team, &registry, &floor, INSTALL), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[HOST]` failed to give `aws_prov` 1.0.0: the transfer from `[HOST]` was slower than 10 bytes/s over 2 s, the speed floor
    hint: on a network that is only slow, lower `distribution.low_speed_limit` or raise `distribution.low_speed_time_secs` (or `PROVISIONING_DISTRIBUTION_LOW_SPEED_LIMIT`, `PROVISIONING_DISTRIBUTION_LOW_SPEED_TIME_SECS`; 0 turns the floor off)
    ");
    assert_eq!(team.tree("workspace"), before, "the infra is unchanged");
    // Off (`low_speed_limit = 0`), only the deadline bounds the transfer.
    let off = [
        ("PROVISIONING_DISTRIBUTION_LOW_SPEED_LIMIT", "0"),
        ("PROVISIONING_DISTRIBUTION_LOW_SPEED_TIME_SECS", "2"),
        ("PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS", "5"),
    ];
    let deadline = run(&team, &registry, &off, INSTALL);
    assert!(
        deadline.stderr.contains("network deadline of 5 s"),
        "{deadline}"
    );
}
