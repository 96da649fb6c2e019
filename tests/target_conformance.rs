//! One conformance suite for every target: the same scenario runs against
//! the sandbox (the engine in-process) and the HTTP target (a real `tenet
//! serve` on 127.0.0.1 port 0, real SQLite in a temp dir), and both must read
//! the same live state and refuse the same things.

mod support;

use std::time::Duration;

use tenet::diff::{self, Action, Change};
use tenet::model::{Kind, Labels, Object, ObjectId, Profile, Stamp, live::MANAGED_LABEL};
use tenet::target::native::http::Http;
use tenet::target::native::sandbox::Sandbox;
use tenet::target::{AnyTarget, ErrorKind, Target, Write, WriteOp};
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

/// Sends a planned change as the executor would (no retries).
fn send(rt: &tokio::runtime::Runtime, target: &AnyTarget, c: &Change) -> Result<(), String> {
    let fields: Vec<&str> = c.fields.iter().map(|f| f.field.as_str()).collect();
    let w = tenet::apply::write_of(c, &fields, Some(&[]));
    rt.block_on(target.write(&w)).map_err(|e| e.to_string())
}

fn id(s: &str) -> ObjectId {
    ObjectId::parse(s).unwrap_or_else(|| panic!("{s} is not an id"))
}

fn workspace(slug: &str) -> Object {
    let checked_slug = tenet::model::Slug::parse(slug).unwrap_or_else(|e| panic!("{e}"));
    Object::Workspace(tenet::model::Workspace {
        slug: checked_slug,
        name: Some(slug.to_uppercase()),
        description: None,
        status: tenet::model::WorkspaceStatus::Active,
        labels: Labels::new(),
        prevent_destroy: false,
        quotas: tenet::model::Quotas::default(),
        settings: Default::default(),
    })
}

fn write<'a>(object: &'a ObjectId, op: WriteOp<'a>, labels: &'a Labels) -> Write<'a> {
    Write {
        object,
        op,
        expected: None,
        labels,
        unset_labels: &[],
        keys: None,
        sink: None,
        uploads: None,
    }
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
        assert_eq!(target.capabilities().kinds, &Kind::ALL, "{name}");
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
            capabilities: target.capabilities(),
            held: Vec::new(),
            scope: Default::default(),
        });
        assert!(plan.changes.len() > 70, "{name}: {}", plan.changes.len());
        // Run the changes in plan order, one by one, as typed writes.
        for c in &plan.changes {
            send(&rt, target, &c.change)
                .unwrap_or_else(|e| panic!("{name}: {} failed: {e}", c.change.object));
        }
        let live = rt
            .block_on(target.read(4))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(live.state.workspaces.len(), 5, "{name}");
        assert_eq!(live.state.users.len(), 20, "{name}");
        assert!(
            live.meta
                .values()
                .all(|m| m.stamp.version().is_some_and(|v| v >= 1)),
            "{name}"
        );
        assert!(
            live.meta
                .get(&id("workspaces/finance"))
                .is_some_and(|m| m.managed),
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
    let none = Labels::new();
    for (name, target) in &targets {
        let w = id("workspaces/w");
        let object = workspace("w");
        let create = write(&w, WriteOp::Create(&object), &none);
        rt.block_on(target.write(&create))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The same create again: a conflict.
        let e = rt
            .block_on(target.write(&create))
            .err()
            .unwrap_or_else(|| panic!("{name}: duplicate accepted"));
        assert_eq!(e.kind, ErrorKind::Conflict, "{name}: {e}");
        // A stale version: the precondition fails.
        let stale = Stamp::Version(7);
        let patch = Write {
            expected: Some(&stale),
            ..write(
                &w,
                WriteOp::Update {
                    desired: &object,
                    fields: &["name"],
                },
                &none,
            )
        };
        let e = rt
            .block_on(target.write(&patch))
            .err()
            .unwrap_or_else(|| panic!("{name}: stale accepted"));
        assert_eq!(e.kind, ErrorKind::PreconditionFailed, "{name}: {e}");
        assert!(!e.retryable(), "{name}");
        // Built-in roles are immutable.
        let admin = id("roles/administrator");
        let e = rt
            .block_on(target.write(&write(&admin, WriteOp::Delete, &none)))
            .err()
            .unwrap_or_else(|| panic!("{name}: built-in deleted"));
        assert_eq!(e.kind, ErrorKind::Conflict, "{name}: {e}");
        assert!(
            e.reason().contains("builtin-role"),
            "{name}: {}",
            e.reason()
        );
        // Probing: present with its version, absent as None.
        let probe = rt
            .block_on(target.probe(&w))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(probe.map(|p| p.stamp), Some(Stamp::Version(1)), "{name}");
        assert_eq!(
            rt.block_on(target.probe(&id("workspaces/none"))).ok(),
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
        assert_eq!(e.kind, ErrorKind::Locked, "{name}");
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
    let mut managed = Labels::new();
    managed.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
    for (name, target) in &targets {
        for slug in ["a", "b"] {
            let w = id(&format!("workspaces/{slug}"));
            let object = workspace(slug);
            rt.block_on(target.write(&write(&w, WriteOp::Create(&object), &managed)))
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
            send(&rt, target, c).unwrap_or_else(|e| panic!("{name}: {e}"));
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
