//! Live state as a target reads it: the normalized [`State`] plus what only
//! live objects have: versions (for `If-Match`), every label (tenet's
//! ownership labels included), API key fingerprints and workspace usage.
//! Objects are addressed by their resource path below `/v1`
//! (`users/ada@acme.example`), see [`resource`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Email, Labels, Slug, State};

/// Labels tenet writes on what it manages.
pub const MANAGED_LABEL: &str = "tenet.dev/managed";
/// The digest of the desired object as last applied.
pub const LAST_APPLIED_LABEL: &str = "tenet.dev/last-applied";
/// The prefix of every label tenet owns.
pub const LABEL_PREFIX: &str = "tenet.dev/";

/// Version and labels of one live object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Meta {
    pub version: u64,
    pub labels: Labels,
}

impl Meta {
    pub fn managed(&self) -> bool {
        self.labels.get(MANAGED_LABEL).is_some_and(|v| v == "true")
    }
}

/// What a workspace consumes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Usage {
    pub storage_gb: u64,
    pub executions_this_month: u64,
    pub api_calls_this_month: u64,
    pub users: u64,
}

/// The live platform, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Live {
    /// Objects as the model sees them; user labels only (no `tenet.dev/`).
    pub state: State,
    /// Version and all labels, by resource path.
    pub meta: BTreeMap<String, Meta>,
    /// Key fingerprints per provider (the model's `api_keys` stay empty).
    pub key_fingerprints: BTreeMap<Slug, Vec<String>>,
    pub usage: BTreeMap<Slug, Usage>,
}

/// Splits labels into the user's and tenet's own.
pub fn split_labels(all: &Labels) -> (Labels, Labels) {
    all.iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| !k.starts_with(LABEL_PREFIX))
}

/// Resource paths below `/v1`, the addresses of live objects.
pub mod resource {
    use super::{Email, Slug};

    pub fn workspace(w: &Slug) -> String {
        format!("workspaces/{w}")
    }
    pub fn quotas(w: &Slug) -> String {
        format!("workspaces/{w}/quotas")
    }
    pub fn membership(w: &Slug, u: &Email) -> String {
        format!("workspaces/{w}/memberships/{u}")
    }
    pub fn assignment(w: &Slug, p: &Slug) -> String {
        format!("workspaces/{w}/assignments/{p}")
    }
    pub fn user(u: &Email) -> String {
        format!("users/{u}")
    }
    pub fn role(r: &Slug) -> String {
        format!("roles/{r}")
    }
    pub fn provider(p: &Slug) -> String {
        format!("providers/{p}")
    }
    pub const SETTINGS: &str = "settings";
}
