//! Ordering: every change gets a phase (a fixed order of kinds and actions
//! that keeps the platform valid at every step) and explicit dependencies on
//! earlier changes it needs (its user, workspace, roles, provider; for an
//! administrator revocation, the grants of the new administrators). Phases
//! run in order; a change whose dependency failed is skipped.
//!
//! Edges only ever point to an earlier phase, so the graph is acyclic by
//! construction. Building it is linear in the number of changes plus the
//! administrator grant/revoke pairs of each workspace.

use std::collections::BTreeMap;

use super::PlannedChange;
use crate::diff::{Action, Change, Object};
use crate::model::{Catalog, Email, Kind, Live, ObjectId, Slug, UserStatus};

/// The phase of a change: lower runs first.
pub fn phase(c: &Change, live: &Live, catalog: &Catalog) -> u8 {
    let quotas = matches!(c.object, ObjectId::Quotas(_));
    // Budgets of members and top-ups follow the memberships and projects
    // they name (a phase later: edges point only to earlier phases); a
    // top-up goes before its project or member does.
    // Identity providers map groups to workspaces, projects and roles:
    // written once those exist, removed (and their mappings dropped)
    // before any of them goes.
    match (&c.object, c.action) {
        (ObjectId::TopUp(..), Action::Delete) => return 9,
        (ObjectId::TopUp(..) | ObjectId::MemberQuotas(..), _) => return 11,
        (ObjectId::IdentityProvider(_) | ObjectId::ApiKey(..), Action::Delete) => return 12,
        // A key needs its owner's membership (and roles) first.
        (ObjectId::ApiKey(..), _) => return 11,
        (ObjectId::IdentityProvider(_), _) => return 11,
        _ => {}
    }
    match (c.kind, c.action) {
        (Kind::Settings, _) => 0,
        (Kind::Users, Action::Create) => 1,
        (Kind::Users, Action::Update | Action::Adopt) if !suspends(c) => 1,
        (Kind::Roles, Action::Create | Action::Update | Action::Adopt | Action::Rename) => 2,
        (Kind::Providers, Action::Create | Action::Rename) => 3,
        (Kind::Workspaces, _) if quotas => 5,
        (Kind::Workspaces, Action::Create | Action::Update | Action::Adopt | Action::Rename) => 4,
        (Kind::Assignments, Action::Delete) => 6,
        (Kind::Assignments, Action::Update | Action::Adopt) if releases(c, live) => 6,
        (Kind::Providers, Action::Update | Action::Adopt) => 7,
        (Kind::Assignments, _) => 8,
        // A project's members are members of the workspace: projects
        // follow the memberships they need and let go of members before
        // their memberships go.
        (Kind::Memberships, Action::Delete) => 13,
        (Kind::Memberships, _) if revokes_admin(c, live, catalog) => 13,
        (Kind::Memberships, _) => 9,
        // A project goes after the group mappings that name it.
        (Kind::Projects, Action::Delete | Action::Archive) => 12,
        (Kind::Projects, _) => 10,
        (Kind::Users, _) => 14,
        (Kind::Roles, Action::Delete | Action::Archive) => 15,
        (Kind::Providers, _) => 16,
        (Kind::Workspaces, _) => 17,
    }
}

/// A user update that stops the user acting.
fn suspends(c: &Change) -> bool {
    matches!(&c.desired, Some(Object::User(u)) if u.status == UserStatus::Suspended)
        && c.fields.iter().any(|f| f.field == "status")
}

/// An assignment update that gives something up (the default flag, or
/// models), which a provider update or another default may need first.
fn releases(c: &Change, live: &Live) -> bool {
    let Some(Object::Assignment(a)) = &c.desired else {
        return false;
    };
    let Some(l) = live
        .state
        .assignments
        .get(&(a.workspace.clone(), a.provider.clone()))
    else {
        return false;
    };
    (l.default && !a.default)
        || match (&l.models, &a.models) {
            (None, Some(_)) => true,
            (Some(lm), Some(am)) => lm.iter().any(|m| !am.contains(m)),
            _ => false,
        }
}

fn live_roles<'l>(c: &Change, live: &'l Live) -> Option<&'l crate::model::RoleSet> {
    let (ws, user) = membership_key(c)?;
    live.state
        .memberships
        .get(&(ws.clone(), user.clone()))
        .map(|m| &m.roles)
}

fn membership_key(c: &Change) -> Option<(&Slug, &Email)> {
    match &c.object {
        ObjectId::Membership(w, u) => Some((w, u)),
        _ => None,
    }
}

fn is_admin<'r>(
    roles: impl IntoIterator<Item = &'r crate::model::Slug>,
    catalog: &Catalog,
) -> bool {
    roles
        .into_iter()
        .any(|r| catalog.is_administrator_role(r.as_str()))
}

/// A membership change that takes an administrator role away.
fn revokes_admin(c: &Change, live: &Live, catalog: &Catalog) -> bool {
    let had = live_roles(c, live).is_some_and(|r| is_admin(r, catalog));
    let will = matches!(&c.desired, Some(Object::Membership(m)) if is_admin(&m.roles, catalog));
    had && !will
}

/// A membership change that makes someone an administrator.
fn grants_admin(c: &Change, live: &Live, catalog: &Catalog) -> bool {
    let had = live_roles(c, live).is_some_and(|r| is_admin(r, catalog));
    let will = matches!(&c.desired, Some(Object::Membership(m)) if is_admin(&m.roles, catalog));
    !had && will
}

/// The objects an object lives under (its workspace, an assignment's
/// provider).
fn parents(id: &ObjectId) -> Vec<ObjectId> {
    match id {
        ObjectId::Quotas(w)
        | ObjectId::Membership(w, _)
        | ObjectId::Project(w, _)
        | ObjectId::MemberQuotas(w, _)
        | ObjectId::TopUp(w, _) => vec![ObjectId::Workspace(w.clone())],
        ObjectId::Assignment(w, p) => {
            vec![
                ObjectId::Workspace(w.clone()),
                ObjectId::Provider(p.clone()),
            ]
        }
        _ => Vec::new(),
    }
}

/// Sorts changes into phases and links each to what it needs.
pub fn order(changes: Vec<Change>, live: &Live, catalog: &Catalog) -> Vec<PlannedChange> {
    let mut ranked: Vec<(u8, Change)> = changes
        .into_iter()
        .map(|c| (phase(&c, live, catalog), c))
        .collect();
    // Stable: phase, then resource path.
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.object.cmp(&b.1.object)));

    // What each change needs, computed over borrowed changes, which are
    // then moved (not cloned) into the plan.
    let all_deps: Vec<Vec<usize>> = {
        let by_object: BTreeMap<&ObjectId, usize> = ranked
            .iter()
            .enumerate()
            .map(|(i, (_, c))| (&c.object, i))
            .collect();
        // Administrator grants per workspace, for revocations and suspensions.
        let mut grants: BTreeMap<&Slug, Vec<usize>> = BTreeMap::new();
        for (i, (_, c)) in ranked.iter().enumerate() {
            if c.kind == Kind::Memberships
                && grants_admin(c, live, catalog)
                && let Some((ws, _)) = membership_key(c)
            {
                grants.entry(ws).or_default().push(i);
            }
        }

        // Workspaces where each live user is an administrator.
        let mut admin_of: BTreeMap<&Email, Vec<&Slug>> = BTreeMap::new();
        for ((w, u), m) in &live.state.memberships {
            if is_admin(&m.roles, catalog) {
                admin_of.entry(u).or_default().push(w);
            }
        }

        // Live holders of each custom role the plan deletes.
        let mut holders: BTreeMap<&Slug, Vec<(&Slug, &Email)>> = BTreeMap::new();
        let deleted: std::collections::BTreeSet<&Slug> = ranked
            .iter()
            .filter_map(|(_, c)| match (&c.object, c.action) {
                (ObjectId::Role(r), Action::Delete) => Some(r),
                _ => None,
            })
            .collect();
        if !deleted.is_empty() {
            for ((w, u), m) in &live.state.memberships {
                for r in m.roles.iter().filter(|r| deleted.contains(r)) {
                    holders.entry(r).or_default().push((w, u));
                }
            }
        }

        // The live default assignment of each workspace, for a change that
        // makes another provider the default.
        let mut live_defaults: BTreeMap<&Slug, Vec<&Slug>> = BTreeMap::new();
        for ((w, provider), l) in &live.state.assignments {
            if l.default {
                live_defaults.entry(w).or_default().push(provider);
            }
        }

        let mut all = Vec::with_capacity(ranked.len());
        for (p, c) in &ranked {
            let mut deps: Vec<usize> = Vec::new();
            let mut need = |id: ObjectId| {
                if let Some(&j) = by_object.get(&id)
                    && ranked[j].0 < *p
                {
                    deps.push(j);
                }
            };
            match &c.desired {
                Some(Object::Membership(m)) => {
                    need(ObjectId::User(m.user.clone()));
                    need(ObjectId::Workspace(m.workspace.clone()));
                    need(ObjectId::Quotas(m.workspace.clone()));
                    for r in &m.roles {
                        need(ObjectId::Role(r.clone()));
                    }
                }
                Some(Object::Assignment(a)) => {
                    need(ObjectId::Workspace(a.workspace.clone()));
                    need(ObjectId::Provider(a.provider.clone()));
                    if a.default {
                        for other in live_defaults.get(&a.workspace).into_iter().flatten() {
                            if **other != a.provider {
                                need(ObjectId::Assignment(a.workspace.clone(), (*other).clone()));
                            }
                        }
                    }
                }
                Some(Object::Quotas(w, _)) => need(ObjectId::Workspace(w.clone())),
                Some(Object::MemberQuotas(w, user, _)) => {
                    need(ObjectId::Membership(w.clone(), user.clone()));
                }
                Some(Object::TopUp(t)) => {
                    need(ObjectId::Workspace(t.workspace.clone()));
                    if let Some(p) = &t.project {
                        need(ObjectId::Project(t.workspace.clone(), p.clone()));
                    }
                    if let Some(u) = &t.user {
                        need(ObjectId::Membership(t.workspace.clone(), u.clone()));
                    }
                }
                Some(Object::Project(project)) => {
                    need(ObjectId::Workspace(project.workspace.clone()));
                    for user in project.members.keys() {
                        need(ObjectId::Membership(
                            project.workspace.clone(),
                            user.clone(),
                        ));
                        need(ObjectId::User(user.clone()));
                    }
                }
                _ => {}
            }
            // A custom role goes once its live holders gave it up.
            if let (ObjectId::Role(role), Action::Delete) = (&c.object, c.action) {
                for (w, u) in holders.get(role).into_iter().flatten() {
                    need(ObjectId::Membership((*w).clone(), (*u).clone()));
                    need(ObjectId::User((*u).clone()));
                }
            }
            // What lives under a renamed workspace or provider waits for the
            // rename, whatever it does (a deletion included).
            for parent in parents(&c.object) {
                if let Some(&j) = by_object.get(&parent)
                    && ranked[j].1.action == Action::Rename
                    && ranked[j].0 < *p
                {
                    deps.push(j);
                }
            }
            if c.kind == Kind::Memberships
                && revokes_admin(c, live, catalog)
                && let Some((ws, _)) = membership_key(c)
            {
                deps.extend(
                    grants
                        .get(ws)
                        .into_iter()
                        .flatten()
                        .copied()
                        .filter(|&j| ranked[j].0 < *p),
                );
            }
            if c.kind == Kind::Users
                && (c.action == Action::Delete || suspends(c))
                && let ObjectId::User(user) = &c.object
            {
                for w in admin_of.get(user).into_iter().flatten() {
                    deps.extend(
                        grants
                            .get(w)
                            .into_iter()
                            .flatten()
                            .copied()
                            .filter(|&j| ranked[j].0 < *p),
                    );
                }
            }
            deps.sort_unstable();
            deps.dedup();
            all.push(deps);
        }
        all
    };
    ranked
        .into_iter()
        .zip(all_deps)
        .enumerate()
        .map(|(id, ((phase, change), depends_on))| PlannedChange {
            id,
            phase,
            depends_on,
            change,
        })
        .collect()
}
