//! The syntax of natural keys as the contract states it: docs/platform-api.md
//! §1 and the `Slug` and `Email` schemas of schema/platform-api.openapi.json.
//! Written from the contract, not shared with the client's model, so that a
//! client whose checks drift from the contract is caught by the platform.

/// `^[a-z0-9][a-z0-9-]{0,62}$`: workspace slugs, role ids, provider names.
pub(crate) fn is_slug(s: &str) -> bool {
    let mut bytes = s.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    s.len() <= 63
        && matches!(first, b'a'..=b'z' | b'0'..=b'9')
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// `^[^@\s]+@[^@\s]+\.[^@\s]+$` and at most 254 bytes: exactly one `@`, a
/// non-empty local part, a dot inside the domain (neither its first nor its
/// last character), no whitespace (Unicode `White_Space`).
pub(crate) fn is_email(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain
            .bytes()
            .enumerate()
            .any(|(i, b)| b == b'.' && i > 0 && i + 1 < domain.len())
}

/// Longest lock name, in bytes.
pub(crate) const MAX_LOCK_NAME: usize = 128;
/// Longest lock holder, in bytes.
pub(crate) const MAX_LOCK_HOLDER: usize = 256;

/// Text for names and holders: no control characters (NUL, line breaks...).
pub(crate) fn is_printable(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_pattern() {
        for ok in ["a", "0", "finance", "0-a", "a--b", "a-", &"z".repeat(63)] {
            assert!(is_slug(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "Finance",
            "a_b",
            "a.b",
            "é",
            "a b",
            &"z".repeat(64),
        ] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    #[test]
    fn emails_follow_the_pattern() {
        for ok in [
            "a@b.c",
            "Ada.Lovelace@ACME.example",
            "a@b.c.d",
            "é@ü.de",
            "a@b..c",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        let long = format!("{}@acme.example", "a".repeat(254 - "@acme.example".len()));
        assert!(is_email(&long));
        for bad in [
            "",
            "no-at-sign",
            "@b.c",
            "a@b",
            "a@.b",
            "a@b.",
            "a@@b.c",
            "a@b@c.d",
            "a b@c.d",
            "a@b.c\n",
            "a\u{3000}@b.c",
            &format!("a{long}"),
        ] {
            assert!(!is_email(bad), "{bad:?}");
        }
    }
}
