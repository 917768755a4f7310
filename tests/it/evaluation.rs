//! Nickel evaluation is bounded: a deadline, a memory ceiling and a stack for deep data. A
//! module that exceeds them fails alone, named, while the others complete.

use crate::common::TestContext;

/// Regression: an infinite recursion made `pack providers` run forever (memory growing
/// ~300 MB/s), and a 2000-deep value overflowed the main thread's stack (exit 134).
#[test]
fn a_runaway_provider_fails_alone_and_the_others_pack() {
    let context = TestContext::new();
    context.provider("good").create();
    context
        .provider("spins")
        .file("main.ncl", "let rec f = fun x => f x in f 0")
        .create();
    context
        .provider("grows")
        .file("main.ncl", "let rec f = fun x => [x] @ f (x + 1) in f 0")
        .create();
    let mut deep = String::from("1");
    for _ in 0..2000 {
        deep = format!("{{ a = {deep} }}");
    }
    context.provider("deep").file("main.ncl", &deep).create();
    let pack = |args: &[&str], timeout: &str, memory: &str| {
        let run = context
            .command()
            .env("PROVISIONING_EVALUATION_TIMEOUT_SECS", timeout)
            .env("PROVISIONING_EVALUATION_MAX_MEMORY_MIB", memory)
            .args(args)
            .output()
            .expect("runs");
        (
            run.status.code(),
            String::from_utf8_lossy(&run.stderr).into_owned(),
        )
    };
    // Each bound, alone: an evaluation that spins hits the deadline...
    let (code, stderr) = pack(&["pack", "provider", "spins"], "2", "4096");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("did not finish evaluating in 2 s, and was stopped")
            && stderr.contains("raise `evaluation.timeout_secs`"),
        "{stderr}"
    );
    // ...one that allocates without end hits the memory ceiling.
    let (code, stderr) = pack(&["pack", "provider", "grows"], "300", "256");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("used more than 256 MiB while evaluating, and was stopped")
            && stderr.contains("raise `evaluation.max_memory_mib`"),
        "{stderr}"
    );
    // All at once: the runaways fail, named; the others pack, deep data included.
    // (A generous deadline, so a loaded machine does not stop the deep one: the runaways hit
    // the ceiling, or the deadline, whichever comes first.)
    let (code, stderr) = pack(&["pack", "providers"], "30", "256");
    assert_eq!(code, Some(1), "{stderr}");
    for runaway in ["spins_prov", "grows_prov"] {
        assert!(
            stderr.contains(&format!("failed to pack `{runaway}`")),
            "{stderr}"
        );
        assert!(
            !context
                .path(&format!("distribution/registry/{runaway}.json"))
                .exists()
        );
    }
    assert!(
        stderr.contains("2 of 4 providers could not be packed"),
        "{stderr}"
    );
    for packed in ["good_prov_0.0.1.tar", "deep_prov_0.0.1.tar"] {
        assert!(
            context
                .path(&format!("distribution/packages/{packed}"))
                .is_file(),
            "{packed}: {stderr}"
        );
    }
}

#[test]
fn validate_reports_a_runaway_module_and_evaluates_the_rest() {
    let context = TestContext::new();
    context.provider("good").create();
    context
        .provider("spins")
        .file("main.ncl", "let rec f = fun x => f x in f 0")
        .create();
    context.infra("wuji");
    for provider in ["good", "spins"] {
        context
            .run(["providers", "install", provider, "wuji"])
            .success();
    }
    let run = context
        .command()
        .env("PROVISIONING_EVALUATION_TIMEOUT_SECS", "5")
        .args(["providers", "validate", "wuji"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not finish evaluating in 5 s"),
        "{stderr}"
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert!(
        rows.contains(&vec!["good", "good_prov", "link", "ok", "ok"])
            && rows.contains(&vec!["spins", "spins_prov", "link", "ok", "failed"]),
        "{stdout}"
    );
}

/// Regression: `import "/etc/hostname" as 'Text` or `import "../../../../x.ncl"` in a provider
/// was evaluated into the signed `export.json`, so the pack was not self-contained.
#[test]
fn a_pack_carries_no_file_from_outside_its_module() {
    let context = TestContext::new();
    context.write("shared.ncl", "{ region = \"fr-par\" }");
    context
        .provider("absolute")
        .file(
            "main.ncl",
            "{\n  host = import \"/etc/hostname\" as 'Text,\n}\n",
        )
        .create();
    context
        .provider("relative")
        .file(
            "main.ncl",
            "let lib = import \"lib.ncl\" in\n{\n  shared = import \"../../../../shared.ncl\",\n  value = lib,\n}\n",
        )
        .file("lib.ncl", "1")
        .create();
    for (provider, line, import) in [
        ("absolute", 2, "/etc/hostname"),
        ("relative", 3, "../../../../shared.ncl"),
    ] {
        let run = context.run(["pack", "provider", provider]);
        assert_eq!(run.code, 1, "{run}");
        assert!(
            run.stderr.contains(&format!(
                "`{provider}_prov` is not self-contained: `[BASE]/extensions/providers/{provider}/nickel/main.ncl`:{line}: `import \"{import}\"` leaves the module"
            )),
            "{run}"
        );
        assert!(
            run.stderr
                .contains("hint: a pack holds only the module's own files"),
            "{run}"
        );
    }
    for dir in ["distribution/packages", "distribution/registry"] {
        assert!(!context.path(dir).exists(), "nothing was packed: {dir}");
    }

    // `validate` reports the same module as not packable.
    context.infra("wuji");
    context
        .run(["providers", "install", "relative", "wuji"])
        .success();
    let run = context.run(["providers", "validate", "wuji"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("`relative_prov` is not packable: `[BASE]/workspace/infra/wuji/.nickel-modules/relative_prov/main.ncl`:3: `import \"../../../../shared.ncl\"` leaves the module"),
        "{run}"
    );
}

/// Regression (issue 26, item 8): `export` held the worker's whole answer in the parent, two
/// and a half copies of it (212 MB of JSON took 422 MB). The parent now passes the text on as
/// the worker sends it: a 64 MiB export runs under a 128 MiB ceiling on the parent's address
/// space (the old code aborted on an allocation even at 400 MiB), byte for byte as before.
#[test]
fn export_streams_a_large_value_through_a_parent_with_little_memory() {
    let context = TestContext::examples();
    context.infra("big");
    // A 64 MiB string, built by doubling (cheap to evaluate even in a debug build).
    context.write(
        "workspace/infra/big/main.ncl",
        "{ blob = std.array.fold_left (fun acc _ => acc ++ acc) \"0123456789abcdef\" (std.array.range 0 22) }\n",
    );
    let mut command = std::process::Command::new("prlimit");
    // The worker inherits the soft limit and sets its own (`evaluation.max_memory_mib`) under
    // the unlimited hard one.
    command
        .arg(format!("--as={}:unlimited", 128 * 1024 * 1024))
        .arg(crate::common::BIN)
        .args(["--base"])
        .arg(&context.base)
        .args(["export", "big"]);
    let output = command.output().expect("prlimit runs");
    crate::common::assert_success(&output);
    let blob = "0123456789abcdef".repeat(1 << 22);
    let expected = format!("{{\n  \"blob\": \"{blob}\"\n}}\n");
    assert!(
        output.stdout == expected.as_bytes(),
        "the export differs: {} bytes, expected {}",
        output.stdout.len(),
        expected.len()
    );
}
