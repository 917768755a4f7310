//! Every read from a static registry, bounded: a document (`index.json`, `<module>.json`) into
//! memory up to a fixed bound, refused as soon as it is known to be larger; an artifact streamed
//! into the cache while it is hashed, refused as soon as it is longer than its metadata says,
//! and kept only when its size and sha256 match. A document the cache holds with an `ETag` is
//! asked for with `If-None-Match`: a `304 Not Modified` costs no body. Transient failures
//! (connecting, a dropped connection, a 5xx, a 429) are retried with backoff; the caller's
//! deadline bounds the whole.

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_NONE_MATCH};

use super::{HttpError, HttpRegistry, MAX_SIGNATURE_BYTES};
use crate::names::PackRef;
use crate::registry::transport::{
    BodyError, StreamError, describe, is_transient_http, is_transient_status, read_up_to, retry,
    stream_to_file,
};
use crate::registry::tuf_client::TufError;
use crate::registry::{RegistryError, VersionEntry};

/// Why a read failed.
#[derive(Debug)]
enum Failure {
    Http(reqwest::Error),
    /// Reading the body failed, or it came slower than the floor.
    Body(BodyError),
    Status(StatusCode),
    TooLarge {
        limit: u64,
    },
    Stream(StreamError),
}

impl Failure {
    fn is_transient(&self) -> bool {
        match self {
            Failure::Http(error) => is_transient_http(error),
            Failure::Body(error) | Failure::Stream(StreamError::Body(error)) => {
                error.is_transient()
            }
            Failure::Status(code) => is_transient_status(*code),
            Failure::TooLarge { .. } | Failure::Stream(_) => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Failure::Http(error) => describe(error),
            Failure::Body(error) | Failure::Stream(StreamError::Body(error)) => error.describe(),
            Failure::Status(code) => format!("it answered {code}"),
            Failure::TooLarge { limit } => format!("it is larger than {limit} bytes"),
            Failure::Stream(StreamError::Fault(fault)) => fault.to_string(),
            Failure::Stream(StreamError::Write { path, source }) => {
                format!(
                    "failed to write the cache at `{}`: {source}",
                    path.display()
                )
            }
        }
    }
}

/// What a read of a document got.
enum Answer {
    NotModified,
    NotFound,
    Body(Vec<u8>, Option<String>),
}

impl HttpRegistry {
    /// The document at `path` below the registry's root, at most `limit` bytes; `None` when the
    /// registry answers 404. A cached copy with an `ETag` makes it a conditional request.
    pub(super) async fn document(
        &self,
        http: &reqwest::Client,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let url = self.url.join(path);
        let cached = self.cache.document(path);
        let etag = cached.as_ref().and_then(|cached| cached.etag.clone());
        let answer = retry(Failure::is_transient, || {
            let (url, etag) = (url.clone(), etag.clone());
            async move {
                let mut request = self.auth.apply(http.get(url));
                if let Some(etag) = etag {
                    request = request.header(IF_NONE_MATCH, etag);
                }
                let response = request.send().await.map_err(Failure::Http)?;
                match response.status() {
                    StatusCode::NOT_MODIFIED => Ok(Answer::NotModified),
                    StatusCode::NOT_FOUND => Ok(Answer::NotFound),
                    code if code.is_success() => {
                        if response
                            .content_length()
                            .is_some_and(|length| length > limit)
                        {
                            return Err(Failure::TooLarge { limit });
                        }
                        let etag = response
                            .headers()
                            .get(ETAG)
                            .and_then(|value| value.to_str().ok())
                            .map(str::to_owned);
                        match read_up_to(response, limit, self.bounds.floor)
                            .await
                            .map_err(Failure::Body)?
                        {
                            (body, false) => Ok(Answer::Body(body, etag)),
                            (_, true) => Err(Failure::TooLarge { limit }),
                        }
                    }
                    code => Err(Failure::Status(code)),
                }
            }
        })
        .await
        .map_err(|failure| self.failed(&url, &failure))?;
        match (answer, cached) {
            (Answer::NotModified, Some(cached)) => Ok(Some(cached.body)),
            (Answer::NotModified, None) => Err(HttpError::Request {
                registry: self.url.display(),
                url: url.to_string(),
                reason: "it answered 304 Not Modified to a request that was not conditional".into(),
            }
            .into()),
            (Answer::NotFound, _) => Ok(None),
            (Answer::Body(body, etag), _) => {
                self.cache.store_document(path, &body, etag.as_deref())?;
                Ok(Some(body))
            }
        }
    }

    /// Downloads the artifact `entry` records into the cache, checked against its size and
    /// sha256, and its signature when it has one.
    pub(super) async fn download(
        &self,
        http: &reqwest::Client,
        pack: &PackRef,
        entry: &VersionEntry,
    ) -> Result<(), RegistryError> {
        let refused = |reason: String| HttpError::Artifact {
            registry: self.url.display(),
            pack: pack.clone(),
            reason,
        };
        let max = self.bounds.max_artifact_bytes;
        if entry.size > max {
            return Err(refused(format!(
                "its metadata gives the artifact {} bytes, more than `distribution.unpack_max_bytes` ({max})\nhint: if the pack is genuine, raise `distribution.unpack_max_bytes`",
                entry.size
            ))
            .into());
        }
        // Already there intact (an unsigned pack fetched again for a signature added later).
        if self.cache.blobs.get(&entry.sha256, entry.size).is_none() {
            self.download_artifact(http, pack, entry).await?;
        }
        let Some(signature) = &entry.signature else {
            return Ok(());
        };
        let signature_path = format!("packages/{signature}");
        let text = self
            .document_uncached(http, &signature_path, MAX_SIGNATURE_BYTES)
            .await?
            .ok_or_else(|| {
                refused(format!(
                    "its metadata names the signature `{signature_path}`, which is not found (404)"
                ))
            })?;
        self.check_file(&signature_path, &text)?;
        let text = String::from_utf8(text)
            .map_err(|_| refused(format!("its signature `{signature_path}` is not UTF-8")))?;
        self.cache.store_signature(&entry.sha256, &text)?;
        Ok(())
    }

    /// Downloads the artifact `entry` records into the cache, checked against its size and
    /// sha256.
    async fn download_artifact(
        &self,
        http: &reqwest::Client,
        pack: &PackRef,
        entry: &VersionEntry,
    ) -> Result<(), RegistryError> {
        let refused = |reason: String| HttpError::Artifact {
            registry: self.url.display(),
            pack: pack.clone(),
            reason,
        };
        let file = format!("packages/{}", entry.package_file);
        let url = self.url.join(&file);
        let path = self.cache.blobs.path(&entry.sha256);
        retry(Failure::is_transient, || {
            let (url, path) = (url.clone(), path.clone());
            async move {
                let response = self
                    .auth
                    .apply(http.get(url))
                    .send()
                    .await
                    .map_err(Failure::Http)?;
                if !response.status().is_success() {
                    return Err(Failure::Status(response.status()));
                }
                let record = (&entry.sha256, entry.size, "the registry metadata");
                stream_to_file(response, record, &path, self.bounds.floor)
                    .await
                    .map_err(Failure::Stream)
            }
        })
        .await
        .map_err(|failure| match failure {
            // With a pinned root, the record the bytes differ from is its targets' own.
            Failure::Stream(StreamError::Fault(fault)) if self.tuf.is_some() => {
                TufError::Mismatch {
                    registry: self.url.display(),
                    file: file.clone(),
                    role: "targets".to_owned(),
                    detail: fault.to_string(),
                }
                .into()
            }
            Failure::Stream(StreamError::Fault(fault)) => {
                RegistryError::from(refused(format!("`{file}` {fault}")))
            }
            other => self.failed(&url, &other),
        })?;

        Ok(())
    }

    /// A file read whole (at most `limit` bytes), not kept as a document; `None` on 404.
    pub(super) async fn document_uncached(
        &self,
        http: &reqwest::Client,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let url = self.url.join(path);
        retry(Failure::is_transient, || {
            let url = url.clone();
            async move {
                let response = self
                    .auth
                    .apply(http.get(url))
                    .send()
                    .await
                    .map_err(Failure::Http)?;
                match response.status() {
                    StatusCode::NOT_FOUND => Ok(None),
                    code if code.is_success() => {
                        match read_up_to(response, limit, self.bounds.floor)
                            .await
                            .map_err(Failure::Body)?
                        {
                            (body, false) => Ok(Some(body)),
                            (_, true) => Err(Failure::TooLarge { limit }),
                        }
                    }
                    code => Err(Failure::Status(code)),
                }
            }
        })
        .await
        .map_err(|failure| self.failed(&url, &failure))
    }

    /// A failed read of `url` as our error: refused credentials have their own.
    fn failed(&self, url: &reqwest::Url, failure: &Failure) -> RegistryError {
        let registry = self.url.display();
        let url = url.to_string();
        match failure {
            Failure::Status(code)
                if *code == StatusCode::UNAUTHORIZED || *code == StatusCode::FORBIDDEN =>
            {
                HttpError::Unauthorized {
                    registry,
                    url,
                    source_name: self.auth_source.clone(),
                }
            }
            Failure::TooLarge { limit } => HttpError::TooLarge {
                registry,
                url,
                limit: *limit,
            },
            Failure::Stream(StreamError::Write { path, source }) => HttpError::Cache {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            other => HttpError::Request {
                registry,
                url,
                reason: other.describe(),
            },
        }
        .into()
    }
}
