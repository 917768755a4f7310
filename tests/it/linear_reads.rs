//! A command over N modules reads each file a bounded number of times: the files it opens grow
//! linearly with N (issue 26, item 8). Counted with `strace`, not timed. Regression: an unload
//! of N modules read every loaded module's manifest once for each module it removed (3,000
//! modules: minutes).

use std::process::Command;

use crate::common::{BIN, TestContext};

/// The files `args` opens in a base of `count` linked taskservs (after `setup`), as
/// `strace -f -e trace=openat` counts them.
fn opened(count: usize, setup: &[&str], args: &[&str]) -> usize {
    let context = TestContext::examples();
    let names: Vec<String> = (0..count).map(|i| format!("scale{i}")).collect();
    for name in &names {
        context.write(
            &format!("extensions/taskservs/scale/{name}/nickel/manifest.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n"),
        );
        context.write(
            &format!("extensions/taskservs/scale/{name}/nickel/main.ncl"),
            &format!("{{ name = \"{name}\" }}\n"),
        );
    }
    let with_names = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        all.extend(names.iter().cloned());
        all
    };
    if !setup.is_empty() {
        context.run(with_names(setup)).success();
    }
    let trace = context.base.parent().expect("temp root").join("trace");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=openat", "-o"])
        .arg(&trace)
        .arg(BIN)
        .arg("--base")
        .arg(&context.base)
        .args(["-q"])
        .args(with_names(args))
        .env("HOME", context.base.parent().expect("temp root"))
        .env("NO_COLOR", "1")
        .status()
        .expect("strace runs");
    assert!(status.success(), "`{}` failed under strace", args.join(" "));
    let trace = std::fs::read_to_string(&trace).expect("read trace");
    trace
        .lines()
        .filter(|line| line.contains("openat("))
        .count()
}

/// reads(40) − reads(20) is at most 2.2 × (reads(20) − reads(10)): a linear count doubles its
/// growth when N does; a quadratic one quadruples it.
fn assert_linear(what: &str, reads: impl Fn(usize) -> usize) {
    let [ten, twenty, forty] = [10, 20, 40].map(reads);
    assert!(
        forty - twenty <= (twenty - ten) * 22 / 10,
        "{what} opens {ten}, {twenty}, {forty} files for 10, 20, 40 modules: not linear"
    );
}

#[test]
fn an_unload_of_n_modules_reads_linearly() {
    assert_linear("unload", |count| {
        opened(
            count,
            &["module-loader", "load", "taskservs", "homelab"],
            &["module-loader", "unload", "taskservs", "homelab"],
        )
    });
}

#[test]
fn a_load_of_n_modules_reads_linearly() {
    assert_linear("load", |count| {
        opened(
            count,
            &[],
            &["module-loader", "load", "taskservs", "homelab"],
        )
    });
}
