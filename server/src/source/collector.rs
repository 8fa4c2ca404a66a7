//! The local collector: an HTTP endpoint that speaks Sentry's ingestion protocol, so any Sentry
//! SDK pointed at its DSN (`http://<key>@127.0.0.1:<port>/<project>`) reports crashes into the
//! local [`CrashStore`].
//!
//! Request path: authenticate (the `X-Sentry-Auth` header, the `sentry_key` query parameter or the
//! envelope's `dsn` header) → read the body up to `max_body_bytes` → decompress up to
//! `max_decompressed_bytes` → split the envelope → take a rate-limit token per event → parse each
//! event item into a [`CrashEvent`] → hand the events to the one writer thread → answer 200 only
//! once the writer's transaction holding them has committed. The writer batches whatever queued
//! up while it was committing into the next transaction, which is how one SQLite file keeps up
//! with thousands of events per second while every acknowledged event is on disk.
//!
//! Memory is bounded: at most `max_concurrent_requests` requests hold a body at a time (the rest
//! wait before reading theirs), and the queue to the writer holds at most `queue_capacity`
//! requests. Bad input is answered with a 4xx status and an `X-Sentry-Error` header, as Sentry
//! does, and never reaches the store.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::store::{CrashStore, InsertOutcome, StoreError};
use crate::crash::CrashEvent;
use crate::crash::envelope::{self as wire, DecodeError};
use crate::crash::sentry::SentryEventError;

/// Turns one raw SDK event (the JSON of an `event` item) into a [`CrashEvent`].
pub type EventParser = fn(&serde_json::Value) -> Result<CrashEvent, SentryEventError>;

/// The port the collector listens on unless configured otherwise.
pub const DEFAULT_PORT: u16 = 8790;

const MIB: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct CollectorConfig {
    pub listen: SocketAddr,
    /// Accepted public keys (the user part of the DSN). When empty, [`Collector::bind`] generates
    /// one random key.
    pub keys: Vec<String>,
    /// The project id of the DSN. Requests for another project get 404.
    pub project_id: u64,
    /// Largest request body as sent, compressed or not (Sentry: 20 MiB). Larger: 413.
    pub max_body_bytes: usize,
    /// Largest body after decompression (Sentry: 100 MiB). Larger: 413, and decompression stops
    /// there, so a decompression bomb costs no more memory than this.
    pub max_decompressed_bytes: usize,
    /// Largest single event item (Sentry: 1 MiB). Larger: 413.
    pub max_event_bytes: usize,
    /// Events per second and key; 0 disables the limit. Above it: 429 with `Retry-After`.
    pub rate_limit_per_key: u32,
    /// Requests processed at once; the rest wait before their body is read.
    pub max_concurrent_requests: usize,
    /// Requests that may wait for the writer.
    pub queue_capacity: usize,
    /// Most events the writer commits in one transaction.
    pub max_batch_events: usize,
    /// How raw SDK events become crash events: [`crate::crash::sentry::parse_event`] unless
    /// replaced.
    pub event_parser: EventParser,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            keys: Vec::new(),
            project_id: 1,
            max_body_bytes: 20 * MIB,
            max_decompressed_bytes: 100 * MIB,
            max_event_bytes: MIB,
            rate_limit_per_key: 1000,
            max_concurrent_requests: 64,
            queue_capacity: 256,
            max_batch_events: 1000,
            event_parser: crate::crash::sentry::parse_event,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error("the collector cannot listen on {addr}: {source}; choose another address or port")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the collector stopped: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the collector's store writer stopped unexpectedly")]
    WriterDied,
}

/// The DSN an SDK needs to report to a collector listening on `addr`.
pub fn dsn(key: &str, addr: SocketAddr, project_id: u64) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    format!("http://{key}@{host}:{}/{project_id}", addr.port())
}

/// Listens on the configured address and serves until `shutdown` completes.
pub async fn serve(
    config: CollectorConfig,
    store_path: impl Into<PathBuf>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CollectorError> {
    Collector::bind(config, store_path).await?.run(shutdown).await
}

/// A collector bound to its address, with its store open, not yet serving.
#[derive(Debug)]
pub struct Collector {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: CollectorConfig,
    store: CrashStore,
}

impl Collector {
    /// Binds the listener and opens (or creates) the store, so that both fail before serving.
    pub async fn bind(mut config: CollectorConfig, store_path: impl Into<PathBuf>) -> Result<Self, CollectorError> {
        if config.keys.is_empty() {
            config.keys.push(random_hex_id());
        }
        let store = CrashStore::open(store_path.into())?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| CollectorError::Bind { addr: config.listen, source })?;
        let local_addr = listener.local_addr()?;
        Ok(Self { listener, local_addr, config, store })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The DSN of the first accepted key at the bound address.
    pub fn dsn(&self) -> String {
        dsn(&self.config.keys[0], self.local_addr, self.config.project_id)
    }

    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight and their writes.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), CollectorError> {
        let Self { listener, local_addr, config, store } = self;
        let (writer_tx, writer_rx) = mpsc::channel(config.queue_capacity.max(1));
        let max_batch_events = config.max_batch_events.max(1);
        let writer = std::thread::Builder::new()
            .name("crash-store-writer".into())
            .spawn(move || run_writer(store, writer_rx, max_batch_events))?;

        tracing::info!(%local_addr, project_id = config.project_id, "collector listening");
        let state = Arc::new(CollectorState {
            in_flight: Semaphore::new(config.max_concurrent_requests.max(1)),
            rate_limiter: RateLimiter::new(config.rate_limit_per_key),
            writer: writer_tx,
            config,
        });
        axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await?;

        // Every sender is gone with the router: the writer commits what is queued and returns.
        tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(|_| CollectorError::WriterDied)?
            .map_err(|_| CollectorError::WriterDied)?;
        tracing::info!("collector stopped");
        Ok(())
    }
}

struct CollectorState {
    config: CollectorConfig,
    writer: mpsc::Sender<WriteRequest>,
    rate_limiter: RateLimiter,
    in_flight: Semaphore,
}

fn router(state: Arc<CollectorState>) -> Router {
    Router::new()
        .route("/api/{project_id}/envelope/", post(receive_envelope))
        .route("/api/{project_id}/envelope", post(receive_envelope))
        .route("/api/{project_id}/store/", post(receive_store))
        .route("/api/{project_id}/store", post(receive_store))
        .route("/api/store/", post(receive_store_without_project))
        .fallback(|| async {
            Rejection::new(
                StatusCode::NOT_FOUND,
                "not a Sentry ingestion endpoint; SDKs post to /api/<project>/envelope/",
            )
        })
        // The handlers read bodies themselves, with the configured limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Envelope,
    Store,
}

async fn receive_envelope(
    State(state): State<Arc<CollectorState>>,
    Path(project_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(&state, Endpoint::Envelope, &project_id, query.as_deref(), &headers, body)
        .await
        .unwrap_or_else(|r| r.into_response())
}

async fn receive_store(
    State(state): State<Arc<CollectorState>>,
    Path(project_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    ingest(&state, Endpoint::Store, &project_id, query.as_deref(), &headers, body)
        .await
        .unwrap_or_else(|r| r.into_response())
}

/// The oldest SDKs post to `/api/store/` and name the project only in the DSN.
async fn receive_store_without_project(
    State(state): State<Arc<CollectorState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let project_id = state.config.project_id.to_string();
    ingest(&state, Endpoint::Store, &project_id, query.as_deref(), &headers, body)
        .await
        .unwrap_or_else(|r| r.into_response())
}

#[tracing::instrument(name = "ingest", level = "debug", skip_all, fields(?endpoint, event_id = tracing::field::Empty))]
async fn ingest(
    state: &CollectorState,
    endpoint: Endpoint,
    project_id: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Rejection> {
    let config = &state.config;
    if project_id.parse::<u64>().ok() != Some(config.project_id) {
        return Err(Rejection::new(
            StatusCode::NOT_FOUND,
            format!("this collector serves project {}, not {project_id}; use the DSN it printed", config.project_id),
        ));
    }

    // A request with a key in its headers or URL is checked before its body is read.
    let request_key = key_from_headers(headers).or_else(|| query.and_then(key_from_query)).map(str::to_owned);
    if let Some(key) = &request_key {
        check_key(config, key)?;
    }

    let _permit =
        state.in_flight.acquire().await.map_err(|_| Rejection::unavailable("the collector is shutting down"))?;
    let received_at = Utc::now();
    let raw = read_body_capped(headers, body, config.max_body_bytes).await?;
    let content_encoding = headers.get(header::CONTENT_ENCODING).and_then(|value| value.to_str().ok());
    // Also unpacks the legacy store endpoint's base64(zlib(json)) bodies.
    let body = wire::decode_body(&raw, content_encoding, config.max_decompressed_bytes).map_err(Rejection::from)?;
    drop(raw);

    let (key, header_event_id, event_payloads) = match endpoint {
        Endpoint::Envelope => {
            let envelope = wire::parse_envelope(&body)
                .map_err(|error| Rejection::bad_request(format!("invalid envelope: {error}")))?;
            let key = match request_key {
                Some(key) => key,
                None => {
                    let key = envelope
                        .headers
                        .get("dsn")
                        .and_then(|dsn| dsn.as_str())
                        .and_then(key_from_dsn)
                        .ok_or_else(missing_key)?;
                    check_key(config, key)?;
                    key.to_owned()
                }
            };
            let header_event_id = envelope.headers.get("event_id").and_then(|id| id.as_str()).map(str::to_owned);
            let mut events = Vec::new();
            let mut skipped = BTreeMap::<String, usize>::new();
            for item in envelope.items {
                if item.item_type == "event" {
                    events.push(item.payload);
                } else {
                    *skipped.entry(item.item_type).or_default() += 1;
                }
            }
            if !skipped.is_empty() {
                tracing::debug!(?skipped, "envelope items the crash inbox does not keep were skipped");
            }
            (key, header_event_id, events)
        }
        Endpoint::Store => (request_key.ok_or_else(missing_key)?, None, vec![body]),
    };

    if !event_payloads.is_empty() {
        state.rate_limiter.take(&key, event_payloads.len()).map_err(Rejection::rate_limited)?;
    }

    let mut events = Vec::with_capacity(event_payloads.len());
    for payload in &event_payloads {
        if payload.len() > config.max_event_bytes {
            return Err(Rejection::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("event item of {} bytes exceeds the limit of {} bytes", payload.len(), config.max_event_bytes),
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|error| Rejection::bad_request(format!("event is not valid JSON: {error}")))?;
        let mut event = (config.event_parser)(&json)
            .map_err(|error| Rejection::bad_request(format!("event could not be read: {error}")))?;
        if event.event_id.is_none() {
            event.event_id = Some(header_event_id.clone().unwrap_or_else(random_hex_id));
        }
        events.push((event, received_at));
    }
    drop(event_payloads);

    let response_id = header_event_id.or_else(|| events.first().and_then(|(event, _)| event.event_id.clone()));
    if let Some(id) = &response_id {
        tracing::Span::current().record("event_id", id.as_str());
    }
    if !events.is_empty() {
        let (reply_tx, reply_rx) = oneshot::channel();
        let write = WriteRequest { events, reply: reply_tx };
        state.writer.send(write).await.map_err(|_| Rejection::unavailable("the collector is shutting down"))?;
        let outcomes = reply_rx
            .await
            .map_err(|_| Rejection::unavailable("the crash store writer stopped"))?
            .map_err(|error| Rejection::unavailable(format!("the event could not be stored: {error}")))?;
        for outcome in &outcomes {
            tracing::debug!(signature = %outcome.signature, new_group = outcome.new_group, duplicate = outcome.duplicate, "event stored");
        }
    }

    let body = match response_id {
        Some(id) => serde_json::json!({ "id": id }),
        None => serde_json::json!({}),
    };
    Ok((StatusCode::OK, cors_headers(), axum::Json(body)).into_response())
}

fn check_key(config: &CollectorConfig, key: &str) -> Result<(), Rejection> {
    if config.keys.iter().any(|known| known == key) {
        Ok(())
    } else {
        Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            "unknown sentry_key; set the SDK's DSN to the one the collector printed",
        ))
    }
}

fn missing_key() -> Rejection {
    Rejection::new(
        StatusCode::FORBIDDEN,
        "missing authorization: send X-Sentry-Auth or ?sentry_key=, as Sentry SDKs do",
    )
}

/// `X-Sentry-Auth: Sentry sentry_key=..., sentry_version=7, ...`, or the same in `Authorization`.
fn key_from_headers(headers: &HeaderMap) -> Option<&str> {
    [HeaderName::from_static("x-sentry-auth"), header::AUTHORIZATION]
        .iter()
        .filter_map(|name| headers.get(name)?.to_str().ok())
        .find_map(key_from_auth_header)
}

fn key_from_auth_header(value: &str) -> Option<&str> {
    let value = value.trim();
    let scheme = value.get(..6)?;
    if !scheme.eq_ignore_ascii_case("sentry") {
        return None;
    }
    value[6..]
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.trim() == "sentry_key")
        .map(|(_, key)| key.trim())
        .filter(|key| !key.is_empty())
}

fn key_from_query(query: &str) -> Option<&str> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(name, _)| *name == "sentry_key").map(|(_, key)| key)
}

/// The public key of a DSN: `https://<key>[:<secret>]@host/project`.
fn key_from_dsn(dsn: &str) -> Option<&str> {
    let (_, rest) = dsn.split_once("://")?;
    let (user, _) = rest.split_once('@')?;
    user.split(':').next().filter(|key| !key.is_empty())
}

async fn read_body_capped(headers: &HeaderMap, mut body: Body, limit: usize) -> Result<Vec<u8>, Rejection> {
    let too_large = || {
        Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the collector's limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame =
            frame.map_err(|error| Rejection::bad_request(format!("could not read the request body: {error}")))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// Browser SDKs post across origins; they must be able to read rate limits from the answer.
fn cors_headers() -> [(HeaderName, HeaderValue); 2] {
    [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
        (
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-sentry-error, x-sentry-rate-limits, retry-after"),
        ),
    ]
}

/// A request the collector refuses, answered the way Sentry answers it.
#[derive(Debug)]
struct Rejection {
    status: StatusCode,
    detail: String,
    retry_after: Option<Duration>,
}

impl Rejection {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, detail: detail.into(), retry_after: None }
    }

    fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, detail)
    }

    fn rate_limited(retry_after: Duration) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            detail: "event rate limit of this key exceeded; raise rate_limit_per_key or send fewer events".into(),
            retry_after: Some(retry_after),
        }
    }
}

impl From<DecodeError> for Rejection {
    fn from(error: DecodeError) -> Self {
        match error {
            DecodeError::TooLarge { .. } => Self::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string()),
            _ => Self::bad_request(error.to_string()),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        tracing::debug!(status = %self.status, detail = %self.detail, "request rejected");
        // Header values must be visible ASCII; the JSON body carries the exact text.
        let header_text: String =
            self.detail.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).take(512).collect();
        let mut response =
            (self.status, cors_headers(), axum::Json(serde_json::json!({ "detail": self.detail }))).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&header_text) {
            headers.insert(HeaderName::from_static("x-sentry-error"), value);
        }
        if let Some(retry_after) = self.retry_after {
            let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            if let Ok(value) = HeaderValue::from_str(&format!("{seconds}:error;default:key")) {
                headers.insert(HeaderName::from_static("x-sentry-rate-limits"), value);
            }
        }
        response
    }
}

/// A token bucket per key: `per_second` events per second, bursts up to one second's worth.
struct RateLimiter {
    per_second: u32,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

struct TokenBucket {
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimiter {
    fn new(per_second: u32) -> Self {
        Self { per_second, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes `events` tokens of `key`, or says how long until they would be there.
    fn take(&self, key: &str, events: usize) -> Result<(), Duration> {
        if self.per_second == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_second);
        let wanted = (events as f64).min(rate);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(key.to_owned()).or_insert(TokenBucket { tokens: rate, refilled_at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.refilled_at).as_secs_f64() * rate).min(rate);
        bucket.refilled_at = now;
        if bucket.tokens >= wanted {
            bucket.tokens -= wanted;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((wanted - bucket.tokens) / rate))
        }
    }
}

/// Events of one request, and where to say that they are committed.
struct WriteRequest {
    events: Vec<(CrashEvent, DateTime<Utc>)>,
    reply: oneshot::Sender<Result<Vec<InsertOutcome>, String>>,
}

/// The one writer: commits whatever requests queued up as one transaction, then acknowledges them.
fn run_writer(mut store: CrashStore, mut requests: mpsc::Receiver<WriteRequest>, max_batch_events: usize) {
    while let Some(first) = requests.blocking_recv() {
        let mut batch_events = first.events.len();
        let mut batch = vec![first];
        while batch_events < max_batch_events {
            let Ok(next) = requests.try_recv() else { break };
            batch_events += next.events.len();
            batch.push(next);
        }
        let events = batch.iter().flat_map(|request| request.events.iter().map(|(event, at)| (event, *at)));
        match store.insert_events(events) {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for request in batch {
                    let mine = outcomes.by_ref().take(request.events.len()).collect();
                    let _ = request.reply.send(Ok(mine));
                }
            }
            Err(error) => {
                tracing::warn!(%error, requests = batch.len(), "a batch could not be stored; storing its requests one by one");
                // One request at a time, so that one failure does not take its neighbours down.
                for request in batch {
                    let result = store
                        .insert_events(request.events.iter().map(|(event, at)| (event, *at)))
                        .map_err(|error| error.to_string());
                    let _ = request.reply.send(result);
                }
            }
        }
    }
}

/// 32 random hex digits: generated keys and event ids.
pub fn random_hex_id() -> String {
    // `RandomState` is seeded from the operating system's randomness.
    let mut id = String::with_capacity(32);
    for _ in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
        );
        id.push_str(&format!("{:016x}", hasher.finish()));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_every_auth_form() {
        assert_eq!(
            key_from_auth_header("Sentry sentry_key=abc, sentry_version=7, sentry_client=sentry.python/2.0"),
            Some("abc")
        );
        assert_eq!(key_from_auth_header("Sentry sentry_version=7,sentry_key=def"), Some("def"));
        assert_eq!(key_from_auth_header("Bearer sentry_key=abc"), None);
        assert_eq!(key_from_query("sentry_version=7&sentry_key=k1&sentry_client=x"), Some("k1"));
        assert_eq!(
            key_from_dsn("https://e12d836b15bb49d7bbf99e64295d995b:@sentry.io/42"),
            Some("e12d836b15bb49d7bbf99e64295d995b")
        );
        assert_eq!(key_from_dsn("http://k@127.0.0.1:9000/1"), Some("k"));
    }

    #[test]
    fn dsn_names_a_reachable_host() {
        assert_eq!(dsn("k", "0.0.0.0:8790".parse().unwrap_or_else(|_| unreachable!()), 3), "http://k@127.0.0.1:8790/3");
        assert_eq!(dsn("k", "[::1]:9".parse().unwrap_or_else(|_| unreachable!()), 1), "http://k@[::1]:9/1");
    }

    #[test]
    fn rate_limiter_refuses_the_event_after_the_burst() {
        let limiter = RateLimiter::new(2);
        assert!(limiter.take("k", 1).is_ok());
        assert!(limiter.take("k", 1).is_ok());
        let wait = limiter.take("k", 1).err();
        assert!(wait.is_some_and(|wait| wait > Duration::ZERO && wait <= Duration::from_secs(1)));
        assert!(limiter.take("other", 1).is_ok());
    }
}
