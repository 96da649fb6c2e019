//! Audit events as the engine sees them, whatever log a target keeps: who
//! changed which object, when, through which channel, and the fields that
//! changed (key values never, only fingerprints). Drift attribution reads
//! these; a target without an audit log has none to give.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::ObjectId;

/// One field's values around a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldValues {
    pub before: Value,
    pub after: Value,
}

/// One recorded write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// RFC 3339.
    pub at: String,
    pub actor: String,
    /// How the write came in (`api`, `local`, ...).
    pub channel: String,
    /// `create`, `update`, `delete`.
    pub action: String,
    pub object: ObjectId,
    /// `{ field: { before, after } }`.
    pub changes: BTreeMap<String, FieldValues>,
}
