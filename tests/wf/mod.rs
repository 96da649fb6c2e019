//! Harness of the workflow tests (`tests/workflows.rs`): runs the real
//! `tenet` binary with a quiet, colourless, CI-free environment (no endpoint,
//! token or provider keys inherited), builds real git repositories with the
//! `git` CLI, starts real `tenet serve` children on free ports (killed on
//! drop), and talks to their HTTP API directly with reqwest on a private
//! runtime for out-of-band changes and the audit log. Every helper panics
//! with the full output of what it ran, so a failure shows what was said.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/NAME` of the repository.
pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

/// A `tenet` command that inherits nothing changing its behaviour.
pub fn tenet() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenet"));
    cmd.env("NO_COLOR", "1")
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

/// Sets every provider key variable to a dummy value (for HTTP applies).
pub fn with_keys(cmd: &mut Command) -> &mut Command {
    for k in KEY_VARS {
        cmd.env(k, format!("dummy-{}", k.to_lowercase()));
    }
    cmd
}

/// A finished command.
#[derive(Debug, Clone)]
pub struct Run {
    pub what: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "`{}` exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    /// Panics unless the exit code is exactly `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "expected exit {code}: {}", self.show());
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}: {}",
            self.show()
        );
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, needle: &str) -> &Run {
        assert!(
            !self.stdout.contains(needle),
            "stdout has {needle:?}: {}",
            self.show()
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {}",
            self.show()
        );
        self
    }

    /// Stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.show()))
    }

    /// The lines of the stdout block that starts with the line `head`
    /// (trimmed) and ends before the next line indented no deeper.
    #[track_caller]
    pub fn block(&self, head: &str) -> Vec<String> {
        let lines: Vec<&str> = self.stdout.lines().collect();
        let Some(i) = lines.iter().position(|l| l.trim() == head) else {
            panic!("no line {head:?}: {}", self.show());
        };
        let indent = |l: &str| l.len() - l.trim_start().len();
        let depth = indent(lines[i]);
        lines[i + 1..]
            .iter()
            .take_while(|l| !l.trim().is_empty() && indent(l) > depth)
            .map(|l| l.trim().to_owned())
            .collect()
    }
}

/// Runs a command to completion.
pub fn run(mut cmd: Command) -> Run {
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let what = format!("{} {}", cmd.get_program().to_string_lossy(), args.join(" "));
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{what}`: {e}"));
    Run {
        what,
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Copies a directory tree, leaving out any `.tenet` sandbox directory.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let ty = entry.file_type().unwrap();
        let target = to.join(entry.file_name());
        if ty.is_dir() {
            if entry.file_name() != ".tenet" {
                copy_tree(&entry.path(), &target);
            }
        } else if ty.is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Replaces the single occurrence of `from` in `path` with `to`.
#[track_caller]
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} must occur once in {}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Appends text to a file.
pub fn append(path: &Path, text: &str) {
    let mut old =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    old.push_str(text);
    std::fs::write(path, old).unwrap();
}

/// The 1-based number of the only line of `path` containing `needle`.
#[track_caller]
pub fn line_of(path: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "{needle:?} in {}: lines {hits:?}",
        path.display()
    );
    hits[0]
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

/// Stages everything and commits.
pub fn commit_all(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// `tenet serve token create NAME --scope SCOPE --db DB`: the token.
#[track_caller]
pub fn token(db: &Path, name: &str, scope: &str) -> String {
    let mut cmd = tenet();
    cmd.args(["serve", "token", "create", name, "--scope", scope, "--db"])
        .arg(db);
    let r = run(cmd);
    r.code(0);
    let t = r.stdout.trim().to_owned();
    assert!(
        !t.is_empty() && !t.contains(char::is_whitespace) && r.stdout.lines().count() == 1,
        "token create printed {:?}",
        r.stdout
    );
    t
}

/// A `tenet serve` child on a free port, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    pub db: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(db: &Path) -> Server {
        let mut cmd = tenet();
        cmd.arg("serve")
            .arg("--db")
            .arg(db)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start tenet serve");
        let pipe = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("tenet serve: listening on ")
                    && let Some(t) = tx.take()
                {
                    let _ = t.send(rest.split_whitespace().next().unwrap_or("").to_owned());
                }
                let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        let Ok(url) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tenet serve never said where it listens:\n{}",
                log.lock().map(|s| s.clone()).unwrap_or_default()
            );
        };
        assert!(url.starts_with("http://127.0.0.1:"), "odd address {url:?}");
        Server {
            child,
            url,
            db: db.to_path_buf(),
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    pub fn ok(self, status: u16) -> Resp {
        assert_eq!(self.status, status, "unexpected answer: {self:?}");
        self
    }

    #[track_caller]
    pub fn etag(&self) -> String {
        self.etag
            .clone()
            .unwrap_or_else(|| panic!("no ETag: {self:?}"))
    }
}

/// The platform API with one token.
pub struct Api {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(url: &str, token: &str) -> Api {
        Api {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            base: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        if_match: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(20));
        if let Some(m) = if_match {
            req = req.header("If-Match", m);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        self.rt.block_on(async {
            let r = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let status = r.status().as_u16();
            let etag = r
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let text = r.text().await.unwrap_or_default();
            let body = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            Resp { status, etag, body }
        })
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None, None)
    }

    pub fn patch(&self, path: &str, if_match: &str, body: &Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, Some(if_match), Some(body))
    }

    pub fn put(&self, path: &str, if_match: &str, body: &Value) -> Resp {
        self.send(reqwest::Method::PUT, path, Some(if_match), Some(body))
    }

    /// Every audit event (all pages), optionally of one resource.
    pub fn audit(&self, resource: Option<&str>) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = vec![("limit", "1000".to_owned())];
            if let Some(r) = resource {
                q.push(("resource", r.to_owned()));
            }
            if let Some(c) = &cursor {
                q.push(("cursor", c.clone()));
            }
            let qs = serde_urlencoded::to_string(&q).unwrap();
            let page = self.get(&format!("/v1/audit?{qs}")).ok(200).body;
            out.extend(page["items"].as_array().expect("items").iter().cloned());
            match page.get("next_cursor").and_then(Value::as_str) {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }
}

/// A string array of a JSON value, as owned strings.
#[track_caller]
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_owned()
        })
        .collect()
}

/// `resource` of every item of a JSON array, in order.
#[track_caller]
pub fn resources(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|c| c["resource"].as_str().expect("resource").to_owned())
        .collect()
}

/// Parses a TOML file as JSON.
#[track_caller]
pub fn toml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: toml::Value =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::to_value(v).unwrap()
}

/// Merges the top-level tables of every `*.toml` below `dir` (one level of
/// nesting per section: `workspaces`, `users`, `roles`, `teams`...).
pub fn merged_config(dir: &Path) -> BTreeMap<String, serde_json::Map<String, Value>> {
    let mut out: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != ".tenet") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "toml")
                && let Value::Object(top) = toml_file(&p)
            {
                for (section, v) in top {
                    if let Value::Object(m) = v {
                        out.entry(section).or_default().extend(m);
                    }
                }
            }
        }
    }
    out
}
