//! What every remote registry (OCI, static HTTP) does on the wire, whatever it speaks: one
//! `reqwest` client with timeouts, bounded redirects and plain HTTP for loopback hosts only;
//! retries of idempotent requests with backoff; bodies read up to a bound, or streamed into a
//! file while they are hashed and put in place only when their size and digest match, each
//! failed when it comes slower than the [`SpeedFloor`]; one-line descriptions of errors; and the
//! command's one network [`Deadline`], which bounds the time of every operation of every
//! registry.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::address::{Authority, is_loopback_host};
use crate::config::Distribution;
use crate::digest::{Sha256, Sha256Hasher};
use crate::fs::StreamedFile;

/// How many packs move at once.
pub const CONCURRENCY: usize = 8;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
pub const USER_AGENT: &str = concat!("provisioning/", env!("CARGO_PKG_VERSION"));
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Redirects followed in a row at most: a loop fails after this many.
const MAX_REDIRECTS: usize = 10;

/// When the command opened its first remote registry: its network deadline counts from here.
static COMMAND_START: OnceLock<Instant> = OnceLock::new();

/// Starts the clock of the command's network deadline: the first call does, when the first
/// remote registry is opened. Local work before (evaluating modules before publishing them)
/// does not count against the network's deadline.
pub fn start_clock() -> Instant {
    *COMMAND_START.get_or_init(Instant::now)
}

/// The time the whole command's network work must finish in: `distribution.network_timeout_secs`
/// from when the command opened its first remote registry, shared by every operation of every registry. Each request
/// gets the time remaining; once it has passed, every operation fails at once without a request
/// (a command of N operations waits the deadline once, not N times).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    seconds: u64,
}

impl Deadline {
    pub fn after_start(seconds: u64) -> Self {
        let at = start_clock()
            .checked_add(Duration::from_secs(seconds))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(u64::from(u32::MAX)));
        Self { at, seconds }
    }

    /// The deadline, in seconds from when the first remote registry was opened, for messages.
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// The time left; `None` once the deadline has passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    /// Runs `work` until the deadline: `None` when it did not finish in time, or when the
    /// deadline had passed already (then `work` is not started: no request is made).
    pub async fn run<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        let left = self.remaining()?;
        tokio::time::timeout(left, work).await.ok()
    }
}

/// The slowest a body may come, in the spirit of curl's and cargo's `low-speed-limit`: fewer
/// than `bytes_per_sec` bytes a second over any `secs` seconds of a transfer fails it, naming
/// the host, long before the command's deadline (a server dripping a 700-byte manifest would
/// otherwise hold the command for the whole deadline: the per-read timeout never fires).
/// `distribution.low_speed_limit` and `distribution.low_speed_time_secs`; either at 0 turns it
/// off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeedFloor {
    pub bytes_per_sec: u64,
    pub secs: u64,
}

impl SpeedFloor {
    pub fn from_config(distribution: &Distribution) -> Self {
        Self {
            bytes_per_sec: distribution.low_speed_limit,
            secs: distribution.low_speed_time_secs,
        }
    }

    /// The window the rate is measured over; `None` when the floor is off. At most `u32::MAX`
    /// seconds (136 years, as the deadline's): a window added to now must stay an `Instant`.
    fn window(self) -> Option<Duration> {
        (self.bytes_per_sec > 0 && self.secs > 0)
            .then(|| Duration::from_secs(self.secs.min(u64::from(u32::MAX))))
    }

    /// The bytes a window must bring.
    fn bytes_per_window(self) -> u64 {
        self.bytes_per_sec.saturating_mul(self.secs)
    }
}

/// A body that came slower than the [`SpeedFloor`].
#[derive(Debug, thiserror::Error)]
#[error(
    "the transfer from `{host}` was slower than {bytes_per_sec} bytes/s over {secs} s, the speed floor\nhint: on a network that is only slow, lower `distribution.low_speed_limit` or raise `distribution.low_speed_time_secs` (or `PROVISIONING_DISTRIBUTION_LOW_SPEED_LIMIT`, `PROVISIONING_DISTRIBUTION_LOW_SPEED_TIME_SECS`; 0 turns the floor off)"
)]
pub struct TooSlow {
    /// The host (and port) the body came from, after redirects.
    pub host: String,
    pub bytes_per_sec: u64,
    pub secs: u64,
}

/// Why reading a body failed.
#[derive(Debug)]
pub enum BodyError {
    /// Cut short, or silent past the read timeout.
    Http(reqwest::Error),
    /// Slower than the floor: not retried (a server that drips once drips again; the deadline
    /// would be spent on it).
    TooSlow(TooSlow),
}

impl BodyError {
    pub fn is_transient(&self) -> bool {
        match self {
            BodyError::Http(error) => is_transient_http(error),
            BodyError::TooSlow(_) => false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            BodyError::Http(error) => describe(error),
            BodyError::TooSlow(slow) => slow.to_string(),
        }
    }
}

/// A response's body read chunk by chunk, held to the [`SpeedFloor`]: the bytes of each window
/// of `secs` seconds are counted, and a window that brought fewer than the floor fails the
/// read, whether its chunks came slowly or not at all. The rate of a body that ends within a
/// window is not judged.
struct Body {
    response: reqwest::Response,
    floor: SpeedFloor,
    window_start: Instant,
    window_bytes: u64,
}

impl Body {
    fn new(response: reqwest::Response, floor: SpeedFloor) -> Self {
        Self {
            response,
            floor,
            window_start: Instant::now(),
            window_bytes: 0,
        }
    }

    async fn chunk(&mut self) -> Result<Option<impl std::ops::Deref<Target = [u8]>>, BodyError> {
        let Some(window) = self.floor.window() else {
            return self.response.chunk().await.map_err(BodyError::Http);
        };
        loop {
            let end = self.window_start + window;
            let next = tokio::time::timeout_at(end.into(), self.response.chunk()).await;
            match next {
                Ok(chunk) => {
                    let chunk = chunk.map_err(BodyError::Http)?;
                    if let Some(bytes) = &chunk {
                        self.window_bytes = self.window_bytes.saturating_add(bytes.len() as u64);
                        if Instant::now() >= end {
                            self.next_window()?;
                        }
                    }
                    return Ok(chunk);
                }
                // The window ended with no chunk in its last part: judged, and the wait goes on.
                Err(_) => self.next_window()?,
            }
        }
    }

    /// Judges the window that ended, and starts the next.
    fn next_window(&mut self) -> Result<(), BodyError> {
        if self.window_bytes < self.floor.bytes_per_window() {
            let url = self.response.url();
            return Err(BodyError::TooSlow(TooSlow {
                host: Authority::of_url(url).map_or_else(|| url.to_string(), |a| a.to_string()),
                bytes_per_sec: self.floor.bytes_per_sec,
                secs: self.floor.secs,
            }));
        }
        self.window_start = Instant::now();
        self.window_bytes = 0;
        Ok(())
    }
}

/// The client, with the floor the bodies of its answers are read against, for reads made far
/// from the [`Bounds`] (an OCI registry's sessions and token negotiation).
#[derive(Debug, Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub floor: SpeedFloor,
}

impl std::ops::Deref for Http {
    type Target = reqwest::Client;

    fn deref(&self) -> &reqwest::Client {
        &self.client
    }
}

/// What one command may ask of a registry.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Every network operation of the command (packs' fetches with their blobs and retries,
    /// listings, publications, a static registry's documents) must finish within it.
    pub deadline: Deadline,
    /// The largest pack layer downloaded: `distribution.unpack_max_bytes` (an artifact larger
    /// than what it may unpack to is refused before a byte of it is read).
    pub max_artifact_bytes: u64,
    /// The slowest any body may come.
    pub floor: SpeedFloor,
}

impl Bounds {
    pub fn from_config(distribution: &Distribution) -> Self {
        Self {
            deadline: Deadline::after_start(distribution.network_timeout_secs.get()),
            max_artifact_bytes: distribution.unpack_max_bytes,
            floor: SpeedFloor::from_config(distribution),
        }
    }
}

/// Makes *ring* the process's rustls crypto provider, once, before the first TLS client
/// (`reqwest`'s here, `oci-client`'s in `registry::oci::client`) is built: the dependencies are
/// built without rustls' default provider (aws-lc-rs), which cost 1.3 MiB of the binary and a
/// CPU probe at every start (docs/performance.md, "Binary size").
pub fn install_crypto_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // An error means a provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The client every read goes through: the timeouts above, and redirects followed at most
/// [`MAX_REDIRECTS`] times in a row, never to plain HTTP unless to a loopback host (nothing
/// beyond this machine is spoken to in clear text, whatever a registry answers). `reqwest`
/// drops the credentials on a redirect to another host.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    install_crypto_provider();
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

/// A request that failed on the way: connecting, a timeout, a connection dropped mid-answer.
/// Not a redirect refused by our policy: that fails the same way again.
pub fn is_transient_http(error: &reqwest::Error) -> bool {
    !error.is_redirect()
        && (error.is_timeout() || error.is_connect() || error.is_request() || error.is_body())
}

/// Worth another try for an answer with this status: the server failed, or asked us to slow
/// down.
pub fn is_transient_status(code: reqwest::StatusCode) -> bool {
    code.is_server_error() || code == reqwest::StatusCode::TOO_MANY_REQUESTS
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

/// At most `limit` bytes of a response's body, and whether there was more (then the rest is not
/// read: the connection is dropped); failed when it comes slower than `floor`.
pub async fn read_up_to(
    response: reqwest::Response,
    limit: u64,
    floor: SpeedFloor,
) -> Result<(Vec<u8>, bool), BodyError> {
    let capacity = response.content_length().unwrap_or(0).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut reader = Body::new(response, floor);
    while let Some(chunk) = reader.chunk().await? {
        let room = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// How a downloaded file is not what its record (`record`: "its manifest", "the registry
/// metadata") says; displayed as what follows its name ("the pack layer is longer than ...").
#[derive(Debug, thiserror::Error)]
pub enum BlobFault {
    #[error("is longer than the {size} bytes {record} gives")]
    Longer { size: u64, record: &'static str },
    #[error("ended after {received} of the {size} bytes {record} gives")]
    Shorter {
        received: u64,
        size: u64,
        record: &'static str,
    },
    #[error("does not match its digest (its bytes hash to sha256:{}…)", found.short())]
    Digest { found: Sha256 },
}

/// Why streaming a body into a file failed.
#[derive(Debug)]
pub enum StreamError {
    /// The body was cut short, timed out, or came slower than the floor.
    Body(BodyError),
    /// It is not what its record says.
    Fault(BlobFault),
    /// Writing the file failed.
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Streams `response`'s body into a file that becomes `path`, hashing it: refused as soon as it
/// is longer than `size` bytes (it is not read further), or when it ends short or does not hash
/// to `digest`, or comes slower than `floor`. The file is put in place only when it passed.
/// `record` names what gives the size and digest, for messages.
pub async fn stream_to_file(
    response: reqwest::Response,
    (digest, size, record): (&Sha256, u64, &'static str),
    path: &Path,
    floor: SpeedFloor,
) -> Result<(), StreamError> {
    let longer = || StreamError::Fault(BlobFault::Longer { size, record });
    let write = |source| StreamError::Write {
        path: path.to_owned(),
        source,
    };
    if response
        .content_length()
        .is_some_and(|length| length > size)
    {
        return Err(longer());
    }
    let mut file = StreamedFile::create(path).map_err(write)?;
    let mut hasher = Sha256Hasher::default();
    let mut received: u64 = 0;
    let mut reader = Body::new(response, floor);
    while let Some(chunk) = reader.chunk().await.map_err(StreamError::Body)? {
        received = received.saturating_add(chunk.len() as u64);
        if received > size {
            return Err(longer());
        }
        hasher.update(&chunk);
        file.write(&chunk).map_err(write)?;
    }
    if received < size {
        return Err(StreamError::Fault(BlobFault::Shorter {
            received,
            size,
            record,
        }));
    }
    let found = hasher.finish();
    if found != *digest {
        return Err(StreamError::Fault(BlobFault::Digest { found }));
    }
    file.persist().map_err(write)
}

/// Files named by their sha256 (`<dir>/<hex>`), each put there only once its size and digest
/// were checked ([`stream_to_file`]), and checked again when read: the digest-keyed cache of
/// both remote registries.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn path(&self, digest: &Sha256) -> PathBuf {
        self.dir.join(digest.to_string())
    }

    /// Whether the blob `digest` is there with `size` bytes (not read, not checked).
    pub fn holds(&self, digest: &Sha256, size: u64) -> bool {
        std::fs::metadata(self.path(digest)).is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// The blob `digest`, if it is there with `size` bytes (checked before it is read) and
    /// matches its digest.
    pub fn get(&self, digest: &Sha256, size: u64) -> Option<Vec<u8>> {
        let path = self.path(digest);
        if std::fs::metadata(&path).ok()?.len() != size {
            return None;
        }
        let bytes = crate::fs::read(&path, crate::fs::FileKind::Cache).ok()?;
        (Sha256::of(&bytes) == *digest).then_some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// Once the command's deadline has passed, an operation is not even started: a registry
    /// that made the command miss it gets no more requests.
    #[test]
    fn past_the_deadline_nothing_starts() {
        let passed = Deadline {
            at: Instant::now(),
            seconds: 2,
        };
        assert_eq!(passed.remaining(), None);
        let started = std::cell::Cell::new(false);
        let ran = runtime().block_on(passed.run(async { started.set(true) }));
        assert_eq!(ran, None);
        assert!(!started.get(), "the work was started past the deadline");
    }

    #[test]
    fn each_operation_gets_what_remains() {
        let deadline = Deadline {
            at: Instant::now() + Duration::from_millis(200),
            seconds: 2,
        };
        assert!(
            deadline
                .remaining()
                .is_some_and(|left| left <= Duration::from_millis(200))
        );
        let sleep = async { tokio::time::sleep(Duration::from_secs(60)).await };
        let slow = runtime().block_on(deadline.run(sleep));
        assert_eq!(slow, None, "a slow operation is cut at the deadline");
        assert_eq!(runtime().block_on(deadline.run(async { 1 })), None);
    }
}
