//! The platform API (v1) on the wire: the JSON bodies of every resource,
//! request and problem. Shared by the reference platform (`platform`) and the
//! HTTP target, so both sides of the contract compile against one definition;
//! `docs/platform-api.md` and `schema/platform-api.openapi.json` describe the
//! same shapes for everyone else.
//!
//! Conventions: every object carries `version` (incremented by each write,
//! echoed as the `ETag`) and `labels`. Writable fields live in a `*Spec`
//! type: `POST` takes the key field plus the spec's fields, `PATCH` takes a
//! JSON merge patch (RFC 7396) of the spec, `PUT` a whole spec. Unknown
//! fields are refused ([`strict`]); a provider's `api_keys` are write-only
//! secret values, answered with fingerprints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Free-form key/value labels. Keys under `tenet.dev/` are written by tenet.
pub type Labels = BTreeMap<String, String>;

/// One page of a list. Pass `next_cursor` back as `cursor` for the next page;
/// it is absent on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An RFC 9457 problem (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// `https://tenet.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// For `lock-held`: who holds the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// For `lock-held`: when the lock expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// For `version-mismatch`: the object's current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

pub const PROBLEM_BASE: &str = "https://tenet.dev/problems/";

// ------------------------------------------------------------------- catalog

/// The flavours a platform is created with (`tenet serve --profile`); each
/// fixes the catalog for the platform's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    M3forge,
    Magoneai,
    Openwebui,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::M3forge, Profile::Magoneai, Profile::Openwebui];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::M3forge => "m3forge",
            Profile::Magoneai => "magoneai",
            Profile::Openwebui => "openwebui",
        }
    }

    /// The profile named `s`, if the contract has one by that name.
    pub fn parse(s: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One catalog permission: `family.action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    pub id: String,
    pub description: String,
}

/// A built-in role as the catalog lists it (permissions may be wildcards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltinRole {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Where the role is held; absent means a workspace role.
    #[serde(default, skip_serializing_if = "RoleScope::is_workspace")]
    pub scope: RoleScope,
    pub permissions: Vec<String>,
}

/// Where a role is held: by a workspace's members or a project's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RoleScope {
    #[default]
    Workspace,
    Project,
}

impl RoleScope {
    pub fn is_workspace(&self) -> bool {
        *self == RoleScope::Workspace
    }
}

/// A catalog whose workspaces hold projects (MagOneAI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRules {
    /// The slug of the project every workspace is created with.
    pub default_project: String,
    pub default_project_name: String,
    /// Workspace role -> the project role it gives in the default project,
    /// for a member with no roles of their own there.
    pub mapping: BTreeMap<String, String>,
}

/// `GET /v1/catalog`: the permission catalog and built-in roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub profile: Profile,
    pub title: String,
    /// Built-in roles whose active holders administer a workspace.
    pub administrator_roles: Vec<String>,
    /// The role clients give a new member when none is said.
    pub default_role: String,
    pub permissions: Vec<Permission>,
    pub roles: Vec<BuiltinRole>,
    /// Present when workspaces hold projects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<ProjectRules>,
}

// ---------------------------------------------------------------- workspaces

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceStatus {
    #[default]
    Active,
    Archived,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Light,
    Dark,
    System,
}

/// A workspace's general settings; `null` is the platform's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WorkspaceSettings {
    #[serde(default)]
    pub theme: Option<Theme>,
    /// A BCP 47 language tag (`en`, `pt-BR`).
    #[serde(default)]
    pub language: Option<String>,
    /// An IANA time zone name (`Europe/Paris`).
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WorkspaceSpec {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: WorkspaceStatus,
    #[serde(default)]
    pub settings: WorkspaceSettings,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub slug: String,
    #[serde(flatten)]
    pub spec: WorkspaceSpec,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

// ------------------------------------------------------------------ projects

/// A project inside a workspace (where the catalog has `projects`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProjectSpec {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: WorkspaceStatus,
    /// Members and their project roles, sorted by email, each a member of
    /// the workspace (a list, so a merge patch replaces it whole). In the
    /// default project these are the declared roles; every other workspace
    /// member holds the mapped ones.
    #[serde(default)]
    pub members: Vec<ProjectMember>,
    /// The project's token budget; `null` is unlimited.
    #[serde(default)]
    pub quotas: TokenQuotas,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectMember {
    /// Case-folded by the platform.
    pub user: String,
    /// At least one project role of the catalog.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub workspace: String,
    pub slug: String,
    #[serde(flatten)]
    pub spec: ProjectSpec,
    /// The project the platform made with the workspace: never archived,
    /// deleted or renamed.
    pub default: bool,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

// --------------------------------------------------------------------- users

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    #[default]
    Active,
    Suspended,
    Invited,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UserSpec {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: UserStatus,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Case-folded by the platform.
    pub email: String,
    #[serde(flatten)]
    pub spec: UserSpec,
    /// The invitation of a user still `invited`: read only, made by the
    /// platform when the user is created invited, re-sent on request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<Invitation>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// The body of `POST /v1/users` (besides `email`): the spec, and for a
/// user created `invited` the invitation to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CreateUser {
    #[serde(flatten)]
    pub spec: UserSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<InvitationRequest>,
}

/// What the platform sent an invited user. The expiry is the platform's
/// (MagOneAI: 7 days); `expired` is told on the platform's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The custom message sent with it.
    #[serde(default)]
    pub message: Option<String>,
    pub sent_at: String,
    pub expires_at: String,
    pub expired: bool,
    /// How many times it was sent (1 at creation).
    pub sends: u64,
}

/// The `invitation` member of a user's create body, and the body of a
/// re-send (`POST /v1/users/{email}/invitation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    #[serde(default)]
    pub message: Option<String>,
}

// --------------------------------------------------------------------- roles

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoleSpec {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Permissions as given (wildcards allowed); validated against the
    /// catalog.
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    #[serde(flatten)]
    pub spec: RoleSpec,
    /// Built-in roles come from the catalog and are immutable.
    pub builtin: bool,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

// ----------------------------------------------------------------- providers

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    Global,
    #[default]
    Assigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RateLimits {
    #[serde(default)]
    pub requests_per_minute: Option<u64>,
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
}

/// The writable fields of a provider, without its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSpec {
    #[serde(default)]
    pub display_name: Option<String>,
    pub kind: ProviderKind,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub rate_limits: RateLimits,
    #[serde(default)]
    pub scope: ProviderScope,
    #[serde(default)]
    pub labels: Labels,
}

/// What the platform keeps of an API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFingerprint {
    /// `sha256:` and the first 16 bytes of the key's SHA-256, in hex.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub name: String,
    #[serde(flatten)]
    pub spec: ProviderSpec,
    pub api_keys: Vec<KeyFingerprint>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

// --------------------------------------------------------------- memberships

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MembershipSpec {
    /// At least one role id (built-in or custom).
    pub roles: Vec<String>,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub workspace: String,
    pub user: String,
    #[serde(flatten)]
    pub spec: MembershipSpec,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

// --------------------------------------------------------------- assignments

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AssignmentSpec {
    /// Allowed models, a subset of the provider's; `null` allows all.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub workspace: String,
    pub provider: String,
    #[serde(flatten)]
    pub spec: AssignmentSpec,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

// -------------------------------------------------------------------- quotas

/// Limits of a workspace; `null` is unlimited. Replaced whole with `PUT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QuotasSpec {
    #[serde(default)]
    pub storage_gb: Option<u64>,
    #[serde(default)]
    pub executions_per_month: Option<u64>,
    #[serde(default)]
    pub api_calls_per_month: Option<u64>,
    #[serde(default)]
    pub max_users: Option<u64>,
    #[serde(default)]
    pub tokens_per_day: Option<u64>,
    #[serde(default)]
    pub tokens_per_week: Option<u64>,
    #[serde(default)]
    pub tokens_per_month: Option<u64>,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    pub workspace: String,
    #[serde(flatten)]
    pub spec: QuotasSpec,
    pub version: u64,
    pub updated_at: String,
}

/// Token budgets over a day, a week and a month; `null` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TokenQuotas {
    #[serde(default)]
    pub tokens_per_day: Option<u64>,
    #[serde(default)]
    pub tokens_per_week: Option<u64>,
    #[serde(default)]
    pub tokens_per_month: Option<u64>,
}

/// The token budget of one member of a workspace; replaced whole with
/// `PUT`, gone with the membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MemberQuotasSpec {
    #[serde(flatten)]
    pub quotas: TokenQuotas,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberQuotas {
    pub workspace: String,
    pub user: String,
    #[serde(flatten)]
    pub spec: MemberQuotasSpec,
    pub version: u64,
    pub updated_at: String,
}

/// Extra tokens until a day: for the workspace's budget, a project's
/// (`project`) or one member's (`user`), never both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TopUpSpec {
    /// At least 1.
    pub tokens: u64,
    /// The last day it counts, `YYYY-MM-DD` (UTC).
    pub expires: String,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUp {
    pub workspace: String,
    pub id: String,
    #[serde(flatten)]
    pub spec: TopUpSpec,
    /// Today is on or before `expires`.
    pub active: bool,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// What a workspace uses now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UsageSpec {
    #[serde(default)]
    pub storage_gb: u64,
    #[serde(default)]
    pub executions_this_month: u64,
    #[serde(default)]
    pub api_calls_this_month: u64,
    #[serde(default)]
    pub tokens_today: u64,
    #[serde(default)]
    pub tokens_this_week: u64,
    #[serde(default)]
    pub tokens_this_month: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub workspace: String,
    #[serde(flatten)]
    pub spec: UsageSpec,
    /// Members of the workspace, counted live.
    pub users: u64,
}

// ------------------------------------------------------------------ api keys

/// The writable fields of an API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeySpec {
    #[serde(default)]
    pub display_name: Option<String>,
    /// A member of the workspace; the key acts for them.
    pub owner: String,
    /// Permission patterns of the catalog, each within the owner's.
    pub permissions: Vec<String>,
    /// The last day it is valid, `YYYY-MM-DD`.
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub rotate_every_days: Option<u64>,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub workspace: String,
    pub id: String,
    #[serde(flatten)]
    pub spec: ApiKeySpec,
    /// The first characters of the value, to recognise it.
    pub prefix: String,
    /// When the current value was issued (RFC 3339).
    pub issued_at: String,
    /// Only in the answer to a create or a rotation: the value, once. The
    /// platform keeps only its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

// -------------------------------------------------------- identity providers

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SsoProtocol {
    Oidc,
    Saml,
}

/// What the members of one IdP group get in one workspace when they sign
/// in: they join it with `roles`, and hold the project roles given per
/// project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMapping {
    pub group: String,
    pub workspace: String,
    /// Workspace roles (built-in or custom); empty: no auto-join.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Project slug -> project roles.
    #[serde(default)]
    pub projects: BTreeMap<String, Vec<String>>,
}

/// The writable fields of an identity provider, without its client secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProviderSpec {
    #[serde(default)]
    pub display_name: Option<String>,
    pub protocol: SsoProtocol,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The one workspace whose sign-in uses it; `null` is platform-wide.
    #[serde(default)]
    pub workspace: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub metadata_url: Option<String>,
    #[serde(default)]
    pub metadata_xml: Option<String>,
    #[serde(default)]
    pub jit_provisioning: bool,
    #[serde(default)]
    pub group_mappings: Vec<GroupMapping>,
    #[serde(default)]
    pub labels: Labels,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub name: String,
    #[serde(flatten)]
    pub spec: IdentityProviderSpec,
    /// The client secret's fingerprint (OIDC); the value is write-only.
    #[serde(default)]
    pub client_secret: Option<KeyFingerprint>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

// ------------------------------------------------------------------ settings

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PasswordPolicy {
    #[serde(default)]
    pub min_length: Option<u64>,
    #[serde(default)]
    pub require_uppercase: Option<bool>,
    #[serde(default)]
    pub require_lowercase: Option<bool>,
    #[serde(default)]
    pub require_digit: Option<bool>,
    #[serde(default)]
    pub require_symbol: Option<bool>,
    #[serde(default)]
    pub max_age_days: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Security {
    #[serde(default)]
    pub session_timeout_minutes: Option<u64>,
    #[serde(default)]
    pub require_2fa: Option<bool>,
    #[serde(default)]
    pub email_verification: Option<bool>,
    /// CIDR blocks; the platform stores them normalized (host bits cleared).
    #[serde(default)]
    pub ip_allowlist: Option<Vec<String>>,
    #[serde(default)]
    pub password_policy: PasswordPolicy,
}

/// The deployment's visual identity; `null` is the platform's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Branding {
    #[serde(default)]
    pub display_name: Option<String>,
    /// `#rrggbb`, stored lower-case.
    #[serde(default)]
    pub accent_color: Option<String>,
    #[serde(default)]
    pub login_headline: Option<String>,
    #[serde(default)]
    pub login_tagline: Option<String>,
    /// Stored case-folded, like every email.
    #[serde(default)]
    pub support_email: Option<String>,
    /// The images, each the digest (`sha256:<hex>`) of one uploaded with
    /// `POST /v1/settings/images`; `null` shows the platform's own.
    #[serde(default)]
    pub logo_light: Option<String>,
    #[serde(default)]
    pub logo_inverse: Option<String>,
    #[serde(default)]
    pub favicon: Option<String>,
}

/// An uploaded branding image, as `POST /v1/settings/images` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:<hex>` of the bytes: the image's key.
    pub digest: String,
    /// `image/png`, `image/jpeg` or `image/vnd.microsoft.icon`, told by
    /// the content.
    pub media_type: String,
    pub size: u64,
}

/// The largest image the platform takes: 2 MiB.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;

/// Platform-wide settings, a singleton replaced whole with `PUT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SettingsSpec {
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub branding: Branding,
    #[serde(default)]
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub spec: SettingsSpec,
    pub version: u64,
    pub updated_at: String,
}

// --------------------------------------------------------------------- audit

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Through the HTTP API.
    Api,
    /// The embedded sandbox, in-process.
    Local,
}

/// One recorded change, written in the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: u64,
    pub at: String,
    /// The token's name (`local` for the embedded sandbox).
    pub actor: String,
    pub channel: Channel,
    /// `create`, `update`, `delete`.
    pub action: String,
    /// The resource path below `/v1`, e.g. `workspaces/finance/memberships/ada@acme.example`.
    pub resource: String,
    /// The object's version after the change (0 after a delete).
    pub version: u64,
    /// The fields that changed: `{ field: { "before": .., "after": .. } }`.
    /// Key values never appear, only fingerprints.
    pub changes: BTreeMap<String, Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

// --------------------------------------------------------------------- locks

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRequest {
    pub name: String,
    pub holder: String,
    pub ttl_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRenew {
    pub holder: String,
    pub ttl_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub name: String,
    pub holder: String,
    pub acquired_at: String,
    pub expires_at: String,
}

// ------------------------------------------------------------------ helpers

/// Why a request body does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("unknown field `{0}`")]
    UnknownField(String),
    #[error("missing field `{0}`")]
    MissingKey(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// Deserializes `value` as `T`, refusing fields `T` does not have (at any
/// depth of nested objects), since serde's `deny_unknown_fields` does not
/// mix with the flattened specs above.
pub fn strict<T: Serialize + serde::de::DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, BodyError> {
    let typed: T =
        serde_json::from_value(value.clone()).map_err(|e| BodyError::Invalid(e.to_string()))?;
    let back = serde_json::to_value(&typed).map_err(|e| BodyError::Invalid(e.to_string()))?;
    unknown_field(value, &back, "").map_or(Ok(typed), |f| Err(BodyError::UnknownField(f)))
}

fn unknown_field(
    given: &serde_json::Value,
    known: &serde_json::Value,
    path: &str,
) -> Option<String> {
    let (serde_json::Value::Object(g), serde_json::Value::Object(k)) = (given, known) else {
        return None;
    };
    // Free-form maps (labels) take any key.
    if path.ends_with("labels") {
        return None;
    }
    for (key, v) in g {
        let full = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match k.get(key) {
            None => return Some(full),
            Some(kv) => {
                if let Some(f) = unknown_field(v, kv, &full) {
                    return Some(f);
                }
            }
        }
    }
    None
}

/// Splits a `POST` body into its key field and the rest.
pub fn split_key(
    body: &serde_json::Value,
    key: &'static str,
) -> Result<(String, serde_json::Value), BodyError> {
    let mut rest = body
        .as_object()
        .cloned()
        .ok_or_else(|| BodyError::Invalid("the body must be a JSON object".to_owned()))?;
    match rest.remove(key) {
        Some(serde_json::Value::String(k)) => Ok((k, serde_json::Value::Object(rest))),
        Some(_) => Err(BodyError::Invalid(format!("`{key}` must be a string"))),
        None => Err(BodyError::MissingKey(key)),
    }
}

/// A `POST` body: the key field and the spec's fields in one object.
pub fn create_body<S: Serialize>(key: &'static str, value: &str, spec: &S) -> serde_json::Value {
    let mut body = serde_json::to_value(spec).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(map) = body.as_object_mut() {
        map.insert(key.to_owned(), serde_json::Value::String(value.to_owned()));
    }
    body
}

/// Applies an RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match patch {
        serde_json::Value::Object(p) => {
            if !target.is_object() {
                *target = serde_json::Value::Object(serde_json::Map::new());
            }
            if let serde_json::Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_refuses_unknown_fields_at_any_depth() {
        assert!(strict::<UserSpec>(&json!({"name": "A", "labels": {"any": "x"}})).is_ok());
        assert_eq!(
            strict::<UserSpec>(&json!({"nmae": "A"})),
            Err(BodyError::UnknownField("nmae".into()))
        );
        assert_eq!(
            strict::<SettingsSpec>(&json!({"security": {"password_policy": {"min_len": 3}}})),
            Err(BodyError::UnknownField(
                "security.password_policy.min_len".into()
            ))
        );
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut t, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
    }

    #[test]
    fn create_bodies_round_trip() {
        let spec = UserSpec {
            name: Some("Ada".into()),
            ..UserSpec::default()
        };
        let body = create_body("email", "ada@x.example", &spec);
        let (key, rest) = split_key(&body, "email").unwrap_or_default();
        assert_eq!(key, "ada@x.example");
        assert_eq!(strict::<UserSpec>(&rest), Ok(spec));
    }
}
