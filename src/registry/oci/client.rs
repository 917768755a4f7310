//! The `oci-client` [`Client`] (pushes, with the credentials [`super::token`] negotiates), with the timeouts and the loopback rule of
//! [`crate::registry::transport`], whose `reqwest` client, retries and error descriptions every
//! read uses (see [`super::http`]).

use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};

use super::OciUrl;
pub use crate::registry::transport::{CONCURRENCY, describe, retry};
use crate::registry::transport::{CONNECT_TIMEOUT, READ_TIMEOUT, USER_AGENT};

/// How long a negotiated token without an expiry of its own is kept: a day, longer than any
/// command's deadline.
const TOKEN_LIFETIME_SECS: usize = 24 * 60 * 60;

/// The `oci-client` client for the registry at `url`.
pub fn new(url: &OciUrl) -> Client {
    crate::registry::transport::install_crypto_provider();
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
        // The tokens are negotiated by `super::token` and put in the client's cache; one that
        // does not say when it expires is kept for the whole command (the registry decides
        // whether it is still valid), so that the client never negotiates one itself.
        default_token_expiration_secs: TOKEN_LIFETIME_SECS,
        ..ClientConfig::default()
    })
}
