//! Bounds on the work of one command (issue 26, items 3 and 6): a resolution over generated
//! registry metadata (a deep chain, a wide dependency list, exponential backtracking) under a
//! ceiling on the address space, a listing over a huge `index.json`, and a registry that drips
//! while several packs are restored. Each ends with its named limit, or resolves, and never
//! with a signal.

use std::path::Path;
use std::process::Command;

use insta::assert_snapshot;

use crate::common::{Run, StaticServer, TestContext};

/// The address space the tool may use in these tests: a resolution that grew with the square
/// of its input, or a stack that grew with a chain, ends here, as a signal.
const ADDRESS_SPACE: &str = "--as=1610612736";

/// Each dependency of a version, `(module, requirement)`.
type Dependencies = Vec<(String, String)>;
/// A module with its versions, each with its dependencies.
type Module = (String, Vec<(String, Dependencies)>);

/// Writes a registry directory (`registry/<module>.json`, `index.json`, an empty `packages/`)
/// whose modules have the given versions, each with its dependencies: metadata only, no pack.
fn generated_registry(dir: &Path, modules: &[Module]) {
    std::fs::create_dir_all(dir.join("registry")).expect("registry dir");
    std::fs::create_dir_all(dir.join("packages")).expect("packages dir");
    for (module, versions) in modules {
        let versions: Vec<serde_json::Value> = versions
            .iter()
            .map(|(version, dependencies)| {
                let dependencies: serde_json::Map<String, serde_json::Value> = dependencies
                    .iter()
                    .map(|(name, requirement)| (name.clone(), requirement.clone().into()))
                    .collect();
                serde_json::json!({
                    "version": version,
                    "package_file": format!("{module}_{version}.tar"),
                    "sha256": "db05ef9d901a967b8fc82db190a2078c72e1c479d37770af9035365e8680764f",
                    "content_hash": "h1:kcn63Fcj8Zd6E9lOXEYiouAesCYUC476Qr9vWzc92xQ=",
                    "size": 5120,
                    "created": "2026-12-02T10:56:12Z",
                    "signature": null,
                    "dependencies": dependencies,
                })
            })
            .collect();
        let newest = versions.last().map(|v| v["version"].clone());
        let package_file = versions.last().map(|v| v["package_file"].clone());
        let metadata = serde_json::json!({
            "name": module,
            "version": newest,
            "package_file": package_file,
            "created": "2026-12-02T10:56:12Z",
            "maintainer": "generated",
            "repository": "https://example.invalid/generated",
            "license": "MIT",
            "homepage": "https://example.invalid/generated",
            "versions": versions,
        });
        std::fs::write(
            dir.join(format!("registry/{module}.json")),
            metadata.to_string(),
        )
        .expect("metadata");
    }
    let names: Vec<&String> = modules.iter().map(|(module, _)| module).collect();
    let index = serde_json::json!({ "format": 1, "modules": names });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index.json");
}

/// `providers install <args>` from the registry `dir`, under [`ADDRESS_SPACE`].
fn install_under_ceiling(context: &TestContext, dir: &Path, args: &[&str]) -> Run {
    let inner = context.command();
    let mut command = Command::new("prlimit");
    command
        .arg(ADDRESS_SPACE)
        .arg("--")
        .arg(inner.get_program())
        .args(inner.get_args())
        .arg("--registry")
        .arg(dir)
        .args(["providers", "install"])
        .args(args)
        .args(["--version", "*", "--allow-unsigned"])
        .env_clear()
        .current_dir(&context.base);
    for (name, value) in inner.get_envs() {
        if let Some(value) = value {
            command.env(name, value);
        }
    }
    let output = command.output().expect("prlimit runs");
    Run::from_output(
        output,
        &context.base,
        &[(&dir.display().to_string(), "[REGISTRY]")],
    )
}

fn version(version: &str, dependencies: Dependencies) -> (String, Dependencies) {
    (version.to_owned(), dependencies)
}

/// Regression: the resolver recursed once per module, and a chain of 8,000 modules overflowed
/// the stack (an abort). Resolved now, the install goes on to the first pack, which this
/// registry does not hold.
#[test]
fn a_chain_of_eight_thousand_modules_resolves_under_a_memory_ceiling() {
    let context = TestContext::examples();
    let registry = tempfile::tempdir().expect("temp dir");
    let mut modules = vec![(
        "deep_prov".to_owned(),
        vec![version("1.0.0", vec![("c1".to_owned(), "^1".to_owned())])],
    )];
    modules.extend((1..8_000).map(|n| {
        let next = if n + 1 < 8_000 {
            vec![(format!("c{}", n + 1), "^1".to_owned())]
        } else {
            Vec::new()
        };
        (format!("c{n}"), vec![version("1.0.0", next)])
    }));
    generated_registry(registry.path(), &modules);
    let run = install_under_ceiling(&context, registry.path(), &["deep", "wuji"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("failed to read `[REGISTRY]/packages/"),
        "resolution finished and the first pack was asked for: {run}"
    );
}

/// Regression: memory grew with the square of one module's dependency count (5,000: 1.2 GB).
#[test]
fn a_module_with_five_thousand_dependencies_resolves_under_a_memory_ceiling() {
    let context = TestContext::examples();
    let registry = tempfile::tempdir().expect("temp dir");
    let dependencies = (0..5_000)
        .map(|n| (format!("w{n}"), "^1".to_owned()))
        .collect();
    let mut modules = vec![("wide_prov".to_owned(), vec![version("1.0.0", dependencies)])];
    modules.extend((0..5_000).map(|n| (format!("w{n}"), vec![version("1.0.0", Vec::new())])));
    generated_registry(registry.path(), &modules);
    let run = install_under_ceiling(&context, registry.path(), &["wide", "wuji"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("failed to read `[REGISTRY]/packages/"),
        "resolution finished and the first pack was asked for: {run}"
    );
}

/// Twenty modules of ten versions each and a conflict met only once all are chosen: 10^20
/// combinations to backtrack through. The work bound stops it, named.
#[test]
fn exponential_backtracking_stops_at_the_named_work_bound() {
    let context = TestContext::examples();
    let registry = tempfile::tempdir().expect("temp dir");
    let mut dependencies: Vec<(String, String)> =
        (0..20).map(|n| (format!("b{n}"), "*".to_owned())).collect();
    dependencies.push(("a_bad".to_owned(), "*".to_owned()));
    let mut modules = vec![
        (
            "tangle_prov".to_owned(),
            vec![version("1.0.0", dependencies)],
        ),
        (
            "a_bad".to_owned(),
            vec![version(
                "1.0.0",
                vec![("nothing".to_owned(), ">=2".to_owned())],
            )],
        ),
        ("nothing".to_owned(), vec![version("1.0.0", Vec::new())]),
    ];
    modules.extend((0..20).map(|n| {
        let versions = (0..10)
            .map(|v| version(&format!("1.{v}.0"), Vec::new()))
            .collect();
        (format!("b{n}"), versions)
    }));
    generated_registry(registry.path(), &modules);
    let run = install_under_ceiling(&context, registry.path(), &["tangle", "wuji"]);
    assert_snapshot!(run, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `tangle` * into `wuji`
      caused by: resolution gave up after 2000000 units of work (versions examined and requirements checked against them): the requirements are too entangled to search
    hint: require narrower versions
    ");
}

/// A registry whose `index.json` names 200,000 modules: `registry list` reads none of their
/// metadata and says which bound it met (it made two requests a module, 13 minutes for
/// 700,000).
#[test]
fn registry_list_over_a_huge_index_stops_at_its_named_bound() {
    let context = TestContext::examples();
    let root = tempfile::tempdir().expect("temp dir");
    let names: Vec<String> = (0..200_000).map(|n| format!("m{n}")).collect();
    let index = serde_json::json!({ "format": 1, "modules": names });
    std::fs::write(root.path().join("index.json"), index.to_string()).expect("index.json");
    let server = StaticServer::start(root.path());
    let url = server.url();
    let output = context
        .command()
        .env("PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS", "2")
        .args(["--registry", &url, "registry", "list"])
        .output()
        .expect("runs");
    assert_snapshot!(Run::from_output(output, &context.base, &[(&url, "[REGISTRY]")]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `[REGISTRY]` lists 200000 modules, more than the 10000 `registry list` reads the versions of
    hint: name one: `provisioning registry list <module>`
    ");
    assert_eq!(server.requests(), ["GET /index.json 200"]);
}

/// `sync` of several packs from a registry that drips one byte a second: it waits the
/// command's one deadline, not one per pack, and after it asks for nothing more.
#[test]
fn sync_from_a_dripping_registry_waits_one_deadline_and_then_asks_nothing() {
    let releaser = TestContext::examples()
        .signed()
        .packed(&["core", "providers"]);
    let server = StaticServer::start(&releaser.path("distribution"));
    let team = TestContext::examples().trusting(&releaser);
    let url = server.url();
    let run = |args: &[&str]| {
        let output = team
            .command()
            .env("PROVISIONING_DISTRIBUTION_NETWORK_TIMEOUT_SECS", "2")
            .arg("--registry")
            .arg(&url)
            .args(args)
            .output()
            .expect("runs");
        Run::from_output(output, &team.base, &[(&url, "[REGISTRY]")])
    };
    for (provider, version) in [("aws", "1.0.0"), ("upcloud", "0.0.1"), ("local", "0.2.0")] {
        run(&[
            "providers",
            "install",
            provider,
            "wuji",
            "--version",
            version,
        ])
        .success();
    }
    // A fresh clone: nothing vendored, nothing cached.
    std::fs::remove_dir_all(team.path("workspace/infra/wuji/vendor")).expect("rm vendor");
    std::fs::remove_dir_all(team.path("distribution/cache")).expect("rm cache");
    let seen = server.requests().len();
    server.drip();
    let synced = run(&["providers", "sync", "wuji"]);
    assert_eq!(synced.code, 1, "{synced}");
    assert!(
        synced
            .stderr
            .contains("did not finish within the command's network deadline of 2 s"),
        "{synced}"
    );
    let packs: Vec<String> = server.requests()[seen..]
        .iter()
        .filter(|line| line.starts_with("GET /packages/") && line.contains(".tar "))
        .cloned()
        .collect();
    assert_eq!(
        packs.len(),
        4,
        "one request a pack, none after the deadline: {packs:?}"
    );
}

/// Issue 24: an artifact from a static registry that drips one byte a second fails at the speed
/// floor, naming the host and the floor, not at the command's deadline (left at its 300 s).
#[test]
fn an_artifact_slower_than_the_speed_floor_fails_naming_the_host_and_the_floor() {
    let releaser = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let server = StaticServer::start(&releaser.path("distribution"));
    let team = TestContext::examples().trusting(&releaser);
    server.drip();
    let url = server.url();
    let host = format!("127.0.0.1:{}", server.port);
    let output = team
        .command()
        .env("PROVISIONING_DISTRIBUTION_LOW_SPEED_TIME_SECS", "2")
        .arg("--registry")
        .arg(&url)
        .args(["providers", "install", "aws", "wuji", "--version", "1.0.0"])
        .output()
        .expect("runs");
    let filters = [(url.as_str(), "[REGISTRY]"), (host.as_str(), "[HOST]")];
    assert_snapshot!(Run::from_output(output, &team.base, &filters), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[REGISTRY]` failed to give `[REGISTRY]/packages/aws_prov_1.0.0.tar`: the transfer from `[HOST]` was slower than 10 bytes/s over 2 s, the speed floor
    hint: on a network that is only slow, lower `distribution.low_speed_limit` or raise `distribution.low_speed_time_secs` (or `PROVISIONING_DISTRIBUTION_LOW_SPEED_LIMIT`, `PROVISIONING_DISTRIBUTION_LOW_SPEED_TIME_SECS`; 0 turns the floor off)
    ");
}
