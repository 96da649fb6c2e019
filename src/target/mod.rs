//! Targets: where live state is read from and changes are written to. The
//! engine sees every platform through one trait, [`Target`], in model terms:
//! it reads a [`Live`] state, probes one object by its [`ObjectId`], and
//! sends typed [`Write`]s (create, update with the changed fields, rename
//! in place, archive, delete of a typed object). Each target maps those to its own API and
//! answers with typed [`TargetError`]s, never HTTP status numbers.
//!
//! A target also declares its [`Capabilities`]: which kinds it can hold,
//! whether it has versions for conditional writes, where it records
//! ownership, whether it has an audit log, locks, a served catalog. The
//! engine degrades honestly where one is missing and says so in the plan.
//!
//! The targets live one per folder and share nothing but this module and
//! the model: [`native`] (the platform contract: the embedded sandbox and
//! the HTTP API), [`scim`] (any SCIM 2.0 service provider) and
//! [`openwebui`] (Open WebUI).

pub mod any;
pub mod native;
pub mod openwebui;
pub mod scim;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

pub use any::AnyTarget;

use crate::model::audit::AuditEvent;
pub use crate::model::capabilities::{Capabilities, CatalogSource, Ownership, Unholdable};
use crate::model::{Catalog, Labels, Live, Meta, Object, ObjectId, Stamp};

/// What went wrong, in terms the engine decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object (or its parent) does not exist.
    NotFound,
    /// It exists already, or the platform's rules forbid the write now.
    Conflict,
    /// It changed since it was read (a stale version or content digest).
    PreconditionFailed,
    /// Too many requests; wait `retry_after` if given.
    RateLimited,
    /// No answer, a timeout, or a server error: worth retrying.
    Unavailable,
    /// The credentials are missing or wrong.
    Unauthorized,
    /// The credentials may not do this.
    Forbidden,
    /// Another apply holds the lock.
    Locked,
    /// The platform refused the write for a reason it gave.
    Rejected,
    /// The platform cannot take any write (its storage is full or
    /// failing): every other write would fail the same way, so the apply
    /// stops at once instead of retrying.
    Broken,
}

/// A failed read or write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TargetError {
    pub kind: ErrorKind,
    pub message: String,
    /// What the platform asked us to wait before retrying.
    pub retry_after: Option<Duration>,
    /// The platform's own words for the failure, for reports (`409
    /// role-in-use`); the engine decides on `kind` only.
    pub code: Option<String>,
    /// The request never left (the connection was refused): nothing can
    /// have happened, so there is nothing to look for before a retry.
    pub unsent: bool,
    /// For [`ErrorKind::Locked`]: who holds the lock, as the platform said.
    pub holder: Option<String>,
}

impl TargetError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            code: None,
            unsent: false,
            holder: None,
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The failure as a report line.
    pub fn reason(&self) -> String {
        match (&self.kind, &self.code) {
            (ErrorKind::PreconditionFailed, _) => {
                format!("{} (it changed since the plan was made)", self.message)
            }
            (_, Some(code)) => format!("{code}: {}", self.message),
            (_, None) => self.message.clone(),
        }
    }

    /// No answer, or a server error: the write may or may not have
    /// happened.
    pub fn transport(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// No answer because the request was never sent.
    pub fn unsent(message: impl Into<String>) -> Self {
        Self {
            unsent: true,
            ..Self::transport(message)
        }
    }

    /// Worth retrying: rate limited, a server error, or no answer at all.
    pub fn retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::RateLimited | ErrorKind::Unavailable)
    }

    /// Whether a write that failed so may still have happened, and must be
    /// looked for before it is sent again: only when the platform's answer
    /// is truly unknown (a timeout, a connection lost after the request
    /// left, a server error). A rate limit or a refused connection means
    /// nothing was done.
    pub fn outcome_unknown(&self) -> bool {
        self.kind == ErrorKind::Unavailable && !self.unsent
    }
}

/// Checks a bearer token (`TENET_TOKEN`) before any request, so a bad one is
/// said to be bad instead of failing later as "endpoint unreachable". The
/// message says what is wrong, never the token.
pub fn check_token(token: &str) -> Result<(), TargetError> {
    let what = if token.ends_with(['\n', '\r']) {
        Some("ends with a line break (as `$(cat FILE)` keeps it, or an editor adds it)")
    } else if token.starts_with(char::is_whitespace) || token.ends_with(char::is_whitespace) {
        Some("starts or ends with whitespace")
    } else if token.contains(char::is_control) {
        Some("contains a control character (a line break, tab or NUL)")
    } else if token.contains(char::is_whitespace) {
        Some("contains whitespace")
    } else if !token.is_ascii() {
        Some("contains non-ASCII characters")
    } else {
        None
    };
    match what {
        None => Ok(()),
        Some(w) => Err(TargetError::new(
            ErrorKind::Unauthorized,
            format!(
                "TENET_TOKEN {w}: it is not a valid bearer token, so nothing was sent; \
                 set it to the token alone"
            ),
        )),
    }
}

/// A change as a target receives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WriteOp<'a> {
    Create(&'a Object),
    /// `fields` names what differs; targets may write more.
    Update {
        desired: &'a Object,
        fields: &'a [&'a str],
    },
    /// Give the object at `from` (a workspace, role or provider under its
    /// old name) the new name of `desired`, writing its fields as `Update`
    /// does; what is attached to it stays attached. Only sent to a target
    /// whose capabilities list the kind in `renames`.
    Rename {
        from: &'a ObjectId,
        desired: &'a Object,
        fields: &'a [&'a str],
    },
    /// Archive a workspace.
    Archive,
    Delete,
}

/// One typed write.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    pub object: &'a ObjectId,
    pub op: WriteOp<'a>,
    /// The stamp the change was planned against: sent as `If-Match` by a
    /// target with versions; `None` means any.
    pub expected: Option<&'a Stamp>,
    /// Labels to write (the files' and tenet's own), where the target
    /// records them.
    pub labels: &'a Labels,
    /// Live label keys to remove.
    pub unset_labels: &'a [String],
    /// The provider's resolved API keys, when the write sends them. Never
    /// printed: `Debug` of this struct shows only how many there are.
    pub keys: Option<Keys<'a>>,
    /// Where a secret the platform makes goes (a new API key's value):
    /// called once, as soon as the target has it.
    pub sink: Option<Sink<'a>>,
    /// Files the write names by digest and sends first (the branding
    /// images of a settings write).
    pub uploads: Option<Uploads<'a>>,
}

/// Files by the digest of their bytes (`sha256:<hex>`).
pub type Blobs = std::collections::BTreeMap<String, Vec<u8>>;

/// The files a write uploads; `Debug` shows their digests and sizes only.
#[derive(Clone, Copy)]
pub struct Uploads<'a>(pub &'a [(&'a str, &'a [u8])]);

impl std::fmt::Debug for Uploads<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|(d, b)| format!("{d} ({} bytes)", b.len())),
            )
            .finish()
    }
}

/// Receives a secret the platform made; an error means it could not be
/// kept (the value is then lost).
#[derive(Clone, Copy)]
pub struct Sink<'a>(pub &'a (dyn Fn(&str) -> Result<(), String> + Sync));

impl std::fmt::Debug for Sink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl Sink<'_> {
    /// Hands over the value a write's answer holds, if it holds one; the
    /// error says the value is lost.
    pub fn deliver(&self, object: &ObjectId, value: Option<&str>) -> Result<(), TargetError> {
        let Some(v) = value else {
            return Err(TargetError::new(
                ErrorKind::Rejected,
                format!(
                    "`{object}` was written but the answer held no key value: rotate it to get one"
                ),
            ));
        };
        (self.0)(v).map_err(|e| {
            TargetError::new(
                ErrorKind::Rejected,
                format!("`{object}` was written but its new value could not be kept ({e}): it is lost; rotate the key"),
            )
        })
    }
}

/// Secret values in transit to a target.
#[derive(Clone, Copy)]
pub struct Keys<'a>(pub &'a [String]);

impl std::fmt::Debug for Keys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({} redacted)", self.0.len())
    }
}

/// What a platform is, to the engine. Implementations must be strict: every
/// failure is an error, never a silent success.
pub trait Target: Send + Sync {
    /// The endpoint, as the user wrote it.
    fn endpoint(&self) -> &str;

    fn capabilities(&self) -> &Capabilities;

    /// The platform's catalog (served, or the built-in profile).
    fn catalog(&self) -> impl Future<Output = Result<Catalog, TargetError>> + Send;

    /// Everything live, with at most `parallelism` requests in flight.
    fn read(&self, parallelism: usize) -> impl Future<Output = Result<Live, TargetError>> + Send;

    /// One object's stamp and labels, if it exists: to check a precondition
    /// right before a write, and whether a write whose answer was lost
    /// happened.
    fn probe(
        &self,
        object: &ObjectId,
    ) -> impl Future<Output = Result<Option<Meta>, TargetError>> + Send;

    /// The audit log of one object and everything below it, oldest first.
    /// Only called when the capabilities say there is one; a target without
    /// keeps this default, which refuses.
    fn audit(
        &self,
        object: &ObjectId,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, TargetError>> + Send {
        let e = lacks(self.capabilities(), "an audit log", object.to_string());
        async move { Err(e) }
    }

    /// The bytes of a branding image the platform holds, by digest (for
    /// export); `None` from a target that keeps no images, or does not
    /// have this one.
    fn image(
        &self,
        _digest: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, TargetError>> + Send {
        async move { Ok(None) }
    }

    /// Performs one write.
    fn write(&self, write: &Write<'_>) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// Performs `writes` together, in order, each with its own outcome (one
    /// per write, in the same order). Called with more than one write only
    /// when the capabilities' `batch` allows it; this default sends them one
    /// after another.
    fn write_batch(
        &self,
        writes: &[Write<'_>],
    ) -> impl Future<Output = Vec<Result<(), TargetError>>> + Send {
        async move {
            let mut out = Vec::with_capacity(writes.len());
            for w in writes {
                out.push(self.write(w).await);
            }
            out
        }
    }

    /// Takes the named advisory lock for `holder`. Only called when the
    /// capabilities say there are locks; the default refuses.
    fn lock(
        &self,
        name: &str,
        _holder: &str,
        _ttl: Duration,
    ) -> impl Future<Output = Result<(), TargetError>> + Send {
        let e = lacks(self.capabilities(), "locks", name.to_owned());
        async move { Err(e) }
    }

    /// Extends the lock `holder` holds by `ttl` from now; an error of kind
    /// [`ErrorKind::Locked`] when it is not (or no longer) held by `holder`.
    fn renew_lock(
        &self,
        name: &str,
        _holder: &str,
        _ttl: Duration,
    ) -> impl Future<Output = Result<(), TargetError>> + Send {
        let e = lacks(self.capabilities(), "locks", name.to_owned());
        async move { Err(e) }
    }

    /// Releases it; [`ErrorKind::NotFound`] when nobody holds it, and
    /// [`ErrorKind::Locked`] (naming the holder) when someone else does.
    fn unlock(
        &self,
        name: &str,
        _holder: &str,
    ) -> impl Future<Output = Result<(), TargetError>> + Send {
        let e = lacks(self.capabilities(), "locks", name.to_owned());
        async move { Err(e) }
    }
}

/// The error for asking a target for what its capabilities say it lacks: a
/// bug in the engine, never a silent success.
fn lacks(caps: &Capabilities, what: &str, about: String) -> TargetError {
    TargetError::new(
        ErrorKind::Rejected,
        format!("{} has no {what} (asked about `{about}`)", caps.platform),
    )
}

/// Exponential backoff with jitter, or what the platform asked for.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d.min(Duration::from_secs(60));
    }
    let base = 100u64.saturating_mul(1 << attempt.min(6));
    Duration::from_millis(base / 2 + fastrand::u64(0..=base / 2))
}

/// Where a platform is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The embedded engine with its database at this path.
    Sandbox(std::path::PathBuf),
    /// A platform API base URL (without `/v1`).
    Http(String),
    /// A SCIM 2.0 service provider's base URL (`http://host/v2`).
    Scim(String),
    /// An Open WebUI base URL (`http://host:8080`).
    OpenWebUi(String),
}

/// An endpoint as written, with any user-info (`user:password@`) removed
/// from its URL: what a plan file may record. Anything else is returned as
/// it was written, byte for byte.
pub fn without_credentials(text: &str) -> String {
    let (scheme, rest) = match text.split_once('+') {
        Some((s @ ("scim" | "openwebui"), rest)) => (Some(s), rest),
        _ => (None, text),
    };
    let Ok(mut url) = url::Url::parse(rest) else {
        return text.to_owned();
    };
    if url.username().is_empty() && url.password().is_none() {
        return text.to_owned();
    }
    // Both succeed on an http(s) URL with a host, the only kind with
    // user-info that parses.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let mut clean = url.to_string();
    if !rest.ends_with('/') && url.path() == "/" {
        clean.pop();
    }
    match scheme {
        Some(s) => format!("{s}+{clean}"),
        None => clean,
    }
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
            return Ok(Endpoint::Sandbox(if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }));
        }
        // User-info in a URL is never a credential here (the token is
        // TENET_TOKEN); dropped, it cannot reach a request or a plan.
        let s = without_credentials(s);
        let s = s.as_str();
        if s.starts_with("http://") || s.starts_with("https://") {
            Ok(Endpoint::Http(
                s.trim_end_matches('/').trim_end_matches("/v1").to_owned(),
            ))
        } else if let Some(url) = s.strip_prefix("scim+") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "`{s}` is not a SCIM endpoint: use scim+https://HOST[:PORT]/BASE"
                ));
            }
            Ok(Endpoint::Scim(url.trim_end_matches('/').to_owned()))
        } else if let Some(url) = s.strip_prefix("openwebui+") {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "`{s}` is not an Open WebUI endpoint: use openwebui+https://HOST[:PORT]"
                ));
            }
            Ok(Endpoint::OpenWebUi(url.trim_end_matches('/').to_owned()))
        } else {
            Err(format!(
                "`{s}` is not an endpoint: use sandbox:PATH, an http(s):// URL of the platform API, scim+https://HOST/BASE or openwebui+https://HOST"
            ))
        }
    }

    /// What the platform can hold and offer.
    pub fn capabilities(&self) -> &'static Capabilities {
        match self {
            Endpoint::Sandbox(_) => &native::SANDBOX,
            Endpoint::Http(_) => &native::HTTP,
            Endpoint::Scim(_) => &scim::CAPABILITIES,
            Endpoint::OpenWebUi(_) => &openwebui::CAPABILITIES,
        }
    }

    /// What the files declare that this platform cannot hold.
    pub fn unholdable(&self, config: &crate::model::Config) -> Vec<Unholdable> {
        match self {
            Endpoint::Sandbox(_) | Endpoint::Http(_) => Vec::new(),
            Endpoint::Scim(_) => scim::unholdable(config),
            Endpoint::OpenWebUi(_) => openwebui::unholdable(config),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn user_info_is_stripped_from_endpoints_and_nothing_else_changes() {
        assert_eq!(
            without_credentials("https://ci:s3cret@forge.example/api"),
            "https://forge.example/api"
        );
        assert_eq!(
            without_credentials("scim+http://u:p@127.0.0.1:8000/v2"),
            "scim+http://127.0.0.1:8000/v2"
        );
        assert_eq!(
            without_credentials("http://tok@127.0.0.1:8750"),
            "http://127.0.0.1:8750"
        );
        for same in [
            "http://127.0.0.1:8750",
            "sandbox:.tenet/a.db",
            "openwebui+https://chat.example",
        ] {
            assert_eq!(without_credentials(same), same);
        }
    }
}
