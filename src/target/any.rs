//! [`AnyTarget`]: whichever target the endpoint names, behind the one
//! trait, so commands are written once.

use std::time::Duration;

use super::native::http::Http;
use super::native::sandbox::Sandbox;
use super::openwebui::OpenWebUi;
use super::scim::Scim;
use super::{Capabilities, Target, TargetError, Write};
use crate::model::audit::AuditEvent;
use crate::model::{Catalog, Live, Meta, ObjectId};

/// Every target tenet can talk to.
pub enum AnyTarget {
    Sandbox(Box<Sandbox>),
    Http(Http),
    Scim(Box<Scim>),
    OpenWebUi(Box<OpenWebUi>),
}

/// Calls the same method on whichever target it is.
macro_rules! each {
    ($self:ident, $t:ident => $e:expr) => {
        match $self {
            AnyTarget::Sandbox($t) => $e,
            AnyTarget::Http($t) => $e,
            AnyTarget::Scim($t) => $e,
            AnyTarget::OpenWebUi($t) => $e,
        }
    };
}

impl Target for AnyTarget {
    fn endpoint(&self) -> &str {
        each!(self, t => t.endpoint())
    }

    fn capabilities(&self) -> &Capabilities {
        each!(self, t => t.capabilities())
    }

    async fn catalog(&self) -> Result<Catalog, TargetError> {
        each!(self, t => t.catalog().await)
    }

    async fn read(&self, parallelism: usize) -> Result<Live, TargetError> {
        each!(self, t => t.read(parallelism).await)
    }

    async fn probe(&self, object: &ObjectId) -> Result<Option<Meta>, TargetError> {
        each!(self, t => t.probe(object).await)
    }

    async fn audit(&self, object: &ObjectId) -> Result<Vec<AuditEvent>, TargetError> {
        each!(self, t => t.audit(object).await)
    }

    async fn image(&self, digest: &str) -> Result<Option<Vec<u8>>, TargetError> {
        each!(self, t => t.image(digest).await)
    }

    async fn write(&self, write: &Write<'_>) -> Result<(), TargetError> {
        each!(self, t => t.write(write).await)
    }

    async fn write_batch(&self, writes: &[Write<'_>]) -> Vec<Result<(), TargetError>> {
        each!(self, t => t.write_batch(writes).await)
    }

    async fn lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<(), TargetError> {
        each!(self, t => t.lock(name, holder, ttl).await)
    }

    async fn renew_lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<(), TargetError> {
        each!(self, t => t.renew_lock(name, holder, ttl).await)
    }

    async fn unlock(&self, name: &str, holder: &str) -> Result<(), TargetError> {
        each!(self, t => t.unlock(name, holder).await)
    }
}
