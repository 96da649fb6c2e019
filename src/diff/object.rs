//! A desired object of any kind, as carried by a change and saved in a plan
//! file: model types only, secret references but never secret values.

use serde::{Deserialize, Serialize};

use crate::model::{
    Assignment, Membership, Provider, Quotas, Role, Settings, Slug, User, Workspace,
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
            other => other.clone(),
        }
    }

    /// The live object at a resource path, in the shape changes carry.
    pub fn live(live: &crate::model::Live, resource: &str) -> Option<Object> {
        use crate::model::{Email, Slug};
        let s = &live.state;
        let seg: Vec<&str> = resource.split('/').collect();
        let slug = |x: &str| Slug::parse(x).ok();
        let email = |x: &str| Email::parse(x).ok();
        match seg.as_slice() {
            ["workspaces", w] => s
                .workspaces
                .get(&slug(w)?)
                .map(|x| Object::Workspace(x.clone())),
            ["workspaces", w, "quotas"] => {
                let w = slug(w)?;
                s.workspaces.get(&w).map(|x| Object::Quotas(w, x.quotas))
            }
            ["workspaces", w, "memberships", u] => s
                .memberships
                .get(&(slug(w)?, email(u)?))
                .map(|m| Object::Membership(m.clone())),
            ["workspaces", w, "assignments", p] => s
                .assignments
                .get(&(slug(w)?, slug(p)?))
                .map(|a| Object::Assignment(a.clone())),
            ["users", u] => s.users.get(&email(u)?).map(|x| Object::User(x.clone())),
            ["roles", r] => s.roles.get(&slug(r)?).map(|x| Object::Role(x.clone())),
            ["providers", p] => s
                .providers
                .get(&slug(p)?)
                .map(|x| Object::Provider(x.clone())),
            ["settings"] => s.settings.clone().map(Object::Settings),
            _ => None,
        }
    }
}
