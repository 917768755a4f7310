//! Every read from a registry, bounded. `oci-client` reads each answer whole into memory, so a
//! hostile registry could exhaust it with one endless manifest; reads go through `reqwest` here
//! instead, with the credentials `oci-client` negotiates for the repository:
//!
//! - a manifest or a listing page is read into memory up to a fixed bound, refused as soon as it
//!   is known to be larger (from its `Content-Length`, else when the bound is crossed);
//! - a blob is streamed into a file while it is hashed, refused as soon as it is longer than its
//!   descriptor says, and the file is put in place only when its size and digest match;
//! - an error's body is read up to [`MAX_ERROR_BYTES`], for its message.
//!
//! Time is bounded by the caller's deadline, not here.

use std::path::{Path, PathBuf};

use oci_client::Reference;
use oci_client::secrets::RegistryAuth;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap};

use super::client::describe;
use super::token::{Access, Credentials, TokenFailure};
use crate::address::{Authority, TokenHosts};
use crate::digest::Sha256;
pub use crate::registry::transport::BlobFault;
use crate::registry::transport::{
    BodyError, Http, StreamError, is_transient_http, is_transient_status, read_up_to,
    stream_to_file,
};

/// An error's body is read this far, for its message.
const MAX_ERROR_BYTES: u64 = 64 * 1024;
/// The longest message taken from an error's body.
const MAX_MESSAGE_CHARS: usize = 200;

/// Why a read failed.
#[derive(Debug)]
pub enum Failure {
    /// The request failed: connecting, a timeout, a redirect loop.
    Http(reqwest::Error),
    /// Reading the body failed: cut short, or slower than the floor.
    Body(BodyError),
    /// Negotiating the credentials failed (see [`super::token`]).
    Token(TokenFailure),
    /// The registry answered with an error status.
    Status { code: StatusCode, message: String },
    /// The answer is larger than the `limit` it is allowed.
    TooLarge { limit: u64 },
    /// The answer is not what it must be (its format, its digest): why.
    Invalid(String),
    /// A blob is not what its descriptor says.
    Blob(BlobFault),
    /// Writing into the cache failed.
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Failure {
    /// Worth another try: the network or the server failed, not the request or the answer.
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Http(error) => is_transient_http(error),
            Failure::Body(error) => error.is_transient(),
            Failure::Token(failure) => failure.is_transient(),
            Failure::Status { code, .. } => is_transient_status(*code),
            Failure::TooLarge { .. }
            | Failure::Invalid(_)
            | Failure::Blob(_)
            | Failure::Cache { .. } => false,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Failure::Status { code, .. } if *code == StatusCode::NOT_FOUND)
    }

    /// The credentials were refused (or there were none and some are needed).
    pub fn is_unauthorized(&self) -> bool {
        match self {
            Failure::Status { code, .. } => {
                *code == StatusCode::UNAUTHORIZED || *code == StatusCode::FORBIDDEN
            }
            Failure::Token(failure) => failure.is_unauthorized(),
            _ => false,
        }
    }

    /// One line, for an error message.
    pub fn describe(&self) -> String {
        match self {
            Failure::Http(error) => describe(error),
            Failure::Body(error) => error.describe(),
            Failure::Token(failure) => failure.describe(),
            Failure::Status { code, message } if message.is_empty() => {
                format!("it answered {code}")
            }
            Failure::Status { code, message } => format!("it answered {code}: {message}"),
            Failure::TooLarge { limit } => format!("the answer is larger than {limit} bytes"),
            Failure::Invalid(reason) => reason.clone(),
            Failure::Blob(fault) => format!("the blob {fault}"),
            Failure::Cache { path, source } => {
                format!(
                    "failed to write the cache at `{}`: {source}",
                    path.display()
                )
            }
        }
    }
}

/// The reads of one operation on one repository, with the credentials negotiated for it.
pub struct Session<'a> {
    http: &'a Http,
    /// `scheme://host/v2/`.
    base: String,
    credentials: Credentials,
}

impl<'a> Session<'a> {
    /// Negotiates the credentials for pulling from `reference`'s repository on the registry
    /// `registry` (spoken to over `scheme`): a bearer token when the registry hands one out
    /// for `auth`, else `auth` as it is ([`super::token::negotiate`]).
    pub async fn open(
        http: &'a Http,
        scheme: &str,
        registry: &Authority,
        reference: &Reference,
        auth: &RegistryAuth,
        token_hosts: &TokenHosts,
    ) -> Result<Self, Failure> {
        let base = format!("{scheme}://{}/v2/", reference.resolve_registry());
        let credentials = super::token::negotiate(
            http,
            &base,
            registry,
            reference.repository(),
            Access::Pull,
            auth,
            token_hosts,
        )
        .await?;
        Ok(Self {
            http,
            base,
            credentials,
        })
    }

    /// GET `path` (below `/v2/`): the response when its status is a success, else the status
    /// and the message of its (bounded) body.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        accept: Option<&str>,
    ) -> Result<reqwest::Response, Failure> {
        let mut request = self.http.get(format!("{}{path}", self.base)).query(query);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        request = match &self.credentials {
            Credentials::Anonymous => request,
            Credentials::Bearer(token) => request.bearer_auth(token),
            Credentials::Basic(user, password) => request.basic_auth(user, Some(password)),
        };
        let response = request.send().await.map_err(Failure::Http)?;
        let code = response.status();
        if code.is_success() {
            return Ok(response);
        }
        let body = read_up_to(response, MAX_ERROR_BYTES, self.http.floor)
            .await
            .map(|(body, _)| body)
            .unwrap_or_default();
        Err(Failure::Status {
            code,
            message: error_message(&body),
        })
    }

    /// The headers and body of GET `path`; a body larger than `limit` bytes is refused.
    pub async fn get_bounded(
        &self,
        path: &str,
        query: &[(&str, &str)],
        accept: Option<&str>,
        limit: u64,
    ) -> Result<(HeaderMap, Vec<u8>), Failure> {
        let response = self.get(path, query, accept).await?;
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(Failure::TooLarge { limit });
        }
        let headers = response.headers().clone();
        match read_up_to(response, limit, self.http.floor)
            .await
            .map_err(Failure::Body)?
        {
            (body, false) => Ok((headers, body)),
            (_, true) => Err(Failure::TooLarge { limit }),
        }
    }

    /// Streams the blob `digest` of `repository` into a file that becomes `path`, hashing it:
    /// refused as soon as it is longer than `size` bytes (it is not read further), or when it
    /// ends short or does not match its digest. The file is put in place only when it passed.
    pub async fn get_blob(
        &self,
        repository: &str,
        digest: &Sha256,
        size: u64,
        path: &Path,
    ) -> Result<(), Failure> {
        let blob = format!("{repository}/blobs/{}", digest.oci_digest());
        let response = self.get(&blob, &[], None).await?;
        stream_to_file(
            response,
            (digest, size, "its manifest"),
            path,
            self.http.floor,
        )
        .await
        .map_err(|error| match error {
            StreamError::Body(error) => Failure::Body(error),
            StreamError::Fault(fault) => Failure::Blob(fault),
            StreamError::Write { path, source } => Failure::Cache { path, source },
        })
    }
}

/// The message of an error's body: the OCI error envelope's codes and messages, else its first
/// line; short, on one line, without control characters.
pub(super) fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        code: String,
        #[serde(default)]
        message: String,
    }
    let text = match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => envelope
            .errors
            .iter()
            .map(|entry| format!("{} {}", entry.code, entry.message))
            .collect::<Vec<_>>()
            .join("; "),
        Err(_) => String::from_utf8_lossy(body)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    let mut message: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if text.trim().chars().count() > MAX_MESSAGE_CHARS {
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_short_single_lines() {
        let cases: [(&[u8], &str); 4] = [
            (
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                "MANIFEST_UNKNOWN manifest unknown",
            ),
            (b"<html>\nBad gateway\n</html>", "<html>"),
            (b"oops\x1b[31m red", "oops[31m red"),
            (b"", ""),
        ];
        for (body, expected) in cases {
            assert_eq!(error_message(body), expected);
        }
        let long = error_message(&[b'x'; 1000]);
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
