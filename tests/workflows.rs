//! End-to-end tests of tenet's review, CI and drift workflows, driving the
//! real binary: `tenet plan --base REV` in a real git repository (the change
//! a pull request makes, in config terms without any platform, and with a
//! platform the drift and pending changes shown apart), `tenet drift`
//! against a real `tenet serve` with a read-only token after out-of-band
//! changes through the API (who, when, both values, acknowledgements and
//! their expiry, nothing written), `tenet why` (roles, wildcards, teams and
//! the config lines they come from), and the access impact of a plan (who
//! gains or loses which permissions, administrator and credential access
//! called out), checked against sets computed independently from the
//! example files.

mod support;
#[path = "wf/mod.rs"]
mod wf;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wf::*;

const FINANCE_CLAUDE: &str = "workspaces/finance/memberships/claude.shannon@acme.example";
const NEW_USER: &str = "barbara.mcclintock@acme.example";

/// A git repository in a temporary directory whose subdirectory `acme`
/// holds a copy of `examples/acme`, committed once.
struct Repo {
    tmp: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = Repo { tmp };
        copy_tree(&example("acme"), &repo.cfg());
        git(repo.dir(), &["init", "-q"]);
        commit_all(repo.dir(), "acme as it is");
        repo
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn cfg(&self) -> PathBuf {
        self.tmp.path().join("acme")
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.cfg().join(rel)
    }

    /// The sandbox database `tenet.toml` names (relative to the config).
    fn sandbox_db(&self) -> PathBuf {
        self.file(".tenet/acme.db")
    }

    /// `tenet ARGS` run in the repository (config path `acme`).
    fn tenet(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = tenet();
        cmd.current_dir(self.dir()).args(args);
        cmd
    }

    /// The pull request's edit: one member's roles in finance change, and
    /// a new user gets a finance membership.
    fn pull_request_edit(&self) {
        edit(
            &self.file("workspaces/finance.toml"),
            r#""claude.shannon@acme.example" = ["editor"]"#,
            r#""claude.shannon@acme.example" = ["editor", "qa-tester"]"#,
        );
        edit(
            &self.file("workspaces/finance.toml"),
            r#""charles.babbage@acme.example" = ["member"]"#,
            &format!(
                "\"charles.babbage@acme.example\" = [\"member\"]\n\"{NEW_USER}\" = [\"member\"]"
            ),
        );
        append(
            &self.file("users.toml"),
            &format!("\n[users.\"{NEW_USER}\"]\nname = \"Barbara McClintock\"\n"),
        );
    }
}

/// The three changes of the pull request, by resource, with their action.
fn pull_request_changes() -> BTreeMap<String, String> {
    [
        (format!("users/{NEW_USER}"), "create"),
        (
            format!("workspaces/finance/memberships/{NEW_USER}"),
            "create",
        ),
        (FINANCE_CLAUDE.to_owned(), "update"),
    ]
    .into_iter()
    .map(|(r, a)| (r, a.to_owned()))
    .collect()
}

/// resource -> action of a JSON change list.
fn actions(changes: &Value) -> BTreeMap<String, String> {
    changes
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["resource"].as_str().expect("resource").to_owned(),
                c["action"].as_str().expect("action").to_owned(),
            )
        })
        .collect()
}

/// The one item of `items` whose `resource` is `resource`.
#[track_caller]
fn find<'a>(items: &'a Value, resource: &str) -> &'a Value {
    let found: Vec<&Value> = items
        .as_array()
        .expect("array")
        .iter()
        .filter(|i| i["resource"] == resource)
        .collect();
    assert_eq!(found.len(), 1, "{resource} in {items:#}");
    found[0]
}

/// The `roles` field change of the claude.shannon membership update.
#[track_caller]
fn assert_claude_roles_field(change: &Value) {
    let fields = change["fields"].as_array().expect("fields");
    assert_eq!(fields.len(), 1, "{change:#}");
    assert_eq!(fields[0]["field"], "roles");
    assert_eq!(fields[0]["before"], json!(["editor"]));
    assert_eq!(fields[0]["after"], json!(["editor", "qa-tester"]));
}

// ---------------------------------------------------------------------------
// 1. plan --base

#[test]
fn plan_base_shows_the_pull_request_in_config_terms_without_a_platform() {
    let repo = Repo::new();
    let base = git(repo.dir(), &["rev-parse", "HEAD"]);
    repo.pull_request_edit();
    commit_all(repo.dir(), "the pull request");
    assert!(!repo.sandbox_db().exists());

    // Text: exactly the three changes, and a note that no platform was read.
    let r = run(repo.tenet(&["plan", "--base", "HEAD~1", "acme"]));
    r.code(2)
        .stdout_has(&format!("Changes since HEAD~1 ({})", &base[..12]))
        .stdout_has(&format!("+ users/{NEW_USER}"))
        .stdout_has(&format!("+ workspaces/finance/memberships/{NEW_USER}"))
        .stdout_has(&format!("~ {FINANCE_CLAUDE}"))
        .stdout_has("roles: [editor] -> [editor, qa-tester]")
        .stdout_has("Plan: 2 to create, 1 to update, 0 to archive, 0 to delete.")
        .stdout_lacks("Not from this change")
        .stderr_has("No platform access here");
    let marked: Vec<&str> = r
        .stdout
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("+ ") || l.starts_with("~ ") || l.starts_with("- "))
        .collect();
    assert_eq!(marked.len(), 3, "{}", r.stdout);

    // JSON: the change holds exactly those resources; no platform section.
    let r = run(repo.tenet(&["plan", "--base", "HEAD~1", "acme", "--format", "json"]));
    r.code(2);
    let j = r.json();
    assert_eq!(j["base"], "HEAD~1");
    assert_eq!(j["base_commit"], base.as_str());
    assert_eq!(actions(&j["change"]["changes"]), pull_request_changes());
    assert_claude_roles_field(find(&j["change"]["changes"], FINANCE_CLAUDE));
    assert_eq!(j["change"]["summary"]["create"], 2);
    assert_eq!(j["change"]["summary"]["update"], 1);
    assert_eq!(j["change"]["summary"]["delete"], 0);
    assert_eq!(j["change"]["summary"]["archive"], 0);
    assert!(j["platform"].is_null(), "{:#}", j["platform"]);
    // The access impact is that of the pull request only.
    let pairs: BTreeSet<(String, String)> = j["change"]["access"]
        .as_array()
        .expect("access")
        .iter()
        .map(|a| {
            (
                a["workspace"].as_str().unwrap().to_owned(),
                a["user"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        BTreeSet::from([
            (
                "finance".to_owned(),
                "claude.shannon@acme.example".to_owned()
            ),
            ("finance".to_owned(), NEW_USER.to_owned()),
        ])
    );

    // Against itself nothing changes.
    let r = run(repo.tenet(&["plan", "--base", "HEAD", "acme", "--format", "json"]));
    r.code(0);
    assert_eq!(r.json()["change"]["changes"], json!([]));
    run(repo.tenet(&["plan", "--base", "HEAD", "acme"])).code(0);

    // A revision git does not know is an error, with a hint.
    run(repo.tenet(&["plan", "--base", "no-such-branch", "acme"]))
        .code(1)
        .stderr_has("no-such-branch");

    // Nothing was created on the way: no sandbox, no platform touched.
    assert!(
        !repo.sandbox_db().exists(),
        "plan --base created the sandbox"
    );
}

#[test]
fn plan_base_with_a_platform_shows_drift_and_pending_apart() {
    let repo = Repo::new();
    let db = repo.dir().join("p.db");
    let ci = token(&db, "ci", "write");
    let ops = token(&db, "bob.ops", "write");
    let reader = token(&db, "reviewer", "read");
    let server = ServeChild::start(&db, &[]);

    // The platform gets the first commit.
    let mut apply = repo.tenet(&["apply", "acme", "--auto-approve", "--endpoint", &server.url]);
    with_keys(&mut apply).env("TENET_TOKEN", &ci);
    run(apply).code(0).stdout_has(", 0 failed, 0 skipped.");

    // A change merged on the base but never applied: pending.
    edit(
        &repo.file("workspaces/development.toml"),
        r#"description = "Testing and experimentation on synthetic data.""#,
        r#"description = "Testing on synthetic data only.""#,
    );
    commit_all(repo.dir(), "base: describe development");
    // The pull request on top of it.
    repo.pull_request_edit();
    commit_all(repo.dir(), "the pull request");

    // Someone changes an unrelated object through the API: drift.
    let api = Api::new(&server.url, &ops);
    let q = api.get("/v1/workspaces/legal/quotas").expect(200);
    let mut body = q.body.clone();
    let obj = body.as_object_mut().unwrap();
    for k in ["workspace", "version", "updated_at"] {
        obj.remove(k);
    }
    assert_eq!(obj["storage_gb"], 150);
    obj.insert("storage_gb".into(), json!(175));
    api.put("/v1/workspaces/legal/quotas", &q.etag(), &body)
        .expect(200);
    let events = api.audit(Some("workspaces/legal/quotas"));
    let last = events.last().expect("an audit event");
    assert_eq!(last["actor"], "bob.ops");
    let at = last["at"].as_str().unwrap().to_owned();
    let audit_len = api.audit(None).len();

    let plan = |format: &str| {
        let mut cmd = repo.tenet(&[
            "plan",
            "--base",
            "HEAD~1",
            "acme",
            "--endpoint",
            &server.url,
            "--format",
            format,
        ]);
        cmd.env("TENET_TOKEN", &reader);
        run(cmd)
    };
    let r = plan("json");
    r.code(2);
    let j = r.json();
    // The change is still exactly the pull request's.
    assert_eq!(actions(&j["change"]["changes"]), pull_request_changes());
    let p = &j["platform"];
    assert!(p.is_object(), "no platform section: {j:#}");
    assert_eq!(
        resources(&p["drift"]),
        vec!["workspaces/legal/quotas"],
        "{p:#}"
    );
    assert_eq!(
        resources(&p["pending"]),
        vec!["workspaces/development"],
        "{p:#}"
    );
    assert_eq!(p["acknowledged"], json!([]));
    let d = &p["drift"][0];
    assert_eq!(d["class"], "drift");
    assert_eq!(d["fields"][0]["field"], "storage_gb");
    assert_eq!(d["fields"][0]["before"], 175);
    assert_eq!(d["fields"][0]["after"], 150);
    let by = d["changed_by"].as_array().expect("changed_by");
    assert_eq!(by.len(), 1, "{d:#}");
    assert_eq!(by[0]["actor"], "bob.ops");
    assert_eq!(by[0]["at"], at.as_str());
    let pend = &p["pending"][0];
    assert_eq!(pend["class"], "pending");
    assert!(
        pend.get("changed_by").is_none_or(|c| c == &json!([])),
        "{pend:#}"
    );
    assert_eq!(pend["fields"][0]["field"], "description");
    assert_eq!(
        pend["fields"][0]["after"],
        "Testing on synthetic data only."
    );
    // None of the pull request's own changes is counted against the platform.
    for r in pull_request_changes().keys() {
        assert!(!p.to_string().contains(&format!("\"{r}\"")), "{r} in {p:#}");
    }

    // Text: the pull request first, then the rest, apart.
    let r = plan("text");
    r.code(2).stdout_has("Not from this change");
    let (ours, theirs) = r.stdout.split_once("Not from this change").unwrap();
    assert!(
        ours.contains(&format!("~ {FINANCE_CLAUDE}")),
        "{}",
        r.stdout
    );
    assert!(!ours.contains("workspaces/legal/quotas"), "{}", r.stdout);
    assert!(!ours.contains("workspaces/development"), "{}", r.stdout);
    assert!(
        theirs.contains(&format!("changed by bob.ops at {at}")),
        "{}",
        r.stdout
    );
    assert!(theirs.contains("~ workspaces/development"), "{}", r.stdout);
    assert!(!theirs.contains(FINANCE_CLAUDE), "{}", r.stdout);

    // Reading wrote nothing.
    assert_eq!(api.audit(None).len(), audit_len);
}

// ---------------------------------------------------------------------------
// 2. drift

/// A server with examples/acme applied by `ci`, and a person's write token.
struct Platform {
    tmp: tempfile::TempDir,
    server: ServeChild,
    ci: String,
    reader: String,
    alice: Api,
}

impl Platform {
    fn new() -> Platform {
        let tmp = tempfile::tempdir().expect("tempdir");
        copy_tree(&example("acme"), &tmp.path().join("acme"));
        let db = tmp.path().join("p.db");
        let ci = token(&db, "ci", "write");
        let alice = token(&db, "alice.admin", "write");
        let reader = token(&db, "nightly", "read");
        let server = ServeChild::start(&db, &[]);
        let alice = Api::new(&server.url, &alice);
        let p = Platform {
            tmp,
            server,
            ci,
            reader,
            alice,
        };
        p.apply();
        p
    }

    fn cfg(&self) -> PathBuf {
        self.tmp.path().join("acme")
    }

    fn apply(&self) {
        let mut cmd = tenet();
        cmd.current_dir(self.tmp.path())
            .args([
                "apply",
                "acme",
                "--auto-approve",
                "--endpoint",
                &self.server.url,
            ])
            .env("TENET_TOKEN", &self.ci);
        with_keys(&mut cmd);
        run(cmd).code(0).stdout_has(", 0 failed, 0 skipped.");
    }

    /// `tenet drift acme --endpoint URL --format F` with the read token.
    fn drift(&self, format: &str) -> Run {
        let mut cmd = tenet();
        cmd.current_dir(self.tmp.path())
            .args([
                "drift",
                "acme",
                "--endpoint",
                &self.server.url,
                "--format",
                format,
            ])
            .env("TENET_TOKEN", &self.reader);
        run(cmd)
    }

    /// Alice changes claude.shannon's finance roles; returns the audit `at`.
    fn change_member(&self) -> String {
        let path = format!("/v1/{FINANCE_CLAUDE}");
        let m = self.alice.get(&path).expect(200);
        assert_eq!(m.body["roles"], json!(["editor"]));
        let r = self
            .alice
            .patch(&path, &m.etag(), &json!({"roles": ["editor", "qa-tester"]}))
            .expect(200);
        assert_eq!(r.body["labels"], m.body["labels"]);
        self.last_at(FINANCE_CLAUDE)
    }

    /// Alice PUTs a workspace's quotas with one value changed, keeping the
    /// labels she read or dropping them; returns the audit `at`.
    fn change_quota(&self, ws: &str, field: &str, from: u64, to: u64, keep_labels: bool) -> String {
        let path = format!("/v1/workspaces/{ws}/quotas");
        let q = self.alice.get(&path).expect(200);
        assert_eq!(q.body[field], from, "{:#}", q.body);
        let mut body = q.body.clone();
        let obj = body.as_object_mut().unwrap();
        for k in ["workspace", "version", "updated_at"] {
            obj.remove(k);
        }
        if !keep_labels {
            obj.remove("labels");
        }
        obj.insert(field.into(), json!(to));
        let r = self.alice.put(&path, &q.etag(), &body).expect(200);
        if keep_labels {
            assert_eq!(r.body["labels"], q.body["labels"]);
            assert!(r.body["labels"]["tenet.dev/last-applied"].is_string());
        } else {
            assert_eq!(r.body["labels"], json!({}));
        }
        self.last_at(&format!("workspaces/{ws}/quotas"))
    }

    /// The time of the last audit event of a resource, which must be Alice's.
    fn last_at(&self, resource: &str) -> String {
        let events = self.alice.audit(Some(resource));
        let last = events.last().expect("an audit event");
        assert_eq!(last["actor"], "alice.admin", "{last:#}");
        assert_eq!(last["resource"], resource);
        last["at"].as_str().expect("at").to_owned()
    }

    fn audit_len(&self) -> usize {
        self.alice.audit(None).len()
    }
}

#[test]
fn a_workspace_setting_changed_out_of_band_is_drift_and_apply_puts_it_back() {
    let p = Platform::new();
    let w = p.alice.get("/v1/workspaces/finance").expect(200);
    assert_eq!(
        w.body["settings"]["timezone"], "Europe/London",
        "{:#}",
        w.body
    );
    p.alice
        .patch(
            "/v1/workspaces/finance",
            &w.etag(),
            &json!({"settings": {"timezone": "Asia/Tokyo"}}),
        )
        .expect(200);
    let at = p.last_at("workspaces/finance");
    let r = p.drift("text");
    r.code(2);
    let finance = r.block("! workspaces/finance");
    assert!(
        finance.contains(
            &r#"settings.timezone: files say "Europe/London", live is "Asia/Tokyo""#.to_owned()
        ),
        "{finance:#?}"
    );
    assert!(
        finance
            .iter()
            .any(|l| l.starts_with(&format!("changed by alice.admin at {at} via api"))),
        "{finance:#?}"
    );
    p.apply();
    p.drift("text").code(0);
    let w = p.alice.get("/v1/workspaces/finance").expect(200);
    assert_eq!(w.body["settings"]["timezone"], "Europe/London");
}

#[test]
fn drift_names_who_changed_what_and_when_with_a_read_token() {
    let p = Platform::new();
    p.drift("text")
        .code(0)
        .stdout_has("No drift. The platform matches the configuration.");

    let member_at = p.change_member();
    let finance_at = p.change_quota("finance", "storage_gb", 250, 300, true);
    let hr_at = p.change_quota("hr", "max_users", 20, 25, false);
    let audit_len = p.audit_len();

    // Text: each object with both values and Alice's write.
    let r = p.drift("text");
    r.code(2)
        .stdout_has("Drift: 3 object(s) changed outside tenet");
    let member = r.block(&format!("! {FINANCE_CLAUDE}"));
    assert!(
        member
            .contains(&r#"roles: files say ["editor"], live is ["editor","qa-tester"]"#.to_owned()),
        "{member:#?}"
    );
    assert!(
        member
            .iter()
            .any(|l| l.starts_with(&format!("changed by alice.admin at {member_at} via api"))),
        "{member:#?}"
    );
    let finance = r.block("! workspaces/finance/quotas");
    assert!(
        finance.contains(&"storage_gb: files say 250, live is 300".to_owned()),
        "{finance:#?}"
    );
    assert!(
        finance.contains(&format!(
            "changed by alice.admin at {finance_at} via api (update: storage_gb: 250 -> 300)"
        )),
        "{finance:#?}"
    );
    let hr = r.block("! workspaces/hr/quotas");
    assert!(
        hr.contains(&"max_users: files say 20, live is 25".to_owned()),
        "{hr:#?}"
    );
    assert!(
        hr.iter().any(
            |l| l.starts_with(&format!("changed by alice.admin at {hr_at} via api"))
                && l.contains("max_users: 20 -> 25")
        ),
        "{hr:#?}"
    );
    r.stdout_lacks("changed by ci").stdout_lacks("Pending:");

    // JSON: all three under drift, none pending.
    let r = p.drift("json");
    r.code(2);
    let j = r.json();
    assert_eq!(j["version"], 1);
    assert_eq!(j["clean"], false);
    assert_eq!(j["endpoint"], p.server.url.as_str());
    let drifted: BTreeSet<String> = resources(&j["drift"]).into_iter().collect();
    assert_eq!(
        drifted,
        BTreeSet::from([
            FINANCE_CLAUDE.to_owned(),
            "workspaces/finance/quotas".to_owned(),
            "workspaces/hr/quotas".to_owned(),
        ])
    );
    assert_eq!(j["pending"], json!([]));
    assert_eq!(j["acknowledged"], json!([]));
    for (res, at, field, files, live) in [
        (
            FINANCE_CLAUDE,
            &member_at,
            "roles",
            json!(["editor"]),
            json!(["editor", "qa-tester"]),
        ),
        (
            "workspaces/finance/quotas",
            &finance_at,
            "storage_gb",
            json!(250),
            json!(300),
        ),
        (
            "workspaces/hr/quotas",
            &hr_at,
            "max_users",
            json!(20),
            json!(25),
        ),
    ] {
        let f = find(&j["drift"], res);
        assert_eq!(f["class"], "drift");
        let fields = f["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 1, "{f:#}");
        assert_eq!(fields[0]["field"], field);
        assert_eq!(fields[0]["before"], live, "live value of {res}");
        assert_eq!(fields[0]["after"], files, "files' value of {res}");
        let by = f["changed_by"].as_array().expect("changed_by");
        assert_eq!(by.len(), 1, "{f:#}");
        assert_eq!(by[0]["actor"], "alice.admin");
        assert_eq!(by[0]["at"], at.as_str());
        assert_eq!(by[0]["channel"], "api");
        assert_eq!(by[0]["changes"][field]["before"], files);
        assert_eq!(by[0]["changes"][field]["after"], live);
    }

    // Markdown: the table, one row per drifted field.
    let r = p.drift("markdown");
    r.code(2)
        .stdout_has("| Object | Field | Files say | Live is | Changed by |")
        .stdout_has(&format!(
            "| `workspaces/finance/quotas` | storage_gb | 250 | 300 | alice.admin at {finance_at} |"
        ))
        .stdout_has(&format!(
            "| `workspaces/hr/quotas` | max_users | 20 | 25 | alice.admin at {hr_at} |"
        ))
        .stdout_has(&format!(
            r#"| `{FINANCE_CLAUDE}` | roles | ["editor"] | ["editor","qa-tester"] | alice.admin at {member_at} |"#
        ));

    // The read token wrote nothing.
    assert_eq!(p.audit_len(), audit_len, "drift wrote to the platform");

    // Applying restores the files' values (and the dropped labels).
    p.apply();
    p.drift("text")
        .code(0)
        .stdout_has("No drift. The platform matches the configuration.");
    let j = p.drift("json").json();
    assert_eq!(j["clean"], true);
    assert_eq!(j["drift"], json!([]));
    let hr = p.alice.get("/v1/workspaces/hr/quotas").expect(200);
    assert_eq!(hr.body["max_users"], 20);
    assert!(
        hr.body["labels"]["tenet.dev/last-applied"].is_string(),
        "{:#}",
        hr.body
    );
}

#[test]
fn drift_acknowledged_in_the_files_until_a_date() {
    let p = Platform::new();
    p.change_member();
    p.change_quota("finance", "storage_gb", 250, 300, true);
    let tenet_toml = p.cfg().join("tenet.toml");
    let original = std::fs::read_to_string(&tenet_toml).unwrap();
    let acknowledge = |entries: &[(&str, &str)]| {
        let mut text = original.clone();
        for (res, until) in entries {
            text.push_str(&format!(
                "\n[drift.acknowledged.\"{res}\"]\nuntil = \"{until}\"\nreason = \"TICKET-123\"\n"
            ));
        }
        std::fs::write(&tenet_toml, text).unwrap();
    };

    // One acknowledged until a future date: listed apart, not as drift.
    acknowledge(&[("workspaces/finance/quotas", "2099-12-31")]);
    let r = p.drift("json");
    r.code(2);
    let j = r.json();
    assert_eq!(resources(&j["drift"]), vec![FINANCE_CLAUDE], "{j:#}");
    assert_eq!(
        resources(&j["acknowledged"]),
        vec!["workspaces/finance/quotas"],
        "{j:#}"
    );
    assert_eq!(j["acknowledged"][0]["acknowledged"]["until"], "2099-12-31");
    assert_eq!(j["acknowledged"][0]["acknowledged"]["reason"], "TICKET-123");
    let r = p.drift("text");
    r.code(2)
        .stdout_has("Drift: 1 object(s) changed outside tenet")
        .stdout_has("Acknowledged drift (1):")
        .stdout_has("workspaces/finance/quotas until 2099-12-31: TICKET-123")
        .stdout_lacks("! workspaces/finance/quotas");

    // Everything acknowledged: nothing left to report, exit 0.
    acknowledge(&[
        ("workspaces/finance/quotas", "2099-12-31"),
        (FINANCE_CLAUDE, "2099-12-31"),
    ]);
    let r = p.drift("json");
    r.code(0);
    let j = r.json();
    assert_eq!(j["clean"], true);
    assert_eq!(j["drift"], json!([]));
    assert_eq!(j["acknowledged"].as_array().map(Vec::len), Some(2));

    // An acknowledgement whose day has passed: drift again.
    acknowledge(&[("workspaces/finance/quotas", "2000-01-01")]);
    let r = p.drift("json");
    r.code(2);
    let j = r.json();
    let drifted: BTreeSet<String> = resources(&j["drift"]).into_iter().collect();
    assert_eq!(
        drifted,
        BTreeSet::from([
            FINANCE_CLAUDE.to_owned(),
            "workspaces/finance/quotas".to_owned()
        ])
    );
    assert_eq!(j["acknowledged"], json!([]));
    assert_eq!(
        find(&j["drift"], "workspaces/finance/quotas")["acknowledged"]["until"],
        "2000-01-01"
    );
    p.drift("text")
        .code(2)
        .stdout_has("acknowledgement expired on 2000-01-01");
}

// ---------------------------------------------------------------------------
// 3. why

fn why(args: &[&str]) -> Run {
    let mut cmd = tenet();
    cmd.current_dir(root())
        .arg("why")
        .args(args)
        .args(["--dir", "examples/acme"]);
    run(cmd)
}

#[test]
fn why_explains_a_permission_through_roles_wildcards_and_teams() {
    let acme = example("acme");

    // A custom role with a wildcard, granted directly.
    let r = why(&[
        "hedy.lamarr@acme.example",
        "prompts.test",
        "--workspace",
        "finance",
    ]);
    r.code(0);
    assert!(r.stdout.starts_with("yes:"), "{}", r.stdout);
    assert_eq!(
        r.stdout,
        "yes: hedy.lamarr@acme.example has prompts.test in finance (1 way)\n"
    );
    let member_line = line_of(
        &acme.join("workspaces/finance.toml"),
        r#""hedy.lamarr@acme.example" = ["member", "prompt-engineer"]"#,
    );
    let pattern_line = line_of(
        &acme.join("roles.toml"),
        r#"permissions = ["prompts.*", "workflows.view""#,
    );
    r.stderr_has("directly: custom role `prompt-engineer` grants it with `prompts.*`")
        .stderr_has(&format!(
            "examples/acme/workspaces/finance.toml:{member_line}:"
        ))
        .stderr_has("role `prompt-engineer` granted here")
        .stderr_has(&format!("examples/acme/roles.toml:{pattern_line}:"))
        .stderr_has("`prompts.*` includes prompts.test");

    // Through a team: a built-in role the team holds in the workspace.
    let r = why(&[
        "ada.lovelace@acme.example",
        "deployments.edit",
        "--workspace",
        "production",
    ]);
    r.code(0);
    assert!(r.stdout.starts_with("yes:"), "{}", r.stdout);
    let team_line = line_of(&acme.join("teams.toml"), r#""ada.lovelace@acme.example","#);
    let grant_line = line_of(
        &acme.join("workspaces/production.toml"),
        r#"platform-oncall = ["deployment-editor", "pipeline-operator"]"#,
    );
    r.stderr_has("through team `platform-oncall`: built-in role `deployment-editor` grants it with `deployments.*`")
        .stderr_has(&format!("examples/acme/teams.toml:{team_line}:"))
        .stderr_has(&format!("examples/acme/workspaces/production.toml:{grant_line}:"))
        .stderr_has("is a member of the team here");

    // Not held: exit 2, no "yes".
    let r = why(&[
        "annie.easley@acme.example",
        "prompts.test",
        "--workspace",
        "finance",
    ]);
    r.code(2)
        .stderr_has("annie.easley@acme.example does not have prompts.test in `finance`")
        .stderr_has("roles held: document-editor");
    assert_eq!(r.stdout, "");

    // Not a permission: exit 1 with a suggestion.
    let r = why(&[
        "annie.easley@acme.example",
        "prompts.tset",
        "--workspace",
        "finance",
    ]);
    r.code(1)
        .stderr_has("`prompts.tset` is not a permission")
        .stderr_has("did you mean `prompts.test`?");
    assert_eq!(r.stdout, "");
}

// ---------------------------------------------------------------------------
// 4. access impact

/// Whether a permission pattern (`*`, `family.*`, `*.action`, exact)
/// covers a permission.
fn covers(pattern: &str, permission: &str) -> bool {
    let (pf, pa) = match pattern {
        "*" | "*.*" => ("*", "*"),
        p => p.split_once('.').unwrap_or((p, "")),
    };
    let (f, a) = permission.split_once('.').unwrap_or((permission, ""));
    (pf == "*" || pf == f) && (pa == "*" || pa == a)
}

/// Every active (workspace, user) holding `role` in the files under `dir`
/// (directly or through a team) whose roles there do not already grant
/// `permission`: who gains `permission` when `role` gets it.
fn would_gain(dir: &Path, role: &str, permission: &str) -> BTreeSet<(String, String)> {
    let cfg = merged_config(dir);
    let catalog: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("src/model/catalog/m3forge.json")).unwrap(),
    )
    .unwrap();
    let mut patterns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in catalog["roles"].as_array().unwrap() {
        patterns.insert(
            r["id"].as_str().unwrap().to_owned(),
            strings(&r["permissions"]),
        );
    }
    for (id, r) in &cfg["roles"] {
        patterns.insert(id.clone(), strings(&r["permissions"]));
    }
    let suspended = |u: &str| {
        cfg["users"]
            .get(u)
            .is_some_and(|v| v["status"] == "suspended")
    };
    let mut out = BTreeSet::new();
    for (ws, w) in &cfg["workspaces"] {
        if w.get("status").is_some_and(|s| s == "archived") {
            continue;
        }
        let mut held: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        if let Some(Value::Object(members)) = w.get("members") {
            for (u, roles) in members {
                held.entry(u.to_lowercase())
                    .or_default()
                    .extend(strings(roles));
            }
        }
        if let Some(Value::Object(teams)) = w.get("teams") {
            for (t, roles) in teams {
                for u in strings(&cfg["teams"][t]["members"]) {
                    held.entry(u.to_lowercase())
                        .or_default()
                        .extend(strings(roles));
                }
            }
        }
        for (u, roles) in held {
            let has = roles
                .iter()
                .any(|r| patterns[r].iter().any(|p| covers(p, permission)));
            if roles.contains(role) && !has && !suspended(&u) {
                out.insert((ws.clone(), u));
            }
        }
    }
    out
}

fn access_pairs(access: &Value) -> BTreeSet<(String, String)> {
    access
        .as_array()
        .expect("access")
        .iter()
        .map(|a| {
            (
                a["workspace"].as_str().unwrap().to_owned(),
                a["user"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn access_of<'a>(access: &'a Value, ws: &str, user: &str) -> &'a Value {
    access
        .as_array()
        .expect("access")
        .iter()
        .find(|a| a["workspace"] == ws && a["user"] == user)
        .unwrap_or_else(|| panic!("no access change for {user} in {ws}: {access:#}"))
}

#[test]
fn access_impact_of_a_role_change_and_of_administrator_grants() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("acme");
    copy_tree(&example("acme"), &cfg);
    let endpoint = format!("sandbox:{}", tmp.path().join("p.db").display());
    let tenet_in = |args: &[&str]| {
        let mut cmd = tenet();
        cmd.current_dir(tmp.path())
            .args(args)
            .args(["--endpoint", &endpoint]);
        with_keys(&mut cmd);
        run(cmd)
    };
    tenet_in(&["apply", "acme", "--auto-approve"])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    tenet_in(&["plan", "acme"]).code(0);

    // A custom role held directly and through a team gains credentials.read.
    let roles = cfg.join("roles.toml");
    let original_roles = std::fs::read_to_string(&roles).unwrap();
    edit(
        &roles,
        r#"permissions = ["workflows.view", "workflows.execute", "monitoring.view"]"#,
        r#"permissions = ["workflows.view", "workflows.execute", "monitoring.view", "credentials.read"]"#,
    );
    let expected = would_gain(&example("acme"), "pipeline-operator", "credentials.read");
    // The computation is not vacuous: a direct holder and team members
    // gain it, an administrator holding the role through the team does not.
    assert!(expected.contains(&("production".into(), "claude.shannon@acme.example".into())));
    assert!(expected.contains(&("production".into(), "dennis.ritchie@acme.example".into())));
    assert!(!expected.contains(&("production".into(), "ada.lovelace@acme.example".into())));

    let r = tenet_in(&["plan", "acme", "--format", "json"]);
    r.code(2);
    let j = r.json();
    assert_eq!(
        actions(&j["changes"]),
        BTreeMap::from([("roles/pipeline-operator".to_owned(), "update".to_owned())])
    );
    assert_eq!(access_pairs(&j["access"]), expected, "{:#}", j["access"]);
    for a in j["access"].as_array().unwrap() {
        assert_eq!(a["gained"], json!(["credentials.read"]), "{a:#}");
        assert_eq!(a["lost"], json!([]), "{a:#}");
        assert_eq!(a["gains_credential_access"], true, "{a:#}");
        assert!(
            a.get("becomes_administrator").is_none_or(|v| v == false),
            "{a:#}"
        );
        assert!(
            a.get("loses_administrator").is_none_or(|v| v == false),
            "{a:#}"
        );
    }
    let r = tenet_in(&["plan", "acme"]);
    r.code(2)
        .stdout_has(&format!(
            "Access changes ({} user/workspace pairs):",
            expected.len()
        ))
        .stdout_has("dennis.ritchie@acme.example in production [GAINS CREDENTIAL ACCESS]")
        .stdout_has("gains 1: credentials.read")
        .stdout_lacks("ada.lovelace@acme.example in production");

    // Administrator taken from one member and given to another.
    std::fs::write(&roles, original_roles).unwrap();
    let finance = cfg.join("workspaces/finance.toml");
    edit(
        &finance,
        r#""ada.lovelace@acme.example" = ["administrator"]"#,
        r#""ada.lovelace@acme.example" = ["member"]"#,
    );
    edit(
        &finance,
        r#""claude.shannon@acme.example" = ["editor"]"#,
        r#""claude.shannon@acme.example" = ["editor", "administrator"]"#,
    );
    let r = tenet_in(&["plan", "acme", "--format", "json"]);
    r.code(2);
    let j = r.json();
    let ada = "ada.lovelace@acme.example";
    let claude = "claude.shannon@acme.example";
    assert_eq!(
        access_pairs(&j["access"]),
        BTreeSet::from([
            ("finance".to_owned(), ada.to_owned()),
            ("finance".to_owned(), claude.to_owned())
        ])
    );
    let a = access_of(&j["access"], "finance", ada);
    assert_eq!(a["loses_administrator"], true, "{a:#}");
    assert!(
        a.get("becomes_administrator").is_none_or(|v| v == false),
        "{a:#}"
    );
    assert_eq!(a["gained"], json!([]), "{a:#}");
    // Member still grants every `*.view`: only the rest is lost.
    let lost = strings(&a["lost"]);
    assert!(!lost.is_empty(), "{a:#}");
    assert!(lost.iter().all(|p| !p.ends_with(".view")), "{a:#}");
    let c = access_of(&j["access"], "finance", claude);
    assert_eq!(c["becomes_administrator"], true, "{c:#}");
    assert!(
        c.get("loses_administrator").is_none_or(|v| v == false),
        "{c:#}"
    );
    assert_eq!(c["lost"], json!([]), "{c:#}");
    assert!(!strings(&c["gained"]).is_empty(), "{c:#}");
    let r = tenet_in(&["plan", "acme"]);
    r.code(2)
        .stdout_has("claude.shannon@acme.example in finance [BECOMES ADMINISTRATOR")
        .stdout_has("ada.lovelace@acme.example in finance [loses administrator]");
}
