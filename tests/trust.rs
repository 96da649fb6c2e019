//! Trust in production (issue 10, points 1-6), end to end with the real
//! binary against `tenet serve` or the sandbox: no access hides behind an
//! undeclared user, a role still held live is never deleted by surprise,
//! a saved plan is exactly what was reviewed, acknowledged drift is left
//! alone, drift names who removed what, and a refused plan fails.

#[path = "e2e/mod.rs"]
#[allow(unused_imports)] // the helpers re-exported for other suites
mod e2e;
mod support;

use e2e::{Target, World};
use serde_json::json;
use support::run;

const MALLORY: &str = "mallory@elsewhere.example";

/// A user nobody declared, made an administrator of a managed workspace by
/// hand, is not invisible: the plan lists the membership with its roles and
/// calls out the administrator grant, drift reports it (exit 2) with who
/// made it, and authoritative memberships remove it, leaving the user.
#[test]
fn hidden_membership_of_an_undeclared_user_is_listed_reported_and_removed_when_authoritative() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    api.post("users", &json!({ "email": MALLORY })).expect(201);
    api.post(
        "workspaces/finance/memberships",
        &json!({ "user": MALLORY, "roles": ["administrator"] }),
    )
    .expect(201);

    let plan = w.plan(&[]);
    plan.code(0)
        .stdout_has(&format!(
            "workspaces/finance/memberships/{MALLORY} as administrator [administrator and credential access]"
        ))
        .has("unmanaged-privileged-access")
        .stdout_has("No changes to make, but 1 membership(s) of declared workspaces are not in the files");
    let json = w.plan(&["--format", "json"]);
    let v = json.json();
    assert_eq!(
        v["unmanaged_access"][0]["resource"],
        format!("workspaces/finance/memberships/{MALLORY}"),
        "{v:#}"
    );
    assert_eq!(v["unmanaged_access"][0]["administrator"], true, "{v:#}");

    run(w.cmd("drift", &[]))
        .code(2)
        .stdout_has("Unmanaged access: 1 membership(s)")
        .stdout_has(&format!("{MALLORY} as administrator"))
        .stdout_has("create by ci");
    let md = run(w.cmd("drift", &["--format", "markdown"]));
    md.code(2).stdout_has("Unmanaged access");

    // Authoritative memberships: the grant goes, the user stays.
    e2e::edit(
        &w.file("tenet.toml"),
        "workspace_removal = \"archive\"",
        "workspace_removal = \"archive\"\nauthoritative = [\"memberships\"]",
    );
    w.plan(&[])
        .code(2)
        .stdout_has(&format!("- workspaces/finance/memberships/{MALLORY}"));
    w.apply_ok();
    api.get(&format!("workspaces/finance/memberships/{MALLORY}"))
        .expect(404);
    api.get(&format!("users/{MALLORY}")).expect(200);
    w.assert_clean();
}

/// Deleting a custom role still held live outside the files: the holders
/// tenet owns (in a workspace archived earlier) give it up first, in the
/// same plan; a holder tenet does not own makes the plan refuse, naming it,
/// instead of an apply that fails with "role in use".
#[test]
fn deleting_a_role_still_held_live_revokes_owned_holders_and_refuses_on_foreign_ones() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    // hr leaves the files: archived, john keeps qa-tester there.
    std::fs::remove_file(w.file("workspaces/hr.toml")).unwrap();
    w.apply_ok();
    assert_eq!(
        api.get("workspaces/hr").expect(200).body["status"],
        "archived"
    );
    // Someone hands qa-tester to a user nobody declared.
    api.post("users", &json!({ "email": MALLORY })).expect(201);
    api.post(
        "workspaces/finance/memberships",
        &json!({ "user": MALLORY, "roles": ["qa-tester"] }),
    )
    .expect(201);
    // qa-tester leaves the files.
    e2e::remove_toml_block(&w.file("roles.toml"), "[roles.qa-tester]");
    for ws in ["development", "finance"] {
        e2e::edit(
            &w.file(&format!("workspaces/{ws}.toml")),
            "\"john.mccarthy@acme.example\" = [\"qa-tester\"]",
            "\"john.mccarthy@acme.example\" = [\"member\"]",
        );
    }
    let before = api.audit(None).len();
    w.plan(&[]).code(1).has("role-in-use").has(&format!(
        "workspaces/finance/memberships/{MALLORY} (outside the files, not managed by tenet)"
    ));
    w.apply(&["--auto-approve"]).code(1).has("role-in-use");
    assert_eq!(
        api.audit(None).len(),
        before,
        "a refused plan writes nothing"
    );

    // The foreign holder gives it up: the plan revokes the archived
    // workspace's holder before deleting the role, and applies cleanly.
    api.send(
        reqwest::Method::DELETE,
        &format!("/v1/workspaces/finance/memberships/{MALLORY}"),
        Some("*"),
        None,
    )
    .expect(204);
    let plan = w.plan(&["--format", "json"]);
    plan.code(2);
    let v = plan.json();
    let changes = v["changes"].as_array().cloned().unwrap_or_default();
    let find = |r: &str| {
        changes
            .iter()
            .find(|c| c["resource"] == r)
            .unwrap_or_else(|| panic!("no change of {r}: {v:#}"))
            .clone()
    };
    let revoke = find("workspaces/hr/memberships/john.mccarthy@acme.example");
    let role = find("roles/qa-tester");
    assert_eq!(revoke["action"], "delete", "{revoke}");
    assert_eq!(role["action"], "delete", "{role}");
    assert!(
        role["depends_on"]
            .as_array()
            .is_some_and(|d| d.contains(&revoke["id"])),
        "the role delete waits for the revocation: {role}"
    );
    w.apply(&["--auto-approve"]).code(0);
    api.get("roles/qa-tester").expect(404);
    w.assert_clean();
}

/// An archive is an archive: the workspace removed from the files (policy
/// `archive`) stays on the platform, archived, with its members, on every
/// native target. (It used to be sent as a delete.)
#[test]
fn removing_a_workspace_archives_it_and_keeps_its_members() {
    for target in [Target::Sandbox, Target::Http] {
        let w = World::new("acme", target);
        w.apply_ok();
        std::fs::remove_file(w.file("workspaces/hr.toml")).unwrap();
        w.apply_ok()
            .stdout_has("! archive workspaces/hr")
            .stdout_has("Apply complete: 1 applied");
        w.assert_clean();
        // Exported, the platform still has hr, archived, with its members.
        let out = w.path("export");
        let mut export = w.bare();
        export
            .args(["export", "--out"])
            .arg(&out)
            .args(["--endpoint", &w.endpoint]);
        run(export).code(0);
        let hr = std::fs::read_to_string(out.join("workspaces/hr.toml"))
            .unwrap_or_else(|e| panic!("hr is still there: {e}"));
        assert!(hr.contains("status = \"archived\""), "{hr}");
        assert!(hr.contains("john.mccarthy@acme.example"), "{hr}");
    }
}

/// A user deleted out of band takes its memberships with it on the
/// platform: drift reports those memberships as drift by the one who
/// deleted the user, not as changes pending in the files.
#[test]
fn memberships_gone_with_an_out_of_band_user_delete_are_drift_by_that_actor() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    // Someone else (another token) deletes a user.
    let other = support::token(&w.tmp.path().join("p.db"), "mallory-admin", "write");
    let as_other = support::Api::new(&w.endpoint, &other);
    as_other
        .send(
            reqwest::Method::DELETE,
            "/v1/users/john.mccarthy@acme.example",
            Some("*"),
            None,
        )
        .expect(204);
    api.get("workspaces/finance/memberships/john.mccarthy@acme.example")
        .expect(404);
    let drift = run(w.cmd("drift", &["--format", "json"]));
    drift.code(2);
    let v = drift.json();
    let pending: Vec<&serde_json::Value> = v["pending"].as_array().into_iter().flatten().collect();
    assert!(pending.is_empty(), "nothing is pending in the files: {v:#}");
    let drifted: Vec<&serde_json::Value> = v["drift"].as_array().into_iter().flatten().collect();
    let memberships: Vec<&&serde_json::Value> = drifted
        .iter()
        .filter(|f| f["kind"] == "memberships")
        .collect();
    assert_eq!(memberships.len(), 3, "john's three memberships: {v:#}");
    for f in memberships {
        assert_eq!(f["changed_by"][0]["actor"], "mallory-admin", "{f:#}");
        assert_eq!(
            f["changed_by"][0]["through"], "users/john.mccarthy@acme.example",
            "{f:#}"
        );
    }
    run(w.cmd("drift", &[]))
        .code(2)
        .stdout_has("gone with users/john.mccarthy@acme.example, deleted by mallory-admin");
}

/// Acknowledged drift is left alone by plan and apply until the
/// acknowledgement expires (or `--include-acknowledged`): shown as
/// acknowledged, never reverted; what depends on an acknowledged object (the
/// memberships of an acknowledged user deletion) is left alone with it.
#[test]
fn acknowledged_drift_is_left_alone_by_plan_and_apply_until_it_expires() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    let q = api.get("workspaces/finance/quotas").expect(200);
    let mut body = q.body.clone();
    if let Some(o) = body.as_object_mut() {
        for k in ["workspace", "version", "updated_at"] {
            o.remove(k);
        }
        o.insert("storage_gb".into(), json!(500));
    }
    api.send(
        reqwest::Method::PUT,
        "/v1/workspaces/finance/quotas",
        Some(&q.etag()),
        Some(&body),
    )
    .expect(200);
    api.send(
        reqwest::Method::DELETE,
        "/v1/users/john.mccarthy@acme.example",
        Some("*"),
        None,
    )
    .expect(204);
    let tenet_toml = w.file("tenet.toml");
    let original = std::fs::read_to_string(&tenet_toml).unwrap();
    let acknowledge = |until: &str| {
        let mut text = original.clone();
        for res in [
            "workspaces/finance/quotas",
            "users/john.mccarthy@acme.example",
        ] {
            text.push_str(&format!(
                "\n[drift.acknowledged.\"{res}\"]\nuntil = \"{until}\"\nreason = \"TICKET-9\"\n"
            ));
        }
        std::fs::write(&tenet_toml, text).unwrap();
    };
    acknowledge("2099-12-31");

    w.plan(&[])
        .code(0)
        .stdout_has("Acknowledged: 5 difference(s)")
        .stdout_has("update workspaces/finance/quotas until 2099-12-31: TICKET-9")
        .stdout_has(
            "create workspaces/finance/memberships/john.mccarthy@acme.example (with users/john.mccarthy@acme.example) until 2099-12-31",
        );
    let v = w.plan(&["--format", "json"]).json();
    assert_eq!(v["acknowledged"].as_array().map(Vec::len), Some(5), "{v:#}");
    let before = api.audit(None).len();
    w.apply(&["--auto-approve"]).code(0);
    assert_eq!(
        api.audit(None).len(),
        before,
        "apply writes nothing acknowledged"
    );
    let q = api.get("workspaces/finance/quotas").expect(200);
    assert_eq!(q.body["storage_gb"], 500, "the acknowledged quota stays");
    run(w.cmd("drift", &[]))
        .code(0)
        .stdout_has("Acknowledged drift (5):");

    // Asked for, it is reverted.
    w.plan(&["--include-acknowledged"])
        .code(2)
        .stdout_has("Plan: 4 to create, 1 to update");

    // Expired: planned and reverted again.
    acknowledge("2000-01-01");
    w.plan(&[]).code(2).stdout_lacks("Acknowledged:");
    w.apply_ok();
    let q = api.get("workspaces/finance/quotas").expect(200);
    assert_ne!(q.body["storage_gb"], 500, "reverted once expired");
    api.get("users/john.mccarthy@acme.example").expect(200);
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {e}"))
}

/// A saved plan whose JSON was edited (a workspace's name changed inside a
/// change, a refusal taken out) is refused: apply makes the plan again and
/// it must be the same, change by change. Nothing is written.
#[test]
fn an_edited_plan_file_is_refused_and_nothing_is_written() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    let saved = w.path("plan.json");
    w.plan(&["--out", saved.to_str().unwrap()]).code(2);
    let mut plan = read_json(&saved);
    let changes = plan["changes"].as_array_mut().expect("changes");
    let finance = changes
        .iter_mut()
        .find(|c| c["object"] == "workspaces/finance")
        .expect("finance is created");
    assert_eq!(finance["desired"]["object"]["name"], "Finance", "{finance}");
    finance["desired"]["object"]["name"] = json!("Finance (edited in the file)");
    let id = finance["id"].clone();
    std::fs::write(&saved, plan.to_string()).unwrap();
    w.apply_file(&saved, &[])
        .code(1)
        .stderr_has("the plan file is not what a plan made now")
        .stderr_has(&format!("change #{id} of workspaces/finance"))
        .stderr_has("nothing was changed");
    assert!(api.audit(None).is_empty(), "an edited plan writes nothing");
}

/// The keys a saved plan sends are pinned by fingerprint: the same
/// reference resolving to another value at apply time is refused, and the
/// plan file holds only the fingerprint.
#[test]
fn a_key_planned_as_one_value_and_applied_as_another_is_refused() {
    let mut w = World::new("acme", Target::Http);
    let api = w.api();
    let saved = w.path("plan.json");
    w.set_key("OPENAI_API_KEY", "sk-planned-value-canary-1");
    w.plan(&["--out", saved.to_str().unwrap()]).code(2);
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(
        !text.contains("sk-planned-value-canary-1"),
        "no value in the plan"
    );
    assert!(
        text.contains("\"secret_fingerprints\""),
        "the keys are pinned"
    );
    w.set_key("OPENAI_API_KEY", "sk-other-value-canary-2");
    let r = w.apply_file(&saved, &[]);
    r.code(1)
        .stderr_has("provider `openai`")
        .stderr_has("fingerprints differ")
        .stderr_has("nothing was changed");
    assert!(!r.all().contains("canary"), "no value in the output");
    assert!(api.audit(None).is_empty(), "nothing was written");
    // With the planned value it applies.
    w.set_key("OPENAI_API_KEY", "sk-planned-value-canary-1");
    w.apply_file(&saved, &[]).code(0);
}

/// Applying a saved plan a second time says it was already applied, rather
/// than blaming someone else for every object.
#[test]
fn reapplying_an_applied_plan_says_it_was_already_applied() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    e2e::edit(
        &w.file("workspaces/finance.toml"),
        "\"Invoice processing and accounts-payable automation.\"",
        "\"Invoices and payables.\"",
    );
    let saved = w.path("plan.json");
    w.plan(&["--out", saved.to_str().unwrap()]).code(2);
    w.apply_file(&saved, &[]).code(0);
    let before = api.audit(None).len();
    w.apply_file(&saved, &[])
        .code(1)
        .stderr_has("this plan was already applied")
        .stderr_has("nothing was changed");
    assert_eq!(api.audit(None).len(), before);
    // Someone else moves it after the apply: that is not "already applied".
    api.patch_current("workspaces/finance", &json!({ "description": "By hand." }))
        .expect(200);
    w.apply_file(&saved, &[])
        .code(1)
        .stderr_has("the platform changed since the plan was made");
}

/// User-info in an endpoint URL never reaches the plan file.
#[test]
fn a_plan_file_holds_no_credentials_from_the_endpoint_url() {
    let w = World::new("acme", Target::Http);
    let with_creds = w
        .endpoint
        .replacen("http://", "http://ci:hunter2-canary@", 1);
    let saved = w.path("plan.json");
    let mut cmd = w.bare();
    cmd.arg("plan")
        .arg(&w.cfg)
        .args(["--endpoint", &with_creds, "--out"])
        .arg(&saved);
    let r = run(cmd);
    r.code(2);
    assert!(!r.all().contains("hunter2-canary"), "{}", r.all());
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(!text.contains("hunter2-canary"), "{text}");
    assert_eq!(read_json(&saved)["endpoint"], w.endpoint.as_str());
    // It applies: user-info is never used (the token is TENET_TOKEN).
    let mut cmd = w.bare();
    cmd.arg("apply")
        .arg(&saved)
        .args(["--endpoint", &with_creds]);
    run(cmd).code(0);
}
