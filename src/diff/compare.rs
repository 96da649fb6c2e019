//! Field-by-field comparison of a live and a desired object, normalizing
//! what the platform normalizes (sets are sets, emails are folded, an
//! invitation pending counts as active). Each difference becomes a
//! [`FieldChange`]; secret fields show only that they changed.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{show, status_matches};
use crate::model::{Assignment, Membership, Provider, Quotas, Role, Settings, User, Workspace};

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
    let mut out = Vec::new();
    for ((name, l), (_, w)) in live.fields().into_iter().zip(want.fields()) {
        let l = if new { None } else { l };
        if w.is_some() && l != w {
            field(&mut out, name, &l, &w);
        }
    }
    out
}

pub fn user(live: &User, want: &User) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "name", &live.name, &want.name);
    if !status_matches(live.status, want.status) {
        field(&mut out, "status", &live.status, &want.status);
    }
    field(&mut out, "labels", &live.labels, &want.labels);
    out
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
        let l: BTreeSet<&String> = live_keys.into_iter().flatten().collect();
        let w: BTreeSet<&String> = want_keys.iter().collect();
        if l != w {
            out.push(FieldChange {
                field: "api_keys".to_owned(),
                before: Value::String(format!("{} key(s)", l.len())),
                after: Value::String(format!("{} key(s), {SENSITIVE} changed", w.len())),
                sensitive: true,
                keys: Some(KeyChange {
                    added: w.difference(&l).count(),
                    removed: l.difference(&w).count(),
                    kept: w.intersection(&l).count(),
                }),
            });
        }
    }
    out
}

pub fn membership(live: &Membership, want: &Membership) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "roles", &live.roles, &want.roles);
    out
}

pub fn assignment(live: &Assignment, want: &Assignment) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field(&mut out, "models", &live.models, &want.models);
    field(&mut out, "default", &live.default, &want.default);
    out
}

/// What the files set, over what is live for everything they leave out.
pub fn merged_settings(live: &Settings, want: &Settings) -> Settings {
    let (l, w) = (&live.security, &want.security);
    let (lp, wp) = (&l.password_policy, &w.password_policy);
    Settings {
        security: crate::model::Security {
            session_timeout_minutes: w.session_timeout_minutes.or(l.session_timeout_minutes),
            require_2fa: w.require_2fa.or(l.require_2fa),
            email_verification: w.email_verification.or(l.email_verification),
            ip_allowlist: w.ip_allowlist.clone().or_else(|| l.ip_allowlist.clone()),
            password_policy: crate::model::PasswordPolicy {
                min_length: wp.min_length.or(lp.min_length),
                require_uppercase: wp.require_uppercase.or(lp.require_uppercase),
                require_lowercase: wp.require_lowercase.or(lp.require_lowercase),
                require_digit: wp.require_digit.or(lp.require_digit),
                require_symbol: wp.require_symbol.or(lp.require_symbol),
                max_age_days: wp.max_age_days.or(lp.max_age_days),
            },
        },
    }
}

pub fn settings(live: &Settings, want: &Settings) -> Vec<FieldChange> {
    let merged = merged_settings(live, want);
    let (l, m) = (&live.security, &merged.security);
    let mut out = Vec::new();
    field(
        &mut out,
        "security.session_timeout_minutes",
        &l.session_timeout_minutes,
        &m.session_timeout_minutes,
    );
    field(
        &mut out,
        "security.require_2fa",
        &l.require_2fa,
        &m.require_2fa,
    );
    field(
        &mut out,
        "security.email_verification",
        &l.email_verification,
        &m.email_verification,
    );
    field(
        &mut out,
        "security.ip_allowlist",
        &l.ip_allowlist,
        &m.ip_allowlist,
    );
    let (lp, mp) = (&l.password_policy, &m.password_policy);
    field(
        &mut out,
        "security.password_policy.min_length",
        &lp.min_length,
        &mp.min_length,
    );
    field(
        &mut out,
        "security.password_policy.require_uppercase",
        &lp.require_uppercase,
        &mp.require_uppercase,
    );
    field(
        &mut out,
        "security.password_policy.require_lowercase",
        &lp.require_lowercase,
        &mp.require_lowercase,
    );
    field(
        &mut out,
        "security.password_policy.require_digit",
        &lp.require_digit,
        &mp.require_digit,
    );
    field(
        &mut out,
        "security.password_policy.require_symbol",
        &lp.require_symbol,
        &mp.require_symbol,
    );
    field(
        &mut out,
        "security.password_policy.max_age_days",
        &lp.max_age_days,
        &mp.max_age_days,
    );
    out
}
