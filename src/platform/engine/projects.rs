//! Projects inside workspaces, on platforms whose catalog has `projects`
//! (MagOneAI). Every workspace is created with its default project, which
//! is never archived, deleted or renamed. A project's members are members
//! of its workspace holding project roles of the catalog; a member who
//! leaves the workspace (or the platform) leaves its projects in the same
//! transaction, each project updated and audited. A project carries its
//! token budget (`quotas`).

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::keys::is_slug;
use super::workspaces::workspace_id;
use super::{
    Actor, Cached, Engine, PageRequest, Tx, check_labels, check_text, check_version, json, page,
    parse, patched, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{Catalog, Page, Project, ProjectSpec, RoleScope, WorkspaceStatus};

fn resource(slug: &str, project: &str) -> String {
    format!("workspaces/{slug}/projects/{project}")
}

fn what(slug: &str, project: &str) -> String {
    format!("project `{project}` of workspace `{slug}`")
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, i64, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// The slug of the default project, where the catalog has projects.
fn default_slug(catalog: &Catalog) -> Option<&str> {
    catalog
        .projects
        .as_ref()
        .map(|p| p.default_project.as_str())
}

/// 404 on a platform whose workspaces hold no projects.
fn with_projects(catalog: &Catalog) -> Result<(), ApiError> {
    if catalog.projects.is_some() {
        return Ok(());
    }
    Err(ApiError::new(
        404,
        "not-found",
        format!(
            "the {} profile has no projects: its workspaces hold members directly",
            catalog.profile
        ),
    ))
}

pub(crate) fn object(
    catalog: &Catalog,
    workspace: &str,
    (slug, spec, version, created_at, updated_at): (String, String, i64, String, String),
) -> Result<Project, ApiError> {
    Ok(Project {
        workspace: workspace.to_owned(),
        default: default_slug(catalog) == Some(slug.as_str()),
        slug,
        spec: parse(&spec)?,
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

fn get(
    conn: &Connection,
    catalog: &Catalog,
    slug: &str,
    project: &str,
) -> Result<Project, ApiError> {
    let id = workspace_id(conn, slug)?;
    let r = conn
        .one(
            "SELECT slug, spec, version, created_at, updated_at FROM projects
             WHERE workspace_id = ?1 AND slug = ?2",
            params![id, project],
            row,
        )
        .optional()?
        .ok_or_else(|| ApiError::not_found(what(slug, project)))?;
    object(catalog, slug, r)
}

impl Tx<'_> {
    /// Folds member emails and checks the rules of a project's spec.
    fn check_project(&self, id: i64, spec: &mut ProjectSpec) -> Result<(), ApiError> {
        check_labels(&spec.labels)?;
        check_text("name", &spec.name, 200)?;
        check_text("description", &spec.description, 2000)?;
        let mut seen = BTreeSet::new();
        for m in &mut spec.members {
            m.user = m.user.to_lowercase();
            if !seen.insert(m.user.clone()) {
                return Err(ApiError::invalid_value(format!(
                    "`{}` is listed twice among the project's members",
                    m.user
                )));
            }
            if m.roles.is_empty() {
                return Err(ApiError::invalid_value(format!(
                    "project member `{}` needs at least one role",
                    m.user
                )));
            }
            let mut roles = BTreeSet::new();
            for r in &m.roles {
                if !roles.insert(r) {
                    return Err(ApiError::invalid_value(format!(
                        "role `{r}` is listed twice"
                    )));
                }
                match self.catalog.roles.iter().find(|b| b.id == *r) {
                    Some(b) if b.scope == RoleScope::Project => {}
                    Some(_) => {
                        return Err(ApiError::invalid_reference(format!(
                            "`{r}` is a workspace role; a project member holds project roles: {}",
                            project_roles(self.catalog)
                        )));
                    }
                    None => {
                        return Err(ApiError::invalid_reference(format!(
                            "project role `{r}` does not exist; project roles: {}",
                            project_roles(self.catalog)
                        )));
                    }
                }
            }
            let member: Option<i64> = self
                .tx
                .one(
                    "SELECT 1 FROM memberships WHERE workspace_id = ?1 AND user_email = ?2",
                    params![id, m.user],
                    |r| r.get(0),
                )
                .optional()?;
            if member.is_none() {
                return Err(ApiError::invalid_reference(format!(
                    "`{}` is not a member of the workspace; add the membership first",
                    m.user
                )));
            }
        }
        spec.members.sort_by(|a, b| a.user.cmp(&b.user));
        Ok(())
    }

    fn index_members(&self, id: i64, project: &str, spec: &ProjectSpec) -> Result<(), ApiError> {
        self.tx.run(
            "DELETE FROM project_members WHERE workspace_id = ?1 AND project = ?2",
            params![id, project],
        )?;
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO project_members (workspace_id, project, user_email) VALUES (?1, ?2, ?3)",
        )?;
        for m in &spec.members {
            stmt.execute(params![id, project, m.user])?;
        }
        Ok(())
    }

    /// Makes the default project of a new workspace `id`.
    pub(crate) fn make_default_project(&self, id: i64, slug: &str) -> Result<(), ApiError> {
        let Some(rules) = &self.catalog.projects else {
            return Ok(());
        };
        let spec = ProjectSpec {
            name: Some(rules.default_project_name.clone()),
            ..ProjectSpec::default()
        };
        self.tx.run(
            "INSERT INTO projects (workspace_id, slug, spec, version, created_at, updated_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?4)",
            params![id, rules.default_project, json(&spec)?, self.now.text],
        )?;
        self.audit(
            "create",
            &resource(slug, &rules.default_project),
            1,
            &Value::Null,
            &serde_json::to_value(&spec)?,
        )
    }

    /// Takes `email` out of every project it is a member of, in workspace
    /// `id` or (for `None`) in every workspace: each project updated and
    /// audited.
    pub(crate) fn leave_projects(&self, id: Option<i64>, email: &str) -> Result<(), ApiError> {
        if self.catalog.projects.is_none() {
            return Ok(());
        }
        let held: Vec<(i64, String, String)> = {
            let mut stmt = self.tx.prepare_cached(
                "SELECT pm.workspace_id, w.slug, pm.project FROM project_members pm
                 JOIN workspaces w ON w.id = pm.workspace_id
                 WHERE pm.user_email = ?1 AND (?2 IS NULL OR pm.workspace_id = ?2)
                 ORDER BY pm.workspace_id, pm.project",
            )?;
            stmt.query_map(params![email, id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?
        };
        for (ws_id, slug, project) in held {
            let current = get(self.tx, self.catalog, &slug, &project)?;
            let mut spec = current.spec.clone();
            spec.members.retain(|m| m.user != email);
            let version = current.version + 1;
            self.tx.run(
                "UPDATE projects SET spec = ?1, version = ?2, updated_at = ?3
                 WHERE workspace_id = ?4 AND slug = ?5",
                params![json(&spec)?, version as i64, self.now.text, ws_id, project],
            )?;
            self.tx.run(
                "DELETE FROM project_members WHERE workspace_id = ?1 AND project = ?2 AND user_email = ?3",
                params![ws_id, project, email],
            )?;
            self.audit(
                "update",
                &resource(&slug, &project),
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
        }
        Ok(())
    }
}

/// Gives every workspace without one its default project: a database made
/// before the platform had projects is completed when it is opened. An
/// open that finds nothing missing writes nothing.
pub(crate) fn backfill_default_projects(
    conn: &Connection,
    catalog: &Catalog,
) -> Result<(), ApiError> {
    let Some(rules) = &catalog.projects else {
        return Ok(());
    };
    const MISSING: &str = "FROM workspaces w WHERE NOT EXISTS
        (SELECT 1 FROM projects p WHERE p.workspace_id = w.id AND p.slug = ?1)";
    let missing: i64 = conn.one(
        &format!("SELECT count(*) {MISSING}"),
        params![rules.default_project],
        |r| r.get(0),
    )?;
    if missing == 0 {
        return Ok(());
    }
    let spec = ProjectSpec {
        name: Some(rules.default_project_name.clone()),
        ..ProjectSpec::default()
    };
    let now = super::Now::at(std::time::SystemTime::now());
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    tx.run(
        &format!(
            "INSERT INTO projects (workspace_id, slug, spec, version, created_at, updated_at)
             SELECT w.id, ?1, ?2, 1, ?3, ?3 {MISSING}"
        ),
        params![rules.default_project, json(&spec)?, now.text],
    )?;
    tx.commit()?;
    Ok(())
}

fn project_roles(catalog: &Catalog) -> String {
    catalog
        .roles
        .iter()
        .filter(|r| r.scope == RoleScope::Project)
        .map(|r| r.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Engine {
    pub fn list_projects(&self, slug: &str, req: &PageRequest) -> Result<Page<Project>, ApiError> {
        with_projects(self.catalog())?;
        let after = req.after()?;
        let catalog = self.catalog();
        self.read(|c| {
            let id = workspace_id(c, slug)?;
            let mut stmt = c.prepare_cached(
                "SELECT slug, spec, version, created_at, updated_at FROM projects
                 WHERE workspace_id = ?1 AND slug > ?2 ORDER BY slug LIMIT ?3",
            )?;
            let mut items = Vec::new();
            for r in stmt.query_map(params![id, after, (req.limit + 1) as i64], row)? {
                let p = object(catalog, slug, r?)?;
                items.push((p.slug.clone(), p));
            }
            Ok(page(items, req.limit))
        })
    }

    pub fn get_project(&self, slug: &str, project: &str) -> Result<Project, ApiError> {
        with_projects(self.catalog())?;
        let catalog = self.catalog();
        self.read(|c| get(c, catalog, slug, project))
    }

    pub fn create_project(
        &self,
        actor: &Actor,
        slug: &str,
        project: &str,
        mut spec: ProjectSpec,
    ) -> Result<Project, ApiError> {
        with_projects(self.catalog())?;
        if !is_slug(project) {
            return Err(ApiError::invalid_value(format!(
                "`{project}` is not a valid project slug: 1-63 lower-case letters, digits and hyphens"
            )));
        }
        self.write(actor, |t| {
            let id = t.workspace_id(slug)?;
            if get(t.tx, t.catalog, slug, project).is_ok() {
                return Err(ApiError::already_exists(what(slug, project)));
            }
            t.check_project(id, &mut spec)?;
            t.tx.run(
                "INSERT INTO projects (workspace_id, slug, spec, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![id, project, json(&spec)?, t.now.text],
            )?;
            t.index_members(id, project, &spec)?;
            t.audit(
                "create",
                &resource(slug, project),
                1,
                &Value::Null,
                &serde_json::to_value(&spec)?,
            )?;
            get(t.tx, t.catalog, slug, project)
        })
    }

    /// Applies a merge patch (`members` is replaced whole). The default
    /// project cannot be archived.
    pub fn update_project(
        &self,
        actor: &Actor,
        slug: &str,
        project: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<Project, ApiError> {
        with_projects(self.catalog())?;
        self.write(actor, |t| {
            let current = get(t.tx, t.catalog, slug, project)?;
            check_version(&what(slug, project), if_match, current.version)?;
            let mut spec: ProjectSpec = patched(&current.spec, patch)?;
            if current.default && spec.status == WorkspaceStatus::Archived {
                return Err(ApiError::conflict(
                    "default-project",
                    format!("the default project of workspace `{slug}` cannot be archived: it lives as long as its workspace"),
                ));
            }
            let id = t.workspace_id(slug)?;
            t.check_project(id, &mut spec)?;
            let version = current.version + 1;
            t.tx.run(
                "UPDATE projects SET spec = ?1, version = ?2, updated_at = ?3
                 WHERE workspace_id = ?4 AND slug = ?5",
                params![json(&spec)?, version as i64, t.now.text, id, project],
            )?;
            t.index_members(id, project, &spec)?;
            t.audit(
                "update",
                &resource(slug, project),
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
            get(t.tx, t.catalog, slug, project)
        })
    }

    pub fn delete_project(
        &self,
        actor: &Actor,
        slug: &str,
        project: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        with_projects(self.catalog())?;
        self.write(actor, |t| {
            let current = get(t.tx, t.catalog, slug, project)?;
            check_version(&what(slug, project), if_match, current.version)?;
            if current.default {
                return Err(ApiError::conflict(
                    "default-project",
                    format!("the default project of workspace `{slug}` cannot be deleted: it lives as long as its workspace"),
                ));
            }
            t.guard_mapped(&format!("project `{project}` of workspace `{slug}`"), |m| {
                m.workspace == slug && m.projects.contains_key(project)
            })?;
            let id = t.workspace_id(slug)?;
            t.drop_top_ups(id, "project", project)?;
            t.tx.run(
                "DELETE FROM projects WHERE workspace_id = ?1 AND slug = ?2",
                params![id, project],
            )?;
            t.audit(
                "delete",
                &resource(slug, project),
                0,
                &serde_json::to_value(&current.spec)?,
                &Value::Null,
            )
        })
    }
}
