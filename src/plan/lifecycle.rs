//! Lifecycle: what a plan takes away beyond the objects it names, and the
//! changes that quietly weaken the platform. Removals are counted per kind
//! for the destroy threshold (a deletion or archive, a user suspended
//! because the files dropped it, and what goes with a change as its
//! cascades where that removes access); warnings name workspaces archived
//! earlier that `workspace_removal = "delete"` now deletes, a provider
//! becoming global, and two-factor authentication or email verification
//! turned off.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{PlannedChange, Warning};
use crate::diff::{Action, Change};
use crate::model::{Config, Kind, Live, ObjectId, WorkspaceStatus};

/// A user update that suspends a user the files no longer declare.
pub fn suspends_removed(c: &Change, config: &Config) -> bool {
    matches!(&c.object, ObjectId::User(u) if !config.state.users.contains_key(u))
        && c.action == Action::Update
        && c.fields
            .iter()
            .any(|f| f.field == "status" && f.after == "suspended")
}

/// The live objects a plan takes away, per kind, each counted once.
pub fn removed_per_kind(changes: &[PlannedChange], config: &Config) -> BTreeMap<Kind, usize> {
    let mut gone: BTreeSet<&ObjectId> = BTreeSet::new();
    for c in changes.iter().map(|c| &c.change) {
        if c.action.is_destructive() || suspends_removed(c, config) {
            gone.insert(&c.object);
        }
        // Quotas go with their workspace but grant no access.
        gone.extend(
            c.cascades
                .iter()
                .filter(|id| !matches!(id, ObjectId::Quotas(_))),
        );
    }
    let mut out = BTreeMap::new();
    for id in gone {
        *out.entry(id.kind()).or_insert(0) += 1;
    }
    out
}

fn field<'c>(c: &'c Change, name: &str) -> Option<(&'c Value, &'c Value)> {
    c.fields
        .iter()
        .find(|f| f.field == name)
        .map(|f| (&f.before, &f.after))
}

/// `` `a`, `b` ``.
fn names<'s>(items: impl IntoIterator<Item = &'s str>) -> String {
    items
        .into_iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn warnings(changes: &[PlannedChange], live: &Live) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut archived_deleted: Vec<&str> = Vec::new();
    for c in changes.iter().map(|c| &c.change) {
        match &c.object {
            ObjectId::Workspace(slug)
                if c.action == Action::Delete
                    && live
                        .state
                        .workspaces
                        .get(slug)
                        .is_some_and(|w| w.status == WorkspaceStatus::Archived) =>
            {
                archived_deleted.push(slug.as_str());
            }
            ObjectId::Provider(id)
                if field(c, "scope")
                    == Some((&Value::from("assigned"), &Value::from("global"))) =>
            {
                let assigned = live
                    .state
                    .assignments
                    .keys()
                    .filter(|(_, p)| p == id)
                    .count();
                let workspaces = live.state.workspaces.len();
                out.push(Warning {
                    code: "provider-becomes-global".to_owned(),
                    message: format!(
                        "provider `{id}` becomes global: every workspace may use it ({workspaces} live), not only the {assigned} it is assigned to"
                    ),
                    object: Some(c.object.clone()),
                });
            }
            ObjectId::Settings => {
                let off = (&Value::Bool(true), &Value::Bool(false));
                for (name, what) in [
                    (
                        "security.require_2fa",
                        "two-factor authentication is no longer required",
                    ),
                    (
                        "security.email_verification",
                        "email addresses are no longer verified",
                    ),
                ] {
                    if field(c, name) == Some(off) {
                        out.push(Warning {
                            code: "security-weakened".to_owned(),
                            message: format!("{what}: `{name}` goes from true to false"),
                            object: Some(c.object.clone()),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if !archived_deleted.is_empty() {
        out.push(Warning {
            code: "archived-workspaces-deleted".to_owned(),
            message: format!(
                "workspace_removal = \"delete\" deletes {} workspace(s) archived earlier, with everything in them: {}",
                archived_deleted.len(),
                names(archived_deleted)
            ),
            object: None,
        });
    }
    out
}

/// A key expiring within this many days is a plan warning.
pub const API_KEY_EXPIRY_WARNING_DAYS: i64 = 14;

/// API keys past their expiry or within [`API_KEY_EXPIRY_WARNING_DAYS`]
/// of it, on `today` (`YYYY-MM-DD`).
pub fn api_key_warnings(config: &Config, today: &str) -> Vec<Warning> {
    let mut out = Vec::new();
    for k in config.state.api_keys.values() {
        let Some(expires) = &k.expires else { continue };
        let Some(left) = crate::model::days_between(today, expires) else {
            continue;
        };
        let (code, message) = if left < 0 {
            (
                "api-key-expired",
                format!(
                    "API key `{}` of workspace `{}` expired on {expires}: it no longer works",
                    k.id, k.workspace
                ),
            )
        } else if left <= API_KEY_EXPIRY_WARNING_DAYS {
            (
                "api-key-expiring",
                format!(
                    "API key `{}` of workspace `{}` expires on {expires}, in {left} day(s)",
                    k.id, k.workspace
                ),
            )
        } else {
            continue;
        };
        out.push(Warning {
            code: code.to_owned(),
            message,
            object: Some(ObjectId::ApiKey(k.workspace.clone(), k.id.clone())),
        });
    }
    out
}

/// Declared invited users whose invitation the platform says expired and
/// the files do not re-send: nobody can accept it now.
pub fn invitation_warnings(config: &Config, live: &crate::model::Live) -> Vec<Warning> {
    let mut out = Vec::new();
    for (email, want) in &config.state.users {
        if want.status != crate::model::UserStatus::Invited
            || want.invitation.as_ref().is_some_and(|i| i.resend_expired)
        {
            continue;
        }
        let Some(expires) = live
            .state
            .users
            .get(email)
            .and_then(crate::diff::compare::expired_invitation)
        else {
            continue;
        };
        out.push(Warning {
            code: "invitation-expired".to_owned(),
            message: format!(
                "the invitation of `{email}` expired at {expires} and was not accepted: set invitation.resend_expired = true to re-send it"
            ),
            object: Some(ObjectId::User(email.clone())),
        });
    }
    out
}
