//! Workspaces, their quotas and their usage. Creating a workspace creates its
//! quotas (all unlimited), usage (zero) and, where the catalog has projects,
//! its default project; deleting it removes everything
//! scoped to it; archiving and renaming keep everything.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::keys::is_slug;
use super::{
    Actor, Cached, Engine, PageRequest, Tx, check_labels, check_text, check_version, json, keyed,
    page, parse, patched, take_key, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{Page, Quotas, QuotasSpec, Usage, UsageSpec, Workspace, WorkspaceSpec};

fn resource(slug: &str) -> String {
    format!("workspaces/{slug}")
}

/// The workspace's internal id, or 404.
pub(crate) fn workspace_id(conn: &Connection, slug: &str) -> Result<i64, ApiError> {
    conn.one(
        "SELECT id FROM workspaces WHERE slug = ?1",
        params![slug],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| ApiError::not_found(format!("workspace `{slug}`")))
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, i64, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn object(
    (slug, spec, version, created_at, updated_at): (String, String, i64, String, String),
) -> Result<Workspace, ApiError> {
    Ok(Workspace {
        slug,
        spec: parse(&spec)?,
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

fn get(conn: &Connection, slug: &str) -> Result<Workspace, ApiError> {
    let r = conn
        .one(
            "SELECT slug, spec, version, created_at, updated_at FROM workspaces WHERE slug = ?1",
            params![slug],
            row,
        )
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("workspace `{slug}`")))?;
    object(r)
}

fn check(spec: &WorkspaceSpec) -> Result<(), ApiError> {
    check_text("name", &spec.name, 200)?;
    check_text("description", &spec.description, 2000)?;
    let settings = &spec.settings;
    if let Some(l) = &settings.language
        && !is_language_tag(l)
    {
        return Err(ApiError::invalid_value(format!(
            "`settings.language` `{l}` is not a BCP 47 language tag (such as en or pt-BR)"
        )));
    }
    if let Some(tz) = &settings.timezone
        && jiff::tz::db().get(tz).is_err()
    {
        return Err(ApiError::invalid_value(format!(
            "`settings.timezone` `{tz}` is not an IANA time zone (such as Europe/Paris or UTC)"
        )));
    }
    check_labels(&spec.labels)
}

/// A BCP 47 language tag as the contract reads one: a 2-3 letter language,
/// then subtags of 2-8 letters or digits, at most 35 characters.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let lang = parts.next().unwrap_or_default();
    s.len() <= 35
        && (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl Engine {
    pub fn list_workspaces(&self, req: &PageRequest) -> Result<Page<Workspace>, ApiError> {
        let after = req.after()?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT slug, spec, version, created_at, updated_at FROM workspaces
                 WHERE slug > ?1 ORDER BY slug LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, (req.limit + 1) as i64], row)?;
            let mut items = Vec::new();
            for r in rows {
                let w = object(r?)?;
                items.push((w.slug.clone(), w));
            }
            Ok(page(items, req.limit))
        })
    }

    pub fn get_workspace(&self, slug: &str) -> Result<Workspace, ApiError> {
        self.read(|c| get(c, slug))
    }

    pub fn create_workspace(
        &self,
        actor: &Actor,
        slug: &str,
        spec: WorkspaceSpec,
    ) -> Result<Workspace, ApiError> {
        if !is_slug(slug) {
            return Err(ApiError::invalid_value(format!(
                "`{slug}` is not a valid workspace slug: 1-63 lower-case letters, digits and hyphens"
            )));
        }
        check(&spec)?;
        self.write(actor, |t| {
            if workspace_id(t.tx, slug).is_ok() {
                return Err(ApiError::already_exists(format!("workspace `{slug}`")));
            }
            t.tx.run(
                "INSERT INTO workspaces (slug, spec, version, created_at, updated_at) VALUES (?1, ?2, 1, ?3, ?3)",
                params![slug, json(&spec)?, t.now.text],
            )?;
            let id = t.tx.last_insert_rowid();
            t.tx.run(
                "INSERT INTO quotas (workspace_id, spec, version, updated_at) VALUES (?1, ?2, 1, ?3)",
                params![id, json(&QuotasSpec::default())?, t.now.text],
            )?;
            t.tx.run(
                "INSERT INTO usage (workspace_id, spec) VALUES (?1, ?2)",
                params![id, json(&UsageSpec::default())?],
            )?;
            t.audit("create", &resource(slug), 1, &Value::Null, &serde_json::to_value(&spec)?)?;
            t.make_default_project(id, slug)?;
            get(t.tx, slug)
        })
    }

    /// Applies a merge patch. A `slug` in the patch renames the workspace in
    /// place: its quotas, usage, memberships and assignments stay its own
    /// (they are held by the workspace, not by its name, and keep their
    /// versions), and the audit log records one `rename` under the new name.
    pub fn update_workspace(
        &self,
        actor: &Actor,
        slug: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<Workspace, ApiError> {
        let (new_slug, patch) = take_key(patch, "slug", "workspace slug")?;
        self.write(actor, |t| {
            let current = get(t.tx, slug)?;
            check_version(&format!("workspace `{slug}`"), if_match, current.version)?;
            let spec: WorkspaceSpec = patched(&current.spec, &patch)?;
            check(&spec)?;
            let renamed = new_slug.as_deref().filter(|n| *n != slug);
            if renamed.is_some() {
                t.guard_mapped(&format!("workspace `{slug}`"), |m| m.workspace == slug)?;
            }
            if let Some(n) = renamed
                && workspace_id(t.tx, n).is_ok()
            {
                return Err(ApiError::already_exists(format!("workspace `{n}`")));
            }
            let to = renamed.unwrap_or(slug);
            let version = current.version + 1;
            t.tx.run(
                "UPDATE workspaces SET slug = ?1, spec = ?2, version = ?3, updated_at = ?4 WHERE slug = ?5",
                params![to, json(&spec)?, version as i64, t.now.text, slug],
            )?;
            let (before, after) = (serde_json::to_value(&current.spec)?, serde_json::to_value(&spec)?);
            match renamed {
                Some(n) => t.audit(
                    "rename",
                    &resource(n),
                    version,
                    &keyed(before, "slug", slug),
                    &keyed(after, "slug", n),
                )?,
                None => t.audit("update", &resource(slug), version, &before, &after)?,
            }
            get(t.tx, to)
        })
    }

    pub fn delete_workspace(
        &self,
        actor: &Actor,
        slug: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        self.write(actor, |t| {
            let current = get(t.tx, slug)?;
            check_version(&format!("workspace `{slug}`"), if_match, current.version)?;
            t.guard_mapped(&format!("workspace `{slug}`"), |m| m.workspace == slug)?;
            t.tx.run("DELETE FROM workspaces WHERE slug = ?1", params![slug])?;
            t.audit(
                "delete",
                &resource(slug),
                0,
                &serde_json::to_value(&current.spec)?,
                &Value::Null,
            )
        })
    }

    pub fn get_quotas(&self, slug: &str) -> Result<Quotas, ApiError> {
        self.read(|c| quotas(c, slug))
    }

    pub fn put_quotas(
        &self,
        actor: &Actor,
        slug: &str,
        if_match: Option<u64>,
        spec: QuotasSpec,
    ) -> Result<Quotas, ApiError> {
        check_labels(&spec.labels)?;
        self.write(actor, |t| {
            let current = quotas(t.tx, slug)?;
            check_version(&format!("quotas of workspace `{slug}`"), if_match, current.version)?;
            let version = current.version + 1;
            let id = workspace_id(t.tx, slug)?;
            t.tx.run(
                "UPDATE quotas SET spec = ?1, version = ?2, updated_at = ?3 WHERE workspace_id = ?4",
                params![json(&spec)?, version as i64, t.now.text, id],
            )?;
            t.audit(
                "update",
                &format!("workspaces/{slug}/quotas"),
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
            quotas(t.tx, slug)
        })
    }

    pub fn get_usage(&self, slug: &str) -> Result<Usage, ApiError> {
        self.read(|c| usage(c, slug))
    }

    /// Sets simulated consumption (the reference platform has no workloads).
    pub fn put_usage(&self, actor: &Actor, slug: &str, spec: UsageSpec) -> Result<Usage, ApiError> {
        self.write(actor, |t| {
            let before = usage(t.tx, slug)?;
            let id = workspace_id(t.tx, slug)?;
            t.tx.run(
                "UPDATE usage SET spec = ?1 WHERE workspace_id = ?2",
                params![json(&spec)?, id],
            )?;
            t.audit(
                "update",
                &format!("workspaces/{slug}/usage"),
                0,
                &serde_json::to_value(&before.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
            usage(t.tx, slug)
        })
    }
}

fn quotas(conn: &Connection, slug: &str) -> Result<Quotas, ApiError> {
    let id = workspace_id(conn, slug)?;
    let (spec, version, updated_at): (String, i64, String) = conn.one(
        "SELECT spec, version, updated_at FROM quotas WHERE workspace_id = ?1",
        params![id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Quotas {
        workspace: slug.to_owned(),
        spec: parse(&spec)?,
        version: to_u64(version),
        updated_at,
    })
}

pub(crate) fn member_count(conn: &Connection, id: i64) -> Result<u64, ApiError> {
    let n: i64 = conn.one(
        "SELECT COUNT(*) FROM memberships WHERE workspace_id = ?1",
        params![id],
        |r| r.get(0),
    )?;
    Ok(to_u64(n))
}

/// The workspace's `max_users` quota, if any.
pub(crate) fn max_users(conn: &Connection, id: i64) -> Result<Option<u64>, ApiError> {
    let spec: String = conn.one(
        "SELECT spec FROM quotas WHERE workspace_id = ?1",
        params![id],
        |r| r.get(0),
    )?;
    Ok(parse::<QuotasSpec>(&spec)?.max_users)
}

fn usage(conn: &Connection, slug: &str) -> Result<Usage, ApiError> {
    let id = workspace_id(conn, slug)?;
    let spec: String = conn.one(
        "SELECT spec FROM usage WHERE workspace_id = ?1",
        params![id],
        |r| r.get(0),
    )?;
    Ok(Usage {
        workspace: slug.to_owned(),
        spec: parse(&spec)?,
        users: member_count(conn, id)?,
    })
}

impl Tx<'_> {
    pub(crate) fn workspace_id(&self, slug: &str) -> Result<i64, ApiError> {
        workspace_id(self.tx, slug)
    }
}
