//! Real Nickel code that nobody on the team wrote, kept in `tests/fixtures/third-party/` with
//! its licence: the JSON-schema predicate library of `json-schema-to-nickel` (contracts and
//! functions, with examples in its doc comments) and the Kubernetes 1.34 API contracts that
//! `json-schema-to-nickel` generated for `nickel-kubernetes` (1,310 files, 21 MB). A module is
//! valid when it evaluates: libraries pack, install in both modes and validate; their doc tests
//! run with the counts `nickel test` gives.

use std::path::{Path, PathBuf};
use std::process::Command;

use insta::assert_snapshot;

use crate::common::{Run, TestContext, inspect_archive, nickel_cli, sha256_file};

fn third_party(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/third-party")
        .join(name)
}

/// The JSON-schema predicate library as the provider `jsonschema` (`jsonschema_prov`).
fn json_schema_library(context: &TestContext) -> PathBuf {
    let mut provider = context.provider("jsonschema").version("0.1.0");
    for file in [
        "main.ncl",
        "arrays.ncl",
        "numbers.ncl",
        "records.ncl",
        "strings.ncl",
    ] {
        let text = std::fs::read_to_string(third_party("json-schema-lib").join(file))
            .expect("the library is in the fixtures");
        provider = provider.file(file, &text);
    }
    provider.create()
}

/// The passed and failed examples of `nickel test FILE`, as the real CLI counts them.
fn nickel_test_counts(dir: &Path, file: &str) -> (usize, usize) {
    let output = Command::new(nickel_cli())
        .arg("test")
        .arg(file)
        .current_dir(dir)
        .output()
        .expect("run nickel test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout
        .lines()
        .filter(|line| line.ends_with("...ok"))
        .count();
    let failed = stdout
        .lines()
        .filter(|line| line.ends_with("...FAILED"))
        .count();
    (passed, failed)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("JSON")
}

#[test]
fn a_contract_library_packs_as_a_library_with_the_doc_test_counts_of_nickel_test() {
    let context = TestContext::new();
    let dir = json_schema_library(&context);
    let (passed, failed) = nickel_test_counts(&dir, "main.ncl");
    assert_eq!((passed, failed), (84, 0), "the library's own examples pass");

    assert_snapshot!(context.run(["pack", "provider", "jsonschema"]), @"
    exit: 0
    --- stdout
    --- stderr
          Packed `jsonschema_prov` 0.1.0 → `distribution/packages/jsonschema_prov_0.1.0.tar` (38.00 KiB, sha256 826819513a15, unsigned)
    ");
    let artifact = std::fs::read(context.path("distribution/packages/jsonschema_prov_0.1.0.tar"))
        .expect("packed");
    assert_snapshot!(inspect_archive(&artifact), @"
    dir  755 0:0 '':'' 315532800     0 jsonschema_prov/
    file 644 0:0 '':'' 315532800   308 jsonschema_prov/Nickel-pkg.ncl
    file 644 0:0 '':'' 315532800  6758 jsonschema_prov/arrays.ncl
    file 644 0:0 '':'' 315532800  4855 jsonschema_prov/main.ncl
    file 644 0:0 '':'' 315532800    93 jsonschema_prov/manifest.toml
    file 644 0:0 '':'' 315532800  3016 jsonschema_prov/numbers.ncl
    file 644 0:0 '':'' 315532800 15294 jsonschema_prov/records.ncl
    file 644 0:0 '':'' 315532800  1898 jsonschema_prov/strings.ncl
    ");
    let metadata = json(&context.read("distribution/registry/jsonschema_prov.json"));
    let version = &metadata["versions"][0];
    assert_eq!(version["library"], true, "{version}");
    assert_eq!(
        version["tests"],
        json(&format!(
            r#"{{"ran": {{"passed": {passed}, "failed": 0, "skipped": 0}}}}"#
        ))
    );

    // Its page shows the documented contracts, as `nickel doc` extracts them, and the counts.
    let out = context.path("doc.json");
    let real = Command::new(nickel_cli())
        .args(["doc", "--format", "json", "-o"])
        .arg(&out)
        .arg(dir.join("main.ncl"))
        .output()
        .expect("run nickel doc");
    crate::common::assert_success(&real);
    let recorded = json(&context.read("distribution/registry/docs/jsonschema_prov_0.1.0.json"));
    assert_eq!(
        recorded["documentation"],
        json(&std::fs::read_to_string(&out).expect("read"))
    );
    let page = context.read("distribution/modules/jsonschema_prov.html");
    for shown in [
        "A contract that always succeeds",
        "available (a library: no export)",
        "84 passed, 0 failed, 0 skipped",
    ] {
        assert!(page.contains(shown), "the page shows {shown:?}");
    }

    let tested = context.run(["providers", "test", "jsonschema", "--format", "json"]);
    tested.success();
    let report = json(&tested.stdout);
    assert_eq!(report["passed"], passed);
    assert_eq!(report["failed"], json("[]"));
    assert_snapshot!(context.run(["module-loader", "test", "providers", "jsonschema"]), @"
    exit: 0
    --- stdout
    MODULE           PASSED  FAILED  SKIPPED
    jsonschema_prov  84      0       0
    --- stderr
          Tested `jsonschema_prov`: 84 passed, 0 failed, 0 skipped
    ");
}

#[test]
fn an_infra_using_a_contract_library_validates_in_link_and_pack_mode() {
    let context = TestContext::new();
    json_schema_library(&context);
    let infra = context.infra("lab");
    std::fs::write(
        infra.join("main.ncl"),
        "let js = import \"jsonschema_prov/main.ncl\" in\n{\n  port | js.number.Minimum 1 | js.number.Maximum 65535 = 8080,\n  name | js.string.MinLength 3 = \"web\",\n}\n",
    )
    .expect("write main.ncl");
    context
        .run(["providers", "install", "jsonschema", "lab"])
        .success();
    assert_snapshot!(context.run(["providers", "validate", "lab"]), @"
    exit: 0
    --- stdout
    NAME        MODULE           MODE  STATE  EVALUATION
    jsonschema  jsonschema_prov  link  ok     ok
    -           main.ncl         -     -      ok
    -           providers.ncl    -     -      ok
    --- stderr
           Valid `lab`: 1 module and 2 Nickel files
    ");
    context.run(["pack", "provider", "jsonschema"]).success();
    context
        .run([
            "providers",
            "install",
            "jsonschema",
            "lab",
            "--version",
            "0.1.0",
            "--allow-unsigned",
        ])
        .success();
    assert!(
        !context
            .path("workspace/infra/lab/vendor/jsonschema_prov/export.json")
            .exists(),
        "a library's pack has no export"
    );
    assert_snapshot!(context.run(["providers", "validate", "lab"]), @"
    exit: 0
    --- stdout
    NAME        MODULE           MODE  STATE  EVALUATION
    jsonschema  jsonschema_prov  pack  ok     ok
    -           main.ncl         -     -      ok
    -           providers.ncl    -     -      ok
    --- stderr
           Valid `lab`: 1 module and 2 Nickel files
    ");
    // The library's contracts hold the infra to them.
    std::fs::write(
        infra.join("main.ncl"),
        "let js = import \"jsonschema_prov/main.ncl\" in\n{\n  port | js.number.Minimum 1 = 0,\n}\n",
    )
    .expect("write main.ncl");
    let run = context.run(["providers", "validate", "lab"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr
            .contains("contract broken by the value of `port`\n       expected a minimum of 1"),
        "{run}"
    );
}

#[test]
fn a_failing_example_refuses_the_pack_naming_the_field_and_the_example() {
    let context = TestContext::new();
    let dir = json_schema_library(&context);
    let numbers = std::fs::read_to_string(dir.join("numbers.ncl")).expect("read");
    std::fs::write(
        dir.join("numbers.ncl"),
        numbers.replacen("4 | MultipleOf 2", "4 | MultipleOf 3", 1),
    )
    .expect("write");
    assert_eq!(nickel_test_counts(&dir, "main.ncl"), (83, 1));

    let refused = context.run(["pack", "provider", "jsonschema"]);
    assert_eq!(refused.code, 1, "{refused}");
    assert_snapshot!(refused.stderr, @"
    error: failed to pack `jsonschema_prov`
      caused by: `jsonschema_prov` has examples in its doc comments that fail (83 passed, 1 failed, 0 skipped)
      example 0 of `number.MultipleOf` failed: error: contract broken by a value
             expected a multiple of 3
        ┌─ [BASE]/extensions/providers/jsonschema/nickel/numbers.ncl:1:1
        │
      1 │ 4 | MultipleOf 3
        │ ^   ------------ expected type
        │ │    
        │ applied to this expression
    hint: fix them (`provisioning providers test <provider>` or `module-loader test <kind> <name>` runs them alone), or pass `--skip-tests` to pack anyway
    ");
    assert!(
        !context.path("distribution").exists(),
        "a refused pack writes nothing:\n{}",
        context.tree("distribution")
    );
    let tested = context.run(["providers", "test", "jsonschema"]);
    assert_eq!(tested.code, 1, "{tested}");
    assert!(
        tested
            .stderr
            .contains("Failed `jsonschema_prov`: 83 passed, 1 failed, 0 skipped"),
        "{tested}"
    );

    context
        .run(["pack", "provider", "jsonschema", "--skip-tests"])
        .success();
    let metadata = json(&context.read("distribution/registry/jsonschema_prov.json"));
    assert_eq!(metadata["versions"][0]["tests"], "not_run");
}

#[test]
fn ignored_examples_are_counted_as_skipped_and_expected_values_compared() {
    let context = TestContext::new();
    let dir = context
        .provider("lib")
        .file(
            "main.ncl",
            "{\n  double\n    | doc m%\"\n      ```nickel\n      double 2\n      # => 4\n      ```\n\n      ```nickel ignore\n      double \"two\"\n      ```\n    \"%\n    = fun x => x * 2,\n  half\n    | doc m%\"\n      ```nickel\n      half 4\n      # => 3\n      ```\n    \"%\n    = fun x => x / 2,\n}\n",
        )
        .create();
    assert_eq!(nickel_test_counts(&dir, "main.ncl"), (1, 1));
    let tested = context.run(["providers", "test", "lib", "--format", "json"]);
    assert_eq!(tested.code, 1, "{tested}");
    let report = json(&tested.stdout);
    assert_eq!(
        (report["passed"].clone(), report["skipped"].clone()),
        (json("1"), json("1"))
    );
    assert_eq!(report["failed"][0]["field"], "half");
    assert_eq!(report["failed"][0]["example"], 0);
}

#[test]
fn a_broken_file_the_entry_point_does_not_import_refuses_the_pack() {
    let context = TestContext::new();
    context
        .provider("lib")
        .file("main.ncl", "{ x = 1 }\n")
        .file("other.ncl", "{\n  y | Number = \"no\",\n}\n")
        .create();
    let run = context.run(["pack", "provider", "lib"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("other.ncl:2:"), "{run}");
    assert!(!context.path("distribution/packages").exists());
}

#[test]
fn a_module_of_record_contracts_packs_and_the_infra_loading_it_validates() {
    // The shape the issue reported: an export fails on a contract's undefined fields, yet the
    // module and the infra using it are fine.
    let context = TestContext::new();
    context
        .provider("schemas")
        .file(
            "main.ncl",
            "{\n  Server = { name | String, port | Number | default = 22 },\n  Always = fun label value => value,\n}\n",
        )
        .create();
    context.run(["pack", "provider", "schemas"]).success();
    let metadata = json(&context.read("distribution/registry/schemas_prov.json"));
    assert_eq!(metadata["versions"][0]["library"], true);
    assert!(
        metadata["versions"][0].get("tests").is_none(),
        "no examples: no counts"
    );
    let infra = context.infra("lab");
    std::fs::write(
        infra.join("main.ncl"),
        "let s = import \"schemas_prov/main.ncl\" in\n{ web = { name = \"web\" } | s.Server }\n",
    )
    .expect("write");
    context
        .run(["providers", "install", "schemas", "lab"])
        .success();
    let run = context.run(["providers", "validate", "lab"]);
    assert_eq!(run.code, 0, "{run}");
}

/// The Kubernetes 1.34 contracts as the taskserv `k8s-contracts` (category `kubernetes`), with
/// a `main.ncl` naming every contract file (the generator writes none).
fn kubernetes_contracts(context: &TestContext) -> PathBuf {
    let dir = context.path("extensions/taskservs/kubernetes/k8s-contracts/nickel");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let status = Command::new("tar")
        .arg("-xJf")
        .arg(third_party("kubernetes-contracts-v1.34.0.tar.xz"))
        .arg("--strip-components=1")
        .arg("-C")
        .arg(&dir)
        .status()
        .expect("run tar");
    assert!(status.success());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".ncl"))
        .collect();
    names.sort();
    let mut main = String::from("{\n");
    for name in &names {
        main.push_str(&format!(
            "  \"{}\" = import \"{name}\",\n",
            name.trim_end_matches(".ncl")
        ));
    }
    main.push_str("}\n");
    std::fs::write(dir.join("main.ncl"), main).expect("write main.ncl");
    std::fs::write(
        dir.join("manifest.toml"),
        "[package]\nname = \"k8s-contracts\"\nversion = \"1.34.0\"\ndescription = \"Kubernetes 1.34 API contracts\"\n",
    )
    .expect("write manifest");
    dir
}

/// A command with the evaluation deadline raised: the tests run a debug build, several times
/// slower than a release; `docs/performance.md` measures the release within the defaults.
fn run_slow(context: &TestContext, args: &[&str]) -> Run {
    let output = context
        .command()
        .args(args)
        .env("PROVISIONING_EVALUATION_TIMEOUT_SECS", "900")
        .output()
        .expect("run provisioning");
    Run::from_output(output, &context.base, &[])
}

const DEPLOYMENT: &str = r#"let Deployment = import "k8s-contracts/deployment-apps-v1.ncl" in
{
  apiVersion = "apps/v1",
  kind = "Deployment",
  metadata.name = "web",
  spec = {
    replicas = REPLICAS,
    selector.matchLabels.app = "web",
    template = {
      metadata.labels.app = "web",
      spec.containers = [{ name = "web", image = "nginx:1.27" }],
    },
  },
} | Deployment
"#;

#[test]
fn a_generated_kubernetes_module_of_a_thousand_files_packs_and_validates_a_resource() {
    let context = TestContext::new();
    let dir = kubernetes_contracts(&context);
    let files = walk_count(&dir);
    assert!(files > 1000, "{files} files");

    context.run(["keys", "generate"]).success();
    run_slow(&context, &["pack", "taskserv", "k8s-contracts"]).success();
    let artifact = context.path("distribution/packages/k8s-contracts_1.34.0.tar");
    let listing = inspect_archive(&std::fs::read(&artifact).expect("packed"));
    assert!(
        listing.lines().count() > 1300,
        "every file is packed: {} entries",
        listing.lines().count()
    );
    assert!(
        listing.contains("k8s-contracts/.js2n-lib/main.ncl"),
        "the hidden library the contracts import is packed"
    );
    assert!(!listing.contains("export.json"));
    let metadata = json(&context.read("distribution/registry/k8s-contracts.json"));
    assert_eq!(metadata["versions"][0]["library"], true);
    context
        .run(["pack", "verify", "k8s-contracts@1.34.0"])
        .success();
    // Packed again, unchanged: the checks come from the cache, the bytes are the same.
    let sha256 = sha256_file(&artifact);
    run_slow(&context, &["pack", "taskserv", "k8s-contracts"]).success();
    assert_eq!(sha256_file(&artifact), sha256);

    let infra = context.infra("lab");
    std::fs::write(
        infra.join("deploy.ncl"),
        DEPLOYMENT.replace("REPLICAS", "3"),
    )
    .expect("write deploy.ncl");
    run_slow(
        &context,
        &[
            "module-loader",
            "load",
            "taskservs",
            "lab",
            "k8s-contracts",
            "--version",
            "1.34.0",
        ],
    )
    .success();
    let valid = run_slow(&context, &["providers", "validate", "lab"]);
    assert_eq!(valid.code, 0, "{valid}");
    assert!(valid.stdout.contains("deploy.ncl"), "{valid}");

    std::fs::write(
        infra.join("deploy.ncl"),
        DEPLOYMENT.replace("REPLICAS", "\"three\""),
    )
    .expect("write deploy.ncl");
    let invalid = run_slow(&context, &["providers", "validate", "lab"]);
    assert_eq!(invalid.code, 1, "{invalid}");
    assert!(
        invalid.stderr.contains("deploy.ncl` does not evaluate"),
        "{invalid}"
    );
    assert!(invalid.stderr.contains("`replicas`"), "{invalid}");
}

fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_dir() {
                walk_count(&entry.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn the_example_modules_pack_to_the_bytes_they_packed_to_before_libraries() {
    // Recorded from the release before modules could be libraries; evaluation, doc tests and
    // the check of every file must not change what an artifact holds.
    let context = TestContext::examples();
    for kind in ["core", "providers", "taskservs", "clusters"] {
        context.run(["pack", kind]).success();
    }
    let mut hashes: Vec<String> = std::fs::read_dir(context.path("distribution/packages"))
        .expect("packages")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "tar"))
        .map(|path| {
            format!(
                "{}  {}",
                sha256_file(&path),
                path.file_name().expect("name").to_string_lossy()
            )
        })
        .collect();
    hashes.sort_by(|a, b| a[66..].cmp(&b[66..]));
    assert_snapshot!(hashes.join("\n"), @"
    a1e6981c291bd2c354fd53c974941a7e62207c3593bac2b37a216b30f0922485  aws_prov_1.0.0.tar
    c976e22c755977d836f3ebf8a55edfb7d76bb8e0ef3a22cf01b8e72d551ed7bb  containerd_0.1.0.tar
    7f88e7564ce9b0904f9a72de6f7d9bc87dd111d609a7285d6c29002ef21910f2  crio_0.1.0.tar
    cda45658c1e4731ced1ac0d1ff41adcb53ea9003f9f86979882cbaee15bdad58  kubernetes_1.30.0.tar
    07aedecd33a32252f35c71ace26b8990379cbab92837c10a26757f9990bcebe3  local_prov_0.2.0.tar
    36f0b8cce183445709c162842c8fc76c89eca4d89e62cc1eccbeb36b8f4b6195  provisioning_core_0.1.0.tar
    b759f2260e7cc7ef36d0bd5663ee1b25dd6054fd6856ed7b3eb5911b9e94c4a2  upcloud_prov_0.0.1.tar
    58d1c7a45a33c27bce120f2853b0cd86a98fecd3c045a1a33964132e8e1d990e  web_0.1.0.tar
    ");
}
