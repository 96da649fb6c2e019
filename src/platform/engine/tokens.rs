//! API tokens: a name (the actor in the audit log) and a scope. Only a hash
//! of each token is stored; the token is shown once, at creation.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Cached, Engine, Now};
use crate::platform::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// GET only.
    Read,
    /// Everything.
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub name: String,
    pub scope: Scope,
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Engine {
    /// Creates a token named `name` and hands it to `deliver` (which shows
    /// it: it cannot be shown again), keeping it only if `deliver`
    /// succeeded. A token nobody saw is never valid: one printed into a
    /// closed pipe is not stored, and the name stays free.
    pub fn create_token<E>(
        &self,
        name: &str,
        scope: Scope,
        deliver: impl FnOnce(&str) -> Result<(), E>,
    ) -> Result<Result<(), E>, ApiError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
        if !ok {
            return Err(ApiError::invalid_value(
                "a token name is 1-64 letters, digits, `.`, `_`, `@` or `-` (it is the actor in the audit log)",
            ));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
        let token = format!(
            "tnt_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let now = Now::at(std::time::SystemTime::now());
        self.read(|c| {
            let tx =
                rusqlite::Transaction::new_unchecked(c, rusqlite::TransactionBehavior::Immediate)?;
            let exists: Option<String> = tx
                .one(
                    "SELECT name FROM tokens WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Err(ApiError::already_exists(format!("token `{name}`")));
            }
            tx.run(
                "INSERT INTO tokens (name, scope, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, scope.as_str(), hash(&token), now.text],
            )?;
            // Shown before it is kept; dropping `tx` forgets it.
            let shown = deliver(&token);
            if shown.is_ok() {
                tx.commit()?;
            }
            Ok(shown)
        })
    }

    /// The token's owner and scope, if it is one of ours.
    pub fn verify_token(&self, token: &str) -> Result<Option<TokenInfo>, ApiError> {
        self.read(|c| {
            let r: Option<(String, String)> = c
                .one(
                    "SELECT name, scope FROM tokens WHERE hash = ?1",
                    params![hash(token)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(r.map(|(name, scope)| TokenInfo {
                name,
                scope: if scope == "write" {
                    Scope::Write
                } else {
                    Scope::Read
                },
            }))
        })
    }
}
