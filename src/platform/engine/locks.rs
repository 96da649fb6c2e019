//! Advisory locks with a time to live: `apply` holds one for its duration so
//! two applies never interleave. An expired lock is free.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use super::keys::{MAX_LOCK_HOLDER, MAX_LOCK_NAME, is_printable};
use super::{Actor, Cached, Engine, Now};
use crate::platform::ApiError;
use crate::wire::Lock;

pub const MAX_TTL_SECONDS: u64 = 3600;

fn get(conn: &Connection, name: &str) -> Result<Option<(Lock, i64)>, ApiError> {
    Ok(conn
        .one(
            "SELECT holder, acquired_at, expires_at, expires_micros FROM locks WHERE name = ?1",
            params![name],
            |r| {
                Ok((
                    Lock {
                        name: name.to_owned(),
                        holder: r.get(0)?,
                        acquired_at: r.get(1)?,
                        expires_at: r.get(2)?,
                    },
                    r.get(3)?,
                ))
            },
        )
        .optional()?)
}

fn check_ttl(ttl: u64) -> Result<(), ApiError> {
    if (1..=MAX_TTL_SECONDS).contains(&ttl) {
        Ok(())
    } else {
        Err(ApiError::invalid_value(format!(
            "ttl_seconds must be between 1 and {MAX_TTL_SECONDS}"
        )))
    }
}

fn held(lock: &Lock) -> ApiError {
    ApiError {
        holder: Some(lock.holder.clone()),
        expires_at: Some(lock.expires_at.clone()),
        ..ApiError::conflict(
            "lock-held",
            format!(
                "lock `{}` is held by `{}` until {}",
                lock.name, lock.holder, lock.expires_at
            ),
        )
    }
}

/// A lock name and holder as the contract bounds them: printable text, at
/// most 128 and 256 bytes.
fn check_words(name: &str, holder: Option<&str>) -> Result<(), ApiError> {
    if name.len() > MAX_LOCK_NAME {
        return Err(ApiError::invalid_value(format!(
            "a lock name is at most {MAX_LOCK_NAME} bytes, not {}",
            name.len()
        )));
    }
    if let Some(h) = holder
        && h.len() > MAX_LOCK_HOLDER
    {
        return Err(ApiError::invalid_value(format!(
            "a lock holder is at most {MAX_LOCK_HOLDER} bytes, not {}",
            h.len()
        )));
    }
    if !is_printable(name) || !holder.is_none_or(is_printable) {
        return Err(ApiError::invalid_value(
            "lock names and holders are printable text: no control characters (such as NUL)",
        ));
    }
    Ok(())
}

impl Engine {
    /// Acquires `name` for `holder`; re-acquiring one's own lock renews it.
    /// Returns the lock and whether it was newly acquired.
    pub fn acquire_lock(
        &self,
        actor: &Actor,
        name: &str,
        holder: &str,
        ttl: u64,
    ) -> Result<(Lock, bool), ApiError> {
        check_ttl(ttl)?;
        check_words(name, Some(holder))?;
        if name.is_empty() || holder.is_empty() {
            return Err(ApiError::invalid_value("a lock needs a name and a holder"));
        }
        self.write(actor, |t| {
            let current = get(t.tx, name)?;
            let fresh = match &current {
                Some((lock, expires)) if *expires > t.now.micros => {
                    if lock.holder != holder {
                        return Err(held(lock));
                    }
                    false
                }
                _ => true,
            };
            let expires = t.now.plus(ttl);
            let acquired_at = match (&current, fresh) {
                (Some((lock, _)), false) => lock.acquired_at.clone(),
                _ => t.now.text.clone(),
            };
            t.tx.run(
                "INSERT OR REPLACE INTO locks (name, holder, acquired_at, expires_at, expires_micros) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, holder, acquired_at, expires.text, expires.micros],
            )?;
            let lock = get(t.tx, name)?.map(|(l, _)| l).ok_or_else(|| ApiError::internal("lock vanished"))?;
            Ok((lock, fresh))
        })
    }

    pub fn get_lock(&self, name: &str) -> Result<Lock, ApiError> {
        let now = Now::at(SystemTime::now());
        self.read(|c| match get(c, name)? {
            Some((lock, expires)) if expires > now.micros => Ok(lock),
            _ => Err(ApiError::not_found(format!("lock `{name}`"))),
        })
    }

    /// Extends a lock `holder` holds.
    pub fn renew_lock(
        &self,
        actor: &Actor,
        name: &str,
        holder: &str,
        ttl: u64,
    ) -> Result<Lock, ApiError> {
        check_ttl(ttl)?;
        check_words(name, Some(holder))?;
        if holder.is_empty() {
            return Err(ApiError::invalid_value(
                "say who renews the lock: a non-empty holder",
            ));
        }
        self.write(actor, |t| match get(t.tx, name)? {
            Some((lock, expires)) if expires > t.now.micros && lock.holder == holder => {
                let until = t.now.plus(ttl);
                t.tx.run(
                    "UPDATE locks SET expires_at = ?1, expires_micros = ?2 WHERE name = ?3",
                    params![until.text, until.micros, name],
                )?;
                get(t.tx, name)?
                    .map(|(l, _)| l)
                    .ok_or_else(|| ApiError::internal("lock vanished"))
            }
            Some((lock, expires)) if expires > t.now.micros => Err(ApiError {
                holder: Some(lock.holder.clone()),
                expires_at: Some(lock.expires_at.clone()),
                ..ApiError::conflict(
                    "lock-not-held",
                    format!("lock `{name}` is held by `{}`, not `{holder}`", lock.holder),
                )
            }),
            _ => Err(ApiError::conflict(
                "lock-not-held",
                format!("lock `{name}` is not held (it may have expired)"),
            )),
        })
    }

    pub fn release_lock(&self, actor: &Actor, name: &str, holder: &str) -> Result<(), ApiError> {
        check_words(name, Some(holder))?;
        if holder.is_empty() {
            return Err(ApiError::invalid_value(
                "say who releases the lock: a non-empty holder",
            ));
        }
        self.write(actor, |t| match get(t.tx, name)? {
            None => Err(ApiError::not_found(format!("lock `{name}`"))),
            Some((lock, expires)) if lock.holder != holder && expires > t.now.micros => {
                Err(ApiError {
                    holder: Some(lock.holder.clone()),
                    ..ApiError::conflict(
                        "lock-not-held",
                        format!("lock `{name}` is held by `{}`, not `{holder}`", lock.holder),
                    )
                })
            }
            Some(_) => {
                t.tx.run("DELETE FROM locks WHERE name = ?1", params![name])?;
                Ok(())
            }
        })
    }
}
