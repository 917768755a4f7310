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
    let (code, stderr) = pack(&["pack", "providers"], "2", "256");
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
        .env("PROVISIONING_EVALUATION_TIMEOUT_SECS", "2")
        .args(["providers", "validate", "wuji"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not finish evaluating in 2 s"),
        "{stderr}"
    );
    assert!(
        stdout.contains("good   good_prov   link  ok     ok")
            && stdout.contains("spins  spins_prov  link  ok     failed"),
        "{stdout}"
    );
}
