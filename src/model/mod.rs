//! The normalized model of a platform: what the files want and what is live,
//! in one shape. No IO, no formats: this module knows nothing of TOML, KDL or
//! HTTP. Every collection is a `BTreeMap` keyed by natural key, so iteration
//! order (and so every plan and report) is deterministic.

pub mod audit;
pub mod capabilities;
pub mod catalog;
pub mod cidr;
pub mod grant;
pub mod id;
pub mod image;
pub mod keys;
pub mod live;
pub mod object;
pub mod objects;
pub mod rename;
pub mod secret;
pub mod shard;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use catalog::{Catalog, Profile, RoleScope};
pub use cidr::normalize_cidr;
pub use grant::UnmanagedGrant;
pub use id::{ObjectId, Stamp};
pub use keys::{Email, Interner, KeyError, RoleSet, Slug};
pub use live::{Live, Meta};
pub use object::Object;
pub use objects::*;
pub use secret::SecretRef;

/// The state of a platform: desired (from files) or live (from a target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct State {
    pub workspaces: BTreeMap<Slug, Workspace>,
    pub users: BTreeMap<Email, User>,
    /// Custom roles only.
    pub roles: BTreeMap<Slug, Role>,
    pub providers: BTreeMap<Slug, Provider>,
    pub memberships: BTreeMap<(Slug, Email), Membership>,
    pub assignments: BTreeMap<(Slug, Slug), Assignment>,
    /// Projects by workspace and slug (platforms with projects only).
    pub projects: BTreeMap<(Slug, Slug), Project>,
    /// Token budgets of single members, by workspace and user.
    pub member_quotas: BTreeMap<(Slug, Email), TokenQuotas>,
    /// Top-ups by workspace and name.
    pub top_ups: BTreeMap<(Slug, Slug), TopUp>,
    /// API keys by workspace and name.
    pub api_keys: BTreeMap<(Slug, Slug), ApiKey>,
    /// Single sign-on identity providers.
    pub identity_providers: BTreeMap<Slug, IdentityProvider>,
    pub settings: Option<Settings>,
}

/// The kinds of object tenet reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Workspaces,
    Users,
    Roles,
    Providers,
    Memberships,
    Assignments,
    Projects,
    Settings,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Workspaces,
        Kind::Users,
        Kind::Roles,
        Kind::Providers,
        Kind::Memberships,
        Kind::Assignments,
        Kind::Projects,
        Kind::Settings,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Workspaces => "workspaces",
            Kind::Users => "users",
            Kind::Roles => "roles",
            Kind::Providers => "providers",
            Kind::Memberships => "memberships",
            Kind::Assignments => "assignments",
            Kind::Projects => "projects",
            Kind::Settings => "settings",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What happens to a managed workspace (or project) removed from the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceRemoval {
    #[default]
    Archive,
    Delete,
}

/// What happens to a managed user removed from the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UserRemoval {
    /// Suspend the account and revoke its memberships: reversible, and the
    /// account (with its history on the platform) is kept.
    #[default]
    Suspend,
    /// Delete the account; the platform removes its memberships with it.
    Delete,
}

/// How tenet reconciles: ownership and destroy safety.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Kinds whose unmanaged live objects are deleted too.
    pub authoritative: Vec<Kind>,
    pub workspace_removal: WorkspaceRemoval,
    /// What happens to a managed project removed from the files (the
    /// default project is never removed).
    pub project_removal: WorkspaceRemoval,
    pub user_removal: UserRemoval,
    pub destroy_threshold_percent: u8,
    pub destroy_threshold_min_objects: u64,
    pub adopt: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            authoritative: Vec::new(),
            workspace_removal: WorkspaceRemoval::Archive,
            project_removal: WorkspaceRemoval::Archive,
            user_removal: UserRemoval::Suspend,
            destroy_threshold_percent: 25,
            destroy_threshold_min_objects: 10,
            adopt: false,
        }
    }
}

/// Where the platform is and which catalog it speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    /// `sandbox:PATH` or an `http(s)://` URL, as written.
    pub endpoint: Option<String>,
    pub profile: Profile,
}

/// Drift known and accepted until a day (inclusive, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// `YYYY-MM-DD`.
    pub until: String,
    pub reason: Option<String>,
}

impl Acknowledgement {
    /// In force on `today` (`YYYY-MM-DD`): the `until` day is inclusive.
    pub fn in_force(&self, today: &str) -> bool {
        self.until.as_str() >= today
    }
}

/// A whole config tree, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Config {
    pub platform: Platform,
    pub policy: Policy,
    /// Default quotas as declared (`[defaults.quotas]`), already applied to
    /// every workspace in `state`.
    pub default_quotas: Quotas,
    pub teams: BTreeMap<Slug, Team>,
    /// Acknowledged drift by object.
    pub acknowledged: BTreeMap<ObjectId, Acknowledgement>,
    /// Earlier slugs of declared workspaces, roles and providers
    /// (`previously = ["old-slug"]`), by the object's id under its slug now:
    /// where one of them is live and the declared one is not, it is renamed
    /// in place.
    pub previously: BTreeMap<ObjectId, Vec<Slug>>,
    /// The desired state, with teams expanded into memberships.
    pub state: State,
}

/// Counts for a one-line summary of a config or a state.
impl State {
    /// Every object that has secrets, with their references in order.
    pub fn secret_sites(&self) -> impl Iterator<Item = (ObjectId, &[SecretRef])> {
        let providers = self
            .providers
            .iter()
            .map(|(k, p)| (ObjectId::Provider(k.clone()), p.api_keys.as_slice()));
        let idps = self
            .identity_providers
            .iter()
            .map(|(k, i)| (ObjectId::IdentityProvider(k.clone()), i.secret_refs()));
        providers.chain(idps)
    }

    /// The secret references of one object, if it is of a kind with secrets.
    pub fn secret_refs(&self, id: &ObjectId) -> Option<&[SecretRef]> {
        match id {
            ObjectId::Provider(p) => self.providers.get(p).map(|p| p.api_keys.as_slice()),
            ObjectId::IdentityProvider(i) => {
                self.identity_providers.get(i).map(|i| i.secret_refs())
            }
            _ => None,
        }
    }

    pub fn summary(&self) -> String {
        fn n(count: usize, one: &str, many: &str) -> String {
            format!("{count} {}", if count == 1 { one } else { many })
        }
        [
            n(self.workspaces.len(), "workspace", "workspaces"),
            n(self.users.len(), "user", "users"),
            n(self.memberships.len(), "membership", "memberships"),
            n(self.roles.len(), "role", "roles"),
            n(self.providers.len(), "provider", "providers"),
            n(self.assignments.len(), "assignment", "assignments"),
        ]
        .into_iter()
        .chain((!self.projects.is_empty()).then(|| n(self.projects.len(), "project", "projects")))
        .collect::<Vec<_>>()
        .join(", ")
    }
}
