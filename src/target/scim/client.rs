//! A small SCIM 2.0 protocol client (RFC 7643 resources, RFC 7644 protocol)
//! over reqwest (rustls), for reconciling Users and Groups against an
//! identity endpoint such as scim2-server or an IdP's provisioning API. It
//! knows nothing about tenet: it speaks SCIM and returns plain structs, and
//! maps every failure to a [`ScimError`] whose [`ScimErrorKind`] says what the
//! caller may do about it (retry later, re-read and retry, give up). Reads
//! page by index (`startIndex`/`count`) and follow `totalResults`, because
//! servers cap pages below what was asked; writes are sent once, optionally
//! conditioned on `If-Match`, and hand back the resource's new version
//! (`ETag` or `meta.version`) when the server gives one. The bearer token is
//! kept out of every error message and out of `Debug` output.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

/// Items asked for per page; also scim2-server's `filter.maxResults`.
pub const PAGE_SIZE: u64 = 1000;

/// Pages fetched for one listing before giving up (a server looping on us).
const MAX_PAGES: u64 = 100_000;

/// Largest response body accepted, in bytes.
const MAX_BODY: usize = 64 * 1024 * 1024;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SCIM_JSON: &str = "application/scim+json";

/// What went wrong, as far as the caller's next move is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimErrorKind {
    /// 404: the resource (or endpoint) does not exist.
    NotFound,
    /// 409: typically `scimType: uniqueness` (userName is unique regardless
    /// of case on most servers).
    Conflict,
    /// 412: `If-Match` named a version that is no longer current.
    PreconditionFailed,
    /// 429, with the `Retry-After` delay when the server gave one in seconds.
    RateLimited { retry_after: Option<Duration> },
    /// 401: the token is missing, wrong or expired.
    Unauthorized,
    /// 403: the token is valid but not allowed to do this.
    Forbidden,
    /// The endpoint could not be reached or answered badly: transport
    /// errors, timeouts, 5xx, and bodies that are not the SCIM JSON expected.
    Unavailable,
    /// Any other refusal (400, 413, unexpected statuses) and client-side
    /// misuse (an unusable base URL, token or `If-Match` value). The message
    /// is the SCIM Error `detail`, with its `scimType` when present.
    Rejected,
}

impl fmt::Display for ScimErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScimErrorKind::NotFound => f.write_str("not found"),
            ScimErrorKind::Conflict => f.write_str("conflict"),
            ScimErrorKind::PreconditionFailed => f.write_str("precondition failed"),
            ScimErrorKind::RateLimited {
                retry_after: Some(d),
            } => write!(f, "rate limited (retry after {} s)", d.as_secs()),
            ScimErrorKind::RateLimited { retry_after: None } => f.write_str("rate limited"),
            ScimErrorKind::Unauthorized => f.write_str("unauthorized"),
            ScimErrorKind::Forbidden => f.write_str("forbidden"),
            ScimErrorKind::Unavailable => f.write_str("unavailable"),
            ScimErrorKind::Rejected => f.write_str("rejected"),
        }
    }
}

/// A failed SCIM call. `message` never contains the bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub kind: ScimErrorKind,
    pub message: String,
}

impl ScimError {
    pub fn new(kind: ScimErrorKind, message: impl Into<String>) -> ScimError {
        ScimError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SCIM {}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ScimError {}

/// One entry of `User.emails`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimEmail {
    pub value: String,
    pub primary: bool,
    /// The SCIM `type` (`work`, `home`, ...).
    pub kind: Option<String>,
}

/// A User as read back from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUser {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    /// `true` when the server leaves `active` out.
    pub active: bool,
    pub emails: Vec<ScimEmail>,
    /// `meta.version` (or the `ETag` of a write), e.g. `W/"3"`.
    pub version: Option<String>,
}

/// A Group as read back from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// The members' `value`s (resource ids), in server order. Ids of deleted
    /// users may linger here: servers need not keep referential integrity.
    pub members: Vec<String>,
    /// `meta.version` (or the `ETag` of a write), e.g. `W/"3"`.
    pub version: Option<String>,
}

/// The parts of `/ServiceProviderConfig` a reconciler cares about. Note
/// that servers may serve this document without checking the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderConfig {
    pub patch: bool,
    pub etag: bool,
    pub filter: bool,
    /// `filter.maxResults`: the most items one page will hold.
    pub max_results: Option<u64>,
}

/// The desired state of a User, for [`ScimClient::create_user`] and
/// [`ScimClient::replace_user`]. `email` becomes the primary `work` email;
/// the caller normalises case (servers store what they are sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub email: Option<String>,
}

/// `attr eq "value"`, with `value` written as the JSON string RFC 7644
/// requires (`"` and `\` escaped, control characters as `\uXXXX`). `attr` is
/// taken as given: it is an attribute path chosen by the caller, not data.
pub fn eq_filter(attr: &str, value: &str) -> String {
    format!("{attr} eq {}", json_string(value))
}

/// `value` as a quoted JSON string literal.
fn json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A SCIM endpoint: the base URL (ending in `/v2` or wherever the resource
/// types live) and an optional bearer token.
pub struct ScimClient {
    base: Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A successful answer: its `ETag` and its body (empty on 204).
struct Answer {
    etag: Option<String>,
    body: Vec<u8>,
}

impl ScimClient {
    /// A client for `base_url` (`http://127.0.0.1:PORT/v2`; a trailing slash
    /// is fine). Nothing is sent until the first call.
    pub fn new(base_url: &str, token: Option<String>) -> Result<ScimClient, ScimError> {
        let mut base = Url::parse(base_url.trim()).map_err(|e| {
            ScimError::new(
                ScimErrorKind::Rejected,
                format!("invalid SCIM base URL {base_url:?}: {e}"),
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ScimError::new(
                ScimErrorKind::Rejected,
                format!("invalid SCIM base URL {base_url:?}: expected http:// or https://"),
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            // Credentials in the URL would end up in error messages.
            return Err(ScimError::new(
                ScimErrorKind::Rejected,
                "invalid SCIM base URL: credentials belong in the token, not the URL",
            ));
        }
        base.set_query(None);
        base.set_fragment(None);
        if let Ok(mut segments) = base.path_segments_mut() {
            segments.pop_if_empty();
        }

        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/scim+json, application/json"),
        );
        if let Some(t) = &token {
            let mut v = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                ScimError::new(
                    ScimErrorKind::Rejected,
                    "the SCIM token is not a valid HTTP header value",
                )
            })?;
            v.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, v);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("tenet-scim/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            // A redirect is a misconfigured base URL; do not carry the token along.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                ScimError::new(
                    ScimErrorKind::Unavailable,
                    format!("cannot build the HTTP client: {}", chain(&e)),
                )
            })?;
        Ok(ScimClient { base, http, token })
    }

    /// Discovery: what the server says it supports.
    pub async fn service_provider_config(&self) -> Result<ServiceProviderConfig, ScimError> {
        let answer = self
            .send(Method::GET, &["ServiceProviderConfig"], &[], None, None)
            .await?;
        let raw: RawSpc = decode(&answer.body, "ServiceProviderConfig")?;
        Ok(raw.into())
    }

    /// Every User, following pages.
    pub async fn list_users(&self) -> Result<Vec<ScimUser>, ScimError> {
        self.list("Users", None, parse_user).await
    }

    /// Every Group, following pages.
    pub async fn list_groups(&self) -> Result<Vec<ScimGroup>, ScimError> {
        self.list("Groups", None, parse_group).await
    }

    /// The Users matching a SCIM filter (see [`eq_filter`]), following pages.
    pub async fn find_users(&self, filter: &str) -> Result<Vec<ScimUser>, ScimError> {
        self.list("Users", Some(filter), parse_user).await
    }

    /// The Groups matching a SCIM filter (see [`eq_filter`]), following pages.
    pub async fn find_groups(&self, filter: &str) -> Result<Vec<ScimGroup>, ScimError> {
        self.list("Groups", Some(filter), parse_group).await
    }

    /// One User, or `None` when the server says 404.
    pub async fn get_user(&self, id: &str) -> Result<Option<ScimUser>, ScimError> {
        self.get_one("Users", "User", id, parse_user).await
    }

    /// One Group, or `None` when the server says 404.
    pub async fn get_group(&self, id: &str) -> Result<Option<ScimGroup>, ScimError> {
        self.get_one("Groups", "Group", id, parse_group).await
    }

    async fn get_one<T: Versioned>(
        &self,
        resource: &str,
        what: &str,
        id: &str,
        parse: fn(Value) -> Result<T, ScimError>,
    ) -> Result<Option<T>, ScimError> {
        match self
            .send(Method::GET, &[resource, id], &[], None, None)
            .await
        {
            Ok(a) => Ok(Some(with_etag(parse(decode(&a.body, what)?)?, a.etag))),
            Err(e) if e.kind == ScimErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /Users`; the created User as the server stored it.
    pub async fn create_user(&self, user: &NewUser) -> Result<ScimUser, ScimError> {
        let a = self
            .send(Method::POST, &["Users"], &[], Some(&user_body(user)), None)
            .await?;
        Ok(with_etag(parse_user(decode(&a.body, "User")?)?, a.etag))
    }

    /// `PUT /Users/{id}`: replaces the whole User (attributes left `None` in
    /// `user` are cleared).
    pub async fn replace_user(
        &self,
        id: &str,
        user: &NewUser,
        if_match: Option<&str>,
    ) -> Result<ScimUser, ScimError> {
        let a = self
            .send(
                Method::PUT,
                &["Users", id],
                &[],
                Some(&user_body(user)),
                if_match,
            )
            .await?;
        Ok(with_etag(parse_user(decode(&a.body, "User")?)?, a.etag))
    }

    /// `DELETE /Users/{id}`. Servers may leave the id in groups' members.
    pub async fn delete_user(&self, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        self.send(Method::DELETE, &["Users", id], &[], None, if_match)
            .await
            .map(drop)
    }

    /// `POST /Groups` with the given member ids.
    pub async fn create_group(
        &self,
        display_name: &str,
        external_id: Option<&str>,
        members: &[String],
    ) -> Result<ScimGroup, ScimError> {
        let mut body = json!({
            "schemas": [GROUP_SCHEMA],
            "displayName": display_name,
            "members": members.iter().map(|m| json!({ "value": m })).collect::<Vec<_>>(),
        });
        if let (Some(x), Some(obj)) = (external_id, body.as_object_mut()) {
            obj.insert("externalId".into(), Value::from(x));
        }
        let a = self
            .send(Method::POST, &["Groups"], &[], Some(&body), None)
            .await?;
        Ok(with_etag(parse_group(decode(&a.body, "Group")?)?, a.etag))
    }

    /// One `PATCH /Groups/{id}`: an `add` of every id in `add`, then one
    /// `remove` per id in `remove`. Sends nothing (and returns `None`) when
    /// both are empty. Returns the new version when the server gives one.
    pub async fn patch_members(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
        if_match: Option<&str>,
    ) -> Result<Option<String>, ScimError> {
        if add.is_empty() && remove.is_empty() {
            return Ok(None);
        }
        let body = json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": member_operations(add, remove),
        });
        self.patch_group(id, &body, if_match).await
    }

    /// `PATCH /Groups/{id}` replacing `displayName`. Returns the new version
    /// when the server gives one.
    pub async fn replace_group_name(
        &self,
        id: &str,
        display_name: &str,
        if_match: Option<&str>,
    ) -> Result<Option<String>, ScimError> {
        let body = json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{ "op": "replace", "path": "displayName", "value": display_name }],
        });
        self.patch_group(id, &body, if_match).await
    }

    /// One `PATCH /Users/{id}` with the given operations (`{"op":
    /// "replace", "path": "active", "value": false}` ...). Returns the new
    /// version when the server gives one.
    pub async fn patch_user(
        &self,
        id: &str,
        operations: &[Value],
        if_match: Option<&str>,
    ) -> Result<Option<String>, ScimError> {
        let body = json!({ "schemas": [PATCH_SCHEMA], "Operations": operations });
        let a = self
            .send(Method::PATCH, &["Users", id], &[], Some(&body), if_match)
            .await?;
        if a.etag.is_some() || a.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(a.etag);
        }
        let raw: Value = decode(&a.body, "User")?;
        Ok(raw
            .pointer("/meta/version")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// One `PATCH /Groups/{id}` with the given operations.
    pub async fn patch_group_with(
        &self,
        id: &str,
        operations: &[Value],
        if_match: Option<&str>,
    ) -> Result<Option<String>, ScimError> {
        let body = json!({ "schemas": [PATCH_SCHEMA], "Operations": operations });
        self.patch_group(id, &body, if_match).await
    }

    /// `DELETE /Groups/{id}`.
    pub async fn delete_group(&self, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
        self.send(Method::DELETE, &["Groups", id], &[], None, if_match)
            .await
            .map(drop)
    }

    async fn patch_group(
        &self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Option<String>, ScimError> {
        let a = self
            .send(Method::PATCH, &["Groups", id], &[], Some(body), if_match)
            .await?;
        if a.etag.is_some() || a.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(a.etag);
        }
        // 200 with the resource and no ETag header: take `meta.version`.
        let raw: Value = decode(&a.body, "Group")?;
        Ok(raw
            .pointer("/meta/version")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// Pages through `GET /{resource}` by index. Follows `totalResults` when
    /// the server gives it (pages may be shorter than asked), stops on an
    /// empty page, on a short page when there is no total, and with an error
    /// when a full page brings nothing new (a server ignoring `startIndex`).
    async fn list<T: Keyed>(
        &self,
        resource: &str,
        filter: Option<&str>,
        parse: fn(Value) -> Result<T, ScimError>,
    ) -> Result<Vec<T>, ScimError> {
        let mut out: Vec<T> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut start: u64 = 1;
        let count = PAGE_SIZE.to_string();
        for _ in 0..MAX_PAGES {
            let start_s = start.to_string();
            let mut query = vec![("startIndex", start_s.as_str()), ("count", count.as_str())];
            if let Some(f) = filter {
                query.push(("filter", f));
            }
            let a = self
                .send(Method::GET, &[resource], &query, None, None)
                .await?;
            let page = parse_list(&a.body)?;
            let n = page.resources.len() as u64;
            let mut fresh = 0;
            for raw in page.resources {
                let item = parse(raw)?;
                if seen.insert(item.key().to_owned()) {
                    out.push(item);
                    fresh += 1;
                }
            }
            if n == 0 {
                break;
            }
            if fresh == 0 {
                return Err(ScimError::new(
                    ScimErrorKind::Unavailable,
                    format!(
                        "GET {resource} at startIndex={start} returned only items already seen; \
                         the server does not page by startIndex"
                    ),
                ));
            }
            start += n;
            match page.total_results {
                Some(total) if start > total => break,
                Some(_) => {}
                None if n < PAGE_SIZE => break,
                None => {}
            }
        }
        Ok(out)
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request and maps any non-2xx answer to a [`ScimError`].
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Answer, ScimError> {
        let what = format!("{method} {}", segments.join("/"));
        let mut req = self.http.request(method, self.url(segments, query));
        if let Some(v) = if_match {
            let v = HeaderValue::from_str(v).map_err(|_| {
                ScimError::new(
                    ScimErrorKind::Rejected,
                    format!("{what}: the If-Match value {v:?} is not a valid header value"),
                )
            })?;
            req = req.header(header::IF_MATCH, v);
        }
        if let Some(b) = body {
            let bytes = serde_json::to_vec(b).map_err(|e| {
                ScimError::new(
                    ScimErrorKind::Rejected,
                    format!("{what}: cannot encode the body: {e}"),
                )
            })?;
            req = req
                .header(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))
                .body(bytes);
        }
        let mut resp = req.send().await.map_err(|e| self.transport(&what, &e))?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = retry_after(resp.headers());
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(&what, &e))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(ScimError::new(
                    ScimErrorKind::Unavailable,
                    format!("{what}: the answer is larger than {MAX_BODY} bytes"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok(Answer { etag, body: bytes });
        }
        let mut err = status_error(status, retry_after, &bytes, &what);
        if let Some(t) = self.token.as_deref().filter(|t| !t.is_empty()) {
            // A server echoing the request back must not leak the token.
            err.message = err.message.replace(t, "<redacted>");
        }
        Err(err)
    }

    fn transport(&self, what: &str, e: &reqwest::Error) -> ScimError {
        let mut message = format!("{what}: {}", chain(e));
        if let Some(t) = self.token.as_deref().filter(|t| !t.is_empty()) {
            message = message.replace(t, "<redacted>");
        }
        ScimError::new(ScimErrorKind::Unavailable, message)
    }
}

/// An error and its sources, joined with `: `.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// `Retry-After` in delta-seconds (the HTTP-date form is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Maps a non-2xx status and its (SCIM Error) body to a [`ScimError`].
fn status_error(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    what: &str,
) -> ScimError {
    let kind = match status.as_u16() {
        401 => ScimErrorKind::Unauthorized,
        403 => ScimErrorKind::Forbidden,
        404 => ScimErrorKind::NotFound,
        409 => ScimErrorKind::Conflict,
        412 => ScimErrorKind::PreconditionFailed,
        429 => ScimErrorKind::RateLimited { retry_after },
        500..=599 => ScimErrorKind::Unavailable,
        _ => ScimErrorKind::Rejected,
    };
    let scim: Option<RawError> = serde_json::from_slice(body).ok();
    let detail = scim
        .as_ref()
        .and_then(|e| e.detail.as_deref())
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let scim_type = scim
        .as_ref()
        .and_then(|e| e.scim_type.as_deref())
        .filter(|t| !t.is_empty());
    let message = match (detail, scim_type) {
        (Some(d), Some(t)) => format!("{d} (scimType {t})"),
        (Some(d), None) => d.to_owned(),
        (None, Some(t)) => format!("{what} answered {status} (scimType {t})"),
        (None, None) => format!("{what} answered {status}"),
    };
    ScimError::new(kind, message)
}

fn decode<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, ScimError> {
    serde_json::from_slice(body).map_err(|e| {
        ScimError::new(
            ScimErrorKind::Unavailable,
            format!("the server's {what} is not the SCIM JSON expected: {e}"),
        )
    })
}

fn user_body(user: &NewUser) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), json!([USER_SCHEMA]));
    body.insert("userName".into(), Value::from(user.user_name.as_str()));
    if let Some(x) = &user.external_id {
        body.insert("externalId".into(), Value::from(x.as_str()));
    }
    if let Some(d) = &user.display_name {
        body.insert("displayName".into(), Value::from(d.as_str()));
    }
    body.insert("active".into(), Value::from(user.active));
    if let Some(e) = &user.email {
        body.insert(
            "emails".into(),
            json!([{ "value": e, "type": "work", "primary": true }]),
        );
    }
    Value::Object(body)
}

fn member_operations(add: &[String], remove: &[String]) -> Vec<Value> {
    let mut ops = Vec::with_capacity(1 + remove.len());
    if !add.is_empty() {
        ops.push(json!({
            "op": "add",
            "path": "members",
            "value": add.iter().map(|m| json!({ "value": m })).collect::<Vec<_>>(),
        }));
    }
    for m in remove {
        ops.push(json!({
            "op": "remove",
            "path": format!("members[value eq {}]", json_string(m)),
        }));
    }
    ops
}

/// Something with a server id, for de-duplicating pages.
trait Keyed {
    fn key(&self) -> &str;
}

impl Keyed for ScimUser {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for ScimGroup {
    fn key(&self) -> &str {
        &self.id
    }
}

/// Fills `version` from the `ETag` header when the body had no `meta.version`.
fn with_etag<T: Versioned>(mut item: T, etag: Option<String>) -> T {
    if item.version_mut().is_none() {
        *item.version_mut() = etag;
    }
    item
}

trait Versioned {
    fn version_mut(&mut self) -> &mut Option<String>;
}

impl Versioned for ScimUser {
    fn version_mut(&mut self) -> &mut Option<String> {
        &mut self.version
    }
}

impl Versioned for ScimGroup {
    fn version_mut(&mut self) -> &mut Option<String> {
        &mut self.version
    }
}

// ---- wire shapes (lenient: unknown fields ignored, optional ones may be absent or null)

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    detail: Option<String>,
    #[serde(default, rename = "scimType")]
    scim_type: Option<String>,
}

#[derive(Deserialize)]
struct RawList {
    #[serde(default, rename = "totalResults")]
    total_results: Option<u64>,
    #[serde(default, rename = "Resources", alias = "resources")]
    resources: Option<Vec<Value>>,
}

struct Page {
    total_results: Option<u64>,
    resources: Vec<Value>,
}

fn parse_list(body: &[u8]) -> Result<Page, ScimError> {
    let raw: RawList = decode(body, "ListResponse")?;
    Ok(Page {
        total_results: raw.total_results,
        resources: raw.resources.unwrap_or_default(),
    })
}

#[derive(Deserialize, Default)]
struct RawMeta {
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct RawEmail {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    primary: Option<Value>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct RawUser {
    id: String,
    #[serde(rename = "userName")]
    user_name: String,
    #[serde(default, rename = "externalId")]
    external_id: Option<String>,
    #[serde(default, rename = "displayName")]
    display_name: Option<String>,
    #[serde(default)]
    active: Option<Value>,
    #[serde(default)]
    emails: Option<Vec<RawEmail>>,
    #[serde(default)]
    meta: Option<RawMeta>,
}

#[derive(Deserialize)]
struct RawMember {
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
struct RawGroup {
    id: String,
    #[serde(rename = "displayName")]
    display_name: String,
    #[serde(default, rename = "externalId")]
    external_id: Option<String>,
    #[serde(default)]
    members: Option<Vec<RawMember>>,
    #[serde(default)]
    meta: Option<RawMeta>,
}

#[derive(Deserialize, Default)]
struct RawFeature {
    #[serde(default)]
    supported: Option<Value>,
    #[serde(default, rename = "maxResults")]
    max_results: Option<u64>,
}

#[derive(Deserialize)]
struct RawSpc {
    #[serde(default)]
    patch: Option<RawFeature>,
    #[serde(default)]
    etag: Option<RawFeature>,
    #[serde(default)]
    filter: Option<RawFeature>,
}

impl From<RawSpc> for ServiceProviderConfig {
    fn from(raw: RawSpc) -> ServiceProviderConfig {
        let on = |f: &Option<RawFeature>| {
            f.as_ref()
                .and_then(|f| f.supported.as_ref())
                .and_then(as_bool)
                .unwrap_or(false)
        };
        ServiceProviderConfig {
            patch: on(&raw.patch),
            etag: on(&raw.etag),
            filter: on(&raw.filter),
            max_results: raw.filter.as_ref().and_then(|f| f.max_results),
        }
    }
}

/// A boolean, also when a server sends it as `"True"`/`"false"`.
fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn malformed(what: &str, e: serde_json::Error) -> ScimError {
    ScimError::new(
        ScimErrorKind::Unavailable,
        format!("the server's {what} is not the SCIM JSON expected: {e}"),
    )
}

fn parse_user(v: Value) -> Result<ScimUser, ScimError> {
    let raw: RawUser = serde_json::from_value(v).map_err(|e| malformed("User", e))?;
    Ok(ScimUser {
        id: raw.id,
        user_name: raw.user_name,
        external_id: raw.external_id,
        display_name: raw.display_name,
        active: raw.active.as_ref().and_then(as_bool).unwrap_or(true),
        emails: raw
            .emails
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| {
                Some(ScimEmail {
                    value: e.value?,
                    primary: e.primary.as_ref().and_then(as_bool).unwrap_or(false),
                    kind: e.kind,
                })
            })
            .collect(),
        version: raw.meta.unwrap_or_default().version,
    })
}

fn parse_group(v: Value) -> Result<ScimGroup, ScimError> {
    let raw: RawGroup = serde_json::from_value(v).map_err(|e| malformed("Group", e))?;
    Ok(ScimGroup {
        id: raw.id,
        display_name: raw.display_name,
        external_id: raw.external_id,
        members: raw
            .members
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.value)
            .collect(),
        version: raw.meta.unwrap_or_default().version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq_filter_quotes_and_escapes() {
        assert_eq!(
            eq_filter("userName", "ada@acme.example"),
            r#"userName eq "ada@acme.example""#
        );
        assert_eq!(
            eq_filter("displayName", "finance:administrator"),
            r#"displayName eq "finance:administrator""#
        );
        assert_eq!(
            eq_filter("displayName", r#"say "hi" \o/"#),
            r#"displayName eq "say \"hi\" \\o/""#
        );
        assert_eq!(eq_filter("x", "a\nb\u{1}"), r#"x eq "a\nb\u0001""#);
        assert_eq!(eq_filter("x", ""), r#"x eq """#);
        assert_eq!(eq_filter("x", "é ü"), "x eq \"é ü\"");
    }

    #[test]
    fn remove_ops_escape_ids() {
        let ops = member_operations(&["a".into(), "b".into()], &[r#"c"d"#.into()]);
        assert_eq!(
            Value::from(ops),
            json!([
                { "op": "add", "path": "members", "value": [{ "value": "a" }, { "value": "b" }] },
                { "op": "remove", "path": r#"members[value eq "c\"d"]"# },
            ])
        );
        assert!(member_operations(&[], &[]).is_empty());
        assert_eq!(member_operations(&[], &["x".into(), "y".into()]).len(), 2);
    }

    #[test]
    fn list_without_resources_is_empty() {
        let page = parse_list(
            br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults":0,"startIndex":1,"itemsPerPage":0}"#,
        )
        .unwrap();
        assert_eq!(page.total_results, Some(0));
        assert!(page.resources.is_empty());
        let page = parse_list(br#"{"Resources":null}"#).unwrap();
        assert_eq!(page.total_results, None);
        assert!(page.resources.is_empty());
        assert!(parse_list(b"<html>").is_err());
    }

    #[test]
    fn list_parses_users_leniently() {
        let page = parse_list(
            br#"{"totalResults":2,"itemsPerPage":2,"Resources":[
                {"id":"1","userName":"ada@acme.example","unknown":{"x":1},
                 "meta":{"version":"W/\"3\"","resourceType":"User"},
                 "emails":[{"value":"ada@acme.example","type":"work","primary":true},
                           {"type":"home"},{"value":"a@home.example","primary":"False"}]},
                {"id":"2","userName":"bob","active":false,"externalId":"tenet:bob","displayName":null}
            ]}"#,
        )
        .unwrap();
        let users: Vec<ScimUser> = page
            .resources
            .into_iter()
            .map(parse_user)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            users[0],
            ScimUser {
                id: "1".into(),
                user_name: "ada@acme.example".into(),
                external_id: None,
                display_name: None,
                active: true,
                emails: vec![
                    ScimEmail {
                        value: "ada@acme.example".into(),
                        primary: true,
                        kind: Some("work".into())
                    },
                    ScimEmail {
                        value: "a@home.example".into(),
                        primary: false,
                        kind: None
                    },
                ],
                version: Some(r#"W/"3""#.into()),
            }
        );
        assert!(!users[1].active);
        assert_eq!(users[1].external_id.as_deref(), Some("tenet:bob"));
        assert!(users[1].emails.is_empty());
        assert_eq!(users[1].version, None);
        assert!(parse_user(json!({"userName":"no id"})).is_err());
    }

    #[test]
    fn groups_keep_member_values() {
        let g = parse_group(json!({
            "id": "g", "displayName": "finance:administrator",
            "members": [{"value": "u1", "display": "Ada"}, {"$ref": "x"}, {"value": "gone"}],
        }))
        .unwrap();
        assert_eq!(g.members, vec!["u1".to_owned(), "gone".to_owned()]);
        let g = with_etag(
            parse_group(json!({"id": "g", "displayName": "finance"})).unwrap(),
            Some(r#"W/"9""#.into()),
        );
        assert!(g.members.is_empty());
        assert_eq!(g.version.as_deref(), Some(r#"W/"9""#));
    }

    #[test]
    fn service_provider_config_reads_features() {
        let raw: RawSpc = serde_json::from_str(
            r#"{"patch":{"supported":true},"bulk":{"supported":true,"maxOperations":1000},
               "filter":{"supported":true,"maxResults":1000},"etag":{"supported":"False"}}"#,
        )
        .unwrap();
        assert_eq!(
            ServiceProviderConfig::from(raw),
            ServiceProviderConfig {
                patch: true,
                etag: false,
                filter: true,
                max_results: Some(1000)
            }
        );
        let raw: RawSpc = serde_json::from_str("{}").unwrap();
        assert!(!ServiceProviderConfig::from(raw).patch);
    }

    #[test]
    fn statuses_map_to_kinds() {
        let err = |code: u16, body: &str| {
            status_error(
                StatusCode::from_u16(code).unwrap(),
                Some(Duration::from_secs(7)),
                body.as_bytes(),
                "GET Users",
            )
        };
        assert_eq!(err(404, "").kind, ScimErrorKind::NotFound);
        assert_eq!(err(409, "").kind, ScimErrorKind::Conflict);
        assert_eq!(err(412, "").kind, ScimErrorKind::PreconditionFailed);
        assert_eq!(
            err(429, "").kind,
            ScimErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(err(401, "").kind, ScimErrorKind::Unauthorized);
        assert_eq!(err(403, "").kind, ScimErrorKind::Forbidden);
        assert_eq!(err(500, "").kind, ScimErrorKind::Unavailable);
        assert_eq!(err(503, "").kind, ScimErrorKind::Unavailable);
        assert_eq!(err(400, "").kind, ScimErrorKind::Rejected);
        assert_eq!(err(413, "").kind, ScimErrorKind::Rejected);
        assert_eq!(err(302, "").kind, ScimErrorKind::Rejected);

        let e = err(
            409,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409",
               "scimType":"uniqueness","detail":"One or more of the attribute values are already in use"}"#,
        );
        assert_eq!(
            e.message,
            "One or more of the attribute values are already in use (scimType uniqueness)"
        );
        assert_eq!(
            e.to_string(),
            "SCIM conflict: One or more of the attribute values are already in use (scimType uniqueness)"
        );
        let e = err(
            400,
            r#"{"scimType":"invalidFilter","detail":"invalid syntax"}"#,
        );
        assert_eq!(e.kind, ScimErrorKind::Rejected);
        assert_eq!(e.message, "invalid syntax (scimType invalidFilter)");
        assert_eq!(
            err(400, "oops").message,
            "GET Users answered 400 Bad Request"
        );
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(header::RETRY_AFTER, HeaderValue::from_static(" 12 "));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(12)));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn client_hides_the_token_and_normalises_the_base() {
        let c = ScimClient::new("http://127.0.0.1:9/v2/", Some("s3cr3t-token".into())).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
        assert_eq!(
            c.url(&["Users", "a b/c"], &[]).as_str(),
            "http://127.0.0.1:9/v2/Users/a%20b%2Fc"
        );
        let u = c.url(
            &["Groups"],
            &[("filter", &eq_filter("displayName", "a&b +c"))],
        );
        assert_eq!(
            u.query_pairs().next().map(|(_, v)| v.into_owned()),
            Some(r#"displayName eq "a&b +c""#.to_owned())
        );
        let c = ScimClient::new("https://scim.example/api/v2", None).unwrap();
        assert_eq!(
            c.url(&["Users"], &[]).as_str(),
            "https://scim.example/api/v2/Users"
        );
        for bad in [
            "",
            "not a url",
            "ftp://x/v2",
            "mailto:a@b",
            "http://u:p@h/v2",
        ] {
            assert_eq!(
                ScimClient::new(bad, None).unwrap_err().kind,
                ScimErrorKind::Rejected,
                "{bad}"
            );
        }
        let e = ScimClient::new("http://h/v2", Some("bad\ntoken".into())).unwrap_err();
        assert!(!e.message.contains("bad\ntoken"));
    }

    #[test]
    fn futures_are_send() {
        fn send<T: Send>(_: &T) {}
        let c = ScimClient::new("http://127.0.0.1:9/v2", None).unwrap();
        send(&c.list_users());
        send(&c.patch_members("g", &[], &[], None));
    }
}
