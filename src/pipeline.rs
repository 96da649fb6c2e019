//! The plan pipeline shared by `plan`, `apply` and (later) `drift`: load and
//! check the files, connect to the target, read live state, fingerprint the
//! desired keys, diff, and order the result into a [`Plan`]. Commands add
//! their own input and output around it.

use std::path::{Path, PathBuf};

use crate::diff;
use crate::model::{Kind, Live, ObjectId, Stamp};
use crate::plan::{self, Plan, Warning};
use crate::secrets;
pub use crate::target::AnyTarget;
use crate::target::native::http::Http;
use crate::target::native::sandbox::Sandbox;
use crate::target::{Endpoint, ErrorKind, Ownership, Target, TargetError};
use crate::validate::Checked;

/// A pipeline failure, with a hint for the person at the terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PipelineError {
    pub message: String,
    pub hint: Option<String>,
}

impl PipelineError {
    fn new(message: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

impl From<TargetError> for PipelineError {
    fn from(e: TargetError) -> Self {
        let hint = match e.kind {
            ErrorKind::Unavailable => Some("check the endpoint and that the platform is up"),
            ErrorKind::Unauthorized => Some("set TENET_TOKEN to a token for this platform"),
            ErrorKind::Forbidden => Some("this needs a token with write scope"),
            _ => None,
        };
        PipelineError::new(format!("the platform refused: {}", e.message), hint)
    }
}

/// The endpoint to use: `--endpoint`, else `TENET_ENDPOINT`, else the
/// files'. Returns it as written (without user-info) and parsed; relative sandbox paths from the
/// files are relative to the config root, from elsewhere to the current
/// directory.
pub fn endpoint(
    flag: Option<&str>,
    config_endpoint: Option<&str>,
    root: &Path,
) -> Result<(String, Endpoint), PipelineError> {
    let from_env = std::env::var("TENET_ENDPOINT")
        .ok()
        .filter(|s| !s.is_empty());
    let (text, base): (String, PathBuf) = match (flag, from_env, config_endpoint) {
        (Some(f), _, _) => (f.to_owned(), PathBuf::from(".")),
        (None, Some(e), _) => (e, PathBuf::from(".")),
        // A relative sandbox path in the files is relative to the config
        // root; spell it from the current directory, so a saved plan names
        // the same database wherever it is applied from.
        (None, None, Some(c)) => match c.strip_prefix("sandbox:").map(Path::new) {
            Some(p) if p.is_relative() && !p.as_os_str().is_empty() => (
                format!("sandbox:{}", root.join(p).display()),
                PathBuf::from("."),
            ),
            _ => (c.to_owned(), root.to_path_buf()),
        },
        (None, None, None) => {
            return Err(PipelineError::new(
                "no platform endpoint",
                Some(
                    "set [platform] endpoint in tenet.toml, TENET_ENDPOINT, or pass --endpoint (sandbox:PATH, an https:// URL, scim+https://HOST/BASE or openwebui+https://HOST)",
                ),
            ));
        }
    };
    let parsed = Endpoint::parse(&text, &base).map_err(|e| PipelineError::new(e, None))?;
    // As written, but never with user-info: this text goes into plans and
    // output.
    Ok((crate::target::without_credentials(&text), parsed))
}

/// Connects to the endpoint. The sandbox is created on first use with the
/// config's profile; HTTP uses `TENET_TOKEN`.
pub fn connect(
    text: &str,
    endpoint: &Endpoint,
    profile: crate::model::Profile,
) -> Result<AnyTarget, PipelineError> {
    match endpoint {
        Endpoint::Sandbox(path) => Sandbox::open(text, path, profile)
            .map(|s| AnyTarget::Sandbox(Box::new(s)))
            .map_err(|e| {
                PipelineError::new(
                    format!(
                        "cannot open the sandbox platform at {}: {}",
                        path.display(),
                        e.message
                    ),
                    None,
                )
            }),
        Endpoint::Http(base) => {
            let token = std::env::var("TENET_TOKEN").ok().filter(|t| !t.is_empty());
            Http::new(text, base, token)
                .map(AnyTarget::Http)
                .map_err(PipelineError::from)
        }
        Endpoint::Scim(base) => {
            let token = std::env::var("TENET_TOKEN").ok().filter(|t| !t.is_empty());
            crate::target::scim::Scim::new(text, base, token, profile)
                .map(|t| AnyTarget::Scim(Box::new(t)))
                .map_err(PipelineError::from)
        }
        Endpoint::OpenWebUi(base) => {
            let token = std::env::var("TENET_TOKEN").ok().filter(|t| !t.is_empty());
            crate::target::openwebui::OpenWebUi::new(text, base, token)
                .map(|t| AnyTarget::OpenWebUi(Box::new(t)))
                .map_err(PipelineError::from)
        }
    }
}

/// Adds an error for everything the files declare that the platform they
/// are for cannot hold. Without an endpoint anywhere there is nothing to
/// check against; a bad one is an error.
pub fn fit(checked: &mut Checked, flag: Option<&str>, root: &Path) -> Result<(), PipelineError> {
    let configured = checked.config.platform.endpoint.as_deref();
    let from_env = std::env::var("TENET_ENDPOINT").is_ok_and(|e| !e.is_empty());
    if flag.is_none() && configured.is_none() && !from_env {
        return Ok(());
    }
    let (_, endpoint) = match endpoint(flag, configured, root) {
        Ok(e) => e,
        // The files' own endpoint: a problem at its line, like any other.
        Err(e) if flag.is_none() && !from_env => {
            let d = crate::diagnostic::Diagnostic::error(
                "tenet::platform::endpoint",
                format!("[platform] endpoint: {}", e.message),
            )
            .with_help_opt(e.hint.or_else(|| {
                Some("write sandbox:PATH, an https:// URL of the platform API, scim+https://HOST/BASE or openwebui+https://HOST".to_owned())
            }));
            let d = match &checked.loaded.document.platform {
                Some(p) => {
                    let pointer = crate::config::spans::push(&p.pointer, "endpoint");
                    d.with_label(
                        p.file,
                        checked.loaded.value_span(p.file, &pointer),
                        "not an endpoint",
                    )
                }
                None => d,
            };
            // Once is enough: the schema may have refused the value already.
            let said = d.labels.first().is_some_and(|m| {
                checked.diagnostics.iter().any(|o| {
                    o.is_error()
                        && o.labels
                            .first()
                            .is_some_and(|l| l.file == m.file && l.span == m.span)
                })
            });
            if !said {
                checked.diagnostics.push(d);
            }
            crate::diagnostic::sort(&mut checked.diagnostics);
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let caps = endpoint.capabilities();
    if !caps.holds(Kind::Assignments) {
        // Which models a workspace may use is not this platform's business.
        checked
            .diagnostics
            .retain(|d| d.code != "tenet::workspace::no-model");
    }
    let items = endpoint.unholdable(&checked.config);
    if items.is_empty() {
        return Ok(());
    }
    let platform = endpoint.capabilities().platform;
    checked.diagnostics.extend(crate::validate::fit::unholdable(
        &checked.loaded,
        platform,
        &items,
    ));
    crate::diagnostic::sort(&mut checked.diagnostics);
    Ok(())
}

/// Desired secret fingerprints per object with secrets.
pub type Fingerprints = std::collections::BTreeMap<ObjectId, Vec<String>>;

/// Fingerprints of the files' secrets (provider keys, client secrets), to
/// compare them with the live ones. A reference that cannot be resolved
/// here (a pull request plan or a drift check has no secrets) is a
/// warning, and that object's secrets are not compared; `apply` resolves
/// again and fails on it unless the target is the sandbox (which never
/// calls out with them).
pub fn fingerprints(checked: &Checked, sandbox: bool) -> (Fingerprints, Vec<Warning>) {
    let mut out = std::collections::BTreeMap::new();
    let mut warnings = Vec::new();
    for (id, refs) in checked.config.state.secret_sites() {
        let mut prints = Vec::new();
        let mut complete = true;
        for r in refs {
            match secrets::resolve(r) {
                Ok(v) => prints.push(secrets::fingerprint(&v)),
                Err(e) => {
                    complete = false;
                    let consequence = if sandbox {
                        format!("the sandbox gets no secret from `{r}`")
                    } else {
                        format!("secrets are not compared; apply needs `{r}`")
                    };
                    warnings.push(Warning {
                        code: "secret-unresolved".to_owned(),
                        message: format!("{e}; {consequence}"),
                        object: Some(id.clone()),
                    });
                }
            }
        }
        if complete {
            out.insert(id, prints);
        }
    }
    (out, warnings)
}

/// Whether a change sends an object's secrets: a creation, or new ones.
fn sends_keys(c: &diff::Change) -> bool {
    c.object.secret_field().is_some_and(|field| {
        c.action == diff::Action::Create || c.fields.iter().any(|f| f.field == field)
    })
}

/// The branding images a plan sends, by digest, read from the config tree
/// as it is now; an image the plan names by a digest no file of the tree
/// has any more (edited since the plan) refuses the apply.
pub fn blobs_for_plan(
    plan: &Plan,
    checked: &Checked,
) -> Result<crate::apply::Blobs, PipelineError> {
    let mut have = crate::apply::Blobs::new();
    for bytes in checked.loaded.assets.values().flatten() {
        have.insert(crate::model::image::digest(bytes), bytes.clone());
    }
    let mut blobs = crate::apply::Blobs::new();
    let mut missing = Vec::new();
    for c in &plan.changes {
        for (slot, digest) in crate::apply::images_sent(&c.change) {
            match have.get(digest) {
                Some(bytes) => {
                    blobs.insert(digest.clone(), bytes.clone());
                }
                None => missing.push(format!("branding.{} ({digest})", slot.field())),
            }
        }
    }
    if missing.is_empty() {
        Ok(blobs)
    } else {
        Err(PipelineError::new(
            format!(
                "the plan sets branding images the config tree no longer has, so nothing was changed: {}",
                missing.join(", ")
            ),
            Some("an image file changed since the plan was made: run tenet plan again"),
        ))
    }
}

/// Resolves the keys of every provider a plan creates or re-keys, and
/// refuses a key whose value is not the one the plan pinned.
pub fn keys_for_plan(
    plan: &Plan,
    checked: &Checked,
    sandbox: bool,
) -> Result<crate::apply::Keys, PipelineError> {
    let mut keys = crate::apply::Keys::new();
    let mut errors = Vec::new();
    for c in &plan.changes {
        let Some(desired) = &c.change.desired else {
            continue;
        };
        if !sends_keys(&c.change) {
            continue;
        }
        // The plan's references, resolved now (the plan holds no values).
        let id = &c.change.object;
        let refs = checked
            .config
            .state
            .secret_refs(id)
            .unwrap_or_else(|| desired.secret_refs());
        let mut values = Vec::new();
        for r in refs {
            match secrets::resolve(r) {
                Ok(v) => values.push(v),
                Err(_) if sandbox => {}
                Err(e) => errors.push(format!("{}: {e}", id.secret_site())),
            }
        }
        // Pinned: the values must be the ones the plan was made with.
        if let Some(pinned) = plan.secret_fingerprints.get(id)
            && values.len() == refs.len()
        {
            let now: Vec<String> = values.iter().map(|v| secrets::fingerprint(v)).collect();
            if now != *pinned {
                errors.push(format!(
                    "{}: its secrets resolve to other values than when the plan was made (fingerprints differ)",
                    id.secret_site()
                ));
            }
        }
        keys.insert(id.clone(), values);
    }
    if errors.is_empty() {
        Ok(keys)
    } else {
        Err(PipelineError::new(
            format!(
                "secrets cannot be resolved, so nothing was changed:\n  {}",
                errors.join("\n  ")
            ),
            Some("set the environment variables or files the secret references name"),
        ))
    }
}

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub adopt: bool,
    /// Plan acknowledged drift too (revert it), instead of leaving it alone.
    pub include_acknowledged: bool,
    pub parallelism: usize,
    pub config_root: String,
    pub endpoint: String,
    /// The shard planned (`--only`); the default is the whole platform.
    pub only: crate::model::shard::Shard,
}

/// What a target read: its catalog and live state, and how long it took.
pub struct LiveRead {
    pub catalog: crate::model::Catalog,
    pub live: Live,
    pub took: std::time::Duration,
}

/// Reads a platform's catalog and live state (nothing of the files is
/// needed, so this may run while they load).
pub async fn read_live<T: Target>(
    target: &T,
    parallelism: usize,
) -> Result<LiveRead, PipelineError> {
    let catalog = target.catalog().await?;
    let started = std::time::Instant::now();
    let live = target.read(parallelism.max(1)).await?;
    Ok(LiveRead {
        catalog,
        live,
        took: started.elapsed(),
    })
}

/// Reads the platform and plans what makes it match the files.
pub async fn make_plan<T: Target>(
    target: &T,
    checked: &Checked,
    sandbox: bool,
    opts: &PlanOptions,
) -> Result<(Plan, Live), PipelineError> {
    let read = read_live(target, opts.parallelism).await?;
    make_plan_from(target, checked, sandbox, opts, read).await
}

/// Plans what makes the platform, as read, match the files.
pub async fn make_plan_from<T: Target>(
    target: &T,
    checked: &Checked,
    sandbox: bool,
    opts: &PlanOptions,
    read: LiveRead,
) -> Result<(Plan, Live), PipelineError> {
    let LiveRead {
        catalog,
        live,
        took: read,
    } = read;
    let profile = checked.config.platform.profile;
    if catalog.profile != profile {
        return Err(PipelineError::new(
            format!(
                "the platform speaks the {} catalog, but the config is validated against {profile}",
                catalog.profile
            ),
            Some("set [platform] profile in tenet.toml to match the platform"),
        ));
    }
    let (fingerprints, mut warnings) = fingerprints(checked, sandbox);
    warnings.extend(crate::plan::lifecycle::api_key_warnings(
        &checked.config,
        &crate::drift::today(),
    ));
    warnings.extend(crate::plan::lifecycle::invitation_warnings(
        &checked.config,
        &live,
    ));
    let started = std::time::Instant::now();
    let d = diff::diff(
        &checked.config,
        &live,
        &diff::Options {
            adopt: opts.adopt || checked.config.policy.adopt,
            fingerprints: fingerprints.clone(),
            today: Some(crate::drift::today()),
            unmarked: target
                .capabilities()
                .kinds
                .iter()
                .copied()
                .filter(|k| target.capabilities().ownership(*k) == Ownership::Nowhere)
                .collect(),
        },
    );
    let (d, held) = if opts.include_acknowledged || checked.config.acknowledged.is_empty() {
        (d, Vec::new())
    } else {
        // The audit log tells drift from pending for what is acknowledged
        // (and for the parents of what is gone).
        let today = crate::drift::today();
        let acked: Vec<&diff::Change> = d
            .changes
            .iter()
            .filter(|c| checked.config.acknowledged.contains_key(&c.object))
            .collect();
        let wanted = crate::drift::wanted_events(acked, &[], &live);
        let audit = audit_events(target, wanted, &crate::drift::former(&d.changes)).await?;
        hold_acknowledged(d, checked, &live, &audit, target.capabilities(), &today)
    };
    let unsupported = Kind::ALL
        .into_iter()
        .filter(|k| !target.capabilities().holds(*k))
        .collect();
    let mut plan = plan::build(plan::Inputs {
        config: &checked.config,
        catalog: &catalog,
        live: &live,
        diff: d,
        endpoint: opts.endpoint.clone(),
        config_root: opts.config_root.clone(),
        config_digest: checked.loaded.digest(),
        git: crate::git::info(&checked.loaded.root),
        unsupported,
        warnings,
        capabilities: target.capabilities(),
        held,
        scope: opts.only.clone(),
    });
    plan.options = plan::PlanFlags {
        adopt: opts.adopt,
        include_acknowledged: opts.include_acknowledged,
        only: opts.only.texts(),
    };
    // Pin the secrets the plan sends: their fingerprints, never the values.
    plan.secret_fingerprints = plan
        .changes
        .iter()
        .filter(|c| sends_keys(&c.change))
        .filter_map(|c| {
            let id = &c.change.object;
            fingerprints.get(id).map(|f| (id.clone(), f.clone()))
        })
        .collect();
    tracing::info!(
        objects = plan.live_objects,
        changes = plan.changes.len(),
        read_ms = read.as_millis() as u64,
        diff_and_plan_ms = started.elapsed().as_millis() as u64,
        "planned"
    );
    Ok((plan, live))
}

/// The audit events of `objects`, keyed by object, read under the names
/// they have on the platform now (`former`: a rename not applied yet).
/// Nothing on a target without an audit log.
pub async fn audit_events<T: Target>(
    target: &T,
    objects: std::collections::BTreeSet<ObjectId>,
    former: &crate::model::rename::Renames,
) -> Result<std::collections::BTreeMap<ObjectId, Vec<crate::model::audit::AuditEvent>>, PipelineError>
{
    let mut audit = std::collections::BTreeMap::new();
    if !target.capabilities().audit {
        return Ok(audit);
    }
    for object in objects {
        let events = target.audit(&former.id(&object)).await?;
        audit.insert(object, events);
    }
    Ok(audit)
}

/// The drift report of a plan: its changes and the acknowledged drift it
/// holds back, classified with the audit log, and the access granted
/// outside the files.
pub async fn drift_report<T: Target>(
    target: &T,
    plan: &Plan,
    live: &Live,
    config: &crate::model::Config,
    endpoint: &str,
) -> Result<crate::drift::Report, PipelineError> {
    let changes: Vec<diff::Change> = plan
        .changes
        .iter()
        .map(|c| c.change.clone())
        .chain(plan.acknowledged.iter().map(|h| h.change.clone()))
        .collect();
    let wanted = crate::drift::wanted_events(&changes, &plan.unmanaged_access, live);
    let audit = audit_events(target, wanted, &crate::drift::former(&changes)).await?;
    Ok(crate::drift::report(
        endpoint,
        &changes,
        &plan.unmanaged_access,
        live,
        &config.acknowledged,
        &audit,
        &crate::drift::today(),
        target.capabilities(),
        &config.previously,
    ))
}

/// Takes acknowledged drift out of a diff: a change of an object the files
/// acknowledge until a day not yet passed is held (left alone) when it is
/// drift, or cannot be told from drift on this target; a change the files
/// themselves made (pending) still goes ahead. Changes of objects that
/// cannot exist without a held one (its memberships, its assignments) are
/// held with it.
pub fn hold_acknowledged(
    mut d: diff::Diff,
    checked: &Checked,
    live: &Live,
    audit: &std::collections::BTreeMap<ObjectId, Vec<crate::model::audit::AuditEvent>>,
    caps: &crate::model::capabilities::Capabilities,
    today: &str,
) -> (diff::Diff, Vec<plan::Held>) {
    let acks = &checked.config.acknowledged;
    if acks.is_empty() {
        return (d, Vec::new());
    }
    // A rename not applied yet: the object is live under its old name.
    let former = crate::drift::former(&d.changes);
    let current = |id: &ObjectId| acks.get(id).filter(|a| a.in_force(today));
    let mut held = Vec::new();
    let mut kept = Vec::with_capacity(d.changes.len());
    let mut held_ids = std::collections::BTreeSet::new();
    for c in d.changes {
        let Some(a) = current(&c.object) else {
            kept.push(c);
            continue;
        };
        let events = audit.get(&c.object).map(Vec::as_slice).unwrap_or_default();
        let class = if caps.ownership(c.kind) == Ownership::Labels {
            crate::drift::classify(
                &c,
                &former.id(&c.object),
                live,
                events,
                &checked.config.previously,
            )
        } else {
            crate::drift::Class::Differs
        };
        let gone_with_parent = crate::drift::cascaded(&c.object, live, events, audit).is_some();
        if class == crate::drift::Class::Pending && !gone_with_parent {
            kept.push(c);
            continue;
        }
        held_ids.insert(c.object.clone());
        held.push(plan::Held {
            acknowledgement: a.clone(),
            change: c,
            with: None,
        });
    }
    // What depends on a held object is held with it.
    let mut rest = Vec::with_capacity(kept.len());
    for c in kept {
        let parent = crate::drift::parents(&c.object)
            .into_iter()
            .find(|p| held_ids.contains(p));
        match parent.and_then(|p| current(&p).map(|a| (p, a))) {
            Some((p, a)) => held.push(plan::Held {
                acknowledgement: a.clone(),
                change: c,
                with: Some(p),
            }),
            None => rest.push(c),
        }
    }
    d.changes = rest;
    (d, held)
}

/// One object that moved on the platform since a plan was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub line: String,
    /// The platform already holds what this plan's change of it writes:
    /// the plan (or one just like it) was applied.
    pub by_this_plan: bool,
}

/// What moved on the platform since `plan` was made: objects whose version
/// changed, that appeared where the plan creates one, or that vanished,
/// each marked when what moved it is this plan's own change.
pub fn moved(plan: &Plan, live: &Live) -> Vec<Moved> {
    let mut out = Vec::new();
    // What the changes write: each against the stamp it was planned with.
    for c in &plan.changes {
        let Some(v) = &c.change.version else {
            continue;
        };
        let id = c.change.from.as_ref().unwrap_or(&c.change.object);
        let line = match live.meta.get(id) {
            Some(m) if m.stamp != *v => format!("{id}: {v} -> {}", m.stamp),
            None => format!("{id}: deleted"),
            _ => continue,
        };
        out.push(Moved {
            line,
            by_this_plan: applied(&c.change, live),
        });
    }
    // Everything else it read: one digest.
    if crate::plan::others_digest(live, &plan.changes) != plan.others_digest {
        out.push(Moved {
            line: format!(
                "objects this plan does not write changed (the plan read {}; their versions differ now)",
                plan.live_objects
            ),
            by_this_plan: false,
        });
    }
    for c in &plan.changes {
        // A create, or a rename, to a name someone else took meanwhile (or
        // this very plan, applied already).
        let makes = matches!(c.change.action, diff::Action::Create | diff::Action::Rename);
        if makes && live.meta.contains_key(&c.change.object) {
            let by_this_plan = applied(&c.change, live);
            out.push(Moved {
                line: format!(
                    "{}: created {}",
                    c.change.object,
                    if by_this_plan {
                        "already"
                    } else {
                        "by someone else"
                    }
                ),
                by_this_plan,
            });
        }
    }
    out.sort_by(|a, b| a.line.cmp(&b.line));
    out.dedup();
    out
}

/// Whether the live platform holds what `c` writes.
fn applied(c: &diff::Change, live: &Live) -> bool {
    use crate::model::live::LAST_APPLIED_LABEL;
    let m = live.meta.get(&c.object);
    match (c.action, m) {
        (diff::Action::Delete, m) => m.is_none(),
        (diff::Action::Archive, _) => match &c.object {
            ObjectId::Workspace(w) => live
                .state
                .workspaces
                .get(w)
                .is_some_and(|w| w.status == crate::model::WorkspaceStatus::Archived),
            _ => false,
        },
        (_, None) => false,
        (_, Some(m)) => match (m.last_applied_text(), &c.desired, &m.stamp) {
            // Our label, and the object still what that label says (not
            // changed by someone since).
            (Some(l), _, _) => {
                c.labels.get(LAST_APPLIED_LABEL) == Some(&l)
                    && crate::model::Object::live(live, &c.object).is_some_and(|o| o.digest() == l)
            }
            (None, Some(d), Stamp::Digest(now)) => *now == d.digest(),
            _ => false,
        },
    }
}

/// A config as if it were live and entirely managed by tenet: the base of a
/// config-terms diff (`plan --base`). Keys are compared by their references.
pub fn live_from_config(config: &crate::model::Config) -> Live {
    use crate::model::live::Meta;
    let s = &config.state;
    let mut live = Live {
        state: s.clone(),
        ..Live::default()
    };
    let managed = |protect: bool| Meta {
        managed: true,
        prevent_destroy: protect,
        ..Meta::new(Stamp::Version(0))
    };
    let mut meta = |id: ObjectId, protect: bool| {
        live.meta.insert(id, managed(protect));
    };
    for (k, w) in &s.workspaces {
        meta(ObjectId::Workspace(k.clone()), w.prevent_destroy);
        meta(ObjectId::Quotas(k.clone()), false);
    }
    for (k, u) in &s.users {
        meta(ObjectId::User(k.clone()), u.prevent_destroy);
    }
    for (k, r) in &s.roles {
        meta(ObjectId::Role(k.clone()), r.prevent_destroy);
    }
    for (k, p) in &s.providers {
        meta(ObjectId::Provider(k.clone()), p.prevent_destroy);
    }
    for (w, u) in s.memberships.keys() {
        meta(ObjectId::Membership(w.clone(), u.clone()), false);
    }
    for (w, p) in s.assignments.keys() {
        meta(ObjectId::Assignment(w.clone(), p.clone()), false);
    }
    meta(ObjectId::Settings, false);
    live.secret_fingerprints = reference_prints(config);
    live
}

/// Fingerprints of the secret *references* (not values), to see in config
/// terms whether an object's secrets changed.
pub fn reference_prints(config: &crate::model::Config) -> Fingerprints {
    config
        .state
        .secret_sites()
        .map(|(id, refs)| {
            let prints = refs
                .iter()
                .map(|r| secrets::fingerprint(&r.to_string()))
                .collect();
            (id, prints)
        })
        .collect()
}

/// What `head` changes relative to `base`, in config terms (no platform).
pub fn config_plan(base: &Checked, head: &Checked, label: &str) -> Plan {
    let live = live_from_config(&base.config);
    let catalog = crate::model::Catalog::builtin(head.config.platform.profile);
    let d = diff::diff(
        &head.config,
        &live,
        &diff::Options {
            adopt: true,
            fingerprints: reference_prints(&head.config),
            today: Some(crate::drift::today()),
            unmarked: Vec::new(),
        },
    );
    plan::build(plan::Inputs {
        config: &head.config,
        catalog,
        live: &live,
        diff: d,
        endpoint: label.to_owned(),
        config_root: head.loaded.root.display().to_string(),
        config_digest: head.loaded.digest(),
        git: crate::git::info(&head.loaded.root),
        unsupported: Vec::new(),
        warnings: Vec::new(),
        // Config terms: as if on the reference platform, which holds all.
        capabilities: &crate::target::native::HTTP,
        held: Vec::new(),
        scope: Default::default(),
    })
}
