//! The transport: an `oci-client` [`Client`] (credentials, pushes) and a `reqwest` client (every
//! read, see [`super::http`]), both with timeouts and plain HTTP for loopback hosts only;
//! redirects bounded and never to plain HTTP beyond loopback; retries of idempotent requests
//! with backoff; one-line descriptions of errors.

use std::time::Duration;

use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;

use super::RegistryUrl;
use super::address::is_loopback_host;

/// How many packs move at once.
pub const CONCURRENCY: usize = 8;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!("provisioning/", env!("CARGO_PKG_VERSION"));
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Redirects followed in a row at most: a loop fails after this many.
const MAX_REDIRECTS: usize = 10;

/// The `oci-client` client for the registry at `url`.
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
        user_agent: USER_AGENT,
        ..ClientConfig::default()
    })
}

/// The client every read goes through: the same timeouts, and redirects followed at most
/// [`MAX_REDIRECTS`] times in a row, never to plain HTTP unless to a loopback host (nothing
/// beyond this machine is spoken to in clear text, whatever a registry answers). `reqwest`
/// drops the credentials on a redirect to another host.
pub fn http() -> reqwest::Result<reqwest::Client> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let url = attempt.url();
        if attempt.previous().len() >= MAX_REDIRECTS {
            let error = format!("more than {MAX_REDIRECTS} redirects in a row");
            attempt.error(error)
        } else if url.scheme() != "https" && !url.host_str().is_some_and(is_loopback_host) {
            let error = format!("refused a redirect to plain HTTP (`{url}`)");
            attempt.error(error)
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .user_agent(USER_AGENT)
        .redirect(redirects)
        .build()
}

/// Worth another try: the network or the server failed, not the request.
pub fn is_transient(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RequestError(error) => is_transient_http(error),
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        _ => false,
    }
}

/// A request that failed on the way: connecting, a timeout, a connection dropped mid-answer.
/// Not a redirect refused by our policy: that fails the same way again.
pub fn is_transient_http(error: &reqwest::Error) -> bool {
    !error.is_redirect()
        && (error.is_timeout() || error.is_connect() || error.is_request() || error.is_body())
}

/// Runs an idempotent request up to [`ATTEMPTS`] times while it fails and `transient` says
/// another try may succeed, backing off exponentially from [`FIRST_BACKOFF`] with full jitter
/// (so many clients do not retry in step). A 429 is retried on the same backoff (a
/// `Retry-After` is not honoured). The caller's deadline bounds the whole.
pub async fn retry<T, E, F, Fut>(transient: fn(&E) -> bool, operation: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    use backon::Retryable as _;
    let backoff = backon::ExponentialBuilder::default()
        .with_min_delay(FIRST_BACKOFF)
        .with_max_times(ATTEMPTS as usize - 1)
        .with_jitter();
    operation.retry(backoff).when(transient).await
}

/// One line about what went wrong, with the causes an error keeps behind it.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
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
