//! The objects tenet manages, normalized: defaults applied, teams expanded,
//! keys case-folded, sets sorted. The same types hold desired state (from the
//! files) and live state (from a target), so that diffing is a comparison.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::keys::{Email, RoleSet, Slug};
use super::secret::SecretRef;

/// Free-form key/value labels, sorted by key.
pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    #[default]
    Active,
    Suspended,
    /// The platform has sent an invitation not yet accepted. Declared, it
    /// asks for one when the user is created; an existing user (who has
    /// accepted) counts as active.
    Invited,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub email: Email,
    pub name: Option<String>,
    pub status: UserStatus,
    pub labels: Labels,
    pub prevent_destroy: bool,
    /// Of an invited user: what the files ask for, or what the platform
    /// sent. Never part of the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<Invitation>,
}

/// A user's invitation. Declared: the message and whether an expired one
/// is re-sent. Read: the message sent and where the platform's stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Invitation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Re-send the invitation when the platform says it expired.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resend_expired: bool,
    /// Read only: the platform's invitation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<SentInvitation>,
}

/// The platform's invitation, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentInvitation {
    pub expires_at: String,
    /// On the platform's clock.
    pub expired: bool,
}

/// A custom role. Built-in roles live in the catalog, never here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub id: Slug,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Permissions as written, wildcards included; see `Catalog::expand`.
    pub permissions: BTreeSet<String>,
    pub labels: Labels,
    pub prevent_destroy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    AzureOpenai,
    Vertex,
    Bedrock,
    Qwen,
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProviderScope {
    /// Every workspace may use the provider.
    Global,
    /// Only workspaces with an assignment may use it.
    #[default]
    Assigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RateLimits {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub id: Slug,
    pub name: Option<String>,
    pub kind: ProviderKind,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub models: BTreeSet<String>,
    /// References only; values are resolved at apply time by `secrets`.
    pub api_keys: Vec<SecretRef>,
    pub rate_limits: RateLimits,
    pub scope: ProviderScope,
    pub labels: Labels,
    pub prevent_destroy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceStatus {
    #[default]
    Active,
    Archived,
}

/// Resource limits. `None` means tenet does not manage that limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Quotas {
    pub storage_gb: Option<u64>,
    pub executions_per_month: Option<u64>,
    pub api_calls_per_month: Option<u64>,
    pub max_users: Option<u64>,
    pub tokens_per_day: Option<u64>,
    pub tokens_per_week: Option<u64>,
    pub tokens_per_month: Option<u64>,
}

impl Quotas {
    /// The seeds' defaults for a new workspace (M3 Forge): 100 GB,
    /// 10,000 runs and 1,000,000 API calls a month, 50 users.
    pub const SEED_DEFAULTS: Quotas = Quotas {
        storage_gb: Some(100),
        executions_per_month: Some(10_000),
        api_calls_per_month: Some(1_000_000),
        max_users: Some(50),
        tokens_per_day: None,
        tokens_per_week: None,
        tokens_per_month: None,
    };

    /// Every field of `self` that is set, else the one of `fallback`.
    pub fn or(self, fallback: Quotas) -> Quotas {
        Quotas {
            storage_gb: self.storage_gb.or(fallback.storage_gb),
            executions_per_month: self.executions_per_month.or(fallback.executions_per_month),
            api_calls_per_month: self.api_calls_per_month.or(fallback.api_calls_per_month),
            max_users: self.max_users.or(fallback.max_users),
            tokens_per_day: self.tokens_per_day.or(fallback.tokens_per_day),
            tokens_per_week: self.tokens_per_week.or(fallback.tokens_per_week),
            tokens_per_month: self.tokens_per_month.or(fallback.tokens_per_month),
        }
    }

    /// The fields by name, in a fixed order, for checks and rendering.
    pub fn fields(&self) -> [(&'static str, Option<u64>); 7] {
        [
            ("storage_gb", self.storage_gb),
            ("executions_per_month", self.executions_per_month),
            ("api_calls_per_month", self.api_calls_per_month),
            ("max_users", self.max_users),
            ("tokens_per_day", self.tokens_per_day),
            ("tokens_per_week", self.tokens_per_week),
            ("tokens_per_month", self.tokens_per_month),
        ]
    }
}

/// Token budgets over a day, a week and a month (MagOneAI's windows), for
/// a project or for one member of a workspace. `None` is unmanaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TokenQuotas {
    pub tokens_per_day: Option<u64>,
    pub tokens_per_week: Option<u64>,
    pub tokens_per_month: Option<u64>,
}

impl TokenQuotas {
    /// Every field of `self` that is set, else the one of `fallback`.
    pub fn or(self, fallback: TokenQuotas) -> TokenQuotas {
        TokenQuotas {
            tokens_per_day: self.tokens_per_day.or(fallback.tokens_per_day),
            tokens_per_week: self.tokens_per_week.or(fallback.tokens_per_week),
            tokens_per_month: self.tokens_per_month.or(fallback.tokens_per_month),
        }
    }

    /// The fields by name, in a fixed order.
    pub fn fields(&self) -> [(&'static str, Option<u64>); 3] {
        [
            ("tokens_per_day", self.tokens_per_day),
            ("tokens_per_week", self.tokens_per_week),
            ("tokens_per_month", self.tokens_per_month),
        ]
    }

    pub fn is_empty(&self) -> bool {
        *self == TokenQuotas::default()
    }
}

/// Extra tokens granted until a day (MagOneAI's top-ups): to a workspace's
/// budget, a project's, or one member's. Past its expiry it no longer
/// counts, and it falls out of the files with nothing to undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUp {
    pub workspace: Slug,
    /// The name the files give it.
    pub id: Slug,
    pub tokens: u64,
    /// The last day it counts, `YYYY-MM-DD` (UTC).
    pub expires: String,
    pub project: Option<Slug>,
    pub user: Option<Email>,
    pub reason: Option<String>,
    pub labels: Labels,
}

impl TopUp {
    /// Expired on `today` (`YYYY-MM-DD`): its last day has passed.
    pub fn expired(&self, today: &str) -> bool {
        self.expires.as_str() < today
    }
}

/// Where a new API key's value goes, the one time tenet sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "to", content = "path")]
pub enum KeySink {
    /// A file, written with mode 0600 (replaced on rotation).
    File(String),
    /// Printed on standard output by `apply`.
    Stdout,
}

impl KeySink {
    /// `file:PATH` or `stdout`.
    pub fn parse(s: &str) -> Option<KeySink> {
        match s {
            "stdout" => Some(KeySink::Stdout),
            _ => s
                .strip_prefix("file:")
                .filter(|p| !p.is_empty())
                .map(|p| KeySink::File(p.to_owned())),
        }
    }
}

impl std::fmt::Display for KeySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySink::File(p) => write!(f, "file:{p}"),
            KeySink::Stdout => f.write_str("stdout"),
        }
    }
}

/// An API key of a workspace (M3 Forge: Settings -> API keys): for its
/// owner, with permissions that are a subset of the owner's there. The
/// platform makes the value; tenet sees it once, when the key is created
/// or rotated, and hands it to the sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub workspace: Slug,
    /// The name the files give it.
    pub id: Slug,
    /// The descriptive name (`CI-Pipeline-Deploy-Key`).
    pub name: Option<String>,
    pub owner: Email,
    /// Permissions as written, wildcards included.
    pub permissions: BTreeSet<String>,
    /// The last day it is valid, `YYYY-MM-DD` (UTC).
    pub expires: Option<String>,
    /// Rotate once the value is this many days old.
    pub rotate_every_days: Option<u64>,
    /// Desired only: where a new value goes.
    pub sink: Option<KeySink>,
    /// Live only: the day the current value was issued (`YYYY-MM-DD`).
    pub issued: Option<String>,
    pub labels: Labels,
}

impl ApiKey {
    /// Whether the value must be rotated on `today`: it is at least
    /// `rotate_every_days` old. Days are `YYYY-MM-DD`.
    pub fn rotation_due(&self, issued: &str, today: &str) -> bool {
        let Some(every) = self.rotate_every_days else {
            return false;
        };
        days_between(issued, today).is_some_and(|d| d >= every as i64)
    }
}

/// Days from one `YYYY-MM-DD` day to another (negative when `to` is
/// earlier); `None` if either is no day.
pub fn days_between(from: &str, to: &str) -> Option<i64> {
    let day = |s: &str| s.get(..10)?.parse::<jiff::civil::Date>().ok();
    let (from, to) = (day(from)?, day(to)?);
    to.since(from).ok().map(|span| i64::from(span.get_days()))
}

/// The interface theme a workspace's members see by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Light,
    Dark,
    /// Follows each member's system preference.
    System,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Theme> {
        [Theme::Light, Theme::Dark, Theme::System]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A workspace's general settings (the seeds' "General" section). `None`
/// is unmanaged: tenet leaves the platform's value alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WorkspaceSettings {
    pub theme: Option<Theme>,
    /// A BCP 47 language tag, as written (`en`, `fr-CA`).
    pub language: Option<String>,
    /// An IANA time zone name (`Europe/Paris`, `UTC`).
    pub timezone: Option<String>,
}

impl WorkspaceSettings {
    /// Every field of `self` that is set, else the one of `fallback`.
    pub fn or(&self, fallback: &WorkspaceSettings) -> WorkspaceSettings {
        WorkspaceSettings {
            theme: self.theme.or(fallback.theme),
            language: self.language.clone().or_else(|| fallback.language.clone()),
            timezone: self.timezone.clone().or_else(|| fallback.timezone.clone()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &WorkspaceSettings::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub slug: Slug,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: WorkspaceStatus,
    pub labels: Labels,
    pub prevent_destroy: bool,
    /// Effective quotas: the workspace's own, else the defaults.
    pub quotas: Quotas,
    pub settings: WorkspaceSettings,
}

/// A project inside a workspace (MagOneAI): its own members with project
/// roles. Every workspace has a default project the platform makes with it;
/// there the declared members override the roles mapped from their
/// workspace roles (`Catalog::mapped_project_roles`), and every other
/// member of the workspace holds the mapped ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub workspace: Slug,
    pub slug: Slug,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: WorkspaceStatus,
    pub labels: Labels,
    pub prevent_destroy: bool,
    /// Members and their project roles, each a member of the workspace.
    pub members: BTreeMap<Email, RoleSet>,
    /// The project's token budget.
    pub quotas: TokenQuotas,
}

/// The roles of one user in one workspace (direct grants and team grants).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub workspace: Slug,
    pub user: Email,
    pub roles: RoleSet,
}

/// A workspace's permission to use a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub workspace: Slug,
    pub provider: Slug,
    /// Allowed models; `None` allows every model of the provider.
    pub models: Option<BTreeSet<String>>,
    pub default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PasswordPolicy {
    pub min_length: Option<u64>,
    pub require_uppercase: Option<bool>,
    pub require_lowercase: Option<bool>,
    pub require_digit: Option<bool>,
    pub require_symbol: Option<bool>,
    pub max_age_days: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Security {
    pub session_timeout_minutes: Option<u64>,
    pub require_2fa: Option<bool>,
    pub email_verification: Option<bool>,
    /// CIDR blocks, normalized and sorted; `None` is unmanaged.
    pub ip_allowlist: Option<BTreeSet<String>>,
    pub password_policy: PasswordPolicy,
}

/// The deployment's visual identity (MagOneAI: Super Admin -> Branding).
/// `None` is unmanaged; the platform falls back to its own default for a
/// field that is blank there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Branding {
    /// Shown in the top bar, the sidebar and the login screen.
    pub display_name: Option<String>,
    /// `#rrggbb`, lower-case.
    pub accent_color: Option<String>,
    pub login_headline: Option<String>,
    pub login_tagline: Option<String>,
    pub support_email: Option<Email>,
    /// The images, each by its digest (`sha256:<hex>`; see
    /// [`super::image`]): what tenet compares. The bytes are read from the
    /// config tree when a change sends them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_light: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_inverse: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favicon: Option<String>,
}

impl Branding {
    /// Nothing set: the files leave the branding alone.
    pub fn is_empty(&self) -> bool {
        self == &Branding::default()
    }

    /// The image digest of a slot.
    pub fn image(&self, slot: super::image::ImageSlot) -> Option<&String> {
        use super::image::ImageSlot as S;
        match slot {
            S::LogoLight => self.logo_light.as_ref(),
            S::LogoInverse => self.logo_inverse.as_ref(),
            S::Favicon => self.favicon.as_ref(),
        }
    }
}

/// How an identity provider signs users in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SsoProtocol {
    /// OpenID Connect: issuer, client id and secret, scopes.
    Oidc,
    /// SAML 2.0: the IdP's metadata, by URL or as a document.
    Saml,
}

impl SsoProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            SsoProtocol::Oidc => "oidc",
            SsoProtocol::Saml => "saml",
        }
    }

    pub fn parse(s: &str) -> Option<SsoProtocol> {
        [SsoProtocol::Oidc, SsoProtocol::Saml]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// What the members of one IdP group get in one workspace when they sign
/// in: they join it with these workspace roles (auto-join), and hold these
/// project roles in its projects. Who is in the group only the IdP knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GroupGrant {
    pub roles: BTreeSet<Slug>,
    /// Project -> project roles.
    pub projects: BTreeMap<Slug, BTreeSet<Slug>>,
}

/// A single sign-on identity provider (M3 Forge: Settings -> Authentication;
/// MagOneAI: OIDC with just-in-time provisioning and group mappings), for
/// the whole platform or for one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub id: Slug,
    pub name: Option<String>,
    pub protocol: SsoProtocol,
    pub enabled: bool,
    /// Only this workspace's sign-in uses it; `None` is platform-wide.
    pub workspace: Option<Slug>,
    /// OIDC: the issuer URL.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// A reference only; resolved at apply time by `secrets`.
    pub client_secret: Option<SecretRef>,
    pub scopes: BTreeSet<String>,
    /// SAML: where the IdP publishes its metadata.
    pub metadata_url: Option<String>,
    /// SAML: the IdP's metadata document, read from the file the config
    /// names (public data: certificates and endpoints).
    pub metadata_xml: Option<String>,
    /// Create the account of an unknown user on first sign-in.
    pub jit_provisioning: bool,
    /// IdP group -> workspace -> what its members get there.
    pub groups: BTreeMap<String, BTreeMap<Slug, GroupGrant>>,
    pub labels: Labels,
    pub prevent_destroy: bool,
}

impl IdentityProvider {
    /// The secret references the provider sends, in order.
    pub fn secret_refs(&self) -> &[SecretRef] {
        self.client_secret.as_slice()
    }
}

/// Platform-wide settings, a singleton.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Settings {
    pub security: Security,
    pub branding: Branding,
}

/// A named list of users granted roles in workspaces as a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: Slug,
    pub name: Option<String>,
    pub description: Option<String>,
    pub members: BTreeSet<Email>,
    /// Roles the team holds, per workspace.
    pub grants: BTreeMap<Slug, BTreeSet<Slug>>,
}
