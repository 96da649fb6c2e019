//! Shared harness of the platform contract tests: starts the real `tenet
//! serve` binary on a free port with a fresh database in a temporary
//! directory, mints tokens for it with `tenet serve token create`, keeps
//! everything the server writes on stderr, and kills the server when the
//! handle is dropped. Responses are captured whole ([`Resp`]) so a failing
//! assertion can show the body, and [`Resp::problem`] checks the RFC 9457
//! shape every error of the platform API must have.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

pub const PROBLEM_BASE: &str = "https://tenet.dev/problems/";

/// The fields an RFC 9457 problem of this API may carry (the OpenAPI
/// `Problem` schema has `additionalProperties: false`).
const PROBLEM_FIELDS: [&str; 8] = [
    "type",
    "title",
    "status",
    "detail",
    "instance",
    "holder",
    "expires_at",
    "current_version",
];

/// The `tenet` binary under test.
pub fn tenet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tenet")
}

/// A `tenet` command with a quiet, colourless environment.
pub fn tenet() -> Command {
    let mut cmd = Command::new(tenet_bin());
    cmd.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("GITHUB_ACTIONS");
    cmd
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
}

/// A platform database in a temporary directory, before the server starts.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

impl Default for Setup {
    fn default() -> Self {
        Self::new()
    }
}

impl Setup {
    pub fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let db = dir.path().join("p.db");
        Setup { dir, db }
    }

    /// `tenet serve token create NAME --scope S --db FILE`: the token alone
    /// on stdout.
    pub fn token(&self, name: &str, scope: Scope) -> String {
        let scope = match scope {
            Scope::Read => "read",
            Scope::Write => "write",
        };
        let out = tenet()
            .args(["serve", "token", "create", name, "--scope", scope, "--db"])
            .arg(&self.db)
            .output()
            .unwrap_or_else(|e| panic!("run tenet serve token create: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "token create {name}: {stderr}");
        let token = stdout.trim().to_owned();
        assert_eq!(
            stdout.lines().count(),
            1,
            "the token alone on stdout, got {stdout:?}"
        );
        assert!(
            !token.is_empty() && !token.contains(char::is_whitespace),
            "token: {token:?}"
        );
        token
    }

    /// Starts `tenet serve --db FILE --listen 127.0.0.1:0 EXTRA...` and waits
    /// for its `listening on` line.
    pub fn start(self, extra: &[&str]) -> Server {
        let mut child = tenet()
            .args(["serve", "--db"])
            .arg(&self.db)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn tenet serve: {e}"));
        let stderr = child
            .stderr
            .take()
            .unwrap_or_else(|| panic!("no stderr pipe"));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("tenet serve: listening on http://")
                    && let Some(t) = tx.take()
                {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = t.send(addr);
                }
                let mut l = sink
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                let l = log
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                panic!("tenet serve did not say where it listens; stderr:\n{l}");
            }
        };
        assert!(
            addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
            "listening address: {addr}"
        );
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_else(|e| panic!("reqwest client: {e}"));
        Server {
            child: Some(child),
            reader: Some(reader),
            log,
            base: format!("http://{addr}"),
            client,
            setup: self,
            write: String::new(),
            read: String::new(),
        }
    }
}

/// A running `tenet serve`, killed on drop.
pub struct Server {
    child: Option<Child>,
    reader: Option<JoinHandle<()>>,
    log: Arc<Mutex<String>>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub client: reqwest::Client,
    pub setup: Setup,
    /// The default write token (`ci-admin` for [`Server::standard`]).
    pub write: String,
    /// The default read token (`ci-reader` for [`Server::standard`]).
    pub read: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// One captured response.
#[derive(Debug)]
pub struct Resp {
    /// `METHOD PATH`, for messages.
    pub what: String,
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned())
    }

    pub fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e}): {}", self.what, self.body))
    }

    /// Asserts the status and a JSON body; returns the body.
    pub fn ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{}: expected {status}, got {}: {}",
            self.what, self.status, self.body
        );
        assert!(
            self.content_type().starts_with("application/json"),
            "{}: content type {:?}",
            self.what,
            self.content_type()
        );
        self.json()
    }

    /// Asserts a bare status (for 204s).
    pub fn status_is(&self, status: u16) {
        assert_eq!(
            self.status, status,
            "{}: expected {status}, got {}: {}",
            self.what, self.status, self.body
        );
    }

    /// The `ETag`, which must be `"<version>"`; returns the version.
    pub fn etag_version(&self) -> u64 {
        let e = self
            .header("etag")
            .unwrap_or_else(|| panic!("{}: no ETag header", self.what));
        let inner = e
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{}: ETag {e:?} is not quoted", self.what));
        inner
            .parse()
            .unwrap_or_else(|_| panic!("{}: ETag {e:?} is not a version", self.what))
    }

    /// Asserts an RFC 9457 problem with this status and code; returns it.
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status, status,
            "{}: expected {status} {code}, got {}: {}",
            self.what, self.status, self.body
        );
        let p = problem_shape(self);
        assert_eq!(
            p["type"],
            json!(format!("{PROBLEM_BASE}{code}")),
            "{}: problem type: {}",
            self.what,
            self.body
        );
        // The title is the code with spaces for hyphens, capitalized.
        let mut title = code.replace('-', " ");
        if let Some(first) = title.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        assert_eq!(p["title"], json!(title), "{}: problem title", self.what);
        p
    }
}

/// Checks that `r` is a well-formed problem: the content type, the four
/// required members with the right types, `status` repeating the HTTP
/// status, and no member outside the schema.
pub fn problem_shape(r: &Resp) -> Value {
    assert_eq!(
        r.content_type(),
        "application/problem+json",
        "{}: a problem must be application/problem+json (status {}, body {})",
        r.what,
        r.status,
        r.body
    );
    let p = r.json();
    let obj = p
        .as_object()
        .unwrap_or_else(|| panic!("{}: problem is not an object: {}", r.what, r.body));
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    assert!(
        kind.starts_with(PROBLEM_BASE) && kind.len() > PROBLEM_BASE.len(),
        "{}: problem type {kind:?}",
        r.what
    );
    let title = obj.get("title").and_then(Value::as_str).unwrap_or("");
    assert!(
        !title.trim().is_empty(),
        "{}: problem title: {}",
        r.what,
        r.body
    );
    assert_eq!(
        obj.get("status").and_then(Value::as_u64),
        Some(u64::from(r.status)),
        "{}: problem status must repeat the HTTP status: {}",
        r.what,
        r.body
    );
    let detail = obj.get("detail").and_then(Value::as_str).unwrap_or("");
    assert!(
        !detail.trim().is_empty(),
        "{}: problem detail: {}",
        r.what,
        r.body
    );
    for k in obj.keys() {
        assert!(
            PROBLEM_FIELDS.contains(&k.as_str()),
            "{}: unexpected problem member `{k}`: {}",
            r.what,
            r.body
        );
    }
    p
}

impl Server {
    /// A fresh server with a write token `ci-admin` and a read token
    /// `ci-reader`.
    pub fn standard() -> Server {
        Self::standard_with(&[])
    }

    pub fn standard_with(extra: &[&str]) -> Server {
        let setup = Setup::new();
        let write = setup.token("ci-admin", Scope::Write);
        let read = setup.token("ci-reader", Scope::Read);
        let mut s = setup.start(extra);
        s.write = write;
        s.read = read;
        s
    }

    pub fn db(&self) -> &Path {
        &self.setup.db
    }

    /// Everything the server wrote on stderr so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM and waits (at most 20 s) for the exit; returns the exit
    /// status and the whole stderr. The database stays until the handle is
    /// dropped.
    pub fn terminate(&mut self) -> (ExitStatus, String) {
        let mut child = self
            .child
            .take()
            .unwrap_or_else(|| panic!("server already stopped"));
        let st = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("run kill: {e}"));
        assert!(st.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "tenet serve did not stop on SIGTERM; stderr:\n{}",
                        self.log()
                    );
                }
            }
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.log())
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with `Authorization: Bearer TOKEN` (none for `None`).
    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let rb = self.client.request(method, self.url(path));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// Sends and captures a response.
    pub async fn send(&self, what: String, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: request failed: {e}"));
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r
            .text()
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
        Resp {
            what,
            status,
            headers,
            body,
        }
    }

    /// A request as `token`, with an optional JSON body and `If-Match`.
    pub async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        if_match: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let what = format!("{method} {path}");
        let mut rb = self.request(method, path, token);
        if let Some(v) = if_match {
            rb = rb.header("If-Match", v);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        self.send(what, rb).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Some(&self.write), Method::GET, path, None, None)
            .await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Resp {
        self.call(Some(token), Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(Some(&self.write), Method::POST, path, None, Some(body))
            .await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Resp {
        self.call(Some(token), Method::POST, path, None, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, if_match: Option<&str>, body: &Value) -> Resp {
        self.call(Some(&self.write), Method::PATCH, path, if_match, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, if_match: Option<&str>, body: &Value) -> Resp {
        self.call(Some(&self.write), Method::PUT, path, if_match, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, if_match: Option<&str>) -> Resp {
        self.call(Some(&self.write), Method::DELETE, path, if_match, None)
            .await
    }

    // ------------------------------------------------------------ fixtures

    pub async fn workspace(&self, slug: &str) -> Value {
        self.post("/v1/workspaces", &json!({"slug": slug}))
            .await
            .ok(201)
    }

    pub async fn user(&self, email: &str) -> Value {
        self.post("/v1/users", &json!({"email": email}))
            .await
            .ok(201)
    }

    pub async fn member(&self, slug: &str, email: &str, roles: &[&str]) -> Value {
        self.post(
            &format!("/v1/workspaces/{slug}/memberships"),
            &json!({"user": email, "roles": roles}),
        )
        .await
        .ok(201)
    }

    pub async fn provider(&self, name: &str, models: &[&str]) -> Value {
        self.post(
            "/v1/providers",
            &json!({"name": name, "kind": "openai", "models": models}),
        )
        .await
        .ok(201)
    }

    pub async fn assign(&self, slug: &str, provider: &str, spec: Value) -> Resp {
        let mut body = spec;
        if let Some(m) = body.as_object_mut() {
            m.insert("provider".into(), json!(provider));
        }
        self.post(&format!("/v1/workspaces/{slug}/assignments"), &body)
            .await
    }

    /// Every item of a list, following `next_cursor` with `limit`; asserts
    /// that only the last page lacks a cursor and that no page is larger
    /// than `limit`.
    pub async fn walk(&self, path: &str, limit: usize) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let url = match &cursor {
                None => format!("{path}{sep}limit={limit}"),
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            };
            let page = self.get(&url).await.ok(200);
            let got = page["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{url}: no items array: {page}"))
                .clone();
            assert!(got.len() <= limit, "{url}: {} items > limit", got.len());
            let next = page.get("next_cursor").cloned();
            match next {
                None => {
                    items.extend(got);
                    return items;
                }
                Some(Value::String(c)) => {
                    assert_eq!(got.len(), limit, "{url}: a non-last page must be full");
                    items.extend(got);
                    cursor = Some(c);
                }
                Some(other) => panic!("{url}: next_cursor must be absent or a string: {other}"),
            }
        }
        panic!("{path}: pagination does not end");
    }
}

/// The bytes of the database and its WAL and shared-memory files.
pub fn database_bytes(db: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(b) = std::fs::read(&p) {
            out.push((p, b));
        }
    }
    out
}

/// True when `needle` occurs in `hay`.
pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// A random hex string (for canaries).
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).unwrap_or_else(|e| panic!("getrandom: {e}"));
    b.iter().map(|x| format!("{x:02x}")).collect()
}
