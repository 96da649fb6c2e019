//! Renames in place with `previously`, end to end with the real binary: a
//! copy of `examples/acme` applied to a fresh platform (an embedded sandbox
//! database, or a real `tenet serve` child), then a workspace, a custom role
//! or a provider renamed in the files with its old slug in `previously`.
//! The plan shows one rename (never a create and an archive), in every
//! format; applying it keeps what is attached to the object (checked on the
//! platform, through `tenet serve` on the same database for the sandbox);
//! the plan after is empty, with `previously` still in the files. Also:
//! renames with other changes, an unmanaged earlier object, a saved plan
//! whose new name was taken meanwhile, drift and `why` across a rename.

#[path = "e2e/mod.rs"]
#[allow(unused_imports)]
mod e2e;
mod support;

use std::path::Path;

use e2e::{Api, NO_CHANGES, ServeChild, Target, World, events, token};
use serde_json::{Value, json};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Renames workspace `finance` to `accounting` in the files, keeping
/// `finance` in `previously`.
fn rename_finance(w: &World) {
    let f = w.file("workspaces/finance.toml");
    let text = read(&f)
        .replace("[workspaces.finance", "[workspaces.accounting")
        .replacen(
            "[workspaces.accounting]\n",
            "[workspaces.accounting]\npreviously = [\"finance\"]\n",
            1,
        );
    write(&f, &text);
}

/// Renames custom role `qa-tester` to `tester` everywhere in the files.
fn rename_qa_tester(w: &World) {
    for rel in [
        "roles.toml",
        "workspaces/finance.toml",
        "workspaces/development.toml",
        "workspaces/hr.toml",
    ] {
        let f = w.file(rel);
        let text = read(&f).replace("\"qa-tester\"", "\"tester\"").replace(
            "[roles.qa-tester]\n",
            "[roles.tester]\npreviously = [\"qa-tester\"]\n",
        );
        write(&f, &text);
    }
}

/// Renames provider `azure-openai` to `azure` everywhere in the files.
fn rename_azure(w: &World) {
    for rel in [
        "providers.toml",
        "workspaces/finance.toml",
        "workspaces/production.toml",
    ] {
        let f = w.file(rel);
        let text = read(&f)
            .replace("providers.azure-openai]", "providers.azure]")
            .replace("providers.azure-openai.", "providers.azure.")
            .replacen(
                "[providers.azure]\n",
                "[providers.azure]\npreviously = [\"azure-openai\"]\n",
                1,
            );
        write(&f, &text);
    }
}

/// The change lines of a text plan, any action.
fn change_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| {
            ["+ ", "~ ", "- ", "! ", "> "]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .map(str::to_owned)
        .collect()
}

/// The platform of an applied world, over HTTP: its own server, or a
/// `tenet serve` started on the sandbox's database.
struct Platform {
    _serve: Option<ServeChild>,
    api: Api,
}

fn platform(w: &World) -> Platform {
    if w.server.is_some() {
        return Platform {
            _serve: None,
            api: w.api(),
        };
    }
    let db = w.path("p.db");
    let t = token(&db, &format!("inspector-{}", e2e::random_alnum(8)), "read");
    let serve = ServeChild::start(&db, &[]);
    let api = Api::new(&serve.url, &t);
    Platform {
        _serve: Some(serve),
        api,
    }
}

/// `(user, roles, version)` of every membership of a workspace.
fn members(api: &Api, ws: &str) -> Vec<(String, Value, u64)> {
    api.list(&format!("workspaces/{ws}/memberships"), "")
        .iter()
        .map(|m| {
            (
                m["user"].as_str().unwrap_or("").to_owned(),
                m["roles"].clone(),
                m["version"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn renames_a_workspace_in_place(target: Target) {
    let w = World::new("acme", target);
    w.apply_ok();
    let (members_before, assignments_before) = {
        let p = platform(&w);
        let a = p.api.list("workspaces/finance/assignments", "");
        (members(&p.api, "finance"), a)
    };
    assert_eq!(members_before.len(), 7);

    rename_finance(&w);
    let plan = w.plan(&[]);
    plan.code(2)
        .stdout_has("Plan: 0 to create, 0 to update, 1 to rename, 0 to archive, 0 to delete.");
    assert_eq!(
        change_lines(&plan.stdout),
        vec!["> rename workspaces/finance -> workspaces/accounting"],
        "one rename, nothing recreated:\n{}",
        plan.stdout
    );

    w.apply_ok()
        .stdout_has("Apply complete: 1 applied, 0 failed, 0 skipped.");
    // `previously` stays in the files and does nothing more.
    assert!(read(&w.file("workspaces/finance.toml")).contains("previously = [\"finance\"]"));
    w.plan(&[]).code(0).stdout_has(NO_CHANGES);

    let p = platform(&w);
    p.api.get("workspaces/finance").expect(404);
    let ws = p.api.get("workspaces/accounting").expect(200).body;
    assert_eq!(ws["name"], "Finance");
    assert_eq!(
        members(&p.api, "accounting"),
        members_before,
        "the same members, roles and versions"
    );
    let assignments: Vec<Value> = p
        .api
        .list("workspaces/accounting/assignments", "")
        .into_iter()
        .map(|mut a| {
            a["workspace"] = json!("finance");
            a
        })
        .collect();
    assert_eq!(assignments, assignments_before);
    let q = p.api.get("workspaces/accounting/quotas").expect(200).body;
    assert_eq!(q["storage_gb"], 250);
    let log = p.api.audit(Some("workspaces/accounting"));
    let renames = events(&log, "rename");
    assert_eq!(renames.len(), 1, "{log:#?}");
    assert_eq!(
        renames[0]["changes"]["slug"],
        json!({"before": "finance", "after": "accounting"})
    );
    // Its history came along: the creates under the old name are in it.
    assert!(
        events(&log, "create")
            .iter()
            .any(|e| e["resource"] == "workspaces/finance"),
        "{log:#?}"
    );
    let all = p.api.audit(None);
    let last_rename = all
        .iter()
        .rposition(|e| e["action"] == "rename")
        .expect("a rename");
    assert_eq!(
        last_rename,
        all.len() - 1,
        "nothing written after: {all:#?}"
    );
}

#[test]
fn renaming_a_workspace_keeps_its_members_on_sandbox() {
    renames_a_workspace_in_place(Target::Sandbox);
}

#[test]
fn renaming_a_workspace_keeps_its_members_over_http() {
    renames_a_workspace_in_place(Target::Http);
}

fn renames_a_role_in_place(target: Target) {
    let w = World::new("acme", target);
    w.apply_ok();
    rename_qa_tester(&w);
    let plan = w.plan(&[]);
    plan.code(2);
    assert_eq!(
        change_lines(&plan.stdout),
        vec!["> rename roles/qa-tester -> roles/tester"],
        "the holders follow the role:\n{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("Access changes"),
        "nobody gains or loses anything:\n{}",
        plan.stdout
    );
    w.apply_ok();
    w.assert_clean();
    let p = platform(&w);
    p.api.get("roles/qa-tester").expect(404);
    let holders: Vec<String> = ["finance", "development", "hr"]
        .iter()
        .flat_map(|ws| members(&p.api, ws))
        .filter(|(_, roles, _)| {
            roles
                .as_array()
                .is_some_and(|r| r.contains(&json!("tester")))
        })
        .map(|(u, _, _)| u)
        .collect();
    assert_eq!(holders.len(), 3, "{holders:?}");
}

#[test]
fn renaming_a_role_keeps_its_holders_on_sandbox() {
    renames_a_role_in_place(Target::Sandbox);
}

#[test]
fn renaming_a_role_keeps_its_holders_over_http() {
    renames_a_role_in_place(Target::Http);
}

fn renames_a_provider_in_place(target: Target) {
    let w = World::new("acme", target);
    w.apply_ok();
    rename_azure(&w);
    let plan = w.plan(&[]);
    plan.code(2);
    assert_eq!(
        change_lines(&plan.stdout),
        vec!["> rename providers/azure-openai -> providers/azure"],
        "{}",
        plan.stdout
    );
    w.apply_ok();
    w.assert_clean();
    let p = platform(&w);
    p.api.get("providers/azure-openai").expect(404);
    let a = p
        .api
        .get("workspaces/finance/assignments/azure")
        .expect(200)
        .body;
    assert_eq!(
        (a["default"].clone(), a["version"].clone()),
        (json!(true), json!(1))
    );
    p.api
        .get("workspaces/production/assignments/azure")
        .expect(200);
}

#[test]
fn renaming_a_provider_keeps_its_assignments_on_sandbox() {
    renames_a_provider_in_place(Target::Sandbox);
}

#[test]
fn renaming_a_provider_keeps_its_assignments_over_http() {
    renames_a_provider_in_place(Target::Http);
}

#[test]
fn a_rename_shows_as_a_rename_in_every_format() {
    let w = World::new("acme", Target::Sandbox);
    w.apply_ok();
    rename_finance(&w);
    let v = w.plan(&["--format", "json"]).code(2).json();
    assert_eq!(
        v["summary"],
        json!({"create": 0, "update": 0, "adopt": 0, "rename": 1, "archive": 0, "delete": 0})
    );
    let changes = v["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{v:#}");
    assert_eq!(changes[0]["action"], "rename");
    assert_eq!(changes[0]["resource"], "workspaces/accounting");
    assert_eq!(changes[0]["from"], "workspaces/finance");
    assert_eq!(changes[0]["workspace"], "accounting");
    let md = w.plan(&["--format", "markdown"]);
    md.code(2)
        .stdout_has("| Kind | Create | Update | Rename | Archive | Delete |")
        .stdout_has("> rename workspaces/finance -> workspaces/accounting");
    // The saved plan applies it.
    let file = w.path("plan.json");
    w.plan(&["--out", file.to_str().expect("utf-8 path")])
        .code(2);
    let saved: Value = serde_json::from_str(&read(&file)).expect("a plan file");
    assert_eq!(saved["changes"][0]["from"], "workspaces/finance");
    w.apply_file(&file, &[]).code(0);
    w.assert_clean();
}

#[test]
fn a_rename_with_other_changes_makes_them_under_the_new_name() {
    let w = World::new("acme", Target::Http);
    w.apply_ok();
    rename_finance(&w);
    let f = w.file("workspaces/finance.toml");
    let text = read(&f)
        .replace("name = \"Finance\"", "name = \"Accounting\"")
        .replace(
            "\"claude.shannon@acme.example\" = [\"editor\"]",
            "\"claude.shannon@acme.example\" = [\"editor\", \"member\"]",
        )
        .replace("storage_gb = 250", "storage_gb = 300");
    write(&f, &text);
    let v = w.plan(&["--format", "json"]).code(2).json();
    let changes = v["changes"].as_array().expect("changes");
    let by: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or(""),
                c["resource"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        by,
        vec![
            ("rename", "workspaces/accounting"),
            ("update", "workspaces/accounting/quotas"),
            (
                "update",
                "workspaces/accounting/memberships/claude.shannon@acme.example"
            ),
        ],
        "{v:#}"
    );
    assert_eq!(
        changes[0]["fields"],
        json!([{"field": "name", "before": "Finance", "after": "Accounting", "sensitive": false}])
    );
    let rename_id = &changes[0]["id"];
    for c in &changes[1..] {
        assert!(
            c["depends_on"]
                .as_array()
                .is_some_and(|d| d.contains(rename_id)),
            "waits for the rename: {c:#}"
        );
    }
    w.apply_ok()
        .stdout_has("Apply complete: 3 applied, 0 failed, 0 skipped.");
    w.assert_clean();
    let api = w.api();
    let ws = api.get("workspaces/accounting").expect(200).body;
    assert_eq!(ws["name"], "Accounting");
    let m = api
        .get("workspaces/accounting/memberships/claude.shannon@acme.example")
        .expect(200)
        .body;
    assert_eq!(m["roles"], json!(["editor", "member"]));
}

#[test]
fn an_earlier_object_not_managed_by_tenet_is_renamed_only_with_adopt() {
    let w = World::new("acme", Target::Http);
    w.apply_ok();
    let api = w.api();
    api.post("workspaces", &json!({"slug": "legacy-ops", "name": "Ops"}))
        .expect(201);
    write(
        &w.file("workspaces/ops.toml"),
        "[workspaces.ops]\npreviously = [\"legacy-ops\"]\nname = \"Ops\"\n\n[workspaces.ops.members]\n\"ada.lovelace@acme.example\" = [\"administrator\"]\n\n[workspaces.ops.providers.openai]\n",
    );
    let plan = w.plan(&[]);
    plan.code(2)
        .stdout_has("+ workspaces/ops\n")
        .stdout_has("[rename-not-adopted]")
        .stdout_has("`workspaces/legacy-ops`, an earlier name of `workspaces/ops`, exists but is not managed by tenet");
    let adopt = w.plan(&["--adopt"]);
    adopt
        .code(2)
        .stdout_has("> rename workspaces/legacy-ops -> workspaces/ops\n")
        .stdout_lacks("+ workspaces/ops\n");
    w.apply(&["--adopt", "--auto-approve"]).code(0);
    w.assert_clean();
    let ws = api.get("workspaces/ops").expect(200).body;
    assert_eq!(ws["labels"]["tenet.dev/managed"], "true");
    api.get("workspaces/legacy-ops").expect(404);
}

#[test]
fn a_saved_rename_refuses_when_its_new_name_was_taken() {
    let w = World::new("acme", Target::Http);
    w.apply_ok();
    rename_finance(&w);
    let file = w.path("plan.json");
    w.plan(&["--out", file.to_str().expect("utf-8 path")])
        .code(2);
    w.api()
        .post("workspaces", &json!({"slug": "accounting"}))
        .expect(201);
    w.apply_file(&file, &[])
        .code(1)
        .stderr_has("workspaces/accounting: created by someone else");
    w.api().get("workspaces/finance").expect(200);
}

#[test]
fn drift_tells_pending_from_drift_across_a_rename() {
    let w = World::new("acme", Target::Http);
    w.apply_ok();
    rename_finance(&w);
    // Not applied yet: the rename and a change below it are pending.
    let d = w.cmd("drift", &["--format", "json"]);
    let v = e2e::run(d).code(2).json();
    assert_eq!(v["drift"], json!([]), "{v:#}");
    let pending: Vec<&str> = v["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .map(|f| f["resource"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(pending, vec!["workspaces/accounting"], "{v:#}");
    assert_eq!(v["pending"][0]["from"], "workspaces/finance");

    w.apply_ok();
    // After it: a change in the files to a member is pending, not drift
    // (its last-applied digest was taken under the old name) ...
    let f = w.file("workspaces/finance.toml");
    write(
        &f,
        &read(&f).replace(
            "\"john.mccarthy@acme.example\" = [\"qa-tester\"]",
            "\"john.mccarthy@acme.example\" = [\"qa-tester\", \"member\"]",
        ),
    );
    // ... and one made on the platform is drift, by whom.
    let alice = token(&w.path("p.db"), "alice", "write");
    let url = &w.server.as_ref().expect("a server").url;
    Api::new(url, &alice)
        .patch_current(
            "workspaces/accounting/memberships/hedy.lamarr@acme.example",
            &json!({"roles": ["editor"]}),
        )
        .expect(200);
    let v = e2e::run(w.cmd("drift", &["--format", "json"]))
        .code(2)
        .json();
    let ids = |class: &str| -> Vec<String> {
        v[class]
            .as_array()
            .expect(class)
            .iter()
            .map(|f| f["resource"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(
        ids("pending"),
        vec!["workspaces/accounting/memberships/john.mccarthy@acme.example"],
        "{v:#}"
    );
    assert_eq!(
        ids("drift"),
        vec!["workspaces/accounting/memberships/hedy.lamarr@acme.example"],
        "{v:#}"
    );
    assert_eq!(v["drift"][0]["changed_by"][0]["actor"], "alice");
}

#[test]
fn why_answers_for_a_workspace_under_its_earlier_slug() {
    let w = World::new("acme", Target::Sandbox);
    rename_finance(&w);
    let mut cmd = w.bare();
    cmd.args([
        "why",
        "ada.lovelace@acme.example",
        "users.roles",
        "-w",
        "finance",
        "--dir",
    ])
    .arg(&w.cfg);
    e2e::run(cmd)
        .code(0)
        .stderr_has("workspace `finance` is now `accounting`")
        .stdout_has("yes: ada.lovelace@acme.example has users.roles in accounting");
}
