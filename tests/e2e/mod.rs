//! Harness of the end-to-end plan/apply tests (`tests/plan_apply.rs`): a
//! copy of an example config tree in a temporary directory ([`World`]),
//! run by the real `tenet` binary against either a temporary sandbox
//! database or a real `tenet serve` child on a free port, with the config
//! edits and the API calls those tests need (reads retried while a server
//! with `--fail-rate` fails them on purpose, and the whole audit log). The
//! binary, the server, tokens and the API client are the shared ones of
//! `tests/support`, which `plan_apply.rs` declares as `mod support`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

// Re-exported for the test files that use the harness; not each uses all.
#[allow(unused_imports)]
pub use crate::support::{
    Answer, Api, KEY_VARS, Run, ServeChild, copy_tree, edit, example, git, run, tenet, token,
};

/// The summary line of a plan without changes.
pub const NO_CHANGES: &str = "No changes. The platform matches the configuration.";

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

/// Where a test's config lives and which platform it targets.
pub enum Target {
    Sandbox,
    Http,
}

/// One test's world: a temporary directory holding a copy of an example
/// config (`cfg`), and a platform (a sandbox file or a server).
pub struct World {
    /// Declared first so it is dropped (killed) before the directory goes.
    pub server: Option<ServeChild>,
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
                // A new database takes the server's profile from the start.
                let profile = flags
                    .iter()
                    .position(|f| *f == "--profile")
                    .and_then(|i| flags.get(i + 1).copied());
                let token = match profile {
                    Some(p) => crate::support::token_with_profile(&db, "ci", "write", p),
                    None => token(&db, "ci", "write"),
                };
                let server = ServeChild::start(&db, flags);
                World {
                    endpoint: server.url.clone(),
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
        Api::new(&server.url, self.token.as_deref().expect("a token"))
    }

    pub fn server_stderr(&self) -> String {
        self.server
            .as_ref()
            .map(ServeChild::log)
            .unwrap_or_default()
    }
}

/// `PATH` under `/v1/` (a leading `/` is ignored).
fn v1(path: &str) -> String {
    format!("/v1/{}", path.trim_start_matches('/'))
}

/// The calls of these tests; paths are under `/v1/`.
impl Api {
    /// A GET, retried while the server answers 500 or 503 (a server with
    /// `--fail-rate` fails reads on purpose; a read changes nothing).
    pub fn get(&self, path: &str) -> Answer {
        let mut tries = 0;
        loop {
            tries += 1;
            let r = self.send(reqwest::Method::GET, &v1(path), None, None);
            if !matches!(r.status, 500 | 503) || tries >= 30 {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(reqwest::Method::POST, &v1(path), None, Some(body))
    }

    /// PATCH with `If-Match` set to the object's current ETag.
    pub fn patch_current(&self, path: &str, body: &Value) -> Answer {
        let current = self.get(path).expect(200);
        let etag = current.etag.expect("an ETag on a versioned object");
        self.send(reqwest::Method::PATCH, &v1(path), Some(&etag), Some(body))
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
