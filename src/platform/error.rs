//! Platform errors: one type for every refusal, carrying the HTTP status and
//! a stable problem code, rendered as RFC 9457 problems by the server and
//! returned as values by the embedded engine.

use crate::wire::{PROBLEM_BASE, Problem};

/// A refused or failed platform operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    pub status: u16,
    /// Problem code, e.g. `last-administrator`.
    pub code: &'static str,
    pub detail: String,
    pub holder: Option<String>,
    pub expires_at: Option<String>,
    pub current_version: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            holder: None,
            expires_at: None,
            current_version: None,
        }
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(404, "not-found", format!("{what} does not exist"))
    }

    pub fn already_exists(what: impl std::fmt::Display) -> Self {
        Self::new(409, "already-exists", format!("{what} already exists"))
    }

    pub fn invalid_body(detail: impl Into<String>) -> Self {
        Self::new(400, "invalid-body", detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(422, "invalid-value", detail)
    }

    pub fn invalid_reference(detail: impl Into<String>) -> Self {
        Self::new(422, "invalid-reference", detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(409, code, detail)
    }

    pub fn version_mismatch(what: impl std::fmt::Display, expected: u64, current: u64) -> Self {
        Self {
            current_version: Some(current),
            ..Self::new(
                412,
                "version-mismatch",
                format!(
                    "{what} is at version {current}, not {expected}: it changed since it was read"
                ),
            )
        }
    }

    pub fn precondition_required() -> Self {
        Self::new(
            428,
            "precondition-required",
            "this write needs an If-Match header with the version you read (or *)",
        )
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, "internal", detail)
    }

    /// A human title for the problem code.
    pub fn title(&self) -> String {
        let mut t = self.code.replace('-', " ");
        if let Some(first) = t.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        t
    }

    /// The RFC 9457 body.
    pub fn problem(&self, instance: Option<String>) -> Problem {
        Problem {
            kind: format!("{PROBLEM_BASE}{}", self.code),
            title: self.title(),
            status: self.status,
            detail: self.detail.clone(),
            instance,
            holder: self.holder.clone(),
            expires_at: self.expires_at.clone(),
            current_version: self.current_version,
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    /// A full disk is `507 storage-full` and a failing one `500
    /// storage-failed`: no write can succeed until an operator acts, so a
    /// client stops at once instead of retrying.
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DiskFull) => ApiError::new(
                507,
                "storage-full",
                format!("the platform's storage is full: {e}"),
            ),
            Some(
                C::SystemIoFailure
                | C::CannotOpen
                | C::ReadOnly
                | C::DatabaseCorrupt
                | C::NotADatabase,
            ) => ApiError::new(
                500,
                "storage-failed",
                format!("the platform's storage failed: {e}"),
            ),
            _ => ApiError::internal(format!("database error: {e}")),
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::internal(format!("stored data is not valid JSON: {e}"))
    }
}
