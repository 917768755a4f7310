//! The bearer-token negotiation of a registry (the distribution specification's token
//! authentication, as Docker Hub, GHCR, Harbor and CNCF Distribution speak it), done here and not
//! in `oci-client`, which reads the token endpoint's answer whole and follows the realm wherever
//! the registry points, with the user's credentials:
//!
//! - `GET /v2/` (no credentials); no `Bearer` challenge in its `WWW-Authenticate`: the
//!   credentials as they are (basic, or none);
//! - the challenge's `realm` is held to the registry's own rules before anything is sent there:
//!   HTTPS, or plain HTTP to a loopback host;
//! - the user's credentials go to the realm only when it is the registry's own host and port,
//!   or a host `distribution.token_hosts` names; elsewhere the token is asked for anonymously;
//! - the answer is read up to [`MAX_TOKEN_BYTES`] (refused as soon as it is known to be larger),
//!   and its `token` (or `access_token`) is the bearer token.
//!
//! A bearer token of the user's own (`PROVISIONING_REGISTRY_TOKEN`, a docker identity token) is
//! sent to the registry as it is, with no negotiation: it is never sent to a realm.

use oci_client::secrets::RegistryAuth;
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;

use super::http::{Failure, error_message};
use crate::address::{Authority, TokenHosts, is_loopback_host};
use crate::registry::transport::{
    BodyError, Http, SpeedFloor, is_transient_http, is_transient_status, read_up_to,
};

/// The largest answer read from a token endpoint: a token is a few hundred bytes to a few KiB
/// (a JWT with its claims).
pub const MAX_TOKEN_BYTES: u64 = 64 * 1024;

/// What the requests of a session carry.
#[derive(Clone)]
pub enum Credentials {
    Anonymous,
    Bearer(String),
    Basic(String, String),
}

/// What the token is for.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    Pull,
    Push,
}

/// Why a token could not be had from `host` (the token endpoint's host and port).
#[derive(Debug)]
pub enum TokenFailure {
    /// The realm is refused before anything is sent there.
    Realm {
        realm: String,
        reason: String,
    },
    Http {
        host: String,
        error: reqwest::Error,
    },
    TooLarge {
        host: String,
        limit: u64,
    },
    /// The endpoint refused; `withheld`: the user's credentials were not sent, since it is
    /// another host than the registry's.
    Status {
        host: String,
        code: StatusCode,
        message: String,
        withheld: bool,
    },
    Invalid {
        host: String,
        reason: String,
    },
}

impl TokenFailure {
    pub fn is_transient(&self) -> bool {
        match self {
            TokenFailure::Http { error, .. } => is_transient_http(error),
            TokenFailure::Status { code, .. } => is_transient_status(*code),
            _ => false,
        }
    }

    /// The credentials sent were refused.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, TokenFailure::Status { code, withheld: false, .. }
            if *code == StatusCode::UNAUTHORIZED || *code == StatusCode::FORBIDDEN)
    }

    pub fn describe(&self) -> String {
        match self {
            TokenFailure::Realm { realm, reason } => {
                format!("its token endpoint `{realm}` is refused: {reason}")
            }
            TokenFailure::Http { host, error } => format!(
                "its token endpoint `{host}` failed: {}",
                crate::registry::transport::describe(error)
            ),
            TokenFailure::TooLarge { host, limit } => format!(
                "its token endpoint `{host}` answered with more than {limit} bytes, the most a token may take"
            ),
            TokenFailure::Status {
                host,
                code,
                message,
                withheld,
            } => {
                let mut text = format!("its token endpoint `{host}` answered {code}");
                if !message.is_empty() {
                    text.push_str(&format!(": {message}"));
                }
                if *withheld {
                    text.push_str(&format!(
                        "\nhint: your credentials were not sent to `{host}`, which is not the registry's host: if you trust it with them, add it to `distribution.token_hosts` (or `PROVISIONING_DISTRIBUTION_TOKEN_HOSTS`)"
                    ));
                }
                text
            }
            TokenFailure::Invalid { host, reason } => {
                format!("its token endpoint `{host}` answered {reason}")
            }
        }
    }
}

/// The credentials for `access` to `repository` of the registry at `base` (`scheme://host/v2/`,
/// on `registry`'s host and port), from the user's `auth`, as the module's documentation says.
pub async fn negotiate(
    http: &Http,
    base: &str,
    registry: &Authority,
    repository: &str,
    access: Access,
    auth: &RegistryAuth,
    token_hosts: &TokenHosts,
) -> Result<Credentials, Failure> {
    let own = match auth {
        RegistryAuth::Bearer(token) => return Ok(Credentials::Bearer(token.clone())),
        RegistryAuth::Basic(user, password) => Credentials::Basic(user.clone(), password.clone()),
        RegistryAuth::Anonymous => Credentials::Anonymous,
    };
    // Only the headers are wanted: the body is dropped unread.
    let response = http.get(base).send().await.map_err(Failure::Http)?;
    let Some((realm, service)) = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .find_map(bearer_challenge)
    else {
        return Ok(own);
    };
    let realm = checked_realm(&realm)?;
    let host = Authority::of_url(&realm).map_or_else(String::new, |a| a.to_string());
    let scope = match access {
        Access::Pull => format!("repository:{repository}:pull"),
        Access::Push => format!("repository:{repository}:pull,push"),
    };
    let mut request = http.get(realm.clone()).query(&[("scope", scope.as_str())]);
    if let Some(service) = &service {
        request = request.query(&[("service", service.as_str())]);
    }
    let trusted = Authority::of_url(&realm)
        .is_some_and(|authority| authority == *registry || token_hosts.allows(&authority));
    let mut withheld = false;
    if let Credentials::Basic(user, password) = &own {
        if trusted {
            request = request.basic_auth(user, Some(password));
        } else {
            withheld = true;
        }
    }
    ask(request, host, withheld, http.floor)
        .await
        .map(Credentials::Bearer)
}

/// The token the realm's `request` is answered with, read up to [`MAX_TOKEN_BYTES`]; `host`
/// names the realm's host in errors, `withheld` says the user's credentials were not sent; the
/// answer's body is held to `floor`.
async fn ask(
    request: reqwest::RequestBuilder,
    host: String,
    withheld: bool,
    floor: SpeedFloor,
) -> Result<String, Failure> {
    let failed = |error| {
        Failure::Token(TokenFailure::Http {
            host: host.clone(),
            error,
        })
    };
    let response = request.send().await.map_err(failed)?;
    let code = response.status();
    let too_large = || {
        Failure::Token(TokenFailure::TooLarge {
            host: host.clone(),
            limit: MAX_TOKEN_BYTES,
        })
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_TOKEN_BYTES)
    {
        return Err(too_large());
    }
    let (body, more) = read_up_to(response, MAX_TOKEN_BYTES, floor)
        .await
        .map_err(|error| match error {
            BodyError::Http(error) => failed(error),
            slow @ BodyError::TooSlow(_) => Failure::Body(slow),
        })?;
    if !code.is_success() {
        return Err(Failure::Token(TokenFailure::Status {
            host: host.clone(),
            code,
            message: error_message(&body),
            withheld,
        }));
    }
    if more {
        return Err(too_large());
    }
    token(&body).map_err(|reason| Failure::Token(TokenFailure::Invalid { host, reason }))
}

impl super::OciRegistry {
    /// Sets the credentials of `oci-client`'s pushes to `reference`'s repository, negotiated
    /// here ([`negotiate`], bounded), so that `oci-client` never asks a token endpoint itself:
    /// a bearer token as the registry's credentials and in its token cache for the repository
    /// (it hands stored bearer credentials back without a request when its cache has expired
    /// the token); a basic login in its token cache (where it never expires); nothing when
    /// anonymous. Called before each push.
    pub(super) async fn authorize_push(
        &self,
        connection: &super::Connection,
        reference: &oci_client::Reference,
    ) -> Result<(), super::OciError> {
        use oci_client::RegistryOperation;
        use oci_client::token_cache::{RegistryToken, RegistryTokenType};

        let base = format!("{}://{}/v2/", self.url.scheme(), self.url.host);
        let registry = Authority::of_oci(&self.url);
        let negotiated = super::client::retry(Failure::is_transient, || {
            negotiate(
                &connection.http,
                &base,
                &registry,
                reference.repository(),
                Access::Push,
                &self.auth,
                &self.token_hosts,
            )
        })
        .await;
        let credentials = negotiated.map_err(|failure| {
            self.failure(failure, |reason| super::OciError::Request {
                host: self.url.host.clone(),
                message: format!(
                    "negotiating the credentials to push to `{}`: {reason}",
                    reference.repository()
                ),
            })
        })?;
        let client = &connection.client;
        let (stored, token) = match credentials {
            Credentials::Anonymous => return Ok(()),
            Credentials::Bearer(token) => (
                RegistryAuth::Bearer(token.clone()),
                RegistryTokenType::Bearer(RegistryToken::Token { token }),
            ),
            Credentials::Basic(user, password) => (
                RegistryAuth::Basic(user.clone(), password.clone()),
                RegistryTokenType::Basic(user, password),
            ),
        };
        client.store_auth_if_needed(&self.url.host, &stored).await;
        client
            .tokens
            .insert(reference, RegistryOperation::Push, token)
            .await;
        Ok(())
    }
}

/// The realm and service of a `Bearer` challenge in one `WWW-Authenticate` header.
fn bearer_challenge(value: &reqwest::header::HeaderValue) -> Option<(String, Option<String>)> {
    let text = value.to_str().ok()?;
    http_auth::parser::ChallengeParser::new(text)
        .filter_map(Result::ok)
        .find(|challenge| challenge.scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|challenge| {
            let param = |name: &str| {
                challenge
                    .params
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .map(|(_, value)| value.to_unescaped())
            };
            Some((param("realm")?, param("service")))
        })
}

/// The realm as a URL, when the registry's rules allow it: HTTPS, or plain HTTP to a loopback
/// host, with no credentials of its own.
fn checked_realm(realm: &str) -> Result<reqwest::Url, Failure> {
    let refused = |reason: &str| {
        Failure::Token(TokenFailure::Realm {
            realm: realm
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect(),
            reason: reason.to_owned(),
        })
    };
    let url = reqwest::Url::parse(realm).map_err(|_| refused("it is not a URL"))?;
    let host = url.host_str().ok_or_else(|| refused("it has no host"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        "http" => {
            return Err(refused(
                "it is plain HTTP to a host beyond this machine (plain HTTP is for loopback hosts only)",
            ));
        }
        _ => return Err(refused("it is neither HTTPS nor HTTP")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("it carries credentials"));
    }
    Ok(url)
}

/// The token of a token endpoint's answer: `token`, else `access_token` (OAuth 2).
fn token(body: &[u8]) -> Result<String, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        token: Option<String>,
        access_token: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|error| format!("something else than JSON: {error}"))?;
    answer
        .token
        .or(answer.access_token)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| "JSON without a `token`".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        let cases = [
            (
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull""#,
                Some(("https://auth.example/token", Some("registry.example"))),
            ),
            (
                r#"Basic realm="x", bearer realm="http://127.0.0.1:1/t""#,
                Some(("http://127.0.0.1:1/t", None)),
            ),
            (r#"Basic realm="registry""#, None),
            (r#"Bearer service="no realm""#, None),
        ];
        for (header, expected) in cases {
            let value = reqwest::header::HeaderValue::from_str(header).expect("header");
            let found = bearer_challenge(&value);
            assert_eq!(
                found.as_ref().map(|(r, s)| (r.as_str(), s.as_deref())),
                expected,
                "{header}"
            );
        }
    }

    #[test]
    fn realms_follow_the_registry_rules() {
        for (realm, allowed) in [
            ("https://auth.example/token", true),
            ("http://127.0.0.1:5000/token", true),
            ("http://[::1]:5000/token", true),
            ("http://example.invalid/token", false),
            ("ftp://auth.example/token", false),
            ("https://user:secret@auth.example/token", false),
            ("/token", false),
        ] {
            assert_eq!(checked_realm(realm).is_ok(), allowed, "{realm}");
        }
    }

    #[test]
    fn tokens_of_answers() {
        assert_eq!(token(br#"{"token":"t"}"#), Ok("t".to_owned()));
        assert_eq!(token(br#"{"access_token":"a"}"#), Ok("a".to_owned()));
        assert!(token(br#"{"token":""}"#).is_err());
        assert!(token(b"<html>").is_err());
    }
}
