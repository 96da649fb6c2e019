//! Access impact: the effective permissions a plan changes, expanded from
//! roles (built-in and custom, wildcards included) and teams (already
//! expanded into memberships) down to (user, workspace, permission). Who
//! gains what and who loses what, with administrator grants and credential
//! access called out, so a reviewer sees the security meaning of a change.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::PlannedChange;
use crate::diff::{Action, Object};
use crate::model::{
    Catalog, Config, Email, Kind, Live, ObjectId, Role, RoleSet, Slug, UnmanagedGrant, UserStatus,
};

/// The change of one user's permissions in one workspace, or in one
/// project of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChange {
    pub workspace: Slug,
    /// The project, for permissions held through project roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Slug>,
    pub user: Email,
    pub gained: Vec<String>,
    pub lost: Vec<String>,
    /// Gains an administrator role of the catalog.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub becomes_administrator: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loses_administrator: bool,
    /// Gains a permission over credentials, API keys or LLM settings.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gains_credential_access: bool,
}

/// `finance`, or `research/claims-triage` for a project.
fn place(workspace: &Slug, project: Option<&Slug>) -> String {
    match project {
        Some(p) => format!("{workspace}/{p}"),
        None => workspace.to_string(),
    }
}

impl AccessChange {
    /// `finance`, or `research/claims-triage` for a project.
    pub fn place(&self) -> String {
        place(&self.workspace, self.project.as_ref())
    }
}

/// The change of what the members of one IdP group get in one workspace
/// (or one project of it) through an identity provider's group mapping.
/// Who is in the group only the IdP knows: this is per group, not per user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAccessChange {
    /// The identity provider.
    pub provider: Slug,
    pub group: String,
    pub workspace: Slug,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Slug>,
    pub gained: Vec<String>,
    pub lost: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub becomes_administrator: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loses_administrator: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gains_credential_access: bool,
}

impl GroupAccessChange {
    /// `finance`, or `research/claims-triage` for a project.
    pub fn place(&self) -> String {
        place(&self.workspace, self.project.as_ref())
    }
}

/// The roles an identity provider's mappings give, per (group, workspace,
/// project): none when the provider is off or gone.
type Mapped = BTreeMap<(String, Slug, Option<Slug>), RoleSet>;

/// In the default project, a group's workspace roles are mapped to
/// project roles unless the mapping gives it its own.
fn mapped(idp: Option<&crate::model::IdentityProvider>, catalog: &Catalog) -> Mapped {
    let mut out = Mapped::new();
    let Some(idp) = idp.filter(|i| i.enabled) else {
        return out;
    };
    for (group, grants) in &idp.groups {
        for (ws, grant) in grants {
            if !grant.roles.is_empty() {
                let roles: RoleSet = grant.roles.iter().cloned().collect();
                out.insert((group.clone(), ws.clone(), None), roles);
            }
            for (p, roles) in &grant.projects {
                let roles: RoleSet = roles.iter().cloned().collect();
                out.insert((group.clone(), ws.clone(), Some(p.clone())), roles);
            }
            if let Some(rules) = &catalog.projects
                && let Ok(default) = Slug::parse(&rules.default_project)
                && !grant.projects.contains_key(&default)
            {
                let roles: RoleSet = catalog
                    .mapped_project_roles(grant.roles.iter().map(Slug::as_str))
                    .into_iter()
                    .filter_map(|r| Slug::parse(r).ok())
                    .collect();
                if !roles.is_empty() {
                    out.insert((group.clone(), ws.clone(), Some(default)), roles);
                }
            }
        }
    }
    out
}

/// What the members of each IdP group gain and lose through the identity
/// providers a plan changes, and through the custom roles it changes that
/// a mapping gives.
pub fn group_impact(
    changes: &[PlannedChange],
    config: &Config,
    live: &Live,
    catalog: &Catalog,
) -> Vec<GroupAccessChange> {
    let (before, after) = (&live.state, &config.state);
    let roles_changed: BTreeSet<&Slug> = changes
        .iter()
        .filter_map(|c| match &c.change.object {
            ObjectId::Role(r) => Some(r),
            _ => None,
        })
        .collect();
    let mut providers: BTreeSet<&Slug> = changes
        .iter()
        .filter_map(|c| match &c.change.object {
            ObjectId::IdentityProvider(i) => Some(i),
            _ => None,
        })
        .collect();
    if !roles_changed.is_empty() {
        for (id, i) in before
            .identity_providers
            .iter()
            .chain(&after.identity_providers)
        {
            let gives = i
                .groups
                .values()
                .flat_map(|g| g.values())
                .any(|g| g.roles.iter().any(|r| roles_changed.contains(r)));
            if gives {
                providers.insert(id);
            }
        }
    }
    let admin = |r: &RoleSet| r.iter().any(|x| catalog.is_administrator_role(x.as_str()));
    let empty = RoleSet::default();
    let mut out = Vec::new();
    for id in providers {
        let (was, is) = (
            mapped(before.identity_providers.get(id), catalog),
            mapped(after.identity_providers.get(id), catalog),
        );
        let keys: BTreeSet<&(String, Slug, Option<Slug>)> = was.keys().chain(is.keys()).collect();
        for key in keys {
            let (r0, r1) = (
                was.get(key).unwrap_or(&empty),
                is.get(key).unwrap_or(&empty),
            );
            let p0 = expand(r0, &before.roles, catalog);
            let p1 = expand(r1, &after.roles, catalog);
            let gained: Vec<String> = p1.difference(&p0).cloned().collect();
            let lost: Vec<String> = p0.difference(&p1).cloned().collect();
            if gained.is_empty() && lost.is_empty() {
                continue;
            }
            let (group, workspace, project) = key.clone();
            let in_workspace = project.is_none();
            out.push(GroupAccessChange {
                gains_credential_access: gained.iter().any(|p| is_credential_permission(p)),
                becomes_administrator: in_workspace && admin(r1) && !admin(r0),
                loses_administrator: in_workspace && admin(r0) && !admin(r1),
                provider: id.clone(),
                group,
                workspace,
                project,
                gained,
                lost,
            });
        }
    }
    out
}

/// Permissions touching secrets: reading credentials, minting API keys,
/// configuring LLM connections.
pub fn is_credential_permission(p: &str) -> bool {
    p.starts_with("credentials.")
        || p.starts_with("api_keys.")
        || p == "settings.llm"
        || p == "settings.api_keys"
}

/// The permissions a set of roles grants.
pub fn expand<'r>(
    roles: impl IntoIterator<Item = &'r Slug>,
    custom: &BTreeMap<Slug, Role>,
    catalog: &Catalog,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in roles {
        let patterns: Vec<&str> = match (catalog.role(r.as_str()), custom.get(r)) {
            (Some(b), _) => b.permissions.iter().map(String::as_str).collect(),
            (None, Some(c)) => c.permissions.iter().map(String::as_str).collect(),
            (None, None) => Vec::new(),
        };
        for p in patterns {
            if let Ok(ps) = catalog.expand(p) {
                out.extend(ps.into_iter().map(str::to_owned));
            }
        }
    }
    out
}

/// The permissions of role sets in one state, each expanded once.
#[derive(Default)]
struct Expanded(HashMap<RoleSet, BTreeSet<String>>);

impl Expanded {
    fn of(
        &mut self,
        roles: &RoleSet,
        custom: &BTreeMap<Slug, Role>,
        catalog: &Catalog,
    ) -> &BTreeSet<String> {
        self.0
            .entry(roles.clone())
            .or_insert_with(|| expand(roles, custom, catalog))
    }
}

/// Effective roles of a user in a workspace, in one state: none when the
/// user is suspended or the workspace archived.
fn roles_in<'s>(state: &'s crate::model::State, ws: &Slug, user: &Email) -> Option<&'s RoleSet> {
    let active_ws = state
        .workspaces
        .get(ws)
        .is_some_and(|w| w.status == crate::model::WorkspaceStatus::Active);
    let active_user = state
        .users
        .get(user)
        .is_some_and(|u| u.status != UserStatus::Suspended);
    if !(active_ws && active_user) {
        return None;
    }
    state
        .memberships
        .get(&(ws.clone(), user.clone()))
        .map(|m| &m.roles)
}

/// Effective project roles of a user in a project, in one state: the
/// project's own roles for the member, else (in the default project) the
/// ones mapped from the workspace roles; none when the user cannot act in
/// the workspace or the project is archived. `fallback` is where the
/// project is looked up when `state` does not have it (a default project
/// the files leave alone).
fn project_roles_in(
    state: &crate::model::State,
    fallback: &crate::model::State,
    catalog: &Catalog,
    (ws, project, user): (&Slug, &Slug, &Email),
) -> RoleSet {
    let Some(workspace_roles) = roles_in(state, ws, user) else {
        return RoleSet::default();
    };
    let key = (ws.clone(), project.clone());
    let p = state
        .projects
        .get(&key)
        .or_else(|| fallback.projects.get(&key));
    if p.is_some_and(|p| p.status != crate::model::WorkspaceStatus::Active) {
        return RoleSet::default();
    }
    if let Some(roles) = p.and_then(|p| p.members.get(user)) {
        return roles.clone();
    }
    let is_default = catalog
        .projects
        .as_ref()
        .is_some_and(|r| r.default_project == project.as_str());
    if !is_default {
        return RoleSet::default();
    }
    catalog
        .mapped_project_roles(workspace_roles.iter().map(Slug::as_str))
        .into_iter()
        .filter_map(|r| Slug::parse(r).ok())
        .collect()
}

/// The access changes of a plan.
pub fn impact(
    changes: &[PlannedChange],
    config: &Config,
    live: &Live,
    catalog: &Catalog,
) -> Vec<AccessChange> {
    let (before, after) = (&live.state, &config.state);
    let mut pairs: BTreeSet<(Slug, Email)> = BTreeSet::new();
    let mut roles_changed: BTreeSet<Slug> = BTreeSet::new();
    let mut users_changed: BTreeSet<Email> = BTreeSet::new();
    let mut workspaces_changed: BTreeSet<Slug> = BTreeSet::new();
    for c in changes.iter().map(|c| &c.change) {
        match (&c.kind, &c.desired) {
            (Kind::Memberships, Some(Object::Membership(m))) => {
                pairs.insert((m.workspace.clone(), m.user.clone()));
            }
            (Kind::Memberships, None) => {
                if let ObjectId::Membership(ws, user) = &c.object {
                    pairs.insert((ws.clone(), user.clone()));
                }
            }
            (Kind::Roles, _) => {
                if let ObjectId::Role(id) = &c.object {
                    roles_changed.insert(id.clone());
                }
            }
            (Kind::Users, _)
                if c.fields.iter().any(|f| f.field == "status") || c.action == Action::Delete =>
            {
                if let ObjectId::User(u) = &c.object {
                    users_changed.insert(u.clone());
                }
            }
            (Kind::Workspaces, _)
                if c.action.is_destructive() || c.fields.iter().any(|f| f.field == "status") =>
            {
                if let ObjectId::Workspace(w) = &c.object {
                    workspaces_changed.insert(w.clone());
                }
            }
            _ => {}
        }
    }
    // Holders of changed roles, members of changed workspaces, memberships
    // of changed users, before and after.
    for state in [before, after] {
        for ((ws, user), m) in &state.memberships {
            if m.roles.iter().any(|r| roles_changed.contains(r))
                || workspaces_changed.contains(ws)
                || users_changed.contains(user)
            {
                pairs.insert((ws.clone(), user.clone()));
            }
        }
    }
    let mut out = Vec::new();
    if catalog.projects.is_some() {
        out = project_impact(changes, config, live, catalog, &pairs);
    }
    let empty = RoleSet::default();
    // Most memberships hold one of a few role sets: each is expanded once
    // per side.
    let (mut was, mut is) = (Expanded::default(), Expanded::default());
    for (ws, user) in pairs {
        let r0 = roles_in(before, &ws, &user).unwrap_or(&empty);
        let r1 = roles_in(after, &ws, &user).unwrap_or(&empty);
        let p0 = was.of(r0, &before.roles, catalog);
        let p1 = is.of(r1, &after.roles, catalog);
        let gained: Vec<String> = p1.difference(p0).cloned().collect();
        let lost: Vec<String> = p0.difference(p1).cloned().collect();
        if gained.is_empty() && lost.is_empty() {
            continue;
        }
        let admin = |r: &RoleSet| r.iter().any(|x| catalog.is_administrator_role(x.as_str()));
        out.push(AccessChange {
            gains_credential_access: gained.iter().any(|p| is_credential_permission(p)),
            becomes_administrator: admin(r1) && !admin(r0),
            loses_administrator: admin(r0) && !admin(r1),
            workspace: ws,
            project: None,
            user,
            gained,
            lost,
        });
    }
    out.sort_by(|a, b| {
        (&a.workspace, &a.user, &a.project).cmp(&(&b.workspace, &b.user, &b.project))
    });
    out
}

/// The access changes through project roles: of every member of a project
/// the plan changes, and in the default project of every (workspace, user)
/// pair whose workspace access changes (its roles there are mapped from
/// the workspace roles).
fn project_impact(
    changes: &[PlannedChange],
    config: &Config,
    live: &Live,
    catalog: &Catalog,
    pairs: &BTreeSet<(Slug, Email)>,
) -> Vec<AccessChange> {
    let (before, after) = (&live.state, &config.state);
    let mut triples: BTreeSet<(Slug, Slug, Email)> = BTreeSet::new();
    for c in changes.iter().map(|c| &c.change) {
        let ObjectId::Project(ws, project) = &c.object else {
            continue;
        };
        for state in [before, after] {
            if let Some(p) = state.projects.get(&(ws.clone(), project.clone())) {
                for user in p.members.keys() {
                    triples.insert((ws.clone(), project.clone(), user.clone()));
                }
            }
        }
        // An archived (or restored) default project changes the access of
        // every member, mapped ones included.
        if catalog
            .projects
            .as_ref()
            .is_some_and(|r| r.default_project == project.as_str())
        {
            for state in [before, after] {
                for (w, user) in state.memberships.keys().filter(|(w, _)| w == ws) {
                    triples.insert((w.clone(), project.clone(), user.clone()));
                }
            }
        }
    }
    if let Some(rules) = &catalog.projects
        && let Ok(default) = Slug::parse(&rules.default_project)
    {
        for (ws, user) in pairs {
            triples.insert((ws.clone(), default.clone(), user.clone()));
        }
    }
    let mut out = Vec::new();
    // A few project role sets recur: each is expanded once per side.
    let (mut was, mut is) = (Expanded::default(), Expanded::default());
    for (ws, project, user) in triples {
        let r0 = project_roles_in(before, before, catalog, (&ws, &project, &user));
        let r1 = project_roles_in(after, before, catalog, (&ws, &project, &user));
        let p0 = was.of(&r0, &before.roles, catalog);
        let p1 = is.of(&r1, &after.roles, catalog);
        let gained: Vec<String> = p1.difference(p0).cloned().collect();
        let lost: Vec<String> = p0.difference(p1).cloned().collect();
        if gained.is_empty() && lost.is_empty() {
            continue;
        }
        out.push(AccessChange {
            gains_credential_access: gained.iter().any(|p| is_credential_permission(p)),
            becomes_administrator: false,
            loses_administrator: false,
            workspace: ws,
            project: Some(project),
            user,
            gained,
            lost,
        });
    }
    out
}

/// The unmanaged memberships of declared workspaces, with the access they
/// grant (custom roles expanded as the platform holds them).
pub fn unmanaged(
    unmanaged: &[ObjectId],
    config: &Config,
    live: &Live,
    catalog: &Catalog,
) -> Vec<UnmanagedGrant> {
    let mut out = Vec::new();
    for id in unmanaged {
        let ObjectId::Membership(ws, user) = id else {
            continue;
        };
        if !config.state.workspaces.contains_key(ws) {
            continue;
        }
        let Some(m) = live.state.memberships.get(&(ws.clone(), user.clone())) else {
            continue;
        };
        let permissions = expand(&m.roles, &live.state.roles, catalog);
        out.push(UnmanagedGrant {
            object: id.clone(),
            workspace: ws.clone(),
            user: user.clone(),
            roles: m.roles.iter().cloned().collect(),
            administrator: m
                .roles
                .iter()
                .any(|r| catalog.is_administrator_role(r.as_str())),
            credential_access: permissions.iter().any(|p| is_credential_permission(p)),
        });
    }
    out
}
