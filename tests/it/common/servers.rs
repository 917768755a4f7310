//! The registries and hosts the tests run against, each on a free loopback port and stopped on
//! drop: a real OCI registry, a hostile one, and a static file server.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::TestContext;

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
        Self::start_with(mode, releaser, pack, &[])
    }

    /// The same, with more arguments for the script (`--realm URL`).
    pub fn start_with(mode: &str, releaser: &TestContext, pack: &str, more: &[&str]) -> Self {
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
            .args(more)
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

    /// From now on, every file under `/packages/` drips one byte a second.
    pub fn drip(&self) {
        std::fs::write(self.dir.path().join("drip"), "").expect("drip switch");
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
