//! The lifecycle of objects leaving the files, end to end with the real
//! binary on `examples/acme`: a user removed from the files is suspended
//! and its memberships revoked (`user_removal = "suspend"`, the default) or
//! deleted with its memberships listed as cascades (`"delete"`); a removed
//! workspace lists what goes with it; switching `workspace_removal` to
//! `delete` warns about the workspaces archived earlier; and the changes a
//! reviewer could miss are shown: `prevent_destroy` as a field, a provider
//! becoming global, two-factor authentication or email verification turned
//! off, and a key added, removed or rotated. On `examples/magoneai` over
//! `tenet serve --profile magoneai`: a project member changed out of band
//! is drift and is put back, a removed project is archived (its top-up
//! revoked first), an expired top-up is neither applied nor revoked, and
//! the export (TOML and KDL) plans clean; an identity provider's client
//! secret is pinned and rotated like an API key and never shown, and a
//! group mapping changed out of band is drift put back. Each ends with
//! "apply, then plan is empty".

#[path = "e2e/mod.rs"]
#[allow(unused_imports)]
mod e2e;
mod support;

use e2e::{Target, World};
use serde_json::{Value, json};

const ANNIE: &str = "annie.easley@acme.example";
const HEDY: &str = "hedy.lamarr@acme.example";

const WORKSPACES: [&str; 5] = ["development", "finance", "hr", "legal", "production"];

/// Removes a user from users.toml and every workspace; returns how many
/// memberships went.
fn remove_user(w: &World, email: &str) -> usize {
    e2e::remove_toml_block(&w.file("users.toml"), &format!("[users.\"{email}\"]"));
    WORKSPACES
        .iter()
        .map(|ws| {
            e2e::remove_lines(
                &w.file(&format!("workspaces/{ws}.toml")),
                &format!("\"{email}\""),
            )
        })
        .sum()
}

fn set_policy(w: &World, line: &str) {
    support::edit(
        &w.file("tenet.toml"),
        "destroy_threshold_percent = 25\n",
        &format!("{line}\ndestroy_threshold_percent = 25\n"),
    );
}

fn json_plan(w: &World) -> Value {
    let r = w.plan(&["--format", "json"]);
    r.code(2);
    r.json()
}

fn change<'v>(plan: &'v Value, resource: &str) -> &'v Value {
    plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["resource"] == resource)
        .unwrap_or_else(|| panic!("no change of {resource} in {plan:#}"))
}

fn warning_codes(plan: &Value) -> Vec<String> {
    plan["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["code"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_user_removed_from_the_files_is_suspended_and_its_memberships_revoked() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    assert_eq!(remove_user(&w, ANNIE), 1);
    let plan = w.plan(&[]);
    plan.code(2)
        .stdout_has(&format!(
            "  ~ users/{ANNIE}\n      status: \"active\" -> \"suspended\"\n"
        ))
        .stdout_has(&format!("  - workspaces/finance/memberships/{ANNIE}\n"))
        .stdout_has("Plan: 0 to create, 1 to update, 0 to archive, 1 to delete.")
        .stdout_lacks(&format!("- users/{ANNIE}"));
    w.apply_ok()
        .stdout_has("Apply complete: 2 applied, 0 failed, 0 skipped.");
    let user = api.get(&format!("users/{ANNIE}")).expect(200);
    assert_eq!(user.body["status"], "suspended", "{:#}", user.body);
    api.get(&format!("workspaces/finance/memberships/{ANNIE}"))
        .expect(404);
    // No churn: the suspended, undeclared user needs nothing more.
    let before = api.audit(None).len();
    w.assert_clean();
    w.apply(&["--auto-approve"]).code(0).has("No changes");
    assert_eq!(api.audit(None).len(), before, "a second apply wrote");
    // A membership added by hand to the suspended user is revoked again.
    api.post(
        "workspaces/finance/memberships",
        &json!({"user": ANNIE, "roles": ["member"]}),
    )
    .expect(201);
    w.plan(&[])
        .code(2)
        .stdout_has(&format!("  - workspaces/finance/memberships/{ANNIE}\n"))
        .stdout_has("Plan: 0 to create, 0 to update, 0 to archive, 1 to delete.");
}

#[test]
fn user_removal_delete_lists_the_memberships_as_cascades_of_the_user() {
    let w = World::new("acme", Target::Sandbox);
    w.apply_ok();
    set_policy(&w, "user_removal = \"delete\"");
    assert_eq!(remove_user(&w, HEDY), 3);
    w.plan(&[])
        .code(2)
        .stdout_has(&format!(
            "  - users/{HEDY}\n      cascades: 3 object(s) removed with it by the platform, no writes of their own:\n        - workspaces/development/memberships/{HEDY}\n        - workspaces/finance/memberships/{HEDY}\n        - workspaces/legal/memberships/{HEDY}\n"
        ))
        .stdout_has("Plan: 0 to create, 0 to update, 0 to archive, 1 to delete.")
        .stdout_lacks(&format!("\n  - workspaces/finance/memberships/{HEDY}"));
    let plan = json_plan(&w);
    assert_eq!(
        change(&plan, &format!("users/{HEDY}"))["cascades"],
        json!([
            format!("workspaces/development/memberships/{HEDY}"),
            format!("workspaces/finance/memberships/{HEDY}"),
            format!("workspaces/legal/memberships/{HEDY}"),
        ])
    );
    w.apply_ok()
        .stdout_has("Apply complete: 1 applied, 0 failed, 0 skipped.");
    w.assert_clean();
}

#[test]
fn suspending_removed_users_counts_towards_the_destroy_threshold() {
    let w = World::new("acme", Target::Sandbox);
    w.apply_ok();
    // Eight of twenty users leave; two are suspended in the files already.
    for email in [
        "alan.turing@acme.example",
        ANNIE,
        "charles.babbage@acme.example",
        "donald.knuth@acme.example",
        "frances.allen@acme.example",
        "margaret.hamilton@acme.example",
        "niklaus.wirth@acme.example",
        "tim.berners-lee@acme.example",
    ] {
        remove_user(&w, email);
    }
    // Refused (exit 1) until allowed.
    w.plan(&[])
        .code(1)
        .stdout_has("Plan: 0 to create, 6 to update, 0 to archive, ")
        .has("removes 6 of 20 users (30%)");
    w.plan(&["--allow-destroy"]).code(2);
    w.apply(&["--auto-approve"])
        .code(1)
        .stderr_has("--allow-destroy");
    w.apply(&["--auto-approve", "--allow-destroy"]).code(0);
    w.assert_clean();
}

#[test]
fn a_removed_workspace_lists_its_memberships_assignments_and_quotas_as_cascades() {
    let w = World::new("acme", Target::Sandbox);
    w.apply_ok();
    std::fs::remove_file(w.file("workspaces/legal.toml")).unwrap_or_else(|e| panic!("{e}"));
    let plan = w.plan(&[]);
    plan.code(2)
        .stdout_has("  ! archive workspaces/legal\n      cascades: 7 object(s) closed with it while it is archived, no writes of their own:\n        - workspaces/legal/memberships/barbara.liskov@acme.example\n")
        .stdout_has("        - workspaces/legal/assignments/anthropic\n        - workspaces/legal/quotas\n")
        .stdout_has("Plan: 0 to create, 0 to update, 1 to archive, 0 to delete.");
    let plan = json_plan(&w);
    let cascades = change(&plan, "workspaces/legal")["cascades"].clone();
    assert_eq!(cascades.as_array().map(Vec::len), Some(7), "{cascades:#}");
    w.apply_ok();
    w.assert_clean();
}

#[test]
fn a_workspace_removed_under_archive_is_archived_not_deleted() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    std::fs::remove_file(w.file("workspaces/legal.toml")).unwrap_or_else(|e| panic!("{e}"));
    w.apply_ok().stdout_has("1 applied");
    let legal = api.get("workspaces/legal").expect(200);
    assert_eq!(legal.body["status"], "archived", "{:#}", legal.body);
    assert_eq!(api.list("workspaces/legal/memberships", "").len(), 5);
    let log = api.audit(Some("workspaces/legal"));
    assert!(e2e::events(&log, "delete").is_empty(), "{log:#?}");
    w.assert_clean();
}

#[test]
fn switching_workspace_removal_to_delete_warns_and_counts_the_archived_workspaces() {
    let w = World::new("acme", Target::Sandbox);
    w.apply_ok();
    std::fs::remove_file(w.file("workspaces/legal.toml")).unwrap_or_else(|e| panic!("{e}"));
    w.apply_ok().stdout_has("1 applied");
    w.assert_clean();
    support::edit(
        &w.file("tenet.toml"),
        "workspace_removal = \"archive\"",
        "workspace_removal = \"delete\"",
    );
    w.plan(&[])
        .code(2)
        .stdout_has("  - workspaces/legal\n      cascades: 7 object(s)")
        .stdout_has("Warning: workspace_removal = \"delete\" deletes 1 workspace(s) archived earlier, with everything in them: `legal` [archived-workspaces-deleted]");
    let plan = json_plan(&w);
    assert_eq!(
        warning_codes(&plan),
        vec!["archived-workspaces-deleted".to_owned()]
    );
    w.apply_ok();
    w.assert_clean();
}

#[test]
fn toggling_prevent_destroy_shows_the_field() {
    let w = World::new("acme", Target::Http);
    w.apply_ok();
    let legal = w.file("workspaces/legal.toml");
    support::edit(
        &legal,
        "[workspaces.legal]\n",
        "[workspaces.legal]\nprevent_destroy = true\n",
    );
    w.plan(&[])
        .code(2)
        .stdout_has("  ~ workspaces/legal\n      prevent_destroy: false -> true\n");
    let plan = json_plan(&w);
    assert_eq!(
        change(&plan, "workspaces/legal")["fields"],
        json!([{"field": "prevent_destroy", "before": false, "after": true, "sensitive": false}])
    );
    w.apply_ok();
    w.assert_clean();
    support::edit(&legal, "prevent_destroy = true\n", "");
    w.plan(&[])
        .code(2)
        .stdout_has("  ~ workspaces/legal\n      prevent_destroy: true -> false\n");
    w.apply_ok();
    w.assert_clean();
}

#[test]
fn a_provider_becoming_global_is_a_warning() {
    let w = World::new("acme", Target::Sandbox);
    w.apply_ok();
    support::edit(
        &w.file("providers.toml"),
        "kind = \"anthropic\"\n",
        "kind = \"anthropic\"\nscope = \"global\"\n",
    );
    w.plan(&[])
        .code(2)
        .stdout_has("      scope: \"assigned\" -> \"global\"\n")
        .stdout_has("Warning: providers/anthropic: provider `anthropic` becomes global: every workspace may use it (5 live), not only the ")
        .stdout_has("[provider-becomes-global]");
    w.apply_ok();
    w.assert_clean();
}

#[test]
fn turning_off_two_factor_or_email_verification_is_a_warning() {
    let w = World::new("acme", Target::Sandbox);
    w.apply_ok();
    let root = w.file("tenet.toml");
    support::edit(&root, "require_2fa = true", "require_2fa = false");
    support::edit(
        &root,
        "email_verification = true",
        "email_verification = false",
    );
    let plan = w.plan(&[]);
    plan.code(2)
        .stdout_has("Warning: settings: two-factor authentication is no longer required: `security.require_2fa` goes from true to false [security-weakened]")
        .stdout_has("Warning: settings: email addresses are no longer verified: `security.email_verification` goes from true to false [security-weakened]");
    w.apply_ok();
    w.assert_clean();
    // Turning them back on is no warning.
    support::edit(&root, "require_2fa = false", "require_2fa = true");
    w.plan(&[]).code(2).stdout_lacks("[security-weakened]");
}

#[test]
fn adding_removing_and_rotating_a_key_are_told_apart() {
    let mut w = World::new("acme", Target::Http);
    w.keys.push((
        "EXTRA_ANTHROPIC_KEY".to_owned(),
        "test-extra-value".to_owned(),
    ));
    w.apply_ok();
    let providers = w.file("providers.toml");
    // anthropic gains a key, azure-openai loses one, openai's is replaced.
    support::edit(
        &providers,
        "api_keys = [\"env:ANTHROPIC_API_KEY\"]",
        "api_keys = [\"env:ANTHROPIC_API_KEY\", \"env:EXTRA_ANTHROPIC_KEY\"]",
    );
    support::edit(
        &providers,
        "api_keys = [\"env:AZURE_OPENAI_KEY_1\", \"env:AZURE_OPENAI_KEY_2\"]",
        "api_keys = [\"env:AZURE_OPENAI_KEY_1\"]",
    );
    w.set_key("OPENAI_API_KEY", "test-rotated-openai-value");
    let r = w.plan(&[]);
    r.code(2);
    for (p, what) in [
        ("anthropic", "added"),
        ("azure-openai", "removed"),
        ("openai", "rotated"),
    ] {
        r.stdout_has(&format!(
            "  ~ providers/{p}\n      api_keys: key {what} (sensitive values not shown)\n"
        ));
    }
    let plan = json_plan(&w);
    for (p, what) in [
        ("anthropic", "added"),
        ("azure-openai", "removed"),
        ("openai", "rotated"),
    ] {
        assert_eq!(
            change(&plan, &format!("providers/{p}"))["fields"],
            json!([{"field": "api_keys", "before": null, "after": null, "sensitive": true, "keys": what}])
        );
    }
    for (_, value) in &w.keys {
        assert!(!r.all().contains(value.as_str()), "a key value was shown");
    }
    w.apply_ok();
    w.assert_clean();
}

/// A MagOneAI world over HTTP: `examples/magoneai` on `tenet serve
/// --profile magoneai`, applied.
fn northwind() -> World {
    let mut w = World::with_server_flags("magoneai", Target::Http, &["--profile", "magoneai"]);
    for k in [
        "NORTHWIND_OPENAI_KEY",
        "NORTHWIND_ANTHROPIC_KEY",
        "ENTRA_CLIENT_SECRET",
    ] {
        w.keys.push((k.to_owned(), format!("test-{k}-value")));
    }
    w.apply_ok();
    w.assert_clean();
    w
}

const CLAIMS: &str = "workspaces/research/projects/claims-triage";

#[test]
fn projects_drift_back_and_archive_when_removed() {
    let w = northwind();
    let api = w.api();
    // The default project came with its workspace and holds the overrides.
    let d = api
        .get("workspaces/research/projects/default")
        .expect(200)
        .body;
    assert_eq!(d["default"], true);
    assert_eq!(d["members"].as_array().map(Vec::len), Some(2), "{d}");
    // A member changed out of band is drift, and apply puts it back.
    api.patch_current(
        CLAIMS,
        &json!({"members": [{"user": "priya.nair@northwind.example", "roles": ["viewer"]}]}),
    )
    .expect(200);
    w.cmd("drift", &[])
        .output()
        .map(|o| {
            let out = String::from_utf8_lossy(&o.stdout).to_string();
            assert_eq!(o.status.code(), Some(2), "{out}");
            assert!(
                out.contains("workspaces/research/projects/claims-triage"),
                "{out}"
            );
            assert!(
                out.contains("members.priya.nair@northwind.example"),
                "{out}"
            );
        })
        .unwrap_or_else(|e| panic!("drift: {e}"));
    w.plan(&[])
        .code(2)
        .stdout_has("priya.nair@northwind.example in research/claims-triage");
    w.apply_ok();
    w.assert_clean();
    // A project removed from the files is archived (and its top-up, which
    // names it, revoked first); the default project is never touched.
    e2e::remove_toml_block(
        &w.file("organizations/research.toml"),
        "[workspaces.research.top_ups.claims-backlog]",
    );
    for block in [
        "[workspaces.research.projects.claims-triage]",
        "[workspaces.research.projects.claims-triage.members]",
        "[workspaces.research.projects.claims-triage.quotas]",
    ] {
        e2e::remove_toml_block(&w.file("organizations/research.toml"), block);
    }
    // The group mapping that names it goes too, before the project does.
    e2e::remove_toml_block(
        &w.file("tenet.toml"),
        "[settings.sso.providers.entra.groups.ai-research.research.projects]",
    );
    w.plan(&[])
        .code(2)
        .stdout_has(
            "      groups.ai-research.research.projects.claims-triage: [builder] -> (unset)\n",
        )
        .stdout_has("  ! archive workspaces/research/projects/claims-triage\n")
        .stdout_has("  - workspaces/research/top-ups/claims-backlog\n")
        .stdout_has("Plan: 0 to create, 1 to update, 1 to archive, 1 to delete.");
    w.apply_ok();
    w.assert_clean();
    assert_eq!(api.get(CLAIMS).expect(200).body["status"], "archived");
    assert!(api.list("top-ups", "").is_empty());
}

#[test]
fn an_expired_top_up_is_neither_applied_nor_revoked() {
    let w = northwind();
    let api = w.api();
    // Granted on the platform long ago: history, not drift, not removed.
    api.post(
        "workspaces/research/top-ups",
        &json!({"id": "winter", "tokens": 10, "expires": "2020-01-31"}),
    )
    .expect(201);
    w.assert_clean();
    // Declared with a day past: a warning, and nothing to apply.
    let file = w.file("organizations/research.toml");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        &file,
        format!(
            "{text}\n[workspaces.research.top_ups.autumn]\ntokens = 5\nexpires = \"2021-10-31\"\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    w.cmd("validate", &[])
        .output()
        .map(|o| {
            let err = String::from_utf8_lossy(&o.stderr).to_string();
            assert_eq!(o.status.code(), Some(0), "{err}");
            assert!(err.contains("tenet::top-up::expired"), "{err}");
        })
        .unwrap_or_else(|e| panic!("validate: {e}"));
    w.assert_clean();
    let ids: Vec<String> = api
        .list("top-ups", "")
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, ["claims-backlog", "winter"]);
}

#[test]
fn the_magoneai_export_round_trips_with_projects_and_budgets() {
    let w = northwind();
    for format in ["toml", "kdl"] {
        let out = w.path(&format!("export-{format}"));
        let mut cmd = w.bare();
        cmd.args([
            "export",
            "--format",
            format,
            "--endpoint",
            &w.endpoint,
            "--out",
        ])
        .arg(&out);
        support::run(cmd).code(0).has("2 projects");
        // The branding images come back as files of the tree, byte for byte.
        let logo = std::fs::read(out.join("branding/logo-light.png")).unwrap_or_default();
        assert_eq!(
            logo,
            std::fs::read(w.file("branding/logo-light.png")).unwrap_or_default()
        );
        assert!(out.join("branding/favicon.ico").is_file());
        let mut plan = w.bare();
        plan.arg("plan").arg(&out).args(["--endpoint", &w.endpoint]);
        plan.env("ANTHROPIC_KEY_1", "test-NORTHWIND_ANTHROPIC_KEY-value")
            .env("OPENAI_KEY_1", "test-NORTHWIND_OPENAI_KEY-value");
        support::run(plan)
            .code(0)
            .stdout_has("No changes. The platform matches the configuration.");
    }
}

#[test]
fn an_identity_providers_secret_never_shows_and_its_mappings_drift_back() {
    const CANARY: &str = "canary-entra-secret-4f1d9c";
    let mut w = northwind();
    let api = w.api();
    let entra = api.get("identity-providers/entra").expect(200).body;
    assert_eq!(entra["protocol"], "oidc");
    assert_eq!(entra["jit_provisioning"], true);
    assert_eq!(entra["group_mappings"].as_array().map(Vec::len), Some(2));
    let printed = entra["client_secret"]["fingerprint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(printed.starts_with("sha256:"), "{entra}");
    // A rotated secret: a sensitive change, pinned in a saved plan by
    // fingerprint only, applied, and nowhere in any output or file.
    w.set_key("ENTRA_CLIENT_SECRET", CANARY);
    let r = w.plan(&["-vv"]);
    r.code(2).stdout_has(
        "  ~ identity-providers/entra\n      client_secret: key rotated (sensitive values not shown)\n",
    );
    let saved = w.path("sso-plan.json");
    w.plan(&["--out", saved.to_str().unwrap_or_default()])
        .code(2);
    let plan_text = std::fs::read_to_string(&saved).unwrap_or_default();
    assert!(
        plan_text.contains("identity-providers/entra"),
        "the secret is pinned"
    );
    let applied = w.apply_file(&saved, &["--auto-approve", "-vv"]);
    applied.code(0);
    let export = w.path("sso-export");
    let mut cmd = w.bare();
    cmd.args(["export", "--endpoint", &w.endpoint, "--out"])
        .arg(&export);
    let exported = support::run(cmd);
    exported.code(0).has("1 identity provider");
    let root = std::fs::read_to_string(export.join("tenet.toml")).unwrap_or_default();
    assert!(
        root.contains("client_secret = \"env:ENTRA_CLIENT_SECRET\""),
        "{root}"
    );
    let audit =
        serde_json::to_string(&api.audit(Some("identity-providers/entra"))).unwrap_or_default();
    let idp = serde_json::to_string(&api.get("identity-providers/entra").expect(200).body)
        .unwrap_or_default();
    for (what, text) in [
        ("plan -vv", r.all()),
        ("the plan file", plan_text),
        ("apply -vv", applied.all()),
        ("export", exported.all()),
        ("the exported config", root),
        ("the audit log", audit),
        ("the identity provider", idp.clone()),
        ("the server log", w.server_stderr()),
    ] {
        assert!(!text.contains(CANARY), "the client secret is in {what}");
    }
    assert!(
        !idp.contains(&printed),
        "the fingerprint follows the secret"
    );
    w.assert_clean();
    // A mapping changed on the platform is drift, put back by apply.
    api.patch_current(
        "identity-providers/entra",
        &json!({"group_mappings": [], "jit_provisioning": false}),
    )
    .expect(200);
    let r = w.plan(&[]);
    r.code(2).stdout_has("  ~ identity-providers/entra\n");
    r.stdout_has(
        "      groups.ai-research.research.projects.claims-triage: (unset) -> [builder]\n",
    );
    w.apply_ok();
    w.assert_clean();
    // The mapped project cannot go while the mapping names it.
    let gone = api.send(
        reqwest::Method::DELETE,
        "/v1/workspaces/research/projects/claims-triage",
        Some("*"),
        None,
    );
    assert_eq!(
        gone.status, 409,
        "a mapped project was deleted: {:?}",
        gone.body
    );
    assert_eq!(
        gone.body["type"], "https://tenet.dev/problems/identity-provider-in-use",
        "{:?}",
        gone.body
    );
    // A group mapped to the owner role: shown per group, with the default
    // project's mapped roles, and a warning; nobody by name.
    support::edit(
        &w.file("tenet.toml"),
        "[settings.sso.providers.entra.groups.ai-research.research]\nroles = [\"member\"]",
        "[settings.sso.providers.entra.groups.ai-research.research]\nroles = [\"owner\"]",
    );
    let r = w.plan(&[]);
    r.code(2)
        .stdout_has("Access through IdP groups (2 group/workspace pairs; tenet cannot see who is in an IdP group")
        .stdout_has("  members of IdP group `ai-research` (identity provider entra) in research [BECOMES ADMINISTRATOR]\n")
        .stdout_has("  members of IdP group `ai-research` (identity provider entra) in research/default\n")
        .stdout_has("[idp-group-administrator]");
    let plan = json_plan(&w);
    assert!(warning_codes(&plan).contains(&"idp-group-administrator".to_owned()));
    let groups = plan["group_access"].as_array().cloned().unwrap_or_default();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(groups[0]["group"], "ai-research");
    assert_eq!(groups[0]["becomes_administrator"], true);
    assert!(
        plan["access"].as_array().is_some_and(Vec::is_empty),
        "no user's access changes"
    );
    // `why` names the mapping as a possible way, without claiming the user.
    let mut why = w.bare();
    why.args([
        "why",
        "tomas.silva@northwind.example",
        "members.remove",
        "-w",
        "research",
        "--dir",
    ])
    .arg(&w.cfg);
    support::run(why)
        .code(2)
        .has("tenet::why::idp-group")
        .has("members of IdP group `ai-research` (identity provider `entra`) get members.remove in `research`")
        .has("tenet cannot see who is in an IdP group");
    w.apply_ok();
    w.assert_clean();
}

/// The value of an API key the platform made: in its sink, nowhere else.
#[test]
fn an_api_keys_value_reaches_only_its_sink_and_rotates_when_due() {
    let mut w = World::with_server_flags("magoneai", Target::Http, &["--profile", "magoneai"]);
    for k in [
        "NORTHWIND_OPENAI_KEY",
        "NORTHWIND_ANTHROPIC_KEY",
        "ENTRA_CLIENT_SECRET",
    ] {
        w.keys.push((k.to_owned(), format!("test-{k}-value")));
    }
    let sink = w.path(".tenet/keys/research-ci-evaluations.key");
    let applied = w.apply(&["--auto-approve", "-vv"]);
    applied
        .code(0)
        .stdout_has("New value of workspaces/research/api-keys/ci-evaluations written to .tenet/keys/research-ci-evaluations.key (mode 0600).");
    let value = std::fs::read_to_string(&sink).unwrap_or_else(|e| panic!("the sink: {e}"));
    let value = value.trim().to_owned();
    assert!(
        value.starts_with("tnk_") && value.len() > 40,
        "a key value: {value:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sink).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600), "the sink is private");
    }
    w.assert_clean();
    let api = w.api();
    let key = api
        .get("workspaces/research/api-keys/ci-evaluations")
        .expect(200)
        .body;
    assert_eq!(key["owner"], "priya.nair@northwind.example");
    assert!(
        key.get("value").is_none(),
        "a read never answers the value: {key}"
    );
    // Due for rotation: its value issued 100 days ago.
    let db = rusqlite::Connection::open(w.path("p.db")).unwrap_or_else(|e| panic!("{e}"));
    db.execute(
        "UPDATE api_keys SET spec = json_set(spec, '$.issued_at', '2020-01-01T00:00:00Z')",
        [],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    drop(db);
    let r = w.plan(&["-vv"]);
    r.code(2)
        .stdout_has("  ~ workspaces/research/api-keys/ci-evaluations\n      rotation: \"issued 2020-01-01\" -> \"a new value (every 90 days)\"\n");
    let saved = w.path("keys-plan.json");
    w.plan(&["--out", saved.to_str().unwrap_or_default()])
        .code(2);
    let plan_text = std::fs::read_to_string(&saved).unwrap_or_default();
    let rotated = w.apply_file(&saved, &["--auto-approve", "-vv"]);
    rotated
        .code(0)
        .stdout_has("written to .tenet/keys/research-ci-evaluations.key");
    let new_value = std::fs::read_to_string(&sink)
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        new_value.starts_with("tnk_") && new_value != value,
        "rotated"
    );
    w.assert_clean();
    let export = w.path("keys-export");
    let mut cmd = w.bare();
    cmd.args(["export", "--endpoint", &w.endpoint, "--out"])
        .arg(&export);
    let exported = support::run(cmd);
    exported.code(0);
    let research =
        std::fs::read_to_string(export.join("workspaces/research.toml")).unwrap_or_default();
    assert!(
        research.contains("[workspaces.research.api_keys.ci-evaluations]"),
        "{research}"
    );
    let audit = serde_json::to_string(&api.audit(None)).unwrap_or_default();
    let listed = serde_json::to_string(&api.list("api-keys", "")).unwrap_or_default();
    for secret in [&value, &new_value] {
        for (what, text) in [
            ("apply -vv", applied.all()),
            ("plan -vv", r.all()),
            ("the plan file", plan_text.clone()),
            ("the rotation's apply -vv", rotated.all()),
            ("export", exported.all()),
            ("the exported files", research.clone()),
            ("the audit log", audit.clone()),
            ("the key list", listed.clone()),
            ("the server log", w.server_stderr()),
        ] {
            assert!(!text.contains(secret.as_str()), "a key value is in {what}");
        }
    }
    // Out of the files: revoked.
    e2e::remove_toml_block(
        &w.file("organizations/research.toml"),
        "[workspaces.research.api_keys.ci-evaluations]",
    );
    w.plan(&[])
        .code(2)
        .stdout_has("  - workspaces/research/api-keys/ci-evaluations\n");
    w.apply_ok();
    w.assert_clean();
    api.get("workspaces/research/api-keys/ci-evaluations")
        .expect(404);
}

const INES: &str = "users/ines.duarte@northwind.example";

/// Expires every pending invitation, as the platform's clock would after
/// 7 days.
fn expire_invitations(w: &World) {
    let db = rusqlite::Connection::open(w.path("p.db")).unwrap_or_else(|e| panic!("{e}"));
    db.execute(
        "UPDATE invitations SET expires_at = '2020-01-01T00:00:00Z', expires_micros = 0",
        [],
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// An invited user (`examples/magoneai`) is created with its invitation
/// and message; while pending it plans clean; expired, it is re-sent once
/// because the files say so, and only a warning when they do not; accepted,
/// the user is active and the files' `invited` still plans clean.
#[test]
fn an_invitation_is_sent_with_the_user_and_re_sent_only_when_the_files_say_so() {
    let w = northwind();
    let api = w.api();
    let ines = api.get(INES).expect(200).body;
    assert_eq!(ines["status"], "invited", "{ines}");
    assert_eq!(
        (
            &ines["invitation"]["message"],
            &ines["invitation"]["sends"],
            &ines["invitation"]["expired"]
        ),
        (
            &json!("Welcome to Northwind Operations on MagOneAI."),
            &json!(1),
            &json!(false)
        )
    );
    expire_invitations(&w);
    w.plan(&[]).code(2).stdout_has(&format!(
        "  ~ {INES}\n      invitation: \"expired at 2020-01-01T00:00:00Z\" -> \"re-sent\"\n"
    ));
    w.apply_ok();
    w.assert_clean();
    let ines = api.get(INES).expect(200).body;
    assert_eq!(
        (&ines["invitation"]["sends"], &ines["invitation"]["expired"]),
        (&json!(2), &json!(false)),
        "{ines}"
    );
    // Without resend_expired an expired invitation is told, not re-sent.
    support::edit(&w.file("users.toml"), ", resend_expired = true }", " }");
    expire_invitations(&w);
    let plan = w.plan(&["--format", "json"]);
    plan.code(0);
    let plan = plan.json();
    assert!(
        warning_codes(&plan).contains(&"invitation-expired".to_owned()),
        "{plan:#}"
    );
    api.post(&format!("{INES}/invitation/accept"), &json!({}))
        .expect(409);
    // Re-sent and accepted: active, and `status = "invited"` is satisfied.
    support::edit(&w.file("users.toml"), " }", ", resend_expired = true }");
    w.apply_ok();
    let accepted = api
        .post(&format!("{INES}/invitation/accept"), &json!({}))
        .expect(200)
        .body;
    assert_eq!(accepted["status"], "active", "{accepted}");
    assert!(accepted.get("invitation").is_none(), "{accepted}");
    w.assert_clean();
}

/// Branding images (`examples/magoneai/branding`) go to the platform by
/// upload and are compared by digest: a new logo file is a change of
/// `branding.logo_light` that uploads it, a renamed file with the same
/// bytes is none, and a saved plan whose image changed since is refused.
#[test]
fn a_branding_image_is_uploaded_compared_by_digest_and_pinned_by_the_plan() {
    let w = northwind();
    let api = w.api();
    let settings = api.get("settings").expect(200).body;
    let light = std::fs::read(w.file("branding/logo-light.png")).unwrap_or_default();
    let inverse = std::fs::read(w.file("branding/logo-inverse.png")).unwrap_or_default();
    let digest = |b: &[u8]| tenet::model::image::digest(b);
    assert_eq!(settings["branding"]["logo_light"], json!(digest(&light)));
    // The same bytes under another name: no change.
    std::fs::write(w.file("branding/renamed.png"), &light).unwrap_or_else(|e| panic!("{e}"));
    support::edit(
        &w.file("tenet.toml"),
        "logo_light = \"branding/logo-light.png\"",
        "logo_light = \"branding/renamed.png\"",
    );
    w.assert_clean();
    // Other bytes: the digest changes, and the apply uploads them.
    std::fs::write(w.file("branding/renamed.png"), &inverse).unwrap_or_else(|e| panic!("{e}"));
    w.plan(&[]).code(2).stdout_has(&format!(
        "  ~ settings\n      branding.logo_light: \"{}\" -> \"{}\"\n",
        digest(&light),
        digest(&inverse)
    ));
    // A plan saved, then the file edited: the apply refuses, writing nothing.
    let saved = w.path("images-plan.json");
    w.plan(&["--out", saved.to_str().unwrap_or_default()])
        .code(2);
    std::fs::write(w.file("branding/renamed.png"), &light).unwrap_or_else(|e| panic!("{e}"));
    w.apply_file(&saved, &["--auto-approve"])
        .code(1)
        .stderr_has("changed since the plan was made; nothing was changed");
    std::fs::write(w.file("branding/renamed.png"), &inverse).unwrap_or_else(|e| panic!("{e}"));
    w.apply_ok();
    w.assert_clean();
    let settings = api.get("settings").expect(200).body;
    assert_eq!(settings["branding"]["logo_light"], json!(digest(&inverse)));
}
