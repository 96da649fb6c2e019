//! API keys of a workspace (M3 Forge: Settings -> API keys): for one
//! member, the owner, with permissions within the owner's there. The
//! platform makes the value and answers it once, to the create or the
//! rotation that made it; it keeps only a hash. A rotation issues a new
//! value first and keeps the old one valid for a day (rotation without
//! downtime). A key goes with its owner's membership.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::is_slug;
use super::workspaces::workspace_id;
use super::{
    Actor, Cached, Engine, PageRequest, Tx, check_labels, check_text, check_version, json, page,
    parse, patched, take_key, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{ApiKey, ApiKeySpec, Catalog, Page};

/// How long an old value stays valid after a rotation.
const GRACE_SECONDS: i64 = 24 * 3600;

/// What is stored of a key: its spec, and of its value only a hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    spec: ApiKeySpec,
    prefix: String,
    hash: String,
    issued_at: String,
    /// The value before the last rotation, valid until `previous_until`.
    #[serde(default)]
    previous_hash: Option<String>,
    #[serde(default)]
    previous_until: Option<String>,
}

pub(crate) fn resource(slug: &str, id: &str) -> String {
    format!("workspaces/{slug}/api-keys/{id}")
}

pub(crate) fn object(
    slug: &str,
    id: String,
    stored: &str,
    version: i64,
    (created_at, updated_at): (String, String),
) -> Result<ApiKey, ApiError> {
    let s: Stored = parse(stored)?;
    Ok(ApiKey {
        workspace: slug.to_owned(),
        id,
        spec: s.spec,
        prefix: s.prefix,
        issued_at: s.issued_at,
        value: None,
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

type Row = (String, i64, String, String);

fn stored(conn: &Connection, ws: i64, id: &str) -> Result<Option<Row>, ApiError> {
    Ok(conn
        .one(
            "SELECT spec, version, created_at, updated_at FROM api_keys WHERE workspace_id = ?1 AND id = ?2",
            params![ws, id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?)
}

fn what(slug: &str, id: &str) -> String {
    format!("API key `{id}` of workspace `{slug}`")
}

fn get(conn: &Connection, slug: &str, id: &str) -> Result<ApiKey, ApiError> {
    let ws = workspace_id(conn, slug)?;
    let (s, version, created, updated) =
        stored(conn, ws, id)?.ok_or_else(|| ApiError::not_found(what(slug, id)))?;
    object(slug, id.to_owned(), &s, version, (created, updated))
}

/// A new value: `tnk_` and 32 random bytes in hex; its prefix and hash.
fn issue() -> Result<(String, String, String), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let value = format!(
        "tnk_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let prefix = value.chars().take(12).collect();
    let hash = super::providers::fingerprint(&value);
    Ok((value, prefix, hash))
}

/// Whether `pattern` (`*`, `family.*`, `*.action`, `family.action`)
/// covers `permission`.
fn covers(pattern: &str, permission: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match (pattern.split_once('.'), permission.split_once('.')) {
        (Some((pf, pa)), Some((f, a))) => (pf == "*" || pf == f) && (pa == "*" || pa == a),
        _ => false,
    }
}

/// The catalog's permissions a list of patterns grants.
fn expand<'c>(catalog: &'c Catalog, patterns: &[String]) -> BTreeSet<&'c str> {
    catalog
        .permissions
        .iter()
        .map(|p| p.id.as_str())
        .filter(|p| patterns.iter().any(|pat| covers(pat, p)))
        .collect()
}

impl Tx<'_> {
    /// The permissions `email` holds in workspace `ws` through their roles.
    fn member_permissions(&self, ws: i64, email: &str) -> Result<BTreeSet<&str>, ApiError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT role FROM membership_roles WHERE workspace_id = ?1 AND user_email = ?2",
        )?;
        let roles: Vec<String> = stmt
            .query_map(params![ws, email], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut patterns = Vec::new();
        for r in &roles {
            match self.catalog.roles.iter().find(|b| b.id == *r) {
                Some(b) => patterns.extend(b.permissions.iter().cloned()),
                None => {
                    if let Some(custom) = super::roles::permissions(self.tx, r)? {
                        patterns.extend(custom);
                    }
                }
            }
        }
        Ok(expand(self.catalog, &patterns))
    }

    fn check_api_key(&self, ws: i64, slug: &str, spec: &mut ApiKeySpec) -> Result<(), ApiError> {
        check_text("display_name", &spec.display_name, 200)?;
        check_labels(&spec.labels)?;
        spec.owner = spec.owner.to_lowercase();
        if let Some(e) = &spec.expires
            && (e.len() != 10 || e.parse::<jiff::civil::Date>().is_err())
        {
            return Err(ApiError::invalid_value(format!(
                "`{e}` is not a day: write YYYY-MM-DD"
            )));
        }
        if spec.rotate_every_days.is_some_and(|d| d == 0 || d > 3650) {
            return Err(ApiError::invalid_value("`rotate_every_days` is 1 to 3650"));
        }
        if spec.permissions.is_empty() {
            return Err(ApiError::invalid_value(
                "an API key needs at least one permission",
            ));
        }
        let member: Option<i64> = self
            .tx
            .one(
                "SELECT 1 FROM memberships WHERE workspace_id = ?1 AND user_email = ?2",
                params![ws, spec.owner],
                |r| r.get(0),
            )
            .optional()?;
        if member.is_none() {
            return Err(ApiError::invalid_reference(format!(
                "`{}` is no member of workspace `{slug}`: an API key's owner is",
                spec.owner
            )));
        }
        let owner = self.member_permissions(ws, &spec.owner)?;
        let mut seen = BTreeSet::new();
        for p in &spec.permissions {
            if !seen.insert(p) {
                return Err(ApiError::invalid_value(format!("`{p}` is listed twice")));
            }
            let granted = expand(self.catalog, std::slice::from_ref(p));
            if granted.is_empty() {
                return Err(ApiError::invalid_value(format!(
                    "`{p}` matches no permission of the catalog"
                )));
            }
            if let Some(beyond) = granted.iter().find(|g| !owner.contains(*g)) {
                return Err(ApiError::invalid_value(format!(
                    "`{p}` grants `{beyond}`, which the owner `{}` does not have in workspace `{slug}`",
                    spec.owner
                )));
            }
        }
        Ok(())
    }

    /// Deletes the keys `email` owns in workspace `ws` (every workspace
    /// when `None`), each audited: its membership or account is going.
    pub(crate) fn drop_api_keys(&self, ws: Option<i64>, email: &str) -> Result<(), ApiError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT k.workspace_id, w.slug, k.id, k.spec FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
             WHERE (?1 IS NULL OR k.workspace_id = ?1) AND json_extract(k.spec, '$.spec.owner') = ?2",
        )?;
        let rows: Vec<(i64, String, String, String)> = stmt
            .query_map(params![ws, email], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        for (ws, slug, id, s) in rows {
            let slug = slug.as_str();
            let s: Stored = parse(&s)?;
            self.tx.run(
                "DELETE FROM api_keys WHERE workspace_id = ?1 AND id = ?2",
                params![ws, id],
            )?;
            self.audit(
                "delete",
                &resource(slug, &id),
                0,
                &serde_json::to_value(&s.spec)?,
                &Value::Null,
            )?;
        }
        Ok(())
    }
}

impl Engine {
    pub fn list_api_keys(&self, slug: &str, req: &PageRequest) -> Result<Page<ApiKey>, ApiError> {
        let after = req.after()?;
        self.read(|c| {
            let ws = workspace_id(c, slug)?;
            let mut stmt = c.prepare_cached(
                "SELECT id, spec, version, created_at, updated_at FROM api_keys
                 WHERE workspace_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let mut items = Vec::new();
            let rows = stmt.query_map(params![ws, after, (req.limit + 1) as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            for r in rows {
                let (id, s, version, created, updated): (String, String, i64, String, String) = r?;
                items.push((
                    id.clone(),
                    object(slug, id, &s, version, (created, updated))?,
                ));
            }
            Ok(page(items, req.limit))
        })
    }

    pub fn get_api_key(&self, slug: &str, id: &str) -> Result<ApiKey, ApiError> {
        self.read(|c| get(c, slug, id))
    }

    /// Creates a key; the answer holds its value, this once.
    pub fn create_api_key(
        &self,
        actor: &Actor,
        slug: &str,
        id: &str,
        mut spec: ApiKeySpec,
    ) -> Result<ApiKey, ApiError> {
        if !is_slug(id) {
            return Err(ApiError::invalid_value(format!(
                "`{id}` is not a valid API key name: 1-63 lower-case letters, digits and hyphens"
            )));
        }
        let (value, prefix, hash) = issue()?;
        let mut made = self.write(actor, |t| {
            let ws = t.workspace_id(slug)?;
            if stored(t.tx, ws, id)?.is_some() {
                return Err(ApiError::already_exists(what(slug, id)));
            }
            t.check_api_key(ws, slug, &mut spec)?;
            let s = Stored {
                spec: spec.clone(),
                prefix: prefix.clone(),
                hash: hash.clone(),
                issued_at: t.now.text.clone(),
                previous_hash: None,
                previous_until: None,
            };
            t.tx.run(
                "INSERT INTO api_keys (workspace_id, id, spec, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![ws, id, json(&s)?, t.now.text],
            )?;
            t.audit(
                "create",
                &resource(slug, id),
                1,
                &Value::Null,
                &audit_view(&s)?,
            )?;
            get(t.tx, slug, id)
        })?;
        made.value = Some(value);
        Ok(made)
    }

    /// A merge patch of the spec (the value is not a field: rotate it).
    pub fn update_api_key(
        &self,
        actor: &Actor,
        slug: &str,
        id: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<ApiKey, ApiError> {
        self.change_api_key(actor, (slug, id), if_match, patch, None)
    }

    /// Issues a new value (answered this once); the old one stays valid
    /// for a day. `patch`, a merge patch of the spec (`{}` for none), is
    /// applied in the same step.
    pub fn rotate_api_key(
        &self,
        actor: &Actor,
        slug: &str,
        id: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<ApiKey, ApiError> {
        let (value, prefix, hash) = issue()?;
        let mut rotated =
            self.change_api_key(actor, (slug, id), if_match, patch, Some((prefix, hash)))?;
        rotated.value = Some(value);
        Ok(rotated)
    }

    /// Applies a merge patch of the spec and, with `new_value` (its prefix
    /// and hash), puts a new value in place of the current one, which
    /// stays valid for [`GRACE_SECONDS`]. One audited write either way.
    fn change_api_key(
        &self,
        actor: &Actor,
        (slug, id): (&str, &str),
        if_match: Option<u64>,
        patch: &Value,
        new_value: Option<(String, String)>,
    ) -> Result<ApiKey, ApiError> {
        let (new_id, patch) = take_key(patch, "id", "API key name")?;
        if new_id.as_deref().is_some_and(|n| n != id) {
            return Err(ApiError::invalid_value("an API key cannot be renamed"));
        }
        self.write(actor, |t| {
            let ws = t.workspace_id(slug)?;
            let (s, version, ..) =
                stored(t.tx, ws, id)?.ok_or_else(|| ApiError::not_found(what(slug, id)))?;
            check_version(&what(slug, id), if_match, to_u64(version))?;
            let mut s: Stored = parse(&s)?;
            let before = audit_view(&s)?;
            let mut spec: ApiKeySpec = patched(&s.spec, &patch)?;
            t.check_api_key(ws, slug, &mut spec)?;
            s.spec = spec;
            let action = match &new_value {
                Some((prefix, hash)) => {
                    let until = jiff::Timestamp::now()
                        .checked_add(jiff::SignedDuration::from_secs(GRACE_SECONDS))
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    s.previous_hash = Some(std::mem::replace(&mut s.hash, hash.clone()));
                    s.previous_until = Some(until.to_string());
                    s.prefix = prefix.clone();
                    s.issued_at = t.now.text.clone();
                    "rotate"
                }
                None => "update",
            };
            let version = to_u64(version) + 1;
            t.tx.run(
                "UPDATE api_keys SET spec = ?1, version = ?2, updated_at = ?3 WHERE workspace_id = ?4 AND id = ?5",
                params![json(&s)?, version as i64, t.now.text, ws, id],
            )?;
            t.audit(action, &resource(slug, id), version, &before, &audit_view(&s)?)?;
            get(t.tx, slug, id)
        })
    }

    pub fn delete_api_key(
        &self,
        actor: &Actor,
        slug: &str,
        id: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        self.write(actor, |t| {
            let ws = t.workspace_id(slug)?;
            let (s, version, ..) =
                stored(t.tx, ws, id)?.ok_or_else(|| ApiError::not_found(what(slug, id)))?;
            check_version(&what(slug, id), if_match, to_u64(version))?;
            let s: Stored = parse(&s)?;
            t.tx.run(
                "DELETE FROM api_keys WHERE workspace_id = ?1 AND id = ?2",
                params![ws, id],
            )?;
            t.audit(
                "delete",
                &resource(slug, id),
                0,
                &audit_view(&s)?,
                &Value::Null,
            )
        })
    }
}

/// What the audit log records of a key: its spec, the prefix and when
/// the value was issued; never the value, nor its hash.
fn audit_view(s: &Stored) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(&s.spec)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("prefix".to_owned(), Value::String(s.prefix.clone()));
        m.insert("issued_at".to_owned(), Value::String(s.issued_at.clone()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn patterns_cover_what_they_name() {
        assert!(covers("*", "prompts.view"));
        assert!(covers("prompts.*", "prompts.view"));
        assert!(covers("*.view", "prompts.view"));
        assert!(covers("prompts.view", "prompts.view"));
        assert!(!covers("prompts.*", "workflows.view"));
        assert!(!covers("*.edit", "prompts.view"));
    }
}
