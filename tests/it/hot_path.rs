//! The link-mode hot path (issue 24, "Startup and the link hot path"): a link install or removal
//! reads what its change touches, once, `validate` reads the lock once though it evaluates
//! package imports (issue 25), and the executable starts without being relocated.
//! Counted with `strace` and read from the ELF header, not timed.

use crate::common::{BIN, TestContext};

/// The file system calls of `provisioning providers <args>` in `context`, as `strace` prints
/// them, one a line.
fn file_calls(context: &TestContext, args: &[&str]) -> Vec<String> {
    let trace = context.base.parent().expect("temp root").join("trace");
    let trace_arg = trace.to_str().expect("a UTF-8 temp path");
    let output = context
        .command_under(&["strace", "-f", "-qq", "-e", "trace=%file", "-o", trace_arg])
        .args(["--base"])
        .arg(&context.base)
        .args(["-q", "providers"])
        .args(args)
        .output()
        .expect("strace runs");
    assert!(
        output.status.success(),
        "`providers {}` failed under strace: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&trace).expect("read trace");
    text.lines().map(str::to_owned).collect()
}

/// How many of `calls` open `file` (of the infra) for reading.
fn reads_of(calls: &[String], file: &str) -> usize {
    calls
        .iter()
        .filter(|call| {
            call.contains("openat(")
                && call.contains(&format!("/{file}\""))
                && call.contains("O_RDONLY")
        })
        .count()
}

/// Regression: the generated `providers.ncl` was rendered from the lock read back from the disk
/// right after the change wrote it, and the infra's `main.ncl` was looked up once per module
/// kind (three times).
#[test]
fn a_link_install_does_not_read_back_the_lock_it_wrote_nor_main_ncl_per_kind() {
    let context = TestContext::examples();
    let install = file_calls(&context, &["install", "local", "homelab"]);
    // No lock before the install: nothing to read, and the one written is not read back.
    assert_eq!(
        reads_of(&install, "providers.manifest.yaml"),
        0,
        "{install:#?}"
    );
    let main_lookups = |calls: &[String]| {
        calls
            .iter()
            .filter(|call| call.contains("/infra/homelab/main.ncl\""))
            .count()
    };
    assert!(main_lookups(&install) <= 1, "{install:#?}");
    let remove = file_calls(&context, &["remove", "local", "homelab"]);
    // The session's read, and the transaction's copy of what it deletes (for its undo).
    assert_eq!(
        reads_of(&remove, "providers.manifest.yaml"),
        2,
        "{remove:#?}"
    );
    assert!(main_lookups(&remove) <= 1, "{remove:#?}");
    assert!(
        !context
            .base
            .join("workspace/infra/homelab/providers.ncl")
            .exists(),
        "the generated file of the last provider is removed with it"
    );
}

/// The executable is linked without position independence on Linux (`build.rs`): the dynamic
/// loader has nothing to relocate at each start. An ELF header's `e_type` (bytes 16–17, little
/// endian on the targets we build) is 2 for a fixed-address executable, 3 for a PIE.
#[cfg(target_os = "linux")]
#[test]
fn the_executable_is_not_relocated_at_start() {
    let bytes = std::fs::read(BIN).expect("read the binary");
    assert_eq!(&bytes[..4], b"\x7fELF");
    let e_type = u16::from_le_bytes([bytes[16], bytes[17]]);
    assert_eq!(
        e_type, 2,
        "`{BIN}` is not a fixed-address executable (ET_EXEC)"
    );
}

/// Issue 25: the package map `validate` evaluates the examples' `import upcloud_prov` with is
/// built from the lock its session read, not from another read of it.
#[test]
fn validate_of_package_imports_reads_the_lock_once() {
    let context = TestContext::examples_installed();
    assert!(
        context
            .read("workspace/infra/wuji/main.ncl")
            .contains("import upcloud_prov in"),
        "the examples use the package form"
    );
    let validate = file_calls(&context, &["validate", "wuji"]);
    assert_eq!(
        reads_of(&validate, "providers.manifest.yaml"),
        1,
        "{validate:#?}"
    );
}
