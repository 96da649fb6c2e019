//! A plan as JSON for programs (`tenet plan --format json`): serialize-only
//! types borrowing from the [`Plan`], versioned on their own (`version`),
//! apart from the plan file format, and documented in `docs/plan-json.md`.
//! Within version 1 fields are only ever added. The output is about what
//! changes: desired objects, labels and live versions stay in the plan file,
//! and a sensitive field's values are `null`.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

use super::plan_text::Summary;
use crate::diff::{Action, FieldChange};
use crate::model::{Kind, Profile};
use crate::plan::{Plan, PlannedChange, Refusal, Warning};
use crate::secrets::redact_text;

/// Version of this JSON output format (not of the plan file).
pub const VERSION: u32 = 1;

/// A plan as JSON output.
#[derive(Debug, Serialize)]
pub struct JsonPlan<'a> {
    /// Always [`VERSION`].
    pub version: u32,
    /// True when apply would refuse this plan (see `refusals`).
    pub refused: bool,
    /// What stops the apply, first so that it is seen first.
    pub refusals: Vec<JsonRefusal<'a>>,
    /// Credential-looking parts masked.
    pub endpoint: Cow<'a, str>,
    pub profile: Profile,
    pub summary: JsonSummary,
    pub changes: Vec<JsonChange<'a>>,
    pub warnings: Vec<JsonWarning<'a>>,
    pub not_adopted: &'a [crate::model::ObjectId],
    pub unmanaged: &'a [crate::model::ObjectId],
    /// Unmanaged memberships of declared workspaces, with their roles.
    pub unmanaged_access: &'a [crate::model::UnmanagedGrant],
    /// Acknowledged drift left alone.
    pub acknowledged: Vec<JsonHeld<'a>>,
    pub unsupported: &'a [Kind],
    /// Effective permission changes per user and workspace.
    pub access: &'a [crate::plan::access::AccessChange],
    /// What IdP groups' members gain and lose through group mappings.
    pub group_access: &'a [crate::plan::access::GroupAccessChange],
    pub no_changes: bool,
}

/// An acknowledged difference left alone.
#[derive(Debug, Serialize)]
pub struct JsonHeld<'a> {
    pub resource: String,
    /// What the apply would do, were it not acknowledged.
    pub action: Action,
    pub until: &'a str,
    pub reason: Option<&'a str>,
    /// The acknowledged object it goes with, if not acknowledged itself.
    pub with: Option<String>,
}

/// Changes per action.
#[derive(Debug, Serialize)]
pub struct JsonSummary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub rename: usize,
    pub archive: usize,
    pub delete: usize,
}

#[derive(Debug, Serialize)]
pub struct JsonChange<'a> {
    pub id: usize,
    pub phase: u8,
    pub resource: String,
    /// A rename's resource under its old name (`null` for other actions).
    pub from: Option<String>,
    pub kind: Kind,
    pub action: Action,
    pub workspace: Option<&'a str>,
    pub fields: Vec<JsonField<'a>>,
    pub depends_on: &'a [usize],
    /// What the platform removes or closes with this change, without
    /// writes of their own (resource paths).
    pub cascades: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct JsonField<'a> {
    pub field: Cow<'a, str>,
    /// `null` when sensitive (and for every field of a new object).
    pub before: Option<Cow<'a, Value>>,
    /// `null` when sensitive.
    pub after: Option<Cow<'a, Value>>,
    pub sensitive: bool,
    /// For API keys: `added`, `removed` or `rotated` (never a value, a
    /// fingerprint or a count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct JsonWarning<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub resource: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct JsonRefusal<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub resource: Option<String>,
    pub lifted_by: Option<&'a str>,
}

fn field(f: &FieldChange) -> JsonField<'_> {
    let shown = (!f.sensitive).then_some(());
    JsonField {
        field: Cow::Borrowed(&f.field),
        before: shown.map(|()| Cow::Borrowed(&f.before)),
        after: shown.map(|()| Cow::Borrowed(&f.after)),
        sensitive: f.sensitive,
        keys: f.keys.map(|k| k.what()),
    }
}

/// A new object's fields come from the object itself (the diff has none).
fn fields(c: &crate::diff::Change) -> Vec<JsonField<'_>> {
    if c.action == Action::Create && c.fields.is_empty() {
        return super::plan_text::created_fields(c)
            .into_iter()
            .map(|(k, v, sensitive)| JsonField {
                field: Cow::Owned(k),
                before: (!sensitive).then_some(Cow::Owned(Value::Null)),
                after: (!sensitive).then_some(Cow::Owned(v)),
                sensitive,
                keys: None,
            })
            .collect();
    }
    c.fields.iter().map(field).collect()
}

fn change(c: &PlannedChange) -> JsonChange<'_> {
    JsonChange {
        id: c.id,
        phase: c.phase,
        resource: c.change.object.to_string(),
        from: c.change.from.as_ref().map(ToString::to_string),
        kind: c.change.kind,
        action: c.change.action,
        workspace: c.change.workspace.as_ref().map(|w| w.as_str()),
        fields: fields(&c.change),
        depends_on: &c.depends_on,
        cascades: c.change.cascades.iter().map(ToString::to_string).collect(),
    }
}

fn warning(w: &Warning) -> JsonWarning<'_> {
    JsonWarning {
        code: &w.code,
        message: &w.message,
        resource: w.object.as_ref().map(ToString::to_string),
    }
}

fn refusal(r: &Refusal) -> JsonRefusal<'_> {
    JsonRefusal {
        code: &r.code,
        message: &r.message,
        resource: r.object.as_ref().map(ToString::to_string),
        lifted_by: r.lifted_by.as_deref(),
    }
}

/// The JSON form of a plan.
pub fn json(plan: &Plan) -> JsonPlan<'_> {
    let s = Summary::of(&plan.changes);
    let endpoint = match redact_text(&plan.endpoint) {
        e if e == plan.endpoint => Cow::Borrowed(plan.endpoint.as_str()),
        e => Cow::Owned(e),
    };
    JsonPlan {
        version: VERSION,
        refused: !plan.refusals.is_empty(),
        refusals: plan.refusals.iter().map(refusal).collect(),
        endpoint,
        profile: plan.profile,
        summary: JsonSummary {
            create: s.create,
            update: s.update,
            adopt: s.adopt,
            rename: s.rename,
            archive: s.archive,
            delete: s.delete,
        },
        changes: plan.changes.iter().map(change).collect(),
        warnings: plan.warnings.iter().map(warning).collect(),
        not_adopted: &plan.not_adopted,
        unmanaged: &plan.unmanaged,
        unmanaged_access: &plan.unmanaged_access,
        acknowledged: plan
            .acknowledged
            .iter()
            .map(|h| JsonHeld {
                resource: h.change.object.to_string(),
                action: h.change.action,
                until: &h.acknowledgement.until,
                reason: h.acknowledgement.reason.as_deref(),
                with: h.with.as_ref().map(ToString::to_string),
            })
            .collect(),
        unsupported: &plan.unsupported,
        access: &plan.access,
        group_access: &plan.group_access,
        no_changes: plan.is_empty(),
    }
}

/// The plan as pretty-printed JSON and a final line end.
pub fn render(plan: &Plan) -> String {
    let mut out = serde_json::to_string_pretty(&json(plan)).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::plan_text::tests::{PLAIN_CANARY, SECRET_CANARY, empty_plan, sample_plan};
    use super::*;

    #[test]
    fn parses_back_with_counts() {
        let out = render(&sample_plan());
        assert!(out.ends_with("}\n"));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["endpoint"], "https://forge.acme.example");
        assert_eq!(v["profile"], "m3forge");
        assert_eq!(
            v["summary"],
            json!({"create": 2, "update": 3, "adopt": 0, "rename": 0, "archive": 1, "delete": 0})
        );
        assert_eq!(v["no_changes"], false);
        assert_eq!(v["changes"].as_array().unwrap().len(), 6);
        assert_eq!(
            v["changes"][3],
            json!({
                "id": 3,
                "phase": 3,
                "resource": "workspaces/eng/memberships/bob@acme.example",
                "from": null,
                "kind": "memberships",
                "action": "update",
                "workspace": "eng",
                "fields": [{"field": "roles", "before": ["member"], "after": ["administrator", "member"], "sensitive": false}],
                "depends_on": [0],
                "cascades": []
            })
        );
        assert_eq!(v["changes"][0]["workspace"], Value::Null);
        assert_eq!(v["changes"][0]["depends_on"], json!([]));
        assert_eq!(
            v["warnings"][0],
            json!({"code": "role-gains-permissions", "message": "role `auditor` gains 2: prompts.test, credentials.read", "resource": "roles/auditor"})
        );
        assert_eq!(
            v["refusals"][0],
            json!({"code": "destroy-threshold", "message": "would archive 1 of 1 workspaces (100%)", "resource": null, "lifted_by": "--allow-destroy"})
        );
        assert_eq!(v["not_adopted"], json!(["users/carol@acme.example"]));
        assert_eq!(v["unmanaged"].as_array().unwrap().len(), 7);
        assert_eq!(v["unsupported"], json!(["settings"]));
        // About what changes only.
        assert!(
            !out.contains("\"desired\"")
                && !out.contains("\"labels\"")
                && !out.contains("\"version\": 3")
        );
    }

    #[test]
    fn no_changes() {
        let v: Value = serde_json::from_str(&render(&empty_plan())).unwrap();
        assert_eq!(v["no_changes"], true);
        assert_eq!(v["changes"], json!([]));
        assert_eq!(
            v["summary"],
            json!({"create": 0, "update": 0, "adopt": 0, "rename": 0, "archive": 0, "delete": 0})
        );
    }

    #[test]
    fn secrets_only_where_not_sensitive() {
        let out = render(&sample_plan());
        assert!(out.contains(PLAIN_CANARY));
        assert!(!out.contains(SECRET_CANARY));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["changes"][1]["fields"][0],
            json!({"field": "api_keys", "before": null, "after": null, "sensitive": true})
        );
    }

    #[test]
    fn cascades_and_key_changes_are_data() {
        let v: Value =
            serde_json::from_str(&render(&super::super::plan_text::tests::lifecycle_plan()))
                .unwrap();
        assert_eq!(
            v["changes"][0]["cascades"],
            json!([
                "workspaces/eng/memberships/ken@acme.example",
                "workspaces/hr/memberships/ken@acme.example"
            ])
        );
        assert_eq!(v["changes"][1]["cascades"].as_array().unwrap().len(), 13);
        assert_eq!(
            v["changes"][4]["fields"][0],
            json!({"field": "api_keys", "before": null, "after": null, "sensitive": true, "keys": "rotated"})
        );
        assert_eq!(v["changes"][2]["fields"][0]["keys"], "added");
        assert_eq!(v["changes"][3]["fields"][0]["keys"], "removed");
    }
}
