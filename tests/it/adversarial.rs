//! Regressions of an adversarial pass over provenance, `Nickel-pkg.ncl`, the SBOM and yank
//! reasons: hostile or mistaken input gets a message that names the right thing, in our words,
//! never the tool's own temporary files or Rust types.

use insta::assert_snapshot;

use crate::common::TestContext;

const PROVENANCE: &str = "distribution/packages/aws_prov_1.0.0.intoto.jsonl";

/// Rebuilding from another module's source once said only "`Nickel-pkg.ncl` differs".
#[test]
fn rebuild_from_another_modules_source_says_whose_source_it_is() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let _filters = context.filters().bind();
    assert_snapshot!(context.run([
        "pack",
        "verify",
        "--rebuild",
        "aws_prov@1.0.0",
        "--source",
        "extensions/providers/local/nickel",
    ]), @"
    exit: 1
    --- stdout
    --- stderr
    error: cannot rebuild `aws_prov` 1.0.0 from `extensions/providers/local/nickel`: it is the source of `local_prov` 0.2.0
    hint: pass `--source DIR`, the directory of `aws_prov` 1.0.0
    ");
}

/// An envelope that is a list or a string once named serde's `struct Envelope`.
#[test]
fn a_provenance_envelope_of_the_wrong_shape_names_no_rust_type() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let mut messages = Vec::new();
    for envelope in ["[]\n", "\"x\"\n"] {
        context.write(PROVENANCE, envelope);
        let run = context.run_keyed(["pack", "verify", "--provenance", "aws_prov@1.0.0"]);
        assert_eq!(run.code, 1, "{run}");
        messages.extend(run.stderr.lines().next().map(str::to_owned));
    }
    assert_snapshot!(messages.join("\n"), @r#"
    error: provenance: `aws_prov_1.0.0.intoto.jsonl` is not a provenance envelope: expected a record of fields (`{ … }`), found a list of 0 values at line 1 column 2
    error: provenance: `aws_prov_1.0.0.intoto.jsonl` is not a provenance envelope: expected a record of fields (`{ … }`), found string "x" at line 1 column 3
    "#);
}

/// A `Nickel-pkg.ncl` that is not a record: the diagnostic once showed the wrapper the tool
/// evaluates it through, a file in a temporary directory gone after the run.
#[test]
fn a_nickel_pkg_that_is_not_a_record_is_shown_without_the_tools_wrapper() {
    let context = TestContext::examples();
    context.provider("edge").nickel_pkg_only("42\n").create();
    let _filters = context.filters().bind();
    assert_snapshot!(context.run(["providers", "install", "edge", "homelab"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: provider `edge` cannot be installed: `[BASE]/extensions/providers/edge/nickel/Nickel-pkg.ncl` is not a valid Nickel package manifest (`std.package.Manifest`):
    error: contract broken by a value
           expected a Record
      ┌─ [BASE]/extensions/providers/edge/nickel/Nickel-pkg.ncl:1:1
      │
    1 │ 42
      │ -- evaluated to this expression
    ");
}

/// A `Nickel-pkg.ncl` with a `'Path` dependency on itself once failed its own contract on
/// `version` (read twice by one evaluator).
#[test]
fn a_nickel_pkg_depending_on_itself_says_so() {
    let context = TestContext::examples();
    context
        .provider("edge")
        .nickel_pkg_only(
            "{\n  name = \"edge_prov\",\n  version = \"0.1.0\",\n  minimal_nickel_version = \"1.12\",\n  description = \"Edge\",\n  dependencies = { edge_prov = 'Path \".\" },\n} | std.package.Manifest\n",
        )
        .create();
    let _filters = context.filters().bind();
    assert_snapshot!(context.run(["providers", "install", "edge", "homelab"]), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: provider `edge` cannot be installed: `[BASE]/extensions/providers/edge/nickel/Nickel-pkg.ncl`: `edge_prov` depends on itself (`edge_prov = 'Path "."`)
    "#);
}

/// `--output` into a directory that does not exist once named the random temporary file.
#[test]
fn sbom_into_a_missing_directory_names_the_directory_only() {
    let context = TestContext::released().installed("wuji", &["aws@1.0.0"]);
    let _filters = context.filters().bind();
    assert_snapshot!(context.run([
        "providers",
        "sbom",
        "wuji",
        "--output",
        "missing/wuji.cdx.json",
    ]), @"
    exit: 1
    --- stdout
    --- stderr
    error: cannot write the SBOM `[BASE]/missing/wuji.cdx.json`
      caused by: No such file or directory (os error 2) at `[BASE]/missing`
    ");
    assert!(!context.path("missing").exists());
}

/// A yank reason with a terminal's escape sequences once reached the registry's page raw.
#[test]
fn a_yank_reason_with_control_characters_reaches_the_page_escaped() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    context
        .run([
            "pack",
            "yank",
            "aws_prov@1.0.0",
            "--reason",
            "CVE-1\u{1b}[2J\u{7} <b>bold</b>",
        ])
        .success();
    let page = context.read("distribution/modules/aws_prov.html");
    assert!(!page.contains(['\u{1b}', '\u{7}']), "{page}");
    assert!(
        page.contains("yanked: CVE-1\\u{1b}[2J\\u{7} &lt;b&gt;bold&lt;/b&gt;"),
        "{page}"
    );
}

/// Each `pack verify --rebuild` once left a fingerprint of its scratch directory in the cache,
/// a file no later pack could use.
#[test]
fn rebuild_leaves_no_fingerprint_in_the_cache() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let fingerprints = || {
        std::fs::read_dir(context.path("distribution/cache/pack"))
            .map(|entries| entries.count())
            .unwrap_or(0)
    };
    // A fingerprint is recorded only for sources settled 2 s before a pack starts (as git's
    // index, against racy `stat`s); a file's change time cannot be set back, so wait them out.
    std::thread::sleep(std::time::Duration::from_millis(2_200));
    let before = fingerprints();
    for _ in 0..2 {
        context
            .run(["pack", "verify", "--rebuild", "aws_prov@1.0.0"])
            .success();
    }
    assert_eq!(fingerprints(), before);
}

/// `--reason ""` once recorded an empty reason, which `outdated` showed as `yanked: `.
#[test]
fn an_empty_yank_reason_is_a_usage_error() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let _filters = context.filters().bind();
    assert_snapshot!(context.run(["pack", "yank", "aws_prov@1.0.0", "--reason", " "]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value ' ' for '--reason <TEXT>': a reason cannot be empty (without `--reason`, a yank records none)

    For more information, try '--help'.
    ");
    let metadata = context.read("distribution/registry/aws_prov.json");
    assert!(!metadata.contains("\"yanked\": true"), "{metadata}");
}

/// A yank reason longer than 65535 characters (a registry's metadata says what it likes) once
/// panicked the table of `audit` and `outdated`.
#[test]
fn a_yank_reason_longer_than_a_format_width_prints_its_table() {
    let context = TestContext::released().installed("wuji", &["aws@1.0.0"]);
    let reason = "a".repeat(70_000);
    context
        .run(["pack", "yank", "aws_prov@1.0.0", "--reason", &reason])
        .success();
    let audit = context.run(["providers", "audit", "wuji"]);
    assert_eq!(audit.code, 1, "{}", audit.stderr);
    assert!(audit.stdout.contains(&format!("yanked: {reason}  ")));
    let outdated = context.run(["providers", "outdated", "wuji"]);
    assert_eq!(outdated.code, 0, "{}", outdated.stderr);
    assert!(outdated.stdout.contains(&reason));
}

/// A speed window of `i64::MAX` seconds once overflowed `Instant` and panicked the first read
/// from a remote registry.
#[test]
fn a_speed_window_past_the_end_of_time_reads_as_a_long_one() {
    let releaser = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let server = crate::common::StaticServer::start(&releaser.path("distribution"));
    let team = TestContext::examples().trusting(&releaser);
    let output = team
        .command()
        .env(
            "PROVISIONING_DISTRIBUTION_LOW_SPEED_TIME_SECS",
            i64::MAX.to_string(),
        )
        .arg("--registry")
        .arg(server.url())
        .args(["providers", "install", "aws", "wuji", "--version", "1.0.0"])
        .output()
        .expect("runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An envelope with thousands of signatures by keys nobody trusts (or one key id of megabytes)
/// once listed every one in the message.
#[test]
fn an_envelope_of_many_untrusted_signatures_lists_a_few() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let mut envelope: serde_json::Value =
        serde_json::from_str(&context.read(PROVENANCE)).expect("json");
    let mut signatures: Vec<serde_json::Value> = (0..2_000)
        .map(|index| serde_json::json!({"keyid": format!("{:016X}", index % 1_000), "sig": "AAAA"}))
        .collect();
    signatures.insert(
        3,
        serde_json::json!({"keyid": "Z".repeat(100_000), "sig": ""}),
    );
    envelope["signatures"] = signatures.into();
    context.write(PROVENANCE, &format!("{envelope}\n"));
    let run = context.run_keyed(["pack", "verify", "--provenance", "aws_prov@1.0.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr.len());
    assert_snapshot!(run.stderr.lines().next().unwrap_or_default(), @"error: provenance: `aws_prov_1.0.0.intoto.jsonl` is signed only by keys that are not trusted: 0000000000000000, 0000000000000001, 0000000000000002, ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ…, 0000000000000003, 0000000000000004, 0000000000000005, 0000000000000006, and 993 more");
}

/// A module described by `Nickel-pkg.ncl` alone packed, but its rebuild looked for a
/// `manifest.toml` only.
#[test]
fn a_nickel_pkg_only_module_rebuilds_identical() {
    let context = TestContext::examples().signed();
    context
        .provider("edge")
        .nickel_pkg_only(
            "{\n  name = \"edge_prov\",\n  version = \"0.1.0\",\n  minimal_nickel_version = \"1.12\",\n  description = \"Edge\",\n  dependencies = {},\n} | std.package.Manifest\n",
        )
        .file("main.ncl", "{ edge = true }\n")
        .create();
    context.run(["pack", "provider", "edge"]).success();
    let rebuilt = context.run(["pack", "verify", "--rebuild", "edge_prov@0.1.0"]);
    rebuilt.success();
    assert!(
        rebuilt.stdout.contains("reproducible: identical"),
        "{rebuilt}"
    );
}

/// `--source` a file, or a path that does not exist: once "failed to query resolved metadata
/// `…/manifest.toml`: Not a directory".
#[test]
fn rebuild_from_a_file_or_nothing_says_so() {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    let _filters = context.filters().bind();
    context.write("notes.txt", "not a module\n");
    let runs: Vec<String> = ["notes.txt", "gone"]
        .into_iter()
        .map(|source| {
            let run = context.run([
                "pack",
                "verify",
                "--rebuild",
                "aws_prov@1.0.0",
                "--source",
                source,
            ]);
            format!("exit {}: {}", run.code, run.stderr.trim_end())
        })
        .collect();
    assert_snapshot!(runs.join("\n"), @"
    exit 1: error: cannot rebuild from `notes.txt`: it is not a directory
    hint: pass `--source DIR`, the module's directory (the one holding its `manifest.toml` or `Nickel-pkg.ncl`)
    exit 1: error: cannot rebuild from `gone`: it does not exist
    hint: pass `--source DIR`, the module's directory (the one holding its `manifest.toml` or `Nickel-pkg.ncl`)
    ");
}
