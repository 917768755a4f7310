//! The stat index of `vendor/` (kept in the cache): a vendored file whose `stat` is as recorded is not read again, every
//! other file is hashed, and drift is reported as before; `sync --verify` reads everything.

use std::path::Path;

use crate::common::{Run, TestContext};

const INFRA: &str = "workspace/infra/homelab";

/// `aws` 1.0.0 (and the core) pinned in `homelab` and vendored, and synced once: the index is
/// written.
fn synced() -> TestContext {
    let context = TestContext::examples()
        .signed()
        .packed(&["core", "provider aws"]);
    context
        .run([
            "providers",
            "install",
            "aws",
            "homelab",
            "--version",
            "1.0.0",
        ])
        .success();
    // Past the filesystem clock's tick: files written in the tick the index is written in are
    // "racy" and hashed again, which is right, but not what these tests look at.
    std::thread::sleep(std::time::Duration::from_millis(20));
    context.run(["providers", "sync", "homelab"]).success();
    assert!(index(&context).is_file(), "sync wrote no index");
    context
}

/// The one index file in the cache.
fn index(context: &TestContext) -> std::path::PathBuf {
    let dir = context.path("distribution/cache/stat-index");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    assert!(files.len() <= 1, "{files:?}");
    files.pop().unwrap_or_else(|| dir.join("missing"))
}

/// Runs the binary under `strace` (following the file system calls named in `trace`, e.g.
/// `trace=openat,open`) and returns the run with the trace's lines, paths relative to the base.
fn traced(context: &TestContext, trace: &str, args: &[&str]) -> (Run, Vec<String>) {
    let file = context.path("../trace");
    let file_arg = file.to_str().expect("utf-8 path");
    let output = context
        .command_under(&["strace", "-f", "-qq", "-e", trace, "-o", file_arg])
        .args(args)
        .output()
        .expect("run strace");
    let run = Run::from_output(output, &context.path(""), &[]);
    let base = context.path("");
    let base = base.to_str().expect("utf-8 path");
    let text = std::fs::read_to_string(&file).expect("read the trace");
    let lines = text.lines().map(|line| line.replace(base, "")).collect();
    (run, lines)
}

/// Runs the binary under `strace` and returns the run with every regular file of a vendored
/// module it opened (not the file lists, not the index, not directories it listed).
fn opened_vendored_files(context: &TestContext, args: &[&str]) -> (Run, Vec<String>) {
    let (run, lines) = traced(context, "trace=openat,open", args);
    let vendor = format!("{INFRA}/vendor/");
    let opened = lines
        .iter()
        .filter_map(|line| line.split('"').nth(1))
        .filter_map(|path| path.strip_prefix(vendor.as_str()))
        .filter(|relative| relative.contains('/'))
        .filter(|relative| {
            context
                .path(&format!("{INFRA}/vendor/{relative}"))
                .is_file()
        })
        .map(str::to_owned)
        .collect();
    (run, opened)
}

#[test]
fn sync_reads_no_vendored_file_the_index_vouches_for_and_verify_reads_them_all() {
    let context = synced();
    let (run, opened) = opened_vendored_files(&context, &["providers", "sync", "homelab"]);
    run.success();
    // Module manifests are read for the dependency and capability checks; nothing is hashed.
    let hashed: Vec<&String> = opened
        .iter()
        .filter(|path| !path.ends_with("/manifest.toml"))
        .collect();
    assert!(hashed.is_empty(), "sync read vendored files: {hashed:?}");
    let (run, opened) =
        opened_vendored_files(&context, &["providers", "sync", "homelab", "--verify"]);
    run.success();
    for file in [
        "aws_prov/main.ncl",
        "aws_prov/manifest.toml",
        "provisioning_core/main.ncl",
    ] {
        assert!(
            opened.iter().any(|path| path == file),
            "`sync --verify` did not read `{file}`: {opened:?}"
        );
    }
}

/// The same size and modification time, other bytes: the change time betrays the edit.
#[test]
fn an_edit_that_keeps_size_and_modification_time_is_still_found() {
    let context = synced();
    let file = context.path(&format!("{INFRA}/vendor/aws_prov/main.ncl"));
    let modified = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .expect("mtime");
    let text = std::fs::read_to_string(&file).expect("read");
    // One byte changed, the length kept.
    let edited = match text.find('a') {
        Some(at) => format!("{}b{}", &text[..at], &text[at + 1..]),
        None => panic!("no `a` in main.ncl"),
    };
    std::fs::write(&file, &edited).expect("edit");
    std::fs::File::options()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_modified(modified))
        .expect("restore mtime");
    let run = context.run(["providers", "installed", "homelab"]);
    assert!(
        run.stdout.contains("drifted vendor"),
        "the edit went unnoticed:\n{run}"
    );
    let run = context.run(["providers", "sync", "homelab"]);
    run.success();
    assert!(run.stderr.contains("Restored `aws_prov` 1.0.0"), "{run}");
    assert_ne!(std::fs::read_to_string(&file).expect("read"), edited);
}

/// A damaged index is an empty one: everything is hashed, drift is still found, and the next
/// sync writes a good index.
#[test]
fn a_damaged_index_is_ignored_and_rewritten() {
    let context = synced();
    let index = index(&context);
    std::fs::write(&index, "provisioning stat index 1\nnot a line\n").expect("damage");
    context.write(&format!("{INFRA}/vendor/aws_prov/extra.ncl"), "{}\n");
    let run = context.run(["providers", "installed", "homelab"]);
    assert!(run.stdout.contains("drifted vendor"), "{run}");
    std::fs::remove_file(context.path(&format!("{INFRA}/vendor/aws_prov/extra.ncl")))
        .expect("remove");
    std::thread::sleep(std::time::Duration::from_millis(20));
    context.run(["providers", "sync", "homelab"]).success();
    let rewritten = std::fs::read_to_string(&index).expect("read index");
    assert!(
        rewritten.lines().count() > 2 && rewritten.contains(" aws_prov/main.ncl"),
        "{rewritten}"
    );
    assert!(!Path::new(&index).with_extension("tmp").exists());
}

/// A sync with nothing to do answers from its plan: each vendored module's file list, directory
/// and manifest are opened once (they were opened twice, by the plan and again by the final
/// check), and nothing is written, the stat index included.
#[test]
fn a_sync_with_nothing_to_do_opens_each_module_once_and_writes_nothing() {
    let context = synced();
    let index = index(&context);
    let (bytes, modified) = (
        std::fs::read(&index).expect("read index"),
        std::fs::metadata(&index)
            .and_then(|m| m.modified())
            .expect("mtime"),
    );
    let (run, lines) = traced(
        &context,
        "trace=openat,open,rename,renameat,renameat2,unlink,unlinkat,mkdir,mkdirat",
        &["providers", "sync", "homelab"],
    );
    run.success();
    for module in ["aws_prov", "provisioning_core"] {
        for (what, path) in [
            ("file list", format!("{INFRA}/vendor/{module}.sha256sums\"")),
            ("directory", format!("{INFRA}/vendor/{module}\", O_RDONLY")),
            (
                "manifest",
                format!("{INFRA}/vendor/{module}/manifest.toml\""),
            ),
        ] {
            let opened = lines.iter().filter(|line| line.contains(&path)).count();
            assert_eq!(
                opened, 1,
                "the {what} of `{module}` was opened {opened} times"
            );
        }
    }
    let changes: Vec<&String> = lines
        .iter()
        .filter(|line| !line.contains("openat") || line.contains("O_CREAT"))
        .filter(|line| !line.contains("ENOENT") && !line.starts_with("+++"))
        .collect();
    assert!(
        changes.is_empty(),
        "sync with nothing to do wrote: {changes:#?}"
    );
    assert_eq!(std::fs::read(&index).expect("read index"), bytes);
    let after = std::fs::metadata(&index)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(after, modified, "the stat index was rewritten");
}

/// What sync unpacks it hashed in memory, from the verified pack: it records each file's
/// `stat` as written and never reads the files back. An edit made afterwards is still found.
#[test]
fn restoring_a_lost_vendor_reads_no_unpacked_file_back() {
    let context = synced();
    std::fs::remove_dir_all(context.path(&format!("{INFRA}/vendor"))).expect("lose vendor/");
    let (run, opened) = opened_vendored_files(&context, &["providers", "sync", "homelab"]);
    run.success();
    assert!(run.stderr.contains("Restored `aws_prov` 1.0.0"), "{run}");
    // The manifests are read for the dependency check and the generated files.
    let read_back: Vec<&String> = opened
        .iter()
        .filter(|path| !path.ends_with("/manifest.toml"))
        .collect();
    assert!(
        read_back.is_empty(),
        "sync read back what it unpacked: {read_back:?}"
    );
    let installed = context.run(["providers", "installed", "homelab"]);
    assert!(!installed.stdout.contains("drifted"), "{installed}");
    context.write(
        &format!("{INFRA}/vendor/aws_prov/main.ncl"),
        "{ edited = true }\n",
    );
    let installed = context.run(["providers", "installed", "homelab"]);
    assert!(
        installed.stdout.contains("drifted vendor"),
        "the edit went unnoticed:\n{installed}"
    );
}

/// A restore waits for the disk once: every pack is unpacked and its file list written first,
/// the lists synced together, and only then is anything moved into `vendor/`. Each list is on
/// the disk before it is visible, and before its module's directory lands.
#[test]
fn a_restore_syncs_every_file_list_before_it_moves_a_module_into_place() {
    let context = synced();
    std::fs::remove_dir_all(context.path(&format!("{INFRA}/vendor"))).expect("lose vendor/");
    let file = context.path("../trace");
    let file_arg = file.to_str().expect("utf-8 path");
    let output = context
        .command_under(&[
            "strace",
            "-f",
            "-qq",
            "-y",
            "-e",
            "trace=fdatasync,rename,renameat,renameat2",
            "-o",
            file_arg,
        ])
        .args(["providers", "sync", "homelab"])
        .output()
        .expect("run strace");
    let run = Run::from_output(output, &context.path(""), &[]);
    run.success();
    let trace = std::fs::read_to_string(&file).expect("read the trace");
    // Each call: what it synced (and how many renames came before it ended), or what it
    // renamed to what. Syncs run on several threads: a call may be cut in two lines.
    let mut synced_files = Vec::new();
    let mut renames = Vec::new();
    let mut unfinished = std::collections::HashMap::new();
    for line in trace.lines() {
        let pid = line.split_whitespace().next().unwrap_or_default();
        if line.contains("fdatasync(") {
            let path = line
                .split('<')
                .nth(1)
                .and_then(|rest| rest.split('>').next());
            let path = path.unwrap_or_default().to_owned();
            if line.ends_with("= 0") {
                synced_files.push((renames.len(), path));
            } else {
                unfinished.insert(pid, path);
            }
        } else if line.contains("fdatasync resumed") {
            if let Some(path) = unfinished.remove(pid).filter(|_| line.ends_with("= 0")) {
                synced_files.push((renames.len(), path));
            }
        } else if line.ends_with("= 0") {
            let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
            if let [from, to] = quoted[..] {
                renames.push((from.to_owned(), to.to_owned()));
            }
        }
    }
    let lists: Vec<&(String, String)> = renames
        .iter()
        .filter(|(_, to)| to.ends_with(".sha256sums"))
        .collect();
    let modules = renames
        .iter()
        .position(|(from, _)| from.ends_with(".unpack"))
        .expect("a module moved into place");
    assert_eq!(lists.len(), 2, "{trace}");
    for (temp, list) in lists {
        let synced_at = synced_files
            .iter()
            .find(|(_, path)| path == temp)
            .map(|(renames_before, _)| *renames_before);
        assert!(
            synced_at.is_some_and(|at| at <= modules),
            "`{list}` was not on the disk before the first module moved into place:\n{trace}"
        );
    }
    let installed = context.run(["providers", "installed", "homelab"]);
    assert!(!installed.stdout.contains("drifted"), "{installed}");
}
