//! What a static HTTP registry gave, kept on disk (`cache_path/http/`):
//!
//! - `blobs/sha256/<hex>`: artifacts by digest ([`BlobStore`]), put there only once their size
//!   and sha256 match the registry's metadata;
//! - `<registry>/`, one directory per registry ([`HttpUrl::cache_key`]: its host, port and path
//!   made readable, and a hash of its whole URL, so that `/team_a` and `/team/a` are two):
//!   - `<file>` and `<file>.etag`: the last `index.json` and `registry/<module>.json` read, with
//!     the `ETag` they came with, so the next read is a conditional request (`If-None-Match`)
//!     that a `304 Not Modified` answers without a body, and `--offline` has something to
//!     answer with;
//!   - `signatures/<hex>.minisig`: the signature this registry gave for the artifact with that
//!     digest. Kept per registry: a signature is what one registry says about the bytes, and
//!     another registry serving the same bytes signed by another key must not stand in for it.
//!
//! Blobs are shared by every registry: they are named by their content and checked against it.
//! Every entry is best effort to read: a damaged one is a miss; a signature or record that
//! fails verification is dropped and fetched again (`Registry::refetch`). Entries of the
//! layout before registries had their own signatures are not migrated: they are misses.

use std::path::{Path, PathBuf};

use super::{HttpError, HttpUrl};
use crate::digest::Sha256;
use crate::registry::transport::BlobStore;

#[derive(Debug, Clone)]
pub struct Cache {
    documents: PathBuf,
    signatures: PathBuf,
    pub blobs: BlobStore,
}

/// A document as it was last read.
#[derive(Debug, Clone)]
pub struct Cached {
    pub body: Vec<u8>,
    pub etag: Option<String>,
}

impl Cache {
    pub fn new(cache_path: &Path, url: &HttpUrl) -> Self {
        let dir = cache_path.join("http");
        Self {
            documents: dir.join(url.cache_key()),
            signatures: dir.join(url.cache_key()).join("signatures"),
            blobs: BlobStore::new(dir.join("blobs/sha256")),
        }
    }

    fn document_path(&self, relative: &str) -> PathBuf {
        self.documents.join(relative)
    }

    fn etag_path(&self, relative: &str) -> PathBuf {
        self.documents.join(format!("{relative}.etag"))
    }

    pub fn document(&self, relative: &str) -> Option<Cached> {
        let body =
            crate::fs::read(&self.document_path(relative), crate::fs::FileKind::Cache).ok()?;
        let etag = crate::fs::read(&self.etag_path(relative), crate::fs::FileKind::Cache)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        Some(Cached { body, etag })
    }

    /// Records a document and its `ETag` (the body first: an `ETag` never stands beside a body
    /// it does not belong to, since a stale one is removed before).
    pub fn store_document(
        &self,
        relative: &str,
        body: &[u8],
        etag: Option<&str>,
    ) -> Result<(), HttpError> {
        let path = self.document_path(relative);
        let error = |source| HttpError::Cache {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            crate::fs::create_dir_all(parent).map_err(error)?;
        }
        let etag_path = self.etag_path(relative);
        crate::fs::remove_file_if_exists(&etag_path).map_err(error)?;
        crate::fs::atomic_write(&path, body).map_err(error)?;
        if let Some(etag) = etag {
            crate::fs::atomic_write(&etag_path, etag.as_bytes()).map_err(error)?;
        }
        Ok(())
    }

    /// Forgets the document at `relative` and its `ETag`: the next read is a whole one.
    pub fn drop_document(&self, relative: &str) -> Result<(), HttpError> {
        for path in [self.document_path(relative), self.etag_path(relative)] {
            crate::fs::remove_file_if_exists(&path)
                .map_err(|source| HttpError::Cache { path, source })?;
        }
        Ok(())
    }

    /// Forgets the signature kept for the artifact `artifact`.
    pub fn drop_signature(&self, artifact: &Sha256) -> Result<(), HttpError> {
        let path = self.signature_path(artifact);
        crate::fs::remove_file_if_exists(&path)
            .map(drop)
            .map_err(|source| HttpError::Cache { path, source })
    }

    pub fn signature_path(&self, artifact: &Sha256) -> PathBuf {
        self.signatures.join(format!("{artifact}.minisig"))
    }

    /// The signature kept for the artifact `artifact`, if there is one (not checked: whoever uses
    /// it verifies it).
    pub fn signature(&self, artifact: &Sha256) -> Option<String> {
        let bytes =
            crate::fs::read(&self.signature_path(artifact), crate::fs::FileKind::Cache).ok()?;
        String::from_utf8(bytes).ok()
    }

    pub fn store_signature(&self, artifact: &Sha256, text: &str) -> Result<(), HttpError> {
        let path = self.signature_path(artifact);
        let error = |source| HttpError::Cache {
            path: path.clone(),
            source,
        };
        crate::fs::create_dir_all(&self.signatures).map_err(error)?;
        crate::fs::atomic_write(&path, text.as_bytes()).map_err(error)
    }
}
