//! LLM provider connections. API keys are write-only: only their
//! fingerprints are stored and returned. A model still assigned to a
//! workspace cannot be removed, nor a provider with assignments deleted.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::keys::is_slug;
use super::{
    Actor, Cached, Engine, PageRequest, check_labels, check_text, check_version, json, keyed, page,
    parse, patched, take_key, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{AssignmentSpec, KeyFingerprint, Page, Provider, ProviderSpec};

fn resource(name: &str) -> String {
    format!("providers/{name}")
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, i64, String, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn object(
    (name, spec, keys, version, created_at, updated_at): (
        String,
        String,
        String,
        i64,
        String,
        String,
    ),
) -> Result<Provider, ApiError> {
    let keys: Vec<String> = parse(&keys)?;
    Ok(Provider {
        name,
        spec: parse(&spec)?,
        api_keys: keys
            .into_iter()
            .map(|fingerprint| KeyFingerprint { fingerprint })
            .collect(),
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

pub(crate) fn get(conn: &Connection, name: &str) -> Result<Provider, ApiError> {
    let r = conn
        .one(
            "SELECT name, spec, keys, version, created_at, updated_at FROM providers WHERE name = ?1",
            params![name],
            row,
        )
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("provider `{name}`")))?;
    object(r)
}

fn check(spec: &ProviderSpec) -> Result<(), ApiError> {
    check_text("display_name", &spec.display_name, 200)?;
    check_text("region", &spec.region, 64)?;
    check_labels(&spec.labels)?;
    if let Some(e) = &spec.endpoint
        && !(e.starts_with("https://") || e.starts_with("http://"))
    {
        return Err(ApiError::invalid_value(
            "`endpoint` must be an http:// or https:// URL",
        ));
    }
    let mut seen = BTreeSet::new();
    for m in &spec.models {
        if m.is_empty() || m.len() > 200 {
            return Err(ApiError::invalid_value("model names are 1-200 characters"));
        }
        if !seen.insert(m) {
            return Err(ApiError::invalid_value(format!(
                "model `{m}` is listed twice"
            )));
        }
    }
    Ok(())
}

/// A key's fingerprint as the contract defines it (§7.9): `sha256:` and the
/// first 16 bytes of the SHA-256 of the key's UTF-8 bytes, in lower-case hex.
pub(crate) fn fingerprint(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::from("sha256:");
    for b in digest.iter().take(16) {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
    }
    out
}

/// Fingerprints of the given keys; the values go no further than this.
fn fingerprints(keys: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for k in keys {
        if k.is_empty() {
            return Err(ApiError::invalid_value("an API key cannot be empty"));
        }
        let f = fingerprint(k);
        if out.contains(&f) {
            return Err(ApiError::invalid_value("the same API key is given twice"));
        }
        out.push(f);
    }
    Ok(out)
}

/// Redacts key values out of a fingerprinted view for the audit log.
fn audit_view(spec: &ProviderSpec, keys: &[String]) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(spec)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("api_keys".to_owned(), serde_json::to_value(keys)?);
    }
    Ok(v)
}

impl Engine {
    pub fn list_providers(&self, req: &PageRequest) -> Result<Page<Provider>, ApiError> {
        let after = req.after()?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT name, spec, keys, version, created_at, updated_at FROM providers
                 WHERE name > ?1 ORDER BY name LIMIT ?2",
            )?;
            let mut items = Vec::new();
            for r in stmt.query_map(params![after, (req.limit + 1) as i64], row)? {
                let p = object(r?)?;
                items.push((p.name.clone(), p));
            }
            Ok(page(items, req.limit))
        })
    }

    pub fn get_provider(&self, name: &str) -> Result<Provider, ApiError> {
        self.read(|c| get(c, name))
    }

    /// Creates a provider; `api_keys` are secret values, kept only as
    /// fingerprints.
    pub fn create_provider(
        &self,
        actor: &Actor,
        name: &str,
        spec: ProviderSpec,
        api_keys: &[String],
    ) -> Result<Provider, ApiError> {
        if !is_slug(name) {
            return Err(ApiError::invalid_value(format!(
                "`{name}` is not a valid provider name: 1-63 lower-case letters, digits and hyphens"
            )));
        }
        check(&spec)?;
        let keys = fingerprints(api_keys)?;
        self.write(actor, |t| {
            if get(t.tx, name).is_ok() {
                return Err(ApiError::already_exists(format!("provider `{name}`")));
            }
            t.tx.run(
                "INSERT INTO providers (name, spec, keys, version, created_at, updated_at) VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![name, json(&spec)?, json(&keys)?, t.now.text],
            )?;
            t.audit("create", &resource(name), 1, &Value::Null, &audit_view(&spec, &keys)?)?;
            get(t.tx, name)
        })
    }

    /// Applies a merge patch; `api_keys` in the patch (secret values)
    /// replace every key. A `name` in the patch renames the provider in
    /// place: its assignments stay (keeping their versions), and the audit
    /// log records one `rename` under the new name.
    pub fn update_provider(
        &self,
        actor: &Actor,
        name: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<Provider, ApiError> {
        let (new_name, mut patch) = take_key(patch, "name", "provider name")?;
        let renamed = new_name.as_deref().filter(|n| *n != name);
        let new_keys = match patch.as_object_mut().and_then(|m| m.remove("api_keys")) {
            None => None,
            Some(v) => {
                let keys: Vec<String> = serde_json::from_value(v).map_err(|_| {
                    ApiError::invalid_body("`api_keys` must be an array of strings")
                })?;
                Some(fingerprints(&keys)?)
            }
        };
        self.write(actor, |t| {
            let current = get(t.tx, name)?;
            check_version(&format!("provider `{name}`"), if_match, current.version)?;
            let spec: ProviderSpec = patched(&current.spec, &patch)?;
            check(&spec)?;
            let old_keys: Vec<String> = current.api_keys.iter().map(|k| k.fingerprint.clone()).collect();
            let keys = new_keys.clone().unwrap_or_else(|| old_keys.clone());
            // A model still assigned somewhere must stay offered.
            let removed: BTreeSet<&String> = current.spec.models.iter().filter(|m| !spec.models.contains(m)).collect();
            if !removed.is_empty() {
                let mut stmt = t.tx.prepare_cached(
                    "SELECT w.slug, a.spec FROM assignments a JOIN workspaces w ON w.id = a.workspace_id WHERE a.provider = ?1",
                )?;
                let rows: Vec<(String, String)> = stmt
                    .query_map(params![name], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                for (slug, a) in rows {
                    let a: AssignmentSpec = parse(&a)?;
                    if let Some(m) = a.models.iter().flatten().find(|m| removed.contains(m)) {
                        return Err(ApiError::conflict(
                            "provider-in-use",
                            format!("model `{m}` of provider `{name}` is assigned to workspace `{slug}`; remove it from the assignment first"),
                        ));
                    }
                }
            }
            if let Some(n) = renamed
                && get(t.tx, n).is_ok()
            {
                return Err(ApiError::already_exists(format!("provider `{n}`")));
            }
            let to = renamed.unwrap_or(name);
            let version = current.version + 1;
            // A rename moves the assignments with the provider, checked at
            // commit.
            t.tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
            t.tx.run(
                "UPDATE providers SET name = ?1, spec = ?2, keys = ?3, version = ?4, updated_at = ?5 WHERE name = ?6",
                params![to, json(&spec)?, json(&keys)?, version as i64, t.now.text, name],
            )?;
            let (before, after) = (audit_view(&current.spec, &old_keys)?, audit_view(&spec, &keys)?);
            match renamed {
                Some(n) => {
                    t.tx.run(
                        "UPDATE assignments SET provider = ?1 WHERE provider = ?2",
                        params![n, name],
                    )?;
                    t.audit("rename", &resource(n), version, &keyed(before, "name", name), &keyed(after, "name", n))?;
                }
                None => t.audit("update", &resource(name), version, &before, &after)?,
            }
            // Every reference holds again: what else this transaction
            // writes (a batch's later writes) is checked as it is made.
            t.tx.execute_batch("PRAGMA defer_foreign_keys = OFF")?;
            get(t.tx, to)
        })
    }

    pub fn delete_provider(
        &self,
        actor: &Actor,
        name: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        self.write(actor, |t| {
            let current = get(t.tx, name)?;
            check_version(&format!("provider `{name}`"), if_match, current.version)?;
            let assigned: i64 = t.tx.one(
                "SELECT COUNT(*) FROM assignments WHERE provider = ?1",
                params![name],
                |r| r.get(0),
            )?;
            if assigned > 0 {
                return Err(ApiError::conflict(
                    "provider-in-use",
                    format!("provider `{name}` is assigned to {assigned} workspace(s); remove the assignments first"),
                ));
            }
            let keys: Vec<String> = current.api_keys.iter().map(|k| k.fingerprint.clone()).collect();
            t.tx.run("DELETE FROM providers WHERE name = ?1", params![name])?;
            t.audit("delete", &resource(name), 0, &audit_view(&current.spec, &keys)?, &Value::Null)
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprints_follow_the_contract() {
        // Reference values: the first 32 hex digits of `sha256sum`.
        assert_eq!(
            super::fingerprint("sk-test"),
            "sha256:f3abf2a6cc4f00987743db5f544ba345"
        );
        assert_eq!(
            super::fingerprint("clé"),
            "sha256:51cbcf30514d0802eb5c60a018f384ea"
        );
    }
}
