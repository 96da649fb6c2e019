//! One conformance suite for every target: the same scenario runs against
//! the sandbox (the engine in-process) and the HTTP target (a real `tenet
//! serve` on 127.0.0.1 port 0, real SQLite in a temp dir), and both must read
//! the same live state and refuse the same things.

mod support;

use std::time::Duration;

use tenet::diff::{self, Action};
use tenet::model::{Kind, Profile, live::MANAGED_LABEL};
use tenet::pipeline::AnyTarget;
use tenet::target::http::Http;
use tenet::target::sandbox::Sandbox;
use tenet::target::{Target, convert};
use tenet::validate::check_tree;

use support::ServeChild;

/// A `tenet serve` on a free port (the guard) with a write token, and both
/// targets.
fn targets(dir: &std::path::Path) -> (ServeChild, Vec<(&'static str, AnyTarget)>) {
    let db = dir.join("p.db");
    let token = support::token(&db, "ci", "write");
    let server = ServeChild::start(&db, &[]);
    let url = &server.url;
    let sandbox = Sandbox::open("sandbox:test", &dir.join("sandbox.db"), Profile::M3forge)
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let http = Http::new(url, url, Some(token)).unwrap_or_else(|e| panic!("http: {e}"));
    (
        server,
        vec![
            ("sandbox", AnyTarget::Sandbox(Box::new(sandbox))),
            ("http", AnyTarget::Http(http)),
        ],
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

#[test]
fn every_target_holds_the_example_and_reads_it_back_the_same() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_server, targets) = targets(dir.path());
    let checked = check_tree(std::path::Path::new("examples/acme"), None);
    assert!(!checked.has_errors());
    let rt = runtime();
    let mut reads = Vec::new();
    for (name, target) in &targets {
        assert_eq!(target.supported(), &Kind::ALL, "{name}");
        let catalog = rt
            .block_on(target.catalog())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(catalog.profile, Profile::M3forge, "{name}");
        let live = rt
            .block_on(target.read(4))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(live.state.workspaces.is_empty(), "{name}: starts empty");
        let d = diff::diff(&checked.config, &live, &diff::Options::default());
        let plan = tenet::plan::build(tenet::plan::Inputs {
            config: &checked.config,
            catalog: &catalog,
            live: &live,
            diff: d,
            endpoint: name.to_string(),
            config_root: "examples/acme".into(),
            config_digest: checked.loaded.digest(),
            git: None,
            unsupported: Vec::new(),
            warnings: Vec::new(),
        });
        assert!(plan.changes.len() > 70, "{name}: {}", plan.changes.len());
        // Run the changes in plan order, one by one, through `execute`.
        for c in &plan.changes {
            let op = convert::op(&c.change, Some(&[]));
            rt.block_on(target.execute(&op))
                .unwrap_or_else(|e| panic!("{name}: {} failed: {e}", c.change.resource));
        }
        let live = rt
            .block_on(target.read(4))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(live.state.workspaces.len(), 5, "{name}");
        assert_eq!(live.state.users.len(), 20, "{name}");
        assert!(live.meta.values().all(|m| m.version >= 1), "{name}");
        assert!(
            live.meta
                .get("workspaces/finance")
                .is_some_and(|m| m.labels.get(MANAGED_LABEL).is_some_and(|v| v == "true")),
            "{name}: managed label written"
        );
        // Nothing left to do.
        let again = diff::diff(&checked.config, &live, &diff::Options::default());
        assert!(
            again.changes.is_empty(),
            "{name}: {:?}",
            again.changes.first()
        );
        reads.push(live.state);
    }
    assert_eq!(reads[0], reads[1], "both targets read the same state");
}

#[test]
fn every_target_refuses_the_same_way() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_server, targets) = targets(dir.path());
    let rt = runtime();
    for (name, target) in &targets {
        let create = convert::Op::Create {
            collection: "workspaces".into(),
            body: serde_json::json!({"slug": "w", "name": "W"}),
        };
        rt.block_on(target.execute(&create))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The same create again: 409 already-exists.
        let e = rt
            .block_on(target.execute(&create))
            .err()
            .unwrap_or_else(|| panic!("{name}: duplicate accepted"));
        assert_eq!(
            (e.status, e.code.as_str()),
            (Some(409), "already-exists"),
            "{name}"
        );
        // A stale version: 412.
        let patch = convert::Op::Patch {
            resource: "workspaces/w".into(),
            version: Some(7),
            body: serde_json::json!({"name": "X"}),
        };
        let e = rt
            .block_on(target.execute(&patch))
            .err()
            .unwrap_or_else(|| panic!("{name}: stale accepted"));
        assert_eq!(
            (e.status, e.code.as_str()),
            (Some(412), "version-mismatch"),
            "{name}"
        );
        assert!(!e.retryable(), "{name}");
        // Built-in roles are immutable.
        let del = convert::Op::Delete {
            resource: "roles/administrator".into(),
            version: None,
        };
        let e = rt
            .block_on(target.execute(&del))
            .err()
            .unwrap_or_else(|| panic!("{name}: built-in deleted"));
        assert_eq!(
            (e.status, e.code.as_str()),
            (Some(409), "builtin-role"),
            "{name}"
        );
        // Probing: present with its version, absent as None.
        let probe = rt
            .block_on(target.probe("workspaces/w"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(probe.map(|p| p.0), Some(1), "{name}");
        assert_eq!(
            rt.block_on(target.probe("workspaces/none")).ok(),
            Some(None),
            "{name}"
        );
        // Locks: held by one holder, refused to another, released.
        rt.block_on(target.lock("l", "a", Duration::from_secs(60)))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let e = rt
            .block_on(target.lock("l", "b", Duration::from_secs(60)))
            .err()
            .unwrap_or_else(|| panic!("{name}: lock shared"));
        assert_eq!(e.code, "lock-held", "{name}");
        assert!(e.message.contains('a') || e.status == Some(409), "{name}");
        rt.block_on(target.unlock("l", "a"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        rt.block_on(target.lock("l", "b", Duration::from_secs(60)))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn archive_and_delete_reach_both_targets() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_server, targets) = targets(dir.path());
    let rt = runtime();
    for (name, target) in &targets {
        for slug in ["a", "b"] {
            let op = convert::Op::Create {
                collection: "workspaces".into(),
                body: serde_json::json!({"slug": slug, "labels": {MANAGED_LABEL: "true"}}),
            };
            rt.block_on(target.execute(&op))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let live = rt
            .block_on(target.read(2))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let config = tenet::model::Config::default();
        let d = diff::diff(&config, &live, &diff::Options::default());
        let actions: Vec<Action> = d.changes.iter().map(|c| c.action).collect();
        assert_eq!(
            actions,
            vec![Action::Archive, Action::Archive],
            "{name}: removal archives by default"
        );
        for c in &d.changes {
            rt.block_on(target.execute(&convert::op(c, None)))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let live = rt
            .block_on(target.read(2))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            live.state
                .workspaces
                .values()
                .all(|w| w.status == tenet::model::WorkspaceStatus::Archived),
            "{name}"
        );
        assert!(
            diff::diff(&config, &live, &diff::Options::default())
                .changes
                .is_empty(),
            "{name}: archived stays archived"
        );
    }
}
