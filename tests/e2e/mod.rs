//! Harness of the end-to-end plan/apply tests (`tests/plan_apply.rs`): runs
//! the real `tenet` binary in a quiet, colourless, CI-free environment on a
//! copy of an example config tree in a temporary directory, against either a
//! temporary sandbox database or a real `tenet serve` child process on a free
//! port (killed when its handle is dropped, with everything it printed on
//! stderr kept for inspection), and talks to that server's HTTP API directly
//! (async reqwest on a private runtime) for out-of-band changes and the audit
//! log. Every helper panics with the command's full output on surprise, so
//! a failing test shows what tenet said.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// The provider key variables the examples reference.
pub const KEY_VARS: [&str; 4] = [
    "AZURE_OPENAI_KEY_1",
    "AZURE_OPENAI_KEY_2",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
];

/// The summary line of a plan without changes.
pub const NO_CHANGES: &str = "No changes. The platform matches the configuration.";

/// The `tenet` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tenet")
}

/// The repository's `examples/NAME`.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// A `tenet` command with nothing inherited that changes its behaviour:
/// no colour, no GitHub annotations, no log filter, no endpoint, token or
/// provider keys from the developer's environment, and no terminal on stdin.
pub fn tenet() -> Command {
    let mut cmd = Command::new(bin());
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

/// A finished command: exit code and both streams as text.
#[derive(Debug, Clone)]
pub struct Run {
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

    /// Everything the command printed, for messages and searches.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics (showing both streams) unless the exit code is `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "`{}` exited {} (expected {code})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        );
        self
    }

    /// Panics unless stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Run {
        assert!(
            self.stdout.contains(needle),
            "stdout of `{}` lacks {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Run {
        assert!(
            self.stderr.contains(needle),
            "stderr of `{}` lacks {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless stdout or stderr contains `needle`.
    #[track_caller]
    pub fn has(&self, needle: &str) -> &Run {
        assert!(
            self.all().contains(needle),
            "output of `{}` lacks {needle:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of `{}` is not JSON: {e}\n{}\n--- stderr ---\n{}",
                self.what, self.stdout, self.stderr
            )
        })
    }
}

/// Runs a prepared command to completion.
pub fn run(mut cmd: Command) -> Run {
    let what = describe(&cmd);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{what}`: {e}"));
    Run::from_output(what, out)
}

fn describe(cmd: &Command) -> String {
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    format!("tenet {}", args.join(" "))
}

/// Copies a directory tree (files and directories only).
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
            // A sandbox database someone made by running the example.
            if entry.file_name() == ".tenet" {
                continue;
            }
            copy_tree(&path, &target);
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

/// Removes every line of `path` containing `needle`; returns how many.
pub fn remove_lines(path: &Path, needle: &str) -> usize {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains(needle)).collect();
    let removed = text.lines().count() - kept.len();
    if removed > 0 {
        std::fs::write(path, kept.join("\n") + "\n")
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
    removed
}

/// Removes a TOML table from its header line up to the next blank line.
#[track_caller]
pub fn remove_toml_block(path: &Path, header: &str) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut skipping = false;
    let mut found = false;
    for line in text.lines() {
        if line.trim() == header {
            skipping = true;
            found = true;
            continue;
        }
        if skipping && line.trim().is_empty() {
            skipping = false;
        }
        if !skipping {
            out.push(line);
        }
    }
    assert!(found, "{header} is not in {}", path.display());
    std::fs::write(path, out.join("\n") + "\n")
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A random string of `n` ASCII letters and digits.
pub fn random_alnum(n: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(n)
        .collect()
}

/// A `tenet serve` child process on a free port, killed on drop.
pub struct Server {
    child: Child,
    pub addr: String,
    pub db: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `tenet serve --db DB --listen 127.0.0.1:0 EXTRA...` and waits
    /// for its "listening on" line.
    pub fn start(db: &Path, extra: &[&str]) -> Server {
        let mut cmd = tenet();
        cmd.arg("serve")
            .arg("--db")
            .arg(db)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tenet serve: {e}"));
        let pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(t) = tx.take()
                {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = t.send(addr);
                }
                let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let said = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                panic!("tenet serve did not say where it listens:\n{said}");
            }
        };
        assert!(addr.starts_with("http://"), "odd address {addr:?}");
        Server {
            child,
            addr,
            db: db.to_path_buf(),
            stderr,
        }
    }

    /// Everything the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops the server now (also done on drop).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `tenet serve token create NAME --scope SCOPE --db DB`: the token alone.
pub fn token(db: &Path, name: &str, scope: &str) -> String {
    let mut cmd = tenet();
    cmd.args(["serve", "token", "create", name, "--scope", scope, "--db"])
        .arg(db);
    let r = run(cmd);
    r.code(0);
    let t = r.stdout.trim().to_owned();
    assert!(
        !t.is_empty() && !t.contains(char::is_whitespace),
        "token create printed {:?}",
        r.stdout
    );
    t
}

/// Where a test's config lives and which platform it targets.
pub enum Target {
    Sandbox,
    Http,
}

/// One test's world: a temporary directory holding a copy of an example
/// config (`cfg`), and a platform (a sandbox file or a server).
pub struct World {
    /// Declared first so it is dropped (killed) before the directory goes.
    pub server: Option<Server>,
    pub tmp: tempfile::TempDir,
    pub cfg: PathBuf,
    pub endpoint: String,
    pub token: Option<String>,
    /// Provider key values passed to tenet.
    pub keys: Vec<(String, String)>,
}

impl World {
    /// A copy of `examples/NAME` and a fresh platform of the given kind.
    pub fn new(example_name: &str, target: Target) -> World {
        Self::with_server_flags(example_name, target, &[])
    }

    /// As [`World::new`], with extra `tenet serve` flags for HTTP.
    pub fn with_server_flags(example_name: &str, target: Target, flags: &[&str]) -> World {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let cfg = tmp.path().join(example_name);
        copy_tree(&example(example_name), &cfg);
        let db = tmp.path().join("p.db");
        let keys: Vec<(String, String)> = KEY_VARS
            .iter()
            .map(|k| {
                (
                    (*k).to_owned(),
                    format!("test-{}-value", k.to_lowercase().replace('_', "-")),
                )
            })
            .collect();
        match target {
            Target::Sandbox => World {
                endpoint: format!("sandbox:{}", db.display()),
                tmp,
                cfg,
                server: None,
                token: None,
                keys,
            },
            Target::Http => {
                let token = token(&db, "ci", "write");
                let server = Server::start(&db, flags);
                World {
                    endpoint: server.addr.clone(),
                    tmp,
                    cfg,
                    server: Some(server),
                    token: Some(token),
                    keys,
                }
            }
        }
    }

    /// A path inside the config copy.
    pub fn file(&self, rel: &str) -> PathBuf {
        self.cfg.join(rel)
    }

    /// A path inside the temporary directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// Sets a provider key value for the following commands.
    pub fn set_key(&mut self, var: &str, value: &str) {
        for (k, v) in &mut self.keys {
            if k == var {
                *v = value.to_owned();
            }
        }
    }

    /// A `tenet` command run in the temporary directory with this world's
    /// token and provider keys (no endpoint: callers add it).
    pub fn bare(&self) -> Command {
        let mut cmd = tenet();
        cmd.current_dir(self.tmp.path());
        if let Some(t) = &self.token {
            cmd.env("TENET_TOKEN", t);
        }
        for (k, v) in &self.keys {
            cmd.env(k, v);
        }
        cmd
    }

    /// `tenet SUB CFG --endpoint E ARGS...`.
    pub fn cmd(&self, sub: &str, args: &[&str]) -> Command {
        let mut cmd = self.bare();
        cmd.arg(sub)
            .arg(&self.cfg)
            .arg("--endpoint")
            .arg(&self.endpoint)
            .args(args);
        cmd
    }

    pub fn plan(&self, args: &[&str]) -> Run {
        run(self.cmd("plan", args))
    }

    pub fn apply(&self, args: &[&str]) -> Run {
        run(self.cmd("apply", args))
    }

    /// `tenet apply FILE ARGS...` (a saved plan).
    pub fn apply_file(&self, file: &Path, args: &[&str]) -> Run {
        let mut cmd = self.bare();
        cmd.arg("apply").arg(file).args(args);
        run(cmd)
    }

    /// `apply --auto-approve`, which must succeed completely.
    #[track_caller]
    pub fn apply_ok(&self) -> Run {
        let r = self.apply(&["--auto-approve"]);
        r.code(0).stdout_has(", 0 failed, 0 skipped.");
        r
    }

    /// `plan`, which must find nothing to do.
    #[track_caller]
    pub fn assert_clean(&self) {
        self.plan(&[]).code(0).stdout_has(NO_CHANGES);
    }

    /// The API of this world's server.
    pub fn api(&self) -> Api {
        let server = self.server.as_ref().expect("an HTTP world");
        Api::new(&server.addr, self.token.as_deref().expect("a token"))
    }

    pub fn server_stderr(&self) -> String {
        self.server.as_ref().map(Server::stderr).unwrap_or_default()
    }
}

/// An answer of the platform API.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Value,
}

impl Resp {
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.body);
        self
    }
}

/// A small blocking client for the platform API.
pub struct Api {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        Api {
            rt,
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    /// One request to `/v1/PATH`; `if_match` is sent as given.
    pub fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        if_match: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let url = format!("{}/v1/{}", self.base, path.trim_start_matches('/'));
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
            Resp { status, etag, body }
        })
    }

    /// A GET, retried while the server answers 500 or 503 (a server with
    /// `--fail-rate` fails reads on purpose; a read changes nothing).
    pub fn get(&self, path: &str) -> Resp {
        let mut tries = 0;
        loop {
            tries += 1;
            let r = self.send(reqwest::Method::GET, path, None, None);
            if !matches!(r.status, 500 | 503) || tries >= 30 {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(reqwest::Method::POST, path, None, Some(body))
    }

    /// PATCH with `If-Match` set to the object's current ETag.
    pub fn patch_current(&self, path: &str, body: &Value) -> Resp {
        let current = self.get(path).expect(200);
        let etag = current.etag.expect("an ETag on a versioned object");
        self.send(reqwest::Method::PATCH, path, Some(&etag), Some(body))
    }

    /// Every item of a list, following `next_cursor`; `query` is added to
    /// every page's request.
    pub fn list(&self, path: &str, query: &str) -> Vec<Value> {
        self.list_paged(path, query, 1000)
    }

    /// As [`Api::list`], `limit` items a page.
    pub fn list_paged(&self, path: &str, query: &str, limit: usize) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{path}?limit={limit}");
            if !query.is_empty() {
                url.push('&');
                url.push_str(query);
            }
            if let Some(c) = &cursor {
                url.push_str("&cursor=");
                url.push_str(c);
            }
            let page = self.get(&url).expect(200).body;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            out.extend(items);
            match page.get("next_cursor").and_then(Value::as_str) {
                Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
                _ => return out,
            }
        }
    }

    /// The whole audit log, optionally under one resource, read in pages of
    /// 25 (so a log of any size follows cursors); ids must strictly grow.
    pub fn audit(&self, resource: Option<&str>) -> Vec<Value> {
        let query = resource
            .map(|r| format!("resource={r}"))
            .unwrap_or_default();
        let log = self.list_paged("audit", &query, 25);
        let ids: Vec<u64> = log.iter().filter_map(|e| e["id"].as_u64()).collect();
        assert_eq!(ids.len(), log.len(), "audit events without an id: {log:#?}");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "audit ids do not strictly grow across pages: {ids:?}"
        );
        log
    }
}

/// Events of an audit log with the given action.
pub fn events<'a>(log: &'a [Value], action: &str) -> Vec<&'a Value> {
    log.iter().filter(|e| e["action"] == action).collect()
}

/// Resources created more than once in an audit log.
pub fn duplicate_creates(log: &[Value]) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for e in events(log, "create") {
        *seen
            .entry(e["resource"].as_str().unwrap_or("").to_owned())
            .or_insert(0) += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(r, n)| format!("{r} ({n} creates)"))
        .collect()
}
