//! The one harness of the tests that drive the real `tenet` binary. The
//! shared part: [`tenet`] builds a quiet, colourless, CI-free command that
//! inherits no endpoint, token or provider key and has no terminal on stdin;
//! [`run`] captures a finished command whole ([`Run`]) so every assertion
//! shows what was said; [`copy_tree`], [`edit`] and [`git`] prepare config
//! trees and repositories; [`token`] mints a token with `tenet serve token
//! create`; [`ServeChild`] starts `tenet serve` on 127.0.0.1 port 0, reads
//! where it listens from its stderr, keeps that stderr and kills the server
//! when dropped; and [`Api`] is a small blocking client of its HTTP API, to
//! which each harness adds the calls it needs. On top of that, the platform
//! contract tests (`tests/platform_http.rs`) get [`Setup`] and the async
//! [`Server`] with a fresh database in a temporary directory, whose
//! responses are captured whole ([`Resp`]) so a failing assertion can show
//! the body, and [`Resp::problem`] checks the RFC 9457 shape every error of
//! the platform API must have. Each test binary compiles this module on its
//! own and uses a part of it, hence `dead_code` is allowed.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
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

// ------------------------------------------------------------ the binary

/// The provider key variables the examples reference.
pub const KEY_VARS: [&str; 4] = [
    "AZURE_OPENAI_KEY_1",
    "AZURE_OPENAI_KEY_2",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
];

/// The `tenet` binary under test.
pub fn tenet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tenet")
}

/// A `tenet` command with nothing inherited that changes its behaviour:
/// no colour, no GitHub annotations, no log filter, no endpoint, token or
/// provider keys from the developer's environment, and no terminal on stdin.
pub fn tenet() -> Command {
    let mut cmd = Command::new(tenet_bin());
    cmd.env("NO_COLOR", "1")
        // Wide enough that no message is wrapped mid-phrase.
        .env("COLUMNS", "400")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("RUST_LOG")
        .env_remove("TENET_ENDPOINT")
        .env_remove("TENET_TOKEN")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null());
    for k in KEY_VARS {
        cmd.env_remove(k);
    }
    cmd
}

/// The repository's `examples/NAME`.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// A finished command: exit code and both streams as text.
#[derive(Debug, Clone)]
pub struct Run {
    /// The program's file name and its arguments, for messages.
    pub what: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(what: String, out: Output) -> Run {
        Run {
            what,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The command, its exit code and both streams, for messages.
    pub fn show(&self) -> String {
        format!(
            "`{}` exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    /// Everything the command printed, for messages and searches.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics (showing both streams) unless the exit code is `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "expected exit {code}: {}", self.show());
        self
    }

    /// Panics (showing both streams) unless `ok`.
    #[track_caller]
    fn check(&self, ok: bool, what: std::fmt::Arguments) -> &Run {
        assert!(ok, "{what}: {}", self.show());
        self
    }

    /// Panics unless stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Run {
        self.check(
            self.stdout.contains(needle),
            format_args!("stdout lacks {needle:?}"),
        )
    }

    /// Panics if stdout contains `needle`.
    #[track_caller]
    pub fn stdout_lacks(&self, needle: &str) -> &Run {
        self.check(
            !self.stdout.contains(needle),
            format_args!("stdout has {needle:?}"),
        )
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Run {
        self.check(
            self.stderr.contains(needle),
            format_args!("stderr lacks {needle:?}"),
        )
    }

    /// Panics unless stdout or stderr contains `needle`.
    #[track_caller]
    pub fn has(&self, needle: &str) -> &Run {
        self.check(
            self.all().contains(needle),
            format_args!("output lacks {needle:?}"),
        )
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.show()))
    }
}

/// Runs a prepared command (`tenet`, `git`...) to completion.
pub fn run(mut cmd: Command) -> Run {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let what = format!("{program} {}", args.join(" "));
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{what}`: {e}"));
    Run::from_output(what, out)
}

/// Copies a directory tree (files and directories only), leaving out any
/// `.tenet` sandbox directory someone made by running an example.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("read_dir {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("read_dir {}: {e}", from.display()));
        let path = entry.path();
        let target = to.join(entry.file_name());
        let ty = entry.file_type().unwrap_or_else(|e| panic!("{e}"));
        if ty.is_dir() {
            if entry.file_name() != ".tenet" {
                copy_tree(&path, &target);
            }
        } else if ty.is_file() {
            std::fs::copy(&path, &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
        }
    }
}

/// Replaces the one occurrence of `from` in `path` with `to` (panics when
/// `from` occurs other than exactly once, so an edit never silently misses).
#[track_caller]
pub fn edit(path: &Path, from: &str, to: &str) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let n = text.matches(from).count();
    assert_eq!(
        n,
        1,
        "{from:?} occurs {n} times in {}, expected once",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// `git ARGS` in `dir`, isolated from the user's and system configuration;
/// panics unless it succeeds. Returns stdout, trimmed.
#[track_caller]
pub fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .args([
            "-c",
            "user.name=Tenet Test",
            "-c",
            "user.email=test@tenet.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args);
    let r = run(cmd);
    assert_eq!(r.code, 0, "git failed: {}", r.show());
    r.stdout.trim().to_owned()
}

// ------------------------------------------------------------ tenet serve

/// `tenet serve token create NAME --scope SCOPE --db DB`: the token, which
/// must be alone on stdout.
#[track_caller]
pub fn token(db: &Path, name: &str, scope: &str) -> String {
    token_of(db, name, scope, &[])
}

/// As [`token`], creating the database (if new) with `profile`.
#[allow(dead_code)]
pub fn token_with_profile(db: &Path, name: &str, scope: &str, profile: &str) -> String {
    token_of(db, name, scope, &["--profile", profile])
}

fn token_of(db: &Path, name: &str, scope: &str, extra: &[&str]) -> String {
    let mut cmd = tenet();
    cmd.args(["serve", "token", "create", name, "--scope", scope])
        .args(extra)
        .arg("--db")
        .arg(db);
    let r = run(cmd);
    r.code(0);
    let t = r.stdout.trim().to_owned();
    assert!(
        !t.is_empty() && !t.contains(char::is_whitespace) && r.stdout.lines().count() == 1,
        "token create {name} printed {:?}",
        r.stdout
    );
    t
}

/// A `tenet serve` child process on a free port, killed on drop; everything
/// it writes on stderr is kept.
pub struct ServeChild {
    child: Option<Child>,
    reader: Option<JoinHandle<()>>,
    log: Arc<Mutex<String>>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub db: PathBuf,
}

impl ServeChild {
    /// Starts `tenet serve --db DB --listen 127.0.0.1:0 EXTRA...` and waits
    /// (at most 30 s) for its `listening on` line.
    pub fn start(db: &Path, extra: &[&str]) -> ServeChild {
        let mut child = tenet()
            .args(["serve", "--db"])
            .arg(db)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
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
        // Keeps reading (the server logs every request) so it never blocks.
        let reader = std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("tenet serve: listening on ")
                    && let Some(t) = tx.take()
                {
                    let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = t.send(url);
                }
                let mut l = sink
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                l.push_str(&line);
                l.push('\n');
            }
        });
        // Owned by the guard before anything can panic.
        let mut server = ServeChild {
            child: Some(child),
            reader: Some(reader),
            log,
            url: String::new(),
            db: db.to_path_buf(),
        };
        let Ok(url) = rx.recv_timeout(Duration::from_secs(30)) else {
            server.kill();
            panic!(
                "tenet serve did not say where it listens; stderr:\n{}",
                server.log()
            );
        };
        assert!(
            url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
            "listening address: {url:?}"
        );
        server.url = url;
        server
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
    /// status and the whole stderr.
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

    /// Kills the server (SIGKILL) and waits for it (also done on drop).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        self.kill();
    }
}

// ------------------------------------------------------------ blocking API client

/// An HTTP client for a local server: no proxy, `timeout` a request.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap_or_else(|e| panic!("reqwest client: {e}"))
}

/// An answer of the platform API to [`Api::send`].
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub etag: Option<String>,
    /// The JSON body; `Null` when the body is empty.
    pub body: Value,
}

impl Answer {
    /// Panics unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Answer {
        assert_eq!(
            self.status, status,
            "unexpected answer {}: {:#}",
            self.status, self.body
        );
        self
    }

    /// The `ETag`, which must be there.
    #[track_caller]
    pub fn etag(&self) -> String {
        self.etag
            .clone()
            .unwrap_or_else(|| panic!("no ETag: {self:?}"))
    }
}

/// A small blocking client of the platform API with one token (async
/// reqwest on a private runtime). Each harness adds the calls it needs.
pub struct Api {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(url: &str, token: &str) -> Api {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        Api {
            rt,
            client: client(Duration::from_secs(30)),
            base: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    /// One request to the whole `PATH` (`/v1/...`); `if_match` is sent as
    /// given.
    /// Panics when the request fails or the body is not JSON.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        if_match: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let mut req = self
                .client
                .request(method.clone(), &url)
                .bearer_auth(&self.token);
            if let Some(m) = if_match {
                req = req.header(reqwest::header::IF_MATCH, m);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
            let status = resp.status().as_u16();
            let etag = resp
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let text = resp
                .text()
                .await
                .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
            let body = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{method} {url} answered non-JSON ({e}): {text}"))
            };
            Answer { status, etag, body }
        })
    }
}

// ------------------------------------------------------------ platform contract

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
        token(&self.db, name, scope)
    }

    /// Starts `tenet serve --db FILE --listen 127.0.0.1:0 EXTRA...` and waits
    /// for its `listening on` line.
    pub fn start(self, extra: &[&str]) -> Server {
        Server {
            serve: ServeChild::start(&self.db, extra),
            client: client(Duration::from_secs(20)),
            setup: self,
            write: String::new(),
            read: String::new(),
        }
    }
}

/// A running `tenet serve` with an async client, killed on drop.
pub struct Server {
    /// Declared first so it is dropped (killed) before the directory goes.
    serve: ServeChild,
    pub client: reqwest::Client,
    pub setup: Setup,
    /// The default write token (`ci-admin` for [`Server::standard`]).
    pub write: String,
    /// The default read token (`ci-reader` for [`Server::standard`]).
    pub read: String,
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
        self.serve.log()
    }

    pub fn pid(&self) -> u32 {
        self.serve.pid()
    }

    /// Sends SIGTERM and waits (at most 20 s) for the exit; returns the exit
    /// status and the whole stderr. The database stays until the handle is
    /// dropped.
    pub fn terminate(&mut self) -> (ExitStatus, String) {
        self.serve.terminate()
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        self.serve.kill();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.serve.url)
    }

    /// `http://127.0.0.1:PORT`, for raw connections.
    pub fn serve_url(&self) -> String {
        self.serve.url.clone()
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

/// Writes a valid config tree of `users` users in `workspaces` workspaces
/// to `dir` with `scripts/gen-config.py` (python3).
#[track_caller]
pub fn generated_tree(dir: &Path, users: usize, workspaces: usize) {
    let status = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/gen-config.py"
        ))
        .arg(dir)
        .arg(users.to_string())
        .arg(workspaces.to_string())
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("python3 scripts/gen-config.py: {e}"));
    assert!(status.success(), "gen-config.py failed");
}
