//! Collection reads across every workspace: all memberships, assignments,
//! projects, quotas and usage, each one keyset-paginated list in workspace creation
//! order (then by key), so a client reads a whole platform in about one
//! request per thousand objects instead of four per workspace. Each page is
//! one range scan of the table's primary key.

use rusqlite::params;

use super::{Engine, PageRequest, encode_cursor, page, parse, to_u64};
use crate::platform::ApiError;
use crate::wire::{
    ApiKey, Assignment, MemberQuotas, Membership, Page, Project, Quotas, TopUp, Usage,
};

/// A cursor key: the workspace's internal id, and the key inside it.
fn key(id: i64, inner: &str) -> String {
    format!("{id}\n{inner}")
}

/// The position after which a page starts (the start for no cursor).
fn position(req: &PageRequest) -> Result<(i64, String), ApiError> {
    let after = req.after()?;
    if after.is_empty() {
        return Ok((0, String::new()));
    }
    let (id, inner) = after.split_once('\n').unwrap_or((after.as_str(), ""));
    let id = id.parse().map_err(|_| {
        ApiError::new(
            400,
            "invalid-cursor",
            "the cursor is not one of this collection's",
        )
    })?;
    Ok((id, inner.to_owned()))
}

/// One row of a keyed collection: workspace id and slug, the key inside
/// the workspace, then spec, version, created and updated.
type Keyed = (i64, String, String, String, i64, String, String);

/// A page of a collection keyed by (workspace, key), read with `sql`
/// (which selects a [`Keyed`] row after `?1, ?2`, at most `?3` rows).
fn keyed_page<T>(
    c: &rusqlite::Connection,
    sql: &str,
    req: &PageRequest,
    make: impl Fn(String, String, String, i64, String, String) -> Result<T, ApiError>,
) -> Result<Page<T>, ApiError> {
    let (id, after) = position(req)?;
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(params![id, after, (req.limit + 1) as i64], |r| {
        Ok::<Keyed, _>((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })?;
    // The cursor is the key of a page's last item: made once, not per row.
    let mut items = Vec::new();
    let mut last = (0, String::new());
    for r in rows {
        let (id, workspace, inner, spec, version, created_at, updated_at) = r?;
        if items.len() == req.limit {
            // The row past the page: there is a next page.
            return Ok(Page {
                items,
                next_cursor: Some(encode_cursor(&key(last.0, &last.1))),
            });
        }
        if items.len() + 1 == req.limit {
            last = (id, inner.clone());
        }
        items.push(make(
            workspace, inner, spec, version, created_at, updated_at,
        )?);
    }
    Ok(Page {
        items,
        next_cursor: None,
    })
}

impl Engine {
    /// Every project of every workspace (none where the catalog has no
    /// projects).
    pub fn list_all_projects(&self, req: &PageRequest) -> Result<Page<Project>, ApiError> {
        let catalog = self.catalog();
        self.read(|c| {
            keyed_page(
                c,
                "SELECT p.workspace_id, w.slug, p.slug, p.spec, p.version, p.created_at, p.updated_at
                 FROM projects p JOIN workspaces w ON w.id = p.workspace_id
                 WHERE (p.workspace_id, p.slug) > (?1, ?2)
                 ORDER BY p.workspace_id, p.slug LIMIT ?3",
                req,
                |workspace, slug, spec, version, created_at, updated_at| {
                    super::projects::object(
                        catalog,
                        &workspace,
                        (slug, spec, version, created_at, updated_at),
                    )
                },
            )
        })
    }

    /// Every member's token budget that was ever written.
    pub fn list_all_member_quotas(
        &self,
        req: &PageRequest,
    ) -> Result<Page<MemberQuotas>, ApiError> {
        self.read(|c| {
            keyed_page(
                c,
                "SELECT q.workspace_id, w.slug, q.user_email, q.spec, q.version, q.updated_at, q.updated_at
                 FROM member_quotas q JOIN workspaces w ON w.id = q.workspace_id
                 WHERE (q.workspace_id, q.user_email) > (?1, ?2)
                 ORDER BY q.workspace_id, q.user_email LIMIT ?3",
                req,
                |workspace, user, spec, version, _, updated_at| {
                    super::budgets::member_quotas_object(&workspace, user, &spec, version, updated_at)
                },
            )
        })
    }

    /// Every top-up of every workspace, active or not.
    pub fn list_all_top_ups(&self, req: &PageRequest) -> Result<Page<TopUp>, ApiError> {
        self.read(|c| {
            keyed_page(
                c,
                "SELECT t.workspace_id, w.slug, t.id, t.spec, t.version, t.created_at, t.updated_at
                 FROM top_ups t JOIN workspaces w ON w.id = t.workspace_id
                 WHERE (t.workspace_id, t.id) > (?1, ?2)
                 ORDER BY t.workspace_id, t.id LIMIT ?3",
                req,
                |workspace, id, spec, version, created_at, updated_at| {
                    super::budgets::top_up_object(
                        &workspace,
                        id,
                        &spec,
                        version,
                        (created_at, updated_at),
                    )
                },
            )
        })
    }

    /// Every API key of every workspace.
    pub fn list_all_api_keys(&self, req: &PageRequest) -> Result<Page<ApiKey>, ApiError> {
        self.read(|c| {
            keyed_page(
                c,
                "SELECT k.workspace_id, w.slug, k.id, k.spec, k.version, k.created_at, k.updated_at
                 FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
                 WHERE (k.workspace_id, k.id) > (?1, ?2)
                 ORDER BY k.workspace_id, k.id LIMIT ?3",
                req,
                |workspace, id, spec, version, created_at, updated_at| {
                    super::api_keys::object(
                        &workspace,
                        id,
                        &spec,
                        version,
                        (created_at, updated_at),
                    )
                },
            )
        })
    }

    /// Every membership of every workspace.
    pub fn list_all_memberships(&self, req: &PageRequest) -> Result<Page<Membership>, ApiError> {
        self.read(|c| {
            keyed_page(
                c,
                "SELECT m.workspace_id, w.slug, m.user_email, m.spec, m.version, m.created_at, m.updated_at
                 FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
                 WHERE (m.workspace_id, m.user_email) > (?1, ?2)
                 ORDER BY m.workspace_id, m.user_email LIMIT ?3",
                req,
                |workspace, user, spec, version, created_at, updated_at| {
                    Ok(Membership {
                        workspace,
                        user,
                        spec: parse(&spec)?,
                        version: to_u64(version),
                        created_at,
                        updated_at,
                    })
                },
            )
        })
    }

    /// Every provider assignment of every workspace.
    pub fn list_all_assignments(&self, req: &PageRequest) -> Result<Page<Assignment>, ApiError> {
        self.read(|c| {
            keyed_page(
                c,
                "SELECT a.workspace_id, w.slug, a.provider, a.spec, a.version, a.created_at, a.updated_at
                 FROM assignments a JOIN workspaces w ON w.id = a.workspace_id
                 WHERE (a.workspace_id, a.provider) > (?1, ?2)
                 ORDER BY a.workspace_id, a.provider LIMIT ?3",
                req,
                |workspace, provider, spec, version, created_at, updated_at| {
                    Ok(Assignment {
                        workspace,
                        provider,
                        spec: parse(&spec)?,
                        version: to_u64(version),
                        created_at,
                        updated_at,
                    })
                },
            )
        })
    }

    /// The quotas of every workspace.
    pub fn list_all_quotas(&self, req: &PageRequest) -> Result<Page<Quotas>, ApiError> {
        let (id, _) = position(req)?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT q.workspace_id, w.slug, q.spec, q.version, q.updated_at
                 FROM quotas q JOIN workspaces w ON w.id = q.workspace_id
                 WHERE q.workspace_id > ?1 ORDER BY q.workspace_id LIMIT ?2",
            )?;
            let mut items = Vec::new();
            let rows = stmt.query_map(params![id, (req.limit + 1) as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            for r in rows {
                let (id, workspace, spec, version, updated_at) = r?;
                items.push((
                    key(id, ""),
                    Quotas {
                        workspace,
                        spec: parse(&spec)?,
                        version: to_u64(version),
                        updated_at,
                    },
                ));
            }
            Ok(page(items, req.limit))
        })
    }

    /// The usage of every workspace, with its members counted live.
    pub fn list_all_usage(&self, req: &PageRequest) -> Result<Page<Usage>, ApiError> {
        let (id, _) = position(req)?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT u.workspace_id, w.slug, u.spec,
                        (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = u.workspace_id)
                 FROM usage u JOIN workspaces w ON w.id = u.workspace_id
                 WHERE u.workspace_id > ?1 ORDER BY u.workspace_id LIMIT ?2",
            )?;
            let mut items = Vec::new();
            let rows = stmt.query_map(params![id, (req.limit + 1) as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            for r in rows {
                let (id, workspace, spec, users) = r?;
                items.push((
                    key(id, ""),
                    Usage {
                        workspace,
                        spec: parse(&spec)?,
                        users: to_u64(users),
                    },
                ));
            }
            Ok(page(items, req.limit))
        })
    }
}
