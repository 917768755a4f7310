//! The sandbox every integration test runs in: a provisioning base in a temporary directory,
//! built from fixture builders, and the real binary run against it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_provisioning");

/// A provisioning base in a temporary directory.
pub struct TestContext {
    _temp: tempfile::TempDir,
    /// The base directory, canonical (so paths in output are stable to filter).
    pub base: PathBuf,
}

impl TestContext {
    /// An empty base: `extensions/providers/` and `workspace/infra/`.
    pub fn new() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let base = temp
            .path()
            .canonicalize()
            .expect("canonical temp dir")
            .join("base");
        std::fs::create_dir_all(base.join("extensions/providers")).expect("mkdir");
        std::fs::create_dir_all(base.join("workspace/infra")).expect("mkdir");
        Self { _temp: temp, base }
    }

    /// A copy of the repository's `examples/` base exactly as committed (`wuji` has `upcloud`,
    /// `aws`, the `kubernetes` and `containerd` taskservs and the `web` cluster linked).
    pub fn examples_as_committed() -> Self {
        let context = Self::new();
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
            &context.base,
        );
        context
    }

    /// A copy of the repository's `examples/` base, with no provider installed.
    pub fn examples() -> Self {
        let context = Self::examples_as_committed();
        for infra in ["wuji", "homelab"] {
            let dir = context.base.join("workspace/infra").join(infra);
            let _ = std::fs::remove_dir_all(dir.join(".nickel-modules"));
            let _ = std::fs::remove_file(dir.join("providers.manifest.yaml"));
            for generated in ["providers.ncl", "taskservs.ncl", "clusters.ncl"] {
                let _ = std::fs::remove_file(dir.join(generated));
            }
        }
        std::fs::write(
            context.base.join("workspace/infra/wuji/manifest.toml"),
            "# The wuji infrastructure: web servers on UpCloud, a database on AWS.\n[package]\nname = \"wuji\"\nversion = \"0.1.0\"\n",
        )
        .expect("reset manifest");
        context
    }

    /// The example base with `upcloud` and `aws` linked into `wuji`, as the repository has it.
    pub fn examples_installed() -> Self {
        let context = Self::examples();
        for provider in ["upcloud", "aws"] {
            context
                .run(["providers", "install", provider, "wuji"])
                .success();
        }
        context
    }

    /// The id of the first trusted key (after `keys generate`: the user's own).
    pub fn key_id(&self) -> String {
        let run = self.run(["keys", "list", "--format", "json"]);
        let keys: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
        keys[0]["key_id"].as_str().expect("a key").to_owned()
    }

    /// Unpacks `distribution/packages/<artifact>` into the infra's `vendor/` with the real
    /// `tar`, as the guide's migration does by hand.
    pub fn untar_into_vendor(&self, infra: &str, artifact: &str) {
        let dir = self.path(&format!("workspace/infra/{infra}"));
        std::fs::create_dir_all(dir.join("vendor")).expect("mkdir");
        let untar = Command::new("tar")
            .arg("-xf")
            .arg(self.path("distribution/packages").join(artifact))
            .args(["-C", "vendor/"])
            .current_dir(&dir)
            .status()
            .expect("tar");
        assert!(untar.success(), "tar -xf {artifact}");
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.base.join(relative)
    }

    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative))
            .unwrap_or_else(|e| panic!("read {relative}: {e}"))
    }

    /// Starts a provider with a valid manifest and `main.ncl`.
    pub fn provider(&self, name: &str) -> ProviderBuilder<'_> {
        ProviderBuilder {
            context: self,
            name: name.to_owned(),
            version: "0.0.1".to_owned(),
            description: format!("The {name} provider"),
            dependencies: Vec::new(),
            files: vec![(
                "main.ncl".to_owned(),
                format!("{{ provider = \"{name}\", size | Number = 1 }}\n"),
            )],
        }
    }

    /// Creates an infra directory with a minimal `manifest.toml`.
    pub fn infra(&self, name: &str) -> PathBuf {
        let dir = self.path(&format!("workspace/infra/{name}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("manifest.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n"),
        )
        .expect("write manifest");
        dir
    }

    /// A command for the binary, run in the base with a clean environment.
    pub fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .current_dir(&self.base)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.base.parent().expect("temp root"))
            .env("NO_COLOR", "1")
            // Registry metadata records creation times; fix the clock for stable snapshots.
            .env("SOURCE_DATE_EPOCH", "1764115200");
        command
    }

    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let output = self
            .command()
            .args(args)
            .output()
            .expect("run provisioning");
        Run::new(output, &self.base)
    }

    /// Starts every command at once, waits for all, and returns their runs in order.
    pub fn run_concurrently(&self, commands: &[Vec<String>]) -> Vec<Run> {
        let children: Vec<_> = commands
            .iter()
            .map(|args| {
                self.command()
                    .args(args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        children
            .into_iter()
            .map(|child| Run::new(child.wait_with_output().expect("wait"), &self.base))
            .collect()
    }

    /// Every file, directory and link under `relative`, with link targets and file contents,
    /// for snapshotting what a command wrote (and proving what it did not).
    pub fn tree(&self, relative: &str) -> String {
        let root = self.path(relative);
        let mut out = String::new();
        let mut paths = Vec::new();
        collect(&root, &root, &mut paths);
        paths.sort();
        for relative_path in paths {
            let path = root.join(&relative_path);
            let metadata = std::fs::symlink_metadata(&path).expect("metadata");
            if metadata.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("read link");
                let _ = writeln!(out, "{relative_path} -> {}", target.display());
            } else if metadata.is_dir() {
                let _ = writeln!(out, "{relative_path}/");
            } else {
                let contents = std::fs::read_to_string(&path).unwrap_or_else(|_| "<binary>".into());
                let _ = writeln!(out, "{relative_path}:");
                for line in contents.lines() {
                    let _ = writeln!(out, "  | {line}");
                }
            }
        }
        out
    }
}

/// Lists a tar archive: one line per entry with its type, mode, owner, names, mtime, size and
/// path, to check that artifacts are normalised.
pub fn inspect_archive(bytes: &[u8]) -> String {
    let mut archive = tar::Archive::new(bytes);
    let mut out = String::new();
    for entry in archive.entries().expect("a tar archive") {
        let entry = entry.expect("an entry");
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular => "file",
            tar::EntryType::Directory => "dir",
            other => panic!("unexpected entry type {other:?}"),
        };
        let _ = writeln!(
            out,
            "{kind:4} {:o} {}:{} '{}':'{}' {} {:>5} {}",
            header.mode().expect("mode"),
            header.uid().expect("uid"),
            header.gid().expect("gid"),
            header.username().expect("user name").unwrap_or("?"),
            header.groupname().expect("group name").unwrap_or("?"),
            header.mtime().expect("mtime"),
            header.size().expect("size"),
            entry.path().expect("path").display(),
        );
    }
    out
}

/// The hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest as _;
    let bytes = std::fs::read(path).expect("read");
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One file of a tar archive.
pub fn archive_file(bytes: &[u8], path: &str) -> String {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("an entry");
        if entry.path().expect("path").to_str() == Some(path) {
            let mut contents = String::new();
            entry.read_to_string(&mut contents).expect("utf-8");
            return contents;
        }
    }
    panic!("{path} is not in the archive")
}

fn collect(root: &Path, dir: &Path, paths: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .expect("under root")
            .display()
            .to_string();
        let is_real_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        paths.push(relative);
        if is_real_dir {
            collect(root, &path, paths);
        }
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        let file_type = entry.file_type().expect("file type");
        if file_type.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("read link");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else if file_type.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

pub struct ProviderBuilder<'a> {
    context: &'a TestContext,
    name: String,
    version: String,
    description: String,
    files: Vec<(String, String)>,
    dependencies: Vec<(String, String)>,
}

impl ProviderBuilder<'_> {
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_owned();
        self
    }

    /// Declares a dependency: `module = "requirement"` under `[dependencies]`.
    pub fn dependency(mut self, module: &str, requirement: &str) -> Self {
        self.dependencies
            .push((module.to_owned(), requirement.to_owned()));
        self
    }

    /// Adds or replaces a file of the provider's `nickel/` package.
    pub fn file(mut self, name: &str, contents: &str) -> Self {
        self.files.retain(|(existing, _)| existing != name);
        self.files.push((name.to_owned(), contents.to_owned()));
        self
    }

    pub fn create(self) -> PathBuf {
        let dir = self
            .context
            .path(&format!("extensions/providers/{}/nickel", self.name));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut manifest = format!(
            "[package]\nname = \"{}_prov\"\nversion = \"{}\"\ndescription = \"{}\"\n",
            self.name, self.version, self.description
        );
        if !self.dependencies.is_empty() {
            manifest.push_str("\n[dependencies]\n");
            for (module, requirement) in &self.dependencies {
                manifest.push_str(&format!("{module} = \"{requirement}\"\n"));
            }
        }
        std::fs::write(dir.join("manifest.toml"), manifest).expect("write manifest");
        for (name, contents) in &self.files {
            std::fs::write(dir.join(name), contents).expect("write file");
        }
        dir
    }
}

/// The outcome of one run, rendered for snapshots with the base path filtered out.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn new(output: Output, base: &Path) -> Self {
        Self::from_output(output, base, &[])
    }

    /// Filters the base path, and each `(text, placeholder)` pair, out of the output.
    pub fn from_output(output: Output, base: &Path, filters: &[(&str, &str)]) -> Self {
        let filter = |bytes: &[u8]| {
            let mut text =
                String::from_utf8_lossy(bytes).replace(&base.display().to_string(), "[BASE]");
            for (from, to) in filters {
                text = text.replace(from, to);
            }
            text
        };
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: filter(&output.stdout),
            stderr: filter(&output.stderr),
        }
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success:\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "exit: {}", self.code)?;
        writeln!(f, "--- stdout")?;
        write!(f, "{}", self.stdout)?;
        writeln!(f, "--- stderr")?;
        write!(f, "{}", self.stderr)
    }
}

/// A real OCI registry (Debian's `docker-registry`, CNCF Distribution) on a free loopback port,
/// with filesystem storage in a temporary directory and no auth; stopped by PID on drop.
pub struct RegistryServer {
    child: Option<std::process::Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl RegistryServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write config");
        let access_log = std::fs::File::create(dir.path().join("access.log")).expect("log file");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(access_log)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the `docker-registry` server is needed for these tests (apt-get install docker-registry)");
        let server = Self {
            child: Some(child),
            port,
            dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !server.answers() {
            assert!(
                std::time::Instant::now() < deadline,
                "the registry did not start on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }

    fn answers(&self) -> bool {
        use std::io::{Read as _, Write as _};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
        if stream
            .write_all(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200")
    }

    /// The requests the registry has answered so far, one access-log line each.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|line| {
                line.contains("\"GET ")
                    || line.contains("\"HEAD ")
                    || line.contains("\"PUT ")
                    || line.contains("\"POST ")
            })
            .map(str::to_owned)
            .collect()
    }

    pub fn url(&self) -> String {
        format!("oci://127.0.0.1:{}/provisioning", self.port)
    }

    /// Stops the server (the registry "going down").
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The stored blob with this hex digest.
    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A hostile OCI registry on a free loopback port (`tests/hostile_registry.py`, Python's standard
/// library only), serving one pack that `releaser` packed, in namespace `team`, and misbehaving
/// as `mode` says (see the script); stopped by PID on drop. Its catalog holds that module and
/// [`HostileRegistry::MORE_MODULES`], and every tag list the pack's version and
/// [`HostileRegistry::MORE_TAGS`], two entries a page whatever the client asks for.
pub struct HostileRegistry {
    child: std::process::Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl HostileRegistry {
    pub const MORE_MODULES: &str = "gcp_prov,hetzner_prov,local_prov,upcloud_prov";
    pub const MORE_TAGS: &str = "0.1.0,0.2.0,1.1.0,2.0.0";

    /// Serves `pack` (`module@version`) as `releaser` packed it (signed when it was).
    pub fn start(mode: &str, releaser: &TestContext, pack: &str) -> Self {
        use std::io::BufRead as _;
        let (module, version) = pack.split_once('@').expect("module@version");
        let metadata: serde_json::Value =
            serde_json::from_str(&releaser.read(&format!("distribution/registry/{module}.json")))
                .expect("registry metadata");
        let entry = metadata["versions"]
            .as_array()
            .and_then(|versions| versions.iter().find(|v| v["version"] == version))
            .expect("the version is packed");
        let mut annotations = serde_json::json!({
            "dev.provisioning.module": module,
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.created": entry["created"],
            "dev.provisioning.sha256": entry["sha256"],
            "dev.provisioning.content-hash": entry["content_hash"],
        });
        if let Some(signer) = entry["signer"].as_str() {
            annotations["dev.provisioning.signer"] = signer.into();
        }
        if let Some(dependencies) = entry.get("dependencies") {
            annotations["dev.provisioning.dependencies"] = dependencies.to_string().into();
        }
        let packages = releaser.path("distribution/packages");
        let tar = packages.join(format!("{module}_{version}.tar"));
        let signature = packages.join(format!("{module}_{version}.tar.minisig"));
        let dir = tempfile::tempdir().expect("temp dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile_registry.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .args(["--mode", mode, "--namespace", "team", "--module", module])
            .args([
                "--version",
                version,
                "--annotations",
                &annotations.to_string(),
            ])
            .args(["--modules", Self::MORE_MODULES, "--tags", Self::MORE_TAGS])
            .arg("--pack")
            .arg(&tar)
            .arg("--log")
            .arg(dir.path().join("requests.log"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        if signature.exists() {
            command.arg("--signature").arg(&signature);
        }
        let mut child = command.spawn().expect("python3 runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server prints its port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the hostile registry did not start: {line:?}")
        });
        Self { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("oci://127.0.0.1:{}/team", self.port)
    }

    /// Every request it received, one `METHOD PATH` a line.
    pub fn requests(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("requests.log")).unwrap_or_default()
    }
}

impl Drop for HostileRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `command` to its end, or kills it after `limit` and fails the test: a guard against a
/// hang, not a measure (no test asserts how long a command takes).
pub fn output_within(mut command: Command, limit: std::time::Duration) -> Output {
    use std::io::Read as _;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command was still running after {limit:?}: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    }
}

/// The `nickel` CLI that `scripts/test` installs (`cargo install nickel-lang-cli`), or the one
/// `PROVISIONING_TEST_NICKEL` names.
pub fn nickel_cli() -> PathBuf {
    let path = std::env::var_os("PROVISIONING_TEST_NICKEL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin/nickel"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "the `nickel` CLI is not at `{}`: run the tests with `scripts/test`, which installs it",
        path.display()
    );
    path
}

/// A static file server on a free loopback port (`tests/static_server.py`, Python's standard
/// library only) serving `root` as nginx or an object store would, with `ETag`s and
/// `304 Not Modified`, logging every request; stopped by PID on drop.
pub struct StaticServer {
    child: Option<std::process::Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl StaticServer {
    pub fn start(root: &Path) -> Self {
        Self::start_with(root, None)
    }

    /// Serves only requests with basic authentication `login:password`.
    pub fn start_with(root: &Path, basic: Option<&str>) -> Self {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/static_server.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .arg("--root")
            .arg(root)
            .arg("--log")
            .arg(dir.path().join("requests.log"));
        if let Some(basic) = basic {
            command.args(["--basic", basic]);
        }
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server prints its port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the static server did not start: {line:?}")
        });
        Self {
            child: Some(child),
            port,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request it answered, one `METHOD PATH STATUS` a line.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("requests.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Stops the server (the host "going down").
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The text of one entry of an artifact (`module/manifest.toml`).
pub fn artifact_file(artifact: &Path, entry: &str) -> String {
    let file = std::fs::File::open(artifact).expect("open the artifact");
    let mut archive = tar::Archive::new(file);
    for found in archive.entries().expect("entries") {
        let mut found = found.expect("entry");
        if found.path().expect("path").to_string_lossy() == entry {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut found, &mut text).expect("read");
            return text;
        }
    }
    panic!("`{entry}` is not in `{}`", artifact.display());
}
