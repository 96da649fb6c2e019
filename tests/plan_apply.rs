//! End-to-end tests of `tenet plan` and `tenet apply` with the real binary:
//! each test copies `examples/acme` (or `examples/acme-kdl`) into a temporary
//! directory and points it at a fresh platform, either an embedded sandbox
//! database or a real `tenet serve` child process on a free port (some with
//! injected faults, latency or a rate limit). Out-of-band changes and the
//! audit log go through the platform's HTTP API. The tests pin the exit
//! codes (plan: 0 no changes, 2 changes, 1 error; apply: 0 ok, 1 failed or
//! refused), convergence, saved-plan refusals, retries without duplicate
//! creates, secret hygiene, the destroy threshold, administrator hand-over
//! order, skip-on-failure, the apply lock, the terminal check and adoption.

#[path = "e2e/mod.rs"]
mod e2e;
mod support;

use std::path::Path;
use std::process::Stdio;

use e2e::{Target, World, duplicate_creates, events, git, run};
use serde_json::{Value, json};

/// The counts of a `Plan: C to create, U to update, ...` line in `text`.
fn plan_counts(text: &str) -> (usize, usize, usize, usize) {
    let line = text
        .lines()
        .find(|l| l.starts_with("Plan: "))
        .unwrap_or_else(|| panic!("no `Plan:` line in\n{text}"));
    let n = |word: &str| -> usize {
        line.split(", ")
            .find(|p| p.contains(&format!("to {word}")))
            .and_then(|p| p.trim_start_matches("Plan: ").split(' ').next())
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("no `to {word}` count in {line:?}"))
    };
    (n("create"), n("update"), n("archive"), n("delete"))
}

/// The change lines of a text plan (`  ~ workspaces/finance`).
fn change_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            let rest = l.strip_prefix("  ").unwrap_or("");
            !rest.starts_with(' ')
                && ["+ ", "~ ", "- ", "! "].iter().any(|s| rest.starts_with(s))
                && rest.contains('/')
        })
        .collect()
}

/// Resources the JSON plan of a fresh platform would create.
fn creates_of(plan: &Value) -> Vec<String> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "create")
        .map(|c| c["resource"].as_str().expect("resource").to_owned())
        .collect()
}

/// The created resources recorded in an audit log, sorted.
fn created_in(log: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = events(log, "create")
        .iter()
        .map(|e| e["resource"].as_str().unwrap_or("").to_owned())
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// 1. Apply converges; a second plan and apply find nothing to do.
// ---------------------------------------------------------------------------

fn converges(example: &str, target: Target) {
    let http = matches!(target, Target::Http);
    let w = World::new(example, target);
    let first = w.apply_ok();
    let (create, update, archive, delete) = plan_counts(&first.stdout);
    assert!(
        create > 0,
        "a fresh platform needs creates:\n{}",
        first.stdout
    );
    assert_eq!((archive, delete), (0, 0), "{}", first.stdout);
    first.stdout_has(&format!(
        "Apply complete: {} applied, 0 failed, 0 skipped.",
        create + update
    ));

    w.assert_clean();
    let again = w.apply(&["--auto-approve"]);
    again.code(0).has("No changes");
    assert!(
        !again.stdout.contains("Apply complete"),
        "a second apply must apply nothing:\n{}",
        again.stdout
    );

    if http {
        let log = w.api().audit(None);
        assert_eq!(
            log.len(),
            create + update,
            "one audit event per change, none from the second apply"
        );
        assert_eq!(events(&log, "create").len(), create);
        assert!(duplicate_creates(&log).is_empty(), "{log:#?}");
        assert!(events(&log, "delete").is_empty());
    }
}

#[test]
fn toml_example_converges_on_sandbox() {
    converges("acme", Target::Sandbox);
}

#[test]
fn toml_example_converges_over_http() {
    converges("acme", Target::Http);
}

#[test]
fn kdl_example_converges_on_sandbox() {
    converges("acme-kdl", Target::Sandbox);
}

#[test]
fn kdl_example_converges_over_http() {
    converges("acme-kdl", Target::Http);
}

/// The KDL example is the TOML example: after applying one, the other plans
/// no change on the same platform.
#[test]
fn kdl_example_plans_clean_on_a_platform_made_from_toml() {
    let w = World::new("acme", Target::Sandbox);
    w.apply_ok();
    let kdl = w.path("acme-kdl");
    e2e::copy_tree(&e2e::example("acme-kdl"), &kdl);
    let mut cmd = w.bare();
    cmd.arg("plan").arg(&kdl).arg("--endpoint").arg(&w.endpoint);
    run(cmd).code(0).stdout_has(e2e::NO_CHANGES);
}

// ---------------------------------------------------------------------------
// 2. One edit, one change, in every format.
// ---------------------------------------------------------------------------

struct OneEdit<'a> {
    file: &'a str,
    from: &'a str,
    to: &'a str,
    resource: &'a str,
    field: &'a str,
    /// The field line of the text plan.
    shown: &'a str,
    before: Value,
    after: Value,
}

fn one_edit_one_change(example: &str, target: Target, e: OneEdit<'_>) {
    let w = World::new(example, target);
    w.apply_ok();
    e2e::edit(&w.file(e.file), e.from, e.to);

    let text = w.plan(&[]);
    text.code(2);
    let lines = change_lines(&text.stdout);
    let symbol_line = format!("  ~ {}", e.resource);
    assert_eq!(lines, [symbol_line.as_str()], "{}", text.stdout);
    text.stdout_has(&format!("      {}\n", e.shown))
        .stdout_has("Plan: 0 to create, 1 to update, 0 to archive, 0 to delete.");

    let json = w.plan(&["--format", "json"]);
    json.code(2);
    let v = json.json();
    let changes = v["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{v:#}");
    assert_eq!(changes[0]["resource"], e.resource);
    assert_eq!(changes[0]["action"], "update");
    let fields = changes[0]["fields"].as_array().expect("fields");
    assert_eq!(fields.len(), 1, "{v:#}");
    assert_eq!(fields[0]["field"], e.field);
    assert_eq!(fields[0]["before"], e.before);
    assert_eq!(fields[0]["after"], e.after);
    assert_eq!(fields[0]["sensitive"], false);
    assert_eq!(
        v["summary"],
        json!({"create": 0, "update": 1, "adopt": 0, "rename": 0, "archive": 0, "delete": 0})
    );
    assert_eq!(v["no_changes"], false);

    let md = w.plan(&["--format", "markdown"]);
    md.code(2)
        .stdout_has("**Plan: 0 to create, 1 to update, 0 to archive, 0 to delete.**")
        .stdout_has(
            "| Kind | Create | Update | Archive | Delete |\n| :-- | --: | --: | --: | --: |\n",
        );
    let kind = e
        .resource
        .split('/')
        .find(|s| *s == "memberships")
        .unwrap_or("workspaces");
    md.stdout_has(&format!("| {kind} | 0 | 1 | 0 | 0 |"));

    // And it applies as shown.
    let applied = w.apply_ok();
    applied.stdout_has("Apply complete: 1 applied, 0 failed, 0 skipped.");
    w.assert_clean();
}

fn description_edit(file: &'static str) -> OneEdit<'static> {
    OneEdit {
        file,
        from: "\"Invoice processing and accounts-payable automation.\"",
        to: "\"Invoices and payables.\"",
        resource: "workspaces/finance",
        field: "description",
        shown: "description: \"Invoice processing and accounts-payable automation.\" -> \"Invoices and payables.\"",
        before: json!("Invoice processing and accounts-payable automation."),
        after: json!("Invoices and payables."),
    }
}

fn roles_edit(file: &'static str, from: &'static str, to: &'static str) -> OneEdit<'static> {
    OneEdit {
        file,
        from,
        to,
        resource: "workspaces/finance/memberships/claude.shannon@acme.example",
        field: "roles",
        shown: "roles: [editor] -> [member]",
        before: json!(["editor"]),
        after: json!(["member"]),
    }
}

#[test]
fn toml_description_edit_is_one_change_on_sandbox() {
    one_edit_one_change(
        "acme",
        Target::Sandbox,
        description_edit("workspaces/finance.toml"),
    );
}

#[test]
fn kdl_description_edit_is_one_change_on_sandbox() {
    one_edit_one_change(
        "acme-kdl",
        Target::Sandbox,
        description_edit("workspaces/finance.kdl"),
    );
}

#[test]
fn toml_member_roles_edit_is_one_change_over_http() {
    one_edit_one_change(
        "acme",
        Target::Http,
        roles_edit(
            "workspaces/finance.toml",
            "\"claude.shannon@acme.example\" = [\"editor\"]",
            "\"claude.shannon@acme.example\" = [\"member\"]",
        ),
    );
}

#[test]
fn kdl_member_roles_edit_is_one_change_over_http() {
    one_edit_one_change(
        "acme-kdl",
        Target::Http,
        roles_edit(
            "workspaces/finance.kdl",
            "member \"claude.shannon@acme.example\" editor",
            "member \"claude.shannon@acme.example\" member",
        ),
    );
}

// ---------------------------------------------------------------------------
// 3. Saved plans apply exactly, and refuse when anything moved.
// ---------------------------------------------------------------------------

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

#[test]
fn saved_plan_applies_exactly_and_refuses_when_anything_moved() {
    let w = World::new("acme", Target::Http);
    let api = w.api();

    // A saved plan of the fresh platform applies and converges.
    let p1 = w.path("plan1.json");
    w.plan(&["--out", p1.to_str().unwrap()])
        .code(2)
        .stderr_has("Saved the plan to");
    let saved = read_json(&p1);
    assert_eq!(saved["endpoint"], w.endpoint.as_str());
    let text = std::fs::read_to_string(&p1).unwrap();
    for (var, value) in &w.keys {
        assert!(
            !text.contains(value.as_str()),
            "the plan file holds ${var}'s value"
        );
    }
    w.apply_file(&p1, &[])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    w.assert_clean();
    // Applying the same plan again: everything it read has moved.
    let before = api.audit(None).len();
    w.apply_file(&p1, &[]).code(1).has("nothing was changed");
    assert_eq!(api.audit(None).len(), before);

    // A new plan; the object it updates moves out of band.
    e2e::edit(
        &w.file("workspaces/finance.toml"),
        "\"Invoice processing and accounts-payable automation.\"",
        "\"Invoices and payables.\"",
    );
    let p2 = w.path("plan2.json");
    w.plan(&["--out", p2.to_str().unwrap()]).code(2);
    api.patch_current("workspaces/finance", &json!({"name": "Finance (renamed)"}))
        .expect(200);
    let before = api.audit(None).len();
    w.apply_file(&p2, &[])
        .code(1)
        .stderr_has("nothing was changed")
        .stderr_has("workspaces/finance: version");
    assert_eq!(
        api.audit(None).len(),
        before,
        "a refused plan writes nothing"
    );
    let finance = api.get("workspaces/finance").expect(200).body;
    assert_eq!(
        finance["description"],
        "Invoice processing and accounts-payable automation."
    );

    // A new plan; an object it does not write moves out of band: refused
    // too (the plan holds one digest of everything else it read).
    let p2b = w.path("plan2b.json");
    w.plan(&["--out", p2b.to_str().unwrap()]).code(2);
    let grace = "users/grace.hopper@acme.example";
    api.patch_current(grace, &json!({"name": "Grace B. Hopper"}))
        .expect(200);
    w.apply_file(&p2b, &[])
        .code(1)
        .stderr_has("objects this plan does not write changed")
        .stderr_has("nothing was changed");
    assert_eq!(
        api.audit(None).len(),
        before + 1,
        "only the out-of-band edit"
    );
    // Put back as it was: the same content, no drift.
    api.patch_current(grace, &json!({"name": "Grace Hopper"}))
        .expect(200);
    let before = api.audit(None).len();

    // A new plan, then a file changes: refused.
    let p3 = w.path("plan3.json");
    w.plan(&["--out", p3.to_str().unwrap()]).code(2);
    e2e::edit(
        &w.file("users.toml"),
        "name = \"Donald Knuth\"",
        "name = \"Donald E. Knuth\"",
    );
    w.apply_file(&p3, &[])
        .code(1)
        .stderr_has("changed since the plan was made")
        .stderr_has("nothing was changed");
    assert_eq!(api.audit(None).len(), before);

    // A plan applies only where it was made.
    let p4 = w.path("plan4.json");
    w.plan(&["--out", p4.to_str().unwrap()]).code(2);
    let other_db = w.path("other.db");
    let other = format!("sandbox:{}", other_db.display());
    w.apply_file(&p4, &["--endpoint", &other])
        .code(1)
        .stderr_has("nothing was changed");
    assert!(!other_db.exists(), "the other platform must not be touched");
    assert_eq!(api.audit(None).len(), before);

    // The fresh plan still applies, and exactly: the name comes back, the
    // description and Donald's name change.
    w.apply_file(&p4, &["--endpoint", &w.endpoint])
        .code(0)
        .stdout_has("Apply complete: 2 applied, 0 failed, 0 skipped.");
    w.assert_clean();
    let finance = api.get("workspaces/finance").expect(200).body;
    assert_eq!(finance["name"], "Finance");
    assert_eq!(finance["description"], "Invoices and payables.");
}

/// A plan made in a git repository records its commit and whether the tree
/// was dirty; a commit after the plan makes `apply PLAN` refuse.
#[test]
fn saved_plan_records_git_and_refuses_after_a_new_commit() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    git(&w.cfg, &["init", "-q"]);
    git(&w.cfg, &["add", "-A"]);
    git(&w.cfg, &["commit", "-q", "-m", "acme"]);
    let head = git(&w.cfg, &["rev-parse", "HEAD"]);

    let clean = w.path("clean.json");
    w.plan(&["--out", clean.to_str().unwrap()]).code(2);
    let saved = read_json(&clean);
    assert_eq!(saved["git"]["commit"], head.as_str());
    assert_eq!(saved["git"]["dirty"], false);

    e2e::edit(
        &w.file("users.toml"),
        "name = \"Donald Knuth\"",
        "name = \"Donald E. Knuth\"",
    );
    let dirty = w.path("dirty.json");
    w.plan(&["--out", dirty.to_str().unwrap()]).code(2);
    assert_eq!(read_json(&dirty)["git"]["commit"], head.as_str());
    assert_eq!(read_json(&dirty)["git"]["dirty"], true);

    git(&w.cfg, &["commit", "-q", "-am", "Donald's full name"]);
    for stale in [&clean, &dirty] {
        w.apply_file(stale, &[])
            .code(1)
            .stderr_has("nothing was changed");
    }
    assert!(api.audit(None).is_empty(), "a refused plan writes nothing");

    let fresh = w.path("fresh.json");
    w.plan(&["--out", fresh.to_str().unwrap()]).code(2);
    assert_eq!(read_json(&fresh)["git"]["dirty"], false);
    w.apply_file(&fresh, &[])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    w.assert_clean();
    let donald = api.get("users/donald.knuth@acme.example").expect(200).body;
    assert_eq!(donald["name"], "Donald E. Knuth");
}

/// `tenet plan --out` without `--endpoint` records the files' endpoint, a
/// sandbox path relative to the config root; `tenet apply PLAN` must apply
/// to that same platform, wherever it is run from.
#[test]
fn saved_plan_with_the_files_endpoint_applies_to_that_platform() {
    let w = World::new("acme", Target::Sandbox);
    let saved = w.path("plan.json");
    let mut cmd = w.bare();
    cmd.arg("plan").arg(&w.cfg).arg("--out").arg(&saved);
    run(cmd).code(2);
    assert!(w.file(".tenet/acme.db").exists(), "the files' sandbox");
    // Spelled from the working directory, so it names the same database
    // wherever the plan is applied from.
    let endpoint = read_json(&saved)["endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        endpoint.starts_with("sandbox:") && endpoint.ends_with(".tenet/acme.db"),
        "{endpoint}"
    );

    w.apply_file(&saved, &[])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    let mut cmd = w.bare();
    cmd.arg("plan").arg(&w.cfg);
    run(cmd).code(0).stdout_has(e2e::NO_CHANGES);
    assert!(
        !w.path(".tenet").exists(),
        "apply made another sandbox in its working directory"
    );
}

// ---------------------------------------------------------------------------
// 4. Injected faults: retries, no duplicate creates.
// ---------------------------------------------------------------------------

/// Seeds of the server's fault sequence. With `--fail-rate 0.3` these have
/// no run of more than 4 failures in their first 1,500 draws, so a request
/// alone in flight cannot lose all of tenet's 6 attempts to faults.
const FAULT_SEEDS: [u64; 3] = [21, 24, 28];

fn survives_faults(seed: u64) {
    // What a fresh platform needs, from a fault-free sandbox plan.
    let fresh = World::new("acme", Target::Sandbox);
    let expected = fresh.plan(&["--format", "json"]);
    expected.code(2);
    let mut expected = creates_of(&expected.json());
    expected.sort();

    let seed = seed.to_string();
    let w = World::with_server_flags(
        "acme",
        Target::Http,
        &["--fail-rate", "0.3", "--seed", &seed],
    );
    let first = w.apply(&["--auto-approve"]);
    first.code(0).stdout_has(", 0 failed, 0 skipped.");
    let again = w.apply(&["--auto-approve"]);
    again.code(0).has("No changes");
    w.assert_clean();

    let log = w.api().audit(None);
    assert!(
        duplicate_creates(&log).is_empty(),
        "seed {seed}: created twice: {:?}",
        duplicate_creates(&log)
    );
    assert_eq!(
        created_in(&log),
        expected,
        "seed {seed}: one create per created resource"
    );
    assert!(events(&log, "delete").is_empty(), "seed {seed}: no deletes");
    assert!(
        w.server_stderr().contains("status=50"),
        "seed {seed}: the server injected no fault"
    );
}

#[test]
fn apply_survives_injected_faults_without_duplicate_creates() {
    let handles: Vec<_> = FAULT_SEEDS
        .iter()
        .map(|&s| std::thread::spawn(move || survives_faults(s)))
        .collect();
    let mut failures = Vec::new();
    for (seed, h) in FAULT_SEEDS.iter().zip(handles) {
        if let Err(e) = h.join() {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("seed {seed}: {msg}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Drift correction and key rotation under faults: updates whose desired
/// object did not change (so their `tenet.dev/last-applied` digest is the
/// one already on the object) must still land, or be reported as failed.
#[test]
fn drift_correction_survives_injected_faults() {
    let mut w = World::new("acme", Target::Http);
    w.apply_ok();
    let api = w.api();
    let users = api.list("users", "");
    let workspaces = api.list("workspaces", "");
    for u in &users {
        let email = u["email"].as_str().unwrap();
        api.patch_current(&format!("users/{email}"), &json!({"name": "Drifted"}))
            .expect(200);
    }
    for ws in &workspaces {
        let slug = ws["slug"].as_str().unwrap();
        api.patch_current(
            &format!("workspaces/{slug}"),
            &json!({"description": "Drifted"}),
        )
        .expect(200);
    }
    // And a key rotation, whose desired object (references only) is
    // unchanged too.
    w.set_key("AZURE_OPENAI_KEY_1", "test-rotated-azure-key");
    let drifted = users.len() + workspaces.len() + 1;
    w.plan(&[]).code(2).stdout_has(&format!(
        "Plan: 0 to create, {drifted} to update, 0 to archive, 0 to delete."
    ));

    // The same platform, now failing 30% of requests.
    let db = w.server.as_ref().unwrap().db.clone();
    drop(api);
    w.server = None;
    let faulty = e2e::ServeChild::start(&db, &["--fail-rate", "0.3", "--seed", "24"]);
    w.endpoint = faulty.url.clone();
    w.server = Some(faulty);
    let applied = w.apply(&["--auto-approve"]);
    applied.code(0);
    w.server = None;

    // What the platform holds now, read without faults.
    let mut cmd = w.bare();
    cmd.arg("plan")
        .arg(&w.cfg)
        .arg("--endpoint")
        .arg(format!("sandbox:{}", db.display()));
    let after = run(cmd);
    assert_eq!(
        after.code,
        0,
        "apply said {:?}, but these still differ:\n{}",
        applied.stdout.lines().last().unwrap_or(""),
        change_lines(&after.stdout).join("\n")
    );
}

// ---------------------------------------------------------------------------
// 5. No secret value anywhere.
// ---------------------------------------------------------------------------

/// Panics if `text` holds `secret` or any 12-character slice of it.
#[track_caller]
fn assert_no_secret(what: &str, text: &str, secret: &str) {
    let chars: Vec<char> = secret.chars().collect();
    for window in chars.windows(12) {
        let slice: String = window.iter().collect();
        assert!(
            !text.contains(&slice),
            "{what} leaks {slice:?} of the secret:\n{text}"
        );
    }
}

fn canary() -> String {
    format!("sk-canary-{}", e2e::random_alnum(24))
}

#[test]
fn secret_values_never_leave_the_process() {
    let mut w = World::new("acme", Target::Http);
    let first = canary();
    w.set_key("AZURE_OPENAI_KEY_1", &first);
    let out = w.path("plan.json");
    let mut seen: Vec<(String, String)> = Vec::new();
    for args in [
        &["-vv"][..],
        &["-vv", "--format", "json"],
        &["-vv", "--format", "markdown"],
        &["-vv", "--out", out.to_str().unwrap()],
    ] {
        let r = w.plan(args);
        r.code(2);
        seen.push((r.what.clone(), r.all()));
    }
    seen.push((
        "plan file".to_owned(),
        std::fs::read_to_string(&out).unwrap(),
    ));
    let applied = w.apply(&["-vv", "--auto-approve"]);
    applied.code(0);
    seen.push((applied.what.clone(), applied.all()));

    // Rotate: the plan shows that the key changed, never what to.
    let second = canary();
    w.set_key("AZURE_OPENAI_KEY_1", &second);
    let rotated = w.plan(&["-vv"]);
    rotated.code(2);
    let lines = change_lines(&rotated.stdout);
    assert_eq!(lines, ["  ~ providers/azure-openai"], "{}", rotated.stdout);
    rotated.stdout_has("      api_keys: key rotated (sensitive values not shown)\n");
    seen.push((rotated.what.clone(), rotated.all()));
    let json = w.plan(&["--format", "json"]);
    json.code(2);
    let field = &json.json()["changes"][0]["fields"][0];
    assert_eq!(field["field"], "api_keys");
    assert_eq!(field["sensitive"], true);
    assert_eq!(
        (&field["before"], &field["after"]),
        (&Value::Null, &Value::Null)
    );
    seen.push((json.what.clone(), json.all()));
    // -vvv: debug logs of every crate, the HTTP client's included.
    let applied = w.apply(&["-vvv", "--auto-approve"]);
    applied
        .code(0)
        .stdout_has("Apply complete: 1 applied, 0 failed, 0 skipped.");
    seen.push((applied.what.clone(), applied.all()));
    w.assert_clean();

    let api = w.api();
    seen.push(("audit log".to_owned(), json!(api.audit(None)).to_string()));
    seen.push((
        "provider".to_owned(),
        api.get("providers/azure-openai").body.to_string(),
    ));
    seen.push(("server stderr".to_owned(), w.server_stderr()));
    let token = w.token.clone().expect("a token");
    for secret in [&first, &second, &token] {
        for (what, text) in &seen {
            assert_no_secret(what, text, secret);
        }
    }
}

// ---------------------------------------------------------------------------
// 6. The destroy threshold.
// ---------------------------------------------------------------------------

/// Users removed from the files: 8 of 20 (40%), none of them a workspace's
/// only administrator or on a team.
const LEAVERS: [&str; 8] = [
    "alan.turing@acme.example",
    "annie.easley@acme.example",
    "charles.babbage@acme.example",
    "donald.knuth@acme.example",
    "frances.allen@acme.example",
    "margaret.hamilton@acme.example",
    "niklaus.wirth@acme.example",
    "tim.berners-lee@acme.example",
];

#[test]
fn destroy_threshold_refuses_until_allowed() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    // Deleted, not suspended (the default): see tests/lifecycle.rs.
    support::edit(
        &w.file("tenet.toml"),
        "workspace_removal = \"archive\"\n",
        "workspace_removal = \"archive\"\nuser_removal = \"delete\"\n",
    );
    assert_eq!(api.list("users", "").len(), 20);
    for email in LEAVERS {
        e2e::remove_toml_block(&w.file("users.toml"), &format!("[users.\"{email}\"]"));
        let mut removed = 0;
        for ws in ["development", "finance", "hr", "legal", "production"] {
            removed += e2e::remove_lines(
                &w.file(&format!("workspaces/{ws}.toml")),
                &format!("\"{email}\""),
            );
        }
        assert!(removed > 0, "{email} was a member somewhere");
    }
    // A plan apply would refuse fails (exit 1), so the pull request that
    // would break main's apply fails its check; the refusal comes first.
    let plan = w.plan(&[]);
    plan.code(1)
        .stdout_has("Plan: 0 to create, 0 to update, 0 to archive, 8 to delete.")
        .stderr_has("the plan is refused")
        .has("removes 8 of 20 users (40%)")
        .has("--allow-destroy");
    let text = plan.stdout.clone();
    let refused_at = text
        .find("Refused:")
        .expect("the text plan names the refusal");
    let first_change = text
        .find("- users/")
        .expect("the text plan lists the removals");
    assert!(
        refused_at < first_change,
        "the refusal comes before the changes:\n{text}"
    );
    let json = w.plan(&["--format", "json"]);
    json.code(1);
    let v = json.json();
    assert_eq!(v["refused"], true, "{v}");
    assert_eq!(v["refusals"][0]["code"], "destroy-threshold", "{v}");
    let keys: Vec<&String> = v
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    let pos = |k: &str| keys.iter().position(|x| *x == k);
    assert!(pos("refusals") < pos("changes"), "refusals first: {keys:?}");
    let md = w.plan(&["--format", "markdown"]);
    md.code(1).stdout_has("removes 8 of 20");
    let md_text = md.stdout.clone();
    assert!(
        md_text.find("removes 8 of 20") < md_text.find("users/alan"),
        "Markdown shows the refusal first:\n{md_text}"
    );
    // Judged as `apply --allow-destroy` would, it is an ordinary plan.
    w.plan(&["--allow-destroy"]).code(2);

    let before = api.audit(None).len();
    let refused = w.apply(&["--auto-approve"]);
    refused
        .code(1)
        .stderr_has("--allow-destroy")
        .stderr_has("nothing was changed");
    assert_eq!(
        api.audit(None).len(),
        before,
        "a refused apply writes nothing"
    );
    // A saved plan carries the refusal.
    let saved = w.path("destroy.json");
    w.plan(&["--out", saved.to_str().unwrap()]).code(1);
    assert!(!saved.exists(), "a refused plan is not saved");
    w.plan(&["--allow-destroy", "--out", saved.to_str().unwrap()])
        .code(2);
    w.apply_file(&saved, &[])
        .code(1)
        .stderr_has("--allow-destroy")
        .stderr_has("nothing was changed");
    assert_eq!(
        api.audit(None).len(),
        before,
        "a refused apply writes nothing"
    );
    for email in LEAVERS {
        api.get(&format!("users/{email}")).expect(200);
    }

    let allowed = w.apply(&["--auto-approve", "--allow-destroy"]);
    allowed
        .code(0)
        .stdout_has("Apply complete: 8 applied, 0 failed, 0 skipped.");
    for email in LEAVERS {
        api.get(&format!("users/{email}")).expect(404);
    }
    assert_eq!(api.list("users", "").len(), 12);
    w.assert_clean();
}

// ---------------------------------------------------------------------------
// 7. A new administrator is granted before the only one is removed.
// ---------------------------------------------------------------------------

fn admins(api: &e2e::Api, ws: &str) -> Vec<String> {
    api.list(&format!("workspaces/{ws}/memberships"), "")
        .iter()
        .filter(|m| {
            m["roles"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r == "administrator"))
        })
        .map(|m| m["user"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The id of the one event on `resource` matching `pred`.
fn event_id(log: &[Value], resource: &str, pred: impl Fn(&Value) -> bool) -> u64 {
    let found: Vec<&Value> = log
        .iter()
        .filter(|e| e["resource"] == resource && pred(e))
        .collect();
    assert_eq!(found.len(), 1, "events on {resource}: {log:#?}");
    found[0]["id"].as_u64().expect("id")
}

fn grants_admin(e: &Value) -> bool {
    e["changes"]["roles"]["after"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r == "administrator"))
}

#[test]
fn only_administrator_is_replaced_grant_first() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    assert_eq!(admins(&api, "hr"), ["radia.perlman@acme.example"]);
    assert_eq!(admins(&api, "legal"), ["barbara.liskov@acme.example"]);

    // hr: an existing member becomes the administrator, the old one leaves.
    let hr = w.file("workspaces/hr.toml");
    assert_eq!(e2e::remove_lines(&hr, "\"radia.perlman@acme.example\""), 1);
    e2e::edit(
        &hr,
        "\"margaret.hamilton@acme.example\" = [\"editor\"]",
        "\"margaret.hamilton@acme.example\" = [\"administrator\"]",
    );
    // legal: a new member becomes the administrator, the old one stays as a
    // plain member.
    e2e::edit(
        &w.file("workspaces/legal.toml"),
        "\"barbara.liskov@acme.example\" = [\"administrator\"]",
        "\"barbara.liskov@acme.example\" = [\"member\"]\n\"ken.thompson@acme.example\" = [\"administrator\"]",
    );
    w.plan(&[])
        .code(2)
        .stdout_has("Plan: 1 to create, 2 to update, 0 to archive, 1 to delete.");
    w.apply_ok()
        .stdout_has("Apply complete: 4 applied, 0 failed, 0 skipped.");
    w.assert_clean();
    assert_eq!(admins(&api, "hr"), ["margaret.hamilton@acme.example"]);
    assert_eq!(admins(&api, "legal"), ["ken.thompson@acme.example"]);

    let log = api.audit(Some("workspaces/hr/memberships"));
    let grant = event_id(
        &log,
        "workspaces/hr/memberships/margaret.hamilton@acme.example",
        |e| e["action"] == "update" && grants_admin(e),
    );
    let removal = event_id(
        &log,
        "workspaces/hr/memberships/radia.perlman@acme.example",
        |e| e["action"] == "delete",
    );
    assert!(
        grant < removal,
        "hr: grant #{grant} must come before removal #{removal}"
    );

    let log = api.audit(Some("workspaces/legal/memberships"));
    let grant = event_id(
        &log,
        "workspaces/legal/memberships/ken.thompson@acme.example",
        |e| e["action"] == "create" && grants_admin(e),
    );
    let revoke = event_id(
        &log,
        "workspaces/legal/memberships/barbara.liskov@acme.example",
        |e| e["action"] == "update",
    );
    assert!(
        grant < revoke,
        "legal: grant #{grant} must come before revocation #{revoke}"
    );
}

// ---------------------------------------------------------------------------
// 8. A refused change skips its dependents; the rest applies.
// ---------------------------------------------------------------------------

#[test]
fn failed_change_skips_dependents_and_the_rest_applies() {
    failed_change_skips_dependents(Target::Http);
}

/// The same on the sandbox, whose writes go in batches: the refused write
/// is reported and skips its dependents, the rest of the apply lands.
#[test]
fn failed_change_in_a_batch_skips_dependents_and_the_rest_applies_on_sandbox() {
    failed_change_skips_dependents(Target::Sandbox);
}

fn failed_change_skips_dependents(target: Target) {
    let http = matches!(target, Target::Http);
    let w = World::new("acme", target);
    let providers = w.file("providers.toml");
    let offered =
        "models = [\"gpt-4o\", \"gpt-4-turbo\", \"gpt-3.5-turbo\", \"text-embedding-3-small\"]";
    let with_mini =
        "models = [\"gpt-4o\", \"gpt-4o-mini\", \"gpt-3.5-turbo\", \"text-embedding-3-small\"]";
    e2e::edit(&providers, offered, with_mini);
    w.apply_ok();

    // Out of band: another managed workspace starts using gpt-4o-mini.
    if http {
        w.api()
            .post(
                "workspaces/finance/assignments",
                &json!({"provider": "openai", "models": ["gpt-4o-mini"]}),
            )
            .expect(201);
    } else {
        let db = w.endpoint.trim_start_matches("sandbox:");
        let engine = tenet::platform::engine::Engine::open(Path::new(db), None)
            .unwrap_or_else(|e| panic!("open the sandbox: {e}"));
        let spec = tenet::wire::AssignmentSpec {
            models: Some(vec!["gpt-4o-mini".to_owned()]),
            ..Default::default()
        };
        engine
            .create_assignment(
                &tenet::platform::engine::Actor::local(),
                "finance",
                "openai",
                spec,
            )
            .unwrap_or_else(|e| panic!("out-of-band assignment: {e:?}"));
    }

    // openai drops gpt-4o-mini for gpt-4-turbo, hr uses gpt-4-turbo, and an
    // unrelated user is renamed.
    e2e::edit(&providers, with_mini, offered);
    e2e::edit(
        &w.file("workspaces/hr.toml"),
        "models = [\"gpt-4o\", \"gpt-3.5-turbo\", \"text-embedding-3-small\"]",
        "models = [\"gpt-4o\", \"gpt-4-turbo\", \"gpt-3.5-turbo\", \"text-embedding-3-small\"]",
    );
    e2e::edit(
        &w.file("users.toml"),
        "name = \"Donald Knuth\"",
        "name = \"Donald E. Knuth\"",
    );
    let plan = w.plan(&["--format", "json"]);
    plan.code(2);
    let plan = plan.json();
    let id_of = |resource: &str| -> u64 {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["resource"] == resource)
            .and_then(|c| c["id"].as_u64())
            .unwrap_or_else(|| panic!("no change of {resource} in {plan:#}"))
    };
    let provider = id_of("providers/openai");
    let assignment = id_of("workspaces/hr/assignments/openai");
    id_of("users/donald.knuth@acme.example");

    let applied = w.apply(&["--auto-approve"]);
    applied
        .code(1)
        .stdout_has("Apply incomplete: 1 applied, 1 failed, 1 skipped.")
        .stderr_has(&format!(
            "failed: #{provider} update providers/openai: 409 provider-in-use"
        ))
        .stderr_has(&format!(
            "skipped: #{assignment} update workspaces/hr/assignments/openai: skipped: it needs change #{provider}"
        ));

    // What failed is still planned, and nothing else (the rename landed).
    let rest = "Plan: 0 to create, 2 to update, 0 to archive, 0 to delete.";
    if !http {
        w.plan(&[]).code(2).stdout_has(rest);
        return;
    }
    let api = w.api();
    let donald = api.get("users/donald.knuth@acme.example").expect(200).body;
    assert_eq!(donald["name"], "Donald E. Knuth");
    let openai = api.get("providers/openai").expect(200).body;
    assert!(
        openai["models"]
            .as_array()
            .unwrap()
            .contains(&json!("gpt-4o-mini")),
        "{openai:#}"
    );
    let hr = api.get("workspaces/hr/assignments/openai").expect(200).body;
    let mut models: Vec<&str> = hr["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    models.sort_unstable();
    assert_eq!(
        models,
        ["gpt-3.5-turbo", "gpt-4o", "text-embedding-3-small"]
    );
    w.plan(&[]).code(2).stdout_has(rest);
}

// ---------------------------------------------------------------------------
// 9. Two applies at once: the lock keeps them apart.
// ---------------------------------------------------------------------------

#[test]
fn concurrent_applies_are_serialized_by_the_lock() {
    let w = World::with_server_flags("acme", Target::Http, &["--latency-ms", "50"]);
    let spawn = || {
        let mut cmd = w.cmd("apply", &["--auto-approve"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn().expect("spawn tenet apply")
    };
    let (a, b) = (spawn(), spawn());
    let results: Vec<(i32, String, String)> = [a, b]
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect();
    let show = || format!("{results:#?}");
    let winners: Vec<_> = results
        .iter()
        .filter(|(code, out, _)| *code == 0 && out.contains("Apply complete:"))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one apply does the work: {}",
        show()
    );
    assert!(
        winners[0].1.contains(", 0 failed, 0 skipped."),
        "{}",
        show()
    );
    let loser = results
        .iter()
        .find(|(code, out, _)| !(*code == 0 && out.contains("Apply complete:")))
        .expect("a second apply");
    eprintln!(
        "the second apply exited {}: {}",
        loser.0,
        loser
            .2
            .lines()
            .find(|l| l.contains('×'))
            .unwrap_or(&loser.1)
    );
    match loser.0 {
        1 => assert!(
            loser.2.contains("held by"),
            "the refused apply names the lock holder: {}",
            show()
        ),
        0 => assert!(loser.1.contains("No changes"), "{}", show()),
        _ => panic!("unexpected exit: {}", show()),
    }

    let log = w.api().audit(None);
    assert!(
        duplicate_creates(&log).is_empty(),
        "{:?}",
        duplicate_creates(&log)
    );
    let (create, ..) = plan_counts(&winners[0].1);
    assert_eq!(events(&log, "create").len(), create);
    w.assert_clean();
}

// ---------------------------------------------------------------------------
// 10. No terminal, no --auto-approve: nothing happens.
// ---------------------------------------------------------------------------

#[test]
fn apply_without_terminal_or_auto_approve_changes_nothing() {
    let w = World::new("acme", Target::Http);
    let r = w.apply(&[]);
    r.code(1)
        .stdout_has("Plan: ")
        .stderr_has("--auto-approve")
        .stderr_has("nothing was changed");
    assert!(!r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert!(w.api().audit(None).is_empty(), "nothing may be written");
    assert!(w.api().list("users", "").is_empty());
}

// ---------------------------------------------------------------------------
// 11. Adoption of an existing object the files declare.
// ---------------------------------------------------------------------------

#[test]
fn existing_objects_are_adopted_only_when_asked() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    let ada = "users/ada.lovelace@acme.example";
    api.post(
        "users",
        &json!({"email": "ada.lovelace@acme.example", "name": "Ada L."}),
    )
    .expect(201);

    let text = w.plan(&[]);
    text.code(2).has(ada).has("--adopt");
    assert!(
        !change_lines(&text.stdout).iter().any(|l| l.ends_with(ada)),
        "no change on an object not adopted:\n{}",
        text.stdout
    );
    let json = w.plan(&["--format", "json"]);
    json.code(2);
    let v = json.json();
    assert_eq!(v["not_adopted"], json!([ada]));
    assert!(
        !v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["resource"] == ada),
        "{v:#}"
    );

    // Applying without --adopt leaves it alone.
    w.apply_ok();
    let user = api.get(ada).expect(200).body;
    assert_eq!(user["name"], "Ada L.");
    assert_eq!(user["version"], 1);
    assert!(
        user["labels"].get("tenet.dev/managed").is_none(),
        "{user:#}"
    );

    let adopt = w.plan(&["--adopt"]);
    adopt
        .code(2)
        .stdout_has(&format!("  ~ adopt {ada}\n"))
        .stdout_has("Plan: 0 to create, 0 to update, 1 to adopt, 0 to archive, 0 to delete.");
    let json = w.plan(&["--adopt", "--format", "json"]);
    json.code(2);
    let v = json.json();
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{v:#}");
    assert_eq!(changes[0]["resource"], ada);
    assert_eq!(changes[0]["action"], "adopt");

    w.apply(&["--adopt", "--auto-approve"])
        .code(0)
        .stdout_has("Apply complete: 1 applied, 0 failed, 0 skipped.");
    let user = api.get(ada).expect(200).body;
    assert_eq!(user["labels"]["tenet.dev/managed"], "true", "{user:#}");
    assert_eq!(user["name"], "Ada Lovelace");
    w.assert_clean();
}

// ---------------------------------------------------------------------------
// Beyond the list: rate limits, and errors that must exit 1 changing nothing.
// ---------------------------------------------------------------------------

#[test]
fn apply_honours_rate_limits() {
    let w = World::with_server_flags("acme", Target::Http, &["--rate-limit", "40"]);
    w.apply_ok();
    assert!(
        w.server_stderr().contains("status=429"),
        "the rate limit never bit; the test proves nothing"
    );
    w.assert_clean();
    let log = w.api().audit(None);
    assert!(
        duplicate_creates(&log).is_empty(),
        "{:?}",
        duplicate_creates(&log)
    );
}

#[test]
fn errors_exit_1_and_change_nothing() {
    let w = World::new("acme", Target::Http);
    let api = w.api();

    // No token: the platform refuses the read.
    let mut cmd = w.cmd("plan", &[]);
    cmd.env_remove("TENET_TOKEN");
    run(cmd).code(1).stderr_has("TENET_TOKEN");

    // A read token plans, but cannot apply.
    let db = w.server.as_ref().unwrap().db.clone();
    let read = e2e::token(&db, "reader", "read");
    let mut cmd = w.cmd("plan", &[]);
    cmd.env("TENET_TOKEN", &read);
    run(cmd).code(2);
    let mut cmd = w.cmd("apply", &["--auto-approve"]);
    cmd.env("TENET_TOKEN", &read);
    run(cmd).code(1).stderr_has("write");

    // An unresolvable secret: a plan (say, of a pull request, which has no
    // provider keys) warns, and an apply against a real endpoint refuses.
    let mut cmd = w.cmd("plan", &[]);
    cmd.env_remove("ANTHROPIC_API_KEY");
    run(cmd).code(2).has("ANTHROPIC_API_KEY");
    let mut cmd = w.cmd("apply", &["--auto-approve"]);
    cmd.env_remove("ANTHROPIC_API_KEY");
    run(cmd)
        .code(1)
        .stderr_has("ANTHROPIC_API_KEY")
        .stderr_has("nothing was changed");

    // An unreachable platform.
    let mut cmd = w.bare();
    cmd.arg("plan")
        .arg(&w.cfg)
        .args(["--endpoint", "http://127.0.0.1:9"]);
    run(cmd).code(1);

    // Invalid files: nothing is read or planned.
    e2e::edit(
        &w.file("workspaces/finance.toml"),
        "\"claude.shannon@acme.example\" = [\"editor\"]",
        "\"claude.shannon@acme.example\" = [\"editr\"]",
    );
    w.plan(&[]).code(1).stderr_has("editr");
    w.apply(&["--auto-approve"]).code(1);

    // A usage error is 1, never 2 (which means "changes" to scripts).
    w.plan(&["--format", "yaml"]).code(1);

    assert!(api.audit(None).is_empty(), "nothing may be written");
}

// ---------------------------------------------------------------------------
// Ctrl-C: finish what is in flight, start nothing new, release the lock.
// ---------------------------------------------------------------------------

#[test]
fn ctrl_c_stops_new_changes_releases_the_lock_and_reports() {
    let w = World::with_server_flags("acme", Target::Http, &["--latency-ms", "60"]);
    let mut cmd = w.cmd("apply", &["--auto-approve", "--parallelism", "1"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn: {e}"));
    // Wait until writes have started, then interrupt.
    let api = w.api();
    let started = std::time::Instant::now();
    loop {
        let log = api.get("audit?limit=10");
        if log.body["items"].as_array().is_some_and(|a| a.len() >= 3) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "apply never wrote"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success());
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("Interrupted"), "{stderr}");
    assert!(stdout.contains("Apply incomplete:"), "{stdout}");
    assert!(stderr.contains("not started"), "{stderr}");
    assert!(stderr.contains("interrupted by Ctrl-C"), "{stderr}");
    // The lock was released: a new apply runs at once and finishes the job.
    w.apply(&["--auto-approve"])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    w.plan(&[]).code(0);
}

#[test]
fn a_plan_file_of_the_old_format_is_refused_by_name() {
    let w = World::new("acme", Target::Sandbox);
    let saved = w.path("plan.json");
    w.plan(&["--out", saved.to_str().unwrap()]).code(2);
    // The same plan as tenet 0.1 wrote it: format 1, path strings.
    let mut old = read_json(&saved);
    old["format_version"] = json!(1);
    std::fs::write(&saved, old.to_string()).unwrap();
    w.apply_file(&saved, &[])
        .code(1)
        .has("format version 1, made by an older tenet")
        .has("tenet plan --out FILE");
    // Nothing was applied: the platform is still empty.
    w.plan(&[]).code(2);
}

/// A saved plan of one change is small whatever the platform's size: no
/// per-object list, one digest for what it does not write.
#[test]
fn a_one_change_plan_file_stays_small_on_a_big_platform() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("cfg");
    support::generated_tree(&cfg, 3000, 300);
    let endpoint = format!("sandbox:{}", tmp.path().join("p.db").display());
    let mut apply = e2e::tenet();
    apply
        .arg("apply")
        .arg(&cfg)
        .args(["--auto-approve", "--endpoint", &endpoint])
        .stdout(Stdio::null());
    run(apply).code(0);
    e2e::edit(
        &cfg.join("workspaces/ws-0000.toml"),
        "name = \"Workspace 0\"",
        "name = \"Workspace Zero\"",
    );
    let out = tmp.path().join("plan.json");
    let mut plan = e2e::tenet();
    plan.arg("plan")
        .arg(&cfg)
        .args(["--endpoint", &endpoint, "--out"])
        .arg(&out);
    run(plan).code(2).stdout_has("1 to update");
    let saved = read_json(&out);
    assert!(
        saved["live_objects"].as_u64().is_some_and(|n| n > 7000),
        "the plan read the whole platform: {}",
        saved["live_objects"]
    );
    let size = std::fs::metadata(&out).map_or(0, |m| m.len());
    assert!(
        size < 16 * 1024,
        "a one-change plan file of a {}-object platform is {size} bytes",
        saved["live_objects"]
    );
    let mut apply = e2e::tenet();
    apply.arg("apply").arg(&out);
    run(apply)
        .code(0)
        .stdout_has("Apply complete: 1 applied, 0 failed, 0 skipped.");
}

/// Moving a workspace's default to another provider: the old default gives
/// it up first (the platform allows one default per workspace).
#[test]
fn the_default_provider_moves_in_one_apply() {
    let w = World::new("acme", Target::Http);
    w.apply_ok();
    let f = w.file("workspaces/production.toml");
    e2e::edit(
        &f,
        "models = [\"gpt-4o\", \"gpt-4\"]\ndefault = true",
        "models = [\"gpt-4o\", \"gpt-4\"]",
    );
    e2e::edit(
        &f,
        "models = [\"claude-3-5-sonnet\", \"claude-3-haiku\"]",
        "models = [\"claude-3-5-sonnet\", \"claude-3-haiku\"]\ndefault = true",
    );
    w.plan(&[]).code(2).stdout_has("2 to update");
    w.apply_ok();
    w.assert_clean();
    let api = w.api();
    let a = api
        .get("workspaces/production/assignments/anthropic")
        .expect(200);
    assert_eq!(a.body["default"], true);
}

/// Invalid files planned against a server that accepts connections and
/// never answers end with the files' diagnostics at once: the read that
/// starts while the files load (the endpoint is on the command line) is
/// stopped when they turn out invalid, not waited for (30 s a request, and
/// retries). A hang is a failure, not a slow pass.
#[test]
fn invalid_files_fail_at_once_though_the_platform_never_answers() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    // Accepted connections are held open and never answered.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming() {
            match conn {
                Ok(c) => held.push(c),
                Err(_) => break,
            }
        }
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("acme");
    support::copy_tree(&support::example("acme"), &dir);
    support::edit(
        &dir.join("users.toml"),
        "name = \"Ada Lovelace\"",
        "name = \"Ada Lovelace\"\nshoe_size = 38",
    );
    let mut cmd = support::tenet();
    cmd.arg("plan")
        .arg(&dir)
        .arg("--endpoint")
        .arg(format!("http://{addr}"))
        .env("TENET_TOKEN", "tnt_not-a-real-token")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn tenet");
    let limit = std::time::Duration::from_secs(20);
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "tenet plan waited for a platform it could not use ({limit:?}):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("shoe_size"), "{stderr}");
    assert!(stderr.contains("users.toml"), "{stderr}");
    assert!(stderr.contains("nothing was planned"), "{stderr}");
}
