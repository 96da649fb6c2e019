//! The config document as written, typed, merged across files, with the
//! origin (file and JSON pointer) of every declaration. This is the spanned
//! side of the config; `build` turns it into the normalized `model`.
//!
//! Entries are deserialized one by one, so an invalid user does not hide the
//! other hundred: an entry that does not fit its type is kept as declared
//! (its key still counts for references) with no value.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::spans::{SpanIndex, push};
use crate::diagnostic::{Diagnostic, FileId};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlatformDoc {
    pub endpoint: Option<String>,
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    pub authoritative: Option<Vec<String>>,
    pub workspace_removal: Option<String>,
    pub project_removal: Option<String>,
    pub user_removal: Option<String>,
    pub destroy_threshold_percent: Option<u8>,
    pub destroy_threshold_min_objects: Option<u64>,
    pub adopt: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QuotasDoc {
    pub storage_gb: Option<u64>,
    pub executions_per_month: Option<u64>,
    pub api_calls_per_month: Option<u64>,
    pub max_users: Option<u64>,
    pub tokens_per_day: Option<u64>,
    pub tokens_per_week: Option<u64>,
    pub tokens_per_month: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DefaultsDoc {
    pub quotas: Option<QuotasDoc>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicyDoc {
    pub min_length: Option<u64>,
    pub require_uppercase: Option<bool>,
    pub require_lowercase: Option<bool>,
    pub require_digit: Option<bool>,
    pub require_symbol: Option<bool>,
    pub max_age_days: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SecurityDoc {
    pub session_timeout_minutes: Option<u64>,
    pub require_2fa: Option<bool>,
    pub email_verification: Option<bool>,
    pub ip_allowlist: Option<Vec<String>>,
    pub password_policy: Option<PasswordPolicyDoc>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AckDoc {
    pub until: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DriftDoc {
    #[serde(default)]
    pub acknowledged: BTreeMap<String, AckDoc>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BrandingDoc {
    pub display_name: Option<String>,
    pub accent_color: Option<String>,
    pub login_headline: Option<String>,
    pub login_tagline: Option<String>,
    pub support_email: Option<String>,
    /// Image files, relative to the config root.
    pub logo_light: Option<String>,
    pub logo_inverse: Option<String>,
    pub favicon: Option<String>,
}

impl BrandingDoc {
    /// The image paths as written, by slot.
    pub fn images(&self) -> impl Iterator<Item = (crate::model::image::ImageSlot, &String)> {
        use crate::model::image::ImageSlot as S;
        [
            (S::LogoLight, self.logo_light.as_ref()),
            (S::LogoInverse, self.logo_inverse.as_ref()),
            (S::Favicon, self.favicon.as_ref()),
        ]
        .into_iter()
        .filter_map(|(slot, p)| Some((slot, p?)))
    }
}

/// What the members of an IdP group get in one workspace.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GroupGrantDoc {
    #[serde(default)]
    pub roles: Vec<String>,
    /// Project -> project roles.
    #[serde(default)]
    pub projects: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderDoc {
    pub name: Option<String>,
    pub protocol: String,
    pub enabled: Option<bool>,
    pub workspace: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub metadata_url: Option<String>,
    /// A path relative to the config root.
    pub metadata_file: Option<String>,
    #[serde(default)]
    pub jit_provisioning: bool,
    /// IdP group -> workspace -> grant.
    #[serde(default)]
    pub groups: BTreeMap<String, BTreeMap<String, GroupGrantDoc>>,
    #[serde(default)]
    pub labels: LabelsDoc,
    #[serde(default)]
    pub prevent_destroy: bool,
}

/// `[settings.sso]`: identity providers, each typed on its own so that a
/// bad one hides neither the others nor the rest of the settings.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SsoDoc {
    #[serde(default)]
    pub providers: BTreeMap<String, Value>,
}

impl SsoDoc {
    /// Each provider by its key as written, typed if it fits.
    pub fn providers(&self) -> impl Iterator<Item = (&String, Option<IdentityProviderDoc>)> {
        self.providers.iter().map(|(k, v)| (k, typed(v.clone())))
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SettingsDoc {
    pub security: Option<SecurityDoc>,
    pub branding: Option<BrandingDoc>,
    pub sso: Option<SsoDoc>,
}

pub type LabelsDoc = BTreeMap<String, String>;

/// A user's invitation.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InvitationDoc {
    pub message: Option<String>,
    #[serde(default)]
    pub resend_expired: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UserDoc {
    pub name: Option<String>,
    pub status: Option<String>,
    pub invitation: Option<InvitationDoc>,
    #[serde(default)]
    pub labels: LabelsDoc,
    #[serde(default)]
    pub prevent_destroy: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RoleDoc {
    /// Earlier slugs of this object, to rename it in place.
    #[serde(default)]
    pub previously: Vec<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub labels: LabelsDoc,
    #[serde(default)]
    pub prevent_destroy: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsDoc {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProviderDoc {
    /// Earlier slugs of this object, to rename it in place.
    #[serde(default)]
    pub previously: Vec<String>,
    pub name: Option<String>,
    pub kind: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub api_keys: Vec<String>,
    #[serde(default)]
    pub rate_limits: RateLimitsDoc,
    pub scope: Option<String>,
    #[serde(default)]
    pub labels: LabelsDoc,
    #[serde(default)]
    pub prevent_destroy: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TeamDoc {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AssignmentDoc {
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub default: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSettingsDoc {
    pub theme: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TokenQuotasDoc {
    pub tokens_per_day: Option<u64>,
    pub tokens_per_week: Option<u64>,
    pub tokens_per_month: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TopUpDoc {
    pub tokens: u64,
    pub expires: String,
    pub project: Option<String>,
    pub user: Option<String>,
    pub reason: Option<String>,
    #[serde(default)]
    pub labels: LabelsDoc,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyDoc {
    pub name: Option<String>,
    pub owner: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    pub expires: Option<String>,
    pub rotate_every_days: Option<u64>,
    pub sink: Option<String>,
    #[serde(default)]
    pub labels: LabelsDoc,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProjectDoc {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub labels: LabelsDoc,
    #[serde(default)]
    pub prevent_destroy: bool,
    /// Email as written -> project roles.
    #[serde(default)]
    pub members: BTreeMap<String, Vec<String>>,
    pub quotas: Option<TokenQuotasDoc>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceDoc {
    /// Earlier slugs of this object, to rename it in place.
    #[serde(default)]
    pub previously: Vec<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub labels: LabelsDoc,
    #[serde(default)]
    pub prevent_destroy: bool,
    pub quotas: Option<QuotasDoc>,
    pub settings: Option<WorkspaceSettingsDoc>,
    /// Email as written -> roles.
    #[serde(default)]
    pub members: BTreeMap<String, Vec<String>>,
    /// Team -> roles.
    #[serde(default)]
    pub teams: BTreeMap<String, Vec<String>>,
    /// Provider -> assignment.
    #[serde(default)]
    pub providers: BTreeMap<String, AssignmentDoc>,
    /// Slug -> project.
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectDoc>,
    /// Email as written -> token budget.
    #[serde(default)]
    pub member_quotas: BTreeMap<String, TokenQuotasDoc>,
    /// Name -> top-up.
    #[serde(default)]
    pub top_ups: BTreeMap<String, TopUpDoc>,
    /// Name -> API key.
    #[serde(default)]
    pub api_keys: BTreeMap<String, ApiKeyDoc>,
}

/// One declaration: where it is, the key as written, and its value if it
/// fitted its type.
#[derive(Debug, Clone)]
pub struct Declared<T> {
    pub file: FileId,
    pub pointer: String,
    /// The key as written (emails keep their spelling here).
    pub key: String,
    pub value: Option<T>,
}

/// Every file's declarations, merged. Collections are keyed by normalized key
/// (emails case-folded).
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub platform: Option<Declared<PlatformDoc>>,
    pub policy: Option<Declared<PolicyDoc>>,
    pub defaults: Option<Declared<DefaultsDoc>>,
    pub settings: Option<Declared<SettingsDoc>>,
    pub drift: Option<Declared<DriftDoc>>,
    pub users: BTreeMap<String, Declared<UserDoc>>,
    pub roles: BTreeMap<String, Declared<RoleDoc>>,
    pub providers: BTreeMap<String, Declared<ProviderDoc>>,
    pub teams: BTreeMap<String, Declared<TeamDoc>>,
    pub workspaces: BTreeMap<String, Declared<WorkspaceDoc>>,
}

/// Folds an email key; other keys are used as written.
pub fn fold_email(key: &str) -> String {
    crate::model::keys::fold(key).into_owned()
}

/// One file's declarations, typed: what [`Document::merge`] adds. Made on
/// any thread (deserializing is most of the work of merging), merged in
/// file order on one.
#[derive(Debug, Default)]
pub struct Declarations {
    platform: Option<Declared<PlatformDoc>>,
    policy: Option<Declared<PolicyDoc>>,
    defaults: Option<Declared<DefaultsDoc>>,
    settings: Option<Declared<SettingsDoc>>,
    drift: Option<Declared<DriftDoc>>,
    users: Vec<Declared<UserDoc>>,
    roles: Vec<Declared<RoleDoc>>,
    providers: Vec<Declared<ProviderDoc>>,
    teams: Vec<Declared<TeamDoc>>,
    workspaces: Vec<Declared<WorkspaceDoc>>,
}

impl Declarations {
    /// Types the sections of one file's value.
    pub fn of(file: FileId, value: Value) -> Declarations {
        let mut d = Declarations::default();
        let Value::Object(top) = value else { return d };
        for (section, v) in top {
            let pointer = push("", &section);
            match section.as_str() {
                "platform" => d.platform = Some(one(file, pointer, section, v)),
                "policy" => d.policy = Some(one(file, pointer, section, v)),
                "defaults" => d.defaults = Some(one(file, pointer, section, v)),
                "settings" => d.settings = Some(one(file, pointer, section, v)),
                "drift" => d.drift = Some(one(file, pointer, section, v)),
                "users" => d.users = entries(file, &pointer, v),
                "roles" => d.roles = entries(file, &pointer, v),
                "providers" => d.providers = entries(file, &pointer, v),
                "teams" => d.teams = entries(file, &pointer, v),
                "workspaces" => d.workspaces = entries(file, &pointer, v),
                // Unknown sections were reported by the schema.
                _ => {}
            }
        }
        d
    }
}

/// A singleton section, typed.
fn one<T: DeserializeOwned>(file: FileId, pointer: String, key: String, v: Value) -> Declared<T> {
    Declared {
        file,
        pointer,
        key,
        value: typed(v),
    }
}

/// The entries of a collection section, typed one by one.
fn entries<T: DeserializeOwned>(file: FileId, pointer: &str, v: Value) -> Vec<Declared<T>> {
    let Value::Object(entries) = v else {
        return Vec::new();
    };
    entries
        .into_iter()
        .map(|(key, entry)| Declared {
            file,
            pointer: push(pointer, &key),
            key,
            value: typed(entry),
        })
        .collect()
}

impl Document {
    /// The files the config names besides its own (SAML metadata), as
    /// written.
    pub fn asset_paths(&self) -> Vec<String> {
        let Some(settings) = self.settings.as_ref().and_then(|d| d.value.as_ref()) else {
            return Vec::new();
        };
        let images = settings
            .branding
            .iter()
            .flat_map(|b| b.images().map(|(_, p)| p.clone()));
        let metadata = settings
            .sso
            .iter()
            .flat_map(|sso| sso.providers().filter_map(|(_, p)| p?.metadata_file));
        images.chain(metadata).collect()
    }

    /// Merges one file's declarations into the document. Objects declared
    /// before (in this or another file) are reported with both places.
    pub fn merge(&mut self, d: Declarations, spans: &[SpanIndex], diags: &mut Vec<Diagnostic>) {
        singleton(&mut self.platform, d.platform, spans, diags);
        singleton(&mut self.policy, d.policy, spans, diags);
        singleton(&mut self.defaults, d.defaults, spans, diags);
        singleton(&mut self.settings, d.settings, spans, diags);
        singleton(&mut self.drift, d.drift, spans, diags);
        collection(&mut self.users, "user", fold_email, d.users, spans, diags);
        collection(
            &mut self.roles,
            "role",
            str::to_owned,
            d.roles,
            spans,
            diags,
        );
        collection(
            &mut self.providers,
            "provider",
            str::to_owned,
            d.providers,
            spans,
            diags,
        );
        collection(
            &mut self.teams,
            "team",
            str::to_owned,
            d.teams,
            spans,
            diags,
        );
        collection(
            &mut self.workspaces,
            "workspace",
            str::to_owned,
            d.workspaces,
            spans,
            diags,
        );
    }
}

fn typed<T: DeserializeOwned>(v: Value) -> Option<T> {
    serde_json::from_value(v).ok()
}

/// A diagnostic for an object declared a second time.
pub fn duplicate(
    what: &str,
    first: (FileId, &str),
    again: (FileId, &str),
    spans: &[SpanIndex],
    note: Option<&str>,
) -> Diagnostic {
    let span = |(f, p): (FileId, &str)| spans.get(f).and_then(|s| s.key_span(p)).unwrap_or(0..0);
    let (mut a, mut b) = ((first.0, span(first)), (again.0, span(again)));
    // "First" is first in reading order (files sorted, then offsets), not in
    // the order the declarations were merged (tables iterate by key).
    if (b.0, b.1.start) < (a.0, a.1.start) {
        std::mem::swap(&mut a, &mut b);
    }
    Diagnostic::error("tenet::duplicate", format!("{what} is declared twice"))
        .with_label(b.0, b.1, "declared again here")
        .with_label(a.0, a.1, "first declared here")
        .with_help(note.map_or_else(
            || "declare each object once: merge the two declarations or remove one".to_owned(),
            |n| format!("{n}; declare each object once"),
        ))
}

fn singleton<T>(
    slot: &mut Option<Declared<T>>,
    again: Option<Declared<T>>,
    spans: &[SpanIndex],
    diags: &mut Vec<Diagnostic>,
) {
    let Some(again) = again else { return };
    if let Some(first) = slot {
        diags.push(duplicate(
            &format!("`[{}]`", again.key),
            (first.file, &first.pointer),
            (again.file, &again.pointer),
            spans,
            None,
        ));
        return;
    }
    *slot = Some(again);
}

fn collection<T>(
    map: &mut BTreeMap<String, Declared<T>>,
    what: &str,
    normalize: fn(&str) -> String,
    entries: Vec<Declared<T>>,
    spans: &[SpanIndex],
    diags: &mut Vec<Diagnostic>,
) {
    for entry in entries {
        let norm = normalize(&entry.key);
        if let Some(first) = map.get(&norm) {
            let note = (first.key != entry.key)
                .then_some("emails are compared case-insensitively, so these are one user");
            diags.push(duplicate(
                &format!("{what} `{norm}`"),
                (first.file, &first.pointer),
                (entry.file, &entry.pointer),
                spans,
                note,
            ));
            continue;
        }
        map.insert(norm, entry);
    }
}
