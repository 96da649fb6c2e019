//! Shards: the part of a platform one plan covers (`--only`), so a huge
//! organisation is planned and applied in parallel jobs. A selector names a
//! kind and, optionally, a pattern of keys where `*` stands for any text:
//! `workspaces/finance*` (those workspaces and everything under them:
//! quotas, memberships, assignments), `users`, `users/*@eu.acme.example`,
//! `roles`, `providers/openai`, `settings`. Several selectors are a union.
//! An empty shard is the whole platform.

use std::fmt;

use super::ObjectId;

/// The kinds a selector can name.
pub const KINDS: [&str; 5] = ["workspaces", "users", "roles", "providers", "settings"];

/// One `--only` selector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selector {
    kind: &'static str,
    pattern: Option<String>,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, String> {
        let (kind, pattern) = match text.split_once('/') {
            Some((k, p)) => (k, Some(p)),
            None => (text, None),
        };
        let Some(kind) = KINDS.iter().copied().find(|k| *k == kind) else {
            return Err(format!(
                "`{text}` does not start with a kind tenet can select: {}",
                KINDS.join(", ")
            ));
        };
        match pattern {
            Some("") => Err(format!("`{text}` has an empty pattern after `/`")),
            Some(_) if kind == "settings" => Err(format!(
                "`{text}`: settings are one object, selected as `settings`"
            )),
            Some(p) if p.contains('/') => Err(format!(
                "`{text}`: select a workspace with everything under it (`workspaces/SLUG`), not a part of one"
            )),
            _ => Ok(Selector {
                kind,
                pattern: pattern.filter(|p| *p != "*").map(str::to_lowercase),
            }),
        }
    }

    fn takes(&self, kind: &str, key: &str) -> bool {
        self.kind == kind && self.pattern.as_deref().is_none_or(|p| glob(p, key))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pattern {
            Some(p) => write!(f, "{}/{p}", self.kind),
            None => f.write_str(self.kind),
        }
    }
}

/// Whether `text` matches `pattern`, where `*` is any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The selectors of one plan: everything when there are none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shard {
    selectors: Vec<Selector>,
}

impl Shard {
    /// From `--only` values (each may hold several, comma-separated).
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Shard, String> {
        let mut selectors = Vec::new();
        for v in values {
            for part in v
                .as_ref()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                selectors.push(Selector::parse(part)?);
            }
        }
        selectors.sort();
        selectors.dedup();
        Ok(Shard { selectors })
    }

    pub fn is_whole(&self) -> bool {
        self.selectors.is_empty()
    }

    /// The selectors as written back (sorted): what a saved plan records.
    pub fn texts(&self) -> Vec<String> {
        self.selectors.iter().map(ToString::to_string).collect()
    }

    /// Whether the object is in the shard.
    pub fn contains(&self, id: &ObjectId) -> bool {
        if self.is_whole() {
            return true;
        }
        let (kind, key) = match id {
            ObjectId::Workspace(w)
            | ObjectId::Quotas(w)
            | ObjectId::Membership(w, _)
            | ObjectId::Assignment(w, _)
            | ObjectId::Project(w, _)
            | ObjectId::MemberQuotas(w, _)
            | ObjectId::TopUp(w, _)
            | ObjectId::ApiKey(w, _) => ("workspaces", w.as_str()),
            ObjectId::User(e) => ("users", e.as_str()),
            ObjectId::Role(r) => ("roles", r.as_str()),
            ObjectId::Provider(p) => ("providers", p.as_str()),
            ObjectId::IdentityProvider(_) | ObjectId::Settings => ("settings", ""),
        };
        self.selectors.iter().any(|s| s.takes(kind, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Email, Slug};

    fn slug(s: &str) -> Slug {
        Slug::parse(s).expect("slug")
    }

    #[test]
    fn selectors_take_their_kind_and_what_lives_under_a_workspace() {
        let s = Shard::parse(&["workspaces/fin*,users"]).expect("parses");
        assert!(s.contains(&ObjectId::Workspace(slug("finance"))));
        assert!(s.contains(&ObjectId::Quotas(slug("finance"))));
        let ada = Email::parse("ada@acme.example").expect("email");
        assert!(s.contains(&ObjectId::Membership(slug("fin"), ada.clone())));
        assert!(!s.contains(&ObjectId::Workspace(slug("legal"))));
        assert!(s.contains(&ObjectId::User(ada)));
        assert!(!s.contains(&ObjectId::Role(slug("auditor"))));
        assert!(!s.contains(&ObjectId::Settings));
        assert_eq!(s.texts(), ["users", "workspaces/fin*"]);
        assert!(
            Shard::parse::<&str>(&[])
                .expect("empty")
                .contains(&ObjectId::Settings)
        );
    }

    #[test]
    fn globs_match_any_run_and_bad_selectors_say_why() {
        assert!(glob("fin*", "finance"));
        assert!(glob("*-eu", "ops-eu"));
        assert!(glob("a*b*c", "a-x-b-y-c"));
        assert!(!glob("a*b*c", "a-x-c-b"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(!glob("ab*ab", "ab"));
        for bad in [
            "teams",
            "workspaces/",
            "settings/x",
            "workspaces/a/memberships",
        ] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }
}
