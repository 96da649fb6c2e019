//! Live state as a target reads it: the normalized [`State`] plus what only
//! live objects have: stamps (versions for `If-Match`, or content digests),
//! tenet's own labels as a small fixed record (however the target records
//! them), API key fingerprints and workspace usage. Objects are
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

/// The prevent-destroy marker on an object tenet protects.
pub const PREVENT_DESTROY_LABEL: &str = "tenet.dev/prevent-destroy";

/// Stamp and tenet's own labels of one live object, as a small fixed
/// record: a live platform has one per object, so this is no map. The
/// labels it came from read back with [`Meta::labels`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub stamp: Stamp,
    /// `tenet.dev/managed = "true"`.
    pub managed: bool,
    /// `tenet.dev/prevent-destroy = "true"`.
    pub prevent_destroy: bool,
    /// `tenet.dev/last-applied`, when it is a digest tenet writes.
    pub last_applied: Option<Digest>,
    /// Any other `tenet.dev/` label (one tenet did not write, or a value it
    /// does not read as the flags and digest above), kept so that an
    /// update can unset it. Almost always `None`.
    pub other: Option<Box<Labels>>,
}

impl Meta {
    /// A stamp with no labels of tenet's.
    pub fn new(stamp: Stamp) -> Meta {
        Meta {
            stamp,
            managed: false,
            prevent_destroy: false,
            last_applied: None,
            other: None,
        }
    }

    /// The record for an object's labels as the platform holds them; user
    /// labels (outside `tenet.dev/`) are not kept here.
    pub fn from_labels(stamp: Stamp, labels: &Labels) -> Meta {
        let mut meta = Meta::new(stamp);
        let mut other = Labels::new();
        for (k, v) in labels.range::<str, _>((
            std::ops::Bound::Included(LABEL_PREFIX),
            std::ops::Bound::Unbounded,
        )) {
            if !k.starts_with(LABEL_PREFIX) {
                break;
            }
            match (k.as_str(), v.as_str()) {
                (MANAGED_LABEL, "true") => meta.managed = true,
                (PREVENT_DESTROY_LABEL, "true") => meta.prevent_destroy = true,
                (LAST_APPLIED_LABEL, d) if Digest::parse(d).is_some() => {
                    meta.last_applied = Digest::parse(d);
                }
                _ => {
                    other.insert(k.clone(), v.clone());
                }
            }
        }
        if !other.is_empty() {
            meta.other = Some(Box::new(other));
        }
        meta
    }

    /// What a target without versions records for an object it read: a
    /// digest of its content as the stamp, and (where the target can tell)
    /// the managed flag.
    pub fn by_content(object: &super::Object, managed: bool) -> Meta {
        Meta {
            managed,
            ..Meta::new(Stamp::Digest(object.digest()))
        }
    }

    /// The same, with the labels the target keeps for it.
    pub fn by_content_with(object: &super::Object, labels: &Labels) -> Meta {
        Meta::from_labels(Stamp::Digest(object.digest()), labels)
    }

    pub fn managed(&self) -> bool {
        self.managed
    }

    /// The last-applied label's text, as written on the platform.
    pub fn last_applied_text(&self) -> Option<String> {
        match (&self.last_applied, &self.other) {
            (Some(d), _) => Some(d.to_string()),
            (None, Some(o)) => o.get(LAST_APPLIED_LABEL).cloned(),
            (None, None) => None,
        }
    }

    /// tenet's labels on the object, as a map.
    pub fn labels(&self) -> Labels {
        let mut labels = self.other.as_deref().cloned().unwrap_or_default();
        if self.managed {
            labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
        }
        if self.prevent_destroy {
            labels.insert(PREVENT_DESTROY_LABEL.to_owned(), "true".to_owned());
        }
        if let Some(d) = &self.last_applied {
            labels.insert(LAST_APPLIED_LABEL.to_owned(), d.to_string());
        }
        labels
    }
}

impl Serialize for Meta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Meta", 2)?;
        st.serialize_field("stamp", &self.stamp)?;
        st.serialize_field("labels", &self.labels())?;
        st.end()
    }
}

/// A content digest as tenet writes it in labels, `sha256:` and the first
/// 16 bytes in hex, held as the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 16]);

impl Digest {
    /// Reads `sha256:` and 32 lower-case hex digits.
    pub fn parse(text: &str) -> Option<Digest> {
        let hex = text.strip_prefix("sha256:")?.as_bytes();
        if hex.len() != 32 {
            return None;
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(Digest(out))
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sha256:")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// What a workspace consumes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Usage {
    pub storage_gb: u64,
    pub executions_this_month: u64,
    pub api_calls_this_month: u64,
    pub users: u64,
    pub tokens_today: u64,
    pub tokens_this_week: u64,
    pub tokens_this_month: u64,
}

/// The live platform, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Live {
    /// Objects as the model sees them; user labels only (no `tenet.dev/`).
    pub state: State,
    /// Stamp and tenet's labels, by object.
    pub meta: BTreeMap<ObjectId, Meta>,
    /// Fingerprints of the secrets of each object that has them (a
    /// provider's API keys, an identity provider's client secret), in
    /// order; the model's references stay empty.
    pub secret_fingerprints: BTreeMap<ObjectId, Vec<String>>,
    pub usage: BTreeMap<Slug, Usage>,
    /// The user account tenet acts as, where the target signs in as a user
    /// of the platform it manages (Open WebUI): a plan never suspends or
    /// deletes it, which would lock tenet out halfway through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_in_as: Option<super::Email>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn meta_keeps_tenets_labels_as_a_record_and_gives_them_back() {
        let digest = "sha256:00112233445566778899aabbccddeeff";
        let all = labels(&[
            ("team", "finance"),
            (MANAGED_LABEL, "true"),
            (PREVENT_DESTROY_LABEL, "true"),
            (LAST_APPLIED_LABEL, digest),
            ("tenet.dev/other", "x"),
        ]);
        let m = Meta::from_labels(Stamp::Version(3), &all);
        assert!(m.managed && m.prevent_destroy);
        assert_eq!(m.last_applied_text().as_deref(), Some(digest));
        // User labels are the live object's own; tenet's come back whole.
        let mut own = all.clone();
        own.remove("team");
        assert_eq!(m.labels(), own);
        // A value tenet does not write is kept as it is, not read as a flag.
        let odd = Meta::from_labels(
            Stamp::Version(1),
            &labels(&[(MANAGED_LABEL, "yes"), (LAST_APPLIED_LABEL, "sha256:zz")]),
        );
        assert!(!odd.managed && odd.last_applied.is_none());
        assert_eq!(odd.last_applied_text().as_deref(), Some("sha256:zz"));
        assert_eq!(
            odd.labels().get(MANAGED_LABEL).map(String::as_str),
            Some("yes")
        );
        assert_eq!(
            Meta::from_labels(Stamp::Version(1), &Labels::new()).labels(),
            Labels::new()
        );
    }

    #[test]
    fn digests_read_back_from_their_text() {
        let text = "sha256:0123456789abcdef0123456789abcdef";
        assert_eq!(
            Digest::parse(text).map(|d| d.to_string()).as_deref(),
            Some(text)
        );
        assert!(Digest::parse("sha256:0123").is_none());
        assert!(Digest::parse("md5:0123456789abcdef0123456789abcdef").is_none());
        assert!(Digest::parse("sha256:0123456789ABCDEF0123456789abcdef").is_none());
    }
}
