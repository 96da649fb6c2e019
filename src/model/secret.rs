//! Secret references: where a secret lives, never what it is. Resolution and
//! redaction live in the `secrets` module; the model only carries the address.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `env:NAME` or `file:PATH`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum SecretRef {
    Env(String),
    File(String),
}

impl SecretRef {
    /// Parses `env:NAME` (NAME a portable variable name) or `file:PATH`.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(name) = s.strip_prefix("env:") {
            let mut chars = name.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| Self::Env(name.to_owned()))
        } else {
            s.strip_prefix("file:")
                .filter(|p| !p.is_empty())
                .map(|p| Self::File(p.to_owned()))
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(n) => write!(f, "env:{n}"),
            Self::File(p) => write!(f, "file:{p}"),
        }
    }
}

impl TryFrom<String> for SecretRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        SecretRef::parse(&s)
            // Never the value: it may be the secret itself.
            .ok_or_else(|| "a secret field holds something other than a secret reference (env:NAME or file:PATH)".to_owned())
    }
}

impl From<SecretRef> for String {
    fn from(r: SecretRef) -> String {
        r.to_string()
    }
}

/// The fingerprint of a secret value: `sha256:` and the first 16 bytes of its
/// SHA-256 in hex. Platforms keep and answer only this; tenet compares keys
/// by it, never by value (pure: targets fingerprint keys they read in clear).
pub fn fingerprint(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(secret.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            SecretRef::parse("env:OPENAI_KEY_1"),
            Some(SecretRef::Env("OPENAI_KEY_1".into()))
        );
        assert_eq!(
            SecretRef::parse("file:/run/secrets/k"),
            Some(SecretRef::File("/run/secrets/k".into()))
        );
        assert_eq!(SecretRef::parse("env:1BAD"), None);
        assert_eq!(SecretRef::parse("env:"), None);
        assert_eq!(SecretRef::parse("file:"), None);
        assert_eq!(SecretRef::parse("sk-abc"), None);
    }
}
