//! Credentials for a static HTTP registry, and where they came from (named in errors; the
//! secret never is): `PROVISIONING_REGISTRY_TOKEN` (sent as a bearer token), else the entry of
//! the host in `.netrc` (`$NETRC`, else `~/.netrc`; `machine`, `login`, `password`, and
//! `default`), sent as basic authentication, as curl and wget do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    Anonymous,
    Bearer(String),
    Basic { login: String, password: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret, even in a debug print.
        f.write_str(match self {
            Auth::Anonymous => "Anonymous",
            Auth::Bearer(_) => "Bearer(..)",
            Auth::Basic { .. } => "Basic(..)",
        })
    }
}

impl Auth {
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::Anonymous => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { login, password } => request.basic_auth(login, Some(password)),
        }
    }
}

/// Credentials for `host` (without its port), and where they came from. A `.netrc` that is there
/// but cannot be read (not a regular file, larger than its bound) is an error, not anonymous
/// access.
pub fn credentials(env: &BTreeMap<String, String>, host: &str) -> std::io::Result<(Auth, String)> {
    if let Some(token) = env
        .get("PROVISIONING_REGISTRY_TOKEN")
        .filter(|t| !t.is_empty())
    {
        return Ok((
            Auth::Bearer(token.clone()),
            "`PROVISIONING_REGISTRY_TOKEN`".into(),
        ));
    }
    let netrc = env
        .get("NETRC")
        .map(PathBuf::from)
        .or_else(|| env.get("HOME").map(|home| Path::new(home).join(".netrc")));
    if let Some(path) = netrc
        && let Some(text) = read_netrc(&path)?
        && let Some((login, password)) = netrc_entry(&text, host)
    {
        return Ok((
            Auth::Basic { login, password },
            format!("`{}`", path.display()),
        ));
    }
    Ok((Auth::Anonymous, "no credentials (anonymous)".into()))
}

/// The `.netrc` at `path`, if there is one.
fn read_netrc(path: &Path) -> std::io::Result<Option<String>> {
    match crate::fs::read_to_string(path, crate::fs::FileKind::Credentials) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The login and password `.netrc` gives `host`: its `machine` entry, else the `default` one.
fn netrc_entry(text: &str, host: &str) -> Option<(String, String)> {
    let mut tokens = text.split_whitespace();
    let mut entries: Vec<(Option<String>, Option<String>, Option<String>)> = Vec::new();
    while let Some(token) = tokens.next() {
        match token {
            "machine" => entries.push((tokens.next().map(str::to_owned), None, None)),
            "default" => entries.push((None, None, None)),
            "login" => {
                if let Some(entry) = entries.last_mut() {
                    entry.1 = tokens.next().map(str::to_owned);
                }
            }
            "password" => {
                if let Some(entry) = entries.last_mut() {
                    entry.2 = tokens.next().map(str::to_owned);
                }
            }
            // A macro definition runs to the next empty line; nothing else is read.
            "macdef" => break,
            _ => {}
        }
    }
    let whole = |(_, login, password): &(Option<String>, Option<String>, Option<String>)| {
        Some((login.clone()?, password.clone()?))
    };
    entries
        .iter()
        .find(|entry| entry.0.as_deref() == Some(host))
        .or_else(|| entries.iter().find(|entry| entry.0.is_none()))
        .and_then(whole)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written directly
mod tests {
    use super::*;

    #[test]
    fn netrc_entries() {
        let text = "machine packs.example login ci password s3cret\n\nmachine other login o password p\ndefault login anon password guest\n";
        assert_eq!(
            netrc_entry(text, "packs.example"),
            Some(("ci".into(), "s3cret".into()))
        );
        assert_eq!(
            netrc_entry(text, "elsewhere"),
            Some(("anon".into(), "guest".into()))
        );
        assert_eq!(netrc_entry("machine a login x\n", "a"), None);
    }

    #[test]
    fn credentials_come_from_the_token_then_netrc_and_name_their_source() {
        let dir = tempfile::tempdir().expect("temp dir");
        let netrc = dir.path().join("netrc");
        std::fs::write(&netrc, "machine packs.example login ci password s3cret\n").expect("write");
        let mut env: BTreeMap<String, String> =
            [("NETRC".to_owned(), netrc.display().to_string())].into();
        let (auth, source) = credentials(&env, "packs.example").expect("reads");
        assert_eq!(
            auth,
            Auth::Basic {
                login: "ci".into(),
                password: "s3cret".into()
            }
        );
        assert!(source.contains("netrc") && !source.contains("s3cret"));
        assert_eq!(
            credentials(&env, "other.example").expect("reads").0,
            Auth::Anonymous
        );
        env.insert("PROVISIONING_REGISTRY_TOKEN".into(), "t0ken".into());
        let (auth, source) = credentials(&env, "packs.example").expect("reads");
        assert_eq!(auth, Auth::Bearer("t0ken".into()));
        assert_eq!(source, "`PROVISIONING_REGISTRY_TOKEN`");
        assert_eq!(format!("{auth:?}"), "Bearer(..)");
    }
}
