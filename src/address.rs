//! Where a remote registry is, parsed once where the text arrives (the configuration's
//! `registry_url`, `--registry`, the source a lock records): an OCI registry,
//! `oci://host[:port]/namespace` ([`OciUrl`]), or a static HTTP host, `https://host/path`
//! ([`HttpUrl`]); [`Remote`] is either. Plain HTTP is spoken to loopback hosts only.
//!
//! This module only parses and names addresses; talking to them is [`crate::registry`]'s.

use oci_client::Reference;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error(
        "`{url}` is not a registry URL: {reason}\nhint: `oci://host[:port]/namespace`, e.g. `oci://127.0.0.1:5000/provisioning`"
    )]
    Oci { url: String, reason: String },
    #[error(
        "`{url}` is not an HTTP registry URL: {reason}\nhint: `https://host[:port]/path`, the directory that holds `index.json`, `registry/` and `packages/`"
    )]
    Http { url: String, reason: String },
    #[error(
        "`{url}` would be read over plain HTTP, which is allowed only for a loopback host (127.0.0.0/8, ::1, localhost)\nhint: serve the registry over HTTPS (`https://…`)"
    )]
    PlainHttp { url: String },
}

/// Why a host with letters beyond ASCII is refused: IDNA is not built in (the stub
/// `idna_adapter`, for size: docs/performance.md "Binary size").
const NOT_ASCII: &str = "the host is not ASCII: write an internationalised domain name in its ASCII form (`xn--…`, as `idn2` prints it)";

/// A registry beyond this machine's directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Oci(OciUrl),
    /// Read-only.
    Http(HttpUrl),
}

impl Remote {
    /// `https://…` (or `http://` to a loopback host) is a static HTTP registry; anything else
    /// must be `oci://…`.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        if is_http_url(text) {
            HttpUrl::parse(text).map(Remote::Http)
        } else {
            OciUrl::parse(text).map(Remote::Oci)
        }
    }

    /// How messages and locks name it, as the registry's label does.
    pub fn display(&self) -> String {
        match self {
            Remote::Oci(url) => url.display(),
            Remote::Http(url) => url.display(),
        }
    }
}

/// Whether `text` names a static HTTP registry (`http://` or `https://`).
pub fn is_http_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

/// Whether a host name without its port (`localhost`, `127.0.0.1`, `::1` or `[::1]`) is on this
/// machine: only then is plain HTTP spoken.
pub fn is_loopback_host(name: &str) -> bool {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `oci://host[:port]/namespace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciUrl {
    pub host: String,
    pub namespace: String,
}

impl OciUrl {
    pub fn parse(url: &str) -> Result<Self, AddressError> {
        let bad = |reason: &str| AddressError::Oci {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("oci://")
            .ok_or_else(|| bad("it must start with `oci://`"))?;
        let (host, namespace) = rest
            .split_once('/')
            .ok_or_else(|| bad("it has no namespace"))?;
        let namespace = namespace.trim_end_matches('/');
        if host.is_empty() || namespace.is_empty() {
            return Err(bad("the host and the namespace must not be empty"));
        }
        if !host.is_ascii() {
            return Err(bad(NOT_ASCII));
        }
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if !namespace.split('/').all(valid) {
            return Err(bad(
                "the namespace must be lower-case path components (`a-z`, `0-9`, `.`, `_`, `-`)",
            ));
        }
        Ok(Self {
            host: host.to_owned(),
            namespace: namespace.to_owned(),
        })
    }

    /// Whether the host is on this machine: only then is plain HTTP used.
    pub fn is_loopback(&self) -> bool {
        let name = match self.host.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or_default(),
            None => self
                .host
                .rsplit_once(':')
                .map_or(self.host.as_str(), |(name, _)| name),
        };
        is_loopback_host(name)
    }

    /// `http` for a loopback host, else `https`.
    pub fn scheme(&self) -> &'static str {
        if self.is_loopback() { "http" } else { "https" }
    }

    /// The repository of `module`, at `tag`.
    pub fn reference(&self, module: &str, tag: &str) -> Reference {
        Reference::with_tag(
            self.host.clone(),
            format!("{}/{module}", self.namespace),
            tag.to_owned(),
        )
    }

    pub fn display(&self) -> String {
        format!("oci://{}/{}", self.host, self.namespace)
    }
}

/// The root of a registry directory on a static host: `index.json`, `registry/` and `packages/`
/// are below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// With a final `/`, so that relative paths join below it.
    base: reqwest::Url,
}

impl HttpUrl {
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let bad = |reason: &str| AddressError::Http {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let authority = text.split_once("://").map_or("", |(_, rest)| {
            rest.split(['/', '?', '#']).next().unwrap_or_default()
        });
        if !authority.is_ascii() {
            return Err(bad(NOT_ASCII));
        }
        let mut base = reqwest::Url::parse(text).map_err(|error| bad(&error.to_string()))?;
        let host = base
            .host_str()
            .ok_or_else(|| bad("it has no host"))?
            .to_owned();
        match base.scheme() {
            "https" => {}
            "http" if is_loopback_host(&host) => {}
            "http" => {
                return Err(AddressError::PlainHttp {
                    url: text.to_owned(),
                });
            }
            _ => {
                return Err(bad(
                    "it must start with `https://` (or `http://` to a loopback host)",
                ));
            }
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad(
                "credentials do not belong in the URL: set `PROVISIONING_REGISTRY_TOKEN`, or use `~/.netrc`",
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad("it must not have a query or a fragment"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self { base })
    }

    /// The host without its port, as `.netrc` names machines.
    pub fn host(&self) -> &str {
        self.base.host_str().unwrap_or_default()
    }

    /// `path` below the root (`registry/aws_prov.json`).
    pub fn join(&self, path: &str) -> reqwest::Url {
        // A relative path of our own making (module and file names) always joins.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    /// A directory name for this registry in the cache, one per registry: its host, port and
    /// path made readable (anything but `[A-Za-z0-9.-]` as `_`), then `_` and the first 16 hex
    /// digits of the sha256 of the whole URL. The readable part alone would give `/team_a` and
    /// `/team/a` one directory; the hash tells them apart (and `http://` from `https://`).
    pub fn cache_key(&self) -> String {
        let text = format!(
            "{}_{}{}",
            self.host(),
            self.base.port_or_known_default().unwrap_or_default(),
            self.base.path().trim_end_matches('/')
        );
        readable_key(&text, self.base.as_str())
    }

    /// How messages and locks name it: the URL without its final `/`.
    pub fn display(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }
}

/// A directory name for a registry directory (a `distribution/`), as [`HttpUrl::cache_key`]
/// names a URL: `dir_`, its last two components made readable, then `_` and the first 16 hex
/// digits of the sha256 of its absolute path (links resolved when it exists).
pub fn directory_key(dir: &std::path::Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let shown: Vec<String> = dir
        .components()
        .rev()
        .take(2)
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    let shown: Vec<&str> = shown.iter().rev().map(String::as_str).collect();
    readable_key(&format!("dir_{}", shown.join("_")), &dir.to_string_lossy())
}

/// `text` made readable (anything but `[A-Za-z0-9.-]` as `_`), then `_` and the first 16 hex
/// digits of the sha256 of `whole`: readable names that two addresses cannot share.
fn readable_key(text: &str, whole: &str) -> String {
    let readable: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut hash = crate::digest::Sha256::of(whole.as_bytes()).to_string();
    hash.truncate(16);
    format!("{readable}_{hash}")
}

/// A host and its port, as a registry and its token endpoint are compared: credentials go to
/// the registry's own host and port only (`registry.example` on 443 and on 5000 are two hosts).
/// Written `host[:port]`; without a port, HTTPS's 443.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Authority {
    host: String,
    port: u16,
}

impl Authority {
    /// The host and port `url` is served from (its scheme's port when it names none).
    pub fn of_url(url: &reqwest::Url) -> Option<Self> {
        Some(Self {
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    /// The host and port of an OCI registry, spoken to as [`OciUrl::scheme`] says (a host that
    /// is not a URL's host, which no request reaches either, stands as it is, with port 0).
    pub fn of_oci(url: &OciUrl) -> Self {
        reqwest::Url::parse(&format!("{}://{}/", url.scheme(), url.host))
            .ok()
            .and_then(|parsed| Self::of_url(&parsed))
            .unwrap_or_else(|| Self {
                host: url.host.to_ascii_lowercase(),
                port: 0,
            })
    }
}

impl std::str::FromStr for Authority {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a `host[:port]`");
        if text.is_empty() || text.contains(['/', '@', '?', '#']) {
            return Err(bad());
        }
        let url = reqwest::Url::parse(&format!("https://{text}/")).map_err(|_| bad())?;
        Self::of_url(&url).ok_or_else(bad)
    }
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// `distribution.token_hosts`: the hosts besides a registry's own that may receive its
/// credentials when the registry sends us there for a token (`auth.docker.io` for Docker Hub),
/// comma-separated `host[:port]`s. Empty by default: credentials never leave the registry's
/// host and port.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct TokenHosts(Vec<Authority>);

impl TokenHosts {
    pub fn allows(&self, authority: &Authority) -> bool {
        self.0.contains(authority)
    }
}

impl std::str::FromStr for TokenHosts {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
            .map_err(|reason| {
                format!("{reason}\nhint: comma-separated hosts, e.g. `auth.docker.io, auth.example:8443`")
            })
    }
}

impl TryFrom<String> for TokenHosts {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for (host, loopback) in [
            ("localhost", true),
            ("127.0.0.1", true),
            ("127.8.9.10", true),
            ("::1", true),
            ("[::1]", true),
            ("10.0.0.1", false),
            ("example.com", false),
            ("localhost.example.com", false),
        ] {
            assert_eq!(is_loopback_host(host), loopback, "{host}");
        }
    }

    #[test]
    fn oci_urls() {
        let url = OciUrl::parse("oci://127.0.0.1:5000/provisioning").expect("valid");
        assert_eq!(
            url,
            OciUrl {
                host: "127.0.0.1:5000".into(),
                namespace: "provisioning".into()
            }
        );
        assert!(url.is_loopback());
        let cases = [
            ("oci://localhost/team/packs", true, true),
            ("oci://[::1]:5000/p", true, true),
            ("oci://127.8.9.10/p", true, true),
            ("oci://ghcr.io/org/packs", true, false),
            ("oci://10.0.0.1:5000/p", true, false),
            ("https://ghcr.io/org", false, false),
            ("oci://ghcr.io", false, false),
            ("oci://ghcr.io/Org", false, false),
            ("oci://bücher.example/p", false, false),
            ("oci://xn--bcher-kva.example/p", true, false),
        ];
        for (text, valid, loopback) in cases {
            let parsed = OciUrl::parse(text);
            assert_eq!(parsed.is_ok(), valid, "{text}");
            if let Ok(url) = parsed {
                assert_eq!(url.is_loopback(), loopback, "{text}");
            }
        }
    }

    #[test]
    fn http_urls() {
        let cases = [
            (
                "https://packs.example/provisioning",
                Ok("https://packs.example/provisioning"),
            ),
            ("https://packs.example/", Ok("https://packs.example")),
            ("http://127.0.0.1:8080/d/", Ok("http://127.0.0.1:8080/d")),
            ("http://localhost:8080", Ok("http://localhost:8080")),
            ("http://[::1]:8080/x", Ok("http://[::1]:8080/x")),
            ("http://packs.example/provisioning", Err("plain")),
            ("http://10.0.0.1/provisioning", Err("plain")),
            ("ftp://packs.example/", Err("bad")),
            ("https://user:secret@packs.example/", Err("bad")),
            ("https://packs.example/?x=1", Err("bad")),
            ("https://bücher.example/p", Err("bad")),
            (
                "https://xn--bcher-kva.example/p",
                Ok("https://xn--bcher-kva.example/p"),
            ),
        ];
        for (text, expected) in cases {
            match (HttpUrl::parse(text), expected) {
                (Ok(url), Ok(display)) => assert_eq!(url.display(), display, "{text}"),
                (Err(AddressError::PlainHttp { .. }), Err("plain"))
                | (Err(AddressError::Http { .. }), Err("bad")) => {}
                (other, _) => panic!("{text}: {other:?}"),
            }
        }
        let url = HttpUrl::parse("http://127.0.0.1:8080/team/packs").expect("valid");
        assert_eq!(
            url.join("registry/aws_prov.json").as_str(),
            "http://127.0.0.1:8080/team/packs/registry/aws_prov.json"
        );
        assert!(url.cache_key().starts_with("127.0.0.1_8080_team_packs_"));
    }

    #[test]
    fn cache_keys_are_one_per_registry() {
        let urls = [
            "http://127.0.0.1:8080/team_a",
            "http://127.0.0.1:8080/team/a",
            "http://127.0.0.1:8080/team%2Fa",
            "http://127.0.0.1:8080/team.a",
            "http://127.0.0.1:8081/team_a",
            "http://localhost:8080/team_a",
            "https://packs.example/team_a",
            "https://packs.example:443/team_b",
            "https://packs.example/team_b/",
        ];
        let keys: std::collections::BTreeSet<String> = urls
            .iter()
            .map(|text| HttpUrl::parse(text).expect("valid").cache_key())
            .collect();
        // The last two are one registry (the default port, a final `/`).
        assert_eq!(keys.len(), urls.len() - 1, "{keys:#?}");
        for key in &keys {
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{key}"
            );
        }
    }

    #[test]
    fn authorities_and_token_hosts() {
        let oci = |text: &str| Authority::of_oci(&OciUrl::parse(text).expect("valid")).to_string();
        assert_eq!(oci("oci://127.0.0.1:5000/p"), "127.0.0.1:5000");
        assert_eq!(oci("oci://localhost/p"), "localhost:80");
        assert_eq!(oci("oci://GHCR.io/org"), "ghcr.io:443");
        assert_eq!(oci("oci://[::1]:5000/p"), "[::1]:5000");
        let hosts: TokenHosts = " auth.docker.io, 127.0.0.1:9000,".parse().expect("valid");
        for (url, allowed) in [
            ("https://auth.docker.io/token", true),
            ("https://AUTH.docker.io:443/token", true),
            ("https://auth.docker.io:8443/token", false),
            ("http://127.0.0.1:9000/token", true),
            ("http://127.0.0.1:9001/token", false),
            ("https://docker.io/token", false),
        ] {
            let authority = Authority::of_url(&reqwest::Url::parse(url).expect("url"));
            assert_eq!(
                authority.is_some_and(|a| hosts.allows(&a)),
                allowed,
                "{url}"
            );
        }
        for bad in ["https://auth.docker.io", "user@host", "host:99999", "a b"] {
            assert!(bad.parse::<TokenHosts>().is_err(), "{bad}");
        }
        assert_eq!("".parse::<TokenHosts>(), Ok(TokenHosts::default()));
    }

    #[test]
    fn remotes_by_scheme() {
        let cases = [
            ("oci://127.0.0.1:5000/p", Ok("oci://127.0.0.1:5000/p")),
            ("https://packs.example/d/", Ok("https://packs.example/d")),
            ("http://127.0.0.1:8080/d", Ok("http://127.0.0.1:8080/d")),
            ("ftp://packs.example/d", Err(())),
            ("distribution/registry", Err(())),
        ];
        for (text, expected) in cases {
            let parsed = Remote::parse(text).map(|remote| remote.display());
            assert_eq!(parsed.as_deref().map_err(|_| ()), expected, "{text}");
        }
    }
}
