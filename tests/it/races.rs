//! Commands racing each other on one base: nothing lost, no pin broken.

use crate::common::TestContext;

/// Regression: `pack clean` deleted a version that a concurrent `install --version` was pinning
/// (clean read the pins while install was between resolving and writing its lock), so the lock
/// pinned an artifact that was gone and teammates could no longer `sync`.
#[test]
fn clean_never_deletes_a_version_an_install_is_pinning() {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    context.run(["pack", "core"]).success();
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        context
            .run(["pack", "provider", "aws", "--version", version])
            .success();
    }
    let infras: Vec<String> = (0..6).map(|i| format!("race{i}")).collect();
    for infra in &infras {
        context.infra(infra);
    }
    let mut commands: Vec<Vec<String>> = Vec::new();
    for (i, infra) in infras.iter().enumerate() {
        commands.push(
            ["providers", "install", "aws", infra, "--version", "1.0.0"]
                .map(String::from)
                .to_vec(),
        );
        if i % 2 == 0 {
            commands.push(
                ["pack", "clean", "--keep-latest", "1"]
                    .map(String::from)
                    .to_vec(),
            );
        }
    }
    let runs = context.run_concurrently(&commands);
    let artifact = context.path("distribution/packages/aws_prov_1.0.0.tar");
    let mut pinned = 0;
    for (args, run) in commands.iter().zip(&runs) {
        if args[0] == "pack" {
            assert_eq!(run.code, 0, "{args:?}: {run}");
            continue;
        }
        let infra = &args[3];
        if run.code == 0 {
            pinned += 1;
            assert!(
                artifact.is_file(),
                "`{infra}` pins 1.0.0, so clean must have kept it: {run}"
            );
            std::fs::remove_dir_all(context.path(&format!("workspace/infra/{infra}/vendor")))
                .expect("remove vendor");
            context.run(["providers", "sync", infra]).success();
        } else {
            // Clean got there first: the install says so and changes nothing.
            assert!(
                run.stderr.contains("has no version 1.0.0"),
                "{args:?}: {run}"
            );
            assert!(
                !context
                    .path(&format!("workspace/infra/{infra}/providers.manifest.yaml"))
                    .exists(),
                "{args:?}"
            );
        }
    }
    // However the runs interleaved, a final clean keeps every pin and drops the rest.
    context
        .run(["pack", "clean", "--keep-latest", "1"])
        .success();
    assert_eq!(artifact.is_file(), pinned > 0);
    assert!(
        !context
            .path("distribution/packages/aws_prov_1.1.0.tar")
            .exists()
    );
}

/// Packs and cleans at once on one registry: every command lands whole, and the metadata never
/// names an artifact that is gone or other bytes.
#[test]
fn packs_racing_cleans_leave_a_consistent_registry() {
    let context = TestContext::examples();
    context.run(["keys", "generate"]).success();
    let mut commands: Vec<Vec<String>> = Vec::new();
    for minor in 0..6 {
        commands.push(
            [
                "pack",
                "provider",
                "aws",
                "--version",
                &format!("1.{minor}.0"),
            ]
            .map(String::from)
            .to_vec(),
        );
        if minor % 2 == 1 {
            commands.push(
                ["pack", "clean", "--keep-latest", "2"]
                    .map(String::from)
                    .to_vec(),
            );
        }
    }
    for (args, run) in commands.iter().zip(context.run_concurrently(&commands)) {
        assert_eq!(run.code, 0, "{args:?}: {run}");
    }
    let list = context.run(["pack", "list"]);
    assert_eq!(list.code, 0, "{list}");
    for state in ["MISMATCH", "missing", "unindexed"] {
        assert!(!list.stdout.contains(state), "{list}");
    }
    // One more clean settles on the two newest, whatever the order was.
    context
        .run(["pack", "clean", "--keep-latest", "2"])
        .success();
    let list = context.run(["pack", "list", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&list.stdout).expect("json");
    let versions: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["version"].as_str().expect("version"))
        .collect();
    assert_eq!(versions, ["1.5.0", "1.4.0"]);
}
