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

/// A secret field, or a key close enough to one to be a misspelling of it
/// (`aapi_keys`, `api_key`): a file with such a typo is refused as an
/// unknown field, and the source shown with that diagnostic must not show
/// the value either.
fn secret_like(key: &str) -> bool {
    SECRET_FIELDS.iter().any(|f| {
        key == *f || (key.len().abs_diff(f.len()) <= 2 && strsim::levenshtein(key, f) <= 2)
    })
}

/// Every run of key characters in `text`, with its offset.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() && !is_key_byte(bytes[at]) {
            at += 1;
        }
        let start = at;
        while at < bytes.len() && is_key_byte(bytes[at]) {
            at += 1;
        }
        // Key bytes are ASCII, so both ends are character boundaries.
        (start < at).then(|| (start, &text[start..at]))
    })
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

/// The config fields whose values are secrets: they hold references
/// (`env:NAME`, `file:PATH`) and any literal in them is hidden, whatever it
/// looks like. A test keeps this in step with the schema (every field whose
/// values are `secret_ref`s).
pub const SECRET_FIELDS: &[&str] = &["api_keys", "client_secret"];

/// `text` (a TOML file, or KDL when `kdl`) with the literal values of
/// [`SECRET_FIELDS`] masked: every string or bare value after such a key
/// that is not a secret reference becomes `*`s of the same byte length
/// (line breaks kept, so offsets and lines stay valid). Lexical on purpose:
/// it works on files that do not parse, whose source is shown around a
/// syntax error. Comments in the value are masked too; hiding too much is
/// the safe side.
pub fn redact_secret_fields(text: &str, kdl: bool) -> String {
    let mut mask: Vec<Range<usize>> = Vec::new();
    for (at, word) in words(text) {
        if secret_like(word)
            && let Some(value) = value_start(text, at, at + word.len(), kdl)
        {
            secret_values(text, value, kdl, &mut mask);
        }
    }
    if mask.is_empty() {
        return text.to_owned();
    }
    let mut bytes = text.as_bytes().to_vec();
    for r in mask {
        // Whole characters only, so the masked text stays UTF-8 of the
        // same length.
        let (mut start, mut end) = (r.start.min(text.len()), r.end.min(text.len()));
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        for b in &mut bytes[start..end] {
            if *b != b'\n' && *b != b'\r' {
                *b = b'*';
            }
        }
    }
    // Whole characters were replaced byte for byte by ASCII.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Where the value of a key at `start..end` begins, if the text there is a
/// key (at the start of a line, after `{`, `,`, `;` or a dotted `.`,
/// perhaps quoted) and not part of a longer word.
fn value_start(text: &str, start: usize, end: usize, kdl: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut start, mut end) = (start, end);
    if bytes.get(end).is_some_and(|b| is_key_byte(*b)) {
        return None;
    }
    if start > 0 && matches!(bytes[start - 1], b'"' | b'\'') {
        if bytes.get(end) != Some(&bytes[start - 1]) {
            return None;
        }
        start -= 1;
        end += 1;
    }
    let before = text[..start].trim_end_matches([' ', '\t']);
    let key_position = match before.as_bytes().last() {
        None | Some(b'\n' | b'\r' | b'{' | b',' | b';' | b'.') => true,
        Some(_) => false,
    };
    if !key_position {
        return None;
    }
    let after = &text[end..];
    let skipped = after.len() - after.trim_start_matches([' ', '\t']).len();
    let mut at = end + skipped;
    if !kdl {
        if bytes.get(at) != Some(&b'=') {
            return None;
        }
        at += 1;
    }
    Some(at)
}

/// Collects the spans to mask in the value starting at `at`: up to the end
/// of the line, of the array or inline table (TOML, with a comment after it
/// on the same line), of the node or of its children block (`;`, a line
/// break outside braces, in KDL), or of an inline table entry (`,`, `}` of
/// a table around the key).
fn secret_values(text: &str, mut at: usize, kdl: bool, mask: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    // Open `[` and `{`: TOML arrays and inline tables, KDL children.
    let mut depth = 0usize;
    // A TOML value is one item: complete once back at depth 0.
    let mut done = false;
    while at < bytes.len() {
        if done {
            trailing_comment(text, at, mask);
            return;
        }
        let b = bytes[at];
        match b {
            b' ' | b'\t' => at += 1,
            b'\n' | b'\r' if depth == 0 => return,
            b'\n' | b'\r' => at += 1,
            b'[' | b'{' => {
                depth += 1;
                at += 1;
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                at += 1;
                done = depth == 0 && !kdl;
            }
            // Closes a table or array around the key.
            b']' | b'}' => return,
            b',' if depth == 0 => return,
            b';' if kdl && depth == 0 => return,
            b',' | b';' => at += 1,
            b'#' if !kdl => {
                // A comment: to the end of the line, masked (it may quote
                // the key it explains).
                let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                mask.push(at..end);
                at = end;
            }
            b'"' | b'\'' | b'#' => {
                let (content, end) = string_at(text, at);
                let reference = text
                    .get(content.clone())
                    .is_some_and(|c| crate::model::SecretRef::parse(c).is_some());
                if !reference {
                    mask.push(content);
                }
                at = end;
                done = depth == 0 && !kdl;
            }
            _ => {
                let end = text[at..]
                    .find(|c: char| c.is_whitespace() || "[]{},;\"'".contains(c))
                    .map_or(text.len(), |i| at + i);
                let end = end.max(at + 1).min(text.len());
                let end = (end..=text.len())
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(text.len());
                if crate::model::SecretRef::parse(&text[at..end]).is_none() {
                    mask.push(at..end);
                }
                at = end;
                done = depth == 0 && !kdl;
            }
        }
    }
}

/// Masks a TOML comment that follows a secret value on its line (an old
/// key is often kept there "for reference").
fn trailing_comment(text: &str, at: usize, mask: &mut Vec<Range<usize>>) {
    let rest = &text[at..];
    let line = rest.find('\n').map_or(rest, |i| &rest[..i]);
    if let Some(i) = line.find('#')
        && line[..i].trim_matches([' ', '\t']).is_empty()
    {
        mask.push(at + i..at + line.len());
    }
}

/// The content and end of a string starting at `at`: `"..."` with escapes,
/// `'...'`, TOML's `"""..."""` and `'''...'''`, and KDL's raw `#"..."#`.
/// An unterminated string runs to the end of its line (or of the text, for
/// a multi-line one).
fn string_at(text: &str, at: usize) -> (Range<usize>, usize) {
    let rest = &text[at..];
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    let open = &rest[hashes..];
    let (delim, multi) = if open.starts_with("\"\"\"") {
        ("\"\"\"", true)
    } else if open.starts_with("\'\'\'") {
        ("\'\'\'", true)
    } else if open.starts_with('"') {
        ("\"", false)
    } else if open.starts_with('\'') {
        ("\'", false)
    } else {
        // A lone `#` (a KDL keyword such as #true): one bare word.
        let end = rest
            .find(|c: char| c.is_whitespace() || ";{}".contains(c))
            .map_or(text.len(), |i| at + i);
        return (at..end, end);
    };
    let start = at + hashes + delim.len();
    let close = format!("{delim}{}", "#".repeat(hashes));
    let escapes = delim.starts_with('"') && hashes == 0;
    let bytes = text.as_bytes();
    let mut i = start;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if !multi && bytes[i] == b'\n' {
            return (start..i, i);
        }
        // Bytes, not `str` slices: `i` may be inside a multi-byte
        // character (after a `\` escape, or between its bytes).
        if bytes[i..].starts_with(close.as_bytes()) {
            return (start..i, i + close.len());
        }
        i += 1;
    }
    let end = text.len();
    (start.min(end)..end, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fields_are_masked_unless_references() {
        let toml = "[providers.a]\napi_keys = [\"my-openai-key-is-hunter2\", \"env:OK_1\", # hunter4\n  'hunter3', 12345] # kept\nname = \"hunter5\"\n";
        let red = redact_secret_fields(toml, false);
        assert_eq!(red.len(), toml.len());
        assert_eq!(red.lines().count(), toml.lines().count());
        for gone in ["hunter2", "hunter3", "12345", "hunter4"] {
            assert!(!red.contains(gone), "{gone} shown: {red}");
        }
        assert!(
            red.contains("\"env:OK_1\"") && red.contains("hunter5"),
            "{red}"
        );
        // A comment after the value on its line is masked too.
        assert!(red.contains("] ***") && !red.contains("kept"), "{red}");
        // Dotted, quoted and inline-table keys; a syntax error after it.
        for text in [
            "providers.a.api_keys = \"hunter2\"\n",
            "[providers.a]\n\"api_keys\" = [\"hunter2\"\n",
            "providers = { a = { api_keys = [\"hunter2\"], kind = \"openai\" } }\n",
            "api_keys = \"\"\"\nhunter2\n\"\"\"\n",
        ] {
            let red = redact_secret_fields(text, false);
            assert!(!red.contains("hunter2"), "{red}");
            assert!(
                !text.contains("kind") || red.contains("kind = \"openai\""),
                "{red}"
            );
        }
        // A misspelt secret field is an unknown field, shown with its
        // source: its value is masked too.
        for text in [
            "[providers.a]\naapi_keys = { x = \"hunter2\" }\n",
            "[providers.a]\napi_key = [\"hunter2\"]\n",
            "providers.a.apikeys = \"hunter2\"\n",
        ] {
            let red = redact_secret_fields(text, false);
            assert!(!red.contains("hunter2"), "{red}");
        }
        // Keys that are not close to a secret field keep their values.
        let other = "[providers.a]\nkind = \"openai\"\nmodels = [\"gpt-4o\"]\n";
        assert_eq!(redact_secret_fields(other, false), other);
        // Not a key: left alone.
        let prose = "description = \"rotate api_keys often\"\n";
        assert_eq!(redact_secret_fields(prose, false), prose);
        let kdl =
            "provider a {\n    api_keys \"hunter2\" env:OK hunter3 #\"hunter4\"#; name x\n}\n";
        let red = redact_secret_fields(kdl, true);
        for gone in ["hunter2", "hunter3", "hunter4"] {
            assert!(!red.contains(gone), "{gone} shown: {red}");
        }
        assert!(red.contains("env:OK") && red.contains("name x"), "{red}");
    }

    #[test]
    fn multi_byte_characters_in_secret_fields_are_masked_whole() {
        for (text, kdl) in [
            ("api_keys = [\"a\\é hunter2\"]\n", false),
            ("api_keys = [\"é漢😀hunter2😀\"]\n", false),
            ("api_keys = '''漢hunter2'''\n", false),
            ("api_keys \"\\😀hunter2\" #\"é\"#\n", true),
            ("api_keys hunter2é\n", true),
            ("api_keys = { x = \"漢hunter2\" }\n", false),
            ("api_keys = [\"é\"] # hunter2\n", false),
            ("api_keys { - \"\\éhunter2\"; - hunter2 }\n", true),
            ("api_keys {\n    - \"hunter2\"\n}\n", true),
            ("api_keys = [\"\\", false),
            ("api_keys = [\"\\é", false),
        ] {
            let red = redact_secret_fields(text, kdl);
            assert_eq!(red.len(), text.len(), "{text:?} -> {red:?}");
            assert!(!red.contains("hunter2"), "{red}");
        }
    }

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
