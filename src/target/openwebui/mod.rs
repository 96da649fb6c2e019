//! The Open WebUI target (0.12.x): `openwebui+http(s)://HOST[:PORT]`, an
//! admin JWT or `sk-` API key from `TENET_TOKEN`, and `[platform] profile =
//! "openwebui"` (Open WebUI's group permission keys). The mapping:
//!
//! - a user is the user with that email (lower-cased) and name; `suspended`
//!   is role `pending`; a new user gets a long random password that is never
//!   printed or stored. Open WebUI has nowhere to mark users as tenet's, so
//!   they are matched by email and deleted only when users are authoritative;
//! - a workspace is a group named exactly the slug (its `name` in the group
//!   description) whose members are exactly the workspace's members; each
//!   (workspace, role) held by anyone is a group `<slug>:<role>` carrying the
//!   role's permissions (Open WebUI's permissions are global per user: the
//!   union of their groups);
//! - a custom role is a group `role/<id>` with no members, holding the role's
//!   permissions (and, in `data.tenet`, the patterns as written);
//! - a provider (`openai` or `custom` with an endpoint) is an OpenAI
//!   connection with that base URL, its one key and `model_ids` = its
//!   models; connections tenet does not own are kept untouched and in place;
//! - an assignment is a read grant for the workspace's group on each
//!   allowed model; other grants on a model are kept;
//! - `settings.security.session_timeout_minutes` is `JWT_EXPIRES_IN` (a
//!   token lifetime, not an inactivity timeout).
//!
//! Renames in place rename groups (a workspace's group and its
//! `<slug>:<role>` groups; a role's `role/<id>` group and its holders'
//! groups) and a connection's `tenet` key; group ids, and so members and
//! model grants, stay.
//!
//! Ownership and the last-applied digest of groups and connections live in
//! their free JSON (`data.tenet`, the connection config's `tenet` key).
//! There are no versions, no audit log and no locks: stamps are content
//! digests, compared right before each write, and writes go one at a time.

pub mod client;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use client::{Grant, OwuiClient, OwuiError, OwuiErrorKind, OwuiGroup, UserUpdate};

use super::{Target, TargetError, Write, WriteOp};
use crate::model::capabilities::{Capabilities, CatalogSource, Ownership, Unholdable};
use crate::model::live::{LABEL_PREFIX, MANAGED_LABEL};
use crate::model::{
    Assignment, Catalog, Config, Email, Kind, Labels, Live, Membership, Meta, Object, ObjectId,
    Profile, Provider, ProviderKind, ProviderScope, Quotas, RateLimits, Role, RoleSet, Security,
    Settings, Slug, User, UserStatus, Workspace, WorkspaceStatus,
};

pub const CAPABILITIES: Capabilities = Capabilities {
    platform: "Open WebUI",
    kinds: &Kind::ALL,
    versions: false,
    ownership: &[
        (Kind::Workspaces, Ownership::Labels),
        (Kind::Roles, Ownership::Labels),
        (Kind::Providers, Ownership::Labels),
        (Kind::Memberships, Ownership::Marker),
        (Kind::Assignments, Ownership::Marker),
    ],
    audit: false,
    locks: false,
    catalog: CatalogSource::Builtin,
    keys_required: true,
    archive: false,
    global_permissions: true,
    batch: 1,
    renames: &crate::model::rename::RENAMABLE,
};

impl From<OwuiError> for TargetError {
    fn from(e: OwuiError) -> Self {
        use super::ErrorKind as K;
        let (kind, retry_after) = match e.kind {
            OwuiErrorKind::NotFound => (K::NotFound, None),
            OwuiErrorKind::Conflict => (K::Conflict, None),
            OwuiErrorKind::Unauthorized => (K::Unauthorized, None),
            OwuiErrorKind::Forbidden => (K::Forbidden, None),
            OwuiErrorKind::RateLimited { retry_after } => (K::RateLimited, retry_after),
            OwuiErrorKind::Unavailable => (K::Unavailable, None),
            OwuiErrorKind::Rejected => (K::Rejected, None),
        };
        let mut t = TargetError::new(kind, format!("Open WebUI: {}", e.message));
        t.retry_after = retry_after;
        t
    }
}

fn rejected(message: String) -> TargetError {
    TargetError::new(super::ErrorKind::Rejected, message)
}

fn missing(what: String) -> TargetError {
    TargetError::new(
        super::ErrorKind::NotFound,
        format!("Open WebUI: there is no {what}"),
    )
}

// ------------------------------------------------------------ what it holds

/// What the files declare that Open WebUI cannot hold.
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
    if config.platform.profile != Profile::Openwebui {
        no(
            ObjectId::Settings,
            "",
            "Open WebUI's permissions are its own group keys: set [platform] profile = \"openwebui\"",
        );
    }
    for (w, u) in s.member_quotas.keys() {
        no(
            ObjectId::MemberQuotas(w.clone(), u.clone()),
            "",
            "Open WebUI has no token budgets",
        );
    }
    for (w, k) in s.api_keys.keys() {
        no(
            ObjectId::ApiKey(w.clone(), k.clone()),
            "",
            "Open WebUI's API keys are per user and made by each user signed in as themselves (Settings -> Account), not by an administrator through its API",
        );
    }
    for i in s.identity_providers.keys() {
        no(
            ObjectId::IdentityProvider(i.clone()),
            "",
            "Open WebUI takes its OAuth/OIDC settings (OAUTH_CLIENT_ID, OPENID_PROVIDER_URL, OAUTH_GROUP_CLAIM, ...) from environment variables at start-up, not through its API: set them where the server is deployed",
        );
    }
    for (w, t) in s.top_ups.keys() {
        no(
            ObjectId::TopUp(w.clone(), t.clone()),
            "",
            "Open WebUI has no token budgets (no top-ups)",
        );
    }
    for (w, p) in s.projects.keys() {
        no(
            ObjectId::Project(w.clone(), p.clone()),
            "",
            "Open WebUI has no projects inside its groups: a workspace is one group of members",
        );
    }
    for (slug, w) in &s.workspaces {
        let id = || ObjectId::Workspace(slug.clone());
        if w.description.is_some() {
            no(
                id(),
                "description",
                "a group has one description, which holds the workspace's name",
            );
        }
        if !w.labels.is_empty() {
            no(id(), "labels", "Open WebUI groups have no labels");
        }
        if !w.settings.is_empty() {
            no(
                id(),
                "settings",
                "an Open WebUI group has no theme, language or time zone (those are each user's own settings)",
            );
        }
        if w.status == WorkspaceStatus::Archived {
            no(id(), "status", "Open WebUI cannot archive a group");
        }
        for (field, value) in w.quotas.fields() {
            if value.is_some() {
                no(
                    ObjectId::Quotas(slug.clone()),
                    &format!("quotas.{field}"),
                    "Open WebUI has no quotas or budgets (check [defaults.quotas] too)",
                );
            }
        }
    }
    for (email, u) in &s.users {
        let id = || ObjectId::User(email.clone());
        if u.name.is_none() {
            no(id(), "name", "every Open WebUI user has a name: set one");
        }
        if !u.labels.is_empty() {
            no(
                id(),
                "labels",
                "Open WebUI has nowhere to keep labels on a user",
            );
        }
        if u.prevent_destroy {
            no(
                id(),
                "prevent_destroy",
                "Open WebUI has nowhere to record it on a user",
            );
        }
        if u.status == UserStatus::Invited {
            no(
                id(),
                "status",
                "Open WebUI has no invitations: an admin creates the account (with a password) or the user signs up and waits as `pending`",
            );
        }
    }
    for (id, r) in &s.roles {
        if !r.labels.is_empty() {
            no(
                ObjectId::Role(id.clone()),
                "labels",
                "a role group has no labels",
            );
        }
    }
    for (id, p) in &s.providers {
        let oid = || ObjectId::Provider(id.clone());
        if !matches!(p.kind, ProviderKind::Openai | ProviderKind::Custom) {
            no(
                oid(),
                "kind",
                "Open WebUI connections speak the OpenAI API: use kind \"openai\" or \"custom\" with an endpoint",
            );
        }
        if p.endpoint.is_none() {
            no(
                oid(),
                "endpoint",
                "an Open WebUI connection is a base URL: set endpoint",
            );
        }
        if p.api_keys.len() > 1 {
            no(oid(), "api_keys", "an Open WebUI connection holds one key");
        }
        if p.region.is_some() {
            no(oid(), "region", "Open WebUI connections have no region");
        }
        if p.rate_limits != RateLimits::default() {
            no(oid(), "rate_limits", "Open WebUI has no rate limits");
        }
        if p.scope == ProviderScope::Global {
            no(
                oid(),
                "scope",
                "tenet grants Open WebUI models per workspace: assign the provider instead",
            );
        }
        if !p.labels.is_empty() {
            no(oid(), "labels", "Open WebUI connections have no labels");
        }
    }
    for ((w, p), a) in &s.assignments {
        if a.default {
            no(
                ObjectId::Assignment(w.clone(), p.clone()),
                "default",
                "Open WebUI has no default provider per group",
            );
        }
    }
    if let Some(st) = &s.settings {
        if !st.branding.is_empty() {
            no(
                ObjectId::Settings,
                "branding",
                "Open WebUI's name and look are set by its deployment (WEBUI_NAME and static files), not through its API",
            );
        }
        let sec = &st.security;
        let mut field = |set: bool, name: &str, why: &str| {
            if set {
                no(ObjectId::Settings, &format!("security.{name}"), why);
            }
        };
        field(
            sec.require_2fa.is_some(),
            "require_2fa",
            "changing Open WebUI's MFA setting revokes every session (tenet's own included) and is refused to API keys; set it in the admin panel",
        );
        field(
            sec.email_verification.is_some(),
            "email_verification",
            "Open WebUI has no email verification",
        );
        field(
            sec.ip_allowlist.is_some(),
            "ip_allowlist",
            "Open WebUI has no IP allowlist",
        );
        field(
            sec.password_policy != Default::default(),
            "password_policy",
            "Open WebUI's password rules are environment variables only",
        );
    }
    out
}

// ------------------------------------------------------------ names and data

const ROLE_PREFIX: &str = "role/";

enum GroupName {
    Workspace(Slug),
    Member(Slug, Slug),
    Role(Slug),
    Other,
}

fn group_name(name: &str) -> GroupName {
    if let Ok(s) = Slug::parse(name) {
        return GroupName::Workspace(s);
    }
    if let Some(r) = name.strip_prefix(ROLE_PREFIX) {
        return Slug::parse(r).map_or(GroupName::Other, GroupName::Role);
    }
    match name
        .split_once(':')
        .map(|(w, r)| (Slug::parse(w), Slug::parse(r)))
    {
        Some((Ok(w), Ok(r))) => GroupName::Member(w, r),
        _ => GroupName::Other,
    }
}

/// tenet's labels kept in a group's `data.tenet` or a connection's `tenet`.
fn labels_in(v: &Value) -> Labels {
    v.get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Only tenet's own labels are kept (user labels are refused up front).
fn own(labels: &Labels) -> Map<String, Value> {
    labels
        .iter()
        .filter(|(k, _)| k.starts_with(LABEL_PREFIX))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

fn group_managed(g: &OwuiGroup) -> bool {
    labels_in(&g.data["tenet"])
        .get(MANAGED_LABEL)
        .is_some_and(|v| v == "true")
}

/// Open WebUI's `{family: {key: true}}` for a set of `family.key`.
fn permission_tree(permissions: &BTreeSet<String>) -> Value {
    let mut tree: Map<String, Value> = Map::new();
    for p in permissions {
        if let Some((family, key)) = p.split_once('.')
            && let Some(m) = tree
                .entry(family.to_owned())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
        {
            m.insert(key.to_owned(), Value::Bool(true));
        }
    }
    Value::Object(tree)
}

/// The `family.key` a group grants.
fn granted(tree: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(m) = tree.as_object() {
        for (family, keys) in m {
            for (key, on) in keys.as_object().into_iter().flatten() {
                if on.as_bool() == Some(true) {
                    out.insert(format!("{family}.{key}"));
                }
            }
        }
    }
    out
}

/// `JWT_EXPIRES_IN` as minutes: `60m`, `12h`, `7d`, `4w`; `-1` is none.
fn minutes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "m" => n,
        "h" => n * 60,
        "d" => n * 60 * 24,
        "w" => n * 60 * 24 * 7,
        _ => return None,
    })
}

// ------------------------------------------------------------ the target

pub struct OpenWebUi {
    endpoint: String,
    client: OwuiClient,
    catalog: Catalog,
    writes: tokio::sync::Mutex<()>,
}

/// Everything read, with the ids writes need.
struct Snapshot {
    live: Live,
    users: HashMap<Email, String>,
    groups: BTreeMap<String, OwuiGroup>,
    members: BTreeMap<String, Vec<String>>,
    /// A connection's `prefix_id`, per provider: its models' ids in Open
    /// WebUI (and so in grants) are `<prefix>.<model>`.
    prefixes: BTreeMap<Slug, String>,
}

/// Whose group members a read needs.
#[derive(Debug, Clone, Copy)]
enum Members<'a> {
    All,
    /// The groups of one workspace (its own and its `<slug>:<role>` ones).
    Of(&'a Slug),
    None,
}

/// How much of the instance one read needs: all of it for a plan, only
/// what one object's stamp (or one write) depends on before a write, so an
/// apply does not re-read every group for every change.
#[derive(Debug, Clone, Copy)]
struct Need<'a> {
    members: Members<'a>,
    connections: bool,
    admin: bool,
}

impl<'a> Need<'a> {
    const ALL: Need<'static> = Need {
        members: Members::All,
        connections: true,
        admin: true,
    };

    fn of(object: &'a ObjectId) -> Need<'a> {
        let base = Need {
            members: Members::None,
            connections: false,
            admin: false,
        };
        match object {
            ObjectId::Membership(ws, _) => Need {
                members: Members::Of(ws),
                ..base
            },
            ObjectId::Provider(_) | ObjectId::Assignment(..) => Need {
                connections: true,
                ..base
            },
            ObjectId::Settings => Need {
                admin: true,
                ..base
            },
            _ => base,
        }
    }
}

/// The id Open WebUI gives a provider's model.
fn model_id(prefix: Option<&String>, model: &str) -> String {
    match prefix {
        Some(p) if !p.is_empty() => format!("{p}.{model}"),
        _ => model.to_owned(),
    }
}

impl OpenWebUi {
    pub fn new(
        endpoint: &str,
        base: &str,
        token: Option<String>,
    ) -> Result<OpenWebUi, TargetError> {
        if let Some(t) = &token {
            crate::target::check_token(t)?;
        }
        Ok(OpenWebUi {
            endpoint: endpoint.to_owned(),
            client: OwuiClient::new(base, token)?,
            catalog: Catalog::builtin(Profile::Openwebui).clone(),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// The permissions a role grants, expanded against the catalog: a
    /// built-in role's from the catalog, a custom role's from its group.
    fn expand(&self, patterns: &BTreeSet<String>) -> BTreeSet<String> {
        patterns
            .iter()
            .filter_map(|p| self.catalog.expand(p).ok())
            .flatten()
            .map(str::to_owned)
            .collect()
    }

    fn role_permissions(
        &self,
        snap: &Snapshot,
        role: &Slug,
    ) -> Result<BTreeSet<String>, TargetError> {
        if let Some(b) = self.catalog.role(role.as_str()) {
            return Ok(self.expand(&b.permissions.iter().cloned().collect()));
        }
        snap.groups
            .get(&format!("{ROLE_PREFIX}{role}"))
            .map(|g| granted(&g.permissions))
            .ok_or_else(|| missing(format!("role `{role}` (a group `{ROLE_PREFIX}{role}`)")))
    }

    async fn snapshot(&self, need: Need<'_>) -> Result<Snapshot, TargetError> {
        let (users, groups) =
            tokio::try_join!(self.client.list_users(), self.client.list_groups())?;
        let mut live = Live::default();
        let mut ids = HashMap::new();
        let mut emails: HashMap<String, Email> = HashMap::new();
        for u in &users {
            let Ok(email) = Email::parse(&u.email.to_lowercase()) else {
                continue;
            };
            let user = User {
                email: email.clone(),
                name: Some(u.name.clone()),
                status: if u.role == "pending" {
                    UserStatus::Suspended
                } else {
                    UserStatus::Active
                },
                labels: Labels::new(),
                prevent_destroy: false,
                invitation: None,
            };
            live.meta.insert(
                ObjectId::User(email.clone()),
                Meta::by_content_with(&Object::User(user.clone()), &Labels::new()),
            );
            ids.insert(email.clone(), u.id.clone());
            emails.insert(u.id.clone(), email.clone());
            live.state.users.insert(email, user);
        }
        // Groups by name; two of one name that tenet reads is an error.
        let mut by_name: BTreeMap<String, OwuiGroup> = BTreeMap::new();
        for g in groups {
            if matches!(group_name(&g.name), GroupName::Other) {
                continue;
            }
            if by_name.contains_key(&g.name) {
                return Err(duplicate(&g.name));
            }
            by_name.insert(g.name.clone(), g);
        }
        let mut members = BTreeMap::new();
        for (name, g) in &by_name {
            let wanted = match (group_name(name), need.members) {
                (GroupName::Role(_), _) | (_, Members::None) => false,
                (_, Members::All) => true,
                (GroupName::Workspace(w) | GroupName::Member(w, _), Members::Of(ws)) => w == *ws,
                (GroupName::Other, _) => false,
            };
            if wanted {
                members.insert(name.clone(), self.client.group_members(&g.id).await?);
            }
        }
        let mut snap = Snapshot {
            live,
            users: ids,
            groups: by_name,
            members,
            prefixes: BTreeMap::new(),
        };
        self.read_groups(&mut snap, &emails);
        if need.connections {
            let connections = self.client.openai_config().await?;
            self.read_connections(&mut snap, &connections).await?;
        }
        if !need.admin {
            return Ok(snap);
        }
        let admin = self.client.admin_config().await?;
        let timeout = admin
            .get("JWT_EXPIRES_IN")
            .and_then(Value::as_str)
            .and_then(minutes);
        let settings = Settings {
            security: Security {
                session_timeout_minutes: timeout,
                ..Security::default()
            },
            branding: Default::default(),
        };
        snap.live.meta.insert(
            ObjectId::Settings,
            Meta::by_content_with(&Object::Settings(settings.clone()), &Labels::new()),
        );
        snap.live.state.settings = Some(settings);
        Ok(snap)
    }

    fn read_groups(&self, snap: &mut Snapshot, emails: &HashMap<String, Email>) {
        let live = &mut snap.live;
        let mut roles_of: BTreeMap<(Slug, Email), BTreeSet<Slug>> = BTreeMap::new();
        for (name, g) in &snap.groups {
            match group_name(name) {
                GroupName::Workspace(slug) => {
                    let w = Workspace {
                        slug: slug.clone(),
                        name: (!g.description.is_empty()).then(|| g.description.clone()),
                        description: None,
                        status: WorkspaceStatus::Active,
                        labels: Labels::new(),
                        settings: Default::default(),
                        prevent_destroy: false,
                        quotas: Quotas::default(),
                    };
                    live.meta.insert(
                        ObjectId::Workspace(slug.clone()),
                        Meta::by_content_with(
                            &Object::Workspace(w.clone()),
                            &labels_in(&g.data["tenet"]),
                        ),
                    );
                    live.state.workspaces.insert(slug.clone(), w);
                    for m in snap.members.get(name).into_iter().flatten() {
                        if let Some(e) = emails.get(m) {
                            roles_of.entry((slug.clone(), e.clone())).or_default();
                        }
                    }
                }
                GroupName::Role(id) => {
                    let actual = granted(&g.permissions);
                    // The patterns as written, while they still say what
                    // the group grants; else what it grants.
                    let written: BTreeSet<String> = g.data["tenet"]["permissions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect();
                    let permissions = if self.expand(&written) == actual {
                        written
                    } else {
                        actual
                    };
                    let role = Role {
                        id: id.clone(),
                        name: g.data["tenet"]["name"].as_str().map(str::to_owned),
                        description: (!g.description.is_empty()).then(|| g.description.clone()),
                        permissions,
                        labels: Labels::new(),
                        prevent_destroy: false,
                    };
                    live.meta.insert(
                        ObjectId::Role(id.clone()),
                        Meta::by_content_with(
                            &Object::Role(role.clone()),
                            &labels_in(&g.data["tenet"]),
                        ),
                    );
                    live.state.roles.insert(id, role);
                }
                GroupName::Member(..) | GroupName::Other => {}
            }
        }
        for name in snap.groups.keys() {
            if let GroupName::Member(ws, role) = group_name(name)
                && live.state.workspaces.contains_key(&ws)
            {
                for m in snap.members.get(name).into_iter().flatten() {
                    if let Some(e) = emails.get(m) {
                        roles_of
                            .entry((ws.clone(), e.clone()))
                            .or_default()
                            .insert(role.clone());
                    }
                }
            }
        }
        for ((ws, email), roles) in roles_of {
            let managed = snap.groups.get(ws.as_str()).is_some_and(group_managed);
            let m = Membership {
                workspace: ws.clone(),
                user: email.clone(),
                roles: roles.into_iter().collect(),
            };
            live.meta.insert(
                ObjectId::Membership(ws.clone(), email.clone()),
                Meta::by_content(&Object::Membership(m.clone()), managed),
            );
            live.state.memberships.insert((ws, email), m);
        }
    }

    async fn read_connections(
        &self,
        snap: &mut Snapshot,
        config: &client::OpenAiConfig,
    ) -> Result<(), TargetError> {
        for (i, url) in config.base_urls.iter().enumerate() {
            let c = config
                .configs
                .get(&i.to_string())
                .cloned()
                .unwrap_or(Value::Null);
            let t = &c["tenet"];
            let Some(id) = t["provider"].as_str().and_then(|p| Slug::parse(p).ok()) else {
                continue; // not tenet's: kept as it is
            };
            if snap.live.state.providers.contains_key(&id) {
                return Err(rejected(format!(
                    "Open WebUI: two connections are marked as provider `{id}`; remove one"
                )));
            }
            let models: BTreeSet<String> = c["model_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect();
            let p = Provider {
                id: id.clone(),
                name: t["name"].as_str().map(str::to_owned),
                kind: if t["kind"] == "custom" {
                    ProviderKind::Custom
                } else {
                    ProviderKind::Openai
                },
                endpoint: Some(url.clone()),
                region: None,
                models: models.clone(),
                api_keys: Vec::new(),
                rate_limits: RateLimits::default(),
                scope: ProviderScope::Assigned,
                labels: Labels::new(),
                prevent_destroy: false,
            };
            let key = config.keys.get(i).filter(|k| !k.is_empty());
            snap.live.secret_fingerprints.insert(
                ObjectId::Provider(id.clone()),
                key.map(|k| vec![crate::model::secret::fingerprint(k)])
                    .unwrap_or_default(),
            );
            snap.live.meta.insert(
                ObjectId::Provider(id.clone()),
                Meta::by_content_with(&Object::Provider(p.clone()), &labels_in(t)),
            );
            // Grants per workspace group on the provider's models.
            let prefix = c["prefix_id"].as_str().map(str::to_owned);
            if let Some(p) = &prefix {
                snap.prefixes.insert(id.clone(), p.clone());
            }
            let mut per_ws: BTreeMap<Slug, BTreeSet<String>> = BTreeMap::new();
            for m in &models {
                let Some(access) = self
                    .client
                    .get_model_access(&model_id(prefix.as_ref(), m))
                    .await?
                else {
                    continue;
                };
                for g in access.grants.iter().filter(|g| g.principal_type == "group") {
                    if let Some((name, _)) =
                        snap.groups.iter().find(|(_, x)| x.id == g.principal_id)
                        && let GroupName::Workspace(ws) = group_name(name)
                    {
                        per_ws.entry(ws).or_default().insert(m.clone());
                    }
                }
            }
            for (ws, granted) in per_ws {
                let a = Assignment {
                    workspace: ws.clone(),
                    provider: id.clone(),
                    models: (granted != models).then_some(granted),
                    default: false,
                };
                let managed = snap.groups.get(ws.as_str()).is_some_and(group_managed);
                snap.live.meta.insert(
                    ObjectId::Assignment(ws.clone(), id.clone()),
                    Meta::by_content(&Object::Assignment(a.clone()), managed),
                );
                snap.live.state.assignments.insert((ws, id.clone()), a);
            }
            snap.live.state.providers.insert(id, p);
        }
        Ok(())
    }

    fn user_id(&self, snap: &Snapshot, email: &Email) -> Result<String, TargetError> {
        snap.users
            .get(email)
            .cloned()
            .ok_or_else(|| missing(format!("user `{email}`")))
    }

    /// Refuses when a group is named `name` already (a rename may not take
    /// it: names are not unique in Open WebUI, so two would be ambiguous).
    fn free(&self, snap: &Snapshot, name: &str) -> Result<(), TargetError> {
        if snap.groups.contains_key(name) {
            return Err(TargetError::new(
                super::ErrorKind::Conflict,
                format!(
                    "Open WebUI: a group `{name}` exists already, so a rename cannot take its name"
                ),
            ));
        }
        Ok(())
    }

    fn group<'s>(&self, snap: &'s Snapshot, name: &str) -> Result<&'s OwuiGroup, TargetError> {
        snap.groups
            .get(name)
            .ok_or_else(|| missing(format!("group `{name}`")))
    }

    /// Makes the user's groups in `ws` exactly `roles` (and the workspace
    /// group when `member`), creating member groups as needed and deleting
    /// those tenet made that end up empty.
    async fn set_membership(
        &self,
        snap: &Snapshot,
        ws: &Slug,
        email: &Email,
        member: bool,
        roles: &RoleSet,
    ) -> Result<(), TargetError> {
        let uid = self.user_id(snap, email)?;
        let one = std::slice::from_ref(&uid);
        let ws_group = self.group(snap, ws.as_str())?;
        let is_member = snap
            .members
            .get(ws.as_str())
            .is_some_and(|m| m.contains(&uid));
        if member && !is_member {
            self.client.add_group_users(&ws_group.id, one).await?;
        } else if !member && is_member {
            self.client.remove_group_users(&ws_group.id, one).await?;
        }
        for (name, g) in &snap.groups {
            let GroupName::Member(w, role) = group_name(name) else {
                continue;
            };
            if w != *ws {
                continue;
            }
            let holders = snap.members.get(name).cloned().unwrap_or_default();
            let holds = holders.contains(&uid);
            let wants = roles.contains(&role);
            if wants && !holds {
                self.client.add_group_users(&g.id, one).await?;
            } else if !wants && holds {
                if group_managed(g) && holders.iter().all(|h| *h == uid) {
                    self.client.delete_group(&g.id).await?;
                } else {
                    self.client.remove_group_users(&g.id, one).await?;
                }
            }
        }
        for role in roles {
            let name = format!("{ws}:{role}");
            if snap.groups.contains_key(&name) {
                continue;
            }
            let permissions = permission_tree(&self.role_permissions(snap, role)?);
            let data = json!({"tenet": {"labels": {MANAGED_LABEL: "true"}}});
            let g = self
                .client
                .create_group(
                    &name,
                    &format!("holders of {role} in {ws} (managed by tenet)"),
                    &permissions,
                    &data,
                )
                .await?;
            self.client.add_group_users(&g.id, one).await?;
        }
        Ok(())
    }

    async fn write_provider(&self, w: &Write<'_>) -> Result<(), TargetError> {
        let ObjectId::Provider(id) = w.object else {
            return Ok(());
        };
        // A rename finds the connection under its old name, and gives it the
        // new one: its prefix, models and grants stay as they are.
        let now = match w.op {
            WriteOp::Rename {
                from: ObjectId::Provider(old),
                ..
            } => old,
            _ => id,
        };
        let mut config = self.client.openai_config().await?;
        let named = |config: &client::OpenAiConfig, name: &Slug| {
            (0..config.base_urls.len()).find(|i| {
                config
                    .configs
                    .get(&i.to_string())
                    .and_then(|c| c["tenet"]["provider"].as_str())
                    == Some(name.as_str())
            })
        };
        let at = named(&config, now);
        if now != id {
            if at.is_none() {
                return Err(missing(format!("connection for provider `{now}`")));
            }
            if named(&config, id).is_some() {
                return Err(TargetError::new(
                    super::ErrorKind::Conflict,
                    format!("Open WebUI: a connection for provider `{id}` exists already"),
                ));
            }
        }
        let desired = match w.op {
            WriteOp::Create(Object::Provider(p))
            | WriteOp::Update {
                desired: Object::Provider(p),
                ..
            }
            | WriteOp::Rename {
                desired: Object::Provider(p),
                ..
            } => Some(p),
            _ => None,
        };
        match (desired, at) {
            (Some(p), at) => {
                let tenet = json!({
                    "provider": id.as_str(),
                    "name": p.name,
                    "kind": if p.kind == ProviderKind::Custom { "custom" } else { "openai" },
                    "labels": own(w.labels),
                });
                let url = p.endpoint.clone().unwrap_or_default();
                let i = match at {
                    Some(i) => i,
                    None => {
                        config.base_urls.push(url.clone());
                        config.keys.push(String::new());
                        config.base_urls.len() - 1
                    }
                };
                config.base_urls[i] = url;
                while config.keys.len() < config.base_urls.len() {
                    config.keys.push(String::new());
                }
                if let Some(k) = w.keys {
                    config.keys[i] = k.0.first().cloned().unwrap_or_default();
                }
                let mut c = config
                    .configs
                    .get(&i.to_string())
                    .cloned()
                    .unwrap_or_else(|| json!({"enable": true, "connection_type": "external"}));
                if let Some(m) = c.as_object_mut() {
                    m.insert("model_ids".to_owned(), json!(p.models));
                    m.insert("tenet".to_owned(), tenet);
                    m.entry("enable").or_insert(Value::Bool(true));
                }
                config.configs.insert(i.to_string(), c);
            }
            (None, Some(i)) => {
                // Remove it; the configs after it move down one index.
                config.base_urls.remove(i);
                if i < config.keys.len() {
                    config.keys.remove(i);
                }
                let mut moved = Map::new();
                for (k, v) in std::mem::take(&mut config.configs) {
                    match k.parse::<usize>() {
                        Ok(n) if n < i => {
                            moved.insert(k, v);
                        }
                        Ok(n) if n > i => {
                            moved.insert((n - 1).to_string(), v);
                        }
                        Ok(_) => {}
                        Err(_) => {
                            moved.insert(k, v);
                        }
                    }
                }
                config.configs = moved;
            }
            (None, None) => return Ok(()),
        }
        self.client.set_openai_config(&config).await?;
        Ok(())
    }

    async fn write_assignment(
        &self,
        snap: &Snapshot,
        ws: &Slug,
        provider: &Slug,
        want: Option<&Assignment>,
    ) -> Result<(), TargetError> {
        let group = self.group(snap, ws.as_str())?;
        let p = snap
            .live
            .state
            .providers
            .get(provider)
            .ok_or_else(|| missing(format!("connection for provider `{provider}`")))?;
        let allowed: BTreeSet<String> = match want {
            Some(a) => a.models.clone().unwrap_or_else(|| p.models.clone()),
            None => BTreeSet::new(),
        };
        for m in &p.models {
            let full = model_id(snap.prefixes.get(provider), m);
            let access = self.client.get_model_access(&full).await?;
            let mut grants: Vec<Grant> = access.map(|a| a.grants).unwrap_or_default();
            let has = grants
                .iter()
                .any(|g| g.principal_type == "group" && g.principal_id == group.id);
            let wants = allowed.contains(m);
            if has == wants {
                continue;
            }
            if wants {
                grants.push(Grant {
                    principal_type: "group".to_owned(),
                    principal_id: group.id.clone(),
                    permission: "read".to_owned(),
                });
            } else {
                grants.retain(|g| !(g.principal_type == "group" && g.principal_id == group.id));
            }
            self.client
                .set_model_access(&full, Some(&full), &grants)
                .await?;
        }
        Ok(())
    }

    async fn write_now(&self, w: &Write<'_>) -> Result<(), TargetError> {
        // A connection write reads and writes the connection list itself.
        if let ObjectId::Provider(_) = w.object {
            return self.write_provider(w).await;
        }
        let snap = self.snapshot(Need::of(w.object)).await?;
        match (w.object, w.op) {
            (ObjectId::User(email), WriteOp::Create(Object::User(u))) => {
                let password = client::random_password()?;
                let role = if u.status == UserStatus::Suspended {
                    "pending"
                } else {
                    "user"
                };
                let name = u.name.clone().unwrap_or_else(|| email.to_string());
                self.client
                    .add_user(&name, email.as_str(), &password, role)
                    .await?;
                Ok(())
            }
            (
                ObjectId::User(email),
                WriteOp::Update {
                    desired: Object::User(u),
                    fields,
                },
            ) => {
                let id = self.user_id(&snap, email)?;
                let update = UserUpdate {
                    role: fields.contains(&"status").then(|| {
                        if u.status == UserStatus::Suspended {
                            "pending"
                        } else {
                            "user"
                        }
                        .to_owned()
                    }),
                    name: u.name.clone(),
                    email: None,
                };
                self.client.update_user(&id, &update).await?;
                Ok(())
            }
            (ObjectId::User(email), WriteOp::Delete) => {
                let id = self.user_id(&snap, email)?;
                self.client.delete_user(&id).await?;
                Ok(())
            }
            (ObjectId::Workspace(slug), WriteOp::Create(Object::Workspace(ws))) => {
                let data = json!({"tenet": {"labels": own(w.labels)}});
                self.client
                    .create_group(
                        slug.as_str(),
                        ws.name.as_deref().unwrap_or_default(),
                        &json!({}),
                        &data,
                    )
                    .await?;
                Ok(())
            }
            (
                ObjectId::Workspace(slug),
                WriteOp::Update {
                    desired: Object::Workspace(ws),
                    ..
                },
            ) => {
                let g = self.group(&snap, slug.as_str())?;
                let data = json!({"tenet": {"labels": own(w.labels)}});
                self.client
                    .update_group(
                        &g.id,
                        slug.as_str(),
                        ws.name.as_deref().unwrap_or_default(),
                        &Value::Null,
                        &data,
                    )
                    .await?;
                Ok(())
            }
            (
                ObjectId::Workspace(new),
                WriteOp::Rename {
                    from: ObjectId::Workspace(old),
                    desired: Object::Workspace(ws),
                    ..
                },
            ) => {
                let g = self.group(&snap, old.as_str())?;
                self.free(&snap, new.as_str())?;
                // Its member groups first, the workspace group last: a group
                // named `new` means the rename is complete.
                for (name, mg) in &snap.groups {
                    let GroupName::Member(w, role) = group_name(name) else {
                        continue;
                    };
                    if w != *old {
                        continue;
                    }
                    let to = format!("{new}:{role}");
                    self.free(&snap, &to)?;
                    self.client
                        .update_group(
                            &mg.id,
                            &to,
                            &format!("holders of {role} in {new} (managed by tenet)"),
                            &Value::Null,
                            &Value::Null,
                        )
                        .await?;
                }
                let data = json!({"tenet": {"labels": own(w.labels)}});
                self.client
                    .update_group(
                        &g.id,
                        new.as_str(),
                        ws.name.as_deref().unwrap_or_default(),
                        &Value::Null,
                        &data,
                    )
                    .await?;
                Ok(())
            }
            (
                ObjectId::Role(new),
                WriteOp::Rename {
                    from: ObjectId::Role(old),
                    desired: Object::Role(r),
                    ..
                },
            ) => {
                let g = self.group(&snap, &format!("{ROLE_PREFIX}{old}"))?;
                let name = format!("{ROLE_PREFIX}{new}");
                self.free(&snap, &name)?;
                let permissions = permission_tree(&self.expand(&r.permissions));
                // The holders' groups take the new id (and the permissions).
                for (gname, mg) in &snap.groups {
                    let GroupName::Member(ws, role) = group_name(gname) else {
                        continue;
                    };
                    if role != *old {
                        continue;
                    }
                    let to = format!("{ws}:{new}");
                    self.free(&snap, &to)?;
                    self.client
                        .update_group(
                            &mg.id,
                            &to,
                            &format!("holders of {new} in {ws} (managed by tenet)"),
                            &permissions,
                            &Value::Null,
                        )
                        .await?;
                }
                let data = json!({"tenet": {
                    "labels": own(w.labels),
                    "name": r.name,
                    "permissions": r.permissions,
                }});
                let description = r.description.as_deref().unwrap_or_default();
                self.client
                    .update_group(&g.id, &name, description, &permissions, &data)
                    .await?;
                Ok(())
            }
            (ObjectId::Workspace(slug), WriteOp::Delete) => {
                for (name, g) in &snap.groups {
                    if matches!(group_name(name), GroupName::Member(w, _) if w == *slug) {
                        self.client.delete_group(&g.id).await?;
                    }
                }
                if let Ok(g) = self.group(&snap, slug.as_str()) {
                    self.client.delete_group(&g.id).await?;
                }
                Ok(())
            }
            (
                ObjectId::Role(id),
                WriteOp::Create(Object::Role(r))
                | WriteOp::Update {
                    desired: Object::Role(r),
                    ..
                },
            ) => {
                let expanded = self.expand(&r.permissions);
                let permissions = permission_tree(&expanded);
                let data = json!({"tenet": {
                    "labels": own(w.labels),
                    "name": r.name,
                    "permissions": r.permissions,
                }});
                let description = r.description.as_deref().unwrap_or_default();
                let name = format!("{ROLE_PREFIX}{id}");
                match snap.groups.get(&name) {
                    Some(g) => {
                        self.client
                            .update_group(&g.id, &name, description, &permissions, &data)
                            .await?;
                    }
                    None => {
                        self.client
                            .create_group(&name, description, &permissions, &data)
                            .await?;
                    }
                }
                // Its holders' groups carry the same permissions.
                for (gname, g) in &snap.groups {
                    if matches!(group_name(gname), GroupName::Member(_, role) if role == *id) {
                        self.client
                            .update_group(&g.id, gname, &g.description, &permissions, &Value::Null)
                            .await?;
                    }
                }
                Ok(())
            }
            (ObjectId::Role(id), WriteOp::Delete) => {
                let name = format!("{ROLE_PREFIX}{id}");
                if let Ok(g) = self.group(&snap, &name) {
                    self.client.delete_group(&g.id).await?;
                }
                Ok(())
            }
            (ObjectId::Membership(ws, email), WriteOp::Create(Object::Membership(m)))
            | (
                ObjectId::Membership(ws, email),
                WriteOp::Update {
                    desired: Object::Membership(m),
                    ..
                },
            ) => self.set_membership(&snap, ws, email, true, &m.roles).await,
            (ObjectId::Membership(ws, email), WriteOp::Delete) => {
                self.set_membership(&snap, ws, email, false, &RoleSet::default())
                    .await
            }
            (ObjectId::Assignment(ws, p), WriteOp::Create(Object::Assignment(a)))
            | (
                ObjectId::Assignment(ws, p),
                WriteOp::Update {
                    desired: Object::Assignment(a),
                    ..
                },
            ) => self.write_assignment(&snap, ws, p, Some(a)).await,
            (ObjectId::Assignment(ws, p), WriteOp::Delete) => {
                self.write_assignment(&snap, ws, p, None).await
            }
            (
                ObjectId::Settings,
                WriteOp::Update {
                    desired: Object::Settings(s),
                    ..
                },
            )
            | (ObjectId::Settings, WriteOp::Create(Object::Settings(s))) => {
                let mut admin = self.client.admin_config().await?;
                // MFA keys may not be sent by API keys, and changing them
                // revokes every session: tenet never sends them.
                for k in [
                    "ENABLE_MFA",
                    "MFA_ALLOW_OAUTH_BYPASS",
                    "MFA_ALLOW_TRUSTED_HEADER_BYPASS",
                ] {
                    admin.remove(k);
                }
                if let Some(m) = s.security.session_timeout_minutes {
                    admin.insert("JWT_EXPIRES_IN".to_owned(), Value::String(format!("{m}m")));
                }
                self.client.set_admin_config(&admin).await?;
                Ok(())
            }
            (object, _) => Err(rejected(format!(
                "Open WebUI cannot hold this change of `{object}`"
            ))),
        }
    }
}

fn duplicate(name: &str) -> TargetError {
    TargetError::new(
        super::ErrorKind::Conflict,
        format!(
            "Open WebUI: two groups are named `{name}` (names are not unique there); tenet cannot tell which is its, so it changes neither: rename or remove one"
        ),
    )
}

impl Target for OpenWebUi {
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
        let (snap, me) = tokio::try_join!(self.snapshot(Need::ALL), async {
            Ok(self.client.session_email().await?)
        })?;
        let mut live = snap.live;
        live.signed_in_as = Email::parse(&me.to_lowercase()).ok();
        Ok(live)
    }

    async fn probe(&self, object: &ObjectId) -> Result<Option<Meta>, TargetError> {
        let mut snap = self.snapshot(Need::of(object)).await?;
        Ok(snap.live.meta.remove(object))
    }

    async fn write(&self, w: &Write<'_>) -> Result<(), TargetError> {
        let _one = self.writes.lock().await;
        self.write_now(w).await
    }
}
