//! The HTTP target: the platform API contract over reqwest (rustls), with a
//! bearer token from `TENET_TOKEN`. Reads list each collection across all
//! workspaces, following cursors, all collections at once, retrying rate limits, server errors and
//! timeouts with backoff and jitter (honouring `Retry-After`). Writes are
//! tried once here: the executor decides about retries, because a write
//! whose answer was lost must be checked before it is sent again.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::convert::{self, LiveBuilder, Op};
use crate::model::audit::AuditEvent;
use crate::model::{Catalog, Labels, Live, Meta, ObjectId, Stamp};
use crate::target::{Capabilities, ErrorKind, Target, TargetError, Write, backoff};
use crate::wire::{self, Page, Problem};

/// Attempts for a read before giving up.
const READ_ATTEMPTS: u32 = 6;

pub struct Http {
    endpoint: String,
    base: String,
    client: reqwest::Client,
    token: Option<String>,
}

impl Http {
    pub fn new(endpoint: &str, base: &str, token: Option<String>) -> Result<Http, TargetError> {
        if let Some(t) = &token {
            crate::target::check_token(t)?;
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tenet/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TargetError::transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http {
            endpoint: endpoint.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            client,
            token,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.base, path.trim_start_matches('/'))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        version: Option<u64>,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, TargetError> {
        let read = method == Method::GET;
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(v) = version {
            req = req.header(reqwest::header::IF_MATCH, format!("\"{v}\""));
        } else if !read {
            // Writes need a precondition; `None` means "any version". A
            // read carries none (a strict server answers 412, not 404).
            req = req.header(reqwest::header::IF_MATCH, "*");
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(problem(resp).await)
    }

    /// A request that got no answer: a refused connection sent nothing; a
    /// timeout or a connection lost later leaves the outcome unknown.
    fn unreachable(&self, e: &reqwest::Error) -> TargetError {
        let message = format!("{} is unreachable: {}", self.endpoint, without_url(e));
        if e.is_connect() {
            TargetError::unsent(message)
        } else {
            TargetError::transport(message)
        }
    }

    /// Uploads the files a write names (content-addressed: sending one the
    /// platform has is no change).
    async fn upload(&self, uploads: crate::target::Uploads<'_>) -> Result<(), TargetError> {
        for (digest, bytes) in uploads.0 {
            let media_type = crate::model::image::ImageFormat::sniff(bytes)
                .map_or("application/octet-stream", |f| f.media_type());
            let mut req = self
                .client
                .post(self.url("settings/images"))
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(bytes.to_vec());
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
            if !resp.status().is_success() {
                return Err(problem(resp).await);
            }
            let made: Option<wire::Image> = resp.json().await.ok();
            if made.as_ref().map(|m| m.digest.as_str()) != Some(*digest) {
                return Err(TargetError::new(
                    ErrorKind::Rejected,
                    format!("the platform keeps image {digest} under another digest"),
                ));
            }
        }
        Ok(())
    }

    /// One GET.
    async fn get_once<T: DeserializeOwned>(&self, path: &str) -> Result<T, TargetError> {
        let resp = self.send(Method::GET, path, None, None).await?;
        resp.json::<T>()
            .await
            .map_err(|e| TargetError::transport(format!("unexpected answer to GET {path}: {e}")))
    }

    /// A GET, retried while the failure is transient.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, TargetError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.get_once(path).await {
                Err(e) if e.retryable() && attempt < READ_ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt, e.retry_after)).await;
                }
                other => return other,
            }
        }
    }

    async fn all<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, TargetError> {
        let mut out = Vec::new();
        self.each(path, |items| out.extend(items)).await?;
        Ok(out)
    }

    /// Every page of a list, each handed to `sink` as it arrives (no list
    /// of the whole collection is kept).
    async fn each<T: DeserializeOwned>(
        &self,
        path: &str,
        mut sink: impl FnMut(Vec<T>),
    ) -> Result<(), TargetError> {
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                None => format!("{path}{sep}limit=1000"),
                Some(c) => format!("{path}{sep}limit=1000&cursor={c}"),
            };
            let page: Page<T> = self.get(&url).await?;
            sink(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }
}

/// Feeds a page to the shared builder (held only while the page is added,
/// never across a request).
fn feed<T>(b: &Mutex<LiveBuilder>, items: Vec<T>, add: fn(&mut LiveBuilder, T)) {
    let mut b = b.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for x in items {
        add(&mut b, x);
    }
}

/// An error's text without the request URL (it may carry query values).
fn without_url(e: &reqwest::Error) -> String {
    let e = e.without_url_ref();
    let mut s = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

trait WithoutUrl {
    fn without_url_ref(&self) -> &Self;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> &Self {
        self
    }
}

async fn problem(resp: reqwest::Response) -> TargetError {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().await.unwrap_or_default();
    let (code, message, holder) = match serde_json::from_str::<Problem>(&text) {
        Ok(p) => (
            p.kind
                .strip_prefix(wire::PROBLEM_BASE)
                .unwrap_or(&p.kind)
                .to_owned(),
            p.detail,
            p.holder,
        ),
        Err(_) => (
            "http".to_owned(),
            format!("the platform answered {status}"),
            None,
        ),
    };
    let mut e = super::error(status.as_u16(), &code, message);
    e.retry_after = retry_after;
    e.holder = holder;
    e
}

impl Target for Http {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn capabilities(&self) -> &Capabilities {
        &super::HTTP
    }

    async fn catalog(&self) -> Result<Catalog, TargetError> {
        self.get("catalog").await
    }

    async fn read(&self, _parallelism: usize) -> Result<Live, TargetError> {
        // Every collection at once, each followed page by page: about one
        // request per thousand objects, whatever the number of workspaces;
        // each page normalized as it arrives. Workspaces come before their
        // quotas.
        let b = Mutex::new(LiveBuilder::default());
        let settings = tokio::try_join!(
            self.each("workspaces", |v| feed(&b, v, LiveBuilder::workspace)),
            self.each("users", |v| feed(&b, v, LiveBuilder::user)),
            self.each("roles", |v| feed(&b, v, LiveBuilder::role)),
            self.each("providers", |v| feed(&b, v, LiveBuilder::provider)),
            self.get::<wire::Settings>("settings"),
        )?
        .4;
        tokio::try_join!(
            self.each("quotas", |v| feed(&b, v, LiveBuilder::quotas)),
            self.each("usage", |v| feed(&b, v, LiveBuilder::usage)),
            self.each("memberships", |v| feed(&b, v, LiveBuilder::membership)),
            self.each("assignments", |v| feed(&b, v, LiveBuilder::assignment)),
            self.each("projects", |v| feed(&b, v, LiveBuilder::project)),
            self.each("member-quotas", |v| feed(&b, v, LiveBuilder::member_quotas)),
            self.each("top-ups", |v| feed(&b, v, LiveBuilder::top_up)),
            self.each("api-keys", |v| feed(&b, v, LiveBuilder::api_key)),
            self.each("identity-providers", |v| feed(
                &b,
                v,
                LiveBuilder::identity_provider
            )),
        )?;
        let mut b = b
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        b.settings(settings);
        Ok(b.finish())
    }

    async fn probe(&self, id: &ObjectId) -> Result<Option<Meta>, TargetError> {
        #[derive(serde::Deserialize)]
        struct Versioned {
            version: u64,
            #[serde(default)]
            labels: Labels,
        }
        // Once: the executor that asks decides about retries.
        match self.get_once::<Versioned>(&convert::path(id)).await {
            Ok(v) => Ok(Some(Meta::from_labels(
                Stamp::Version(v.version),
                &v.labels,
            ))),
            Err(e) if e.kind == crate::target::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn audit(&self, id: &ObjectId) -> Result<Vec<AuditEvent>, TargetError> {
        let resource = convert::path(id);
        let q: String = url::form_urlencoded::byte_serialize(resource.as_bytes()).collect();
        let events: Vec<wire::AuditEvent> = self.all(&format!("audit?resource={q}")).await?;
        Ok(events
            .into_iter()
            .filter_map(convert::audit_event)
            .collect())
    }

    async fn image(&self, digest: &str) -> Result<Option<Vec<u8>>, TargetError> {
        let path = format!("settings/images/{digest}");
        match self.send(Method::GET, &path, None, None).await {
            Ok(resp) => resp.bytes().await.map(|b| Some(b.to_vec())).map_err(|e| {
                TargetError::transport(format!("unexpected answer to GET {path}: {e}"))
            }),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn write(&self, w: &Write<'_>) -> Result<(), TargetError> {
        if let Some(u) = w.uploads {
            self.upload(u).await?;
        }
        let op = convert::op(w);
        // A write that makes a secret: its value is in the answer, once.
        if let Some(sink) = w.sink {
            let resp = match &op {
                Op::Create { collection, body } => {
                    self.send(Method::POST, collection, None, Some(body))
                        .await?
                }
                Op::Action {
                    resource,
                    action,
                    version,
                    body,
                } => {
                    let at = format!("{resource}/{action}");
                    self.send(Method::POST, &at, *version, Some(body)).await?
                }
                _ => {
                    return Err(TargetError::new(
                        ErrorKind::Rejected,
                        "this write makes no secret",
                    ));
                }
            };
            #[derive(serde::Deserialize)]
            struct Made {
                value: Option<String>,
            }
            let made: Option<Made> = resp.json().await.ok();
            return sink.deliver(w.object, made.and_then(|m| m.value).as_deref());
        }
        match &op {
            Op::Action {
                resource,
                action,
                version,
                body,
            } => self
                .send(
                    Method::POST,
                    &format!("{resource}/{action}"),
                    *version,
                    Some(body),
                )
                .await
                .map(drop),
            Op::Create { collection, body } => self
                .send(Method::POST, collection, None, Some(body))
                .await
                .map(drop),
            Op::Patch {
                resource,
                version,
                body,
            } => self
                .send(Method::PATCH, resource, *version, Some(body))
                .await
                .map(drop),
            Op::Put {
                resource,
                version,
                body,
            } => self
                .send(Method::PUT, resource, *version, Some(body))
                .await
                .map(drop),
            Op::Delete { resource, version } => self
                .send(Method::DELETE, resource, *version, None)
                .await
                .map(drop),
        }
    }

    async fn lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<(), TargetError> {
        let body = serde_json::json!({"name": name, "holder": holder, "ttl_seconds": ttl.as_secs().max(1)});
        self.send(Method::POST, "locks", None, Some(&body))
            .await
            .map(drop)
    }

    async fn renew_lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<(), TargetError> {
        let body = serde_json::json!({"holder": holder, "ttl_seconds": ttl.as_secs().max(1)});
        self.send(Method::PUT, &lock_path(name, None)?, None, Some(&body))
            .await
            .map(drop)
    }

    async fn unlock(&self, name: &str, holder: &str) -> Result<(), TargetError> {
        self.send(Method::DELETE, &lock_path(name, Some(holder))?, None, None)
            .await
            .map(drop)
    }
}

/// `locks/NAME`, with `?holder=` when given, each part encoded.
fn lock_path(name: &str, holder: Option<&str>) -> Result<String, TargetError> {
    let segment: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let mut path = format!("locks/{}", segment.replace('+', "%20"));
    if let Some(h) = holder {
        let query = serde_urlencoded::to_string([("holder", h)]).map_err(|e| {
            TargetError::new(
                crate::target::ErrorKind::Rejected,
                format!("a lock holder that cannot be sent: {e}"),
            )
        })?;
        path.push('?');
        path.push_str(&query);
    }
    Ok(path)
}
