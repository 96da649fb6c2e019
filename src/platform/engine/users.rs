//! Users, keyed by case-folded email. Suspending or deleting a user is
//! refused when it would leave a workspace without an active administrator.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::keys::is_email;
use super::memberships::{admin_workspaces, other_active_admins};
use super::{
    Actor, Cached, Engine, PageRequest, Tx, check_labels, check_text, check_version, json, page,
    parse, patched, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{Page, User, UserSpec, UserStatus};

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

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, i64, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn object(
    (email, spec, version, created_at, updated_at): (String, String, i64, String, String),
) -> Result<User, ApiError> {
    Ok(User {
        email,
        spec: parse(&spec)?,
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

pub(crate) fn get(conn: &Connection, email: &str) -> Result<User, ApiError> {
    let r = conn
        .one(
            "SELECT email, spec, version, created_at, updated_at FROM users WHERE email = ?1",
            params![email],
            row,
        )
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("user `{email}`")))?;
    object(r)
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
            let mut stmt = c.prepare_cached(
                "SELECT email, spec, version, created_at, updated_at FROM users
                 WHERE email > ?1 ORDER BY email LIMIT ?2",
            )?;
            let mut items = Vec::new();
            for r in stmt.query_map(params![after, (req.limit + 1) as i64], row)? {
                let u = object(r?)?;
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
    ) -> Result<User, ApiError> {
        if !is_email(email) {
            return Err(ApiError::invalid_value(format!(
                "`{email}` is not a valid email address"
            )));
        }
        let email = email.to_lowercase();
        check(&spec)?;
        self.write(actor, |t| {
            if get(t.tx, &email).is_ok() {
                return Err(ApiError::already_exists(format!("user `{email}`")));
            }
            t.tx.run(
                "INSERT INTO users (email, status, spec, version, created_at, updated_at) VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![email, status_text(spec.status), json(&spec)?, t.now.text],
            )?;
            t.audit("create", &resource(&email), 1, &Value::Null, &serde_json::to_value(&spec)?)?;
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
            if current.spec.status == UserStatus::Active && spec.status != UserStatus::Active {
                guard_admin(t, &email, "suspending")?;
            }
            let version = current.version + 1;
            t.tx.run(
                "UPDATE users SET status = ?1, spec = ?2, version = ?3, updated_at = ?4 WHERE email = ?5",
                params![status_text(spec.status), json(&spec)?, version as i64, t.now.text, email],
            )?;
            t.audit(
                "update",
                &resource(&email),
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
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
