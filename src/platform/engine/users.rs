//! Users, keyed by case-folded email. Suspending, inviting or deleting a
//! user is refused when it would leave a workspace without an active
//! administrator. A user made `invited` (created so, or patched) gets an
//! invitation that expires after the engine's time to live (7 days); it
//! can be re-sent while the user is still invited, and accepting it makes
//! the user active.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::keys::is_email;
use super::memberships::{admin_workspaces, other_active_admins};
use super::{
    Actor, Cached, Engine, PageRequest, Tx, check_labels, check_text, check_version, json, page,
    parse, patched, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{Invitation, InvitationRequest, Page, User, UserSpec, UserStatus};

fn resource(email: &str) -> String {
    format!("users/{email}")
}

fn status_text(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Active => "active",
        UserStatus::Suspended => "suspended",
        UserStatus::Invited => "invited",
    }
}

/// A user's columns and its invitation's, if any.
type Row = (
    String,
    String,
    i64,
    String,
    String,
    Option<(Option<String>, String, String, i64, i64)>,
);

const SELECT: &str = "SELECT u.email, u.spec, u.version, u.created_at, u.updated_at,
        i.message, i.sent_at, i.expires_at, i.expires_micros, i.sends
     FROM users u LEFT JOIN invitations i ON i.email = u.email";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let sent_at: Option<String> = r.get(6)?;
    let invitation = match sent_at {
        Some(sent_at) => Some((r.get(5)?, sent_at, r.get(7)?, r.get(8)?, r.get(9)?)),
        None => None,
    };
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        invitation,
    ))
}

fn object(
    (email, spec, version, created_at, updated_at, invitation): Row,
    now_micros: i64,
) -> Result<User, ApiError> {
    Ok(User {
        email,
        spec: parse(&spec)?,
        invitation: invitation.map(
            |(message, sent_at, expires_at, expires, sends)| Invitation {
                message,
                sent_at,
                expires_at,
                expired: expires <= now_micros,
                sends: to_u64(sends),
            },
        ),
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

fn now_micros() -> i64 {
    super::Now::at(std::time::SystemTime::now()).micros
}

pub(crate) fn get(conn: &Connection, email: &str) -> Result<User, ApiError> {
    let r = conn
        .one(&format!("{SELECT} WHERE u.email = ?1"), params![email], row)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("user `{email}`")))?;
    object(r, now_micros())
}

fn check(spec: &UserSpec) -> Result<(), ApiError> {
    check_text("name", &spec.name, 200)?;
    check_labels(&spec.labels)
}

/// Refuses when `email` stopping to act would leave a workspace without an
/// active administrator.
fn guard_admin(t: &Tx<'_>, email: &str, what: &str) -> Result<(), ApiError> {
    for (id, slug) in admin_workspaces(t.tx, t.catalog, email)? {
        if other_active_admins(t.tx, t.catalog, id, email)? == 0 {
            return Err(ApiError::conflict(
                "last-administrator",
                format!(
                    "{what} `{email}` would leave workspace `{slug}` without an active administrator; grant {} to another active member first",
                    t.catalog.administrator_roles.join(" or ")
                ),
            ));
        }
    }
    Ok(())
}

impl Engine {
    pub fn list_users(&self, req: &PageRequest) -> Result<Page<User>, ApiError> {
        let after = req.after()?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{SELECT} WHERE u.email > ?1 ORDER BY u.email LIMIT ?2"
            ))?;
            let now = now_micros();
            let mut items = Vec::new();
            for r in stmt.query_map(params![after, (req.limit + 1) as i64], row)? {
                let u = object(r?, now)?;
                items.push((u.email.clone(), u));
            }
            Ok(page(items, req.limit))
        })
    }

    pub fn get_user(&self, email: &str) -> Result<User, ApiError> {
        self.read(|c| get(c, &email.to_lowercase()))
    }

    pub fn create_user(
        &self,
        actor: &Actor,
        email: &str,
        spec: UserSpec,
        invitation: Option<InvitationRequest>,
    ) -> Result<User, ApiError> {
        if !is_email(email) {
            return Err(ApiError::invalid_value(format!(
                "`{email}` is not a valid email address"
            )));
        }
        let email = email.to_lowercase();
        check(&spec)?;
        if invitation.is_some() && spec.status != UserStatus::Invited {
            return Err(ApiError::invalid_value(
                "an invitation goes only to a user created with status `invited`",
            ));
        }
        let invitation = invitation.unwrap_or_default();
        check_text("invitation.message", &invitation.message, 2000)?;
        self.write(actor, |t| {
            if get(t.tx, &email).is_ok() {
                return Err(ApiError::already_exists(format!("user `{email}`")));
            }
            t.tx.run(
                "INSERT INTO users (email, status, spec, version, created_at, updated_at) VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![email, status_text(spec.status), json(&spec)?, t.now.text],
            )?;
            t.audit("create", &resource(&email), 1, &Value::Null, &serde_json::to_value(&spec)?)?;
            if spec.status == UserStatus::Invited {
                send_invitation(t, &email, 1, &invitation)?;
            }
            get(t.tx, &email)
        })
    }

    pub fn update_user(
        &self,
        actor: &Actor,
        email: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<User, ApiError> {
        let email = email.to_lowercase();
        self.write(actor, |t| {
            let current = get(t.tx, &email)?;
            check_version(&format!("user `{email}`"), if_match, current.version)?;
            let spec: UserSpec = patched(&current.spec, patch)?;
            check(&spec)?;
            change_status(t, &current, &spec)?;
            store(t, &current, &spec, true)?;
            get(t.tx, &email)
        })
    }

    /// Deletes a user and their memberships everywhere.
    pub fn delete_user(
        &self,
        actor: &Actor,
        email: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        let email = email.to_lowercase();
        self.write(actor, |t| {
            let current = get(t.tx, &email)?;
            check_version(&format!("user `{email}`"), if_match, current.version)?;
            if current.spec.status == UserStatus::Active {
                guard_admin(t, &email, "deleting")?;
            }
            t.leave_projects(None, &email)?;
            t.drop_api_keys(None, &email)?;
            t.tx.run(
                "DELETE FROM top_ups WHERE json_extract(spec, '$.user') = ?1",
                params![email],
            )?;
            t.tx.run("DELETE FROM users WHERE email = ?1", params![email])?;
            t.audit(
                "delete",
                &resource(&email),
                0,
                &serde_json::to_value(&current.spec)?,
                &Value::Null,
            )
        })
    }
}

/// Writes `spec` as the user's next version, audited as an update when
/// `audit`; answers the version.
fn store(t: &Tx<'_>, current: &User, spec: &UserSpec, audit: bool) -> Result<u64, ApiError> {
    let version = current.version + 1;
    t.tx.run(
        "UPDATE users SET status = ?1, spec = ?2, version = ?3, updated_at = ?4 WHERE email = ?5",
        params![
            status_text(spec.status),
            json(spec)?,
            version as i64,
            t.now.text,
            current.email
        ],
    )?;
    if audit {
        t.audit(
            "update",
            &resource(&current.email),
            version,
            &serde_json::to_value(&current.spec)?,
            &serde_json::to_value(spec)?,
        )?;
    }
    Ok(version)
}

/// Records (or renews) `email`'s invitation: sent now, valid for the
/// engine's time to live.
fn send_invitation(
    t: &Tx<'_>,
    email: &str,
    sends: i64,
    req: &InvitationRequest,
) -> Result<(), ApiError> {
    let expires = t.now.plus(t.invitation_ttl);
    t.tx.run(
        "INSERT INTO invitations (email, message, sent_at, expires_at, expires_micros, sends)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (email) DO UPDATE SET message = excluded.message, sent_at = excluded.sent_at,
           expires_at = excluded.expires_at, expires_micros = excluded.expires_micros, sends = excluded.sends",
        params![email, req.message, t.now.text, expires.text, expires.micros, sends],
    )?;
    t.audit(
        "invite",
        &format!("{}/invitation", resource(email)),
        to_u64(sends),
        &Value::Null,
        &serde_json::json!({"message": req.message, "expires_at": expires.text}),
    )
}

/// The rules of a status change: an active user who stops being active
/// (suspended, or invited) stops administering only when another active
/// administrator remains; becoming invited sends an invitation, leaving
/// invited drops it.
fn change_status(t: &Tx<'_>, current: &User, spec: &UserSpec) -> Result<(), ApiError> {
    let (from, to) = (current.spec.status, spec.status);
    if from == to {
        return Ok(());
    }
    if from == UserStatus::Active {
        let what = match to {
            UserStatus::Invited => "inviting",
            _ => "suspending",
        };
        guard_admin(t, &current.email, what)?;
    }
    if from == UserStatus::Invited {
        t.tx.run(
            "DELETE FROM invitations WHERE email = ?1",
            params![current.email],
        )?;
    }
    if to == UserStatus::Invited {
        send_invitation(t, &current.email, 1, &InvitationRequest::default())?;
    }
    Ok(())
}

impl Engine {
    /// Re-sends the invitation of a user still invited (with a new expiry
    /// and the message given), applying `patch` (a merge patch of the
    /// user's fields, its `invitation` member the request) in the same
    /// write.
    pub fn resend_invitation(
        &self,
        actor: &Actor,
        email: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<User, ApiError> {
        let email = email.to_lowercase();
        let mut patch = patch.clone();
        let req: InvitationRequest =
            match patch.as_object_mut().and_then(|m| m.remove("invitation")) {
                Some(v) => serde_json::from_value(v)
                    .map_err(|e| ApiError::invalid_body(format!("invitation: {e}")))?,
                None => InvitationRequest::default(),
            };
        check_text("invitation.message", &req.message, 2000)?;
        self.write(actor, |t| {
            let current = get(t.tx, &email)?;
            check_version(&format!("user `{email}`"), if_match, current.version)?;
            let Some(sent) = &current.invitation else {
                return Err(ApiError::conflict(
                    "not-invited",
                    format!(
                        "user `{email}` is {}: only an invited user's invitation can be re-sent",
                        status_text(current.spec.status)
                    ),
                ));
            };
            let spec: UserSpec = patched(&current.spec, &patch)?;
            check(&spec)?;
            if spec.status != UserStatus::Invited {
                return Err(ApiError::invalid_value(
                    "a re-sent invitation keeps the user `invited`",
                ));
            }
            store(t, &current, &spec, spec != current.spec)?;
            send_invitation(
                t,
                &email,
                i64::try_from(sent.sends)
                    .unwrap_or(i64::MAX)
                    .saturating_add(1),
                &req,
            )?;
            get(t.tx, &email)
        })
    }

    /// What the invitee's link does: an invited user becomes active.
    pub fn accept_invitation(&self, actor: &Actor, email: &str) -> Result<User, ApiError> {
        let email = email.to_lowercase();
        self.write(actor, |t| {
            let current = get(t.tx, &email)?;
            match &current.invitation {
                None => {
                    return Err(ApiError::conflict(
                        "not-invited",
                        format!("user `{email}` has no pending invitation"),
                    ));
                }
                Some(i) if i.expired => {
                    return Err(ApiError::conflict(
                        "invitation-expired",
                        format!(
                            "the invitation of `{email}` expired at {}: it must be re-sent",
                            i.expires_at
                        ),
                    ));
                }
                Some(_) => {}
            }
            let spec = UserSpec {
                status: UserStatus::Active,
                ..current.spec.clone()
            };
            t.tx.run("DELETE FROM invitations WHERE email = ?1", params![email])?;
            let version = store(t, &current, &spec, false)?;
            t.audit(
                "accept",
                &format!("{}/invitation", resource(&email)),
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
            get(t.tx, &email)
        })
    }
}
