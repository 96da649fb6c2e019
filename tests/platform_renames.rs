//! Renames in place on the reference platform, over HTTP against the real
//! `tenet serve`: a PATCH carrying a workspace's `slug`, a custom role's `id`
//! or a provider's `name` renames the object in one write, everything
//! attached to it stays attached with its version, refused renames change
//! nothing, and the audit log records one `rename` and follows the object
//! across its names (docs/platform-api.md §4, §9).

mod support;

use serde_json::{Value, json};
use support::Server;

fn resources(log: &[Value]) -> Vec<(String, String)> {
    log.iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["resource"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// A workspace `fin` with a member, quotas, and an assignment of `oai`.
async fn fixture(s: &Server) {
    s.workspace("fin").await;
    s.user("ada@acme.example").await;
    s.member("fin", "ada@acme.example", &["administrator"])
        .await;
    s.provider("oai", &["gpt-4o"]).await;
    s.assign("fin", "oai", json!({"models": ["gpt-4o"], "default": true}))
        .await
        .ok(201);
    s.put(
        "/v1/workspaces/fin/quotas",
        Some("*"),
        &json!({"storage_gb": 250}),
    )
    .await
    .ok(200);
}

#[tokio::test]
async fn renaming_a_workspace_keeps_its_members_quotas_and_assignments() {
    let s = Server::standard();
    fixture(&s).await;
    let before_member = s
        .get("/v1/workspaces/fin/memberships/ada@acme.example")
        .await
        .ok(200);

    let r = s
        .patch(
            "/v1/workspaces/fin",
            Some("\"1\""),
            &json!({"slug": "finance", "name": "Finance"}),
        )
        .await;
    let w = r.ok(200);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/v1/workspaces/finance")
    );
    assert_eq!(r.etag_version(), 2);
    assert_eq!(
        (w["slug"].clone(), w["name"].clone()),
        (json!("finance"), json!("Finance"))
    );

    s.get("/v1/workspaces/fin").await.problem(404, "not-found");
    s.get("/v1/workspaces/fin/memberships")
        .await
        .problem(404, "not-found");
    let m = s
        .get("/v1/workspaces/finance/memberships/ada@acme.example")
        .await
        .ok(200);
    assert_eq!(m["workspace"], "finance");
    assert_eq!(m["roles"], json!(["administrator"]));
    assert_eq!(
        m["version"], before_member["version"],
        "attached objects keep their version"
    );
    assert_eq!(m["labels"], before_member["labels"]);
    let q = s.get("/v1/workspaces/finance/quotas").await.ok(200);
    assert_eq!(
        (q["storage_gb"].clone(), q["version"].clone()),
        (json!(250), json!(2))
    );
    let a = s
        .get("/v1/workspaces/finance/assignments/oai")
        .await
        .ok(200);
    assert_eq!(
        (a["default"].clone(), a["version"].clone()),
        (json!(true), json!(1))
    );
    let u = s.get("/v1/workspaces/finance/usage").await.ok(200);
    assert_eq!(u["users"], 1);
    // Still the workspace's last administrator, under the new name.
    s.delete(
        "/v1/workspaces/finance/memberships/ada@acme.example",
        Some("*"),
    )
    .await
    .problem(409, "last-administrator");
    // The old slug is free again.
    s.workspace("fin").await;
}

#[tokio::test]
async fn refused_renames_change_nothing() {
    let s = Server::standard();
    fixture(&s).await;
    s.workspace("ops").await;
    let refused = [
        (json!({"slug": "ops"}), 409, "already-exists"),
        (json!({"slug": "Not A Slug"}), 422, "invalid-value"),
        (json!({"slug": null}), 422, "invalid-value"),
        (json!({"slug": 7}), 400, "invalid-body"),
        // A rename and a bad field in one patch: neither happens.
        (
            json!({"slug": "finance", "status": "gone"}),
            400,
            "invalid-body",
        ),
    ];
    for (body, status, code) in refused {
        s.patch("/v1/workspaces/fin", Some("*"), &body)
            .await
            .problem(status, code);
    }
    s.patch(
        "/v1/workspaces/fin",
        Some("\"9\""),
        &json!({"slug": "finance"}),
    )
    .await
    .problem(412, "version-mismatch");
    let w = s.get("/v1/workspaces/fin").await.ok(200);
    assert_eq!(w["version"], 1);
    s.get("/v1/workspaces/finance")
        .await
        .problem(404, "not-found");
    // Its own slug is a plain update.
    let same = s
        .patch("/v1/workspaces/fin", Some("*"), &json!({"slug": "fin"}))
        .await;
    same.ok(200);
    assert_eq!(same.header("location"), None);
    let log = s.walk("/v1/audit", 100).await;
    assert!(
        log.iter().all(|e| e["action"] != "rename"),
        "no rename was recorded: {log:#?}"
    );

    s.post(
        "/v1/roles",
        &json!({"id": "r", "permissions": ["prompts.view"]}),
    )
    .await
    .ok(201);
    s.patch("/v1/roles/r", Some("*"), &json!({"id": "editor"}))
        .await
        .problem(409, "already-exists");
    s.patch("/v1/roles/editor", Some("*"), &json!({"id": "editor-2"}))
        .await
        .problem(409, "builtin-role");
    s.provider("other", &["x"]).await;
    s.patch("/v1/providers/oai", Some("*"), &json!({"name": "other"}))
        .await
        .problem(409, "already-exists");
    s.get("/v1/roles/r").await.ok(200);
    s.get("/v1/workspaces/fin/assignments/oai").await.ok(200);
}

#[tokio::test]
async fn renaming_a_role_moves_its_holders() {
    let s = Server::standard();
    fixture(&s).await;
    s.post(
        "/v1/roles",
        &json!({"id": "qa", "permissions": ["prompts.view"]}),
    )
    .await
    .ok(201);
    s.user("bob@acme.example").await;
    let before = s.member("fin", "bob@acme.example", &["member", "qa"]).await;

    let r = s
        .patch("/v1/roles/qa", Some("\"1\""), &json!({"id": "qa-tester"}))
        .await;
    let role = r.ok(200);
    assert_eq!(r.header("location").as_deref(), Some("/v1/roles/qa-tester"));
    assert_eq!(
        (role["id"].clone(), role["version"].clone()),
        (json!("qa-tester"), json!(2))
    );
    s.get("/v1/roles/qa").await.problem(404, "not-found");

    let m = s
        .get("/v1/workspaces/fin/memberships/bob@acme.example")
        .await
        .ok(200);
    assert_eq!(m["roles"], json!(["member", "qa-tester"]));
    assert_eq!(m["version"], before["version"]);
    // Held under the new id: still in use, and the old id is unknown.
    s.delete("/v1/roles/qa-tester", Some("*"))
        .await
        .problem(409, "role-in-use");
    s.patch(
        "/v1/workspaces/fin/memberships/bob@acme.example",
        Some("*"),
        &json!({"roles": ["qa"]}),
    )
    .await
    .problem(422, "invalid-reference");
    s.patch(
        "/v1/workspaces/fin/memberships/bob@acme.example",
        Some("*"),
        &json!({"roles": ["member"]}),
    )
    .await
    .ok(200);
    s.delete("/v1/roles/qa-tester", Some("*"))
        .await
        .status_is(204);
}

#[tokio::test]
async fn renaming_a_provider_moves_its_assignments_and_keys() {
    let s = Server::standard();
    fixture(&s).await;
    s.patch("/v1/providers/oai", Some("*"), &json!({"api_keys": ["k1"]}))
        .await
        .ok(200);
    let before = s.get("/v1/providers/oai").await.ok(200);

    let r = s
        .patch(
            "/v1/providers/oai",
            Some(&format!("\"{}\"", before["version"])),
            &json!({"name": "openai", "display_name": "OpenAI"}),
        )
        .await;
    let p = r.ok(200);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/v1/providers/openai")
    );
    assert_eq!(p["api_keys"], before["api_keys"], "keys stay");
    assert_eq!(p["display_name"], "OpenAI");
    s.get("/v1/providers/oai").await.problem(404, "not-found");
    s.get("/v1/workspaces/fin/assignments/oai")
        .await
        .problem(404, "not-found");
    let a = s.get("/v1/workspaces/fin/assignments/openai").await.ok(200);
    assert_eq!(
        (a["provider"].clone(), a["version"].clone()),
        (json!("openai"), json!(1))
    );
    s.delete("/v1/providers/openai", Some("*"))
        .await
        .problem(409, "provider-in-use");
    // A model still assigned stays offered, under the new name too.
    s.patch(
        "/v1/providers/openai",
        Some("*"),
        &json!({"models": ["o3"]}),
    )
    .await
    .problem(409, "provider-in-use");
}

#[tokio::test]
async fn the_audit_log_follows_a_renamed_workspace() {
    let s = Server::standard();
    fixture(&s).await;
    s.patch(
        "/v1/workspaces/fin",
        Some("*"),
        &json!({"slug": "finance", "description": "AP"}),
    )
    .await
    .ok(200);
    s.patch("/v1/providers/oai", Some("*"), &json!({"name": "openai"}))
        .await
        .ok(200);
    s.patch(
        "/v1/workspaces/finance/memberships/ada@acme.example",
        Some("*"),
        &json!({"labels": {"team": "ap"}}),
    )
    .await
    .ok(200);
    // A new workspace takes the old slug: its history is not the renamed one's.
    s.workspace("fin").await;

    let all = s.walk("/v1/audit", 100).await;
    let rename = all
        .iter()
        .find(|e| e["action"] == "rename" && e["resource"] == "workspaces/finance")
        .unwrap_or_else(|| panic!("no rename event: {all:#?}"));
    assert_eq!(
        rename["changes"]["slug"],
        json!({"before": "fin", "after": "finance"})
    );
    assert_eq!(
        rename["changes"]["description"],
        json!({"before": null, "after": "AP"})
    );
    assert_eq!(rename["version"], 2);

    let log = s.walk("/v1/audit?resource=workspaces/finance", 2).await;
    assert_eq!(
        resources(&log),
        vec![
            ("create".to_owned(), "workspaces/fin".to_owned()),
            (
                "create".to_owned(),
                "workspaces/fin/memberships/ada@acme.example".to_owned()
            ),
            (
                "create".to_owned(),
                "workspaces/fin/assignments/oai".to_owned()
            ),
            ("update".to_owned(), "workspaces/fin/quotas".to_owned()),
            ("rename".to_owned(), "workspaces/finance".to_owned()),
            (
                "update".to_owned(),
                "workspaces/finance/memberships/ada@acme.example".to_owned()
            ),
        ]
    );
    // An assignment follows its workspace and its provider.
    let a = s
        .walk(
            "/v1/audit?resource=workspaces/finance/assignments/openai",
            100,
        )
        .await;
    assert_eq!(
        resources(&a),
        vec![(
            "create".to_owned(),
            "workspaces/fin/assignments/oai".to_owned()
        )]
    );
    let p = s.walk("/v1/audit?resource=providers/openai", 100).await;
    assert_eq!(
        resources(&p),
        vec![
            ("create".to_owned(), "providers/oai".to_owned()),
            ("rename".to_owned(), "providers/openai".to_owned()),
        ]
    );
}
