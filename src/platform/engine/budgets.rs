//! Token budgets beyond a workspace's own quotas: the budget of one member
//! of a workspace (a singleton per membership, replaced whole with `PUT`,
//! gone with the membership) and top-ups (extra tokens until a day, for the
//! workspace, one of its projects or one of its members). A top-up past its
//! last day is inactive; it is kept, as history, until deleted. Deleting a
//! project or a membership deletes the top-ups scoped to it.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::keys::is_slug;
use super::workspaces::workspace_id;
use super::{
    Actor, Cached, Engine, PageRequest, Tx, check_labels, check_text, check_version, json, page,
    parse, patched, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{MemberQuotas, MemberQuotasSpec, Page, TopUp, TopUpSpec};

fn quotas_resource(slug: &str, email: &str) -> String {
    format!("workspaces/{slug}/member-quotas/{email}")
}

fn top_up_resource(slug: &str, id: &str) -> String {
    format!("workspaces/{slug}/top-ups/{id}")
}

/// Today in UTC, `YYYY-MM-DD`.
fn today() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    now.get(..10).unwrap_or_default().to_owned()
}

pub(crate) fn member_quotas_object(
    slug: &str,
    email: String,
    spec: &str,
    version: i64,
    updated_at: String,
) -> Result<MemberQuotas, ApiError> {
    Ok(MemberQuotas {
        workspace: slug.to_owned(),
        user: email,
        spec: parse(spec)?,
        version: to_u64(version),
        updated_at,
    })
}

pub(crate) fn top_up_object(
    slug: &str,
    id: String,
    spec: &str,
    version: i64,
    (created_at, updated_at): (String, String),
) -> Result<TopUp, ApiError> {
    let spec: TopUpSpec = parse(spec)?;
    Ok(TopUp {
        workspace: slug.to_owned(),
        active: spec.expires >= today(),
        id,
        spec,
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

fn get_member_quotas(
    conn: &Connection,
    slug: &str,
    email: &str,
) -> Result<Option<MemberQuotas>, ApiError> {
    let id = workspace_id(conn, slug)?;
    let r: Option<(String, i64, String)> = conn
        .one(
            "SELECT spec, version, updated_at FROM member_quotas WHERE workspace_id = ?1 AND user_email = ?2",
            params![id, email],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    r.map(|(spec, version, updated_at)| {
        member_quotas_object(slug, email.to_owned(), &spec, version, updated_at)
    })
    .transpose()
}

fn get_top_up(conn: &Connection, slug: &str, top_up: &str) -> Result<TopUp, ApiError> {
    let id = workspace_id(conn, slug)?;
    let r: (String, i64, String, String) = conn
        .one(
            "SELECT spec, version, created_at, updated_at FROM top_ups WHERE workspace_id = ?1 AND id = ?2",
            params![id, top_up],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("top-up `{top_up}` of workspace `{slug}`")))?;
    top_up_object(slug, top_up.to_owned(), &r.0, r.1, (r.2, r.3))
}

impl Tx<'_> {
    fn check_top_up(&self, id: i64, spec: &mut TopUpSpec) -> Result<(), ApiError> {
        check_labels(&spec.labels)?;
        check_text("reason", &spec.reason, 500)?;
        if spec.tokens == 0 {
            return Err(ApiError::invalid_value("a top-up adds at least 1 token"));
        }
        if spec.expires.len() != 10 || spec.expires.parse::<jiff::civil::Date>().is_err() {
            return Err(ApiError::invalid_value(format!(
                "`{}` is not a day: write YYYY-MM-DD",
                spec.expires
            )));
        }
        if spec.project.is_some() && spec.user.is_some() {
            return Err(ApiError::invalid_value(
                "a top-up is for the workspace, one project or one member: not both a project and a member",
            ));
        }
        if let Some(p) = &spec.project {
            let found: Option<i64> = self
                .tx
                .one(
                    "SELECT 1 FROM projects WHERE workspace_id = ?1 AND slug = ?2",
                    params![id, p],
                    |r| r.get(0),
                )
                .optional()?;
            if found.is_none() {
                return Err(ApiError::invalid_reference(format!(
                    "project `{p}` does not exist in the workspace"
                )));
            }
        }
        if let Some(u) = spec.user.as_mut() {
            *u = u.to_lowercase();
            let u: &str = u;
            let found: Option<i64> = self
                .tx
                .one(
                    "SELECT 1 FROM memberships WHERE workspace_id = ?1 AND user_email = ?2",
                    params![id, u],
                    |r| r.get(0),
                )
                .optional()?;
            if found.is_none() {
                return Err(ApiError::invalid_reference(format!(
                    "`{u}` is not a member of the workspace"
                )));
            }
        }
        Ok(())
    }

    /// Deletes the top-ups scoped to a project or a member of workspace
    /// `id` (`field` is `project` or `user`).
    pub(crate) fn drop_top_ups(&self, id: i64, field: &str, value: &str) -> Result<(), ApiError> {
        let path = format!("$.{field}");
        self.tx.run(
            "DELETE FROM top_ups WHERE workspace_id = ?1 AND json_extract(spec, ?2) = ?3",
            params![id, path, value],
        )?;
        Ok(())
    }
}

impl Engine {
    pub fn get_member_quotas(&self, slug: &str, email: &str) -> Result<MemberQuotas, ApiError> {
        let email = email.to_lowercase();
        self.read(|c| {
            super::memberships::get(c, slug, &email)?;
            Ok(get_member_quotas(c, slug, &email)?.unwrap_or(MemberQuotas {
                workspace: slug.to_owned(),
                user: email.clone(),
                spec: MemberQuotasSpec::default(),
                version: 0,
                updated_at: String::new(),
            }))
        })
    }

    /// Replaces a member's token budget (version 0 until first written).
    pub fn put_member_quotas(
        &self,
        actor: &Actor,
        slug: &str,
        email: &str,
        if_match: Option<u64>,
        spec: MemberQuotasSpec,
    ) -> Result<MemberQuotas, ApiError> {
        let email = email.to_lowercase();
        check_labels(&spec.labels)?;
        self.write(actor, |t| {
            super::memberships::get(t.tx, slug, &email)?;
            let id = t.workspace_id(slug)?;
            let current = get_member_quotas(t.tx, slug, &email)?;
            let (version, before) = match &current {
                Some(c) => (c.version, serde_json::to_value(&c.spec)?),
                None => (0, Value::Null),
            };
            check_version(&format!("token budget of `{email}` in workspace `{slug}`"), if_match, version)?;
            let next = version + 1;
            t.tx.run(
                "INSERT INTO member_quotas (workspace_id, user_email, spec, version, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (workspace_id, user_email) DO UPDATE SET spec = ?3, version = ?4, updated_at = ?5",
                params![id, email, json(&spec)?, next as i64, t.now.text],
            )?;
            t.audit(
                if current.is_some() { "update" } else { "create" },
                &quotas_resource(slug, &email),
                next,
                &before,
                &serde_json::to_value(&spec)?,
            )?;
            get_member_quotas(t.tx, slug, &email)?
                .ok_or_else(|| ApiError::internal("the token budget just written is gone"))
        })
    }

    pub fn list_top_ups(&self, slug: &str, req: &PageRequest) -> Result<Page<TopUp>, ApiError> {
        let after = req.after()?;
        self.read(|c| {
            let id = workspace_id(c, slug)?;
            let mut stmt = c.prepare_cached(
                "SELECT id, spec, version, created_at, updated_at FROM top_ups
                 WHERE workspace_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let mut items = Vec::new();
            let rows = stmt.query_map(params![id, after, (req.limit + 1) as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            for r in rows {
                let (key, spec, version, created, updated): (String, String, i64, String, String) =
                    r?;
                let t = top_up_object(slug, key.clone(), &spec, version, (created, updated))?;
                items.push((key, t));
            }
            Ok(page(items, req.limit))
        })
    }

    pub fn get_top_up(&self, slug: &str, top_up: &str) -> Result<TopUp, ApiError> {
        self.read(|c| get_top_up(c, slug, top_up))
    }

    pub fn create_top_up(
        &self,
        actor: &Actor,
        slug: &str,
        top_up: &str,
        mut spec: TopUpSpec,
    ) -> Result<TopUp, ApiError> {
        if !is_slug(top_up) {
            return Err(ApiError::invalid_value(format!(
                "`{top_up}` is not a valid top-up name: 1-63 lower-case letters, digits and hyphens"
            )));
        }
        self.write(actor, |t| {
            let id = t.workspace_id(slug)?;
            if get_top_up(t.tx, slug, top_up).is_ok() {
                return Err(ApiError::already_exists(format!(
                    "top-up `{top_up}` of workspace `{slug}`"
                )));
            }
            t.check_top_up(id, &mut spec)?;
            t.tx.run(
                "INSERT INTO top_ups (workspace_id, id, spec, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![id, top_up, json(&spec)?, t.now.text],
            )?;
            t.audit(
                "create",
                &top_up_resource(slug, top_up),
                1,
                &Value::Null,
                &serde_json::to_value(&spec)?,
            )?;
            get_top_up(t.tx, slug, top_up)
        })
    }

    pub fn update_top_up(
        &self,
        actor: &Actor,
        slug: &str,
        top_up: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<TopUp, ApiError> {
        self.write(actor, |t| {
            let current = get_top_up(t.tx, slug, top_up)?;
            check_version(&format!("top-up `{top_up}` of workspace `{slug}`"), if_match, current.version)?;
            let mut spec: TopUpSpec = patched(&current.spec, patch)?;
            let id = t.workspace_id(slug)?;
            t.check_top_up(id, &mut spec)?;
            let version = current.version + 1;
            t.tx.run(
                "UPDATE top_ups SET spec = ?1, version = ?2, updated_at = ?3 WHERE workspace_id = ?4 AND id = ?5",
                params![json(&spec)?, version as i64, t.now.text, id, top_up],
            )?;
            t.audit(
                "update",
                &top_up_resource(slug, top_up),
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
            get_top_up(t.tx, slug, top_up)
        })
    }

    pub fn delete_top_up(
        &self,
        actor: &Actor,
        slug: &str,
        top_up: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        self.write(actor, |t| {
            let current = get_top_up(t.tx, slug, top_up)?;
            check_version(
                &format!("top-up `{top_up}` of workspace `{slug}`"),
                if_match,
                current.version,
            )?;
            let id = t.workspace_id(slug)?;
            t.tx.run(
                "DELETE FROM top_ups WHERE workspace_id = ?1 AND id = ?2",
                params![id, top_up],
            )?;
            t.audit(
                "delete",
                &top_up_resource(slug, top_up),
                0,
                &serde_json::to_value(&current.spec)?,
                &Value::Null,
            )
        })
    }
}
