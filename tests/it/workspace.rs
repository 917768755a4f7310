//! `--workspace`: the commands that take one infra run over every infra of the workspace, in one
//! table with an INFRA column and one exit code; an infra that fails does not stop the others; a
//! pack several infras need is fetched and verified once; `update --workspace` moves a module to
//! one version everywhere, or nowhere.

use insta::assert_snapshot;

use crate::common::{Run, StaticServer, TestContext};
use crate::compliance::{CYCLONEDX_VALIDATE, SPDX_VALIDATE, python};

/// `aws` packed and signed at 1.2.0 and 1.3.1, pinned at 1.2.0 (`~1.2`) in `homelab` and `lab`.
/// `wuji` is left as the examples have it: its `main.ncl` imports `upcloud_prov`, which it does
/// not have, so it does not evaluate.
fn pinned_workspace() -> TestContext {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "core"]).success();
    for version in ["1.2.0", "1.3.1"] {
        context
            .run(["pack", "provider", "aws", "--version", version])
            .success();
    }
    context.run(["module-loader", "init", "lab"]).success();
    for infra in ["homelab", "lab"] {
        context
            .run(["providers", "install", "aws", infra, "--version", "~1.2"])
            .success();
    }
    context
}

/// Lets `infra` take any 1.x of `aws`.
fn allow_minor_updates(context: &TestContext, infra: &str) {
    let path = format!("workspace/infra/{infra}/manifest.toml");
    let manifest = context.read(&path);
    context.write(&path, &manifest.replace("\"~1.2\"", "\"^1.2\""));
}

#[test]
fn a_broken_infra_is_reported_and_the_others_still_run() {
    let context = pinned_workspace();
    let validated = context.run(["providers", "validate", "--workspace"]);
    assert_eq!(validated.code, 1, "{validated}");
    assert_snapshot!(validated.stdout, @"
        INFRA    NAME               MODULE             MODE  STATE  EVALUATION
        homelab  aws                aws_prov           pack  ok     ok
        homelab  provisioning_core  provisioning_core  pack  ok     ok
        homelab  -                  providers.ncl      -     -      ok
        lab      aws                aws_prov           pack  ok     ok
        lab      provisioning_core  provisioning_core  pack  ok     ok
        lab      -                  main.ncl           -     -      ok
        lab      -                  providers.ncl      -     -      ok
        wuji     -                  main.ncl           -     -      failed
        ");
    assert!(
        validated.stderr.contains("Valid `homelab`") && validated.stderr.contains("Valid `lab`"),
        "{validated}"
    );
    assert!(
        validated
            .stderr
            .ends_with("error: 1 of 3 infras of the workspace failed: `wuji`\n"),
        "{validated}"
    );

    // An infra that cannot even be read is attributed to it; the others are reported.
    context.write("workspace/infra/wuji/providers.manifest.yaml", "{ not yaml");
    let _filters = context.filters().bind();
    assert_snapshot!(context.run(["providers", "outdated", "--workspace"]), @"
        exit: 1
        --- stdout
        INFRA    MODULE                   PINNED  REQUIREMENT      MATCHING  NEWEST  WHY
        homelab  aws_prov                 1.2.0   ~1.2             1.2.0     1.3.1   the requirement ~1.2 excludes 1.3.1
        homelab  provisioning_core        0.1.0   ^0.1 (aws_prov)  0.1.0     0.1.0   up to date
        lab      aws_prov                 1.2.0   ~1.2             1.2.0     1.3.1   the requirement ~1.2 excludes 1.3.1
        lab      provisioning_core        0.1.0   ^0.1 (aws_prov)  0.1.0     0.1.0   up to date
        wuji     (failed: see the error)
        --- stderr
        error: failed to read the versions of `wuji`
          caused by: `[BASE]/workspace/infra/wuji/providers.manifest.yaml` is not a valid providers manifest: unknown field `not yaml`, expected `format_version` or `providers` at line 1 column 3
        error: 1 of 3 infras of the workspace failed: `wuji`
        ");

    let json = context.run(["providers", "installed", "--workspace", "--format", "json"]);
    assert_eq!(json.code, 1, "{json}");
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let statuses: Vec<(String, String)> = parsed["infras"]
        .as_array()
        .expect("infras")
        .iter()
        .map(|infra| {
            (
                infra["infra"].as_str().unwrap_or_default().to_owned(),
                infra["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("homelab".to_owned(), "ok".to_owned()),
            ("lab".to_owned(), "ok".to_owned()),
            ("wuji".to_owned(), "error".to_owned())
        ]
    );
    assert_eq!(parsed["failed"], true);
    assert_eq!(parsed["infras"][0]["providers"][0]["module"], "aws_prov");
    assert!(
        parsed["infras"][2]["error"]
            .as_str()
            .is_some_and(|error| error.contains("providers.manifest.yaml")),
        "{parsed}"
    );
}

#[test]
fn an_infra_and_the_workspace_are_one_or_the_other() {
    let context = pinned_workspace();
    let both = context.run(["providers", "validate", "lab", "--workspace"]);
    assert_eq!(both.code, 2, "{both}");
    assert!(both.stderr.contains("cannot be used with"), "{both}");
    let neither = context.run(["providers", "installed"]);
    assert_eq!(neither.code, 2, "{neither}");
    assert!(neither.stderr.contains("<INFRA|--workspace>"), "{neither}");
}

#[test]
fn update_workspace_moves_every_infra_that_pins_a_module_to_one_version() {
    let context = pinned_workspace();
    allow_minor_updates(&context, "homelab");
    let before = context.tree("workspace/infra");

    // `lab` keeps `~1.2`: `aws_prov` would end at 1.3.1 in `homelab` but 1.2.0 in `lab`.
    assert_snapshot!(context.run(["providers", "update", "--workspace"]), @"
        exit: 1
        --- stdout
        --- stderr
        error: the workspace was not updated: nothing was written
          `aws_prov` cannot move to one version in every infra that pins it: 1.3.1 in `homelab`; `lab` stays at 1.2.0: the requirement ~1.2 excludes 1.3.1
        hint: align the requirements in the infras' `manifest.toml`, or update one infra alone: `provisioning providers update <infra>`
        ");
    assert_eq!(
        context.tree("workspace/infra"),
        before,
        "nothing was written"
    );

    allow_minor_updates(&context, "lab");
    let before = context.tree("workspace/infra");
    assert_snapshot!(context.run(["providers", "update", "--workspace", "--dry-run"]), @"
        exit: 0
        --- stdout
        INFRA    MODULE    FROM   TO
        homelab  aws_prov  1.2.0  1.3.1
        lab      aws_prov  1.2.0  1.3.1
        --- stderr
            Updating aws_prov 1.2.0 -> 1.3.1
        warning: dry run: nothing was changed
            Updating aws_prov 1.2.0 -> 1.3.1
        warning: dry run: nothing was changed
           Unchanged `wuji`: no pinned packs to update
        ");
    assert_eq!(
        context.tree("workspace/infra"),
        before,
        "a dry run writes nothing"
    );

    assert_snapshot!(context.run(["providers", "update", "--workspace", "aws"]), @"
        exit: 0
        --- stdout
        INFRA    MODULE    FROM   TO
        homelab  aws_prov  1.2.0  1.3.1
        lab      aws_prov  1.2.0  1.3.1
        --- stderr
            Updating aws_prov 1.2.0 -> 1.3.1
             Updated `homelab`: 1 change
            Updating aws_prov 1.2.0 -> 1.3.1
             Updated `lab`: 1 change
        ");
    assert_snapshot!(context.run(["providers", "outdated", "--workspace"]), @"
        exit: 0
        --- stdout
        INFRA    MODULE                     PINNED  REQUIREMENT      MATCHING  NEWEST  WHY
        homelab  aws_prov                   1.3.1   ^1.2             1.3.1     1.3.1   up to date
        homelab  provisioning_core          0.1.0   ^0.1 (aws_prov)  0.1.0     0.1.0   up to date
        lab      aws_prov                   1.3.1   ^1.2             1.3.1     1.3.1   up to date
        lab      provisioning_core          0.1.0   ^0.1 (aws_prov)  0.1.0     0.1.0   up to date
        wuji     no pinned packs in `wuji`
        --- stderr
            Finished 3 infras of the workspace
        ");
    context.run(["providers", "validate", "homelab"]).success();
    context.run(["providers", "validate", "lab"]).success();
}

/// Runs the tool with `--registry <server>`, the server's address filtered to `[REGISTRY]`.
fn through(server: &StaticServer, context: &TestContext, args: &[&str]) -> Run {
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

#[test]
fn a_pack_several_infras_pin_is_fetched_and_read_once_per_run() {
    let releaser = TestContext::examples()
        .signed()
        .packed(&["core", "providers"]);
    let server = StaticServer::start(&releaser.path("distribution"));
    let team = TestContext::examples().trusting(&releaser);
    std::fs::remove_dir_all(team.path("workspace/infra/wuji")).expect("rm wuji");
    for infra in ["a", "b", "c"] {
        team.run(["module-loader", "init", infra]).success();
        through(
            &server,
            &team,
            &["providers", "install", "aws", infra, "--version", "1.0.0"],
        )
        .success();
    }
    std::fs::remove_dir_all(team.path("workspace/infra/homelab")).expect("rm homelab");

    // Each infra asked alone reads the module's record again.
    let seen = server.requests().len();
    for infra in ["a", "b", "c"] {
        through(&server, &team, &["providers", "outdated", infra]).success();
    }
    let mut alone = server.requests()[seen..].to_vec();
    alone.sort();
    assert_snapshot!(alone.join("\n"), @"
        GET /registry/aws_prov.json 304
        GET /registry/aws_prov.json 304
        GET /registry/aws_prov.json 304
        GET /registry/provisioning_core.json 304
        GET /registry/provisioning_core.json 304
        GET /registry/provisioning_core.json 304
        ");

    // The workspace reads it once.
    let seen = server.requests().len();
    let outdated = through(&server, &team, &["providers", "outdated", "--workspace"]);
    outdated.success();
    let mut once = server.requests()[seen..].to_vec();
    once.sort();
    assert_snapshot!(once.join("\n"), @"
        GET /registry/aws_prov.json 304
        GET /registry/provisioning_core.json 304
        ");

    // A cold cache and three infras to restore: each pack is downloaded once.
    let restore = || {
        for infra in ["a", "b", "c"] {
            std::fs::remove_dir_all(team.path(&format!("workspace/infra/{infra}/vendor")))
                .expect("rm vendor");
        }
    };
    std::fs::remove_dir_all(team.path("distribution/cache")).expect("rm cache");
    restore();
    let seen = server.requests().len();
    let url = server.url();
    let (synced, trace) = traced(
        &team,
        &["--registry", &url, "providers", "sync", "--workspace"],
    );
    synced.success();
    let mut fetched = server.requests()[seen..].to_vec();
    fetched.sort();
    assert_snapshot!(fetched.join("\n"), @"
        GET /packages/aws_prov_1.0.0.tar 200
        GET /packages/aws_prov_1.0.0.tar.minisig 200
        GET /packages/provisioning_core_0.1.0.tar 200
        GET /packages/provisioning_core_0.1.0.tar.minisig 200
        GET /registry/aws_prov.json 200
        GET /registry/provisioning_core.json 200
        ");
    assert_snapshot!(synced.stdout, @"
        INFRA  MODULE             VERSION  MODE  RESULT
        a      aws_prov           1.0.0    pack  restored
        a      provisioning_core  0.1.0    pack  restored
        b      aws_prov           1.0.0    pack  restored
        b      provisioning_core  0.1.0    pack  restored
        c      aws_prov           1.0.0    pack  restored
        c      provisioning_core  0.1.0    pack  restored
        ");
    // And verified once: the infras after the first read no cached artifact (what the first
    // one reads, the two others would read as much again). One by one, each infra reads each
    // pack from the cache again, and verifies it again.
    let workspace_reads = cached_artifact_reads(&trace);
    restore();
    let mut one_by_one = 0;
    for infra in ["a", "b", "c"] {
        let (synced, trace) = traced(&team, &["--registry", &url, "providers", "sync", infra]);
        synced.success();
        one_by_one += cached_artifact_reads(&trace);
    }
    assert!(workspace_reads > 0, "the first infra reads the packs");
    assert_eq!(one_by_one, 3 * workspace_reads, "one infra's reads per run");
}

/// Runs the binary under `strace -e trace=openat` and returns the run and the trace's lines.
fn traced(context: &TestContext, args: &[&str]) -> (Run, Vec<String>) {
    let file = context.path("../trace");
    let file_arg = file.to_str().expect("utf-8 path");
    let output = context
        .command_under(&["strace", "-f", "-qq", "-e", "trace=openat", "-o", file_arg])
        .args(args)
        .output()
        .expect("run strace");
    let run = Run::from_output(output, &context.base, &[]);
    let text = std::fs::read_to_string(&file).expect("read the trace");
    (run, text.lines().map(str::to_owned).collect())
}

/// How many times a run opened an artifact of the HTTP registry's cache to read it.
fn cached_artifact_reads(trace: &[String]) -> usize {
    trace
        .iter()
        .filter(|line| line.contains("/blobs/sha256/") && line.contains("O_RDONLY"))
        .filter(|line| !line.contains("ENOENT") && !line.contains("O_DIRECTORY"))
        .count()
}

#[test]
fn the_sbom_of_a_workspace_is_one_document_with_each_infra_a_component() {
    let context = pinned_workspace();
    let cyclonedx = context.run([
        "providers",
        "sbom",
        "--workspace",
        "--output",
        "ws.cdx.json",
    ]);
    cyclonedx.success();
    python(CYCLONEDX_VALIDATE, &context.path("ws.cdx.json")).expect("CycloneDX accepts it");
    let document: serde_json::Value =
        serde_json::from_str(&context.read("ws.cdx.json")).expect("json");
    assert_eq!(
        document["metadata"]["component"]["bom-ref"],
        "workspace:workspace"
    );
    let infras: Vec<String> = document["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|infra| {
            let modules: Vec<&str> = infra["components"]
                .as_array()
                .expect("nested")
                .iter()
                .filter_map(|module| module["bom-ref"].as_str())
                .collect();
            format!(
                "{}: {}",
                infra["bom-ref"].as_str().unwrap_or_default(),
                modules.join(", ")
            )
        })
        .collect();
    assert_eq!(
        infras,
        [
            "infra:homelab: homelab/aws_prov@1.2.0, homelab/provisioning_core@0.1.0",
            "infra:lab: lab/aws_prov@1.2.0, lab/provisioning_core@0.1.0",
            "infra:wuji: ",
        ]
    );
    assert_eq!(
        document["dependencies"][0]["dependsOn"],
        serde_json::json!(["infra:homelab", "infra:lab", "infra:wuji"])
    );

    let spdx = context.run(["providers", "sbom", "--workspace", "--format", "spdx"]);
    spdx.success();
    context.write("ws.spdx.json", &spdx.stdout);
    python(SPDX_VALIDATE, &context.path("ws.spdx.json")).expect("spdx-tools accepts it");
    let document: serde_json::Value = serde_json::from_str(&spdx.stdout).expect("json");
    let contains: Vec<&str> = document["relationships"]
        .as_array()
        .expect("relationships")
        .iter()
        .filter(|relationship| relationship["relationshipType"] == "CONTAINS")
        .filter_map(|relationship| relationship["relatedSpdxElement"].as_str())
        .collect();
    assert_eq!(
        contains,
        ["SPDXRef-Infra-0", "SPDXRef-Infra-1", "SPDXRef-Infra-2"]
    );

    // An infra whose lock cannot be read is left out, reported, and fails the run.
    context.write("workspace/infra/lab/providers.manifest.yaml", "{ not yaml");
    let broken = context.run(["providers", "sbom", "--workspace"]);
    assert_eq!(broken.code, 1, "{broken}");
    assert!(
        broken.stderr.contains("failed to describe `lab`"),
        "{broken}"
    );
    assert!(broken.stdout.contains("infra:homelab") && !broken.stdout.contains("infra:lab\""));
}
