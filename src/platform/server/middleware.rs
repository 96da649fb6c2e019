//! What every request passes through: a log line, authentication and scope,
//! rate limiting per token, and (for reliability tests) latency and injected
//! faults, some of them after the write committed (a lost response).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::platform::ApiError;
use crate::platform::engine::{Actor, Scope};

/// The authenticated caller, for the log line.
#[derive(Clone)]
struct Caller(String);

/// One structured line per request on stderr: never a body, and of the
/// headers only the precondition (`If-Match`, a version), so a client's
/// use of preconditions can be checked from the log.
pub async fn log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let if_match = req
        .headers()
        .get(header::IF_MATCH)
        .map_or("-".to_owned(), |v| {
            v.to_str()
                .map_or("(not text)".to_owned(), |v| v.chars().take(40).collect())
        });
    let response = next.run(req).await;
    let actor = response
        .extensions()
        .get::<Caller>()
        .map_or("-", |c| c.0.as_str())
        .to_owned();
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        if_match = %if_match,
        actor = %actor,
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// A request URI over the contract's bound is a 414 problem.
pub async fn uri_limit(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > super::transport::MAX_URI_BYTES {
        return ApiError::new(
            414,
            "uri-too-long",
            format!(
                "the request URI is {len} bytes, over the limit of {} KiB",
                super::transport::MAX_URI_BYTES / 1024
            ),
        )
        .into_response();
    }
    next.run(req).await
}

/// Bearer token -> actor; read tokens may only read.
pub async fn authenticate(
    State(s): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let Some(token) = token else {
        return ApiError::new(
            401,
            "unauthorized",
            "send a token: Authorization: Bearer <token>",
        )
        .into_response();
    };
    let info = match s.engine.verify_token(&token) {
        Ok(Some(info)) => info,
        Ok(None) => {
            return ApiError::new(401, "unauthorized", "this token is not valid here")
                .into_response();
        }
        Err(e) => return e.into_response(),
    };
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    let caller = Caller(info.name.clone());
    if info.scope == Scope::Read && !reading {
        let mut r = ApiError::new(
            403,
            "forbidden",
            format!(
                "token `{}` has read scope; this request needs a write token",
                info.name
            ),
        )
        .into_response();
        r.extensions_mut().insert(caller);
        return r;
    }
    req.extensions_mut().insert(Actor::api(info.name.clone()));
    req.extensions_mut().insert(info.name.clone());
    let mut r = next.run(req).await;
    r.extensions_mut().insert(caller);
    r
}

/// A token bucket per token: `rate` requests a second, bursts up to `rate`.
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

pub async fn rate_limit(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(rate) = s.faults.rate_limit.filter(|r| *r > 0.0) else {
        return next.run(req).await;
    };
    let who = req
        .extensions()
        .get::<String>()
        .cloned()
        .unwrap_or_default();
    let wait = {
        let mut buckets = s
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let b = buckets.entry(who).or_insert(Bucket {
            tokens: rate.max(1.0),
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(rate.max(1.0));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            Some(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    };
    match wait {
        None => next.run(req).await,
        Some(secs) => {
            let mut r = ApiError::new(
                429,
                "rate-limited",
                format!("too many requests for this token; retry in {secs}s"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

/// Latency and injected failures, drawn from the seeded sequence.
pub async fn faults(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if s.faults.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(s.faults.latency_ms)).await;
    }
    if s.faults.fail_rate <= 0.0 {
        return next.run(req).await;
    }
    let (fail, after_commit, status) = {
        let mut rng = s
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (
            rng.f64() < s.faults.fail_rate,
            rng.bool(),
            if rng.bool() { 500 } else { 503 },
        )
    };
    if !fail {
        return next.run(req).await;
    }
    let injected = |status: u16| {
        let (code, detail) = if status == 503 {
            (
                "unavailable",
                "the platform is temporarily unavailable (injected fault); retry",
            )
        } else {
            ("internal", "internal error (injected fault); retry")
        };
        ApiError::new(status, code, detail).into_response()
    };
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
    if writes && after_commit {
        // The change happens; its answer is lost.
        let _ = next.run(req).await;
    }
    injected(status)
}
