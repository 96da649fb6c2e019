//! HTTP plumbing shared by the handlers: problems as responses, `If-Match`,
//! JSON bodies and query parameters. Bodies are read strictly, as the
//! contract says: `Content-Type: application/json` (or another
//! `application/*+json`), read within [`BODY_TIMEOUT`], one JSON
//! object without duplicate keys, and no control characters in any string
//! but line breaks and tabs in a `description`.

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

/// Longest a client may take to send a request body.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A JSON value whose objects have no duplicate keys (serde_json keeps the
/// last silently; a strict oracle refuses them).
struct Unique(Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{}` appears twice in one object",
                    key.escape_debug()
                )));
            }
            let Unique(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// The first string of `v` (keys included) holding a control character,
/// as the field it is in; line breaks and tabs are fine in a `description`.
fn control_character(v: &Value, field: &str) -> Option<String> {
    let bad = |s: &str, field: &str| {
        s.chars()
            .any(|c| c.is_control() && !(field == "description" && matches!(c, '\n' | '\r' | '\t')))
    };
    match v {
        Value::String(s) => bad(s, field).then(|| format!("`{field}`")),
        Value::Array(items) => items.iter().find_map(|i| control_character(i, field)),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if bad(k, "") {
                Some(format!("a key in `{field}`"))
            } else {
                control_character(v, k)
            }
        }),
        _ => None,
    }
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
    if mime != "application/json" && !(mime.starts_with("application/") && mime.ends_with("+json"))
    {
        return Err(ApiError::new(
            415,
            "unsupported-media-type",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let Unique(v) = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_body(format!("the body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::invalid_body("the body must be a JSON object"));
    }
    if let Some(field) = control_character(&v, "body") {
        return Err(ApiError::invalid_body(format!(
            "{field} holds a control character (such as NUL); text fields take printable text only"
        )));
    }
    Ok(v)
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
        // A client that trickles its body holds a connection; it gets
        // BODY_TIMEOUT for all of it.
        tokio::time::timeout(BODY_TIMEOUT, Bytes::from_request(req, state))
            .await
            .map_err(|_| {
                ApiError::new(
                    408,
                    "request-timeout",
                    format!(
                        "the request body did not arrive within {} s",
                        BODY_TIMEOUT.as_secs()
                    ),
                )
            })?
            .map(Body)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        413,
                        "payload-too-large",
                        "the request body is over the limit (1 MiB; 2 MiB for an image)",
                    )
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
