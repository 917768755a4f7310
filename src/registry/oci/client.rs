//! The transport: an `oci-client` [`Client`] with timeouts, plain HTTP for loopback hosts only,
//! retries of idempotent requests with backoff, and the classification and description of its
//! errors.

use std::time::Duration;

use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;

use super::RegistryUrl;

/// How many packs move at once.
pub const CONCURRENCY: usize = 8;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// A client for the registry at `url`.
pub fn new(url: &RegistryUrl) -> Client {
    let protocol = if url.is_loopback() {
        ClientProtocol::HttpsExcept(vec![url.host.clone()])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        max_concurrent_upload: CONCURRENCY,
        max_concurrent_download: CONCURRENCY,
        user_agent: concat!("provisioning/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    })
}

pub fn is_not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                oci_client::errors::OciErrorCode::ManifestUnknown
                    | oci_client::errors::OciErrorCode::NameUnknown
                    | oci_client::errors::OciErrorCode::NotFound
            )
        }),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        _ => false,
    }
}

/// Worth another try: the network or the server failed, not the request.
pub fn is_transient(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RequestError(error) => {
            error.is_timeout() || error.is_connect() || error.is_request()
        }
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        _ => false,
    }
}

/// Runs an idempotent request up to [`ATTEMPTS`] times while it fails transiently, backing off
/// exponentially from [`FIRST_BACKOFF`] with full jitter (so many clients do not retry in step).
/// `oci-client` does not hand back response headers, so a `Retry-After` cannot be honoured; a
/// 429 is retried on the same backoff.
pub async fn retry<T, F, Fut>(operation: F) -> Result<T, OciDistributionError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
{
    use backon::Retryable as _;
    let backoff = backon::ExponentialBuilder::default()
        .with_min_delay(FIRST_BACKOFF)
        .with_max_times(ATTEMPTS as usize - 1)
        .with_jitter();
    operation.retry(backoff).when(is_transient).await
}

/// One line about what went wrong, with the causes reqwest keeps behind its error.
pub fn describe(error: &OciDistributionError) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
