//! Natural keys: every object is identified by what it is called, so no state
//! file is needed. Slugs name workspaces, roles, providers and teams; users are
//! keyed by their case-folded email address.
//!
//! Keys are shared text (`Arc<str>`): a key is copied into every membership,
//! id and change that names it, so a copy is a reference count, and an
//! [`Interner`] makes equal keys read from many places one allocation. A
//! membership's roles are a [`RoleSet`], a shared sorted slice.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Slug(Arc<str>);

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0.to_string()
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
            Ok(Self(Arc::from(s)))
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Email(Arc<str>);

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0.to_string()
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
            Ok(Self(fold(s).into()))
        } else {
            Err(KeyError::Email(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `s` case-folded (as `str::to_lowercase`), without a copy when it
/// already is.
pub fn fold(s: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if s.is_ascii() {
        return match s.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(s.to_ascii_lowercase()),
            false => Cow::Borrowed(s),
        };
    }
    // Not only upper-case letters fold (title case does too): compare.
    let lower = s.to_lowercase();
    if lower == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(lower)
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

/// Comparison by text, with a shortcut for the same shared text (keys from
/// one [`Interner`] that are equal are one allocation).
macro_rules! shared_text_key {
    ($t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
            }
        }
        impl Eq for $t {}
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $t {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                if Arc::ptr_eq(&self.0, &other.0) {
                    std::cmp::Ordering::Equal
                } else {
                    self.0.cmp(&other.0)
                }
            }
        }
        impl std::hash::Hash for $t {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state)
            }
        }
    };
}
shared_text_key!(Slug);
shared_text_key!(Email);

/// The roles of one membership: sorted, without duplicates, shared. Most
/// memberships of a platform hold one of a few role sets, so an
/// [`Interner`] makes them one allocation each.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RoleSet(Arc<[Slug]>);

impl RoleSet {
    pub fn iter(&self) -> std::slice::Iter<'_, Slug> {
        self.0.iter()
    }

    pub fn contains<Q>(&self, role: &Q) -> bool
    where
        Slug: std::borrow::Borrow<Q>,
        Q: Ord + ?Sized,
    {
        use std::borrow::Borrow;
        self.0.binary_search_by(|r| r.borrow().cmp(role)).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn first(&self) -> Option<&Slug> {
        self.0.first()
    }

    /// Whether every role of `self` is in `other`.
    pub fn is_subset(&self, other: &RoleSet) -> bool {
        self.iter().all(|r| other.contains(r))
    }

    pub fn as_slice(&self) -> &[Slug] {
        &self.0
    }
}

impl FromIterator<Slug> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Slug>>(iter: I) -> Self {
        let mut roles: Vec<Slug> = iter.into_iter().collect();
        roles.sort_unstable();
        roles.dedup();
        RoleSet(roles.into())
    }
}

impl<const N: usize> From<[Slug; N]> for RoleSet {
    fn from(roles: [Slug; N]) -> Self {
        roles.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a RoleSet {
    type Item = &'a Slug;
    type IntoIter = std::slice::Iter<'a, Slug>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

impl Serialize for RoleSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for RoleSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Slug>::deserialize(d)?.into_iter().collect())
    }
}

/// Shares equal keys and role sets made from text read in many places (a
/// config tree, a page of live objects): each distinct one is allocated
/// once. Local to one load or one read, never global.
#[derive(Debug, Default)]
pub struct Interner {
    text: HashSet<Arc<str>, foldhash::fast::RandomState>,
    roles: HashSet<RoleSet, foldhash::fast::RandomState>,
    /// Role sets by the names they were read from, in that order: most
    /// memberships spell one of a few lists, so this is one lookup and no
    /// allocation per membership.
    named: HashMap<Box<[String]>, RoleSet, foldhash::fast::RandomState>,
}

impl Interner {
    fn share(&mut self, text: &str) -> Arc<str> {
        if let Some(t) = self.text.get(text) {
            return t.clone();
        }
        let t: Arc<str> = Arc::from(text);
        self.text.insert(t.clone());
        t
    }

    /// [`Slug::parse`], sharing the text.
    pub fn slug(&mut self, s: &str) -> Result<Slug, KeyError> {
        if is_slug(s) {
            Ok(Slug(self.share(s)))
        } else {
            Err(KeyError::Slug(s.to_owned()))
        }
    }

    /// [`Email::parse`], sharing the text.
    pub fn email(&mut self, s: &str) -> Result<Email, KeyError> {
        if is_email(s) {
            let folded = fold(s);
            Ok(Email(self.share(&folded)))
        } else {
            Err(KeyError::Email(s.to_owned()))
        }
    }

    /// A shared key equal to `slug`.
    pub fn intern_slug(&mut self, slug: &Slug) -> Slug {
        Slug(self.share(slug.as_str()))
    }

    /// A shared key equal to `email`.
    pub fn intern_email(&mut self, email: &Email) -> Email {
        Email(self.share(email.as_str()))
    }

    /// The shared role set of these roles.
    pub fn roles(&mut self, roles: impl IntoIterator<Item = Slug>) -> RoleSet {
        let set: RoleSet = roles.into_iter().collect();
        if let Some(s) = self.roles.get(&set) {
            return s.clone();
        }
        self.roles.insert(set.clone());
        set
    }

    /// The shared role set named by `names`, as read: names that are not
    /// slugs are left out (validation reports them).
    pub fn roles_named(&mut self, names: &[String]) -> RoleSet {
        if let Some(s) = self.named.get(names) {
            return s.clone();
        }
        let slugs: Vec<Slug> = names.iter().filter_map(|r| self.slug(r).ok()).collect();
        let set = self.roles(slugs);
        self.named.insert(names.into(), set.clone());
        set
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
    fn folding_matches_to_lowercase_and_borrows_what_is_folded() {
        for s in [
            "ada@x.io",
            "Ada@X.io",
            "ǅemal@x.io",
            "élise@x.io",
            "ÉLISE@x.io",
        ] {
            assert_eq!(fold(s), s.to_lowercase(), "{s}");
        }
        assert!(matches!(fold("ada@x.io"), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(fold("élise@x.io"), std::borrow::Cow::Borrowed(_)));
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

    #[test]
    fn the_interner_shares_text_and_role_sets() {
        let mut i = Interner::default();
        let a = i.email("Ada@ACME.example").unwrap();
        let b = i.email("ada@acme.example").unwrap();
        assert_eq!(a, b);
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert!(i.slug("Finance").is_err());
        let member = i.slug("member").unwrap();
        let admin = i.slug("administrator").unwrap();
        let r1 = i.roles([member.clone(), admin.clone(), member.clone()]);
        let r2 = i.roles([admin.clone(), member.clone()]);
        assert!(Arc::ptr_eq(&r1.0, &r2.0));
        assert_eq!(r1.as_slice(), &[admin.clone(), member.clone()]);
        assert!(r1.contains("member") && !r1.contains("editor"));
        assert!(RoleSet::from([member]).is_subset(&r1));
        assert_eq!(
            serde_json::to_string(&r1).unwrap(),
            r#"["administrator","member"]"#
        );
        // Named role lists: the same set whatever the spelling order, and
        // names that are not slugs left out.
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let n1 = i.roles_named(&names(&["member", "administrator"]));
        let n2 = i.roles_named(&names(&["administrator", "Bad", "member"]));
        assert!(Arc::ptr_eq(&n1.0, &r1.0) && Arc::ptr_eq(&n2.0, &r1.0));
        assert!(i.roles_named(&[]).is_empty());
    }
}
