//! Roles: built-in ones come from the catalog (listed, immutable), custom
//! ones are stored. Permissions and wildcards are checked against the
//! catalog; a custom role still held by a member cannot be deleted, and one
//! renamed stays held.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::CatalogRules;
use super::keys::is_slug;
use super::{
    Actor, Cached, Engine, PageRequest, check_labels, check_text, check_version, json, keyed, page,
    parse, patched, take_key, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{Catalog, MembershipSpec, Page, Role, RoleSpec};

fn resource(id: &str) -> String {
    format!("roles/{id}")
}

/// Built-in roles as wire objects: version 1, no timestamps of their own.
fn builtin(catalog: &Catalog, id: &str) -> Option<Role> {
    catalog.role(id).map(|r| Role {
        id: r.id.clone(),
        spec: RoleSpec {
            name: Some(r.name.clone()),
            description: Some(r.description.clone()),
            permissions: r.permissions.clone(),
            labels: Default::default(),
        },
        builtin: true,
        version: 1,
        created_at: "1970-01-01T00:00:00Z".to_owned(),
        updated_at: "1970-01-01T00:00:00Z".to_owned(),
    })
}

fn stored(conn: &Connection, id: &str) -> Result<Option<Role>, ApiError> {
    let r = conn
        .one(
            "SELECT spec, version, created_at, updated_at FROM roles WHERE id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                ))
            },
        )
        .optional()?;
    r.map(|(spec, version, created_at, updated_at)| {
        Ok(Role {
            id: id.to_owned(),
            spec: parse(&spec)?,
            builtin: false,
            version: to_u64(version),
            created_at,
            updated_at,
        })
    })
    .transpose()
}

/// The permission patterns of a stored (custom) role.
pub(crate) fn permissions(conn: &Connection, id: &str) -> Result<Option<Vec<String>>, ApiError> {
    Ok(stored(conn, id)?.map(|r| r.spec.permissions))
}

/// True when `id` names a built-in or stored role.
pub(crate) fn exists(conn: &Connection, catalog: &Catalog, id: &str) -> Result<bool, ApiError> {
    Ok(catalog.is_builtin_role(id) || stored(conn, id)?.is_some())
}

fn check(catalog: &Catalog, spec: &RoleSpec) -> Result<(), ApiError> {
    check_text("name", &spec.name, 200)?;
    check_text("description", &spec.description, 2000)?;
    check_labels(&spec.labels)?;
    for p in &spec.permissions {
        if !catalog.admits_permission(p) {
            return Err(ApiError::invalid_value(format!(
                "`{p}` is not a permission of the {} catalog (see GET /v1/catalog)",
                catalog.profile
            )));
        }
    }
    Ok(())
}

/// Every membership holding role `old` holds it as `new` instead.
fn rename_in_memberships(conn: &Connection, old: &str, new: &str) -> Result<(), ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.workspace_id, m.user_email, m.spec FROM memberships m
         JOIN membership_roles r ON r.workspace_id = m.workspace_id AND r.user_email = m.user_email
         WHERE r.role = ?1",
    )?;
    let holders: Vec<(i64, String, String)> = stmt
        .query_map(params![old], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (ws, email, spec) in holders {
        let mut spec: MembershipSpec = parse(&spec)?;
        for r in &mut spec.roles {
            if r == old {
                *r = new.to_owned();
            }
        }
        conn.run(
            "UPDATE memberships SET spec = ?1 WHERE workspace_id = ?2 AND user_email = ?3",
            params![json(&spec)?, ws, email],
        )?;
    }
    conn.run(
        "UPDATE membership_roles SET role = ?1 WHERE role = ?2",
        params![new, old],
    )?;
    Ok(())
}

fn immutable(id: &str) -> ApiError {
    ApiError::conflict(
        "builtin-role",
        format!("`{id}` is a built-in role: built-in roles cannot be changed or deleted"),
    )
}

impl Engine {
    /// Built-in and custom roles, sorted by id.
    pub fn list_roles(&self, req: &PageRequest) -> Result<Page<Role>, ApiError> {
        let after = req.after()?;
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id FROM roles WHERE id > ?1 ORDER BY id LIMIT ?2")?;
            let ids: Vec<String> = stmt
                .query_map(params![after, (req.limit + 1) as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut all: Vec<(String, Role)> = Vec::new();
            for id in ids {
                if let Some(r) = stored(c, &id)? {
                    all.push((id, r));
                }
            }
            for b in &self.catalog().roles {
                if b.id.as_str() > after.as_str()
                    && let Some(r) = builtin(self.catalog(), &b.id)
                {
                    all.push((b.id.clone(), r));
                }
            }
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all.truncate(req.limit + 1);
            Ok(page(all, req.limit))
        })
    }

    pub fn get_role(&self, id: &str) -> Result<Role, ApiError> {
        if let Some(r) = builtin(self.catalog(), id) {
            return Ok(r);
        }
        self.read(|c| stored(c, id)?.ok_or_else(|| ApiError::not_found(format!("role `{id}`"))))
    }

    pub fn create_role(&self, actor: &Actor, id: &str, spec: RoleSpec) -> Result<Role, ApiError> {
        if self.catalog().is_builtin_role(id) {
            return Err(immutable(id));
        }
        if !is_slug(id) {
            return Err(ApiError::invalid_value(format!(
                "`{id}` is not a valid role id: 1-63 lower-case letters, digits and hyphens"
            )));
        }
        check(self.catalog(), &spec)?;
        self.write(actor, |t| {
            if stored(t.tx, id)?.is_some() {
                return Err(ApiError::already_exists(format!("role `{id}`")));
            }
            t.tx.run(
                "INSERT INTO roles (id, spec, version, created_at, updated_at) VALUES (?1, ?2, 1, ?3, ?3)",
                params![id, json(&spec)?, t.now.text],
            )?;
            t.audit("create", &resource(id), 1, &Value::Null, &serde_json::to_value(&spec)?)?;
            stored(t.tx, id)?.ok_or_else(|| ApiError::internal("role vanished"))
        })
    }

    /// Applies a merge patch. An `id` in the patch renames the role in
    /// place: every membership holding it holds it under the new id (keeping
    /// its version: it grants the same), and the audit log records one
    /// `rename` under the new id.
    pub fn update_role(
        &self,
        actor: &Actor,
        id: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<Role, ApiError> {
        if self.catalog().is_builtin_role(id) {
            return Err(immutable(id));
        }
        let (new_id, patch) = take_key(patch, "id", "role id")?;
        let renamed = new_id.as_deref().filter(|n| *n != id);
        self.write(actor, |t| {
            let current =
                stored(t.tx, id)?.ok_or_else(|| ApiError::not_found(format!("role `{id}`")))?;
            check_version(&format!("role `{id}`"), if_match, current.version)?;
            let spec: RoleSpec = patched(&current.spec, &patch)?;
            check(t.catalog, &spec)?;
            if let Some(n) = renamed
                && exists(t.tx, t.catalog, n)?
            {
                return Err(ApiError::already_exists(format!("role `{n}`")));
            }
            if renamed.is_some() {
                t.guard_mapped(&format!("role `{id}`"), |m| m.roles.iter().any(|r| r == id))?;
            }
            let to = renamed.unwrap_or(id);
            let version = current.version + 1;
            t.tx.run(
                "UPDATE roles SET id = ?1, spec = ?2, version = ?3, updated_at = ?4 WHERE id = ?5",
                params![to, json(&spec)?, version as i64, t.now.text, id],
            )?;
            let (before, after) = (
                serde_json::to_value(&current.spec)?,
                serde_json::to_value(&spec)?,
            );
            match renamed {
                Some(n) => {
                    rename_in_memberships(t.tx, id, n)?;
                    t.audit(
                        "rename",
                        &resource(n),
                        version,
                        &keyed(before, "id", id),
                        &keyed(after, "id", n),
                    )?;
                }
                None => t.audit("update", &resource(id), version, &before, &after)?,
            }
            stored(t.tx, to)?.ok_or_else(|| ApiError::internal("role vanished"))
        })
    }

    pub fn delete_role(
        &self,
        actor: &Actor,
        id: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        if self.catalog().is_builtin_role(id) {
            return Err(immutable(id));
        }
        self.write(actor, |t| {
            let current =
                stored(t.tx, id)?.ok_or_else(|| ApiError::not_found(format!("role `{id}`")))?;
            check_version(&format!("role `{id}`"), if_match, current.version)?;
            t.guard_mapped(&format!("role `{id}`"), |m| m.roles.iter().any(|r| r == id))?;
            let holders: i64 = t.tx.one(
                "SELECT COUNT(*) FROM membership_roles WHERE role = ?1",
                params![id],
                |r| r.get(0),
            )?;
            if holders > 0 {
                return Err(ApiError::conflict(
                    "role-in-use",
                    format!("role `{id}` is held by {holders} membership(s); revoke it first"),
                ));
            }
            t.tx.run("DELETE FROM roles WHERE id = ?1", params![id])?;
            t.audit(
                "delete",
                &resource(id),
                0,
                &serde_json::to_value(&current.spec)?,
                &Value::Null,
            )
        })
    }
}
