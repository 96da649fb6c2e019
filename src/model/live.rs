//! Live state as a target reads it: the normalized [`State`] plus what only
//! live objects have: stamps (versions for `If-Match`, or content digests),
//! every label (tenet's ownership labels included, however the target
//! records them), API key fingerprints and workspace usage. Objects are
//! addressed by their [`ObjectId`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::id::{ObjectId, Stamp};
use super::{Labels, Slug, State};

/// Labels tenet writes on what it manages.
pub const MANAGED_LABEL: &str = "tenet.dev/managed";
/// The digest of the desired object as last applied.
pub const LAST_APPLIED_LABEL: &str = "tenet.dev/last-applied";
/// The prefix of every label tenet owns.
pub const LABEL_PREFIX: &str = "tenet.dev/";

/// Stamp and labels of one live object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meta {
    pub stamp: Stamp,
    pub labels: Labels,
}

impl Meta {
    /// What a target without versions records for an object it read: a
    /// digest of its content as the stamp, and (where the target can tell)
    /// the managed flag.
    pub fn by_content(object: &super::Object, managed: bool) -> Meta {
        Meta::by_content_with(object, managed_labels(managed))
    }

    /// The same, with the labels the target keeps for it.
    pub fn by_content_with(object: &super::Object, labels: Labels) -> Meta {
        Meta {
            stamp: Stamp::Digest(object.digest()),
            labels,
        }
    }

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
    /// Stamp and all labels, by object.
    pub meta: BTreeMap<ObjectId, Meta>,
    /// Key fingerprints per provider (the model's `api_keys` stay empty).
    pub key_fingerprints: BTreeMap<Slug, Vec<String>>,
    pub usage: BTreeMap<Slug, Usage>,
}

/// Just the managed flag, when set.
pub fn managed_labels(managed: bool) -> Labels {
    let mut labels = Labels::new();
    if managed {
        labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
    }
    labels
}

/// Splits labels into the user's and tenet's own.
pub fn split_labels(all: &Labels) -> (Labels, Labels) {
    all.iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| !k.starts_with(LABEL_PREFIX))
}
