//! The SCIM 2.0 target (RFC 7643/7644), for any service provider that
//! accepts identity provisioning: `scim+http(s)://HOST[:PORT]/BASE`, a bearer
//! token from `TENET_TOKEN`. It holds users, workspaces and memberships:
//!
//! - a user is a User with `userName` = the lower-cased email, the primary
//!   work email, `displayName` = the name, `active` = false exactly when
//!   suspended, and `externalId` = `tenet:<email>` marking tenet's ownership;
//! - a workspace is a Group whose `displayName` is the slug (`externalId`
//!   `tenet:<slug>`), whose members are exactly the workspace's members;
//! - each (workspace, role) held by anyone is a Group `<slug>:<role>` whose
//!   members are exactly the holders of that role there.
//!
//! Membership changes are PATCH add/remove on members, never a full replace.
//! A workspace renamed in place renames its group and its role groups
//! (displayName and tenet's `externalId`), keeping their members.
//! SCIM has no place for anything else (custom roles' permissions, quotas,
//! providers, settings, labels), no audit log, no locks and no archive:
//! [`unholdable`] names what the files ask for that it cannot hold, and the
//! capabilities say what the engine must do instead. Its ETags are per
//! resource, while a membership lives in several groups, so stamps are
//! content digests, compared again right before each write; writes to one
//! server are sent one at a time, so group edits of one apply never race.

pub mod client;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use serde_json::{Value, json};

use client::{NewUser, ScimClient, ScimError, ScimErrorKind, ScimGroup, ScimUser, eq_filter};

use super::{Target, TargetError, Write, WriteOp};
use crate::model::capabilities::{Capabilities, CatalogSource, Ownership, Unholdable};
use crate::model::{
    Catalog, Config, Email, Kind, Labels, Live, Membership, Meta, Object, ObjectId, Profile,
    Quotas, RoleSet, Slug, User, UserStatus, Workspace, WorkspaceStatus,
};

pub const CAPABILITIES: Capabilities = Capabilities {
    platform: "SCIM 2.0",
    kinds: &[Kind::Workspaces, Kind::Users, Kind::Memberships],
    versions: false,
    ownership: &[
        (Kind::Users, Ownership::Marker),
        (Kind::Workspaces, Ownership::Marker),
        (Kind::Memberships, Ownership::Marker),
    ],
    audit: false,
    locks: false,
    catalog: CatalogSource::Builtin,
    keys_required: true,
    archive: false,
    global_permissions: false,
    batch: 1,
    renames: &[Kind::Workspaces],
};

/// The `externalId` tenet writes on what it manages.
fn marker(name: &str) -> String {
    format!("tenet:{name}")
}

fn role_group(ws: &Slug, role: &Slug) -> String {
    format!("{ws}:{role}")
}

impl From<ScimError> for TargetError {
    fn from(e: ScimError) -> Self {
        use super::ErrorKind as K;
        let (kind, retry_after) = match e.kind {
            ScimErrorKind::NotFound => (K::NotFound, None),
            ScimErrorKind::Conflict => (K::Conflict, None),
            ScimErrorKind::PreconditionFailed => (K::PreconditionFailed, None),
            ScimErrorKind::RateLimited { retry_after } => (K::RateLimited, retry_after),
            ScimErrorKind::Unauthorized => (K::Unauthorized, None),
            ScimErrorKind::Forbidden => (K::Forbidden, None),
            ScimErrorKind::Unavailable => (K::Unavailable, None),
            ScimErrorKind::Rejected => (K::Rejected, None),
        };
        let mut t = TargetError::new(kind, format!("SCIM: {}", e.message));
        t.retry_after = retry_after;
        t
    }
}

/// What the files declare that SCIM cannot hold, object by object.
pub fn unholdable(config: &Config) -> Vec<Unholdable> {
    let s = &config.state;
    let mut out = Vec::new();
    let mut no = |object: ObjectId, field: &str, reason: &str| {
        out.push(Unholdable {
            object,
            field: field.to_owned(),
            reason: reason.to_owned(),
        })
    };
    for r in s.roles.keys() {
        no(
            ObjectId::Role(r.clone()),
            "",
            "a custom role's permissions have no place in SCIM 2.0 (a `<workspace>:<role>` group carries only the role's name); use built-in roles",
        );
    }
    for p in s.providers.keys() {
        no(
            ObjectId::Provider(p.clone()),
            "",
            "SCIM 2.0 provisions identities only: it has no LLM providers",
        );
    }
    for (w, u) in s.member_quotas.keys() {
        no(
            ObjectId::MemberQuotas(w.clone(), u.clone()),
            "",
            "SCIM 2.0 provisions identities only: it has no token budgets",
        );
    }
    for (w, k) in s.api_keys.keys() {
        no(
            ObjectId::ApiKey(w.clone(), k.clone()),
            "",
            "SCIM 2.0 provisions identities only: it has no API keys",
        );
    }
    for i in s.identity_providers.keys() {
        no(
            ObjectId::IdentityProvider(i.clone()),
            "",
            "SCIM 2.0 provisions identities only: single sign-on is configured in the identity provider and the application, not through SCIM",
        );
    }
    for (w, t) in s.top_ups.keys() {
        no(
            ObjectId::TopUp(w.clone(), t.clone()),
            "",
            "SCIM 2.0 provisions identities only: it has no token budgets (no top-ups)",
        );
    }
    for (w, p) in s.projects.keys() {
        no(
            ObjectId::Project(w.clone(), p.clone()),
            "",
            "SCIM 2.0 provisions identities only: it has no projects (a workspace is a group of members)",
        );
    }
    for (w, p) in s.assignments.keys() {
        no(
            ObjectId::Assignment(w.clone(), p.clone()),
            "",
            "SCIM 2.0 provisions identities only: it has no provider assignments",
        );
    }
    if let Some(st) = &s.settings {
        if !st.branding.is_empty() {
            no(
                ObjectId::Settings,
                "branding",
                "SCIM 2.0 provisions identities only: it has no branding",
            );
        }
        if st.branding.is_empty() || st.security != crate::model::Security::default() {
            no(
                ObjectId::Settings,
                "security",
                "SCIM 2.0 has no security settings",
            );
        }
    }
    for (slug, w) in &s.workspaces {
        let id = || ObjectId::Workspace(slug.clone());
        if w.name.is_some() {
            no(
                id(),
                "name",
                "a SCIM group has one name, its displayName, which is the slug",
            );
        }
        if w.description.is_some() {
            no(id(), "description", "a SCIM group has no description");
        }
        if !w.settings.is_empty() {
            no(
                id(),
                "settings",
                "a SCIM group has no theme, language or time zone",
            );
        }
        if !w.labels.is_empty() {
            no(id(), "labels", "a SCIM group has no labels");
        }
        if w.status == WorkspaceStatus::Archived {
            no(id(), "status", "a SCIM group cannot be archived");
        }
        if w.prevent_destroy {
            no(
                id(),
                "prevent_destroy",
                "SCIM 2.0 has nowhere to record it, so it could not protect the group once removed from the files",
            );
        }
        for (field, value) in w.quotas.fields() {
            if value.is_some() {
                no(
                    ObjectId::Quotas(slug.clone()),
                    &format!("quotas.{field}"),
                    "SCIM 2.0 has no quotas (check [defaults.quotas] too)",
                );
            }
        }
    }
    for (email, u) in &s.users {
        if !u.labels.is_empty() {
            no(
                ObjectId::User(email.clone()),
                "labels",
                "a SCIM user has no labels",
            );
        }
        if u.prevent_destroy {
            no(
                ObjectId::User(email.clone()),
                "prevent_destroy",
                "SCIM 2.0 has nowhere to record it, so it could not protect the user once removed from the files",
            );
        }
        if u.status == UserStatus::Invited {
            no(
                ObjectId::User(email.clone()),
                "status",
                "SCIM 2.0 has no invitations (a user is active or not); the identity provider or the application invites",
            );
        }
    }
    out
}

pub struct Scim {
    endpoint: String,
    client: ScimClient,
    catalog: Catalog,
    /// Ids of the users known to exist (read, or created since), so that
    /// telling a dangling group member needs no request for them.
    known: Mutex<HashSet<String>>,
    /// One write at a time: a membership edits several groups.
    writes: tokio::sync::Mutex<()>,
}

impl Scim {
    /// `base` is the service provider's base URL (`http://host:port/v2`).
    pub fn new(
        endpoint: &str,
        base: &str,
        token: Option<String>,
        profile: Profile,
    ) -> Result<Scim, TargetError> {
        if let Some(t) = &token {
            crate::target::check_token(t)?;
        }
        Ok(Scim {
            endpoint: endpoint.to_owned(),
            client: ScimClient::new(base, token)?,
            catalog: Catalog::builtin(profile).clone(),
            known: Mutex::new(HashSet::new()),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    fn remember(&self, id: &str) {
        if let Ok(mut k) = self.known.lock() {
            k.insert(id.to_owned());
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut k) = self.known.lock() {
            k.remove(id);
        }
    }

    fn known_id(&self, id: &str) -> bool {
        self.known.lock().is_ok_and(|k| k.contains(id))
    }

    /// The User with this email, found by `userName` (servers compare it
    /// without case).
    async fn user(&self, email: &Email) -> Result<Option<ScimUser>, TargetError> {
        let found = self
            .client
            .find_users(&eq_filter("userName", email.as_str()))
            .await?;
        match found.as_slice() {
            [] => Ok(None),
            [u] => {
                self.remember(&u.id);
                Ok(Some(u.clone()))
            }
            many => Err(TargetError::new(
                super::ErrorKind::Conflict,
                format!(
                    "SCIM: {} users are named `{email}`; tenet cannot tell which is theirs",
                    many.len()
                ),
            )),
        }
    }

    async fn user_id(&self, email: &Email) -> Result<String, TargetError> {
        match self.user(email).await? {
            Some(u) => Ok(u.id),
            None => Err(TargetError::new(
                super::ErrorKind::NotFound,
                format!("SCIM: there is no user `{email}`"),
            )),
        }
    }

    /// The one Group with this displayName; two is an error, not a choice.
    async fn group(&self, name: &str) -> Result<Option<ScimGroup>, TargetError> {
        let found = self
            .client
            .find_groups(&eq_filter("displayName", name))
            .await?;
        match found.as_slice() {
            [] => Ok(None),
            [g] => Ok(Some(g.clone())),
            many => Err(duplicate_groups(name, many.len())),
        }
    }

    /// The groups the user is in.
    async fn groups_of(&self, user_id: &str) -> Result<Vec<ScimGroup>, TargetError> {
        Ok(self
            .client
            .find_groups(&eq_filter("members.value", user_id))
            .await?)
    }

    /// Member ids of `group` that name no user any more (the server keeps no
    /// referential integrity), to clean from a group tenet owns.
    async fn dangling(&self, group: &ScimGroup) -> Result<Vec<String>, TargetError> {
        let mut out = Vec::new();
        for m in &group.members {
            if !self.known_id(m) && self.client.get_user(m).await?.is_none() {
                out.push(m.clone());
            }
        }
        Ok(out)
    }

    /// Makes the user's groups in `ws` exactly `roles` (and the workspace
    /// group itself when `member`), creating role groups as needed and
    /// deleting the ones tenet owns that end up empty.
    async fn set_membership(
        &self,
        ws: &Slug,
        email: &Email,
        member: bool,
        roles: &RoleSet,
    ) -> Result<(), TargetError> {
        let user_id = self.user_id(email).await?;
        let ws_group = self.group(ws.as_str()).await?.ok_or_else(|| {
            TargetError::new(
                super::ErrorKind::NotFound,
                format!("SCIM: there is no group `{ws}` for the workspace"),
            )
        })?;
        let one = std::slice::from_ref(&user_id);
        let is_member = ws_group.members.contains(&user_id);
        if member && !is_member {
            let dangling = self.dangling(&ws_group).await?;
            self.client
                .patch_members(&ws_group.id, one, &dangling, None)
                .await?;
        } else if !member && is_member {
            self.client
                .patch_members(&ws_group.id, &[], one, None)
                .await?;
        }
        // Role groups the user is in now, in this workspace.
        let prefix = format!("{ws}:");
        let mut current: BTreeMap<String, ScimGroup> = BTreeMap::new();
        for g in self.groups_of(&user_id).await? {
            if g.display_name.starts_with(&prefix) {
                if current.contains_key(&g.display_name) {
                    return Err(duplicate_groups(&g.display_name, 2));
                }
                current.insert(g.display_name.clone(), g);
            }
        }
        for role in roles {
            let name = role_group(ws, role);
            if current.remove(&name).is_some() {
                continue;
            }
            match self.group(&name).await? {
                Some(g) => {
                    let dangling = self.dangling(&g).await?;
                    self.client
                        .patch_members(&g.id, one, &dangling, None)
                        .await?;
                }
                None => {
                    self.client
                        .create_group(&name, Some(&marker(&name)), one)
                        .await?;
                }
            }
        }
        // Roles the user no longer holds here.
        for (name, g) in current {
            let managed = g.external_id.as_deref() == Some(marker(&name).as_str());
            let left_empty = g.members.iter().all(|m| *m == user_id);
            if managed && left_empty {
                self.client.delete_group(&g.id, None).await?;
            } else {
                self.client.patch_members(&g.id, &[], one, None).await?;
            }
        }
        Ok(())
    }

    /// Renames workspace `old` to `new`: each `old:<role>` group becomes
    /// `new:<role>` (its members kept, tenet's `externalId` moved along),
    /// then the workspace group itself, last, so that a group named `new`
    /// means the rename is complete. A role group already renamed by an
    /// earlier attempt is left as it is.
    async fn rename_workspace(&self, old: &Slug, new: &Slug) -> Result<(), TargetError> {
        let Some(ws) = self.group(old.as_str()).await? else {
            return Err(TargetError::new(
                super::ErrorKind::NotFound,
                format!("SCIM: there is no group `{old}` to rename"),
            ));
        };
        if self.group(new.as_str()).await?.is_some() {
            return Err(TargetError::new(
                super::ErrorKind::Conflict,
                format!("SCIM: a group `{new}` exists already, so `{old}` cannot take its name"),
            ));
        }
        let prefix = format!("{old}:");
        let roles = self
            .client
            .find_groups(&format!("displayName sw {}", json_text(&prefix)))
            .await?;
        for g in roles {
            let Some(role) = g.display_name.strip_prefix(&prefix) else {
                continue;
            };
            let name = format!("{new}:{role}");
            if self.group(&name).await?.is_some() {
                return Err(duplicate_groups(&name, 2));
            }
            let mut ops = vec![json!({"op": "replace", "path": "displayName", "value": name})];
            if g.external_id.as_deref() == Some(marker(&g.display_name).as_str()) {
                ops.push(json!({"op": "replace", "path": "externalId", "value": marker(&name)}));
            }
            self.client
                .patch_group_with(&g.id, &ops, g.version.as_deref())
                .await?;
        }
        let ops = [
            json!({"op": "replace", "path": "displayName", "value": new.as_str()}),
            json!({"op": "replace", "path": "externalId", "value": marker(new.as_str())}),
        ];
        self.client
            .patch_group_with(&ws.id, &ops, ws.version.as_deref())
            .await?;
        Ok(())
    }

    async fn write_now(&self, w: &Write<'_>) -> Result<(), TargetError> {
        match (w.object, w.op) {
            (ObjectId::User(email), WriteOp::Create(Object::User(u))) => {
                let created = self.client.create_user(&new_user(email, u)).await?;
                self.remember(&created.id);
                Ok(())
            }
            (
                ObjectId::User(email),
                WriteOp::Update {
                    desired: Object::User(u),
                    ..
                },
            ) => {
                let Some(live) = self.user(email).await? else {
                    return Err(TargetError::new(
                        super::ErrorKind::NotFound,
                        format!("SCIM: there is no user `{email}`"),
                    ));
                };
                let name = match &u.name {
                    Some(n) => json!({"op": "replace", "path": "displayName", "value": n}),
                    None => json!({"op": "remove", "path": "displayName"}),
                };
                let ops = [
                    name,
                    json!({"op": "replace", "path": "active", "value": u.status != UserStatus::Suspended}),
                    json!({"op": "replace", "path": "externalId", "value": marker(email.as_str())}),
                ];
                // The version just read: nobody may write in between.
                self.client
                    .patch_user(&live.id, &ops, live.version.as_deref())
                    .await?;
                Ok(())
            }
            (ObjectId::User(email), WriteOp::Delete) => {
                let Some(live) = self.user(email).await? else {
                    return Ok(());
                };
                // The server would leave the id in its groups: take it out first.
                for g in self.groups_of(&live.id).await? {
                    let one = std::slice::from_ref(&live.id);
                    self.client.patch_members(&g.id, &[], one, None).await?;
                }
                self.client.delete_user(&live.id, None).await?;
                self.forget(&live.id);
                Ok(())
            }
            (ObjectId::Workspace(slug), WriteOp::Create(_)) => {
                self.client
                    .create_group(slug.as_str(), Some(&marker(slug.as_str())), &[])
                    .await?;
                Ok(())
            }
            (ObjectId::Workspace(slug), WriteOp::Update { .. }) => {
                // Nothing but the slug is held: only adoption writes.
                let Some(g) = self.group(slug.as_str()).await? else {
                    return Err(TargetError::new(
                        super::ErrorKind::NotFound,
                        format!("SCIM: there is no group `{slug}`"),
                    ));
                };
                let op =
                    json!({"op": "replace", "path": "externalId", "value": marker(slug.as_str())});
                self.client
                    .patch_group_with(&g.id, &[op], g.version.as_deref())
                    .await?;
                Ok(())
            }
            (
                ObjectId::Workspace(new),
                WriteOp::Rename {
                    from: ObjectId::Workspace(old),
                    ..
                },
            ) => self.rename_workspace(old, new).await,
            (ObjectId::Workspace(slug), WriteOp::Delete) => {
                let prefix = format!("{slug}:");
                let roles = self
                    .client
                    .find_groups(&format!("displayName sw {}", json_text(&prefix)))
                    .await?;
                for g in roles {
                    self.client.delete_group(&g.id, None).await?;
                }
                if let Some(g) = self.group(slug.as_str()).await? {
                    self.client.delete_group(&g.id, None).await?;
                }
                Ok(())
            }
            (
                ObjectId::Membership(ws, email),
                WriteOp::Create(Object::Membership(m))
                | WriteOp::Update {
                    desired: Object::Membership(m),
                    ..
                },
            ) => self.set_membership(ws, email, true, &m.roles).await,
            (ObjectId::Membership(ws, email), WriteOp::Delete) => {
                self.set_membership(ws, email, false, &RoleSet::default())
                    .await
            }
            (object, op) => Err(TargetError::new(
                super::ErrorKind::Rejected,
                format!(
                    "SCIM 2.0 cannot hold this write ({} of `{object}`)",
                    match op {
                        WriteOp::Create(_) => "create",
                        WriteOp::Update { .. } => "update",
                        WriteOp::Rename { .. } => "rename",
                        WriteOp::Archive => "archive",
                        WriteOp::Delete => "delete",
                    }
                ),
            )),
        }
    }
}

fn duplicate_groups(name: &str, n: usize) -> TargetError {
    TargetError::new(
        super::ErrorKind::Conflict,
        format!(
            "SCIM: {n} groups are named `{name}`; tenet cannot tell which one is the workspace's, so it changes neither: rename or remove the extra one"
        ),
    )
}

fn json_text(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn new_user(email: &Email, u: &User) -> NewUser {
    NewUser {
        user_name: email.to_string(),
        external_id: Some(marker(email.as_str())),
        display_name: u.name.clone(),
        active: u.status != UserStatus::Suspended,
        email: Some(email.to_string()),
    }
}

fn model_user(email: Email, u: &ScimUser) -> User {
    User {
        email,
        name: u.display_name.clone(),
        status: if u.active {
            UserStatus::Active
        } else {
            UserStatus::Suspended
        },
        labels: Labels::new(),
        prevent_destroy: false,
        invitation: None,
    }
}

fn model_workspace(slug: Slug) -> Workspace {
    Workspace {
        settings: Default::default(),
        slug,
        name: None,
        description: None,
        status: WorkspaceStatus::Active,
        labels: Labels::new(),
        prevent_destroy: false,
        quotas: Quotas::default(),
    }
}

/// What a group's displayName makes it: a workspace or a workspace role.
enum GroupName {
    Workspace(Slug),
    Role(Slug, Slug),
    Other,
}

fn group_name(name: &str) -> GroupName {
    if let Ok(s) = Slug::parse(name) {
        return GroupName::Workspace(s);
    }
    match name.split_once(':') {
        Some((w, r)) => match (Slug::parse(w), Slug::parse(r)) {
            (Ok(w), Ok(r)) => GroupName::Role(w, r),
            _ => GroupName::Other,
        },
        None => GroupName::Other,
    }
}

/// The live state of users and groups, and the ids of the users.
fn live(users: &[ScimUser], groups: &[ScimGroup]) -> Result<(Live, HashSet<String>), TargetError> {
    let mut live = Live::default();
    let mut emails: HashMap<String, Email> = HashMap::new();
    for u in users {
        let Ok(email) = Email::parse(&u.user_name.to_lowercase()) else {
            continue;
        };
        let managed = u.external_id.as_deref() == Some(marker(email.as_str()).as_str());
        let user = model_user(email.clone(), u);
        live.meta.insert(
            ObjectId::User(email.clone()),
            Meta::by_content(&Object::User(user.clone()), managed),
        );
        emails.insert(u.id.clone(), email.clone());
        live.state.users.insert(email, user);
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for g in groups {
        if !matches!(group_name(&g.display_name), GroupName::Other) {
            *seen.entry(g.display_name.as_str()).or_insert(0) += 1;
        }
    }
    if let Some((name, n)) = seen.iter().find(|(_, n)| **n > 1) {
        return Err(duplicate_groups(name, *n));
    }
    let mut managed_ws: BTreeMap<Slug, bool> = BTreeMap::new();
    for g in groups {
        if let GroupName::Workspace(slug) = group_name(&g.display_name) {
            let managed = g.external_id.as_deref() == Some(marker(slug.as_str()).as_str());
            managed_ws.insert(slug.clone(), managed);
        }
    }
    let mut roles: BTreeMap<(Slug, Email), BTreeSet<Slug>> = BTreeMap::new();
    for g in groups {
        let (ws, role) = match group_name(&g.display_name) {
            GroupName::Workspace(ws) => (ws, None),
            GroupName::Role(ws, role) if managed_ws.contains_key(&ws) => (ws, Some(role)),
            _ => continue,
        };
        for m in &g.members {
            let Some(email) = emails.get(m) else {
                continue; // a dangling member
            };
            let entry = roles.entry((ws.clone(), email.clone())).or_default();
            if let Some(r) = &role {
                entry.insert(r.clone());
            }
        }
    }
    for (slug, managed) in &managed_ws {
        let w = model_workspace(slug.clone());
        live.meta.insert(
            ObjectId::Workspace(slug.clone()),
            Meta::by_content(&Object::Workspace(w.clone()), *managed),
        );
        live.state.workspaces.insert(slug.clone(), w);
    }
    for ((ws, email), r) in roles {
        let m = Membership {
            workspace: ws.clone(),
            user: email.clone(),
            roles: r.into_iter().collect(),
        };
        let managed = managed_ws.get(&ws).copied().unwrap_or(false);
        live.meta.insert(
            ObjectId::Membership(ws.clone(), email.clone()),
            Meta::by_content(&Object::Membership(m.clone()), managed),
        );
        live.state.memberships.insert((ws, email), m);
    }
    Ok((live, emails.into_keys().collect()))
}

impl Target for Scim {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    async fn catalog(&self) -> Result<Catalog, TargetError> {
        Ok(self.catalog.clone())
    }

    async fn read(&self, _parallelism: usize) -> Result<Live, TargetError> {
        let (users, groups) =
            tokio::try_join!(self.client.list_users(), self.client.list_groups())?;
        let (live, ids) = live(&users, &groups)?;
        if let Ok(mut k) = self.known.lock() {
            *k = ids;
        }
        Ok(live)
    }

    async fn probe(&self, object: &ObjectId) -> Result<Option<Meta>, TargetError> {
        match object {
            ObjectId::User(email) => Ok(self.user(email).await?.map(|u| {
                let managed = u.external_id.as_deref() == Some(marker(email.as_str()).as_str());
                Meta::by_content(&Object::User(model_user(email.clone(), &u)), managed)
            })),
            ObjectId::Workspace(slug) => Ok(self.group(slug.as_str()).await?.map(|g| {
                let managed = g.external_id.as_deref() == Some(marker(slug.as_str()).as_str());
                Meta::by_content(&Object::Workspace(model_workspace(slug.clone())), managed)
            })),
            ObjectId::Membership(ws, email) => {
                let Some(u) = self.user(email).await? else {
                    return Ok(None);
                };
                let Some(ws_group) = self.group(ws.as_str()).await? else {
                    return Ok(None);
                };
                let mut member = ws_group.members.contains(&u.id);
                let mut roles = BTreeSet::new();
                for g in self.groups_of(&u.id).await? {
                    if let GroupName::Role(w, r) = group_name(&g.display_name)
                        && w == *ws
                    {
                        roles.insert(r);
                        member = true;
                    }
                }
                if !member {
                    return Ok(None);
                }
                let managed = ws_group.external_id.as_deref() == Some(marker(ws.as_str()).as_str());
                let m = Membership {
                    workspace: ws.clone(),
                    user: email.clone(),
                    roles: roles.into_iter().collect(),
                };
                Ok(Some(Meta::by_content(&Object::Membership(m), managed)))
            }
            _ => Ok(None),
        }
    }

    async fn write(&self, w: &Write<'_>) -> Result<(), TargetError> {
        let _one = self.writes.lock().await;
        self.write_now(w).await
    }
}
