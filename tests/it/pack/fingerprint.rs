//! The unchanged path of `pack` (issue 24): a re-pack of sources nobody touched answers from a
//! fingerprint compared by `stat`, opening no source file and no artifact; anything that
//! changed is the whole pack, with the answer it gave before fingerprints.

use std::time::Duration;

use insta::assert_snapshot;

use crate::common::{Run, TestContext};

/// A fingerprint is recorded only once the sources are older than this at the start of a pack
/// (`SETTLED` in `src/ops/pack/fingerprint.rs`, and a margin): freshly copied test files are not.
const SETTLE: Duration = Duration::from_millis(2_200);

/// `pack provider upcloud` under `strace`, and the files of the module or of the registry's
/// packages it opened.
fn pack_upcloud_traced(context: &TestContext) -> (Run, Vec<String>) {
    pack_upcloud_opening(
        context,
        &["extensions/providers/upcloud", "distribution/packages"],
    )
}

/// `pack provider upcloud` under `strace`, and the files under `dirs` (of the base) it opened.
fn pack_upcloud_opening(context: &TestContext, dirs: &[&str]) -> (Run, Vec<String>) {
    opening(context, &["pack", "provider", "upcloud"], dirs)
}

/// The command `args` under `strace`, and the files under `dirs` (of the base) it opened, once
/// per time it opened them.
fn opening(context: &TestContext, args: &[&str], dirs: &[&str]) -> (Run, Vec<String>) {
    let trace = context.base.parent().expect("temp root").join("trace");
    let trace_arg = trace.display().to_string();
    let output = context
        .command_under(&[
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=openat",
            "-o",
            &trace_arg,
        ])
        .args(args)
        .output()
        .expect("strace runs");
    let dirs: Vec<_> = dirs.iter().map(|dir| context.path(dir)).collect();
    let opened = std::fs::read_to_string(&trace)
        .expect("read trace")
        .lines()
        .filter_map(|line| line.split('"').nth(1))
        .filter(|path| {
            let path = std::path::Path::new(path);
            dirs.iter().any(|dir| path.starts_with(dir))
        })
        .map(|path| {
            path.strip_prefix(&format!("{}/", context.base.display()))
                .unwrap_or(path)
                .to_owned()
        })
        .collect();
    (Run::from_output(output, &context.base, &[]), opened)
}

/// Packs upcloud (when it is not packed yet), waits until its sources have settled, and packs it
/// again.
fn fingerprinted(context: TestContext) -> TestContext {
    let context = context.packed(&["provider upcloud"]);
    std::thread::sleep(SETTLE);
    // This one records the fingerprint.
    context.run(["pack", "provider", "upcloud"]).success();
    context
}

#[test]
fn an_unchanged_repack_opens_no_source_file_and_no_artifact() {
    let context = fingerprinted(TestContext::examples().signed());
    let _filters = context.filters().bind();
    let (run, opened) = pack_upcloud_traced(&context);
    assert_snapshot!(run, @"
    exit: 0
    --- stdout
    --- stderr
       Unchanged `upcloud_prov` 0.0.1 → `distribution/packages/upcloud_prov_0.0.1.tar` (11.00 KiB, sha256 b759f2260e7c, signed by [KEY])
    ");
    // The catalog reads the module's manifest, and the index lists the packages: nothing else.
    let read: Vec<&String> = opened
        .iter()
        .filter(|path| path.ends_with(".ncl") || path.ends_with(".tar"))
        .collect();
    assert!(read.is_empty(), "{read:?}");
}

#[test]
fn a_fingerprint_never_hides_a_change() {
    let context = fingerprinted(TestContext::examples());
    let unchanged = "exit: 0\n--- stdout\n--- stderr\n   Unchanged `upcloud_prov` 0.0.1 → `distribution/packages/upcloud_prov_0.0.1.tar` (11.00 KiB, sha256 b759f2260e7c, unsigned)\n";
    let refused = |run: Run| {
        assert_eq!(run.code, 1, "{run}");
        assert!(
            run.stderr.contains("is already packed with other contents"),
            "{run}"
        );
    };

    // A dependency at another version: the whole pack, which finds the same bytes.
    let core = context.read("schemas/manifest.toml");
    context.write("schemas/manifest.toml", &core.replace("0.1.0", "0.1.9"));
    let (run, opened) = pack_upcloud_traced(&context);
    assert_eq!(run.to_string(), unchanged);
    assert!(
        opened.iter().any(|path| path.ends_with("main.ncl")),
        "{opened:?}"
    );
    context.write("schemas/manifest.toml", &core);

    // A file the evaluation read outside the module (the core's) edited: the whole pack.
    let schemas = context.read("schemas/main.ncl");
    context.write("schemas/main.ncl", &format!("{schemas}# edited\n"));
    let (run, opened) = pack_upcloud_traced(&context);
    assert_eq!(run.to_string(), unchanged);
    assert!(
        opened.iter().any(|path| path.ends_with("main.ncl")),
        "{opened:?}"
    );

    // A file added to the module (its directory changed): in the pack, so other contents.
    let context = fingerprinted(context);
    let notes = context.path("extensions/providers/upcloud/nickel/notes.md");
    std::fs::write(&notes, "new\n").expect("write");
    refused(context.run(["pack", "provider", "upcloud"]));
    std::fs::remove_file(&notes).expect("rm");

    // An edit that keeps the size: the new contents, refused as before fingerprints.
    let context = fingerprinted(context);
    let defaults = "extensions/providers/upcloud/nickel/defaults.ncl";
    let original = context.read(defaults);
    context.write(defaults, &original.replace("fi-hel1", "fi-hel2"));
    refused(context.run(["pack", "provider", "upcloud"]));

    // Written back as it was (touched, the same contents): unchanged, found by reading it.
    context.write(defaults, &original);
    let (run, opened) = pack_upcloud_traced(&context);
    assert_eq!(run.to_string(), unchanged);
    assert!(
        opened.iter().any(|path| path.ends_with("defaults.ncl")),
        "{opened:?}"
    );

    // The artifact deleted from the registry: packed again.
    let context = fingerprinted(context);
    std::fs::remove_file(context.path("distribution/packages/upcloud_prov_0.0.1.tar")).expect("rm");
    assert_snapshot!(context.run(["pack", "provider", "upcloud"]), @"
    exit: 0
    --- stdout
    --- stderr
          Packed `upcloud_prov` 0.0.1 → `distribution/packages/upcloud_prov_0.0.1.tar` (11.00 KiB, sha256 b759f2260e7c, unsigned)
    ");

    // The provenance deleted: the whole pack, which finds the same bytes and writes it again.
    let context = fingerprinted(context);
    let provenance = context.path("distribution/packages/upcloud_prov_0.0.1.intoto.jsonl");
    std::fs::remove_file(&provenance).expect("rm");
    let (run, opened) = pack_upcloud_traced(&context);
    assert_eq!(run.to_string(), unchanged);
    assert!(
        opened.iter().any(|path| path.ends_with("main.ncl")),
        "{opened:?}"
    );
    assert!(provenance.is_file(), "the provenance was not written again");
}

/// The site (`index.json` and the pages) is refreshed only when something it is made from or of
/// changed since the last refresh (`src/ops/pack/site_stamp.rs`): an unchanged re-pack reads no
/// metadata and no page, and a page deleted, or another module's metadata rewritten by a run
/// that never got to its refresh, is a refresh again.
#[test]
fn an_unchanged_repack_skips_the_site_until_something_it_is_made_of_changes() {
    let context = fingerprinted(TestContext::examples().packed(&["provider aws"]));
    let site = [
        "distribution/registry",
        "distribution/modules",
        "distribution/index.json",
    ];
    let skips = |context: &TestContext| {
        let (run, opened) = pack_upcloud_opening(context, &site);
        run.success();
        assert!(opened.is_empty(), "{opened:?}");
    };
    skips(&context);

    let page = "distribution/modules/upcloud_prov.html";
    std::fs::remove_file(context.path(page)).expect("remove the page");
    let (run, opened) = pack_upcloud_opening(&context, &site);
    run.success();
    assert!(
        opened
            .iter()
            .any(|path| path.ends_with("upcloud_prov.json")),
        "{opened:?}"
    );
    assert!(context.path(page).is_file(), "the page is written again");
    std::thread::sleep(SETTLE);
    context.run(["pack", "provider", "upcloud"]).success();
    skips(&context);

    // Another module's record replaced (as by a run killed before its refresh): the site follows.
    let record = "distribution/registry/aws_prov.json";
    let edited = context
        .read(record)
        .replace("\"license\": \"MIT\"", "\"license\": \"Apache-2.0\"");
    assert!(
        edited.contains("Apache-2.0"),
        "the record names its license"
    );
    let staged = context.path("distribution/registry/staged.tmp");
    std::fs::write(&staged, edited).expect("stage");
    std::fs::rename(&staged, context.path(record)).expect("replace the record");
    context.run(["pack", "provider", "upcloud"]).success();
    assert!(
        context
            .read("distribution/modules/aws_prov.html")
            .contains("Apache-2.0"),
        "the page follows the record"
    );
}

#[test]
fn an_unchanged_repack_of_every_provider_reads_each_manifest_once() {
    let context = TestContext::examples().packed(&["core", "providers"]);
    std::thread::sleep(SETTLE);
    // This one records the fingerprints.
    context.run(["pack", "providers"]).success();
    let (run, opened) = opening(&context, &["pack", "providers"], &["extensions/providers"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains("3 providers: 3 unchanged"), "{run}");
    // Discovering the providers reads each manifest; the import directory's catalog takes them
    // from that discovery instead of reading them again. No source file is opened.
    let mut manifests: Vec<&String> = opened
        .iter()
        .filter(|path| path.ends_with("/manifest.toml"))
        .collect();
    manifests.sort();
    assert_eq!(
        manifests,
        [
            "extensions/providers/aws/nickel/manifest.toml",
            "extensions/providers/local/nickel/manifest.toml",
            "extensions/providers/upcloud/nickel/manifest.toml",
        ],
        "{opened:?}"
    );
    let sources: Vec<&String> = opened
        .iter()
        .filter(|path| path.ends_with(".ncl"))
        .collect();
    assert!(sources.is_empty(), "{sources:?}");
}
