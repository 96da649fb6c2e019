//! The platform engine: the platform's state in SQLite, every write in one
//! transaction together with its audit record, every platform rule enforced.
//! The HTTP server and the embedded sandbox both call these methods; neither
//! touches SQL.
//!
//! Objects are stored as their wire spec (JSON) plus a version; the columns
//! beside the spec exist only where a rule needs an index (user status,
//! membership roles, default assignments).

mod api_keys;
mod assignments;
mod audit;
mod budgets;
mod catalog;
mod collections;
mod identity_providers;
mod keys;
mod locks;
mod memberships;
mod projects;
mod providers;
mod roles;
mod settings;
mod tokens;
mod users;
mod workspaces;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::ReentrantMutex;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

pub use crate::wire::Profile;
pub use audit::AuditQuery;
pub use catalog::CatalogRules;
pub use locks::MAX_TTL_SECONDS;
pub use tokens::{Scope, TokenInfo};

use super::error::ApiError;
use crate::wire::{Catalog, Change, Channel, Page};

/// Who performs a write: the token's name over HTTP, `local` in-process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub channel: Channel,
}

impl Actor {
    /// The embedded sandbox's actor.
    pub fn local() -> Actor {
        Actor {
            name: "local".to_owned(),
            channel: Channel::Local,
        }
    }

    pub fn api(name: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            channel: Channel::Api,
        }
    }
}

/// A list request: at most `limit` items after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub cursor: Option<String>,
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl PageRequest {
    pub fn new(limit: Option<usize>, cursor: Option<String>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::new(
                400,
                "invalid-limit",
                format!("limit must be between 1 and {MAX_LIMIT}, not {limit}"),
            ));
        }
        Ok(Self { limit, cursor })
    }

    /// The key to continue after, decoded from the opaque cursor.
    fn after(&self) -> Result<String, ApiError> {
        match &self.cursor {
            // An empty cursor is the same as none.
            None => Ok(String::new()),
            Some(c) if c.is_empty() => Ok(String::new()),
            Some(c) => decode_cursor(c).ok_or_else(|| {
                ApiError::new(
                    400,
                    "invalid-cursor",
                    "the cursor is not one this platform issued",
                )
            }),
        }
    }
}

/// This process's key for cursor tags: a cursor is the key it continues
/// after, in hex, and a tag only this platform can make, so a forged or
/// edited cursor is refused (400) instead of read as a position.
fn cursor_secret() -> &'static [u8; 32] {
    static SECRET: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    SECRET.get_or_init(|| {
        let mut s = [0u8; 32];
        if getrandom::fill(&mut s).is_err() {
            // No entropy: a time-derived key still refuses hand-made cursors.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            s[..16].copy_from_slice(&t.to_le_bytes());
        }
        s
    })
}

fn cursor_tag(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(cursor_secret());
    h.update(key.as_bytes());
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn encode_cursor(key: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{}", cursor_tag(key))
}

fn decode_cursor(c: &str) -> Option<String> {
    let (hex, tag) = c.split_once('.')?;
    if !hex.len().is_multiple_of(2) || hex.len() > 2048 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    let key = String::from_utf8(bytes?).ok()?;
    (cursor_tag(&key) == tag).then_some(key)
}

/// Builds a page from rows fetched with `LIMIT limit + 1`.
fn page<T>(mut items: Vec<(String, T)>, limit: usize) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|(k, _)| encode_cursor(k))
    } else {
        None
    };
    Page {
        items: items.into_iter().map(|(_, v)| v).collect(),
        next_cursor,
    }
}

/// A moment, as stored: RFC 3339 text and microseconds since the epoch.
#[derive(Debug, Clone)]
pub(crate) struct Now {
    pub text: String,
    pub micros: i64,
}

impl Now {
    pub(crate) fn at(t: SystemTime) -> Now {
        let micros = t
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        Now {
            text: humantime::format_rfc3339_micros(t).to_string(),
            micros,
        }
    }

    pub(crate) fn plus(&self, secs: u64) -> Now {
        let t = UNIX_EPOCH
            + Duration::from_micros(u64::try_from(self.micros).unwrap_or(0))
            + Duration::from_secs(secs);
        Now::at(t)
    }
}

/// Statements compiled once per connection and kept in its cache: an
/// engine call runs a handful of them, and compiling SQL costs more than
/// running it.
pub(crate) trait Cached {
    /// The one row `sql` answers, mapped by `f`.
    fn one<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;

    /// Runs `sql`; the number of rows it changed.
    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn one<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn run<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Distinct statements the engine runs, with room to spare: all of them
/// stay compiled.
const STATEMENT_CACHE: usize = 256;

/// The platform engine.
pub struct Engine {
    /// Reentrant, so that a [`batch`](Engine::batch) holds the connection
    /// while each write in it takes it again.
    conn: ReentrantMutex<Connection>,
    catalog: &'static Catalog,
    /// How long an invitation stays valid, in seconds.
    invitation_ttl: u64,
}

/// MagOneAI's invitation expiry: 7 days.
pub const INVITATION_TTL_SECS: u64 = 7 * 24 * 3600;

/// An open write transaction and who is writing.
pub(crate) struct Tx<'a> {
    pub tx: &'a Connection,
    pub actor: &'a Actor,
    pub now: Now,
    pub catalog: &'a Catalog,
    pub invitation_ttl: u64,
}

impl Engine {
    /// Opens (creating on first use) the platform database at `path`. The
    /// profile is fixed when the database is created; `None` accepts the
    /// stored one (m3forge for a new database), a different one is an error.
    pub fn open(path: &Path, profile: Option<Profile>) -> Result<Engine, ApiError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| ApiError::internal(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A batch of writes keeps every page it changes in the cache until
        // it commits (a smaller cache spills them to the log, again and
        // again); savepoints (one per write in a batch) journal in memory.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Self::init(conn, profile)
    }

    /// A throw-away platform, for tests and benchmarks.
    pub fn open_in_memory(profile: Profile) -> Result<Engine, ApiError> {
        Self::init(Connection::open_in_memory()?, Some(profile))
    }

    fn init(conn: Connection, profile_given: Option<Profile>) -> Result<Engine, ApiError> {
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch(include_str!("schema.sql"))?;
        let profile = match seeded(&conn)? {
            Some(stored) => stored,
            None => {
                // The profile and the settings row are made in one
                // transaction: a process killed between two statements left
                // a platform with a profile and no settings, which no later
                // open repaired (the row is made whenever it is missing).
                let tx = rusqlite::Transaction::new_unchecked(
                    &conn,
                    rusqlite::TransactionBehavior::Immediate,
                )?;
                let stored = stored_profile(&tx)?;
                let p = stored.or(profile_given).unwrap_or(Profile::M3forge);
                if stored.is_none() {
                    tx.run(
                        "INSERT INTO meta (key, value) VALUES ('profile', ?1)",
                        params![p.as_str()],
                    )?;
                }
                tx.run(
                    "INSERT OR IGNORE INTO settings (id, spec, version, updated_at) VALUES (1, ?1, 1, ?2)",
                    params![
                        serde_json::to_string(&crate::wire::SettingsSpec::default())?,
                        Now::at(SystemTime::now()).text
                    ],
                )?;
                tx.commit()?;
                p
            }
        };
        if let Some(p) = profile_given
            && p != profile
        {
            return Err(ApiError::new(
                409,
                "profile-mismatch",
                format!("this platform database was created with the {profile} profile, not {p}"),
            ));
        }
        let catalog = catalog::builtin(profile);
        projects::backfill_default_projects(&conn, catalog)?;
        Ok(Engine {
            conn: ReentrantMutex::new(conn),
            catalog,
            invitation_ttl: INVITATION_TTL_SECS,
        })
    }

    /// How long the invitations this engine sends stay valid (seconds; 7
    /// days unless set).
    pub fn with_invitation_ttl(mut self, secs: u64) -> Engine {
        self.invitation_ttl = secs;
        self
    }

    pub fn profile(&self) -> Profile {
        self.catalog.profile
    }

    /// The catalog, as `GET /v1/catalog` answers it.
    pub fn catalog(&self) -> &Catalog {
        self.catalog
    }

    fn conn(&self) -> parking_lot::ReentrantMutexGuard<'_, Connection> {
        self.conn.lock()
    }

    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let conn = self.conn();
        f(&conn)
    }

    /// Runs `f` in one immediate transaction; the audit records it writes
    /// commit (or roll back) with the change. Inside a [`batch`](Engine::batch)
    /// it is a savepoint of the batch's transaction instead: a refused write
    /// leaves nothing behind, and the others in the batch stay.
    pub(crate) fn write<T>(
        &self,
        actor: &Actor,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let conn = self.conn();
        let open = Open::begin(&conn)?;
        let mut t = Tx {
            tx: &conn,
            actor,
            now: Now::at(SystemTime::now()),
            catalog: self.catalog,
            invitation_ttl: self.invitation_ttl,
        };
        let out = f(&mut t)?;
        open.finish()?;
        Ok(out)
    }

    /// Runs `f`, which makes writes through this engine, holding the
    /// platform for its whole length, with every write it makes in one
    /// transaction: each write still checks its rules, audits and succeeds
    /// or fails on its own (a savepoint each), and they all commit at the
    /// end, together. Committing once for many writes is what makes bulk
    /// changes fast; nobody else writes, or reads, in between. If the
    /// commit fails, none of them happened: the error says so.
    pub fn batch<T>(&self, f: impl FnOnce() -> T) -> Result<T, ApiError> {
        let conn = self.conn();
        let open = Open::begin(&conn)?;
        let out = f();
        open.finish()?;
        Ok(out)
    }
}

/// A transaction (or, inside one, a savepoint) that rolls back unless
/// finished: an error or a panic in a write leaves nothing behind.
struct Open<'c> {
    conn: &'c Connection,
    savepoint: bool,
    done: bool,
}

impl<'c> Open<'c> {
    fn begin(conn: &'c Connection) -> Result<Open<'c>, ApiError> {
        let savepoint = !conn.is_autocommit();
        conn.execute_batch(if savepoint {
            "SAVEPOINT write"
        } else {
            "BEGIN IMMEDIATE"
        })?;
        Ok(Open {
            conn,
            savepoint,
            done: false,
        })
    }

    fn finish(mut self) -> Result<(), ApiError> {
        self.done = true;
        let end = if self.savepoint {
            "RELEASE write"
        } else {
            "COMMIT"
        };
        if let Err(e) = self.conn.execute_batch(end) {
            self.done = false;
            return Err(e.into());
        }
        Ok(())
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Nothing to report to: the write already failed, and a
            // rollback that fails leaves SQLite to roll back on close.
            let _ = self.conn.execute_batch(if self.savepoint {
                "ROLLBACK TO write; RELEASE write"
            } else {
                "ROLLBACK"
            });
        }
    }
}

impl Tx<'_> {
    /// Records a change in the audit log, in this transaction.
    pub fn audit(
        &self,
        action: &str,
        resource: &str,
        version: u64,
        before: &Value,
        after: &Value,
    ) -> Result<(), ApiError> {
        let changes = changes(before, after);
        self.tx.run(
            "INSERT INTO audit (at, at_micros, actor, channel, action, resource, version, changes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                self.now.text,
                self.now.micros,
                self.actor.name,
                match self.actor.channel {
                    Channel::Api => "api",
                    Channel::Local => "local",
                },
                action,
                resource,
                version as i64,
                serde_json::to_string(&changes)?,
            ],
        )?;
        Ok(())
    }
}

/// A field's value for the audit log: a nested object whose fields are all
/// unset (a new workspace's `settings`) is unset itself, so that a create
/// or delete lists only the fields with a value.
fn unset(v: Option<&Value>) -> &Value {
    fn blank(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Object(m) => !m.is_empty() && m.values().all(blank),
            _ => false,
        }
    }
    match v {
        Some(v) if !blank(v) => v,
        _ => &Value::Null,
    }
}

/// The top-level fields that differ between two JSON objects.
fn changes(before: &Value, after: &Value) -> BTreeMap<String, Change> {
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut out = BTreeMap::new();
    for key in b.keys().chain(a.keys()) {
        let (bv, av) = (unset(b.get(key)), unset(a.get(key)));
        if bv != av && !out.contains_key(key) {
            out.insert(
                key.clone(),
                Change {
                    before: bv.clone(),
                    after: av.clone(),
                },
            );
        }
    }
    out
}

/// Checks an `If-Match` precondition: `None` accepts any version.
pub(crate) fn check_version(
    what: &str,
    expected: Option<u64>,
    current: u64,
) -> Result<(), ApiError> {
    match expected {
        Some(v) if v != current => Err(ApiError::version_mismatch(what, v, current)),
        _ => Ok(()),
    }
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> Result<String, ApiError> {
    Ok(serde_json::to_string(v)?)
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, ApiError> {
    Ok(serde_json::from_str(s)?)
}

/// Applies a JSON merge patch to `spec` and reads it back strictly.
pub(crate) fn patched<T>(spec: &T, patch: &Value) -> Result<T, ApiError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    if !patch.is_object() {
        return Err(ApiError::invalid_body(
            "a merge patch must be a JSON object",
        ));
    }
    let mut v = serde_json::to_value(spec)?;
    crate::wire::merge_patch(&mut v, patch);
    crate::wire::strict(&v).map_err(|e| ApiError::invalid_body(e.to_string()))
}

/// Takes the object's key out of a merge patch: `Some(new key)` when the
/// patch renames the object (a workspace's `slug`, a role's `id`, a
/// provider's `name`), and the patch of its spec.
pub(crate) fn take_key(
    patch: &Value,
    field: &'static str,
    what: &str,
) -> Result<(Option<String>, Value), ApiError> {
    let Some(map) = patch.as_object() else {
        // `patched` says what is wrong with it.
        return Ok((None, patch.clone()));
    };
    let mut rest = map.clone();
    let key = match rest.remove(field) {
        None => None,
        Some(Value::String(k)) if keys::is_slug(&k) => Some(k),
        Some(Value::String(k)) => {
            return Err(ApiError::invalid_value(format!(
                "`{k}` is not a valid {what}: 1-63 lower-case letters, digits and hyphens"
            )));
        }
        Some(Value::Null) => {
            return Err(ApiError::invalid_value(format!(
                "`{field}` cannot be removed: it names the {what}"
            )));
        }
        Some(_) => {
            return Err(ApiError::invalid_body(format!(
                "`{field}` must be a string"
            )));
        }
    };
    Ok((key, Value::Object(rest)))
}

/// A spec's JSON with its key beside it, for the audit record of a rename
/// (so that the key shows among the changed fields).
pub(crate) fn keyed(spec: Value, field: &str, key: &str) -> Value {
    match spec {
        Value::Object(mut m) => {
            m.insert(field.to_owned(), Value::String(key.to_owned()));
            Value::Object(m)
        }
        other => other,
    }
}

/// Checks label keys and values.
pub(crate) fn check_labels(labels: &crate::wire::Labels) -> Result<(), ApiError> {
    for (k, v) in labels {
        let ok = !k.is_empty()
            && k.len() <= 63
            && k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._/-".contains(&b))
            && k.as_bytes()[0].is_ascii_alphanumeric();
        if !ok {
            return Err(ApiError::invalid_value(format!(
                "label key `{k}` is invalid: use up to 63 lower-case letters, digits, `.`, `_`, `/`, `-`"
            )));
        }
        if v.len() > 256 {
            return Err(ApiError::invalid_value(format!(
                "label `{k}` is longer than 256 characters"
            )));
        }
    }
    Ok(())
}

/// Checks an optional display text.
/// The profile a platform database was made with, if it says.
fn stored_profile(conn: &Connection) -> Result<Option<Profile>, ApiError> {
    let stored: Option<String> = conn
        .one("SELECT value FROM meta WHERE key = 'profile'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(stored.as_deref().and_then(Profile::parse))
}

/// The stored profile when the database has everything a new platform is
/// made with (its profile and its settings row); `None` when it needs to be
/// seeded. Reads only, so that opening a platform takes no write lock.
fn seeded(conn: &Connection) -> Result<Option<Profile>, ApiError> {
    let Some(p) = stored_profile(conn)? else {
        return Ok(None);
    };
    let settings: Option<i64> = conn
        .one("SELECT id FROM settings WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    Ok(settings.map(|_| p))
}

pub(crate) fn check_text(field: &str, v: &Option<String>, max: usize) -> Result<(), ApiError> {
    match v {
        Some(s) if s.chars().count() > max => Err(ApiError::invalid_value(format!(
            "`{field}` is longer than {max} characters"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = encode_cursor("ada@acme.example");
        assert_eq!(decode_cursor(&c).as_deref(), Some("ada@acme.example"));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("abc"), None);
        // A cursor made by hand (the key in hex, with or without a tag).
        assert_eq!(decode_cursor("6164"), None);
        assert_eq!(decode_cursor("6164.0000000000000000"), None);
    }

    #[test]
    fn limits_are_bounded() {
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(1001), None).is_err());
        assert_eq!(PageRequest::new(None, None).map(|p| p.limit), Ok(100));
    }

    /// A write that fails after it changed something leaves nothing behind,
    /// inside a batch (its savepoint rolls back) as outside one, and the
    /// batch's other writes stay.
    #[test]
    fn a_failed_write_rolls_back_its_own_changes_only() {
        let Ok(e) = Engine::open_in_memory(Profile::M3forge) else {
            panic!("in-memory engine");
        };
        let a = Actor::local();
        let insert = |t: &mut Tx<'_>, key: &str| -> Result<(), ApiError> {
            t.tx.run(
                "INSERT INTO meta (key, value) VALUES (?1, 'x')",
                params![key],
            )?;
            Ok(())
        };
        let keys = |e: &Engine| -> Vec<String> {
            e.read(|c| {
                let mut st = c.prepare("SELECT key FROM meta WHERE key LIKE 't%' ORDER BY key")?;
                let rows = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(rows)
            })
            .unwrap_or_default()
        };
        let failed = |t: &mut Tx<'_>, key: &str| -> Result<(), ApiError> {
            insert(t, key)?;
            Err(ApiError::invalid_value("refused after writing"))
        };
        assert!(e.write(&a, |t| failed(t, "t0")).is_err());
        let out = e.batch(|| {
            [
                e.write(&a, |t| insert(t, "t1")),
                e.write(&a, |t| failed(t, "t2")),
                e.write(&a, |t| insert(t, "t3")),
            ]
            .map(|r| r.is_ok())
        });
        assert_eq!(out.ok(), Some([true, false, true]));
        assert_eq!(keys(&e), ["t1", "t3"]);
    }
}
