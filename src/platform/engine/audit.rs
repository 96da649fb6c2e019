//! Reading the audit log: every change, who made it, when and through which
//! channel, filtered by resource (and everything below it), actor and time.
//! A resource's log follows it across renames: asked for `workspaces/b`
//! after `a` was renamed `b`, it holds what was recorded under
//! `workspaces/a` (and below) before the rename, then the rename and what
//! came after. Events keep the resource they were recorded under.

use rusqlite::{Connection, params_from_iter};

use super::{Engine, PageRequest, page, parse, to_u64};
use crate::platform::ApiError;
use crate::wire::{AuditEvent, Channel, Page};

/// Filters for [`Engine::list_audit`]; times are RFC 3339.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub resource: Option<String>,
    pub actor: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
}

fn micros(field: &str, t: &Option<String>) -> Result<Option<i64>, ApiError> {
    t.as_deref()
        .map(|s| {
            let at = humantime::parse_rfc3339(s).map_err(|_| {
                ApiError::invalid_value(format!(
                    "`{field}` must be an RFC 3339 time, like 2026-11-25T10:00:00Z"
                ))
            })?;
            let d = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| ApiError::invalid_value(format!("`{field}` is before 1970")))?;
            Ok(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        })
        .transpose()
}

impl Engine {
    pub fn list_audit(
        &self,
        q: &AuditQuery,
        req: &PageRequest,
    ) -> Result<Page<AuditEvent>, ApiError> {
        let after: i64 = match req.after()?.as_str() {
            "" => 0,
            s => s.parse().map_err(|_| {
                ApiError::new(
                    400,
                    "invalid-cursor",
                    "the cursor is not one this platform issued",
                )
            })?,
        };
        let since = micros("since", &q.since)?.unwrap_or(i64::MIN);
        let until = micros("until", &q.until)?.unwrap_or(i64::MAX);
        let resource = q
            .resource
            .as_ref()
            .map(|r| r.trim_end_matches('/').to_owned());
        self.read(|c| {
            // One (resource, before-event) pair per name the resource had.
            let names = match &resource {
                Some(r) => names(c, r)?,
                None => Vec::new(),
            };
            let mut sql = "SELECT id, at, actor, channel, action, resource, version, changes FROM audit
                 WHERE id > ?1 AND at_micros >= ?2 AND at_micros <= ?3
                   AND (?4 IS NULL OR actor = ?4)"
                .to_owned();
            let mut args: Vec<rusqlite::types::Value> = vec![
                after.into(),
                since.into(),
                until.into(),
                q.actor.clone().into(),
            ];
            if !names.is_empty() {
                let mut any = Vec::new();
                for (name, before) in &names {
                    let n = args.len();
                    any.push(format!(
                        "((resource = ?{a} OR substr(resource, 1, length(?{b})) = ?{b}) AND id < ?{c})",
                        a = n + 1,
                        b = n + 2,
                        c = n + 3
                    ));
                    args.push(name.clone().into());
                    args.push(format!("{name}/").into());
                    args.push((*before).into());
                }
                sql.push_str(&format!(" AND ({})", any.join(" OR ")));
            }
            sql.push_str(&format!(" ORDER BY id LIMIT ?{}", args.len() + 1));
            args.push(((req.limit + 1) as i64).into());
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params_from_iter(args),
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                },
            )?;
            let mut items = Vec::new();
            for r in rows {
                let (id, at, actor, channel, action, resource, version, changes) = r?;
                items.push((
                    id.to_string(),
                    AuditEvent {
                        id: to_u64(id),
                        at,
                        actor,
                        channel: if channel == "local" {
                            Channel::Local
                        } else {
                            Channel::Api
                        },
                        action,
                        resource,
                        version: to_u64(version),
                        changes: parse(&changes)?,
                    },
                ));
            }
            Ok(page(items, req.limit))
        })
    }
}

/// Every name `resource` had, newest first, each with the id of the event
/// before which it held that name (`i64::MAX` for the name now): following
/// the `rename` events of workspaces, roles and providers backwards (an
/// assignment follows its workspace and its provider).
fn names(c: &Connection, resource: &str) -> Result<Vec<(String, i64)>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, resource, changes FROM audit WHERE action = 'rename' ORDER BY id DESC",
    )?;
    let renames: Vec<(i64, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = vec![(resource.to_owned(), i64::MAX)];
    for (id, new_path, changes) in renames {
        let changes: std::collections::BTreeMap<String, crate::wire::Change> = parse(&changes)?;
        let Some((kind, _)) = new_path.split_once('/') else {
            continue;
        };
        let key = match kind {
            "workspaces" => "slug",
            "roles" => "id",
            "providers" => "name",
            _ => continue,
        };
        let (Some(old), Some(new)) = changes
            .get(key)
            .map_or((None, None), |c| (c.before.as_str(), c.after.as_str()))
        else {
            continue;
        };
        let old_path = format!("{kind}/{old}");
        let mut earlier = Vec::new();
        for (name, before) in &out {
            if id >= *before {
                continue;
            }
            if let Some(rest) = name.strip_prefix(new_path.as_str())
                && (rest.is_empty() || rest.starts_with('/'))
            {
                earlier.push((format!("{old_path}{rest}"), id));
            }
            // workspaces/W/assignments/P follows provider P.
            if kind == "providers"
                && let Some((ws, p)) = name.rsplit_once("/assignments/")
                && p == new
                && ws.starts_with("workspaces/")
            {
                earlier.push((format!("{ws}/assignments/{old}"), id));
            }
        }
        out.extend(earlier);
        // A pathological history cannot make the query unbounded.
        if out.len() >= 64 {
            break;
        }
    }
    Ok(out)
}
