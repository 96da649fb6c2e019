//! Between the wire (the platform API's JSON types) and the model: live
//! objects become model objects plus their versions and labels; typed
//! writes become REST operations (a resource path, a method, a body).
//! Shared by both native targets, so they cannot disagree.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::audit::{AuditEvent, FieldValues};
use crate::model::live::{Meta, Usage, split_labels};
use crate::model::{self, Labels, Live, Object, ObjectId, Slug, Stamp};
use crate::target::{Write, WriteOp};
use crate::wire;

/// The REST path of an object below `/v1`.
pub fn path(id: &ObjectId) -> String {
    match id {
        ObjectId::Workspace(w) => format!("workspaces/{w}"),
        ObjectId::Quotas(w) => format!("workspaces/{w}/quotas"),
        ObjectId::Membership(w, u) => format!("workspaces/{w}/memberships/{u}"),
        ObjectId::Assignment(w, p) => format!("workspaces/{w}/assignments/{p}"),
        ObjectId::Project(w, p) => format!("workspaces/{w}/projects/{p}"),
        ObjectId::MemberQuotas(w, u) => format!("workspaces/{w}/member-quotas/{u}"),
        ObjectId::TopUp(w, t) => format!("workspaces/{w}/top-ups/{t}"),
        ObjectId::ApiKey(w, k) => format!("workspaces/{w}/api-keys/{k}"),
        ObjectId::User(u) => format!("users/{u}"),
        ObjectId::Role(r) => format!("roles/{r}"),
        ObjectId::Provider(p) => format!("providers/{p}"),
        ObjectId::IdentityProvider(i) => format!("identity-providers/{i}"),
        ObjectId::Settings => "settings".to_owned(),
    }
}

/// The platform profile named like a model profile. The model also knows
/// profiles of other targets, which a native platform cannot be created with.
pub fn wire_profile(p: model::Profile) -> Option<wire::Profile> {
    wire::Profile::parse(p.as_str())
}

fn profile(p: wire::Profile) -> model::Profile {
    match p {
        wire::Profile::M3forge => model::Profile::M3forge,
        wire::Profile::Magoneai => model::Profile::Magoneai,
        wire::Profile::Openwebui => model::Profile::Openwebui,
    }
}

/// The platform's catalog (`GET /v1/catalog`) as the model's.
pub fn catalog(c: &wire::Catalog) -> model::Catalog {
    model::Catalog {
        profile: profile(c.profile),
        title: c.title.clone(),
        administrator_roles: c.administrator_roles.clone(),
        default_role: c.default_role.clone(),
        permissions: c
            .permissions
            .iter()
            .map(|p| model::catalog::Permission {
                id: p.id.clone(),
                description: p.description.clone(),
            })
            .collect(),
        roles: c
            .roles
            .iter()
            .map(|r| model::catalog::BuiltinRole {
                id: r.id.clone(),
                name: r.name.clone(),
                description: r.description.clone(),
                scope: match r.scope {
                    wire::RoleScope::Workspace => model::RoleScope::Workspace,
                    wire::RoleScope::Project => model::RoleScope::Project,
                },
                permissions: r.permissions.clone(),
            })
            .collect(),
        projects: c.projects.as_ref().map(|p| model::catalog::ProjectRules {
            default_project: p.default_project.clone(),
            default_project_name: p.default_project_name.clone(),
            mapping: p.mapping.clone(),
        }),
    }
}

/// An audit event of the contract, for the engine; events about things
/// that are not model objects (locks) are dropped.
pub fn audit_event(e: wire::AuditEvent) -> Option<AuditEvent> {
    Some(AuditEvent {
        object: ObjectId::parse(&e.resource)?,
        at: e.at,
        actor: e.actor,
        channel: match e.channel {
            wire::Channel::Api => "api",
            wire::Channel::Local => "local",
        }
        .to_owned(),
        action: e.action,
        changes: e
            .changes
            .into_iter()
            .map(|(k, c)| {
                (
                    k,
                    FieldValues {
                        before: c.before,
                        after: c.after,
                    },
                )
            })
            .collect(),
    })
}

pub fn workspace_status(s: wire::WorkspaceStatus) -> model::WorkspaceStatus {
    match s {
        wire::WorkspaceStatus::Active => model::WorkspaceStatus::Active,
        wire::WorkspaceStatus::Archived => model::WorkspaceStatus::Archived,
    }
}

fn wire_workspace_status(s: model::WorkspaceStatus) -> wire::WorkspaceStatus {
    match s {
        model::WorkspaceStatus::Active => wire::WorkspaceStatus::Active,
        model::WorkspaceStatus::Archived => wire::WorkspaceStatus::Archived,
    }
}

fn user_status(s: wire::UserStatus) -> model::UserStatus {
    match s {
        wire::UserStatus::Active => model::UserStatus::Active,
        wire::UserStatus::Suspended => model::UserStatus::Suspended,
        wire::UserStatus::Invited => model::UserStatus::Invited,
    }
}

fn wire_user_status(s: model::UserStatus) -> wire::UserStatus {
    match s {
        model::UserStatus::Active => wire::UserStatus::Active,
        model::UserStatus::Suspended => wire::UserStatus::Suspended,
        model::UserStatus::Invited => wire::UserStatus::Invited,
    }
}

fn provider_kind(k: wire::ProviderKind) -> model::ProviderKind {
    match k {
        wire::ProviderKind::Openai => model::ProviderKind::Openai,
        wire::ProviderKind::Anthropic => model::ProviderKind::Anthropic,
        wire::ProviderKind::AzureOpenai => model::ProviderKind::AzureOpenai,
        wire::ProviderKind::Vertex => model::ProviderKind::Vertex,
        wire::ProviderKind::Bedrock => model::ProviderKind::Bedrock,
        wire::ProviderKind::Qwen => model::ProviderKind::Qwen,
        wire::ProviderKind::Custom => model::ProviderKind::Custom,
    }
}

fn wire_provider_kind(k: model::ProviderKind) -> wire::ProviderKind {
    match k {
        model::ProviderKind::Openai => wire::ProviderKind::Openai,
        model::ProviderKind::Anthropic => wire::ProviderKind::Anthropic,
        model::ProviderKind::AzureOpenai => wire::ProviderKind::AzureOpenai,
        model::ProviderKind::Vertex => wire::ProviderKind::Vertex,
        model::ProviderKind::Bedrock => wire::ProviderKind::Bedrock,
        model::ProviderKind::Qwen => wire::ProviderKind::Qwen,
        model::ProviderKind::Custom => wire::ProviderKind::Custom,
    }
}

fn scope(s: wire::ProviderScope) -> model::ProviderScope {
    match s {
        wire::ProviderScope::Global => model::ProviderScope::Global,
        wire::ProviderScope::Assigned => model::ProviderScope::Assigned,
    }
}

fn wire_scope(s: model::ProviderScope) -> wire::ProviderScope {
    match s {
        model::ProviderScope::Global => wire::ProviderScope::Global,
        model::ProviderScope::Assigned => wire::ProviderScope::Assigned,
    }
}

fn token_quotas(q: wire::TokenQuotas) -> model::TokenQuotas {
    model::TokenQuotas {
        tokens_per_day: q.tokens_per_day,
        tokens_per_week: q.tokens_per_week,
        tokens_per_month: q.tokens_per_month,
    }
}

fn meta(metas: &mut Vec<(ObjectId, Meta)>, id: ObjectId, version: u64, labels: &Labels) {
    metas.push((id, Meta::from_labels(Stamp::Version(version), labels)));
}

/// Normalizes a platform's objects one at a time, as they are read (a page
/// need not wait for the whole platform): workspaces before their quotas.
/// Objects whose keys the model cannot hold (a malformed email) are
/// skipped; built-in roles are the catalog's.
/// Each key and role set is allocated once, however many objects name it;
/// the two largest maps (every object's meta, the memberships) are built
/// in one pass at the end, not by a search and insert per object.
#[derive(Default)]
pub struct LiveBuilder {
    live: Live,
    keys: model::Interner,
    metas: Vec<(ObjectId, Meta)>,
    memberships: Vec<((Slug, model::Email), model::Membership)>,
}

impl LiveBuilder {
    pub fn finish(mut self) -> Live {
        // Read in key order, mostly: the sort is close to one pass, and
        // of two objects under one key the later wins, as an insert would.
        self.live.meta = self.metas.into_iter().collect();
        self.live.state.memberships = self.memberships.into_iter().collect();
        self.live
    }

    pub fn workspace(&mut self, w: wire::Workspace) {
        let Ok(slug) = self.keys.slug(&w.slug) else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::Workspace(slug.clone()),
            w.version,
            &w.spec.labels,
        );
        self.live.state.workspaces.insert(
            slug.clone(),
            model::Workspace {
                slug,
                name: w.spec.name,
                description: w.spec.description,
                status: workspace_status(w.spec.status),
                labels: split_labels(&w.spec.labels).0,
                prevent_destroy: false,
                quotas: model::Quotas::default(),
                settings: model::WorkspaceSettings {
                    theme: w.spec.settings.theme.map(|t| match t {
                        wire::Theme::Light => model::Theme::Light,
                        wire::Theme::Dark => model::Theme::Dark,
                        wire::Theme::System => model::Theme::System,
                    }),
                    language: w.spec.settings.language,
                    timezone: w.spec.settings.timezone,
                },
            },
        );
    }

    pub fn quotas(&mut self, q: wire::Quotas) {
        let Ok(slug) = self.keys.slug(&q.workspace) else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::Quotas(slug.clone()),
            q.version,
            &q.spec.labels,
        );
        if let Some(w) = self.live.state.workspaces.get_mut(&slug) {
            let s = &q.spec;
            w.quotas = model::Quotas {
                storage_gb: s.storage_gb,
                executions_per_month: s.executions_per_month,
                api_calls_per_month: s.api_calls_per_month,
                max_users: s.max_users,
                tokens_per_day: s.tokens_per_day,
                tokens_per_week: s.tokens_per_week,
                tokens_per_month: s.tokens_per_month,
            };
        }
    }

    pub fn usage(&mut self, u: wire::Usage) {
        let Ok(slug) = self.keys.slug(&u.workspace) else {
            return;
        };
        self.live.usage.insert(
            slug,
            Usage {
                storage_gb: u.spec.storage_gb,
                executions_this_month: u.spec.executions_this_month,
                api_calls_this_month: u.spec.api_calls_this_month,
                users: u.users,
                tokens_today: u.spec.tokens_today,
                tokens_this_week: u.spec.tokens_this_week,
                tokens_this_month: u.spec.tokens_this_month,
            },
        );
    }

    pub fn user(&mut self, u: wire::User) {
        let Ok(email) = self.keys.email(&u.email) else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::User(email.clone()),
            u.version,
            &u.spec.labels,
        );
        self.live.state.users.insert(
            email.clone(),
            model::User {
                email,
                name: u.spec.name,
                status: user_status(u.spec.status),
                labels: split_labels(&u.spec.labels).0,
                prevent_destroy: false,
                invitation: u.invitation.map(|i| model::Invitation {
                    message: i.message,
                    resend_expired: false,
                    sent: Some(model::SentInvitation {
                        expires_at: i.expires_at,
                        expired: i.expired,
                    }),
                }),
            },
        );
    }

    pub fn role(&mut self, r: wire::Role) {
        if r.builtin {
            return;
        }
        let Ok(id) = Slug::parse(&r.id) else { return };
        meta(
            &mut self.metas,
            ObjectId::Role(id.clone()),
            r.version,
            &r.spec.labels,
        );
        self.live.state.roles.insert(
            id.clone(),
            model::Role {
                id,
                name: r.spec.name,
                description: r.spec.description,
                permissions: r.spec.permissions.into_iter().collect(),
                labels: split_labels(&r.spec.labels).0,
                prevent_destroy: false,
            },
        );
    }

    pub fn provider(&mut self, p: wire::Provider) {
        let Ok(id) = Slug::parse(&p.name) else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::Provider(id.clone()),
            p.version,
            &p.spec.labels,
        );
        self.live.secret_fingerprints.insert(
            ObjectId::Provider(id.clone()),
            p.api_keys.into_iter().map(|k| k.fingerprint).collect(),
        );
        let s = p.spec;
        self.live.state.providers.insert(
            id.clone(),
            model::Provider {
                id,
                name: s.display_name,
                kind: provider_kind(s.kind),
                endpoint: s.endpoint,
                region: s.region,
                models: s.models.into_iter().collect(),
                api_keys: Vec::new(),
                rate_limits: model::RateLimits {
                    requests_per_minute: s.rate_limits.requests_per_minute,
                    tokens_per_minute: s.rate_limits.tokens_per_minute,
                },
                scope: scope(s.scope),
                labels: split_labels(&s.labels).0,
                prevent_destroy: false,
            },
        );
    }

    pub fn membership(&mut self, m: wire::Membership) {
        let (Ok(ws), Ok(user)) = (self.keys.slug(&m.workspace), self.keys.email(&m.user)) else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::Membership(ws.clone(), user.clone()),
            m.version,
            &m.spec.labels,
        );
        let roles = self.keys.roles_named(&m.spec.roles);
        self.memberships.push((
            (ws.clone(), user.clone()),
            model::Membership {
                workspace: ws,
                user,
                roles,
            },
        ));
    }

    pub fn assignment(&mut self, a: wire::Assignment) {
        let (Ok(ws), Ok(provider)) = (self.keys.slug(&a.workspace), self.keys.slug(&a.provider))
        else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::Assignment(ws.clone(), provider.clone()),
            a.version,
            &a.spec.labels,
        );
        self.live.state.assignments.insert(
            (ws.clone(), provider.clone()),
            model::Assignment {
                workspace: ws,
                provider,
                models: a.spec.models.map(|m| m.into_iter().collect()),
                default: a.spec.default,
            },
        );
    }

    pub fn project(&mut self, p: wire::Project) {
        let (Ok(ws), Ok(slug)) = (self.keys.slug(&p.workspace), Slug::parse(&p.slug)) else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::Project(ws.clone(), slug.clone()),
            p.version,
            &p.spec.labels,
        );
        let mut members = BTreeMap::new();
        for m in p.spec.members {
            if let Ok(user) = self.keys.email(&m.user) {
                members.insert(user, self.keys.roles_named(&m.roles));
            }
        }
        self.live.state.projects.insert(
            (ws.clone(), slug.clone()),
            model::Project {
                workspace: ws,
                slug,
                name: p.spec.name,
                description: p.spec.description,
                status: workspace_status(p.spec.status),
                labels: split_labels(&p.spec.labels).0,
                prevent_destroy: false,
                members,
                quotas: token_quotas(p.spec.quotas),
            },
        );
    }

    pub fn member_quotas(&mut self, q: wire::MemberQuotas) {
        let (Ok(ws), Ok(user)) = (self.keys.slug(&q.workspace), self.keys.email(&q.user)) else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::MemberQuotas(ws.clone(), user.clone()),
            q.version,
            &q.spec.labels,
        );
        self.live
            .state
            .member_quotas
            .insert((ws, user), token_quotas(q.spec.quotas));
    }

    pub fn top_up(&mut self, t: wire::TopUp) {
        let (Ok(ws), Ok(id)) = (self.keys.slug(&t.workspace), Slug::parse(&t.id)) else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::TopUp(ws.clone(), id.clone()),
            t.version,
            &t.spec.labels,
        );
        let s = t.spec;
        self.live.state.top_ups.insert(
            (ws.clone(), id.clone()),
            model::TopUp {
                workspace: ws,
                id,
                tokens: s.tokens,
                expires: s.expires,
                project: s.project.and_then(|p| Slug::parse(&p).ok()),
                user: s.user.and_then(|u| self.keys.email(&u).ok()),
                reason: s.reason,
                labels: split_labels(&s.labels).0,
            },
        );
    }

    pub fn api_key(&mut self, k: wire::ApiKey) {
        let (Ok(ws), Ok(id)) = (self.keys.slug(&k.workspace), Slug::parse(&k.id)) else {
            return;
        };
        let Ok(owner) = self.keys.email(&k.spec.owner) else {
            return;
        };
        meta(
            &mut self.metas,
            ObjectId::ApiKey(ws.clone(), id.clone()),
            k.version,
            &k.spec.labels,
        );
        let s = k.spec;
        self.live.state.api_keys.insert(
            (ws.clone(), id.clone()),
            model::ApiKey {
                workspace: ws,
                id,
                name: s.display_name,
                owner,
                permissions: s.permissions.into_iter().collect(),
                expires: s.expires,
                rotate_every_days: s.rotate_every_days,
                sink: None,
                issued: k.issued_at.get(..10).map(str::to_owned),
                labels: split_labels(&s.labels).0,
            },
        );
    }

    pub fn identity_provider(&mut self, p: wire::IdentityProvider) {
        let Ok(id) = Slug::parse(&p.name) else {
            return;
        };
        let object = ObjectId::IdentityProvider(id.clone());
        meta(&mut self.metas, object.clone(), p.version, &p.spec.labels);
        self.live.secret_fingerprints.insert(
            object,
            p.client_secret.into_iter().map(|k| k.fingerprint).collect(),
        );
        let s = p.spec;
        let slugs = |v: Vec<String>| -> std::collections::BTreeSet<Slug> {
            v.iter().filter_map(|r| Slug::parse(r).ok()).collect()
        };
        let mut groups: BTreeMap<String, BTreeMap<Slug, model::GroupGrant>> = BTreeMap::new();
        for m in s.group_mappings {
            let Ok(ws) = Slug::parse(&m.workspace) else {
                continue;
            };
            let grant = model::GroupGrant {
                roles: slugs(m.roles),
                projects: m
                    .projects
                    .into_iter()
                    .filter_map(|(p, r)| Some((Slug::parse(&p).ok()?, slugs(r))))
                    .collect(),
            };
            groups.entry(m.group).or_default().insert(ws, grant);
        }
        self.live.state.identity_providers.insert(
            id.clone(),
            model::IdentityProvider {
                id,
                name: s.display_name,
                protocol: match s.protocol {
                    wire::SsoProtocol::Oidc => model::SsoProtocol::Oidc,
                    wire::SsoProtocol::Saml => model::SsoProtocol::Saml,
                },
                enabled: s.enabled,
                workspace: s.workspace.and_then(|w| Slug::parse(&w).ok()),
                issuer: s.issuer,
                client_id: s.client_id,
                client_secret: None,
                scopes: s.scopes.into_iter().collect(),
                metadata_url: s.metadata_url,
                metadata_xml: s.metadata_xml,
                jit_provisioning: s.jit_provisioning,
                groups,
                labels: split_labels(&s.labels).0,
                prevent_destroy: false,
            },
        );
    }

    pub fn settings(&mut self, s: wire::Settings) {
        meta(
            &mut self.metas,
            ObjectId::Settings,
            s.version,
            &s.spec.labels,
        );
        let sec = s.spec.security;
        let pp = sec.password_policy;
        self.live.state.settings = Some(model::Settings {
            security: model::Security {
                session_timeout_minutes: sec.session_timeout_minutes,
                require_2fa: sec.require_2fa,
                email_verification: sec.email_verification,
                ip_allowlist: sec.ip_allowlist.map(|l| l.into_iter().collect()),
                password_policy: model::PasswordPolicy {
                    min_length: pp.min_length,
                    require_uppercase: pp.require_uppercase,
                    require_lowercase: pp.require_lowercase,
                    require_digit: pp.require_digit,
                    require_symbol: pp.require_symbol,
                    max_age_days: pp.max_age_days,
                },
            },
            branding: model::Branding {
                display_name: s.spec.branding.display_name,
                accent_color: s.spec.branding.accent_color,
                login_headline: s.spec.branding.login_headline,
                login_tagline: s.spec.branding.login_tagline,
                support_email: s
                    .spec
                    .branding
                    .support_email
                    .and_then(|e| self.keys.email(&e).ok()),
                logo_light: s.spec.branding.logo_light,
                logo_inverse: s.spec.branding.logo_inverse,
                favicon: s.spec.branding.favicon,
            },
        });
    }
}

/// A write to a platform, in the contract's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `POST` to a collection; the body holds the key.
    Create { collection: String, body: Value },
    /// `PATCH` with a merge patch.
    Patch {
        resource: String,
        version: Option<u64>,
        body: Value,
    },
    /// `PUT` of a whole spec.
    Put {
        resource: String,
        version: Option<u64>,
        body: Value,
    },
    Delete {
        resource: String,
        version: Option<u64>,
    },
    /// `POST {resource}/{action}` with a merge patch of the resource's
    /// fields: `rotate` (an API key's new value, answered once) or
    /// `invitation` (an invited user's invitation re-sent).
    Action {
        resource: String,
        action: &'static str,
        version: Option<u64>,
        body: Value,
    },
}

fn labels_value(labels: &Labels, unset: &[String]) -> Value {
    // A merge patch: keys to set, and null for keys to drop.
    let mut map: BTreeMap<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    for k in unset.iter().filter(|k| !labels.contains_key(*k)) {
        map.insert(k.clone(), Value::Null);
    }
    json!(map)
}

/// The REST operation that carries out a typed write.
pub fn op(w: &Write<'_>) -> Op {
    let path = path(w.object);
    let version = w.expected.and_then(Stamp::version);
    let collection = path
        .rsplit_once('/')
        .map_or(String::new(), |(c, _)| c.to_owned());
    let keys = w.keys.map(|k| k.0);
    match w.op {
        WriteOp::Delete => Op::Delete {
            resource: path,
            version,
        },
        WriteOp::Archive => Op::Patch {
            resource: path,
            version,
            body: json!({"status": "archived"}),
        },
        WriteOp::Create(object) => {
            let mut body = spec(object, w.labels, &[]);
            match object {
                Object::Quotas(..) | Object::MemberQuotas(..) | Object::Settings(_) => Op::Put {
                    resource: path,
                    version,
                    body,
                },
                _ => {
                    let (field, key) = key_field(object);
                    if let Some(m) = body.as_object_mut() {
                        m.insert(field.to_owned(), Value::String(key));
                        if let Object::User(u) = object
                            && u.status == model::UserStatus::Invited
                        {
                            let message = u.invitation.as_ref().and_then(|i| i.message.clone());
                            m.insert("invitation".to_owned(), json!({"message": message}));
                        }
                        if let Some(keys) = keys {
                            insert_secrets(m, object, keys);
                        }
                    }
                    Op::Create { collection, body }
                }
            }
        }
        WriteOp::Rename {
            from,
            desired,
            fields,
        } => {
            // One merge patch at the old path: the new key and the fields.
            let mut body = spec(desired, w.labels, w.unset_labels);
            let (field, key) = key_field(desired);
            if let Some(m) = body.as_object_mut() {
                m.insert(field.to_owned(), Value::String(key));
                if let Some(keys) = keys
                    && w.object.secret_field().is_some_and(|f| fields.contains(&f))
                {
                    insert_secrets(m, desired, keys);
                }
            }
            Op::Patch {
                resource: self::path(from),
                version,
                body,
            }
        }
        WriteOp::Update { desired, fields }
            if matches!(desired, Object::ApiKey(_)) && fields.contains(&"rotation") =>
        {
            Op::Action {
                resource: path,
                action: "rotate",
                version,
                body: spec(desired, w.labels, w.unset_labels),
            }
        }
        WriteOp::Update { desired, fields }
            if matches!(desired, Object::User(_)) && fields.contains(&"invitation") =>
        {
            let mut body = spec(desired, w.labels, w.unset_labels);
            if let (Object::User(u), Some(m)) = (desired, body.as_object_mut()) {
                // The user stays invited; the request is the message.
                m.remove("status");
                m.insert(
                    "invitation".to_owned(),
                    json!({"message": u.invitation.as_ref().and_then(|i| i.message.clone())}),
                );
            }
            Op::Action {
                resource: path,
                action: "invitation",
                version,
                body,
            }
        }
        WriteOp::Update { desired, fields } => {
            let mut body = spec(desired, w.labels, w.unset_labels);
            match desired {
                Object::Quotas(..) | Object::MemberQuotas(..) | Object::Settings(_) => Op::Put {
                    resource: path,
                    version,
                    body,
                },
                _ => {
                    // An invitation still pending counts as active: leave
                    // the status alone unless it really changes.
                    if let (Object::User(_), Some(m)) = (desired, body.as_object_mut())
                        && !fields.contains(&"status")
                    {
                        m.remove("status");
                    }
                    if let (Some(keys), Some(m)) = (keys, body.as_object_mut())
                        && w.object.secret_field().is_some_and(|f| fields.contains(&f))
                    {
                        insert_secrets(m, desired, keys);
                    }
                    Op::Patch {
                        resource: path,
                        version,
                        body,
                    }
                }
            }
        }
    }
}

/// The resolved secrets, as the contract spells them: a provider's
/// `api_keys` (a list), an identity provider's `client_secret` (one value).
fn insert_secrets(m: &mut serde_json::Map<String, Value>, object: &Object, values: &[String]) {
    match object {
        Object::Provider(_) => {
            m.insert("api_keys".to_owned(), json!(values));
        }
        Object::IdentityProvider(_) => {
            m.insert("client_secret".to_owned(), json!(values.first()));
        }
        _ => {}
    }
}

fn key_field(object: &Object) -> (&'static str, String) {
    match object {
        Object::Workspace(w) => ("slug", w.slug.to_string()),
        Object::User(u) => ("email", u.email.to_string()),
        Object::Role(r) => ("id", r.id.to_string()),
        Object::Provider(p) => ("name", p.id.to_string()),
        Object::Membership(m) => ("user", m.user.to_string()),
        Object::Assignment(a) => ("provider", a.provider.to_string()),
        Object::Project(p) => ("slug", p.slug.to_string()),
        Object::MemberQuotas(_, u, _) => ("user", u.to_string()),
        Object::TopUp(t) => ("id", t.id.to_string()),
        Object::ApiKey(k) => ("id", k.id.to_string()),
        Object::Quotas(w, _) => ("workspace", w.to_string()),
        Object::IdentityProvider(i) => ("name", i.id.to_string()),
        Object::Settings(_) => ("settings", String::new()),
    }
}

/// The writable fields of a desired object, as the contract spells them.
fn spec(object: &Object, labels: &Labels, unset: &[String]) -> Value {
    let labels = labels_value(labels, unset);
    match object {
        Object::Workspace(w) => json!({
            "name": w.name, "description": w.description,
            "status": wire_workspace_status(w.status),
            "settings": {
                "theme": w.settings.theme.map(model::Theme::as_str),
                "language": w.settings.language, "timezone": w.settings.timezone,
            },
            "labels": labels,
        }),
        Object::Quotas(_, q) => json!({
            "storage_gb": q.storage_gb, "executions_per_month": q.executions_per_month,
            "api_calls_per_month": q.api_calls_per_month, "max_users": q.max_users,
            "tokens_per_day": q.tokens_per_day, "tokens_per_week": q.tokens_per_week,
            "tokens_per_month": q.tokens_per_month,
            "labels": strip_nulls(labels),
        }),
        Object::User(u) => {
            json!({"name": u.name, "status": wire_user_status(u.status), "labels": labels})
        }
        Object::Role(r) => json!({
            "name": r.name, "description": r.description,
            "permissions": r.permissions, "labels": labels,
        }),
        Object::Provider(p) => json!({
            "display_name": p.name, "kind": wire_provider_kind(p.kind), "endpoint": p.endpoint,
            "region": p.region, "models": p.models,
            "rate_limits": {"requests_per_minute": p.rate_limits.requests_per_minute, "tokens_per_minute": p.rate_limits.tokens_per_minute},
            "scope": wire_scope(p.scope), "labels": labels,
        }),
        Object::Membership(m) => json!({"roles": m.roles, "labels": labels}),
        Object::Assignment(a) => {
            json!({"models": a.models, "default": a.default, "labels": labels})
        }
        Object::Project(p) => json!({
            "name": p.name, "description": p.description,
            "status": wire_workspace_status(p.status),
            "members": p.members.iter().map(|(user, roles)| json!({"user": user, "roles": roles})).collect::<Vec<_>>(),
            "quotas": p.quotas,
            "labels": labels,
        }),
        Object::MemberQuotas(_, _, q) => json!({
            "tokens_per_day": q.tokens_per_day, "tokens_per_week": q.tokens_per_week,
            "tokens_per_month": q.tokens_per_month,
            "labels": strip_nulls(labels),
        }),
        Object::TopUp(t) => json!({
            "tokens": t.tokens, "expires": t.expires, "project": t.project, "user": t.user,
            "reason": t.reason, "labels": labels,
        }),
        Object::ApiKey(k) => json!({
            "display_name": k.name, "owner": k.owner, "permissions": k.permissions,
            "expires": k.expires, "rotate_every_days": k.rotate_every_days, "labels": labels,
        }),
        Object::IdentityProvider(i) => json!({
            "display_name": i.name,
            "protocol": i.protocol.as_str(),
            "enabled": i.enabled,
            "workspace": i.workspace,
            "issuer": i.issuer,
            "client_id": i.client_id,
            "scopes": i.scopes,
            "metadata_url": i.metadata_url,
            "metadata_xml": i.metadata_xml,
            "jit_provisioning": i.jit_provisioning,
            "group_mappings": group_mappings(i),
            "labels": labels,
        }),
        Object::Settings(s) => {
            let sec = &s.security;
            let pp = &sec.password_policy;
            json!({
                "security": {
                    "session_timeout_minutes": sec.session_timeout_minutes,
                    "require_2fa": sec.require_2fa,
                    "email_verification": sec.email_verification,
                    "ip_allowlist": sec.ip_allowlist,
                    "password_policy": {
                        "min_length": pp.min_length, "require_uppercase": pp.require_uppercase,
                        "require_lowercase": pp.require_lowercase, "require_digit": pp.require_digit,
                        "require_symbol": pp.require_symbol, "max_age_days": pp.max_age_days,
                    },
                },
                "branding": s.branding,
                "labels": strip_nulls(labels),
            })
        }
    }
}

/// The model's group -> workspace -> grant, as the contract's flat list.
fn group_mappings(i: &model::IdentityProvider) -> Vec<wire::GroupMapping> {
    i.groups
        .iter()
        .flat_map(|(group, grants)| {
            grants.iter().map(move |(ws, g)| wire::GroupMapping {
                group: group.clone(),
                workspace: ws.to_string(),
                roles: g.roles.iter().map(ToString::to_string).collect(),
                projects: g
                    .projects
                    .iter()
                    .map(|(p, r)| (p.to_string(), r.iter().map(ToString::to_string).collect()))
                    .collect(),
            })
        })
        .collect()
}

/// `PUT` replaces labels whole: no nulls needed.
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::engine::Engine;

    #[test]
    fn the_platform_serves_the_catalogs_the_model_ships() {
        for p in wire::Profile::ALL {
            let engine = Engine::open_in_memory(p).unwrap_or_else(|e| panic!("{p}: {e}"));
            let served = catalog(engine.catalog());
            assert_eq!(&served, model::Catalog::builtin(served.profile), "{p}");
            assert_eq!(wire_profile(served.profile), Some(p));
        }
    }
}
