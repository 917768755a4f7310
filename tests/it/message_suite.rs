//! The message suite: every command fed a wrong infra, a wrong module name of each kind, and a
//! malformed manifest, lock, registry metadata and configuration. Each case asserts what every
//! error owes the user: the exit code (1, or 2 for usage), the file or name at fault named, a
//! hint that is not the command just run, and no text from a parser's internals.

use crate::common::{Run, TestContext};

/// Text of serde, semver, Rust or a parser's internals, which no message may show.
const DENYLIST: &[&str] = &[
    "untagged enum",
    "expected semver",
    "invalid type:",
    "Error(",
    "Os {",
    "panicked",
    "unexpected character",
    "while parsing",
    "RUST_BACKTRACE",
];

/// One command and what its error must say.
struct Case {
    args: &'static str,
    exit: i32,
    /// The file or name at fault: the error names it.
    names: &'static str,
}

const fn case(args: &'static str, exit: i32, names: &'static str) -> Case {
    Case { args, exit, names }
}

/// Runs every case in `context` and collects what each one got wrong, so one run reports all.
fn check(context: &TestContext, cases: &[Case]) {
    let mut wrong = Vec::new();
    for case in cases {
        let args: Vec<&str> = case.args.split_whitespace().collect();
        let run = context.run(&args);
        for problem in problems(case, &run) {
            wrong.push(format!(
                "`provisioning {}`: {problem}\n{}",
                case.args, run.stderr
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
}

fn problems(case: &Case, run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    let stderr = &run.stderr;
    if run.code != case.exit {
        problems.push(format!("exit {}, expected {}", run.code, case.exit));
    }
    if !stderr.contains("error") {
        problems.push("no error on stderr".to_owned());
    }
    if !stderr.contains(case.names) {
        problems.push(format!("the error does not name `{}`", case.names));
    }
    let command = format!("provisioning {}", case.args);
    for line in stderr.lines().filter(|line| line.contains("hint:")) {
        if line.contains(&format!("`{command}`")) {
            problems.push(format!("the hint repeats the command just run: {line}"));
        }
    }
    for internal in DENYLIST {
        if stderr.contains(internal) {
            problems.push(format!(
                "the error shows a parser's internals: `{internal}`"
            ));
        }
    }
    // An OS error is only meaningful with the path it is about.
    for line in stderr.lines().filter(|line| line.contains("os error")) {
        if !line.contains('/') && !line.contains('`') {
            problems.push(format!("an OS error without a path: {line}"));
        }
    }
    // "line 1, column 1" of a file whose first line is not at fault says nothing.
    if stderr.contains("line 1, column 1:") && !case.names.is_empty() {
        problems.push("a position at line 1, column 1".to_owned());
    }
    problems
}

#[test]
fn a_wrong_infra_is_named_with_the_infras_there_are() {
    let context = TestContext::examples_installed();
    check(
        &context,
        &[
            case("providers install upcloud nosuch", 1, "nosuch"),
            case("providers remove upcloud nosuch", 1, "nosuch"),
            case("providers installed nosuch", 1, "nosuch"),
            case("providers validate nosuch", 1, "nosuch"),
            case("providers sync nosuch", 1, "nosuch"),
            case("providers outdated nosuch", 1, "nosuch"),
            case("providers update nosuch", 1, "nosuch"),
            case(
                "module-loader load taskservs nosuch kubernetes",
                1,
                "nosuch",
            ),
            case(
                "module-loader unload taskservs nosuch kubernetes",
                1,
                "nosuch",
            ),
            case("module-loader installed nosuch", 1, "nosuch"),
            case("module-loader graph nosuch", 1, "nosuch"),
            case("module-loader sync nosuch", 1, "nosuch"),
            case("export nosuch", 1, "nosuch"),
            case("env nosuch", 1, "nosuch"),
            case("export workspace/infra/nosuch", 1, "nosuch"),
            case("providers install upcloud Bad_Infra", 2, "Bad_Infra"),
            case(
                "export workspace/infra/wuji/main.ncl",
                2,
                "export wuji main.ncl",
            ),
        ],
    );
}

#[test]
fn a_wrong_module_name_of_each_kind_is_named() {
    let context = TestContext::examples_installed();
    check(
        &context,
        &[
            case("providers install nosuch wuji", 1, "nosuch"),
            case("providers install upcloud_prov wuji", 1, "`upcloud`"),
            case(
                "providers install containerd wuji",
                1,
                "module-loader load taskservs",
            ),
            case(
                "providers install web wuji",
                1,
                "module-loader load clusters",
            ),
            case(
                "providers install upcloud wuji --allow-unsigned=Bad",
                2,
                "`Bad`",
            ),
            case("providers remove nosuch wuji", 1, "nosuch"),
            case("providers info nosuch", 1, "nosuch"),
            case("providers test nosuch", 1, "nosuch"),
            case("module-loader load taskservs wuji nosuch", 1, "nosuch"),
            case("module-loader load clusters wuji nosuch", 1, "nosuch"),
            case("module-loader unload taskservs wuji nosuch", 1, "nosuch"),
            case("module-loader unload clusters wuji nosuch", 1, "nosuch"),
            case("pack provider nosuch", 1, "nosuch"),
            case("pack taskserv nosuch", 1, "nosuch"),
            case("pack cluster nosuch", 1, "nosuch"),
            case("registry list nosuch_prov", 1, "nosuch_prov"),
            case("pack verify nosuch_prov@1.0.0", 1, "nosuch_prov"),
            case("pack yank nosuch_prov@1.0.0", 1, "nosuch_prov"),
            case("export wuji nosuch.ncl", 1, "nosuch.ncl"),
            case("export wuji --field nosuch", 1, "--field nosuch"),
            case("export wuji --field servers.0", 2, "`0`"),
            case("export wuji --format toml --field servers", 1, "TOML"),
        ],
    );
}

#[test]
fn a_malformed_module_manifest_is_named_with_its_line() {
    let context = TestContext::examples_installed();
    let manifest = "extensions/providers/aws/nickel/manifest.toml";
    let broken = [
        (
            "[package]\nversion = \"1.0.0\"\n",
            "line 1: `[package]` has no `name`",
        ),
        (
            "[package]\nname = \"aws_prov\"\nversion = \"1.0.0\"\nprovisioning_core = \"^0.1\"\n",
            "line 4: the dependency `provisioning_core` is written under `[package]`",
        ),
        ("[package\n", "line 1, column 9"),
        ("[package]\nname = \"aws_prov\"\nversion = 1\n", "line 3"),
        (
            "[package]\nname = \"aws_prov\"\nversion = \"1.x\"\n",
            "version = \"1.x\"",
        ),
    ];
    for (text, names) in broken {
        context.write(manifest, text);
        for args in [
            "providers list",
            "providers info aws",
            "providers install aws homelab",
            "pack provider aws",
        ] {
            check(
                &context,
                &[Case {
                    args,
                    exit: 1,
                    names,
                }],
            );
            check(
                &context,
                &[Case {
                    args,
                    exit: 1,
                    names: manifest,
                }],
            );
        }
    }
}

#[test]
fn a_malformed_infra_manifest_lock_and_config_are_named() {
    let context = TestContext::examples_installed();
    let lock = "workspace/infra/wuji/providers.manifest.yaml";
    let good_lock = context.read(lock);
    for text in [
        "format_version: \"one\"\n",
        "format_version: 1\nproviders:\n  - name: 1\n",
        "format_version: 1\nproviders: [\n",
    ] {
        context.write(lock, text);
        check(
            &context,
            &[
                case("providers installed wuji", 1, lock),
                case("providers validate wuji", 1, lock),
                case("providers sync wuji", 1, lock),
                case("providers install local wuji", 1, lock),
                case("module-loader graph wuji", 1, lock),
            ],
        );
    }
    context.write(lock, &good_lock);

    let manifest = "workspace/infra/wuji/manifest.toml";
    context.write(manifest, "[package]\nname = \"wuji\"\n[dependencies\n");
    check(
        &context,
        &[
            case("providers install local wuji", 1, manifest),
            case("providers remove aws wuji", 1, manifest),
        ],
    );

    let config = "config/config.defaults.toml";
    for text in [
        "[evaluation]\ntimeout_secs = \"long\"\n",
        "[distribution\n",
        "[distribution]\nregistry_type = \"ftp\"\n",
    ] {
        context.write(config, text);
        check(
            &context,
            &[
                case("providers list", 1, config),
                case("pack list", 1, config),
                case("export wuji", 1, config),
            ],
        );
    }
}

#[test]
fn malformed_registry_metadata_is_named_with_the_field() {
    let context = TestContext::examples().packed(&["core", "provider aws"]);
    let metadata = "distribution/registry/aws_prov.json";
    let good: serde_json::Value = serde_json::from_str(&context.read(metadata)).expect("json");
    let mut size = good.clone();
    size["versions"][0]["size"] = "big".into();
    let mut version = good.clone();
    version["versions"][0]["version"] = 1.into();
    let mut missing = good;
    missing["versions"][0]
        .as_object_mut()
        .expect("a version")
        .remove("sha256");
    for (broken, field) in [
        (size, "versions[0].size"),
        (version, "versions[0].version"),
        (missing, "sha256"),
    ] {
        context.write(
            metadata,
            &serde_json::to_string_pretty(&broken).expect("json"),
        );
        for args in [
            "registry list aws_prov",
            "pack verify aws_prov@1.0.0",
            "providers install aws homelab --version 1.0.0",
        ] {
            check(
                &context,
                &[Case {
                    args,
                    exit: 1,
                    names: field,
                }],
            );
            check(
                &context,
                &[Case {
                    args,
                    exit: 1,
                    names: metadata,
                }],
            );
        }
    }
    context.write(metadata, "{\"name\": \"aws_prov\",");
    check(&context, &[case("registry list aws_prov", 1, metadata)]);
}
