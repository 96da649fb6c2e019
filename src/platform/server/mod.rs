//! `tenet serve`: the platform engine over HTTP (axum). Requests pass through
//! logging, authentication, rate limiting and (when asked for) fault
//! injection before reaching the handlers, which only translate between HTTP
//! and engine calls.

mod handlers;
mod http;
mod middleware;

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
        .layer(axum::middleware::from_fn(middleware::log))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
