//! Workload 8, api-server: the json-api handler behind a real HTTP/1.1 server (hyper 1 on a tokio
//! current-thread runtime, 127.0.0.1 only), and a bounded load run against it from a client
//! thread (hyper's client, keep-alive connections): a fixed number of requests, a time limit,
//! latency percentiles.
//!
//! Allocations are counted on the server thread only (the client runs on another thread):
//! those made inside the handler (decode, encode, the response `Bytes`) and the rest (hyper's
//! connection and request machinery, tokio, collecting the body). Pooled, the response
//! buffer itself is the body hyper writes ([`Chunk::Pooled`]), so the handler allocates
//! nothing in steady state. The measured window is
//! opened and closed by two marker requests (`/_mark/start`, `/_mark/end`) that the client
//! sends after its warm-up and after its last request, so the window is the steady state.

use std::net::{Ipv4Addr, SocketAddr, TcpStream as StdTcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

use super::json_api::{self, handle, handle_into};
use super::{digest, Variant};
use crate::measure::{Counts, Probe, Row};
use crate::pool::{Pool, Pooled};

/// The server's response buffers: a process-wide pool, like a Go package-level `sync.Pool`,
/// so a buffer can travel inside the response body to hyper and come back when hyper has
/// written it.
static RESPONSE_BUFFERS: LazyLock<Pool<Vec<u8>>> =
    LazyLock::new(|| Pool::new(|| Vec::with_capacity(512)));

/// A response body chunk: shared bytes (no pool), or a pooled buffer that returns to
/// `RESPONSE_BUFFERS` when hyper drops it.
pub enum Chunk {
    /// An owned, shared buffer.
    Shared(Bytes),
    /// A pooled buffer and how much of it hyper has consumed.
    Pooled(Pooled<'static, Vec<u8>>, usize),
}

impl Buf for Chunk {
    fn remaining(&self) -> usize {
        match self {
            Chunk::Shared(b) => b.remaining(),
            Chunk::Pooled(v, pos) => v.len() - *pos,
        }
    }
    fn chunk(&self) -> &[u8] {
        match self {
            Chunk::Shared(b) => b.chunk(),
            Chunk::Pooled(v, pos) => &v[*pos..],
        }
    }
    fn advance(&mut self, n: usize) {
        match self {
            Chunk::Shared(b) => b.advance(n),
            Chunk::Pooled(v, pos) => {
                assert!(*pos + n <= v.len(), "advance past the end");
                *pos += n;
            }
        }
    }
}

/// One load run, as the second table shows it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ServerRow {
    /// "no-pool" or "pool" (the handler's variant).
    pub variant: String,
    /// "system" or "pool-alloc".
    pub allocator: String,
    /// Where the server listened (always a 127.0.0.1 port).
    pub addr: String,
    /// Requests answered in the measured window.
    pub requests: u64,
    /// Requests that failed (transport error or status other than 200).
    pub errors: u64,
    /// Whether the time limit stopped the run before all requests were sent.
    pub hit_time_limit: bool,
    /// Measured window, seconds.
    pub seconds: f64,
    /// Throughput.
    pub requests_per_s: f64,
    /// Latency percentiles, microseconds (client side, request sent to body received).
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Allocations per request inside the handler.
    pub handler_allocs_per_req: f64,
    /// Allocations per request on the server thread outside the handler.
    pub server_allocs_per_req: f64,
    /// Whether the server stopped accepting, every connection task ended by itself and the
    /// port was closed afterwards.
    pub clean_shutdown: bool,
}

/// The load run's bounds.
#[derive(Clone, Copy, Debug)]
pub struct LoadConfig {
    /// Measured requests (after `warmup` more).
    pub requests: u64,
    /// Warm-up requests before the window.
    pub warmup: u64,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// The measured phase stops sending after this long, whatever `requests` says (the
    /// warm-up stops after a fifth of it), so a run takes at most 1.2 times this plus the
    /// shutdown's 2 s grace.
    pub time_limit: Duration,
}

impl LoadConfig {
    /// `requests` measured requests, 8 connections, a 10 s limit.
    pub fn new(requests: u64) -> Self {
        LoadConfig {
            requests,
            warmup: (requests / 10).clamp(16, 2_000),
            connections: 8,
            time_limit: Duration::from_secs(10),
        }
    }
}

/// Server-side state shared by the connection tasks (all on the server thread).
struct State {
    variant: Variant,
    probe: Probe,
    requests: Pool<json_api::Request>,
    measuring: AtomicBool,
    handler_allocs: AtomicU64,
    handled: AtomicU64,
    window: Mutex<(Counts, Counts)>,
}

impl State {
    /// Runs the json-api handler and returns the response body; counts its allocations.
    fn handler(&self, body: &[u8]) -> Result<Chunk, serde_json::Error> {
        let before = (self.probe.read)();
        let out = match self.variant {
            Variant::NoPool => Chunk::Shared(Bytes::from(handle(body)?)),
            Variant::Pool => {
                let mut req = self.requests.get();
                let mut buf = RESPONSE_BUFFERS.get();
                handle_into(body, &mut req, &mut buf)?;
                Chunk::Pooled(buf, 0)
            }
        };
        if self.measuring.load(Ordering::Relaxed) {
            let after = (self.probe.read)();
            self.handler_allocs
                .fetch_add(after.allocs - before.allocs, Ordering::Relaxed);
            self.handled.fetch_add(1, Ordering::Relaxed);
        }
        Ok(out)
    }

    fn mark(&self, start: bool) {
        let mut w = self.window.lock().expect("window");
        if start {
            (self.probe.reset_peak)();
            w.0 = (self.probe.read)();
            self.measuring.store(true, Ordering::Relaxed);
        } else {
            self.measuring.store(false, Ordering::Relaxed);
            w.1 = (self.probe.read)();
        }
    }
}

type Reply = Response<Full<Chunk>>;

async fn serve(state: Arc<State>, req: Request<Incoming>) -> Result<Reply, hyper::Error> {
    let reply = |code: StatusCode, body: Chunk| {
        Response::builder()
            .status(code)
            .header("content-type", "application/json")
            .body(Full::new(body))
    };
    let path = req.uri().path();
    if req.method() == Method::POST && path.starts_with("/_mark/") {
        state.mark(path == "/_mark/start");
        return Ok(reply(StatusCode::OK, Chunk::Shared(Bytes::new())).expect("response"));
    }
    if req.method() != Method::POST || path != "/order" {
        return Ok(reply(StatusCode::NOT_FOUND, Chunk::Shared(Bytes::new())).expect("response"));
    }
    let body = req.into_body().collect().await?.to_bytes();
    Ok(match state.handler(&body) {
        Ok(out) => reply(StatusCode::OK, out),
        Err(_) => reply(
            StatusCode::BAD_REQUEST,
            Chunk::Shared(Bytes::from_static(b"{\"error\":\"bad request\"}")),
        ),
    }
    .expect("response"))
}

/// What the server thread hands back after shutdown.
struct ServerOutcome {
    window: (Counts, Counts),
    handler_allocs: u64,
    handled: u64,
    clean: bool,
}

fn server_thread(
    listener: std::net::TcpListener,
    state: Arc<State>,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) -> ServerOutcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let clean = rt.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        let mut conns = tokio::task::JoinSet::new();
        let mut shutdown = shutdown;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let state = state.clone();
                    conns.spawn(async move {
                        let svc = hyper::service::service_fn(move |req| serve(state.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            }
        }
        drop(listener);
        // Connections end when the client closes them; give them a moment, then abort.
        let drained = tokio::time::timeout(Duration::from_secs(2), async {
            while conns.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        conns.abort_all();
        drained
    });
    ServerOutcome {
        window: *state.window.lock().expect("window"),
        handler_allocs: state.handler_allocs.load(Ordering::Relaxed),
        handled: state.handled.load(Ordering::Relaxed),
        clean,
    }
}

/// Client side of the load run: what it measured.
struct LoadOutcome {
    latencies_ns: Vec<u64>,
    errors: u64,
    checksum: u64,
    seconds: f64,
    hit_time_limit: bool,
}

async fn post(sender: &mut Sender, path: &str, body: Bytes) -> Option<Bytes> {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(body))
        .ok()?;
    let resp = sender.send_request(req).await.ok()?;
    if resp.status() != StatusCode::OK {
        return None;
    }
    Some(resp.into_body().collect().await.ok()?.to_bytes())
}

async fn connect(addr: SocketAddr) -> Option<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(sender)
}

/// Runs `n` requests (numbered from `first` up, shared by all connections) on `senders`.
type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// What one phase of the load run measured.
struct Phase {
    senders: Vec<Sender>,
    latencies_ns: Vec<u64>,
    errors: u64,
    checksum: u64,
    hit_time_limit: bool,
}

async fn phase(
    senders: Vec<Sender>,
    bodies: &Arc<Vec<Bytes>>,
    n: u64,
    deadline: Instant,
    record: bool,
) -> Phase {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for mut s in senders {
        let (next, bodies) = (next.clone(), bodies.clone());
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(if record { (n as usize) / 4 + 16 } else { 0 });
            let (mut errors, mut sum, mut late) = (0u64, 0u64, false);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                if Instant::now() >= deadline {
                    late = true;
                    break;
                }
                let t0 = Instant::now();
                match post(&mut s, "/order", bodies[i as usize % bodies.len()].clone()).await {
                    Some(resp) => {
                        if record {
                            lat.push(t0.elapsed().as_nanos() as u64);
                        }
                        sum = sum.wrapping_add(digest(&resp));
                    }
                    None => errors += 1,
                }
            }
            (s, lat, errors, sum, late)
        });
    }
    let mut p = Phase {
        senders: Vec::new(),
        latencies_ns: Vec::new(),
        errors: 0,
        checksum: 0,
        hit_time_limit: false,
    };
    while let Some(r) = tasks.join_next().await {
        let (s, l, e, sum, late) = r.expect("client task");
        p.senders.push(s);
        p.latencies_ns.extend(l);
        p.errors += e;
        p.checksum = p.checksum.wrapping_add(sum);
        p.hit_time_limit |= late;
    }
    p
}

fn client_thread(addr: SocketAddr, cfg: LoadConfig, bodies: Vec<Bytes>) -> LoadOutcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let bodies = Arc::new(bodies);
        let mut senders = Vec::new();
        for _ in 0..cfg.connections.max(1) {
            if let Some(s) = connect(addr).await {
                senders.push(s);
            }
        }
        if senders.is_empty() {
            return LoadOutcome {
                latencies_ns: vec![],
                errors: cfg.requests,
                checksum: 0,
                seconds: 0.0,
                hit_time_limit: false,
            };
        }
        let warm_deadline = Instant::now() + cfg.time_limit / 5;
        let mut senders = phase(senders, &bodies, cfg.warmup, warm_deadline, false)
            .await
            .senders;
        let _ = post(&mut senders[0], "/_mark/start", Bytes::new()).await;
        let t0 = Instant::now();
        let mut p = phase(senders, &bodies, cfg.requests, t0 + cfg.time_limit, true).await;
        let seconds = t0.elapsed().as_secs_f64();
        if let Some(s) = p.senders.first_mut() {
            let _ = post(s, "/_mark/end", Bytes::new()).await;
        }
        drop(p.senders);
        LoadOutcome {
            latencies_ns: p.latencies_ns,
            errors: p.errors,
            checksum: p.checksum,
            seconds,
            hit_time_limit: p.hit_time_limit,
        }
    })
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1_000.0
}

/// Starts the server on 127.0.0.1 (a free port), runs the load, shuts the server down and
/// reports. The [`Row`] has ns/op = wall time per request (inverse throughput) and the server
/// thread's allocations per request; the [`ServerRow`] the latencies and the split.
pub fn run(variant: Variant, cfg: LoadConfig, probe: Probe, allocator: &str) -> (Row, ServerRow) {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    assert!(
        addr.ip().is_loopback(),
        "the load run talks to 127.0.0.1 only"
    );
    let state = Arc::new(State {
        variant,
        probe,
        requests: Pool::with_reset(json_api::Request::default, json_api::Request::reset),
        measuring: AtomicBool::new(false),
        handler_allocs: AtomicU64::new(0),
        handled: AtomicU64::new(0),
        window: Mutex::new((Counts::default(), Counts::default())),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = std::thread::Builder::new()
        .name("api-server".into())
        .spawn(move || server_thread(listener, state, stopped))
        .expect("server thread");
    let bodies: Vec<Bytes> = json_api::request_bodies(64, 7)
        .into_iter()
        .map(Bytes::from)
        .collect();
    let faults0 = crate::os::minor_faults();
    let load = std::thread::Builder::new()
        .name("load".into())
        .spawn(move || client_thread(addr, cfg, bodies))
        .expect("client thread")
        .join()
        .expect("client thread panicked");
    let faults1 = crate::os::minor_faults();
    let _ = stop.send(());
    let out = server.join().expect("server thread panicked");
    let port_closed = StdTcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err();

    let mut lat = load.latencies_ns;
    lat.sort_unstable();
    let requests = lat.len() as u64;
    let (w0, w1) = out.window;
    let total_allocs = w1.allocs.saturating_sub(w0.allocs);
    let per = |n: u64| {
        if requests == 0 {
            0.0
        } else {
            n as f64 / requests as f64
        }
    };
    let handler_per = if out.handled == 0 {
        0.0
    } else {
        out.handler_allocs as f64 / out.handled as f64
    };
    let wall_per_req = if requests == 0 {
        0.0
    } else {
        load.seconds * 1e9 / requests as f64
    };
    let row = Row {
        workload: super::API_SERVER.into(),
        variant: variant.name().into(),
        allocator: allocator.into(),
        ops: requests,
        threads: 1,
        ns_per_op: wall_per_req,
        wall_ns_per_op: wall_per_req,
        allocs_per_op: per(total_allocs),
        bytes_per_op: per(w1.bytes.saturating_sub(w0.bytes)),
        peak_live_bytes: (w1.peak - w0.live).max(0) as u64,
        minor_faults: faults1.saturating_sub(faults0),
        checksum: load.checksum,
    };
    let server_row = ServerRow {
        variant: variant.name().into(),
        allocator: allocator.into(),
        addr: addr.to_string(),
        requests,
        errors: load.errors,
        hit_time_limit: load.hit_time_limit,
        seconds: load.seconds,
        requests_per_s: if load.seconds > 0.0 {
            requests as f64 / load.seconds
        } else {
            0.0
        },
        p50_us: percentile(&lat, 0.50),
        p99_us: percentile(&lat, 0.99),
        p999_us: percentile(&lat, 0.999),
        handler_allocs_per_req: handler_per,
        server_allocs_per_req: (per(total_allocs) - handler_per).max(0.0),
        clean_shutdown: out.clean && port_closed,
    };
    (row, server_row)
}
