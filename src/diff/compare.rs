//! Field-by-field comparison of a live and a desired object, normalizing
//! what the platform normalizes (sets are sets, emails are folded, an
//! invitation pending counts as active). Each difference becomes a
//! [`FieldChange`]; secret fields show only that they changed.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{show, status_matches};
use crate::model::{
    Assignment, IdentityProvider, Membership, Project, Provider, Quotas, Role, Settings, User,
    UserStatus, Workspace,
};

/// One field's old and new value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
    /// A secret: `before`/`after` hold a placeholder, never the value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// For API keys: how the set of keys changes, by fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeyChange>,
}

/// How a provider's API keys change, counted by fingerprint (never by
/// value): a key added, a key removed, or keys rotated (some added and
/// some removed in one change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    pub added: usize,
    pub removed: usize,
    pub kept: usize,
}

impl KeyChange {
    /// `added`, `removed` or `rotated`.
    pub fn what(&self) -> &'static str {
        match (self.added, self.removed) {
            (_, 0) => "added",
            (0, _) => "removed",
            _ => "rotated",
        }
    }

    /// `key rotated (1 added, 1 removed, 0 kept)`.
    pub fn describe(&self) -> String {
        format!(
            "key {} ({} added, {} removed, {} kept)",
            self.what(),
            self.added,
            self.removed,
            self.kept
        )
    }
}

/// A boolean field's change (`prevent_destroy: false -> true`).
pub fn flag(name: &str, before: bool, after: bool) -> FieldChange {
    FieldChange {
        field: name.to_owned(),
        before: Value::Bool(before),
        after: Value::Bool(after),
        sensitive: false,
        keys: None,
    }
}

/// The placeholder shown for secret values.
pub const SENSITIVE: &str = "(sensitive value)";

fn field<T: Serialize + PartialEq>(out: &mut Vec<FieldChange>, name: &str, before: &T, after: &T) {
    if before != after {
        out.push(FieldChange {
            field: name.to_owned(),
            before: show(before),
            after: show(after),
            sensitive: false,
            keys: None,
        });
    }
}

/// The workspace as its own object, to write: quotas are compared and
/// written separately; a setting the files leave out keeps its live value.
pub fn workspace_spec(w: &Workspace, live: Option<&Workspace>) -> Workspace {
    Workspace {
        quotas: Quotas::default(),
        settings: match live {
            Some(l) => w.settings.or(&l.settings),
            None => w.settings.clone(),
        },
        ..w.clone()
    }
}

pub fn workspace(live: &Workspace, want: &Workspace) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "name", &live.name, &want.name);
    field(
        &mut out,
        "description",
        &live.description,
        &want.description,
    );
    field(&mut out, "status", &live.status, &want.status);
    // Only the settings the files set are compared.
    let (l, w) = (&live.settings, &want.settings);
    if w.theme.is_some() {
        field(&mut out, "settings.theme", &l.theme, &w.theme);
    }
    if w.language.is_some() {
        field(&mut out, "settings.language", &l.language, &w.language);
    }
    if w.timezone.is_some() {
        field(&mut out, "settings.timezone", &l.timezone, &w.timezone);
    }
    field(&mut out, "labels", &live.labels, &want.labels);
    out
}

/// Only the limits the files set are compared; on a new workspace every
/// set limit is a change from unlimited.
pub fn quotas(live: &Quotas, want: &Quotas, new: bool) -> Vec<FieldChange> {
    let live = live.fields().map(|(k, l)| (k, if new { None } else { l }));
    limits("", live, want.fields())
}

/// The limits the files set (`want`) that differ from the live ones, each
/// named `prefix` + its name.
fn limits<const N: usize>(
    prefix: &str,
    live: [(&str, Option<u64>); N],
    want: [(&str, Option<u64>); N],
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for ((name, l), (_, w)) in live.into_iter().zip(want) {
        if w.is_some() && l != w {
            field(&mut out, &format!("{prefix}{name}"), &l, &w);
        }
    }
    out
}

pub fn user(live: &User, want: &User) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "name", &live.name, &want.name);
    // A user who exists was invited already: declared invited, it is
    // compared as active (a suspended one is reactivated, not re-invited).
    let want_status = match want.status {
        UserStatus::Invited => UserStatus::Active,
        s => s,
    };
    if !status_matches(live.status, want_status) {
        field(&mut out, "status", &live.status, &want_status);
    }
    field(&mut out, "labels", &live.labels, &want.labels);
    if let Some(expires) = expired_invitation(live)
        && want.status == UserStatus::Invited
        && want.invitation.as_ref().is_some_and(|i| i.resend_expired)
    {
        out.push(FieldChange {
            field: "invitation".to_owned(),
            before: Value::String(format!("expired at {expires}")),
            after: Value::String("re-sent".to_owned()),
            sensitive: false,
            keys: None,
        });
    }
    out
}

/// When the invitation of a user still invited expired, if it did.
pub fn expired_invitation(live: &User) -> Option<&str> {
    if live.status != UserStatus::Invited {
        return None;
    }
    let sent = live.invitation.as_ref()?.sent.as_ref()?;
    sent.expired.then_some(sent.expires_at.as_str())
}

pub fn role(live: &Role, want: &Role) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "name", &live.name, &want.name);
    field(
        &mut out,
        "description",
        &live.description,
        &want.description,
    );
    field(
        &mut out,
        "permissions",
        &live.permissions,
        &want.permissions,
    );
    field(&mut out, "labels", &live.labels, &want.labels);
    out
}

/// Keys are compared by fingerprint; `want_keys` is `None` when the files'
/// keys could not be resolved here, and then keys are not compared.
pub fn provider(
    live: &Provider,
    want: &Provider,
    live_keys: Option<&Vec<String>>,
    want_keys: Option<&Vec<String>>,
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "name", &live.name, &want.name);
    field(&mut out, "kind", &live.kind, &want.kind);
    field(&mut out, "endpoint", &live.endpoint, &want.endpoint);
    field(&mut out, "region", &live.region, &want.region);
    field(&mut out, "models", &live.models, &want.models);
    field(
        &mut out,
        "rate_limits",
        &live.rate_limits,
        &want.rate_limits,
    );
    field(&mut out, "scope", &live.scope, &want.scope);
    field(&mut out, "labels", &live.labels, &want.labels);
    if let Some(want_keys) = want_keys {
        let shown = |n: usize| format!("{n} key(s)");
        out.extend(secrets("api_keys", live_keys, want_keys, shown));
    }
    out
}

/// The change of an object's secrets, compared as sets of fingerprints:
/// how many were added, removed and kept, never a value. `shown` says how
/// many there are, for people.
fn secrets(
    name: &str,
    live: Option<&Vec<String>>,
    want: &[String],
    shown: impl Fn(usize) -> String,
) -> Option<FieldChange> {
    let l: BTreeSet<&String> = live.into_iter().flatten().collect();
    let w: BTreeSet<&String> = want.iter().collect();
    (l != w).then(|| FieldChange {
        field: name.to_owned(),
        before: Value::String(shown(l.len())),
        after: Value::String(format!("{}, {SENSITIVE} changed", shown(w.len()))),
        sensitive: true,
        keys: Some(KeyChange {
            added: w.difference(&l).count(),
            removed: l.difference(&w).count(),
            kept: w.intersection(&l).count(),
        }),
    })
}

/// The client secret is compared by fingerprint, as provider keys are
/// (`want_secret` is `None` when it could not be resolved); the SAML
/// metadata document by digest, and shown as one.
pub fn identity_provider(
    live: &IdentityProvider,
    want: &IdentityProvider,
    live_secret: Option<&Vec<String>>,
    want_secret: Option<&Vec<String>>,
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "name", &live.name, &want.name);
    field(&mut out, "protocol", &live.protocol, &want.protocol);
    field(&mut out, "enabled", &live.enabled, &want.enabled);
    field(&mut out, "workspace", &live.workspace, &want.workspace);
    field(&mut out, "issuer", &live.issuer, &want.issuer);
    field(&mut out, "client_id", &live.client_id, &want.client_id);
    field(&mut out, "scopes", &live.scopes, &want.scopes);
    field(
        &mut out,
        "metadata_url",
        &live.metadata_url,
        &want.metadata_url,
    );
    let digest = |x: &Option<String>| x.as_deref().map(crate::model::secret::fingerprint);
    field(
        &mut out,
        "metadata_xml",
        &digest(&live.metadata_xml),
        &digest(&want.metadata_xml),
    );
    field(
        &mut out,
        "jit_provisioning",
        &live.jit_provisioning,
        &want.jit_provisioning,
    );
    field(&mut out, "groups", &live.groups, &want.groups);
    field(&mut out, "labels", &live.labels, &want.labels);
    if let Some(w) = want_secret {
        let shown = |n: usize| if n == 0 { "none" } else { "set" }.to_owned();
        out.extend(secrets("client_secret", live_secret, w, shown));
    }
    out
}

pub fn membership(live: &Membership, want: &Membership) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "roles", &live.roles, &want.roles);
    out
}

/// A project's fields, and each member whose roles differ as a field of
/// its own (`members.ada@acme.example`: `null` is no member).
pub fn project(live: &Project, want: &Project) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "name", &live.name, &want.name);
    field(
        &mut out,
        "description",
        &live.description,
        &want.description,
    );
    field(&mut out, "status", &live.status, &want.status);
    for (user, l, w) in super::join(&live.members, &want.members) {
        field(&mut out, &format!("members.{user}"), &l, &w);
    }
    out.extend(token_quotas("quotas.", &live.quotas, &want.quotas));
    field(&mut out, "labels", &live.labels, &want.labels);
    out
}

/// Only the token limits the files set are compared.
pub fn token_quotas(
    prefix: &str,
    live: &crate::model::TokenQuotas,
    want: &crate::model::TokenQuotas,
) -> Vec<FieldChange> {
    limits(prefix, live.fields(), want.fields())
}

pub fn top_up(live: &crate::model::TopUp, want: &crate::model::TopUp) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "tokens", &live.tokens, &want.tokens);
    field(&mut out, "expires", &live.expires, &want.expires);
    field(&mut out, "project", &live.project, &want.project);
    field(&mut out, "user", &live.user, &want.user);
    field(&mut out, "reason", &live.reason, &want.reason);
    field(&mut out, "labels", &live.labels, &want.labels);
    out
}

/// An API key's fields, and its rotation when the value has reached its
/// age on `today` (a `rotation` field: the value itself is never a field).
pub fn api_key(
    live: &crate::model::ApiKey,
    want: &crate::model::ApiKey,
    today: Option<&str>,
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "name", &live.name, &want.name);
    field(&mut out, "owner", &live.owner, &want.owner);
    field(
        &mut out,
        "permissions",
        &live.permissions,
        &want.permissions,
    );
    field(&mut out, "expires", &live.expires, &want.expires);
    field(
        &mut out,
        "rotate_every_days",
        &live.rotate_every_days,
        &want.rotate_every_days,
    );
    field(&mut out, "labels", &live.labels, &want.labels);
    if let (Some(issued), Some(today), Some(every)) = (&live.issued, today, want.rotate_every_days)
        && want.rotation_due(issued, today)
    {
        out.push(FieldChange {
            field: "rotation".to_owned(),
            before: Value::String(format!("issued {issued}")),
            after: Value::String(format!("a new value (every {every} days)")),
            sensitive: false,
            keys: None,
        });
    }
    out
}

pub fn assignment(live: &Assignment, want: &Assignment) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "models", &live.models, &want.models);
    field(&mut out, "default", &live.default, &want.default);
    out
}

/// What the files set, over what is live for everything they leave out:
/// every field of the settings is optional (`None` is unmanaged), so this
/// is the files' JSON laid over the live JSON, field by nested field.
pub fn merged_settings(live: &Settings, want: &Settings) -> Settings {
    serde_json::from_value(overlay(show(live), show(want))).unwrap_or_else(|_| want.clone())
}

/// `want` over `base`: objects merge key by key, a `null` in `want` keeps
/// `base`'s value, anything else (a scalar, a list) replaces it whole.
fn overlay(base: Value, want: Value) -> Value {
    match (base, want) {
        (Value::Object(mut b), Value::Object(w)) => {
            for (k, wv) in w {
                let bv = b.remove(&k).unwrap_or(Value::Null);
                b.insert(k, overlay(bv, wv));
            }
            Value::Object(b)
        }
        (b, Value::Null) => b,
        (_, w) => w,
    }
}

/// One change per leaf field (`security.require_2fa`) the files change:
/// lists are leaves, compared whole.
pub fn settings(live: &Settings, want: &Settings) -> Vec<FieldChange> {
    let mut out = Vec::new();
    leaves(
        "",
        &show(live),
        &show(&merged_settings(live, want)),
        &mut out,
    );
    out
}

fn leaves(path: &str, live: &Value, merged: &Value, out: &mut Vec<FieldChange>) {
    match (live, merged) {
        (Value::Object(l), Value::Object(m)) => {
            for (k, mv) in m {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(&sub, l.get(k).unwrap_or(&Value::Null), mv, out);
            }
        }
        (l, m) if l != m => out.push(FieldChange {
            field: path.to_owned(),
            before: l.clone(),
            after: m.clone(),
            sensitive: false,
            keys: None,
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Branding, Security};

    #[test]
    fn settings_compare_only_what_the_files_set_leaf_by_leaf() {
        let live = Settings {
            security: Security {
                require_2fa: Some(false),
                session_timeout_minutes: Some(30),
                ip_allowlist: Some(["10.0.0.0/8".to_owned()].into()),
                ..Security::default()
            },
            branding: Branding {
                display_name: Some("Old".into()),
                ..Branding::default()
            },
        };
        let want = Settings {
            security: Security {
                require_2fa: Some(true),
                ip_allowlist: Some(std::collections::BTreeSet::new()),
                ..Security::default()
            },
            branding: Branding {
                accent_color: Some("#1f6feb".into()),
                ..Branding::default()
            },
        };
        let merged = merged_settings(&live, &want);
        // Unset in the files: the live value stays.
        assert_eq!(merged.security.session_timeout_minutes, Some(30));
        assert_eq!(merged.branding.display_name.as_deref(), Some("Old"));
        // A list is replaced whole, even by an empty one.
        assert_eq!(merged.security.ip_allowlist, Some(Default::default()));
        let changes = settings(&live, &want);
        let fields: Vec<&str> = changes.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "security.require_2fa",
                "security.ip_allowlist",
                "branding.accent_color"
            ]
        );
        assert!(settings(&live, &Settings::default()).is_empty());
        assert!(settings(&merged, &want).is_empty());
    }
}
