//! Typed identities of the objects tenet reconciles, and the stamps that
//! tell whether a live object moved. An [`ObjectId`] is a natural key (a
//! user by email, a membership by workspace and user, ...), never a REST
//! path: each target maps it to its own API. It prints (and is saved in plan
//! files) as a readable path like `workspaces/finance/memberships/ada@acme.example`,
//! which [`ObjectId::parse`] reads back; that text is the only place the
//! spelling lives.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Kind;
use super::keys::{Email, Slug};

/// One object of the model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectId {
    Workspace(Slug),
    /// The quotas of a workspace (they travel with it, but are written apart).
    Quotas(Slug),
    User(Email),
    /// A custom role.
    Role(Slug),
    Provider(Slug),
    Membership(Slug, Email),
    Assignment(Slug, Slug),
    /// A project, by workspace and slug.
    Project(Slug, Slug),
    /// The token budget of one member of a workspace (it travels with the
    /// membership).
    MemberQuotas(Slug, Email),
    /// A top-up, by workspace and name.
    TopUp(Slug, Slug),
    /// An API key, by workspace and name.
    ApiKey(Slug, Slug),
    /// A single sign-on identity provider (part of the settings).
    IdentityProvider(Slug),
    /// The platform's settings, a singleton.
    Settings,
}

impl ObjectId {
    /// The kind the object is reconciled as (quotas belong to workspaces).
    pub fn kind(&self) -> Kind {
        match self {
            ObjectId::Workspace(_) | ObjectId::Quotas(_) => Kind::Workspaces,
            ObjectId::User(_) => Kind::Users,
            ObjectId::Role(_) => Kind::Roles,
            ObjectId::Provider(_) => Kind::Providers,
            ObjectId::Membership(..) => Kind::Memberships,
            ObjectId::Assignment(..) => Kind::Assignments,
            ObjectId::Project(..) => Kind::Projects,
            ObjectId::MemberQuotas(..) => Kind::Memberships,
            ObjectId::TopUp(..) | ObjectId::ApiKey(..) => Kind::Workspaces,
            ObjectId::IdentityProvider(_) | ObjectId::Settings => Kind::Settings,
        }
    }

    /// The field that carries the object's secrets, for the kinds that
    /// have them: a change of it (or a creation) sends resolved values.
    pub fn secret_field(&self) -> Option<&'static str> {
        match self {
            ObjectId::Provider(_) => Some("api_keys"),
            ObjectId::IdentityProvider(_) => Some("client_secret"),
            _ => None,
        }
    }

    /// An object with secrets, for people: "provider `openai`".
    pub fn secret_site(&self) -> String {
        match self {
            ObjectId::Provider(p) => format!("provider `{p}`"),
            ObjectId::IdentityProvider(i) => format!("identity provider `{i}`"),
            other => format!("`{other}`"),
        }
    }

    /// The workspace the object lives in, if any.
    pub fn workspace(&self) -> Option<&Slug> {
        match self {
            ObjectId::Workspace(w)
            | ObjectId::Quotas(w)
            | ObjectId::Membership(w, _)
            | ObjectId::Assignment(w, _)
            | ObjectId::Project(w, _)
            | ObjectId::MemberQuotas(w, _)
            | ObjectId::TopUp(w, _)
            | ObjectId::ApiKey(w, _) => Some(w),
            _ => None,
        }
    }

    /// Reads the printed form back.
    pub fn parse(s: &str) -> Option<ObjectId> {
        let seg: Vec<&str> = s.split('/').collect();
        let slug = |x: &str| Slug::parse(x).ok();
        let email = |x: &str| Email::parse(x).ok();
        Some(match seg.as_slice() {
            ["workspaces", w] => ObjectId::Workspace(slug(w)?),
            ["workspaces", w, "quotas"] => ObjectId::Quotas(slug(w)?),
            ["workspaces", w, "memberships", u] => ObjectId::Membership(slug(w)?, email(u)?),
            ["workspaces", w, "assignments", p] => ObjectId::Assignment(slug(w)?, slug(p)?),
            ["workspaces", w, "projects", p] => ObjectId::Project(slug(w)?, slug(p)?),
            ["workspaces", w, "member-quotas", u] => ObjectId::MemberQuotas(slug(w)?, email(u)?),
            ["workspaces", w, "top-ups", t] => ObjectId::TopUp(slug(w)?, slug(t)?),
            ["workspaces", w, "api-keys", k] => ObjectId::ApiKey(slug(w)?, slug(k)?),
            ["users", u] => ObjectId::User(email(u)?),
            ["roles", r] => ObjectId::Role(slug(r)?),
            ["providers", p] => ObjectId::Provider(slug(p)?),
            ["identity-providers", i] => ObjectId::IdentityProvider(slug(i)?),
            ["settings"] => ObjectId::Settings,
            _ => return None,
        })
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectId::Workspace(w) => write!(f, "workspaces/{w}"),
            ObjectId::Quotas(w) => write!(f, "workspaces/{w}/quotas"),
            ObjectId::User(u) => write!(f, "users/{u}"),
            ObjectId::Role(r) => write!(f, "roles/{r}"),
            ObjectId::Provider(p) => write!(f, "providers/{p}"),
            ObjectId::Membership(w, u) => write!(f, "workspaces/{w}/memberships/{u}"),
            ObjectId::Assignment(w, p) => write!(f, "workspaces/{w}/assignments/{p}"),
            ObjectId::Project(w, p) => write!(f, "workspaces/{w}/projects/{p}"),
            ObjectId::MemberQuotas(w, u) => write!(f, "workspaces/{w}/member-quotas/{u}"),
            ObjectId::TopUp(w, t) => write!(f, "workspaces/{w}/top-ups/{t}"),
            ObjectId::ApiKey(w, k) => write!(f, "workspaces/{w}/api-keys/{k}"),
            ObjectId::IdentityProvider(i) => write!(f, "identity-providers/{i}"),
            ObjectId::Settings => f.write_str("settings"),
        }
    }
}

impl Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ObjectId::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an object id")))
    }
}

/// What tells whether a live object changed since it was read: the
/// platform's version where it has one (native: a counter, sent as
/// `If-Match`), else a digest of the object's content as the target reads
/// it (compared again right before each write).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stamp {
    Version(u64),
    Digest(String),
}

impl Stamp {
    pub fn version(&self) -> Option<u64> {
        match self {
            Stamp::Version(v) => Some(*v),
            Stamp::Digest(_) => None,
        }
    }

    /// Whether `self` is provably later than `before` (only versions are
    /// ordered; a digest that differs is just different).
    pub fn moved_on_from(&self, before: &Stamp) -> bool {
        match (self, before) {
            (Stamp::Version(a), Stamp::Version(b)) => a > b,
            (a, b) => a != b,
        }
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stamp::Version(v) => write!(f, "version {v}"),
            Stamp::Digest(d) => write!(f, "content {}", d.get(..19).unwrap_or(d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_reads_back_from_its_text() {
        let w = Slug::parse("finance").unwrap();
        let p = Slug::parse("azure").unwrap();
        let u = Email::parse("ada@acme.example").unwrap();
        for id in [
            ObjectId::Workspace(w.clone()),
            ObjectId::Quotas(w.clone()),
            ObjectId::User(u.clone()),
            ObjectId::Role(p.clone()),
            ObjectId::Provider(p.clone()),
            ObjectId::Membership(w.clone(), u.clone()),
            ObjectId::Assignment(w.clone(), p.clone()),
            ObjectId::Project(w.clone(), p.clone()),
            ObjectId::MemberQuotas(w.clone(), u.clone()),
            ObjectId::TopUp(w.clone(), p.clone()),
            ObjectId::Settings,
        ] {
            assert_eq!(ObjectId::parse(&id.to_string()), Some(id.clone()));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<ObjectId>(&json).unwrap(), id);
        }
        assert_eq!(ObjectId::parse("workspaces/x/teams/y"), None);
        assert_eq!(ObjectId::parse("users/not-an-email"), None);
    }

    #[test]
    fn stamps_save_as_numbers_or_strings() {
        assert_eq!(serde_json::to_string(&Stamp::Version(3)).unwrap(), "3");
        assert_eq!(
            serde_json::from_str::<Stamp>("\"sha256:ab\"").unwrap(),
            Stamp::Digest("sha256:ab".into())
        );
        assert!(Stamp::Version(4).moved_on_from(&Stamp::Version(3)));
        assert!(!Stamp::Version(3).moved_on_from(&Stamp::Version(3)));
        assert!(Stamp::Digest("a".into()).moved_on_from(&Stamp::Digest("b".into())));
    }
}
