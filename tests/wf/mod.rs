//! Harness of the workflow tests (`tests/workflows.rs`): provider keys for
//! HTTP applies, real git repositories, the blocks of `tenet drift` output,
//! the audit log and the config files those tests read. The binary, git,
//! the server, tokens and the API client are the shared ones of
//! `tests/support`, which `workflows.rs` declares as `mod support`. Every
//! helper panics with the full output of what it ran, so a failure shows
//! what was said.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub use crate::support::{
    Answer, Api, KEY_VARS, Run, ServeChild, copy_tree, edit, example, git, run, tenet, token,
};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Sets every provider key variable to a dummy value (for HTTP applies).
pub fn with_keys(cmd: &mut Command) -> &mut Command {
    for k in KEY_VARS {
        cmd.env(k, format!("dummy-{}", k.to_lowercase()));
    }
    cmd
}

/// What only these tests read of a finished command.
impl Run {
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

/// Stages everything and commits.
pub fn commit_all(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// The calls of these tests; paths are whole (`/v1/...`).
impl Api {
    pub fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None, None)
    }

    pub fn patch(&self, path: &str, if_match: &str, body: &Value) -> Answer {
        self.send(reqwest::Method::PATCH, path, Some(if_match), Some(body))
    }

    pub fn put(&self, path: &str, if_match: &str, body: &Value) -> Answer {
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
            let page = self.get(&format!("/v1/audit?{qs}")).expect(200).body;
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
