//! Assignments: which providers (and which of their models) a workspace may
//! use. The provider must exist and offer every model; a workspace has at
//! most one default.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::workspaces::workspace_id;
use super::{
    Actor, Cached, Engine, PageRequest, Tx, check_labels, check_version, json, page, parse,
    patched, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{Assignment, AssignmentSpec, Page};

fn resource(slug: &str, provider: &str) -> String {
    format!("workspaces/{slug}/assignments/{provider}")
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, i64, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn object(
    slug: &str,
    (provider, spec, version, created_at, updated_at): (String, String, i64, String, String),
) -> Result<Assignment, ApiError> {
    Ok(Assignment {
        workspace: slug.to_owned(),
        provider,
        spec: parse(&spec)?,
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

fn get(conn: &Connection, slug: &str, provider: &str) -> Result<Assignment, ApiError> {
    let id = workspace_id(conn, slug)?;
    let r = conn
        .one(
            "SELECT provider, spec, version, created_at, updated_at FROM assignments
             WHERE workspace_id = ?1 AND provider = ?2",
            params![id, provider],
            row,
        )
        .optional()?
        .ok_or_else(|| {
            ApiError::not_found(format!("assignment of `{provider}` to workspace `{slug}`"))
        })?;
    object(slug, r)
}

impl Tx<'_> {
    fn check_assignment(
        &self,
        id: i64,
        slug: &str,
        provider: &str,
        spec: &AssignmentSpec,
    ) -> Result<(), ApiError> {
        check_labels(&spec.labels)?;
        let p = super::providers::get(self.tx, provider).map_err(|_| {
            ApiError::invalid_reference(format!("provider `{provider}` does not exist"))
        })?;
        for m in spec.models.iter().flatten() {
            if !p.spec.models.contains(m) {
                return Err(ApiError::new(
                    422,
                    "model-not-offered",
                    format!(
                        "provider `{provider}` does not offer model `{m}`; it offers: {}",
                        p.spec.models.join(", ")
                    ),
                ));
            }
        }
        if spec.default {
            let other: Option<String> = self
                .tx
                .one(
                    "SELECT provider FROM assignments WHERE workspace_id = ?1 AND is_default = 1 AND provider <> ?2",
                    params![id, provider],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(other) = other {
                return Err(ApiError::conflict(
                    "default-conflict",
                    format!(
                        "workspace `{slug}` already has `{other}` as its default provider; unset it first"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Engine {
    pub fn list_assignments(
        &self,
        slug: &str,
        req: &PageRequest,
    ) -> Result<Page<Assignment>, ApiError> {
        let after = req.after()?;
        self.read(|c| {
            let id = workspace_id(c, slug)?;
            let mut stmt = c.prepare_cached(
                "SELECT provider, spec, version, created_at, updated_at FROM assignments
                 WHERE workspace_id = ?1 AND provider > ?2 ORDER BY provider LIMIT ?3",
            )?;
            let mut items = Vec::new();
            for r in stmt.query_map(params![id, after, (req.limit + 1) as i64], row)? {
                let a = object(slug, r?)?;
                items.push((a.provider.clone(), a));
            }
            Ok(page(items, req.limit))
        })
    }

    pub fn get_assignment(&self, slug: &str, provider: &str) -> Result<Assignment, ApiError> {
        self.read(|c| get(c, slug, provider))
    }

    pub fn create_assignment(
        &self,
        actor: &Actor,
        slug: &str,
        provider: &str,
        spec: AssignmentSpec,
    ) -> Result<Assignment, ApiError> {
        self.write(actor, |t| {
            let id = t.workspace_id(slug)?;
            t.check_assignment(id, slug, provider, &spec)?;
            if get(t.tx, slug, provider).is_ok() {
                return Err(ApiError::already_exists(format!("assignment of `{provider}` to workspace `{slug}`")));
            }
            t.tx.run(
                "INSERT INTO assignments (workspace_id, provider, is_default, spec, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)",
                params![id, provider, spec.default, json(&spec)?, t.now.text],
            )?;
            t.audit("create", &resource(slug, provider), 1, &Value::Null, &serde_json::to_value(&spec)?)?;
            get(t.tx, slug, provider)
        })
    }

    pub fn update_assignment(
        &self,
        actor: &Actor,
        slug: &str,
        provider: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<Assignment, ApiError> {
        self.write(actor, |t| {
            let current = get(t.tx, slug, provider)?;
            check_version(
                &format!("assignment of `{provider}` to workspace `{slug}`"),
                if_match,
                current.version,
            )?;
            let spec: AssignmentSpec = patched(&current.spec, patch)?;
            let id = t.workspace_id(slug)?;
            t.check_assignment(id, slug, provider, &spec)?;
            let version = current.version + 1;
            t.tx.run(
                "UPDATE assignments SET is_default = ?1, spec = ?2, version = ?3, updated_at = ?4
                 WHERE workspace_id = ?5 AND provider = ?6",
                params![
                    spec.default,
                    json(&spec)?,
                    version as i64,
                    t.now.text,
                    id,
                    provider
                ],
            )?;
            t.audit(
                "update",
                &resource(slug, provider),
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
            get(t.tx, slug, provider)
        })
    }

    pub fn delete_assignment(
        &self,
        actor: &Actor,
        slug: &str,
        provider: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        self.write(actor, |t| {
            let current = get(t.tx, slug, provider)?;
            check_version(
                &format!("assignment of `{provider}` to workspace `{slug}`"),
                if_match,
                current.version,
            )?;
            let id = t.workspace_id(slug)?;
            t.tx.run(
                "DELETE FROM assignments WHERE workspace_id = ?1 AND provider = ?2",
                params![id, provider],
            )?;
            t.audit(
                "delete",
                &resource(slug, provider),
                0,
                &serde_json::to_value(&current.spec)?,
                &Value::Null,
            )
        })
    }
}
