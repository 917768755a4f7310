//! Packs through a static HTTP registry: a release engineer's `distribution/` served as it is
//! by a real static server on loopback (`tests/static_server.py`: files, `ETag`s, `304`s, a
//! request log), and a teammate who installs, lists and syncs from it: the cache, `--offline`,
//! conditional requests, a tampered artifact, a missing version, the server down, bad URLs.

use insta::assert_snapshot;

use crate::common::{Run, StaticServer, TestContext};

/// A release engineer who packs and signs the examples.
fn release() -> TestContext {
    TestContext::examples()
        .signed()
        .packed(&["core", "providers"])
}

/// Runs the tool with `--registry <server>`, the server's address filtered to `[REGISTRY]`.
pub(crate) fn run(server: &StaticServer, context: &TestContext, args: &[&str]) -> Run {
    let url = server.url();
    let output = context
        .command()
        .arg("--registry")
        .arg(&url)
        .args(args)
        .output()
        .expect("runs");
    Run::from_output(output, &context.base, &[(&url, "[REGISTRY]")])
}

/// The requests the server answered after the first `since`, with the port filtered.
pub(crate) fn requests_since(server: &StaticServer, since: usize) -> String {
    server.requests()[since..].join("\n")
}

#[test]
fn install_list_sync_and_offline_through_a_static_server() {
    let releaser = release();
    let mut server = StaticServer::start(&releaser.path("distribution"));
    // A teammate with nothing packed locally, who trusts the release key.
    let team = TestContext::examples().trusting(&releaser);

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
    assert!(
        team.read("workspace/infra/wuji/providers.manifest.yaml")
            .contains("source: http://127.0.0.1:"),
        "the lock names the registry"
    );
    assert_snapshot!(requests_since(&server, 0), @"
    GET /registry/aws_prov.json 200
    GET /packages/aws_prov_1.0.0.tar 200
    GET /packages/aws_prov_1.0.0.tar.minisig 200
    GET /registry/provisioning_core.json 200
    GET /registry/provisioning_core.json 304
    GET /packages/provisioning_core_0.1.0.tar 200
    GET /packages/provisioning_core_0.1.0.tar.minisig 200
    ");
    run(
        &server,
        &team,
        &[
            "providers",
            "install",
            "upcloud",
            "wuji",
            "--version",
            "0.0.1",
        ],
    )
    .success();
    run(&server, &team, &["providers", "validate", "wuji"]).success();
    let mut seen = server.requests().len();

    assert_snapshot!(run(&server, &team, &["registry", "list"]), @"
    exit: 0
    --- stdout
    MODULE             VERSION
    aws_prov           1.0.0
    local_prov         0.2.0
    provisioning_core  0.1.0
    upcloud_prov       0.0.1
    --- stderr
    ");
    // What the cache holds is asked for conditionally: unchanged, it costs a `304` and no body.
    // Each module's record is read once (it was read twice: for its versions, then its yanks),
    // concurrently (so in any order: sorted here).
    let mut listed = server.requests()[seen..].to_vec();
    listed.sort();
    assert_snapshot!(listed.join("\n"), @"
    GET /index.json 200
    GET /registry/aws_prov.json 304
    GET /registry/local_prov.json 200
    GET /registry/provisioning_core.json 304
    GET /registry/upcloud_prov.json 304
    ");
    seen = server.requests().len();

    // A teammate after `git pull`: the cache is warm, so sync asks for nothing.
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    let synced = run(&server, &team, &["providers", "sync", "wuji"]);
    synced.success();
    assert!(
        synced
            .stderr
            .contains("Restored `aws_prov` 1.0.0 from `[REGISTRY]` (verified)"),
        "{synced}"
    );
    assert_eq!(
        requests_since(&server, seen),
        "",
        "a warm cache makes no request"
    );
    run(&server, &team, &["pack", "verify", "aws_prov@1.0.0"]).success();

    // The server gone: the cache answers `--offline`; what it lacks is said.
    server.stop();
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    run(&server, &team, &["--offline", "providers", "sync", "wuji"]).success();
    assert_snapshot!(run(&server, &team, &["--offline", "providers", "install", "local", "homelab", "--version", "0.2.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `homelab`
      caused by: `local_prov` 0.2.0 is not in the cache, and `--offline` forbids the network
    hint: run once without `--offline` to fill the cache
    ");
    let down = run(
        &server,
        &team,
        &[
            "providers",
            "install",
            "local",
            "homelab",
            "--version",
            "0.2.0",
        ],
    );
    assert_eq!(down.code, 1, "{down}");
    assert!(
        down.stderr.contains(
            "caused by: the registry `[REGISTRY]` failed to give `[REGISTRY]/registry/local_prov.json`: error sending request"
        ) && down.stderr.contains("Connection refused"),
        "{down}"
    );
    assert!(!team.path("workspace/infra/homelab/vendor").exists());
}

#[test]
fn a_tampered_artifact_a_missing_file_and_bad_documents_are_refused() {
    let releaser = release();
    let served = releaser.path("distribution");
    let tar = served.join("packages/aws_prov_1.0.0.tar");
    let mut bytes = std::fs::read(&tar).expect("read");
    bytes[600] ^= 0x20;
    std::fs::write(&tar, &bytes).expect("tamper");
    std::fs::remove_file(served.join("packages/local_prov_0.2.0.tar")).expect("rm");
    let server = StaticServer::start(&served);
    // A teammate with nothing packed locally, who trusts the release key.
    let team = TestContext::examples().trusting(&releaser);

    let tampered = run(
        &server,
        &team,
        &["providers", "install", "aws", "wuji", "--version", "1.0.0"],
    );
    let found = format!("{:x}", sha2_of(&bytes));
    let _filters = team.filters().literal(&found[..12], "[FOUND]").bind();
    assert_snapshot!(tampered, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[REGISTRY]` failed to give `aws_prov` 1.0.0: `packages/aws_prov_1.0.0.tar` does not match its digest (its bytes hash to sha256:[FOUND]…)
    ");
    assert!(
        !team
            .path(&format!("distribution/cache/http/blobs/sha256/{found}"))
            .exists(),
        "tampered bytes never reach the cache"
    );
    assert!(!team.path("workspace/infra/wuji/vendor").exists());

    assert_snapshot!(run(&server, &team, &["providers", "install", "local", "wuji", "--version", "0.2.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `local` 0.2.0 into `wuji`
      caused by: the registry `[REGISTRY]` failed to give `[REGISTRY]/packages/local_prov_0.2.0.tar`: it answered 404 Not Found
    ");
    assert_snapshot!(run(&server, &team, &["providers", "install", "upcloud", "wuji", "--version", "9.9.9"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `upcloud` 9.9.9 into `wuji`
      caused by: `upcloud_prov` has no version 9.9.9 in the registry
    hint: available: 0.0.1
    ");
    assert_snapshot!(run(&server, &team, &["providers", "install", "gcp", "wuji", "--version", "1.0.0"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `gcp` 1.0.0 into `wuji`
      caused by: no packs of `gcp_prov` in the registry `[REGISTRY]`
    hint: `provisioning --registry [REGISTRY] registry list` shows what it has
    ");

    std::fs::write(
        served.join("index.json"),
        "{\"format\": 1, \"modules\": [\"aws_prov\",",
    )
    .expect("break");
    assert_snapshot!(run(&server, &team, &["registry", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[REGISTRY]/index.json` is not a valid registry index: the text ends before its value does (cut short?) at line 1 column 37
    ");
    std::fs::remove_file(served.join("index.json")).expect("rm");
    assert_snapshot!(run(&server, &team, &["registry", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `[REGISTRY]` has no `index.json`, so its modules cannot be listed
    hint: `provisioning pack index` writes it into `distribution/` (every pack command keeps it current): upload it with `registry/` and `packages/`
    ");
    std::fs::write(
        served.join("registry/upcloud_prov.json"),
        "{\"name\": \"aws_prov\"}",
    )
    .expect("break");
    assert_snapshot!(run(&server, &team, &["registry", "list", "upcloud_prov"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `[REGISTRY]/registry/upcloud_prov.json` is not a valid registry metadata file: line 1, column 20: the field `maintainer` is missing
    ");
}

#[test]
fn plain_http_is_refused_beyond_loopback_and_urls_are_checked() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["--registry", "http://packs.example/provisioning", "registry", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `http://packs.example/provisioning` would be read over plain HTTP, which is allowed only for a loopback host (127.0.0.0/8, ::1, localhost)
    hint: serve the registry over HTTPS (`https://…`)
    ");
    assert_snapshot!(context.run(["--registry", "https://ci:secret@packs.example/provisioning", "registry", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `https://ci:secret@packs.example/provisioning` is not an HTTP registry URL: credentials do not belong in the URL: set `PROVISIONING_REGISTRY_TOKEN`, or use `~/.netrc`
    hint: `https://host[:port]/path`, the directory that holds `index.json`, `registry/` and `packages/`
    ");
    assert_snapshot!(context.run(["--registry", "https://packs.example/provisioning", "pack", "publish"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: an HTTP registry is read-only: `pack publish` cannot write to it
    hint: publish by uploading the `distribution/` directory as it is (`rsync -a distribution/ host:/srv/provisioning/`, or any static upload)
    ");
    let configured = context
        .command()
        .env("PROVISIONING_DISTRIBUTION_REGISTRY_TYPE", "http")
        .args(["registry", "list"])
        .output()
        .expect("runs");
    assert_snapshot!(Run::from_output(configured, &context.base, &[]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to load the configuration
      caused by: configuration key `distribution.registry_type` in the environment variable `PROVISIONING_DISTRIBUTION_REGISTRY_TYPE`: `http` needs `distribution.registry_url`, which is empty
    hint: set `registry_url = \"https://host[:port]/path\"` in `[distribution]`, or `PROVISIONING_DISTRIBUTION_REGISTRY_URL`
    ");
}

/// Regression (issue 19): with `registry_type = "http"` configured, `pack yank` said "pack it
/// first" instead of refusing a read-only registry, as it does with `--registry http://…`.
#[test]
fn pack_yank_refuses_an_http_registry_configured_or_given() {
    let context = TestContext::examples().packed(&["provider aws"]);
    let before = context.tree("distribution");
    let url = "https://packs.example/provisioning";
    let configured = context
        .command()
        .env("PROVISIONING_DISTRIBUTION_REGISTRY_TYPE", "http")
        .env("PROVISIONING_DISTRIBUTION_REGISTRY_URL", url)
        .args(["pack", "yank", "aws_prov@1.0.0"])
        .output()
        .expect("runs");
    let configured = Run::from_output(configured, &context.base, &[]);
    assert_snapshot!(configured, @"
    exit: 1
    --- stdout
    --- stderr
    error: `https://packs.example/provisioning` is a static HTTP registry, which is read-only: `pack yank` cannot write to it
    hint: yank in the `distribution/` directory it serves (`provisioning --registry DIR pack yank aws_prov@1.0.0`), then upload that directory again
    ");
    let given = context.run(["--registry", url, "pack", "yank", "aws_prov@1.0.0"]);
    assert_eq!(given.to_string(), configured.to_string());
    assert_eq!(context.tree("distribution"), before, "nothing was yanked");
}

#[test]
fn credentials_from_netrc_reach_the_server_and_a_refusal_names_their_source() {
    let releaser = release();
    let server = StaticServer::start_with(&releaser.path("distribution"), Some("ci:s3cret"));
    let team = TestContext::examples();
    let list = |netrc: &str| {
        team.write("netrc", netrc);
        let output = team
            .command()
            .env("NETRC", team.path("netrc"))
            .args(["--registry", &server.url(), "registry", "list", "aws_prov"])
            .output()
            .expect("runs");
        Run::from_output(output, &team.base, &[(&server.url(), "[REGISTRY]")])
    };
    assert_snapshot!(list("machine 127.0.0.1 login ci password s3cret\n"), @"
    exit: 0
    --- stdout
    MODULE    VERSION
    aws_prov  1.0.0
    --- stderr
    ");
    assert_snapshot!(list("machine 127.0.0.1 login ci password wrong\n"), @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `[REGISTRY]` refused access to `[REGISTRY]/registry/aws_prov.json` with the credentials from `[BASE]/netrc`
    ");
}

fn sha2_of(bytes: &[u8]) -> impl std::fmt::LowerHex {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
}

/// Regression (issue 20): `pack verify <URL>` of an artifact in a static registry checked it as
/// a loose file, never against the sha256 the registry records of it.
#[test]
fn verify_of_an_artifact_url_in_a_registry_checks_its_record() {
    let releaser = release();
    let server = StaticServer::start(&releaser.path("distribution"));
    let team = TestContext::examples().trusting(&releaser);
    let url = format!(
        "{}/packages/aws_prov_1.0.0.tar",
        server.url().trim_end_matches('/')
    );
    let _filters = team.filters().bind();
    assert_snapshot!(run(&server, &team, &["pack", "verify", &url]), @"
    exit: 0
    --- stdout
    CHECK         STATUS  DETAIL
    size          ok      9216
    sha256        ok      a1e6981c291bd2c354fd53c974941a7e62207c3593bac2b37a216b30f0922485
    content hash  ok      h1:aYJDcvNaVg74mmvLBeGqU1KJ8WPd0ELWE3yBNxjLzCw=
    signature     ok      signed by key [KEY] (trusted with `keys trust`)
    --- stderr
        Verified `aws_prov` 1.0.0: signed by key [KEY] (trusted with `keys trust`)
    ");
    // Other bytes at that URL, signed by the same key, naming the same version: only the
    // registry's record tells them apart.
    let main = releaser.read("extensions/providers/aws/nickel/main.ncl");
    releaser.write(
        "extensions/providers/aws/nickel/main.ncl",
        &format!("{main}\n# changed\n"),
    );
    releaser
        .run([
            "pack",
            "provider",
            "aws",
            "--version",
            "1.0.0",
            "--output",
            "other",
        ])
        .success();
    for file in ["aws_prov_1.0.0.tar", "aws_prov_1.0.0.tar.minisig"] {
        std::fs::copy(
            releaser.path(&format!("other/{file}")),
            releaser.path(&format!("distribution/packages/{file}")),
        )
        .expect("replace");
    }
    assert_snapshot!(run(&server, &team, &["pack", "verify", &url]), @"
    exit: 1
    --- stdout
    CHECK         STATUS  DETAIL
    size          ok      9216
    sha256        FAILED  expected a1e6981c291bd2c354fd53c974941a7e62207c3593bac2b37a216b30f0922485, found 5816695718c07a31792f9f4710b904e480d3205d08f1e93da727055acb6cf38d
    content hash  FAILED  expected h1:aYJDcvNaVg74mmvLBeGqU1KJ8WPd0ELWE3yBNxjLzCw=, found h1:GWk6W8cNDMirMrzCdVynWk248emkTJKuIb/3KAMKpyY=
    signature     ok      signed by key [KEY] (trusted with `keys trust`)
    --- stderr
    error: sha256: expected a1e6981c291bd2c354fd53c974941a7e62207c3593bac2b37a216b30f0922485, found 5816695718c07a31792f9f4710b904e480d3205d08f1e93da727055acb6cf38d
    error: content hash: expected h1:aYJDcvNaVg74mmvLBeGqU1KJ8WPd0ELWE3yBNxjLzCw=, found h1:GWk6W8cNDMirMrzCdVynWk248emkTJKuIb/3KAMKpyY=
    error: `aws_prov` 1.0.0 failed verification (sha256)
    ");
}
