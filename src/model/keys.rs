//! Natural keys: every object is identified by what it is called, so no state
//! file is needed. Slugs name workspaces, roles, providers and teams; users are
//! keyed by their case-folded email address.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "`{0}` is not a valid identifier: use 1-63 lower-case letters, digits and hyphens, starting with a letter or digit"
    )]
    Slug(String),
    #[error("`{0}` is not a valid email address")]
    Email(String),
}

/// A URL-safe identifier: `[a-z0-9][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Slug(String);

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0
    }
}

impl TryFrom<String> for Slug {
    type Error = KeyError;
    fn try_from(s: String) -> Result<Self, KeyError> {
        Slug::parse(&s)
    }
}

impl Slug {
    /// Parses a slug, refusing anything outside `[a-z0-9][a-z0-9-]{0,62}`.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        if is_slug(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(KeyError::Slug(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// True when `s` matches `[a-z0-9][a-z0-9-]{0,62}`.
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for Slug {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// An email address, case-folded: two spellings of one address are one key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Email(String);

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl TryFrom<String> for Email {
    type Error = KeyError;
    fn try_from(s: String) -> Result<Self, KeyError> {
        Email::parse(&s)
    }
}

impl Email {
    /// Parses and case-folds an email address. The check is deliberately
    /// shallow (one `@`, a dot in the domain, no whitespace): the platform
    /// sends the invitation, and that is the real test.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        if is_email(s) {
            Ok(Self(s.to_lowercase()))
        } else {
            Err(KeyError::Email(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// True when `s` looks like `local@domain.tld`.
pub fn is_email(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    // The same rule as the schema's `email` pattern: a dot inside the domain.
    !local.is_empty()
        && !domain.contains('@')
        && domain
            .match_indices('.')
            .any(|(i, _)| i > 0 && i + 1 < domain.len())
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for Email {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("finance").is_ok());
        assert!(Slug::parse("a").is_ok());
        assert!(Slug::parse("0-a").is_ok());
        assert!(Slug::parse("-a").is_err());
        assert!(Slug::parse("Finance").is_err());
        assert!(Slug::parse("").is_err());
        assert!(Slug::parse(&"a".repeat(64)).is_err());
        assert!(Slug::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn emails_fold_case() {
        let a = Email::parse("Ada.Lovelace@ACME.example").unwrap();
        let b = Email::parse("ada.lovelace@acme.example").unwrap();
        assert_eq!(a, b);
        assert!(Email::parse("no-at-sign").is_err());
        assert!(Email::parse("a@b").is_err());
        assert!(Email::parse("a b@c.d").is_err());
        assert!(Email::parse("a@@c.d").is_err());
    }
}
