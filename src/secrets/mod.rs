//! Secrets: recognising credential-looking literals and keeping them out of
//! every output. Config files hold secret *references* (`env:NAME`,
//! `file:PATH`, see `model::SecretRef`); a value that looks like a real key is
//! an error, and its text is masked before any diagnostic can show it.
//! Resolution of references (at apply time only) arrives with the apply issue.

use std::ops::Range;

/// Known key prefixes of LLM and cloud providers and code hosts.
const PREFIXES: &[&str] = &[
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "xoxb-",
    "xoxp-",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "glpat-",
    "AKIA",
    "ASIA",
    "AIza",
    "hf_",
];

/// True when a single token (no whitespace, no quotes) looks like a
/// credential: a known provider prefix followed by enough key material, a
/// long hex string, or a long base64-like string mixing cases and digits.
pub fn looks_like_credential(token: &str) -> bool {
    let len = token.len();
    for p in PREFIXES {
        if let Some(rest) = token.strip_prefix(p)
            && rest.len() >= 16
            && rest.bytes().all(is_key_byte)
        {
            return true;
        }
    }
    if len >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit()) {
        let digits = token.bytes().any(|b| b.is_ascii_digit());
        let letters = token.bytes().any(|b| b.is_ascii_alphabetic());
        return digits && letters;
    }
    if len >= 32
        && token
            .bytes()
            .all(|b| is_key_byte(b) || b == b'+' || b == b'/' || b == b'=')
    {
        let lower = token.bytes().any(|b| b.is_ascii_lowercase());
        let upper = token.bytes().any(|b| b.is_ascii_uppercase());
        let digit = token.bytes().any(|b| b.is_ascii_digit());
        return lower && upper && digit;
    }
    false
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_token_byte(b: u8) -> bool {
    is_key_byte(b) || b == b'+' || b == b'/' || b == b'='
}

/// Byte ranges of credential-looking tokens in `text`. Tokens are maximal
/// runs of key characters; a token that is a path segment of a `file:` or a
/// URL is still checked, since keys hide in query strings too.
pub fn credential_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_token_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
        }
        // A token may hold several slash-separated parts (URLs, paths); check
        // the whole and each part.
        let token = &text[start..i];
        if looks_like_credential(token) {
            out.push(start..i);
            continue;
        }
        let mut offset = start;
        for part in token.split(['/', '=']) {
            if looks_like_credential(part) {
                out.push(offset..offset + part.len());
            }
            offset += part.len() + 1;
        }
    }
    out
}

/// `text` with every credential-looking token replaced by `*` of the same
/// byte length, so offsets (and diagnostics' spans) stay valid.
pub fn redact_text(text: &str) -> String {
    let spans = credential_spans(text);
    if spans.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for s in spans {
        out.push_str(&text[last..s.start]);
        out.extend(std::iter::repeat_n('*', s.len()));
        last = s.end;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_credentials() {
        assert!(looks_like_credential("sk-proj-AbCdEf0123456789xyzXYZ"));
        assert!(looks_like_credential("sk-ant-api03-abcdefghijklmnop1234"));
        assert!(looks_like_credential("AKIAIOSFODNN7EXAMPLE"));
        assert!(looks_like_credential("0123456789abcdef0123456789abcdef"));
        assert!(looks_like_credential(
            "dGhpc0lzQVNlY3JldEtleVRoYXQxc0xvbmdFbm91Z2g"
        ));
        assert!(!looks_like_credential("AZURE_OPENAI_API_KEY_PRODUCTION_1"));
        assert!(!looks_like_credential("claude-3-5-sonnet-20241022"));
        assert!(!looks_like_credential("text-embedding-3-small"));
        assert!(!looks_like_credential("sk-short"));
        assert!(!looks_like_credential("abcdefabcdefabcdefabcdefabcdefab"));
    }

    #[test]
    fn redaction_keeps_offsets() {
        let text = "api_keys = [\"sk-AbCdEf0123456789xyzXYZ\"] # x\nname = \"ok\"\n";
        let red = redact_text(text);
        assert_eq!(red.len(), text.len());
        assert!(!red.contains("AbCdEf0123456789"));
        assert!(red.contains("name = \"ok\""));
        let url = "https://x.example/v1?key=sk-AbCdEf0123456789xyzXYZ";
        assert!(!redact_text(url).contains("AbCdEf0123456789"));
    }
}

/// The fingerprint of a secret value: `sha256:` and the first 16 bytes of its
/// SHA-256 in hex. Platforms keep and answer only this; tenet compares keys
/// by it, never by value.
pub use crate::model::secret::fingerprint;

#[cfg(test)]
mod fingerprint_tests {
    #[test]
    fn fingerprints_are_stable_and_short() {
        let f = super::fingerprint("sk-test");
        assert_eq!(f.len(), "sha256:".len() + 32);
        assert_eq!(f, super::fingerprint("sk-test"));
        assert_ne!(f, super::fingerprint("sk-test2"));
        assert!(!f.contains("sk-test"));
    }
}

/// Why a secret reference could not be resolved. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("environment variable `{0}` is not set")]
    NotSet(String),
    #[error("cannot read secret file `{0}`: {1}")]
    Unreadable(String, String),
    #[error("secret file `{0}` is empty")]
    Empty(String),
}

/// Reads a secret. Call this only when the value is about to be used (to
/// fingerprint it, or to send it); never keep or print the result.
pub fn resolve(r: &crate::model::SecretRef) -> Result<String, ResolveError> {
    use crate::model::SecretRef;
    match r {
        SecretRef::Env(name) => match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(v),
            _ => Err(ResolveError::NotSet(name.clone())),
        },
        SecretRef::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ResolveError::Unreadable(path.clone(), e.kind().to_string()))?;
            let v = text.trim_end_matches(['\n', '\r']).to_owned();
            if v.is_empty() {
                Err(ResolveError::Empty(path.clone()))
            } else {
                Ok(v)
            }
        }
    }
}
