//! `tenet serve`: the platform engine over HTTP (axum). Requests pass through
//! logging, authentication, rate limiting and (when asked for) fault
//! injection before reaching the handlers, which only translate between HTTP
//! and engine calls. Under the router, `transport` holds each connection to
//! the contract's limits: head and body read timeouts, bounded sizes, and
//! problems for the answers hyper makes itself.

mod handlers;
mod http;
mod middleware;
mod transport;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::DefaultBodyLimit;

use super::engine::Engine;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Reliability testing knobs; all off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Share of requests answered 500/503 (some writes after committing).
    pub fail_rate: f64,
    /// Added to every request.
    pub latency_ms: u64,
    /// Requests per second per token; `None` is unlimited.
    pub rate_limit: Option<f64>,
    /// Seed of the fault sequence.
    pub seed: u64,
}

/// Shared state of a running server.
pub struct AppState {
    pub engine: Engine,
    pub faults: Faults,
    rng: Mutex<fastrand::Rng>,
    buckets: Mutex<std::collections::HashMap<String, middleware::Bucket>>,
}

impl AppState {
    pub fn new(engine: Engine, faults: Faults) -> Arc<AppState> {
        let rng = Mutex::new(fastrand::Rng::with_seed(faults.seed));
        Arc::new(AppState {
            engine,
            faults,
            rng,
            buckets: Mutex::new(Default::default()),
        })
    }
}

/// The full router: `/healthz` and the `/v1` API.
pub fn router(state: Arc<AppState>) -> Router {
    let api = handlers::routes()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::rate_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::authenticate,
        ));
    Router::new()
        .route("/healthz", axum::routing::get(handlers::healthz))
        .merge(api)
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(middleware::uri_limit))
        .layer(axum::middleware::from_fn(middleware::log))
        .with_state(state)
}

/// Longest the server waits, on shutdown, for requests in flight.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves until `shutdown` resolves, then finishes requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;

    let app = router(state);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(transport::HEADER_TIMEOUT)
        .max_buf_size(transport::MAX_HEAD_BYTES)
        .max_headers(transport::MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(transport::MAX_HEAD_BYTES as u32);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer): (_, SocketAddr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, go on.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = hyper_util::service::TowerToHyperService::new(app.clone());
                let io = TokioIo::new(transport::Guard::new(stream));
                let conn = builder.serve_connection_with_upgrades(io, service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // A client gone or too slow ends its connection only.
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
    Ok(())
}
