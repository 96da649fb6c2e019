//! Targets: where live state is read from and changes are written to. A
//! [`Target`] declares the kinds it supports; a kind it cannot hold is
//! reported in the plan as unsupported, never skipped in silence. Two speak
//! the native platform contract: [`sandbox`] (the embedded engine,
//! in-process) and [`http`] (the API over reqwest). Both go through
//! [`convert`], and one conformance suite runs against both.

pub mod convert;
pub mod http;
pub mod sandbox;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

pub use convert::Op;

use crate::model::{Catalog, Kind, Labels, Live};

/// A failed read or write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TargetError {
    /// HTTP status (or the engine's), `None` for transport failures.
    pub status: Option<u16>,
    /// The platform's problem code, or `transport`.
    pub code: String,
    pub message: String,
    /// What the platform asked us to wait before retrying.
    pub retry_after: Option<Duration>,
}

impl TargetError {
    pub fn transport(message: impl Into<String>) -> Self {
        Self {
            status: None,
            code: "transport".to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// Worth retrying: rate limited, a server error, or no answer at all.
    pub fn retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s == 429 || s >= 500,
        }
    }
}

impl From<crate::platform::ApiError> for TargetError {
    fn from(e: crate::platform::ApiError) -> Self {
        Self {
            status: Some(e.status),
            code: e.code.to_owned(),
            message: e.detail,
            retry_after: None,
        }
    }
}

/// What a target can do. Implementations must be strict: every failure is
/// an error, never a silent success.
pub trait Target: Send + Sync {
    /// The endpoint, as the user wrote it.
    fn endpoint(&self) -> &str;

    /// Kinds this target can hold.
    fn supported(&self) -> &'static [Kind] {
        &Kind::ALL
    }

    /// The platform's catalog.
    fn catalog(&self) -> impl Future<Output = Result<Catalog, TargetError>> + Send;

    /// Everything live, with at most `parallelism` requests in flight.
    fn read(&self, parallelism: usize) -> impl Future<Output = Result<Live, TargetError>> + Send;

    /// One object's version and labels, if it exists (to check whether a
    /// write whose answer was lost happened).
    fn probe(
        &self,
        resource: &str,
    ) -> impl Future<Output = Result<Option<(u64, Labels)>, TargetError>> + Send;

    /// The audit log of one resource and everything below it, oldest first.
    fn audit(
        &self,
        resource: &str,
    ) -> impl Future<Output = Result<Vec<crate::wire::AuditEvent>, TargetError>> + Send;

    /// Performs one write.
    fn execute(&self, op: &Op) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// Takes the named advisory lock for `holder`.
    fn lock(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// Releases it.
    fn unlock(
        &self,
        name: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), TargetError>> + Send;
}

/// Where a platform is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The embedded engine with its database at this path.
    Sandbox(std::path::PathBuf),
    /// A platform API base URL (without `/v1`).
    Http(String),
}

impl Endpoint {
    /// Parses `sandbox:PATH` or an `http(s)://` URL; a relative sandbox path
    /// is taken relative to `base`.
    pub fn parse(s: &str, base: &Path) -> Result<Endpoint, String> {
        if let Some(p) = s.strip_prefix("sandbox:") {
            if p.is_empty() {
                return Err(
                    "`sandbox:` needs a database path, like sandbox:.tenet/platform.db".to_owned(),
                );
            }
            let p = Path::new(p);
            Ok(Endpoint::Sandbox(if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }))
        } else if s.starts_with("http://") || s.starts_with("https://") {
            Ok(Endpoint::Http(
                s.trim_end_matches('/').trim_end_matches("/v1").to_owned(),
            ))
        } else {
            Err(format!(
                "`{s}` is not an endpoint: use sandbox:PATH or an http(s):// URL"
            ))
        }
    }
}
