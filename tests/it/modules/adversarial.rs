//! Regressions of the adversarial pass: names shared by two kinds, concurrent loads, a load
//! failing part way, files the tool did not write, names that are Nickel keywords.

use insta::assert_snapshot;

use crate::common::TestContext;

/// Writes a taskserv `name` in `category` with the given `[capabilities]` lines.
fn taskserv(context: &TestContext, category: &str, name: &str, capabilities: &str) {
    let dir = format!("extensions/taskservs/{category}/{name}/nickel");
    context.write(
        &format!("{dir}/manifest.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n\n[capabilities]\n{capabilities}\n"
        ),
    );
    context.write(
        &format!("{dir}/main.ncl"),
        &format!("{{ t = \"{name}\" }}\n"),
    );
}

/// Regression (adversarial pass): a provider `kubernetes` silently replaced the taskserv
/// `kubernetes` in the lock (both are named `kubernetes` there).
#[test]
fn modules_of_one_name_and_two_kinds_cannot_share_an_infra() {
    let context = TestContext::examples();
    context.write(
        "extensions/providers/kubernetes/nickel/manifest.toml",
        "[package]\nname = \"kubernetes_prov\"\nversion = \"0.1.0\"\n",
    );
    context.write("extensions/providers/kubernetes/nickel/main.ncl", "{}\n");
    context
        .run([
            "module-loader",
            "load",
            "taskservs",
            "homelab",
            "kubernetes",
            "containerd",
        ])
        .success();
    assert_snapshot!(context.run_unchanged("workspace/infra/homelab", ["providers", "install", "kubernetes", "homelab"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `kubernetes` into `homelab`
      caused by: `kubernetes` is already in `homelab` as the taskserv `kubernetes`; the provider `kubernetes_prov` cannot be loaded beside it under the same name
    hint: unload it first (`provisioning module-loader unload taskservs homelab kubernetes`), or rename one of the modules
    ");
}

/// Regression (adversarial pass): two loads at once each passed the check against the set
/// before the other's change, and a conflicting pair was committed.
#[test]
fn concurrent_loads_cannot_commit_a_conflict() {
    let context = TestContext::examples();
    let runs = context.run_concurrently(&[
        vec![
            "module-loader".into(),
            "load".into(),
            "taskservs".into(),
            "homelab".into(),
            "crio".into(),
        ],
        vec![
            "module-loader".into(),
            "load".into(),
            "taskservs".into(),
            "homelab".into(),
            "containerd".into(),
        ],
    ]);
    let succeeded = runs.iter().filter(|run| run.code == 0).count();
    let said: Vec<String> = runs.iter().map(ToString::to_string).collect();
    assert_eq!(succeeded, 1, "{}", said.join("\n"));
    context.run(["providers", "validate", "homelab"]).success();
}

/// Regression (adversarial pass): the first module of a load stayed when the second failed,
/// leaving a requirement unmet.
#[test]
fn a_load_that_fails_part_way_leaves_nothing() {
    let context = TestContext::examples();
    taskserv(
        &context,
        "cr",
        "rtdep",
        "provides = [\"container-runtime\"]",
    );
    let manifest = format!(
        "{}\n[dependencies]\nnonexistent = \"^1\"\n",
        context.read("extensions/taskservs/cr/rtdep/nickel/manifest.toml")
    );
    context.write(
        "extensions/taskservs/cr/rtdep/nickel/manifest.toml",
        &manifest,
    );
    let before = context.tree("workspace/infra/homelab");
    let run = context.run([
        "module-loader",
        "load",
        "taskservs",
        "homelab",
        "kubernetes",
        "rtdep",
    ]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("so none were"), "{run}");
    assert_eq!(context.tree("workspace/infra/homelab"), before);
}

/// Regression (adversarial pass): a `taskservs.ncl` of the user's own was written over.
#[test]
fn a_file_the_tool_did_not_write_is_never_written_over() {
    let context = TestContext::examples();
    context.write(
        "workspace/infra/homelab/taskservs.ncl",
        "# my own notes\n{ region = \"fi-hel2\" }\n",
    );
    let run = context.run([
        "module-loader",
        "load",
        "taskservs",
        "homelab",
        "containerd",
    ]);
    run.success();
    assert_snapshot!(run.stderr, @"
    warning: `taskservs.ncl` in `homelab` was not written by `provisioning`, so it stays as it is and does not list the infra's modules
    hint: rename it, and the next `provisioning providers sync homelab` writes the generated file
          Loaded taskserv `containerd` 0.1.0 into `homelab` (link to `extensions/taskservs/container-runtime/containerd/nickel`)
    ");
    assert_eq!(
        context.read("workspace/infra/homelab/taskservs.ncl"),
        "# my own notes\n{ region = \"fi-hel2\" }\n"
    );
    let validate = context.run(["providers", "validate", "homelab"]);
    assert_eq!(validate.code, 1, "{validate}");
    assert!(
        validate.stderr.contains("is not a generated file"),
        "{validate}"
    );
}

/// Regression (adversarial pass): a module named like a Nickel keyword made the generated file
/// unparsable; and `init`'s `main.ncl` stopped evaluating once its last taskserv was unloaded.
#[test]
fn generated_files_quote_keywords_and_stay_while_main_imports_them() {
    let context = TestContext::examples();
    taskserv(&context, "kw", "match", "");
    context
        .run(["module-loader", "init", "edge", "--taskservs", "match"])
        .success();
    assert!(
        context
            .read("workspace/infra/edge/taskservs.ncl")
            .contains("\"match\" = import")
    );
    context.run(["providers", "validate", "edge"]).success();
    context
        .run(["module-loader", "unload", "taskservs", "edge", "match"])
        .success();
    assert_snapshot!(context.read("workspace/infra/edge/taskservs.ncl"), @"
    # Generated by `provisioning` from providers.manifest.yaml; do not edit: `provisioning providers sync` rewrites it.
    # sha256 of what follows: d914176fd50bd7f565700006a31aa97b79d3ad17cee20c8e5ff2061d5cb74817
    {
    }
    ");
    context.run(["providers", "validate", "edge"]).success();
}
