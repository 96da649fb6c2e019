//! The platform rules against the embedded engine, in-process: the same
//! engine `tenet serve` wraps and `sandbox:PATH` endpoints open, driven
//! through its Rust API (`tenet::platform::engine::Engine`) on a file in a
//! temporary directory or in memory. Every refusal is checked by its HTTP
//! status and problem code (`ApiError.status`, `.code`): the last
//! administrator in all its forms, built-in role immutability, roles in
//! use, references, offered models, one default, providers in use, the
//! `max_users` quota, cascades on delete and version mismatches. It also
//! pins what is particular to the sandbox: the audit actor is `local` on the
//! `local` channel, the database is created on first use (directories
//! included), the profile is fixed at creation (`profile-mismatch`
//! otherwise), and the magoneai administrator role is `owner`.

use serde_json::{Value, json};
use tenet::platform::ApiError;
use tenet::platform::engine::Profile;
use tenet::platform::engine::{Actor, AuditQuery, Engine, PageRequest};
use tenet::wire::{
    AssignmentSpec, Channel, InvitationRequest, MemberQuotasSpec, MembershipSpec, ProjectMember,
    ProjectSpec, ProviderKind, ProviderSpec, QuotasSpec, RoleSpec, TokenQuotas, TopUpSpec,
    UserSpec, UserStatus, WorkspaceSpec, WorkspaceStatus,
};

fn local() -> Actor {
    Actor::local()
}

fn mem() -> Engine {
    Engine::open_in_memory(Profile::M3forge).unwrap_or_else(|e| panic!("open in memory: {e}"))
}

/// Runs `f` on an in-memory engine and on one backed by a fresh file (the
/// sandbox's case), so both storage paths obey the same rules.
fn each(f: impl Fn(&Engine)) {
    f(&mem());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = Engine::open(&dir.path().join("sandbox.db"), None)
        .unwrap_or_else(|e| panic!("open a file engine: {e}"));
    f(&file);
}

/// Asserts a refusal with this status and code.
#[track_caller]
fn refused<T: std::fmt::Debug>(r: Result<T, ApiError>, status: u16, code: &str) -> ApiError {
    match r {
        Ok(v) => panic!("expected {status} {code}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(
                (e.status, e.code),
                (status, code),
                "expected {status} {code}, got {e:?}"
            );
            assert!(!e.detail.is_empty(), "a detail: {e:?}");
            e
        }
    }
}

#[track_caller]
fn ok<T>(r: Result<T, ApiError>) -> T {
    r.unwrap_or_else(|e| panic!("expected success, got {e:?}"))
}

fn roles(r: &[&str]) -> MembershipSpec {
    MembershipSpec {
        roles: r.iter().map(|s| (*s).to_owned()).collect(),
        ..MembershipSpec::default()
    }
}

fn provider(models: &[&str]) -> ProviderSpec {
    ProviderSpec {
        display_name: None,
        kind: ProviderKind::Openai,
        endpoint: None,
        region: None,
        models: models.iter().map(|s| (*s).to_owned()).collect(),
        rate_limits: Default::default(),
        scope: Default::default(),
        labels: Default::default(),
    }
}

fn models(m: &[&str]) -> AssignmentSpec {
    AssignmentSpec {
        models: Some(m.iter().map(|s| (*s).to_owned()).collect()),
        ..AssignmentSpec::default()
    }
}

fn default_assignment() -> AssignmentSpec {
    AssignmentSpec {
        default: true,
        ..AssignmentSpec::default()
    }
}

/// A workspace `fin` with users ada (administrator) and bob (member).
fn fin_with_ada_admin(e: &Engine) {
    let a = local();
    ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
    for u in ["ada@acme.example", "bob@acme.example"] {
        ok(e.create_user(&a, u, UserSpec::default(), None));
    }
    ok(e.create_membership(&a, "fin", "ada@acme.example", roles(&["administrator"])));
    ok(e.create_membership(&a, "fin", "bob@acme.example", roles(&["member"])));
}

fn status(s: &str) -> Value {
    json!({ "status": s })
}

// --------------------------------------------------- last administrator

#[test]
fn last_administrator_removing_the_membership() {
    each(|e| {
        let a = local();
        fin_with_ada_admin(e);
        refused(
            e.delete_membership(&a, "fin", "ada@acme.example", None),
            409,
            "last-administrator",
        );
        ok(e.get_membership("fin", "ada@acme.example"));
        ok(e.update_membership(
            &a,
            "fin",
            "bob@acme.example",
            None,
            &json!({"roles": ["administrator"]}),
        ));
        ok(e.delete_membership(&a, "fin", "ada@acme.example", None));
        refused(
            e.get_membership("fin", "ada@acme.example"),
            404,
            "not-found",
        );
    });
}

#[test]
fn last_administrator_downgrading_the_membership() {
    each(|e| {
        let a = local();
        fin_with_ada_admin(e);
        refused(
            e.update_membership(
                &a,
                "fin",
                "ada@acme.example",
                None,
                &json!({"roles": ["member", "editor"]}),
            ),
            409,
            "last-administrator",
        );
        assert_eq!(
            ok(e.get_membership("fin", "ada@acme.example")).spec.roles,
            ["administrator"]
        );
        // Adding roles beside the administrator one is fine.
        ok(e.update_membership(
            &a,
            "fin",
            "ada@acme.example",
            None,
            &json!({"roles": ["editor", "administrator"]}),
        ));
        ok(e.update_membership(
            &a,
            "fin",
            "bob@acme.example",
            None,
            &json!({"roles": ["administrator"]}),
        ));
        let m = ok(e.update_membership(
            &a,
            "fin",
            "ada@acme.example",
            None,
            &json!({"roles": ["member"]}),
        ));
        assert_eq!(m.spec.roles, ["member"]);
    });
}

#[test]
fn last_administrator_suspending_or_inviting_the_user() {
    each(|e| {
        let a = local();
        fin_with_ada_admin(e);
        for s in ["suspended", "invited"] {
            refused(
                e.update_user(&a, "ada@acme.example", None, &status(s)),
                409,
                "last-administrator",
            );
        }
        assert_eq!(
            ok(e.get_user("ada@acme.example")).spec.status,
            UserStatus::Active
        );
        // Other changes of the user are fine.
        ok(e.update_user(&a, "ada@acme.example", None, &json!({"name": "Ada"})));
        ok(e.update_membership(
            &a,
            "fin",
            "bob@acme.example",
            None,
            &json!({"roles": ["administrator"]}),
        ));
        let u = ok(e.update_user(&a, "ada@acme.example", None, &status("suspended")));
        assert_eq!(u.spec.status, UserStatus::Suspended);
        // Ada keeps her (now inert) membership; Bob is the last active one.
        ok(e.get_membership("fin", "ada@acme.example"));
        refused(
            e.update_user(&a, "bob@acme.example", None, &status("invited")),
            409,
            "last-administrator",
        );
        // Reactivating Ada makes Bob free to go.
        ok(e.update_user(&a, "ada@acme.example", None, &status("active")));
        ok(e.update_user(&a, "bob@acme.example", None, &status("invited")));
    });
}

#[test]
fn last_administrator_deleting_the_user() {
    each(|e| {
        let a = local();
        fin_with_ada_admin(e);
        refused(
            e.delete_user(&a, "ada@acme.example", None),
            409,
            "last-administrator",
        );
        refused(
            e.delete_user(&a, "ADA@acme.example", None),
            409,
            "last-administrator",
        );
        ok(e.get_user("ada@acme.example"));
        // Bob, a plain member, may go.
        ok(e.delete_user(&a, "bob@acme.example", None));
        refused(
            e.get_membership("fin", "bob@acme.example"),
            404,
            "not-found",
        );
        ok(e.create_user(&a, "cy@acme.example", UserSpec::default(), None));
        ok(e.create_membership(&a, "fin", "cy@acme.example", roles(&["administrator"])));
        ok(e.delete_user(&a, "ada@acme.example", None));
        refused(
            e.get_membership("fin", "ada@acme.example"),
            404,
            "not-found",
        );
        let members = ok(e.list_memberships("fin", &PageRequest::default()));
        assert_eq!(members.items.len(), 1);
        assert_eq!(members.items[0].user, "cy@acme.example");
    });
}

#[test]
fn last_administrator_counts_only_active_users_with_administrator_roles() {
    each(|e| {
        let a = local();
        fin_with_ada_admin(e);
        // A custom role granting everything does not make an administrator.
        ok(e.create_role(
            &a,
            "superuser",
            RoleSpec {
                permissions: vec!["*".into()],
                ..RoleSpec::default()
            },
        ));
        ok(e.update_membership(
            &a,
            "fin",
            "bob@acme.example",
            None,
            &json!({"roles": ["superuser"]}),
        ));
        refused(
            e.delete_membership(&a, "fin", "ada@acme.example", None),
            409,
            "last-administrator",
        );
        // Neither does a suspended administrator.
        ok(e.create_user(
            &a,
            "cy@acme.example",
            UserSpec {
                status: UserStatus::Suspended,
                ..UserSpec::default()
            },
            None,
        ));
        ok(e.create_membership(&a, "fin", "cy@acme.example", roles(&["administrator"])));
        refused(
            e.delete_membership(&a, "fin", "ada@acme.example", None),
            409,
            "last-administrator",
        );
        // Only in the workspace concerned: another workspace is independent.
        ok(e.create_workspace(&a, "ops", WorkspaceSpec::default()));
        ok(e.create_membership(&a, "ops", "ada@acme.example", roles(&["administrator"])));
        ok(e.create_membership(&a, "ops", "bob@acme.example", roles(&["administrator"])));
        ok(e.delete_membership(&a, "ops", "ada@acme.example", None));
    });
}

#[test]
fn a_workspace_without_an_administrator_may_stay_so() {
    each(|e| {
        let a = local();
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        ok(e.create_user(&a, "ada@acme.example", UserSpec::default(), None));
        ok(e.create_membership(&a, "fin", "ada@acme.example", roles(&["member"])));
        ok(e.update_membership(
            &a,
            "fin",
            "ada@acme.example",
            None,
            &json!({"roles": ["editor"]}),
        ));
        ok(e.delete_membership(&a, "fin", "ada@acme.example", None));
        // Deleting a workspace is not subject to the rule.
        ok(e.create_membership(&a, "fin", "ada@acme.example", roles(&["administrator"])));
        ok(e.delete_workspace(&a, "fin", None));
        ok(e.update_user(&a, "ada@acme.example", None, &status("suspended")));
    });
}

// --------------------------------------------------------------- roles

#[test]
fn builtin_roles_are_immutable() {
    each(|e| {
        let a = local();
        for id in ["administrator", "member", "editor"] {
            refused(
                e.create_role(&a, id, RoleSpec::default()),
                409,
                "builtin-role",
            );
            refused(
                e.update_role(&a, id, None, &json!({"description": "x"})),
                409,
                "builtin-role",
            );
            refused(
                e.update_role(&a, id, Some(1), &json!({"permissions": ["no.such"]})),
                409,
                "builtin-role",
            );
            refused(e.delete_role(&a, id, None), 409, "builtin-role");
            let r = ok(e.get_role(id));
            assert!(r.builtin);
            assert_eq!(r.version, 1);
            assert_ne!(r.spec.description.as_deref(), Some("x"));
        }
    });
}

#[test]
fn a_custom_role_in_use_cannot_be_deleted() {
    each(|e| {
        let a = local();
        fin_with_ada_admin(e);
        ok(e.create_role(
            &a,
            "reviewer",
            RoleSpec {
                permissions: vec!["workflows.view".into()],
                ..RoleSpec::default()
            },
        ));
        ok(e.update_membership(
            &a,
            "fin",
            "bob@acme.example",
            None,
            &json!({"roles": ["member", "reviewer"]}),
        ));
        let err = refused(e.delete_role(&a, "reviewer", None), 409, "role-in-use");
        assert!(err.detail.contains("reviewer"), "{err:?}");
        ok(e.get_role("reviewer"));
        // Deleting the holder's user releases the role.
        ok(e.delete_user(&a, "bob@acme.example", None));
        ok(e.delete_role(&a, "reviewer", None));
        refused(e.get_role("reviewer"), 404, "not-found");
    });
}

#[test]
fn permissions_must_come_from_the_catalog() {
    each(|e| {
        let a = local();
        for p in [
            "workflows.fly",
            "nothing.*",
            "*.fly",
            "nodot",
            "Workflows.view",
            "",
        ] {
            refused(
                e.create_role(
                    &a,
                    "r",
                    RoleSpec {
                        permissions: vec![p.into()],
                        ..RoleSpec::default()
                    },
                ),
                422,
                "invalid-value",
            );
        }
        refused(e.get_role("r"), 404, "not-found");
        let r = ok(e.create_role(
            &a,
            "r",
            RoleSpec {
                permissions: vec!["*.view".into(), "dags.*".into(), "*".into()],
                ..RoleSpec::default()
            },
        ));
        assert_eq!(
            r.spec.permissions,
            ["*.view", "dags.*", "*"],
            "stored as given"
        );
        refused(
            e.update_role(&a, "r", None, &json!({"permissions": ["dags.fly"]})),
            422,
            "invalid-value",
        );
        refused(
            e.create_role(&a, "Not A Slug", RoleSpec::default()),
            422,
            "invalid-value",
        );
    });
}

// ---------------------------------------------------------- references

#[test]
fn memberships_reference_existing_users_and_roles() {
    each(|e| {
        let a = local();
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        ok(e.create_user(&a, "ada@acme.example", UserSpec::default(), None));
        refused(
            e.create_membership(&a, "fin", "ghost@acme.example", roles(&["member"])),
            422,
            "invalid-reference",
        );
        refused(
            e.create_membership(&a, "fin", "ada@acme.example", roles(&["member", "wizard"])),
            422,
            "invalid-reference",
        );
        refused(
            e.create_membership(&a, "nope", "ada@acme.example", roles(&["member"])),
            404,
            "not-found",
        );
        refused(
            e.create_membership(&a, "fin", "ada@acme.example", roles(&[])),
            422,
            "invalid-value",
        );
        refused(
            e.create_membership(&a, "fin", "ada@acme.example", roles(&["member", "member"])),
            422,
            "invalid-value",
        );
        let m = ok(e.create_membership(&a, "fin", "Ada@ACME.example", roles(&["member"])));
        assert_eq!(m.user, "ada@acme.example", "case-folded");
        refused(
            e.update_membership(
                &a,
                "fin",
                "ada@acme.example",
                None,
                &json!({"roles": ["wizard"]}),
            ),
            422,
            "invalid-reference",
        );
        refused(
            e.create_membership(&a, "fin", "ada@acme.example", roles(&["member"])),
            409,
            "already-exists",
        );
        assert_eq!(ok(e.get_usage("fin")).users, 1);
    });
}

#[test]
fn assignments_reference_existing_providers_and_offered_models() {
    each(|e| {
        let a = local();
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        ok(e.create_provider(&a, "oai", provider(&["gpt-4o", "gpt-4o-mini"]), &[]));
        refused(
            e.create_assignment(&a, "fin", "ghost", AssignmentSpec::default()),
            422,
            "invalid-reference",
        );
        refused(
            e.create_assignment(&a, "nope", "oai", AssignmentSpec::default()),
            404,
            "not-found",
        );
        let err = refused(
            e.create_assignment(&a, "fin", "oai", models(&["gpt-4o", "gpt-5"])),
            422,
            "model-not-offered",
        );
        assert!(err.detail.contains("gpt-5"), "{err:?}");
        refused(e.get_assignment("fin", "oai"), 404, "not-found");
        ok(e.create_assignment(&a, "fin", "oai", models(&["gpt-4o"])));
        refused(
            e.update_assignment(&a, "fin", "oai", None, &json!({"models": ["o3"]})),
            422,
            "model-not-offered",
        );
        let got = ok(e.get_assignment("fin", "oai"));
        assert_eq!(got.spec.models, Some(vec!["gpt-4o".to_owned()]));
        refused(
            e.create_assignment(&a, "fin", "oai", AssignmentSpec::default()),
            409,
            "already-exists",
        );
    });
}

#[test]
fn one_default_assignment_per_workspace() {
    each(|e| {
        let a = local();
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        ok(e.create_workspace(&a, "ops", WorkspaceSpec::default()));
        ok(e.create_provider(&a, "oai", provider(&["m"]), &[]));
        ok(e.create_provider(&a, "claude", provider(&["s"]), &[]));
        ok(e.create_assignment(&a, "fin", "oai", default_assignment()));
        let err = refused(
            e.create_assignment(&a, "fin", "claude", default_assignment()),
            409,
            "default-conflict",
        );
        assert!(err.detail.contains("oai"), "{err:?}");
        ok(e.create_assignment(&a, "fin", "claude", AssignmentSpec::default()));
        refused(
            e.update_assignment(&a, "fin", "claude", None, &json!({"default": true})),
            409,
            "default-conflict",
        );
        // Re-asserting the current default is fine; another workspace is apart.
        ok(e.update_assignment(&a, "fin", "oai", None, &json!({"default": true})));
        ok(e.create_assignment(&a, "ops", "claude", default_assignment()));
        ok(e.update_assignment(&a, "fin", "oai", None, &json!({"default": false})));
        ok(e.update_assignment(&a, "fin", "claude", None, &json!({"default": true})));
    });
}

#[test]
fn assigned_models_and_providers_are_in_use() {
    each(|e| {
        let a = local();
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        ok(e.create_provider(&a, "oai", provider(&["gpt-4o", "mini", "o3"]), &[]));
        ok(e.create_provider(&a, "open", provider(&["x", "y"]), &[]));
        ok(e.create_assignment(&a, "fin", "oai", models(&["gpt-4o"])));
        ok(e.create_assignment(&a, "fin", "open", AssignmentSpec::default()));
        refused(
            e.update_provider(&a, "oai", None, &json!({"models": ["mini"]})),
            409,
            "provider-in-use",
        );
        assert_eq!(
            ok(e.get_provider("oai")).spec.models,
            ["gpt-4o", "mini", "o3"]
        );
        // A model no assignment names may go, and so may any model of a
        // provider whose assignment pins none.
        ok(e.update_provider(&a, "oai", None, &json!({"models": ["gpt-4o"]})));
        ok(e.update_provider(&a, "open", None, &json!({"models": ["x"]})));
        for p in ["oai", "open"] {
            refused(e.delete_provider(&a, p, None), 409, "provider-in-use");
        }
        ok(e.delete_assignment(&a, "fin", "oai", None));
        ok(e.delete_provider(&a, "oai", None));
        refused(e.get_provider("oai"), 404, "not-found");
    });
}

// ---------------------------------------------------------------- quotas

#[test]
fn max_users_is_enforced_on_new_members() {
    each(|e| {
        let a = local();
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        for u in ["a@acme.example", "b@acme.example", "c@acme.example"] {
            ok(e.create_user(&a, u, UserSpec::default(), None));
        }
        let q = ok(e.put_quotas(
            &a,
            "fin",
            Some(1),
            QuotasSpec {
                max_users: Some(2),
                ..QuotasSpec::default()
            },
        ));
        assert_eq!(q.version, 2);
        ok(e.create_membership(&a, "fin", "a@acme.example", roles(&["member"])));
        ok(e.create_membership(&a, "fin", "b@acme.example", roles(&["member"])));
        let err = refused(
            e.create_membership(&a, "fin", "c@acme.example", roles(&["member"])),
            409,
            "quota-exceeded",
        );
        assert!(err.detail.contains("max_users"), "{err:?}");
        assert_eq!(ok(e.get_usage("fin")).users, 2);
        // Lowering below the count is allowed; it only stops additions.
        ok(e.put_quotas(
            &a,
            "fin",
            None,
            QuotasSpec {
                max_users: Some(1),
                ..QuotasSpec::default()
            },
        ));
        ok(e.delete_membership(&a, "fin", "b@acme.example", None));
        refused(
            e.create_membership(&a, "fin", "c@acme.example", roles(&["member"])),
            409,
            "quota-exceeded",
        );
        ok(e.put_quotas(&a, "fin", None, QuotasSpec::default()));
        ok(e.create_membership(&a, "fin", "c@acme.example", roles(&["member"])));
    });
}

// --------------------------------------------------------------- cascade

#[test]
fn deleting_a_workspace_cascades_archiving_keeps() {
    each(|e| {
        let a = local();
        fin_with_ada_admin(e);
        ok(e.create_role(&a, "reviewer", RoleSpec::default()));
        ok(e.update_membership(
            &a,
            "fin",
            "bob@acme.example",
            None,
            &json!({"roles": ["reviewer"]}),
        ));
        ok(e.create_provider(&a, "oai", provider(&["m"]), &[]));
        ok(e.create_assignment(&a, "fin", "oai", default_assignment()));
        ok(e.put_quotas(
            &a,
            "fin",
            None,
            QuotasSpec {
                max_users: Some(9),
                ..QuotasSpec::default()
            },
        ));

        let w = ok(e.update_workspace(&a, "fin", Some(1), &json!({"status": "archived"})));
        assert_eq!(w.spec.status, WorkspaceStatus::Archived);
        assert_eq!(w.version, 2);
        assert_eq!(
            ok(e.list_memberships("fin", &PageRequest::default()))
                .items
                .len(),
            2
        );
        assert_eq!(
            ok(e.list_assignments("fin", &PageRequest::default()))
                .items
                .len(),
            1
        );
        assert_eq!(ok(e.get_quotas("fin")).spec.max_users, Some(9));
        refused(e.delete_role(&a, "reviewer", None), 409, "role-in-use");

        refused(
            e.delete_workspace(&a, "fin", Some(1)),
            412,
            "version-mismatch",
        );
        ok(e.delete_workspace(&a, "fin", Some(2)));
        refused(e.get_workspace("fin"), 404, "not-found");
        refused(
            e.list_memberships("fin", &PageRequest::default()),
            404,
            "not-found",
        );
        refused(e.get_quotas("fin"), 404, "not-found");
        refused(e.get_usage("fin"), 404, "not-found");
        // Users stay; what the workspace held is free.
        ok(e.get_user("ada@acme.example"));
        ok(e.delete_role(&a, "reviewer", None));
        ok(e.delete_provider(&a, "oai", None));
        ok(e.update_user(&a, "ada@acme.example", None, &status("suspended")));
        // A new workspace of that slug starts empty.
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        assert!(
            ok(e.list_memberships("fin", &PageRequest::default()))
                .items
                .is_empty()
        );
        assert!(
            ok(e.list_assignments("fin", &PageRequest::default()))
                .items
                .is_empty()
        );
        let q = ok(e.get_quotas("fin"));
        assert_eq!((q.version, q.spec.max_users), (1, None));
        // One audit event for the delete, none for what went with it.
        let deletes: Vec<_> = ok(e.list_audit(&AuditQuery::default(), &PageRequest::default()))
            .items
            .into_iter()
            .filter(|ev| ev.action == "delete")
            .collect();
        assert_eq!(deletes.len(), 3, "{deletes:?}");
        assert_eq!(deletes[0].resource, "workspaces/fin");
        assert_eq!(deletes[0].version, 0);
    });
}

#[test]

fn patches_must_be_objects() {
    each(|e| {
        let a = local();
        ok(e.create_workspace(
            &a,
            "fin",
            WorkspaceSpec {
                name: Some("Fin".into()),
                ..WorkspaceSpec::default()
            },
        ));
        for patch in [json!([]), json!(3), json!("x"), json!(null)] {
            refused(
                e.update_workspace(&a, "fin", None, &patch),
                400,
                "invalid-body",
            );
        }
        let w = ok(e.get_workspace("fin"));
        assert_eq!((w.spec.name.as_deref(), w.version), (Some("Fin"), 1));
    });
}

// ------------------------------------------------------------- versions

#[test]
fn stale_versions_are_412_with_the_current_version() {
    each(|e| {
        let a = local();
        fin_with_ada_admin(e);
        ok(e.create_role(&a, "r", RoleSpec::default()));
        ok(e.create_provider(&a, "oai", provider(&["m"]), &[]));
        ok(e.create_assignment(&a, "fin", "oai", AssignmentSpec::default()));
        ok(e.update_workspace(&a, "fin", Some(1), &json!({"name": "Fin"})));

        let cases: Vec<(&str, Result<(), ApiError>)> = vec![
            (
                "workspace",
                e.update_workspace(&a, "fin", Some(1), &json!({})).map(drop),
            ),
            ("workspace delete", e.delete_workspace(&a, "fin", Some(3))),
            (
                "user",
                e.update_user(&a, "bob@acme.example", Some(2), &json!({}))
                    .map(drop),
            ),
            (
                "user delete",
                e.delete_user(&a, "bob@acme.example", Some(9)),
            ),
            (
                "role",
                e.update_role(&a, "r", Some(2), &json!({})).map(drop),
            ),
            ("role delete", e.delete_role(&a, "r", Some(2))),
            (
                "provider",
                e.update_provider(&a, "oai", Some(2), &json!({})).map(drop),
            ),
            ("provider delete", e.delete_provider(&a, "oai", Some(2))),
            (
                "membership",
                e.update_membership(&a, "fin", "bob@acme.example", Some(2), &json!({}))
                    .map(drop),
            ),
            (
                "membership delete",
                e.delete_membership(&a, "fin", "bob@acme.example", Some(2)),
            ),
            (
                "assignment",
                e.update_assignment(&a, "fin", "oai", Some(2), &json!({}))
                    .map(drop),
            ),
            (
                "assignment delete",
                e.delete_assignment(&a, "fin", "oai", Some(2)),
            ),
            (
                "quotas",
                e.put_quotas(&a, "fin", Some(2), QuotasSpec::default())
                    .map(drop),
            ),
            (
                "settings",
                e.put_settings(&a, Some(2), Default::default()).map(drop),
            ),
        ];
        for (what, r) in cases {
            let err = match r {
                Ok(()) => panic!("{what}: a stale version was accepted"),
                Err(err) => err,
            };
            assert_eq!(
                (err.status, err.code),
                (412, "version-mismatch"),
                "{what}: {err:?}"
            );
            let want = if what.starts_with("workspace") { 2 } else { 1 };
            assert_eq!(err.current_version, Some(want), "{what}: {err:?}");
        }
        // A stale version is found before a platform rule refuses the write.
        refused(
            e.delete_membership(&a, "fin", "ada@acme.example", Some(5)),
            412,
            "version-mismatch",
        );
        refused(
            e.delete_user(&a, "ada@acme.example", Some(5)),
            412,
            "version-mismatch",
        );
        // The right version (and None, i.e. `*`) is accepted and bumps it by 1.
        let w = ok(e.update_workspace(&a, "fin", Some(2), &json!({})));
        assert_eq!(w.version, 3);
        let w = ok(e.update_workspace(&a, "fin", None, &json!({"description": "d"})));
        assert_eq!(w.version, 4);
        // 404 comes before 412.
        refused(e.delete_workspace(&a, "nope", Some(7)), 404, "not-found");
    });
}

#[test]
fn creating_an_existing_object_is_409() {
    each(|e| {
        let a = local();
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        refused(
            e.create_workspace(&a, "fin", WorkspaceSpec::default()),
            409,
            "already-exists",
        );
        ok(e.create_user(&a, "ada@acme.example", UserSpec::default(), None));
        refused(
            e.create_user(&a, "ADA@acme.example", UserSpec::default(), None),
            409,
            "already-exists",
        );
        ok(e.create_role(&a, "r", RoleSpec::default()));
        refused(
            e.create_role(&a, "r", RoleSpec::default()),
            409,
            "already-exists",
        );
        ok(e.create_provider(&a, "p", provider(&[]), &[]));
        refused(
            e.create_provider(&a, "p", provider(&[]), &[]),
            409,
            "already-exists",
        );
        refused(
            e.create_workspace(&a, "Bad Slug", WorkspaceSpec::default()),
            422,
            "invalid-value",
        );
        refused(
            e.create_user(&a, "not-an-email", UserSpec::default(), None),
            422,
            "invalid-value",
        );
    });
}

/// An invitation: sent when a user is created invited (with its message,
/// for the engine's time to live) or patched to invited, re-sent only
/// while the user is invited; accepted, the user is active and the
/// invitation gone; an invited administrator does not count as one until
/// then.
#[test]
fn invitations_go_to_new_users_only_and_are_re_sent_while_pending() {
    each(|e| {
        let a = local();
        let invited = UserSpec {
            status: UserStatus::Invited,
            ..UserSpec::default()
        };
        let welcome = InvitationRequest {
            message: Some("Welcome".to_owned()),
        };
        refused(
            e.create_user(
                &a,
                "ada@acme.example",
                UserSpec::default(),
                Some(welcome.clone()),
            ),
            422,
            "invalid-value",
        );
        let ada = ok(e.create_user(&a, "ada@acme.example", invited.clone(), Some(welcome)));
        let sent = ada
            .invitation
            .clone()
            .unwrap_or_else(|| panic!("an invitation: {ada:?}"));
        assert_eq!(
            (sent.message.as_deref(), sent.sends, sent.expired),
            (Some("Welcome"), 1, false)
        );
        assert!(sent.expires_at > sent.sent_at, "it expires later: {sent:?}");
        // An active user has no invitation to re-send or accept.
        ok(e.create_user(&a, "bob@acme.example", UserSpec::default(), None));
        refused(
            e.resend_invitation(&a, "bob@acme.example", None, &json!({})),
            409,
            "not-invited",
        );
        refused(
            e.accept_invitation(&a, "bob@acme.example"),
            409,
            "not-invited",
        );
        // Re-sent with a new message: one more send, one version more.
        let again = ok(e.resend_invitation(
            &a,
            "ada@acme.example",
            Some(ada.version),
            &json!({"invitation": {"message": "Still welcome"}}),
        ));
        let sent = again
            .invitation
            .clone()
            .unwrap_or_else(|| panic!("{again:?}"));
        assert_eq!(
            (sent.message.as_deref(), sent.sends, again.version),
            (Some("Still welcome"), 2, ada.version + 1)
        );
        // An invited administrator cannot act yet: the active one stays
        // until the invitation is accepted.
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        ok(e.create_membership(&a, "fin", "bob@acme.example", roles(&["administrator"])));
        ok(e.create_membership(&a, "fin", "ada@acme.example", roles(&["administrator"])));
        let suspend = json!({"status": "suspended"});
        refused(
            e.update_user(&a, "bob@acme.example", None, &suspend),
            409,
            "last-administrator",
        );
        let accepted = ok(e.accept_invitation(&a, "ada@acme.example"));
        assert_eq!(
            (accepted.spec.status, accepted.invitation),
            (UserStatus::Active, None)
        );
        refused(
            e.accept_invitation(&a, "ada@acme.example"),
            409,
            "not-invited",
        );
        ok(e.update_user(&a, "bob@acme.example", None, &suspend));
        // Patched to invited, a user is sent an invitation; leaving invited
        // drops it.
        let invite = json!({"status": "invited"});
        let bob = ok(e.update_user(&a, "bob@acme.example", None, &invite));
        assert_eq!(bob.invitation.map(|i| i.sends), Some(1));
        let activate = json!({"status": "active"});
        let bob = ok(e.update_user(&a, "bob@acme.example", None, &activate));
        assert_eq!(bob.invitation, None);
    });
    // On an engine whose invitations expire at once, accepting is refused.
    let e = Engine::open_in_memory(Profile::M3forge)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_invitation_ttl(0);
    let a = local();
    let cy = ok(e.create_user(
        &a,
        "cy@acme.example",
        UserSpec {
            status: UserStatus::Invited,
            ..UserSpec::default()
        },
        None,
    ));
    assert_eq!(cy.invitation.map(|i| i.expired), Some(true));
    refused(
        e.accept_invitation(&a, "cy@acme.example"),
        409,
        "invitation-expired",
    );
}

// ------------------------------------------------------- sandbox specifics

#[test]
fn the_audit_actor_is_local_on_the_local_channel() {
    each(|e| {
        let a = local();
        assert_eq!(a.name, "local");
        assert_eq!(a.channel, Channel::Local);
        ok(e.create_workspace(
            &a,
            "fin",
            WorkspaceSpec {
                name: Some("Fin".into()),
                ..WorkspaceSpec::default()
            },
        ));
        ok(e.update_workspace(&a, "fin", Some(1), &json!({"name": "Finance"})));
        ok(e.create_provider(&a, "oai", provider(&["m"]), &["sk-local-secret".to_owned()]));
        let events = ok(e.list_audit(&AuditQuery::default(), &PageRequest::default())).items;
        assert_eq!(events.len(), 3);
        for ev in &events {
            assert_eq!(ev.actor, "local", "{ev:?}");
            assert_eq!(ev.channel, Channel::Local, "{ev:?}");
        }
        assert_eq!(
            (
                events[1].action.as_str(),
                events[1].resource.as_str(),
                events[1].version
            ),
            ("update", "workspaces/fin", 2)
        );
        let change = &events[1].changes["name"];
        assert_eq!(
            (&change.before, &change.after),
            (&json!("Fin"), &json!("Finance"))
        );
        assert_eq!(events[1].changes.len(), 1);
        let keys = serde_json::to_string(&events[2].changes).unwrap_or_default();
        assert!(
            !keys.contains("sk-local-secret") && keys.contains("sha256:"),
            "{keys}"
        );
        // The actor filter finds them under `local`.
        let q = AuditQuery {
            actor: Some("local".into()),
            ..AuditQuery::default()
        };
        assert_eq!(ok(e.list_audit(&q, &PageRequest::default())).items.len(), 3);
    });
}

#[test]
fn the_database_is_created_on_first_use_in_a_new_directory() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("not").join("yet").join("sandbox.db");
    assert!(!path.parent().is_some_and(std::path::Path::exists));
    {
        let e = ok(Engine::open(&path, None));
        assert!(path.exists(), "{} was not created", path.display());
        assert_eq!(e.profile(), Profile::M3forge, "m3forge by default");
        ok(e.create_workspace(&local(), "fin", WorkspaceSpec::default()));
        ok(e.create_provider(
            &local(),
            "p",
            provider(&[]),
            &["sk-canary-engine-5f1e".to_owned()],
        ));
    }
    // Reopened: the data persisted, the profile is kept.
    let e = ok(Engine::open(&path, None));
    assert_eq!(e.profile(), Profile::M3forge);
    assert_eq!(ok(e.get_workspace("fin")).version, 1);
    assert_eq!(ok(e.get_settings()).version, 1);
    drop(e);
    let e = ok(Engine::open(&path, Some(Profile::M3forge)));
    assert_eq!(
        ok(e.list_workspaces(&PageRequest::default())).items.len(),
        1
    );
    drop(e);
    // Key values are nowhere in the files.
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", path.display());
        if let Ok(bytes) = std::fs::read(&p) {
            let needle = b"sk-canary-engine-5f1e";
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{p} holds an API key"
            );
        }
    }
}

#[test]
fn reopening_with_another_profile_is_profile_mismatch() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("p.db");
    drop(ok(Engine::open(&path, Some(Profile::Magoneai))));
    let err = refused(
        Engine::open(&path, Some(Profile::M3forge)).map(|_| ()),
        409,
        "profile-mismatch",
    );
    assert!(err.detail.contains("magoneai"), "{err:?}");
    let e = ok(Engine::open(&path, None));
    assert_eq!(
        e.profile(),
        Profile::Magoneai,
        "None accepts the stored one"
    );
    drop(e);
    let other = dir.path().join("q.db");
    drop(ok(Engine::open(&other, None)));
    refused(
        Engine::open(&other, Some(Profile::Magoneai)).map(|_| ()),
        409,
        "profile-mismatch",
    );
}

#[test]
fn magoneai_administrators_are_owners() {
    let e = ok(Engine::open_in_memory(Profile::Magoneai));
    let a = local();
    assert_eq!(e.profile(), Profile::Magoneai);
    assert_eq!(e.catalog().administrator_roles, ["owner"]);
    assert!(ok(e.get_role("owner")).builtin);
    refused(e.get_role("administrator"), 404, "not-found");
    ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
    for u in ["ada@acme.example", "bob@acme.example"] {
        ok(e.create_user(&a, u, UserSpec::default(), None));
    }
    refused(
        e.create_membership(&a, "fin", "ada@acme.example", roles(&["administrator"])),
        422,
        "invalid-reference",
    );
    ok(e.create_membership(&a, "fin", "ada@acme.example", roles(&["owner"])));
    // `admin` is a built-in role of magoneai, but not an administrator role.
    ok(e.create_membership(&a, "fin", "bob@acme.example", roles(&["admin"])));
    refused(
        e.delete_membership(&a, "fin", "ada@acme.example", None),
        409,
        "last-administrator",
    );
    refused(
        e.update_user(&a, "ada@acme.example", None, &status("suspended")),
        409,
        "last-administrator",
    );
    refused(
        e.update_role(&a, "owner", None, &json!({})),
        409,
        "builtin-role",
    );
    ok(e.update_membership(
        &a,
        "fin",
        "bob@acme.example",
        None,
        &json!({"roles": ["owner"]}),
    ));
    ok(e.delete_membership(&a, "fin", "ada@acme.example", None));
}

#[test]
fn pages_and_limits() {
    each(|e| {
        let a = local();
        for s in ["c", "a", "e", "b", "d"] {
            ok(e.create_workspace(&a, s, WorkspaceSpec::default()));
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let req = ok(PageRequest::new(Some(2), cursor.clone()));
            let page = ok(e.list_workspaces(&req));
            assert!(page.items.len() <= 2);
            seen.extend(page.items.into_iter().map(|w| w.slug));
            match page.next_cursor {
                None => break,
                Some(c) => cursor = Some(c),
            }
        }
        assert_eq!(seen, ["a", "b", "c", "d", "e"]);
        for l in [0, 1001] {
            refused(PageRequest::new(Some(l), None), 400, "invalid-limit");
        }
        let bad = ok(PageRequest::new(Some(2), Some("zz".into())));
        refused(e.list_workspaces(&bad), 400, "invalid-cursor");
        refused(
            e.list_audit(&AuditQuery::default(), &bad),
            400,
            "invalid-cursor",
        );
    });
}

#[test]
fn locks_in_process() {
    each(|e| {
        let a = local();
        let (l, fresh) = ok(e.acquire_lock(&a, "apply", "me", 60));
        assert!(fresh);
        assert_eq!(l.holder, "me");
        let (_, fresh) = ok(e.acquire_lock(&a, "apply", "me", 60));
        assert!(!fresh, "the same holder renews");
        let err = refused(e.acquire_lock(&a, "apply", "you", 60), 409, "lock-held");
        assert_eq!(err.holder.as_deref(), Some("me"));
        assert!(err.expires_at.is_some());
        refused(e.release_lock(&a, "apply", "you"), 409, "lock-not-held");
        refused(e.renew_lock(&a, "apply", "you", 30), 409, "lock-not-held");
        ok(e.renew_lock(&a, "apply", "me", 30));
        refused(e.acquire_lock(&a, "apply", "me", 0), 422, "invalid-value");
        ok(e.release_lock(&a, "apply", "me"));
        refused(e.get_lock("apply"), 404, "not-found");
        // Locks are not audited.
        assert!(
            ok(e.list_audit(&AuditQuery::default(), &PageRequest::default()))
                .items
                .is_empty()
        );
    });
}

// --------------------------------------------------------------- batches

#[test]
fn a_batch_commits_what_succeeded_and_nothing_of_what_failed() {
    each(|e| {
        let a = local();
        let results = ok(e.batch(|| {
            vec![
                e.create_workspace(&a, "fin", WorkspaceSpec::default())
                    .map(drop),
                e.create_user(&a, "ada@acme.example", UserSpec::default(), None)
                    .map(drop),
                // Sees the writes before it in the same batch.
                e.create_membership(&a, "fin", "ada@acme.example", roles(&["administrator"]))
                    .map(drop),
                // Refused: no such user. Its savepoint leaves nothing.
                e.create_membership(&a, "fin", "eve@acme.example", roles(&["member"]))
                    .map(drop),
                // A rule still holds inside a batch: the last administrator.
                e.delete_membership(&a, "fin", "ada@acme.example", None),
                e.create_user(&a, "bob@acme.example", UserSpec::default(), None)
                    .map(drop),
            ]
        }));
        let codes: Vec<Option<&str>> = results
            .iter()
            .map(|r| r.as_ref().err().map(|e| e.code))
            .collect();
        assert_eq!(
            codes,
            [
                None,
                None,
                None,
                Some("invalid-reference"),
                Some("last-administrator"),
                None
            ]
        );
        ok(e.get_membership("fin", "ada@acme.example"));
        ok(e.get_user("bob@acme.example"));
        refused(e.get_user("eve@acme.example"), 404, "not-found");
        // Audited: the four writes that landed, and nothing else.
        let events = ok(e.list_audit(&AuditQuery::default(), &PageRequest::default())).items;
        let seen: Vec<(&str, &str)> = events
            .iter()
            .map(|ev| (ev.action.as_str(), ev.resource.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("create", "workspaces/fin"),
                ("create", "users/ada@acme.example"),
                ("create", "workspaces/fin/memberships/ada@acme.example"),
                ("create", "users/bob@acme.example"),
            ]
        );
        // Writes after a batch are their own transactions again.
        ok(e.create_user(&a, "cy@acme.example", UserSpec::default(), None));
        ok(e.get_user("cy@acme.example"));
    });
}

#[test]
fn a_provider_rename_in_a_batch_moves_its_assignments_and_later_writes_are_still_checked() {
    each(|e| {
        let a = local();
        ok(e.create_workspace(&a, "fin", WorkspaceSpec::default()));
        ok(e.create_provider(&a, "oai", provider(&["m"]), &[]));
        ok(e.create_assignment(&a, "fin", "oai", models(&["m"])));
        let results = ok(e.batch(|| {
            vec![
                e.update_provider(&a, "oai", None, &json!({"name": "openai"}))
                    .map(drop),
                // A reference that does not hold is refused at once, not at
                // the batch's commit.
                e.create_assignment(&a, "fin", "nope", models(&["m"]))
                    .map(drop),
                e.create_user(&a, "ada@acme.example", UserSpec::default(), None)
                    .map(drop),
            ]
        }));
        assert!(results[0].is_ok(), "{results:?}");
        assert!(results[1].is_err(), "{results:?}");
        assert!(results[2].is_ok(), "{results:?}");
        ok(e.get_assignment("fin", "openai"));
        ok(e.get_user("ada@acme.example"));
        refused(e.get_provider("oai"), 404, "not-found");
    });
}

#[test]
fn a_platform_killed_while_it_was_being_made_is_completed_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    drop(Engine::open(&path, Some(Profile::Magoneai)).unwrap());
    // What a process killed between creating the profile and the settings
    // row left behind.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM settings", []).unwrap();
    drop(conn);
    let e = Engine::open(&path, None).unwrap();
    assert_eq!(e.profile(), Profile::Magoneai);
    assert_eq!(e.get_settings().unwrap().version, 1);
    drop(e);
    let err = Engine::open(&path, Some(Profile::M3forge)).err().unwrap();
    assert_eq!(err.status, 409);
}

/// A MagOneAI platform with workspace `research`: ana its owner, ben a
/// member.
fn research() -> Engine {
    let e = Engine::open_in_memory(Profile::Magoneai).unwrap_or_else(|e| panic!("open: {e}"));
    ok(e.create_workspace(&local(), "research", WorkspaceSpec::default()));
    for u in [
        "ana@northwind.example",
        "ben@northwind.example",
        "cy@northwind.example",
    ] {
        ok(e.create_user(&local(), u, UserSpec::default(), None));
    }
    ok(e.create_membership(
        &local(),
        "research",
        "ana@northwind.example",
        roles(&["owner"]),
    ));
    ok(e.create_membership(
        &local(),
        "research",
        "ben@northwind.example",
        roles(&["member"]),
    ));
    e
}

fn project(members: &[(&str, &[&str])]) -> ProjectSpec {
    ProjectSpec {
        name: Some("Claims".into()),
        members: members
            .iter()
            .map(|(u, r)| ProjectMember {
                user: (*u).into(),
                roles: r.iter().map(|s| (*s).to_owned()).collect(),
            })
            .collect(),
        ..ProjectSpec::default()
    }
}

#[test]
fn every_workspace_comes_with_its_default_project_which_stays() {
    let e = research();
    let d = ok(e.get_project("research", "default"));
    assert!(d.default && d.spec.members.is_empty(), "{d:?}");
    assert_eq!(d.spec.name.as_deref(), Some("Default project"));
    refused(
        e.update_project(
            &local(),
            "research",
            "default",
            Some(d.version),
            &status("archived"),
        ),
        409,
        "default-project",
    );
    refused(
        e.delete_project(&local(), "research", "default", Some(d.version)),
        409,
        "default-project",
    );
    refused(
        e.create_project(&local(), "research", "default", ProjectSpec::default()),
        409,
        "already-exists",
    );
    // Declared roles in the default project are overrides.
    let d = ok(e.update_project(
        &local(),
        "research",
        "default",
        Some(d.version),
        &json!({"members": [{"user": "BEN@northwind.example", "roles": ["builder"]}]}),
    ));
    assert_eq!(d.spec.members[0].user, "ben@northwind.example");
    // The platform without projects answers 404 on every project path.
    let m3 = mem();
    ok(m3.create_workspace(&local(), "finance", WorkspaceSpec::default()));
    refused(m3.get_project("finance", "default"), 404, "not-found");
    assert!(
        ok(m3.list_all_projects(&PageRequest::default()))
            .items
            .is_empty()
    );
}

#[test]
fn project_members_are_workspace_members_with_project_roles() {
    let e = research();
    refused(
        e.create_project(
            &local(),
            "research",
            "claims",
            project(&[("cy@northwind.example", &["viewer"])]),
        ),
        422,
        "invalid-reference",
    );
    refused(
        e.create_project(
            &local(),
            "research",
            "claims",
            project(&[("ben@northwind.example", &["admin"])]),
        ),
        422,
        "invalid-reference",
    );
    refused(
        e.create_project(
            &local(),
            "research",
            "claims",
            project(&[("ben@northwind.example", &[])]),
        ),
        422,
        "invalid-value",
    );
    refused(
        e.create_project(&local(), "research", "Claims", project(&[])),
        422,
        "invalid-value",
    );
    // A project role is no workspace role.
    refused(
        e.create_membership(
            &local(),
            "research",
            "cy@northwind.example",
            roles(&["builder"]),
        ),
        422,
        "invalid-reference",
    );
    let p = ok(e.create_project(
        &local(),
        "research",
        "claims",
        project(&[
            ("ben@northwind.example", &["builder"]),
            ("ana@northwind.example", &["project-admin"]),
        ]),
    ));
    let users: Vec<&str> = p.spec.members.iter().map(|m| m.user.as_str()).collect();
    assert_eq!(users, ["ana@northwind.example", "ben@northwind.example"]);
    assert_eq!(
        ok(e.list_all_projects(&PageRequest::default())).items.len(),
        2
    );
}

#[test]
fn a_member_who_leaves_the_workspace_leaves_its_projects_audited() {
    let e = research();
    let p = ok(e.create_project(
        &local(),
        "research",
        "claims",
        project(&[("ben@northwind.example", &["builder"])]),
    ));
    let m = ok(e.get_membership("research", "ben@northwind.example"));
    ok(e.delete_membership(
        &local(),
        "research",
        "ben@northwind.example",
        Some(m.version),
    ));
    let after = ok(e.get_project("research", "claims"));
    assert!(after.spec.members.is_empty(), "{after:?}");
    assert_eq!(after.version, p.version + 1);
    let q = AuditQuery {
        resource: Some("workspaces/research/projects/claims".into()),
        ..Default::default()
    };
    let events = ok(e.list_audit(&q, &PageRequest::default())).items;
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["create", "update"]
    );
    // Deleting the user takes it out of every project too.
    ok(e.create_membership(
        &local(),
        "research",
        "ben@northwind.example",
        roles(&["member"]),
    ));
    let p = ok(e.get_project("research", "claims"));
    ok(e.update_project(
        &local(),
        "research",
        "claims",
        Some(p.version),
        &json!({"members": [{"user": "ben@northwind.example", "roles": ["viewer"]}]}),
    ));
    let u = ok(e.get_user("ben@northwind.example"));
    ok(e.delete_user(&local(), "ben@northwind.example", Some(u.version)));
    assert!(
        ok(e.get_project("research", "claims"))
            .spec
            .members
            .is_empty()
    );
}

#[test]
fn top_ups_and_member_budgets_follow_their_scope() {
    let e = research();
    ok(e.create_project(
        &local(),
        "research",
        "claims",
        project(&[("ben@northwind.example", &["builder"])]),
    ));
    let top_up = |project: Option<&str>, user: Option<&str>, expires: &str| TopUpSpec {
        tokens: 1000,
        expires: expires.into(),
        project: project.map(str::to_owned),
        user: user.map(str::to_owned),
        ..TopUpSpec::default()
    };
    refused(
        e.create_top_up(
            &local(),
            "research",
            "a",
            top_up(Some("nope"), None, "2030-01-01"),
        ),
        422,
        "invalid-reference",
    );
    refused(
        e.create_top_up(
            &local(),
            "research",
            "a",
            top_up(None, Some("cy@northwind.example"), "2030-01-01"),
        ),
        422,
        "invalid-reference",
    );
    refused(
        e.create_top_up(
            &local(),
            "research",
            "a",
            top_up(Some("claims"), Some("ben@northwind.example"), "2030-01-01"),
        ),
        422,
        "invalid-value",
    );
    refused(
        e.create_top_up(&local(), "research", "a", top_up(None, None, "2030-02-30")),
        422,
        "invalid-value",
    );
    refused(
        e.create_top_up(
            &local(),
            "research",
            "a",
            TopUpSpec {
                tokens: 0,
                ..top_up(None, None, "2030-01-01")
            },
        ),
        422,
        "invalid-value",
    );
    assert!(
        !ok(e.create_top_up(
            &local(),
            "research",
            "old",
            top_up(None, None, "2020-01-01")
        ))
        .active
    );
    assert!(
        ok(e.create_top_up(
            &local(),
            "research",
            "p",
            top_up(Some("claims"), None, "2030-01-01")
        ))
        .active
    );
    ok(e.create_top_up(
        &local(),
        "research",
        "u",
        top_up(None, Some("BEN@northwind.example"), "2030-01-01"),
    ));
    // A member's budget: version 0 until written, gone with the membership.
    assert_eq!(
        ok(e.get_member_quotas("research", "ben@northwind.example")).version,
        0
    );
    refused(
        e.get_member_quotas("research", "cy@northwind.example"),
        404,
        "not-found",
    );
    let spec = MemberQuotasSpec {
        quotas: TokenQuotas {
            tokens_per_day: Some(10),
            ..TokenQuotas::default()
        },
        ..MemberQuotasSpec::default()
    };
    let q = ok(e.put_member_quotas(&local(), "research", "ben@northwind.example", Some(0), spec));
    assert_eq!((q.version, q.spec.quotas.tokens_per_day), (1, Some(10)));
    let m = ok(e.get_membership("research", "ben@northwind.example"));
    ok(e.delete_membership(
        &local(),
        "research",
        "ben@northwind.example",
        Some(m.version),
    ));
    assert!(
        ok(e.list_all_member_quotas(&PageRequest::default()))
            .items
            .is_empty()
    );
    refused(e.get_top_up("research", "u"), 404, "not-found");
    // Deleting the project deletes its top-ups.
    let p = ok(e.get_project("research", "claims"));
    ok(e.delete_project(&local(), "research", "claims", Some(p.version)));
    let left: Vec<String> = ok(e.list_all_top_ups(&PageRequest::default()))
        .items
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left, ["old"]);
}
