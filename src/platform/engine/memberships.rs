//! Memberships: a user's roles in a workspace. A membership needs an existing
//! user and existing roles, respects the workspace's `max_users`, and no
//! change may leave a workspace that has an active administrator without one.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::CatalogRules;
use super::workspaces::{max_users, member_count, workspace_id};
use super::{
    Actor, Cached, Engine, PageRequest, Tx, check_labels, check_version, json, page, parse,
    patched, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{Catalog, Membership, MembershipSpec, Page};

fn resource(slug: &str, email: &str) -> String {
    format!("workspaces/{slug}/memberships/{email}")
}

fn admin_roles(catalog: &Catalog) -> Result<String, ApiError> {
    Ok(serde_json::to_string(&catalog.administrator_roles)?)
}

/// Active administrators of workspace `id` other than `email`.
pub(crate) fn other_active_admins(
    conn: &Connection,
    catalog: &Catalog,
    id: i64,
    email: &str,
) -> Result<u64, ApiError> {
    let n: i64 = conn.one(
        "SELECT COUNT(DISTINCT mr.user_email) FROM membership_roles mr
         JOIN users u ON u.email = mr.user_email
         WHERE mr.workspace_id = ?1 AND mr.user_email <> ?2 AND u.status = 'active'
           AND mr.role IN (SELECT value FROM json_each(?3))",
        params![id, email, admin_roles(catalog)?],
        |r| r.get(0),
    )?;
    Ok(to_u64(n))
}

/// Workspaces (id, slug) where `email` holds an administrator role.
pub(crate) fn admin_workspaces(
    conn: &Connection,
    catalog: &Catalog,
    email: &str,
) -> Result<Vec<(i64, String)>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT w.id, w.slug FROM membership_roles mr
         JOIN workspaces w ON w.id = mr.workspace_id
         WHERE mr.user_email = ?1 AND mr.role IN (SELECT value FROM json_each(?2))
         ORDER BY w.slug",
    )?;
    let rows = stmt
        .query_map(params![email, admin_roles(catalog)?], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn is_active(conn: &Connection, email: &str) -> Result<bool, ApiError> {
    let status: Option<String> = conn
        .one(
            "SELECT status FROM users WHERE email = ?1",
            params![email],
            |r| r.get(0),
        )
        .optional()?;
    Ok(status.as_deref() == Some("active"))
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, i64, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn object(
    slug: &str,
    (user, spec, version, created_at, updated_at): (String, String, i64, String, String),
) -> Result<Membership, ApiError> {
    Ok(Membership {
        workspace: slug.to_owned(),
        user,
        spec: parse(&spec)?,
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

pub(crate) fn get(conn: &Connection, slug: &str, email: &str) -> Result<Membership, ApiError> {
    let id = workspace_id(conn, slug)?;
    let r = conn
        .one(
            "SELECT user_email, spec, version, created_at, updated_at FROM memberships
             WHERE workspace_id = ?1 AND user_email = ?2",
            params![id, email],
            row,
        )
        .optional()?
        .ok_or_else(|| {
            ApiError::not_found(format!("membership of `{email}` in workspace `{slug}`"))
        })?;
    object(slug, r)
}

impl Tx<'_> {
    fn check_membership(&self, spec: &MembershipSpec) -> Result<(), ApiError> {
        check_labels(&spec.labels)?;
        if spec.roles.is_empty() {
            return Err(ApiError::invalid_value(
                "a membership needs at least one role",
            ));
        }
        let mut seen = BTreeSet::new();
        for r in &spec.roles {
            if !seen.insert(r) {
                return Err(ApiError::invalid_value(format!(
                    "role `{r}` is listed twice"
                )));
            }
            if self
                .catalog
                .roles
                .iter()
                .any(|b| b.id == *r && b.scope == crate::wire::RoleScope::Project)
            {
                return Err(ApiError::invalid_reference(format!(
                    "`{r}` is a project role: a workspace member holds workspace roles, and project roles in a project's members"
                )));
            }
            if !super::roles::exists(self.tx, self.catalog, r)? {
                return Err(ApiError::invalid_reference(format!(
                    "role `{r}` does not exist"
                )));
            }
        }
        Ok(())
    }

    fn set_roles(&self, id: i64, email: &str, roles: &[String]) -> Result<(), ApiError> {
        self.tx.run(
            "DELETE FROM membership_roles WHERE workspace_id = ?1 AND user_email = ?2",
            params![id, email],
        )?;
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO membership_roles (workspace_id, user_email, role) VALUES (?1, ?2, ?3)",
        )?;
        for r in roles {
            stmt.execute(params![id, email, r])?;
        }
        Ok(())
    }

    /// Refuses when `email` losing its administrator roles in workspace `id`
    /// would leave it without an active administrator.
    fn guard_last_admin(
        &self,
        id: i64,
        slug: &str,
        email: &str,
        old: &[String],
        new: &[String],
    ) -> Result<(), ApiError> {
        let admin = |roles: &[String]| roles.iter().any(|r| self.catalog.is_administrator_role(r));
        if admin(old)
            && !admin(new)
            && is_active(self.tx, email)?
            && other_active_admins(self.tx, self.catalog, id, email)? == 0
        {
            return Err(ApiError::conflict(
                "last-administrator",
                format!(
                    "`{email}` is the last active administrator of workspace `{slug}`; grant {} to another active member first",
                    self.catalog.administrator_roles.join(" or ")
                ),
            ));
        }
        Ok(())
    }
}

impl Engine {
    pub fn list_memberships(
        &self,
        slug: &str,
        req: &PageRequest,
    ) -> Result<Page<Membership>, ApiError> {
        let after = req.after()?;
        self.read(|c| {
            let id = workspace_id(c, slug)?;
            let mut stmt = c.prepare_cached(
                "SELECT user_email, spec, version, created_at, updated_at FROM memberships
                 WHERE workspace_id = ?1 AND user_email > ?2 ORDER BY user_email LIMIT ?3",
            )?;
            let mut items = Vec::new();
            for r in stmt.query_map(params![id, after, (req.limit + 1) as i64], row)? {
                let m = object(slug, r?)?;
                items.push((m.user.clone(), m));
            }
            Ok(page(items, req.limit))
        })
    }

    pub fn get_membership(&self, slug: &str, email: &str) -> Result<Membership, ApiError> {
        self.read(|c| get(c, slug, &email.to_lowercase()))
    }

    pub fn create_membership(
        &self,
        actor: &Actor,
        slug: &str,
        email: &str,
        spec: MembershipSpec,
    ) -> Result<Membership, ApiError> {
        let email = email.to_lowercase();
        self.write(actor, |t| {
            let id = t.workspace_id(slug)?;
            if super::users::get(t.tx, &email).is_err() {
                return Err(ApiError::invalid_reference(format!("user `{email}` does not exist; create the user first")));
            }
            t.check_membership(&spec)?;
            if get(t.tx, slug, &email).is_ok() {
                return Err(ApiError::already_exists(format!("membership of `{email}` in workspace `{slug}`")));
            }
            if let Some(max) = max_users(t.tx, id)?
                && member_count(t.tx, id)? >= max
            {
                return Err(ApiError::conflict(
                    "quota-exceeded",
                    format!("workspace `{slug}` already has its maximum of {max} members (quota max_users)"),
                ));
            }
            t.tx.run(
                "INSERT INTO memberships (workspace_id, user_email, spec, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![id, email, json(&spec)?, t.now.text],
            )?;
            t.set_roles(id, &email, &spec.roles)?;
            t.audit("create", &resource(slug, &email), 1, &Value::Null, &serde_json::to_value(&spec)?)?;
            get(t.tx, slug, &email)
        })
    }

    pub fn update_membership(
        &self,
        actor: &Actor,
        slug: &str,
        email: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<Membership, ApiError> {
        let email = email.to_lowercase();
        self.write(actor, |t| {
            let current = get(t.tx, slug, &email)?;
            check_version(&format!("membership of `{email}` in workspace `{slug}`"), if_match, current.version)?;
            let spec: MembershipSpec = patched(&current.spec, patch)?;
            t.check_membership(&spec)?;
            let id = t.workspace_id(slug)?;
            t.guard_last_admin(id, slug, &email, &current.spec.roles, &spec.roles)?;
            let version = current.version + 1;
            t.tx.run(
                "UPDATE memberships SET spec = ?1, version = ?2, updated_at = ?3 WHERE workspace_id = ?4 AND user_email = ?5",
                params![json(&spec)?, version as i64, t.now.text, id, email],
            )?;
            t.set_roles(id, &email, &spec.roles)?;
            t.audit(
                "update",
                &resource(slug, &email),
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
            get(t.tx, slug, &email)
        })
    }

    pub fn delete_membership(
        &self,
        actor: &Actor,
        slug: &str,
        email: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        let email = email.to_lowercase();
        self.write(actor, |t| {
            let current = get(t.tx, slug, &email)?;
            check_version(
                &format!("membership of `{email}` in workspace `{slug}`"),
                if_match,
                current.version,
            )?;
            let id = t.workspace_id(slug)?;
            t.guard_last_admin(id, slug, &email, &current.spec.roles, &[])?;
            t.leave_projects(Some(id), &email)?;
            t.drop_top_ups(id, "user", &email)?;
            t.drop_api_keys(Some(id), &email)?;
            t.tx.run(
                "DELETE FROM memberships WHERE workspace_id = ?1 AND user_email = ?2",
                params![id, email],
            )?;
            t.audit(
                "delete",
                &resource(slug, &email),
                0,
                &serde_json::to_value(&current.spec)?,
                &Value::Null,
            )
        })
    }
}
