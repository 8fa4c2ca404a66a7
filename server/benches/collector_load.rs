//! Load test of the collector: N concurrent SDK-like clients post brotli-compressed envelopes with
//! a real-shaped sentry-python event over loopback for a while; prints the sustained event rate,
//! latency percentiles, and whether the store holds exactly the events that were acknowledged.
//!
//!     cargo bench -p crashloom --bench collector_load
//!
//! `COLLECTOR_LOAD_SECONDS` (default 10), `COLLECTOR_LOAD_CONNECTIONS` (default 32) and
//! `COLLECTOR_LOAD_ENVELOPES` (default 80,000: the run ends early when they are all sent) adjust it.

#![allow(clippy::print_stdout, reason = "a bench reports on stdout")]

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crashloom::crash::sentry::parse_event;
use crashloom::source::collector::{Collector, CollectorConfig};
use crashloom::source::store::CrashStore;
use serde_json::{Value, json};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const KEY: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
const PROJECT: u64 = 1;
/// Distinct crash groups the clients spread their events over.
const GROUPS: usize = 20;

fn main() -> BenchResult<()> {
    let seconds: u64 = env_or("COLLECTOR_LOAD_SECONDS", 10);
    let connections: usize = env_or("COLLECTOR_LOAD_CONNECTIONS", 32);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let envelopes: usize = env_or("COLLECTOR_LOAD_ENVELOPES", 80_000);
    runtime.block_on(run(Duration::from_secs(seconds), connections, envelopes))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

async fn run(duration: Duration, connections: usize, envelope_count: usize) -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let store_path = dir.path().join("inbox.sqlite");

    let store_rate = measure_store_alone(&dir.path().join("store-alone.sqlite"))?;
    let templates = EnvelopeTemplates::new();
    let client_cost = measure_client_cost(&templates);
    // Compressing costs the load generator as much CPU as the collector spends on an event, on
    // the same cores; the envelopes are therefore compressed before the clock starts.
    let envelopes = prepare_envelopes(&templates, envelope_count);

    let config = CollectorConfig {
        listen: "127.0.0.1:0".parse()?,
        keys: vec![KEY.to_owned()],
        project_id: PROJECT,
        rate_limit_per_key: 0,
        ..CollectorConfig::default()
    };
    let collector = Collector::bind(config, &store_path).await?;
    let url = format!("http://{}/api/{PROJECT}/envelope/", collector.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(collector.run(async move {
        let _ = stopped.await;
    }));

    let started = Instant::now();
    let deadline = started + duration;
    let envelopes = std::sync::Arc::new(Mutex::new(envelopes));
    let clients: Vec<_> =
        (0..connections).map(|_| tokio::spawn(run_client(url.clone(), deadline, envelopes.clone()))).collect();
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    for client in clients {
        let report = client.await??;
        latencies.extend(report.latencies);
        failures += report.failures;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    server.await??;

    let acknowledged = latencies.len() as u64;
    let stored = CrashStore::open(&store_path)?.total_event_count()?;
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies.get(index).copied().unwrap_or_default()
    };

    println!(
        "collector_load: {connections} connections, {:.1} s, brotli envelopes (~2.5 KB events)",
        elapsed.as_secs_f64()
    );
    println!(
        "  acknowledged events: {acknowledged} ({:.0} events/s sustained)",
        acknowledged as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        millis(percentile(0.50)),
        millis(percentile(0.99)),
        millis(latencies.last().copied().unwrap_or_default())
    );
    println!("  failed requests: {failures}");
    println!(
        "  for comparison on this machine: the store alone takes {store_rate:.0} events/s (batches of {STORE_BATCH}); \
         compressing one envelope (done before the run) costs {:.0} us",
        client_cost.as_secs_f64() * 1e6
    );
    println!("  stored events: {stored} ({})", if stored == acknowledged { "== acknowledged" } else { "MISMATCH" });
    if stored != acknowledged {
        return Err(format!("the store holds {stored} events but {acknowledged} were acknowledged").into());
    }
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

struct ClientReport {
    latencies: Vec<Duration>,
    failures: u64,
}

/// One SDK: posts one envelope at a time on its own keep-alive connection, as SDK transports do.
async fn run_client(url: String, deadline: Instant, envelopes: Arc<Mutex<Vec<Vec<u8>>>>) -> BenchResult<ClientReport> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
    let auth = format!("Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.19.0");
    let mut report = ClientReport { latencies: Vec::new(), failures: 0 };
    while Instant::now() < deadline {
        let Some(body) = envelopes.lock().unwrap_or_else(PoisonError::into_inner).pop() else { break };
        let sent = Instant::now();
        let response = http
            .post(&url)
            .header("X-Sentry-Auth", &auth)
            .header("Content-Type", "application/x-sentry-envelope")
            .header("Content-Encoding", "br")
            .body(body)
            .send()
            .await;
        match response {
            Ok(response) if response.status().is_success() => {
                let _ = response.bytes().await;
                report.latencies.push(sent.elapsed());
            }
            _ => report.failures += 1,
        }
    }
    Ok(report)
}

const STORE_BATCH: usize = 100;

/// Inserts events straight into a store, without HTTP: the ceiling the writer thread works under.
fn measure_store_alone(path: &std::path::Path) -> BenchResult<f64> {
    let mut store = CrashStore::open(path)?;
    let events = (0..20_000u64)
        .map(|n| parse_event(&python_event(&format!("{n:032x}"), n as usize % GROUPS)))
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    for batch in events.chunks(STORE_BATCH) {
        store.insert_events(batch.iter().map(|event| (event, chrono::Utc::now())))?;
    }
    Ok(events.len() as f64 / started.elapsed().as_secs_f64())
}

fn prepare_envelopes(templates: &EnvelopeTemplates, count: usize) -> Vec<Vec<u8>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    (thread..count)
                        .step_by(threads)
                        .map(|n| brotli(&templates.envelope(&format!("{n:032x}"), n)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|part| part.join().unwrap_or_default()).collect()
    })
}

fn measure_client_cost(templates: &EnvelopeTemplates) -> Duration {
    let started = Instant::now();
    for n in 0..1000 {
        std::hint::black_box(brotli(&templates.envelope(&format!("{:032x}", usize::MAX - n), n)));
    }
    started.elapsed() / 1000
}

/// Envelopes with a real-shaped event per group, serialized once; each request only swaps its id in.
struct EnvelopeTemplates {
    by_group: Vec<(Vec<u8>, Vec<usize>)>,
}

const ID_PLACEHOLDER: &str = "ffffffffffffffffffffffffffffffff";

impl EnvelopeTemplates {
    fn new() -> Self {
        let by_group = (0..GROUPS)
            .map(|group| {
                let payload = serde_json::to_vec(&python_event(ID_PLACEHOLDER, group)).unwrap_or_default();
                let mut body = format!(
                    "{{\"event_id\":\"{ID_PLACEHOLDER}\",\"sent_at\":\"2026-03-01T12:00:00.000000Z\"}}\n{{\"type\":\"event\",\"content_type\":\"application/json\",\"length\":{}}}\n",
                    payload.len()
                )
                .into_bytes();
                body.extend(payload);
                body.push(b'\n');
                let id_offsets = body
                    .windows(ID_PLACEHOLDER.len())
                    .enumerate()
                    .filter(|(_, window)| *window == ID_PLACEHOLDER.as_bytes())
                    .map(|(offset, _)| offset)
                    .collect();
                (body, id_offsets)
            })
            .collect();
        Self { by_group }
    }

    fn envelope(&self, event_id: &str, n: usize) -> Vec<u8> {
        let (template, id_offsets) = &self.by_group[n % GROUPS];
        let mut body = template.clone();
        for offset in id_offsets {
            body[*offset..*offset + event_id.len()].copy_from_slice(event_id.as_bytes());
        }
        body
    }
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        // sentry-python compresses with brotli quality 4.
        let mut encoder = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
        let _ = encoder.write_all(bytes);
    }
    out
}

/// The event sentry-python sends for an uncaught exception in a web handler, about 2.5 KB.
fn python_event(event_id: &str, group: usize) -> Value {
    json!({
        "event_id": event_id,
        "timestamp": "2026-03-01T12:00:00.123456Z",
        "platform": "python",
        "level": "error",
        "logger": "django.request",
        "release": "shop@1.4.2",
        "environment": "production",
        "server_name": "web-3",
        "transaction": "/orders/{id}/total",
        "sdk": {"name": "sentry.python.django", "version": "2.19.0",
                "packages": [{"name": "pypi:sentry-sdk", "version": "2.19.0"}],
                "integrations": ["django", "logging", "stdlib", "threading"]},
        "exception": {"values": [{
            "type": format!("OrderError{group}"),
            "value": "order 1842 has no price for 'sku-42'",
            "module": "shop.errors",
            "mechanism": {"type": "django", "handled": false},
            "stacktrace": {"frames": [
                {"filename": "django/core/handlers/exception.py",
                 "abs_path": "/usr/local/lib/python3.12/site-packages/django/core/handlers/exception.py",
                 "function": "inner", "module": "django.core.handlers.exception", "lineno": 55,
                 "pre_context": ["    @wraps(get_response)", "    def inner(request):", "        try:"],
                 "context_line": "            response = get_response(request)",
                 "post_context": ["        except Exception as exc:", "            response = response_for_exception(request, exc)"],
                 "in_app": false},
                {"filename": "shop/views.py", "abs_path": "/srv/shop/shop/views.py", "function": "order_total",
                 "module": "shop.views", "lineno": 31,
                 "pre_context": ["def order_total(request, order_id):", "    order = Order.objects.get(pk=order_id)"],
                 "context_line": "    return JsonResponse({'total': total(order)})",
                 "post_context": ["", ""], "in_app": true,
                 "vars": {"request": "<WSGIRequest: GET '/orders/1842/total'>", "order_id": "1842"}},
                {"filename": "shop/orders.py", "abs_path": "/srv/shop/shop/orders.py", "function": format!("total_{group}"),
                 "module": "shop.orders", "lineno": 7,
                 "pre_context": ["def total(order):", "    price = 0", "    for sku in order.items:"],
                 "context_line": "        price += PRICES[sku]",
                 "post_context": ["    return price"], "in_app": true,
                 "vars": {"order": "<Order 1842>", "price": "0", "sku": "'sku-42'"}}
            ]}
        }]},
        "breadcrumbs": {"values": [
            {"timestamp": "2026-03-01T12:00:00.100000Z", "type": "default", "category": "query",
             "message": "SELECT \"shop_order\".\"id\" FROM \"shop_order\" WHERE \"shop_order\".\"id\" = 1842", "level": "info"}
        ]},
        "request": {"url": "https://shop.example.com/orders/1842/total", "method": "GET",
                    "headers": {"User-Agent": "curl/8.5.0", "Accept": "*/*"}, "env": {"SERVER_NAME": "web-3", "SERVER_PORT": "8000"}},
        "contexts": {"runtime": {"name": "CPython", "version": "3.12.3"},
                     "trace": {"trace_id": "4c79f60c11214eb38604f4ae0781bfb2", "span_id": "fa90fdead5f74052", "op": "http.server"}},
        "modules": {"django": "5.0.6", "sentry-sdk": "2.19.0", "psycopg": "3.1.19"},
        "extra": {"sys.argv": ["manage.py", "runserver"]}
    })
}
