//! What a killed run leaves where no lock of the infra's or the registry's is taken first is
//! removed by the next command that owns the directory, and nothing else is (issue 26, item 7).
//! Regression: `vendor/` after `update`, `distribution/` and its pages after `pack index`,
//! `registry/docs/` after `pack --force`, and the import directory in `$TMPDIR` after `pack`
//! stayed until some other command, or forever.

use std::path::Path;

use crate::common::TestContext;

/// Writes each of `paths` (relative to `root`) as a killed run would have left it.
fn plant(root: &Path, paths: &[&str]) {
    for relative in paths {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "left by a killed run").expect("write");
    }
}

/// Each planted path's debris entry (the component named `.provisioning-*`, with all it holds)
/// is gone.
fn gone(root: &Path, paths: &[&str]) {
    for relative in paths {
        let mut top = root.to_owned();
        for part in relative.split('/') {
            top.push(part);
            if part.starts_with(".provisioning-") {
                break;
            }
        }
        assert!(!top.exists(), "`{}` is still there", top.display());
    }
}

#[test]
fn update_removes_what_a_killed_update_set_aside_in_vendor() {
    let context = TestContext::released_and_pinned();
    let before = context.tree("workspace/infra/lab");
    let debris = ["vendor/.provisioning-Xy12Ab.removed/entry/main.ncl"];
    plant(&context.path("workspace/infra/lab"), &debris);
    context.run(["providers", "update", "lab"]).success();
    gone(&context.path("workspace/infra/lab"), &debris);
    assert_eq!(context.tree("workspace/infra/lab"), before);
}

#[test]
fn pack_index_removes_what_killed_runs_left_in_the_site_and_the_docs() {
    let context = TestContext::released();
    let before = context.tree("distribution");
    let debris = [
        ".provisioning-Ab12Cd.tmp",
        ".provisioning-Ef34Gh.unpack/aws_prov.html",
        "modules/.provisioning-Ij56Kl.tmp",
        "registry/docs/.provisioning-Mn78Op.tmp",
    ];
    // Named like debris but without the leading `.provisioning-`: someone else's, kept.
    let kept = ["provisioning-notes.tmp", "registry/docs/.provisioning.tmp"];
    plant(&context.path("distribution"), &debris);
    plant(&context.path("distribution"), &kept);
    context.run(["pack", "index"]).success();
    gone(&context.path("distribution"), &debris);
    for relative in kept {
        std::fs::remove_file(context.path("distribution").join(relative)).expect("kept");
    }
    assert_eq!(context.tree("distribution"), before);
}

#[test]
fn pack_removes_what_a_killed_pack_force_left_in_the_docs() {
    let context = TestContext::released();
    let docs = context.path("distribution/registry/docs");
    let debris = [".provisioning-Qr90St.tmp"];
    plant(&docs, &debris);
    let names = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .expect("list")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        names.sort();
        names
    };
    let mut before = names(&docs);
    before.retain(|name| name != ".provisioning-Qr90St.tmp");
    context
        .run(["pack", "provider", "aws", "--force"])
        .success();
    gone(&docs, &debris);
    assert_eq!(names(&docs), before);
}

#[test]
fn pack_removes_the_import_directory_of_a_killed_pack_and_never_a_running_ones() {
    let context = TestContext::examples();
    let temp = context.base.parent().expect("temp root").join("tmp");
    // A killed pack's: nobody holds its lock. Its link must not be followed.
    let dead = temp.join("provisioning-imports-held-Uv12Wx");
    std::fs::create_dir_all(&dead).expect("mkdir");
    let aws = context.path("extensions/providers/aws/nickel");
    std::os::unix::fs::symlink(&aws, dead.join("aws_prov")).expect("link");
    // A running pack's: its lock is held (here, by this test).
    let running = temp.join("provisioning-imports-held-Yz34Ab");
    std::fs::create_dir_all(&running).expect("mkdir");
    let held = std::fs::File::open(&running).expect("open");
    held.lock().expect("lock");
    // An earlier version's, which held no lock: it may be running, so it stays.
    let earlier = temp.join("provisioning-imports-Cd56Ef");
    std::fs::create_dir_all(&earlier).expect("mkdir");
    // Someone else's file of a similar name.
    std::fs::write(temp.join("provisioning-imports-held.txt"), "theirs").expect("write");

    let output = context
        .command()
        .env("TMPDIR", &temp)
        .args(["pack", "provider", "aws"])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!dead.exists(), "the killed pack's directory is removed");
    assert!(aws.join("main.ncl").is_file(), "what it linked to stays");
    let mut left: Vec<_> = std::fs::read_dir(&temp)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "provisioning-imports-Cd56Ef",
            "provisioning-imports-held-Yz34Ab",
            "provisioning-imports-held.txt"
        ],
        "the running pack's directory, an earlier version's and the other file stay; the pack removed its own"
    );
    drop(held);
}
