//! Reading the audit log: every change, who made it, when and through which
//! channel, filtered by resource (and everything below it), actor and time.

use rusqlite::params;

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
        let prefix = resource.as_ref().map(|r| format!("{r}/"));
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, actor, channel, action, resource, version, changes FROM audit
                 WHERE id > ?1 AND at_micros >= ?2 AND at_micros <= ?3
                   AND (?4 IS NULL OR resource = ?4 OR substr(resource, 1, length(?5)) = ?5)
                   AND (?6 IS NULL OR actor = ?6)
                 ORDER BY id LIMIT ?7",
            )?;
            let rows = stmt.query_map(
                params![
                    after,
                    since,
                    until,
                    resource,
                    prefix,
                    q.actor,
                    (req.limit + 1) as i64
                ],
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
