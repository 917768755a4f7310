//! The `oci-client` [`Client`] (credentials, pushes), with the timeouts and the loopback rule of
//! [`crate::registry::transport`], whose `reqwest` client, retries and error descriptions every
//! read uses (see [`super::http`]).

use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;

use super::OciUrl;
pub use crate::registry::transport::{CONCURRENCY, describe, retry};
use crate::registry::transport::{CONNECT_TIMEOUT, READ_TIMEOUT, USER_AGENT, is_transient_http};

/// The `oci-client` client for the registry at `url`.
pub fn new(url: &OciUrl) -> Client {
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

/// Worth another try: the network or the server failed, not the request.
pub fn is_transient(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RequestError(error) => is_transient_http(error),
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        _ => false,
    }
}
