//! Every file the tool reads is read only when it is a regular file, and only up to the bound
//! of its kind (issue 26, item 5). Regression: a FIFO at any of these paths hung the command
//! forever, and a link to `/dev/zero` was read until memory ran out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{TestContext, output_within};

/// A hang is what this guards against: every refusal comes before a byte is read.
const LIMIT: Duration = Duration::from_secs(20);

/// A file the tool reads, and a command that reads it.
struct Case {
    file: PathBuf,
    args: Vec<&'static str>,
    env: Vec<(&'static str, String)>,
}

impl Case {
    fn new(file: PathBuf, args: &[&'static str]) -> Self {
        Self {
            file,
            args: args.to_vec(),
            env: Vec::new(),
        }
    }

    fn env(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.env.push((name, value.into()));
        self
    }
}

/// Every kind of file the tool reads, in the released base with the pinned infra `lab`.
fn cases(context: &TestContext) -> Vec<Case> {
    let home = context.base.parent().expect("temp root");
    let lab = context.path("workspace/infra/lab");
    let user_config = home.join("user.toml");
    let docker = home.join("docker");
    std::fs::create_dir_all(&docker).expect("mkdir");
    vec![
        Case::new(user_config.clone(), &["keys", "list"])
            .env("PROVISIONING_CONFIG", user_config.display().to_string()),
        Case::new(
            context.path("config/config.defaults.toml"),
            &["keys", "list"],
        ),
        Case::new(
            lab.join("providers.manifest.yaml"),
            &["module-loader", "installed", "lab"],
        ),
        Case::new(lab.join("manifest.toml"), &["providers", "sync", "lab"]),
        Case::new(lab.join("taskservs.ncl"), &["providers", "validate", "lab"]),
        Case::new(
            lab.join("vendor/containerd.sha256sums"),
            &["providers", "sync", "lab"],
        ),
        Case::new(
            context.path("extensions/providers/aws/nickel/manifest.toml"),
            &["pack", "provider", "aws"],
        ),
        Case::new(
            context.path("distribution/registry/containerd.json"),
            &["pack", "list"],
        ),
        Case::new(
            context.path("distribution/packages/crio_0.1.0.tar"),
            &[
                "module-loader",
                "load",
                "taskservs",
                "lab",
                "crio",
                "--version",
                "0.1.0",
            ],
        ),
        Case::new(
            context.path("distribution/packages/containerd_0.1.0.tar.minisig"),
            &["pack", "list"],
        ),
        Case::new(
            home.join(".config/provisioning/keys/provisioning.key"),
            &["keys", "list"],
        ),
        Case::new(home.join("other.pub"), &["keys", "trust"]),
        Case::new(home.join(".netrc"), &["registry", "list"])
            .env("PROVISIONING_DISTRIBUTION_REGISTRY_TYPE", "http")
            .env(
                "PROVISIONING_DISTRIBUTION_REGISTRY_URL",
                "http://127.0.0.1:9/packs",
            ),
        Case::new(
            docker.join("config.json"),
            &["--registry", "oci://127.0.0.1:9/ns", "registry", "list"],
        )
        .env("DOCKER_CONFIG", docker.display().to_string()),
    ]
}

/// Runs `case` with its file replaced by `plant`, puts the file back, and says what went wrong,
/// if anything: the command must exit 1 (not hang, not abort) naming the file.
fn refused(
    context: &TestContext,
    case: &Case,
    plant: &dyn Fn(&Path),
    expected: &str,
) -> Option<String> {
    let aside = case.file.with_extension("aside");
    let existed = case.file.exists();
    if existed {
        std::fs::rename(&case.file, &aside).expect("set the file aside");
    }
    plant(&case.file);
    let mut command = context.command();
    command.args(&case.args);
    if case.args == ["keys", "trust"] {
        command.arg(&case.file);
    }
    command.envs(case.env.iter().map(|(name, value)| (name, value)));
    let output = output_within(command, LIMIT);
    std::fs::remove_file(&case.file).expect("remove the planted file");
    if existed {
        std::fs::rename(&aside, &case.file).expect("put the file back");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let named = format!("`{}` {expected}", case.file.display());
    (output.status.code() != Some(1) || !stderr.contains(&named)).then(|| {
        format!(
            "`{}` with `{}`: exit {:?}, expected 1 and `{named}`:\n{stderr}",
            case.args.join(" "),
            case.file.display(),
            output.status
        )
    })
}

#[test]
fn a_fifo_or_a_link_to_dev_zero_at_any_file_read_is_refused_at_once() {
    let context = TestContext::released_and_pinned();
    let fifo = |path: &Path| {
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo");
        assert!(made.success(), "mkfifo {}", path.display());
    };
    let zero = |path: &Path| std::os::unix::fs::symlink("/dev/zero", path).expect("link");
    let mut failures = Vec::new();
    for case in cases(&context) {
        for plant in [&fifo as &dyn Fn(&Path), &zero] {
            failures.extend(refused(&context, &case, plant, "is not a regular file"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_lock_past_its_bound_is_refused_before_it_is_read() {
    let context = TestContext::examples_installed();
    let case = Case::new(
        context.path("workspace/infra/wuji/providers.manifest.yaml"),
        &["module-loader", "installed", "wuji"],
    );
    // Sparse: 5 MiB of nothing on disk, past the 4 MiB bound of a lock file.
    let huge = |path: &Path| {
        std::fs::File::create(path)
            .and_then(|file| file.set_len(5 * 1024 * 1024))
            .expect("a sparse file");
    };
    let failure = refused(
        &context,
        &case,
        &huge,
        "is larger than 4 MiB, the bound of a lock file",
    );
    assert!(failure.is_none(), "{}", failure.unwrap_or_default());
}
