//! The sandbox target: the reference platform engine opened in-process from
//! `sandbox:PATH` (created on first use). No HTTP, no tokens, the same rules
//! and the same audit log, with actor `local`.

use std::time::Duration;

use serde_json::Value;

use super::convert::{self, LiveBuilder, Op};
use crate::model::audit::AuditEvent;
use crate::model::{Catalog, Labels, Live, Meta, ObjectId, Profile, Stamp};
use crate::platform::ApiError;
use crate::platform::engine::{Actor, Engine, PageRequest};
use crate::target::{Capabilities, ErrorKind, Target, TargetError, Write};
use crate::wire;

pub struct Sandbox {
    endpoint: String,
    engine: Engine,
    actor: Actor,
}

impl Sandbox {
    /// Opens (or creates) the sandbox platform at `path`.
    pub fn open(
        endpoint: &str,
        path: &std::path::Path,
        profile: Profile,
    ) -> Result<Sandbox, TargetError> {
        let platform_profile = convert::wire_profile(profile).ok_or_else(|| {
            TargetError::new(
                ErrorKind::Rejected,
                format!(
                    "the sandbox platform has no {profile} profile: it is created with {}",
                    wire::Profile::ALL.map(wire::Profile::as_str).join(" or ")
                ),
            )
        })?;
        let engine = Engine::open(path, Some(platform_profile))?;
        Ok(Sandbox {
            endpoint: endpoint.to_owned(),
            engine,
            actor: Actor::local(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Every page of a list, each item handed to `sink` as its page is read
/// (no list of the whole collection is kept).
fn each<T>(
    mut f: impl FnMut(&PageRequest) -> Result<wire::Page<T>, ApiError>,
    mut sink: impl FnMut(T),
) -> Result<(), ApiError> {
    let mut req = PageRequest {
        limit: crate::platform::engine::MAX_LIMIT,
        cursor: None,
    };
    loop {
        let page = f(&req)?;
        page.items.into_iter().for_each(&mut sink);
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => return Ok(()),
        }
    }
}

fn strict<T: serde::Serialize + serde::de::DeserializeOwned>(v: &Value) -> Result<T, ApiError> {
    wire::strict(v).map_err(|e| ApiError::invalid_body(e.to_string()))
}

fn key(body: &Value, field: &'static str) -> Result<(String, Value), ApiError> {
    wire::split_key(body, field).map_err(|e| ApiError::invalid_body(e.to_string()))
}

impl Sandbox {
    fn read_all(&self) -> Result<Live, ApiError> {
        let e = &self.engine;
        // The collections across workspaces: a range scan per page, not
        // four queries per workspace; each page normalized as it is read.
        let mut b = LiveBuilder::default();
        each(|r| e.list_workspaces(r), |x| b.workspace(x))?;
        each(|r| e.list_users(r), |x| b.user(x))?;
        each(|r| e.list_roles(r), |x| b.role(x))?;
        each(|r| e.list_providers(r), |x| b.provider(x))?;
        each(|r| e.list_identity_providers(r), |x| b.identity_provider(x))?;
        b.settings(e.get_settings()?);
        each(|r| e.list_all_quotas(r), |x| b.quotas(x))?;
        each(|r| e.list_all_usage(r), |x| b.usage(x))?;
        each(|r| e.list_all_memberships(r), |x| b.membership(x))?;
        each(|r| e.list_all_assignments(r), |x| b.assignment(x))?;
        each(|r| e.list_all_projects(r), |x| b.project(x))?;
        each(|r| e.list_all_member_quotas(r), |x| b.member_quotas(x))?;
        each(|r| e.list_all_top_ups(r), |x| b.top_up(x))?;
        each(|r| e.list_all_api_keys(r), |x| b.api_key(x))?;
        Ok(b.finish())
    }

    /// Routes one write to the engine and hands a secret the platform made
    /// (a new API key's value) to the write's sink.
    fn perform(&self, w: &Write<'_>, op: &Op) -> Result<(), TargetError> {
        for (_, bytes) in w.uploads.iter().flat_map(|u| u.0) {
            self.engine.put_image(&self.actor, bytes)?;
        }
        let value = match self.issue(op)? {
            Some(v) => v,
            None => {
                self.dispatch(op)?;
                None
            }
        };
        match w.sink {
            Some(sink) => sink.deliver(w.object, value.as_deref()),
            None => Ok(()),
        }
    }

    /// The writes that make a secret: an API key created or rotated, and
    /// its value; `None` for every other write.
    fn issue(&self, op: &Op) -> Result<Option<Option<String>>, ApiError> {
        let (e, a) = (&self.engine, &self.actor);
        match op {
            Op::Create { collection, body } => {
                match collection.split('/').collect::<Vec<_>>()[..] {
                    ["workspaces", ws, "api-keys"] => {
                        let (k, rest) = key(body, "id")?;
                        Ok(Some(e.create_api_key(a, ws, &k, strict(&rest)?)?.value))
                    }
                    _ => Ok(None),
                }
            }
            Op::Action {
                resource,
                action: "rotate",
                version,
                body,
            } => match resource.split('/').collect::<Vec<_>>()[..] {
                ["workspaces", ws, "api-keys", k] => {
                    Ok(Some(e.rotate_api_key(a, ws, k, *version, body)?.value))
                }
                _ => Err(ApiError::new(405, "method-not-allowed", "no such rotation")),
            },
            _ => Ok(None),
        }
    }

    /// Routes one write to the engine, as the HTTP server would.
    fn dispatch(&self, op: &Op) -> Result<(), ApiError> {
        let (e, a) = (&self.engine, &self.actor);
        let seg: Vec<&str> = match op {
            Op::Create { collection, .. } => collection.split('/').collect(),
            Op::Patch { resource, .. }
            | Op::Put { resource, .. }
            | Op::Delete { resource, .. }
            | Op::Action { resource, .. } => resource.split('/').collect(),
        };
        match (op, seg.as_slice()) {
            (Op::Create { body, .. }, ["workspaces"]) => {
                let (k, rest) = key(body, "slug")?;
                e.create_workspace(a, &k, strict(&rest)?).map(drop)
            }
            (Op::Create { body, .. }, ["users"]) => {
                let (k, rest) = key(body, "email")?;
                let c: crate::wire::CreateUser = strict(&rest)?;
                e.create_user(a, &k, c.spec, c.invitation).map(drop)
            }
            (Op::Create { body, .. }, ["roles"]) => {
                let (k, rest) = key(body, "id")?;
                e.create_role(a, &k, strict(&rest)?).map(drop)
            }
            (Op::Create { body, .. }, ["providers"]) => {
                let (k, mut rest) = key(body, "name")?;
                let keys: Vec<String> =
                    match rest.as_object_mut().and_then(|m| m.remove("api_keys")) {
                        Some(v) => serde_json::from_value(v)
                            .map_err(|_| ApiError::invalid_body("api_keys must be strings"))?,
                        None => Vec::new(),
                    };
                e.create_provider(a, &k, strict(&rest)?, &keys).map(drop)
            }
            (Op::Create { body, .. }, ["identity-providers"]) => {
                let (k, mut rest) = key(body, "name")?;
                let secret = match rest.as_object_mut().and_then(|m| m.remove("client_secret")) {
                    Some(Value::String(v)) => Some(v),
                    None | Some(Value::Null) => None,
                    Some(_) => {
                        return Err(ApiError::invalid_body("client_secret must be a string"));
                    }
                };
                e.create_identity_provider(a, &k, strict(&rest)?, secret.as_deref())
                    .map(drop)
            }
            (Op::Patch { version, body, .. }, ["identity-providers", i]) => {
                e.update_identity_provider(a, i, *version, body).map(drop)
            }
            (Op::Delete { version, .. }, ["identity-providers", i]) => {
                e.delete_identity_provider(a, i, *version)
            }
            (Op::Create { body, .. }, ["workspaces", ws, "memberships"]) => {
                let (k, rest) = key(body, "user")?;
                e.create_membership(a, ws, &k, strict(&rest)?).map(drop)
            }
            (Op::Create { body, .. }, ["workspaces", ws, "assignments"]) => {
                let (k, rest) = key(body, "provider")?;
                e.create_assignment(a, ws, &k, strict(&rest)?).map(drop)
            }
            (Op::Create { body, .. }, ["workspaces", ws, "projects"]) => {
                let (k, rest) = key(body, "slug")?;
                e.create_project(a, ws, &k, strict(&rest)?).map(drop)
            }
            (Op::Patch { version, body, .. }, ["workspaces", ws, "projects", p]) => {
                e.update_project(a, ws, p, *version, body).map(drop)
            }
            (Op::Delete { version, .. }, ["workspaces", ws, "projects", p]) => {
                e.delete_project(a, ws, p, *version)
            }
            (Op::Put { version, body, .. }, ["workspaces", ws, "member-quotas", u]) => e
                .put_member_quotas(a, ws, u, *version, strict(body)?)
                .map(drop),
            (Op::Create { body, .. }, ["workspaces", ws, "top-ups"]) => {
                let (k, rest) = key(body, "id")?;
                e.create_top_up(a, ws, &k, strict(&rest)?).map(drop)
            }
            (Op::Patch { version, body, .. }, ["workspaces", ws, "top-ups", t]) => {
                e.update_top_up(a, ws, t, *version, body).map(drop)
            }
            (Op::Delete { version, .. }, ["workspaces", ws, "top-ups", t]) => {
                e.delete_top_up(a, ws, t, *version)
            }
            (Op::Patch { version, body, .. }, ["workspaces", ws, "api-keys", k]) => {
                e.update_api_key(a, ws, k, *version, body).map(drop)
            }
            (Op::Delete { version, .. }, ["workspaces", ws, "api-keys", k]) => {
                e.delete_api_key(a, ws, k, *version)
            }
            (Op::Patch { version, body, .. }, ["workspaces", ws]) => {
                e.update_workspace(a, ws, *version, body).map(drop)
            }
            (Op::Patch { version, body, .. }, ["users", u]) => {
                e.update_user(a, u, *version, body).map(drop)
            }
            (Op::Patch { version, body, .. }, ["roles", r]) => {
                e.update_role(a, r, *version, body).map(drop)
            }
            (Op::Patch { version, body, .. }, ["providers", p]) => {
                e.update_provider(a, p, *version, body).map(drop)
            }
            (Op::Patch { version, body, .. }, ["workspaces", ws, "memberships", u]) => {
                e.update_membership(a, ws, u, *version, body).map(drop)
            }
            (Op::Patch { version, body, .. }, ["workspaces", ws, "assignments", p]) => {
                e.update_assignment(a, ws, p, *version, body).map(drop)
            }
            (Op::Put { version, body, .. }, ["workspaces", ws, "quotas"]) => {
                e.put_quotas(a, ws, *version, strict(body)?).map(drop)
            }
            (Op::Put { version, body, .. }, ["settings"]) => {
                e.put_settings(a, *version, strict(body)?).map(drop)
            }
            (Op::Delete { version, .. }, ["workspaces", ws]) => e.delete_workspace(a, ws, *version),
            (Op::Delete { version, .. }, ["users", u]) => e.delete_user(a, u, *version),
            (
                Op::Action {
                    action: "invitation",
                    version,
                    body,
                    ..
                },
                ["users", u],
            ) => e.resend_invitation(a, u, *version, body).map(drop),
            (Op::Delete { version, .. }, ["roles", r]) => e.delete_role(a, r, *version),
            (Op::Delete { version, .. }, ["providers", p]) => e.delete_provider(a, p, *version),
            (Op::Delete { version, .. }, ["workspaces", ws, "memberships", u]) => {
                e.delete_membership(a, ws, u, *version)
            }
            (Op::Delete { version, .. }, ["workspaces", ws, "assignments", p]) => {
                e.delete_assignment(a, ws, p, *version)
            }
            _ => Err(ApiError::new(
                405,
                "method-not-allowed",
                format!("no such write: {op:?}"),
            )),
        }
    }

    fn probe_now(&self, id: &ObjectId) -> Result<Option<Meta>, ApiError> {
        let e = &self.engine;
        let r: Result<(u64, Labels), ApiError> = match id {
            ObjectId::Workspace(ws) => e
                .get_workspace(ws.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::Quotas(ws) => e
                .get_quotas(ws.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::Membership(ws, u) => e
                .get_membership(ws.as_str(), u.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::Assignment(ws, p) => e
                .get_assignment(ws.as_str(), p.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::Project(ws, p) => e
                .get_project(ws.as_str(), p.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::MemberQuotas(ws, u) => e
                .get_member_quotas(ws.as_str(), u.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::TopUp(ws, t) => e
                .get_top_up(ws.as_str(), t.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::ApiKey(ws, k) => e
                .get_api_key(ws.as_str(), k.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::User(u) => e.get_user(u.as_str()).map(|o| (o.version, o.spec.labels)),
            ObjectId::Role(r) => e.get_role(r.as_str()).map(|o| (o.version, o.spec.labels)),
            ObjectId::Provider(p) => e
                .get_provider(p.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::IdentityProvider(i) => e
                .get_identity_provider(i.as_str())
                .map(|o| (o.version, o.spec.labels)),
            ObjectId::Settings => e.get_settings().map(|o| (o.version, o.spec.labels)),
        };
        match r {
            Ok((version, labels)) => Ok(Some(Meta::from_labels(Stamp::Version(version), &labels))),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Target for Sandbox {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn capabilities(&self) -> &Capabilities {
        &super::SANDBOX
    }

    async fn catalog(&self) -> Result<Catalog, TargetError> {
        Ok(convert::catalog(self.engine.catalog()))
    }

    async fn read(&self, _parallelism: usize) -> Result<Live, TargetError> {
        Ok(self.read_all()?)
    }

    async fn probe(&self, id: &ObjectId) -> Result<Option<Meta>, TargetError> {
        Ok(self.probe_now(id)?)
    }

    async fn audit(&self, id: &ObjectId) -> Result<Vec<AuditEvent>, TargetError> {
        let q = crate::platform::engine::AuditQuery {
            resource: Some(convert::path(id)),
            ..Default::default()
        };
        let mut events = Vec::new();
        each(|r| self.engine.list_audit(&q, r), |e| events.push(e))?;
        Ok(events
            .into_iter()
            .filter_map(convert::audit_event)
            .collect())
    }

    async fn image(&self, digest: &str) -> Result<Option<Vec<u8>>, TargetError> {
        match self.engine.get_image(digest) {
            Ok((_, bytes)) => Ok(Some(bytes)),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn write(&self, w: &Write<'_>) -> Result<(), TargetError> {
        self.perform(w, &convert::op(w))
    }

    /// The writes in one transaction, each in its own savepoint: a refused
    /// write leaves nothing, the others commit together. If the commit
    /// fails, none landed, and each says so.
    async fn write_batch(&self, writes: &[Write<'_>]) -> Vec<Result<(), TargetError>> {
        let ops: Vec<Op> = writes.iter().map(convert::op).collect();
        let run = || -> Vec<Result<(), TargetError>> {
            writes
                .iter()
                .zip(&ops)
                .map(|(w, op)| self.perform(w, op))
                .collect()
        };
        match self.engine.batch(run) {
            Ok(done) => done,
            Err(e) => {
                let e = TargetError::from(e);
                let e = TargetError {
                    message: format!(
                        "not written: the batch of {} writes it was in could not be committed: {}",
                        writes.len(),
                        e.message
                    ),
                    ..e
                };
                writes.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }

    async fn lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<(), TargetError> {
        self.engine
            .acquire_lock(&self.actor, name, holder, ttl.as_secs().max(1))?;
        Ok(())
    }

    async fn renew_lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<(), TargetError> {
        self.engine
            .renew_lock(&self.actor, name, holder, ttl.as_secs().max(1))?;
        Ok(())
    }

    async fn unlock(&self, name: &str, holder: &str) -> Result<(), TargetError> {
        Ok(self.engine.release_lock(&self.actor, name, holder)?)
    }
}
