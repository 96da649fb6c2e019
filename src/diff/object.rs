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
