//! The address of a static HTTP registry: `https://host[:port]/path`, or `http://` to a loopback
//! host only (nothing beyond this machine is spoken to in clear text).

use super::HttpError;
use crate::registry::transport::is_loopback_host;

/// The root of a registry directory on a static host: `index.json`, `registry/` and `packages/`
/// are below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// With a final `/`, so that relative paths join below it.
    base: reqwest::Url,
}

impl HttpUrl {
    pub fn parse(text: &str) -> Result<Self, HttpError> {
        let bad = |reason: &str| HttpError::BadUrl {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let mut base = reqwest::Url::parse(text).map_err(|error| bad(&error.to_string()))?;
        let host = base
            .host_str()
            .ok_or_else(|| bad("it has no host"))?
            .to_owned();
        match base.scheme() {
            "https" => {}
            "http" if is_loopback_host(&host) => {}
            "http" => {
                return Err(HttpError::PlainHttp {
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

    /// A directory name for this registry in the cache: its host, port and path, with anything
    /// but `[A-Za-z0-9._-]` as `_`.
    pub fn cache_key(&self) -> String {
        let text = format!(
            "{}_{}{}",
            self.host(),
            self.base.port_or_known_default().unwrap_or_default(),
            self.base.path().trim_end_matches('/')
        );
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// How messages and locks name it: the URL without its final `/`.
    pub fn display(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_registry_urls() {
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
        ];
        for (text, expected) in cases {
            match (HttpUrl::parse(text), expected) {
                (Ok(url), Ok(display)) => assert_eq!(url.display(), display, "{text}"),
                (Err(HttpError::PlainHttp { .. }), Err("plain"))
                | (Err(HttpError::BadUrl { .. }), Err("bad")) => {}
                (other, _) => panic!("{text}: {other:?}"),
            }
        }
        let url = HttpUrl::parse("http://127.0.0.1:8080/team/packs").expect("valid");
        assert_eq!(
            url.join("registry/aws_prov.json").as_str(),
            "http://127.0.0.1:8080/team/packs/registry/aws_prov.json"
        );
        assert_eq!(url.cache_key(), "127.0.0.1_8080_team_packs");
    }
}
