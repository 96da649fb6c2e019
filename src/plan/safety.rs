//! Safety: refusals that stop an apply (protected objects, too much
//! destruction at once) and warnings a reviewer must see (quota cut below
//! current use, a workspace left with no model, a role gaining permissions).

use std::collections::{BTreeMap, BTreeSet};

use super::{PlannedChange, Refusal, Warning};
use crate::diff::{Action, Object};
use crate::model::shard::Shard;
use crate::model::{Catalog, Config, Kind, Live, ObjectId, ProviderScope};

/// Live objects of `kind` in the shard `scope`: the base a destroy
/// threshold is a share of.
fn live_count(live: &Live, kind: Kind, scope: &Shard) -> usize {
    if !scope.is_whole() {
        return live
            .meta
            .keys()
            .filter(|id| !matches!(id, ObjectId::Quotas(_)))
            .filter(|id| id.kind() == kind && scope.contains(id))
            .count();
    }
    let s = &live.state;
    match kind {
        Kind::Workspaces => s.workspaces.len(),
        Kind::Users => s.users.len(),
        Kind::Roles => s.roles.len(),
        Kind::Providers => s.providers.len(),
        Kind::Memberships => s.memberships.len(),
        Kind::Assignments => s.assignments.len(),
        Kind::Projects => s.projects.len(),
        Kind::Settings => 1,
    }
}

pub fn refusals(
    changes: &[PlannedChange],
    config: &Config,
    live: &Live,
    scope: &Shard,
) -> Vec<Refusal> {
    let mut out = Vec::new();
    // Suspensions and cascades that remove access count too.
    let destroyed = super::lifecycle::removed_per_kind(changes, config);
    for c in changes.iter().map(|c| &c.change) {
        if !c.action.is_destructive() {
            continue;
        }
        let protected = live.meta.get(&c.object).is_some_and(|m| m.prevent_destroy);
        if protected {
            out.push(Refusal {
                code: "prevent-destroy".to_owned(),
                message: format!(
                    "`{}` is protected by prevent_destroy and would be {}; put it back in the files, or remove prevent_destroy and apply that first",
                    c.object,
                    if c.action == Action::Archive { "archived" } else { "deleted" }
                ),
                object: Some(c.object.clone()),
                lifted_by: None,
            });
        }
    }
    out.extend(roles_in_use(changes, live));
    out.extend(own_account(changes, live));
    let policy = &config.policy;
    for (kind, n) in destroyed {
        let total = live_count(live, kind, scope);
        if (total as u64) < policy.destroy_threshold_min_objects || total == 0 {
            continue;
        }
        let share = n * 100 / total;
        if n * 100 > total * usize::from(policy.destroy_threshold_percent) {
            out.push(Refusal {
                code: "destroy-threshold".to_owned(),
                message: format!(
                    "this plan removes {n} of {total} {} ({share}%), more than the {}% allowed at once",
                    kind.as_str(),
                    policy.destroy_threshold_percent
                ),
                object: None,
                lifted_by: Some("--allow-destroy".to_owned()),
            });
        }
    }
    out
}

/// The account tenet signs in as, suspended or deleted: the apply would
/// lock itself out partway (and every later run with it), so the plan is
/// refused, whatever the policy says.
fn own_account(changes: &[PlannedChange], live: &Live) -> Vec<Refusal> {
    let Some(me) = &live.signed_in_as else {
        return Vec::new();
    };
    let id = ObjectId::User(me.clone());
    changes
        .iter()
        .map(|c| &c.change)
        .filter(|c| c.object == id)
        .filter_map(|c| {
            let what = if c.action == Action::Delete {
                "delete"
            } else if c
                .fields
                .iter()
                .any(|f| f.field == "status" && f.after == "suspended")
            {
                "suspend"
            } else {
                return None;
            };
            Some(Refusal {
                code: "own-account".to_owned(),
                message: format!(
                    "this plan would {what} `{me}`, the account tenet signs in as on this platform, and lock tenet out; declare it in the files (users are authoritative), or sign in as another administrator"
                ),
                object: Some(id.clone()),
                lifted_by: None,
            })
        })
        .collect()
}

/// A custom role deleted while live memberships this plan does not change
/// still hold it: the platform would refuse the delete (role in use), so
/// the plan refuses first, naming each holder. (Holders tenet owns were
/// given revocations by the diff; these are the others.)
fn roles_in_use(changes: &[PlannedChange], live: &Live) -> Vec<Refusal> {
    const NAMED: usize = 10;
    let by_object: BTreeMap<&ObjectId, &crate::diff::Change> = changes
        .iter()
        .map(|c| (&c.change.object, &c.change))
        .collect();
    let mut holders: BTreeMap<&crate::model::Slug, Vec<String>> = changes
        .iter()
        .filter_map(|c| match (&c.change.object, c.change.action) {
            (ObjectId::Role(r), Action::Delete) => Some((r, Vec::new())),
            _ => None,
        })
        .collect();
    if holders.is_empty() {
        return Vec::new();
    }
    for ((ws, user), m) in &live.state.memberships {
        let id = ObjectId::Membership(ws.clone(), user.clone());
        let change = by_object.get(&id);
        let user_deleted = by_object
            .get(&ObjectId::User(user.clone()))
            .is_some_and(|u| u.action == Action::Delete);
        for role in &m.roles {
            let Some(list) = holders.get_mut(role) else {
                continue;
            };
            let released = match change {
                Some(mc) => match &mc.desired {
                    Some(Object::Membership(d)) => !d.roles.contains(role),
                    _ => mc.action == Action::Delete,
                },
                None => false,
            };
            if released || user_deleted {
                continue;
            }
            let archived = live
                .state
                .workspaces
                .get(ws)
                .is_some_and(|w| w.status == crate::model::WorkspaceStatus::Archived);
            let whose = if live.meta.get(&id).is_some_and(|m| m.managed()) {
                ""
            } else {
                ", not managed by tenet"
            };
            let place = if archived {
                "archived workspace"
            } else {
                "outside the files"
            };
            list.push(format!("{id} ({place}{whose})"));
        }
    }
    let mut out = Vec::new();
    for (role, list) in holders.into_iter().filter(|(_, l)| !l.is_empty()) {
        let n = list.len();
        let mut named = list[..n.min(NAMED)].join(", ");
        if n > NAMED {
            named.push_str(&format!(" and {} more", n - NAMED));
        }
        out.push(Refusal {
            code: "role-in-use".to_owned(),
            message: format!(
                "role `{role}` would be deleted, but {n} membership(s) the plan does not change still hold it: {named}; revoke it from them first (or declare them in the files), or keep the role"
            ),
            object: Some(ObjectId::Role(role.clone())),
            lifted_by: None,
        });
    }
    out
}

pub fn warnings(
    changes: &[PlannedChange],
    config: &Config,
    catalog: &Catalog,
    live: &Live,
) -> Vec<Warning> {
    let mut out = Vec::new();
    for c in changes.iter().map(|c| &c.change) {
        match &c.desired {
            Some(Object::Quotas(ws, q)) => {
                let Some(u) = live.usage.get(ws) else {
                    continue;
                };
                let cuts = [
                    ("storage_gb", q.storage_gb, u.storage_gb),
                    (
                        "executions_per_month",
                        q.executions_per_month,
                        u.executions_this_month,
                    ),
                    (
                        "api_calls_per_month",
                        q.api_calls_per_month,
                        u.api_calls_this_month,
                    ),
                    ("max_users", q.max_users, u.users),
                    ("tokens_per_day", q.tokens_per_day, u.tokens_today),
                    ("tokens_per_week", q.tokens_per_week, u.tokens_this_week),
                    ("tokens_per_month", q.tokens_per_month, u.tokens_this_month),
                ];
                for (field, limit, used) in cuts {
                    if let Some(limit) = limit
                        && limit < used
                        && c.fields.iter().any(|f| f.field == field)
                    {
                        out.push(Warning {
                            code: "quota-below-usage".to_owned(),
                            message: format!(
                                "workspace `{ws}`: {field} goes to {limit}, below current use of {used}; new work will be blocked"
                            ),
                            object: Some(c.object.clone()),
                        });
                    }
                }
            }
            Some(Object::Role(r)) if c.action != Action::Create => {
                let expand = |ps: &BTreeSet<String>| -> BTreeSet<String> {
                    ps.iter()
                        .filter_map(|p| catalog.expand(p).ok())
                        .flatten()
                        .map(str::to_owned)
                        .collect()
                };
                let before = live
                    .state
                    .roles
                    .get(&r.id)
                    .map(|l| expand(&l.permissions))
                    .unwrap_or_default();
                let gained: Vec<String> = expand(&r.permissions)
                    .difference(&before)
                    .cloned()
                    .collect();
                if !gained.is_empty() {
                    out.push(Warning {
                        code: "role-gains-permissions".to_owned(),
                        message: format!(
                            "role `{}` gains {}: {}",
                            r.id,
                            gained.len(),
                            gained.join(", ")
                        ),
                        object: Some(c.object.clone()),
                    });
                }
            }
            _ => {}
        }
    }
    // Workspaces the files leave with no model to use.
    let global = config
        .state
        .providers
        .values()
        .any(|p| p.scope == ProviderScope::Global);
    if !global {
        let with_models: BTreeSet<_> = config
            .state
            .assignments
            .values()
            .filter(|a| a.models.as_ref().is_none_or(|m| !m.is_empty()))
            .map(|a| &a.workspace)
            .collect();
        for ws in config
            .state
            .workspaces
            .keys()
            .filter(|w| !with_models.contains(w))
        {
            out.push(Warning {
                code: "no-model".to_owned(),
                message: format!("workspace `{ws}` may use no LLM model: no provider is assigned and none is global"),
                object: Some(crate::model::ObjectId::Workspace(ws.clone())),
            });
        }
    }
    out
}
