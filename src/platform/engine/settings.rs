//! Platform-wide settings: a singleton replaced whole. Network ranges are
//! stored normalized (host bits cleared).

use rusqlite::{Connection, params};

use super::{Actor, Engine, check_labels, check_version, json, parse, to_u64};
use crate::model::normalize_cidr;
use crate::platform::ApiError;
use crate::wire::{Settings, SettingsSpec};

fn get(conn: &Connection) -> Result<Settings, ApiError> {
    let (spec, version, updated_at): (String, i64, String) = conn.query_row(
        "SELECT spec, version, updated_at FROM settings WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Settings {
        spec: parse(&spec)?,
        version: to_u64(version),
        updated_at,
    })
}

fn normalize(mut spec: SettingsSpec) -> Result<SettingsSpec, ApiError> {
    check_labels(&spec.labels)?;
    let s = &spec.security;
    if s.session_timeout_minutes
        .is_some_and(|m| !(1..=525_600).contains(&m))
    {
        return Err(ApiError::invalid_value(
            "`session_timeout_minutes` must be between 1 and 525600",
        ));
    }
    if s.password_policy
        .min_length
        .is_some_and(|m| !(6..=128).contains(&m))
    {
        return Err(ApiError::invalid_value(
            "`password_policy.min_length` must be between 6 and 128",
        ));
    }
    if let Some(list) = &spec.security.ip_allowlist {
        let mut out: Vec<String> = Vec::new();
        for c in list {
            let n = normalize_cidr(c).map_err(|why| {
                ApiError::invalid_value(format!("`{c}` is not a CIDR block: {why}"))
            })?;
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out.sort();
        spec.security.ip_allowlist = Some(out);
    }
    Ok(spec)
}

impl Engine {
    pub fn get_settings(&self) -> Result<Settings, ApiError> {
        self.read(get)
    }

    pub fn put_settings(
        &self,
        actor: &Actor,
        if_match: Option<u64>,
        spec: SettingsSpec,
    ) -> Result<Settings, ApiError> {
        let spec = normalize(spec)?;
        self.write(actor, |t| {
            let current = get(&t.tx)?;
            check_version("the settings", if_match, current.version)?;
            let version = current.version + 1;
            t.tx.execute(
                "UPDATE settings SET spec = ?1, version = ?2, updated_at = ?3 WHERE id = 1",
                params![json(&spec)?, version as i64, t.now.text],
            )?;
            t.audit(
                "update",
                "settings",
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
            get(&t.tx)
        })
    }
}
