//! The native targets: tenet's own platform contract (`docs/platform-api.md`),
//! in-process ([`sandbox`], the embedded engine) and over HTTP ([`http`]).
//! Both go through [`convert`] (wire types <-> model, typed writes -> REST
//! operations), so they cannot disagree, and both have every capability:
//! versions with `If-Match`, ownership labels, an audit log, locks and a
//! served catalog.

pub mod convert;
pub mod http;
pub mod sandbox;

pub use convert::Op;

use crate::model::Kind;
use crate::target::{Capabilities, CatalogSource, ErrorKind, Ownership, TargetError};

const OWNERSHIP: &[(Kind, Ownership)] = &[
    (Kind::Workspaces, Ownership::Labels),
    (Kind::Users, Ownership::Labels),
    (Kind::Roles, Ownership::Labels),
    (Kind::Providers, Ownership::Labels),
    (Kind::Memberships, Ownership::Labels),
    (Kind::Assignments, Ownership::Labels),
    (Kind::Projects, Ownership::Labels),
    (Kind::Settings, Ownership::Labels),
];

/// The platform API over HTTP.
pub const HTTP: Capabilities = Capabilities {
    platform: "the tenet platform API",
    kinds: &Kind::ALL,
    versions: true,
    ownership: OWNERSHIP,
    audit: true,
    locks: true,
    catalog: CatalogSource::Served,
    keys_required: true,
    archive: true,
    global_permissions: false,
    renames: &crate::model::rename::RENAMABLE,
    batch: 1,
};

/// The embedded engine: the same, but it never calls a provider, so it
/// does without API key values, and it commits writes in batches (one
/// transaction for up to 512 writes, each in its own savepoint).
pub const SANDBOX: Capabilities = Capabilities {
    platform: "the embedded sandbox platform",
    keys_required: false,
    batch: 512,
    ..HTTP
};

/// The engine's error kinds for the contract's status codes and problem
/// types.
pub fn error(status: u16, code: &str, message: String) -> TargetError {
    let kind = match (status, code) {
        (_, "lock-held" | "lock-not-held") => ErrorKind::Locked,
        (507, _) | (_, "storage-full" | "storage-failed") => ErrorKind::Broken,
        (401, _) => ErrorKind::Unauthorized,
        (403, _) => ErrorKind::Forbidden,
        (404, _) => ErrorKind::NotFound,
        (409, _) => ErrorKind::Conflict,
        (412 | 428, _) => ErrorKind::PreconditionFailed,
        (429, _) => ErrorKind::RateLimited,
        (s, _) if s >= 500 => ErrorKind::Unavailable,
        _ => ErrorKind::Rejected,
    };
    TargetError::new(kind, message).with_code(format!("{status} {code}"))
}

impl From<crate::platform::ApiError> for TargetError {
    fn from(e: crate::platform::ApiError) -> Self {
        let mut t = error(e.status, e.code, e.detail);
        t.holder = e.holder;
        t
    }
}
