//! A desired object of any kind, as carried by a change and saved in a plan
//! file: model types only, secret references but never secret values.

use serde::{Deserialize, Serialize};

use super::id::ObjectId;
use super::{
    ApiKey, Assignment, Email, IdentityProvider, Live, Membership, Project, Provider, Quotas, Role,
    SecretRef, Settings, Slug, TokenQuotas, TopUp, User, Workspace,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "object", rename_all = "lowercase")]
pub enum Object {
    /// A workspace's own fields (its quotas travel as `Quotas`).
    Workspace(Workspace),
    Quotas(Slug, Quotas),
    User(User),
    Role(Role),
    /// API keys as references; resolved only when applied.
    Provider(Provider),
    Membership(Membership),
    Assignment(Assignment),
    Project(Project),
    /// A member's token budget (it travels with the membership).
    MemberQuotas(Slug, Email, TokenQuotas),
    TopUp(TopUp),
    /// Its value never: the platform makes it, the sink gets it.
    #[serde(rename = "api-key")]
    ApiKey(ApiKey),
    /// Its client secret as a reference; resolved only when applied.
    #[serde(rename = "identity-provider")]
    IdentityProvider(IdentityProvider),
    Settings(Settings),
}

impl Object {
    /// What the platform can hold and tenet compares, normalized: the
    /// last-applied digest is taken over this, so the digest of a live
    /// object equals the label exactly when nobody changed it since.
    pub fn projection(&self) -> Object {
        match self {
            Object::Workspace(w) => Object::Workspace(Workspace {
                quotas: Quotas::default(),
                prevent_destroy: false,
                ..w.clone()
            }),
            Object::User(u) => Object::User(User {
                prevent_destroy: false,
                invitation: None,
                status: match u.status {
                    crate::model::UserStatus::Invited => crate::model::UserStatus::Active,
                    s => s,
                },
                ..u.clone()
            }),
            Object::Role(r) => Object::Role(Role {
                prevent_destroy: false,
                ..r.clone()
            }),
            Object::Provider(p) => Object::Provider(Provider {
                prevent_destroy: false,
                api_keys: Vec::new(),
                ..p.clone()
            }),
            Object::Project(p) => Object::Project(Project {
                prevent_destroy: false,
                ..p.clone()
            }),
            Object::IdentityProvider(i) => Object::IdentityProvider(IdentityProvider {
                prevent_destroy: false,
                client_secret: None,
                ..i.clone()
            }),
            Object::ApiKey(k) => Object::ApiKey(ApiKey {
                sink: None,
                issued: None,
                ..k.clone()
            }),
            other => other.clone(),
        }
    }

    /// The id of the object.
    pub fn id(&self) -> ObjectId {
        match self {
            Object::Workspace(w) => ObjectId::Workspace(w.slug.clone()),
            Object::Quotas(w, _) => ObjectId::Quotas(w.clone()),
            Object::User(u) => ObjectId::User(u.email.clone()),
            Object::Role(r) => ObjectId::Role(r.id.clone()),
            Object::Provider(p) => ObjectId::Provider(p.id.clone()),
            Object::Membership(m) => ObjectId::Membership(m.workspace.clone(), m.user.clone()),
            Object::Assignment(a) => ObjectId::Assignment(a.workspace.clone(), a.provider.clone()),
            Object::Project(p) => ObjectId::Project(p.workspace.clone(), p.slug.clone()),
            Object::MemberQuotas(w, u, _) => ObjectId::MemberQuotas(w.clone(), u.clone()),
            Object::TopUp(t) => ObjectId::TopUp(t.workspace.clone(), t.id.clone()),
            Object::ApiKey(k) => ObjectId::ApiKey(k.workspace.clone(), k.id.clone()),
            Object::IdentityProvider(i) => ObjectId::IdentityProvider(i.id.clone()),
            Object::Settings(_) => ObjectId::Settings,
        }
    }

    /// The secret references the object sends when written, in order
    /// (a provider's API keys, an identity provider's client secret).
    pub fn secret_refs(&self) -> &[SecretRef] {
        match self {
            Object::Provider(p) => &p.api_keys,
            Object::IdentityProvider(i) => i.secret_refs(),
            _ => &[],
        }
    }

    /// The digest of the object's [projection](Object::projection), recorded
    /// as its last-applied label: equal for the desired object and the live
    /// one exactly when they agree on everything tenet manages.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(&self.projection()).unwrap_or_default();
        let d = Sha256::digest(text.as_bytes());
        let hex: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// The live object with this id, in the shape changes carry.
    pub fn live(live: &Live, id: &ObjectId) -> Option<Object> {
        let s = &live.state;
        match id {
            ObjectId::Workspace(w) => s.workspaces.get(w).map(|x| Object::Workspace(x.clone())),
            ObjectId::Quotas(w) => s
                .workspaces
                .get(w)
                .map(|x| Object::Quotas(w.clone(), x.quotas)),
            ObjectId::Membership(w, u) => s
                .memberships
                .get(&(w.clone(), u.clone()))
                .map(|m| Object::Membership(m.clone())),
            ObjectId::Assignment(w, p) => s
                .assignments
                .get(&(w.clone(), p.clone()))
                .map(|a| Object::Assignment(a.clone())),
            ObjectId::Project(w, p) => s
                .projects
                .get(&(w.clone(), p.clone()))
                .map(|x| Object::Project(x.clone())),
            ObjectId::MemberQuotas(w, u) => s
                .member_quotas
                .get(&(w.clone(), u.clone()))
                .map(|q| Object::MemberQuotas(w.clone(), u.clone(), *q)),
            ObjectId::TopUp(w, t) => s
                .top_ups
                .get(&(w.clone(), t.clone()))
                .map(|x| Object::TopUp(x.clone())),
            ObjectId::ApiKey(w, k) => s
                .api_keys
                .get(&(w.clone(), k.clone()))
                .map(|x| Object::ApiKey(x.clone())),
            ObjectId::User(u) => s.users.get(u).map(|x| Object::User(x.clone())),
            ObjectId::Role(r) => s.roles.get(r).map(|x| Object::Role(x.clone())),
            ObjectId::Provider(p) => s.providers.get(p).map(|x| Object::Provider(x.clone())),
            ObjectId::IdentityProvider(i) => s
                .identity_providers
                .get(i)
                .map(|x| Object::IdentityProvider(x.clone())),
            ObjectId::Settings => s.settings.clone().map(Object::Settings),
        }
    }
}
