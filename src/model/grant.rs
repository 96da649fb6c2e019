//! A live grant of access that tenet does not manage: a membership, inside
//! a workspace the files declare, of a user (or with roles) the files do not
//! declare. Plans list it with its roles and drift reports it, calling out
//! administrator and credential access, so no access hides behind an
//! undeclared user.

use serde::{Deserialize, Serialize};

use super::{Email, ObjectId, Slug};

/// One unmanaged membership of a declared workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmanagedGrant {
    /// Printed as `resource` in JSON, like every other object.
    #[serde(rename = "resource")]
    pub object: ObjectId,
    pub workspace: Slug,
    pub user: Email,
    pub roles: Vec<Slug>,
    /// It holds an administrator role of the catalog.
    pub administrator: bool,
    /// It grants a permission over credentials, API keys or LLM settings.
    pub credential_access: bool,
}

impl UnmanagedGrant {
    /// Administrator or credential access: what a reviewer must not miss.
    pub fn privileged(&self) -> bool {
        self.administrator || self.credential_access
    }

    /// "administrator", "credential access", both, or none, for messages.
    pub fn what(&self) -> Option<&'static str> {
        match (self.administrator, self.credential_access) {
            (true, true) => Some("administrator and credential access"),
            (true, false) => Some("administrator access"),
            (false, true) => Some("credential access"),
            (false, false) => None,
        }
    }
}
