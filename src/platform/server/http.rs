//! HTTP plumbing shared by the handlers: problems as responses, `If-Match`,
//! JSON bodies and query parameters.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::platform::ApiError;
use crate::platform::engine::PageRequest;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.problem(None)).unwrap_or_default();
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == 401 {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut r = (status, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// A single object, with its version as the `ETag`.
pub fn object<T: Serialize>(
    status: StatusCode,
    version: u64,
    value: &T,
    location: Option<String>,
) -> Response {
    let mut r = json(status, value);
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        r.headers_mut().insert(header::ETAG, v);
    }
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

/// The version an `If-Match` header asks for: `None` for `*`. A write without
/// the header is refused (428), so no client overwrites blindly.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Err(ApiError::precondition_required());
    };
    let s = v.to_str().unwrap_or("").trim();
    if s == "*" {
        return Ok(None);
    }
    let inner = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    // Versions start at 1: something that is not a version matches nothing.
    Ok(Some(inner.parse::<u64>().unwrap_or(0)))
}

/// The request body as JSON: declared as JSON, and parseable.
pub fn body(headers: &HeaderMap, bytes: &Bytes) -> Result<Value, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" && !mime.ends_with("+json") {
        return Err(ApiError::new(
            415,
            "unsupported-media-type",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_body(format!("the body is not valid JSON: {e}")))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(ApiError::invalid_body("the body must be a JSON object"))
    }
}

/// Reads a typed body strictly (unknown fields refused).
pub fn typed<T: Serialize + serde::de::DeserializeOwned>(v: &Value) -> Result<T, ApiError> {
    crate::wire::strict(v).map_err(|e| ApiError::invalid_body(e.to_string()))
}

/// Percent-encodes one path segment (emails may hold `/`, `?`, `#`).
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A request body, with problems instead of axum's plain-text rejections
/// (a body over the limit is a 413 problem).
pub struct Body(pub Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(413, "payload-too-large", "the request body is over 1 MiB")
                } else {
                    ApiError::invalid_body(e.body_text())
                }
            })
    }
}

/// `?limit=&cursor=`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match &self.limit {
            None => None,
            Some(l) => Some(l.parse::<usize>().map_err(|_| {
                ApiError::new(
                    400,
                    "invalid-limit",
                    format!("limit must be a number between 1 and 1000, not `{l}`"),
                )
            })?),
        };
        PageRequest::new(limit, self.cursor.clone())
    }
}
