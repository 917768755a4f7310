//! The address of an OCI registry, `oci://host[:port]/namespace`, and whether it is on this
//! machine (only then is plain HTTP allowed).

use oci_client::Reference;

use super::OciError;
use crate::registry::transport::is_loopback_host;

/// `oci://host[:port]/namespace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryUrl {
    pub host: String,
    pub namespace: String,
}

impl RegistryUrl {
    pub fn parse(url: &str) -> Result<Self, OciError> {
        let bad = |reason: &str| OciError::BadUrl {
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
    pub(super) fn scheme(&self) -> &'static str {
        if self.is_loopback() { "http" } else { "https" }
    }

    /// The repository of `module`, at `tag`.
    pub(super) fn reference(&self, module: &str, tag: &str) -> Reference {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_urls() {
        let url = RegistryUrl::parse("oci://127.0.0.1:5000/provisioning").expect("valid");
        assert_eq!(
            url,
            RegistryUrl {
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
        ];
        for (text, valid, loopback) in cases {
            let parsed = RegistryUrl::parse(text);
            assert_eq!(parsed.is_ok(), valid, "{text}");
            if let Ok(url) = parsed {
                assert_eq!(url.is_loopback(), loopback, "{text}");
            }
        }
    }
}
