//! Drift: what differs between the files and the platform, split into what
//! changed *outside* tenet (drift, with who did it, when and through which
//! channel, from the platform's audit log) and what the files changed but
//! nobody applied yet (pending). The `tenet.dev/last-applied` digest tells
//! them apart: a live object whose own digest no longer equals its label was
//! changed since tenet last wrote it.
//!
//! Renames: an object renamed in the files but not on the platform yet is
//! read under its old name (its live id, see [`former`]); audit events
//! recorded under an earlier name count as the object's; and a
//! last-applied digest taken before a rename still matches the object under
//! the names it had then (the files' `previously`).
//!
//! Pure: the caller fetches the audit events; this module only classifies.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diff::{self, Action, Change, FieldChange, Object};
use crate::model::audit::{AuditEvent, FieldValues};
use crate::model::capabilities::{Capabilities, Ownership};
use crate::model::live::LAST_APPLIED_LABEL;
use crate::model::rename::{Renames, earlier_forms, from_files};
use crate::model::{Acknowledgement, Kind, Live, ObjectId, Slug, UnmanagedGrant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Changed on the platform since tenet last applied it.
    Drift,
    /// Changed in the files since; waiting for an apply.
    Pending,
    /// Differs, but the target keeps no record of what tenet last applied,
    /// so drift and pending cannot be told apart.
    Differs,
}

/// One out-of-band write, from the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// The object the event was on, when it is not the finding's own: the
    /// user or workspace whose deletion took this object with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<ObjectId>,
    pub actor: String,
    pub at: String,
    pub channel: String,
    pub action: String,
    /// The fields it changed, with their values before and after.
    pub changes: BTreeMap<String, FieldValues>,
}

/// One object that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Printed as `resource` in JSON output, as before ids were typed.
    #[serde(rename = "resource")]
    pub object: ObjectId,
    /// For a rename not applied yet: the object's resource under its old
    /// name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<ObjectId>,
    pub kind: Kind,
    pub class: Class,
    /// What the apply would do about it.
    pub action: Action,
    /// Field by field: `before` is live, `after` is what the files say.
    pub fields: Vec<FieldChange>,
    /// Who changed it outside tenet (drift only), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed_by: Vec<Attribution>,
    /// An acknowledgement in the files, if one covers it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
}

/// Access granted outside the files: a membership of a declared workspace
/// that tenet does not manage (its user is not declared). Apply leaves it
/// alone unless memberships are authoritative, so drift must show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessFinding {
    #[serde(flatten)]
    pub grant: UnmanagedGrant,
    /// Who made it, from the audit log, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub granted_by: Vec<Attribution>,
    /// An acknowledgement in the files, if one covers it and has not expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
}

/// Everything `tenet drift` reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub endpoint: String,
    pub drift: Vec<Finding>,
    pub pending: Vec<Finding>,
    /// Differences the target cannot classify (no last-applied record).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differs: Vec<Finding>,
    /// Drift acknowledged in the files until a date not yet passed.
    pub acknowledged: Vec<Finding>,
    /// Memberships of declared workspaces that the files do not declare.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmanaged_access: Vec<AccessFinding>,
    /// What the target cannot tell, said once (no audit log, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    /// True when the platform matches the files (acknowledged drift aside).
    pub fn clean(&self) -> bool {
        self.drift.is_empty()
            && self.pending.is_empty()
            && self.differs.is_empty()
            && self
                .unmanaged_access
                .iter()
                .all(|a| a.acknowledged.is_some())
    }
}

/// Where the changes' objects are on the platform now: new -> old names of
/// what they rename (the id to read a renamed object, or one attached to
/// it, by).
pub fn former(changes: &[Change]) -> Renames {
    let mut out = Renames::default();
    for c in changes.iter().filter(|c| c.action == Action::Rename) {
        if let Some(from) = &c.from {
            out.add(&c.object, from);
        }
    }
    out
}

/// Whether a change is drift or pending: drift when the audit log shows
/// writes by others since tenet last wrote the object (or its deletion),
/// or, failing the log, when the live object no longer matches its
/// last-applied digest (under its names now or earlier ones the files
/// give). `at` is the object's id on the platform now; the events are the
/// object's, under whatever name they were recorded.
pub fn classify(
    change: &Change,
    at: &ObjectId,
    live: &Live,
    events: &[AuditEvent],
    previously: &BTreeMap<ObjectId, Vec<Slug>>,
) -> Class {
    let own: Vec<&AuditEvent> = events
        .iter()
        .filter(|e| e.object == change.object)
        .collect();
    let Some(meta) = live.meta.get(at) else {
        let deleted = own.last().is_some_and(|e| e.action == "delete");
        return if deleted {
            Class::Drift
        } else {
            Class::Pending
        };
    };
    if let Some(i) = own.iter().rposition(|e| writes_label(e, None))
        && own[i + 1..].iter().any(|e| !writes_label(e, None))
    {
        return Class::Drift;
    }
    let Some(applied) = meta.last_applied_text() else {
        return Class::Pending;
    };
    match Object::live(live, at) {
        Some(now) if diff::digest(&now) == *applied => Class::Pending,
        Some(now) => {
            let before_rename = earlier_forms(&now, previously)
                .iter()
                .any(|o| o.digest() == *applied);
            if before_rename {
                Class::Pending
            } else {
                Class::Drift
            }
        }
        None => Class::Pending,
    }
}

/// Whether an event is tenet writing a last-applied label (a given one, or
/// any with `None`).
fn writes_label(e: &AuditEvent, value: Option<&str>) -> bool {
    let written = e
        .changes
        .get("labels")
        .and_then(|c| c.after.get(LAST_APPLIED_LABEL))
        .and_then(|v| v.as_str());
    match value {
        Some(v) => written == Some(v),
        None => written.is_some() && e.action != "delete",
    }
}

/// The audit events after tenet last wrote `last_applied` on the resource:
/// the out-of-band changes.
pub fn attribution(
    events: &[AuditEvent],
    object: &ObjectId,
    last_applied: Option<&str>,
) -> Vec<Attribution> {
    let own: Vec<&AuditEvent> = events.iter().filter(|e| e.object == *object).collect();
    // After tenet's last write of the label (whatever the label now says:
    // a PUT by someone else may have dropped it).
    let last_write = own
        .iter()
        .rposition(|e| last_applied.is_some_and(|l| writes_label(e, Some(l))))
        .or_else(|| own.iter().rposition(|e| writes_label(e, None)));
    let start = last_write.map_or(0, |i| i + 1);
    let after: Vec<&AuditEvent> = if last_write.is_none() {
        // Tenet's write is not in the log (trimmed): show the latest event.
        own.last().into_iter().copied().collect()
    } else {
        own[start..].to_vec()
    };
    after.into_iter().map(Attribution::from).collect()
}

impl From<&AuditEvent> for Attribution {
    fn from(e: &AuditEvent) -> Self {
        Attribution {
            through: None,
            actor: e.actor.clone(),
            at: e.at.clone(),
            channel: e.channel.clone(),
            action: e.action.clone(),
            changes: e.changes.clone(),
        }
    }
}

/// The objects an object cannot exist without: a membership's workspace
/// and user, an assignment's workspace and provider, a quota's workspace.
pub fn parents(id: &ObjectId) -> Vec<ObjectId> {
    match id {
        ObjectId::Membership(w, u) => {
            vec![ObjectId::Workspace(w.clone()), ObjectId::User(u.clone())]
        }
        ObjectId::Assignment(w, p) => {
            vec![
                ObjectId::Workspace(w.clone()),
                ObjectId::Provider(p.clone()),
            ]
        }
        ObjectId::Quotas(w) => vec![ObjectId::Workspace(w.clone())],
        _ => Vec::new(),
    }
}

/// A missing object that went with its parent: the parent's deletion (by
/// someone else, after the object's own last event) is the drift, and its
/// actor the one to name.
pub fn cascaded(
    object: &ObjectId,
    live: &Live,
    own: &[AuditEvent],
    audit: &BTreeMap<ObjectId, Vec<AuditEvent>>,
) -> Option<Attribution> {
    if live.meta.contains_key(object) {
        return None;
    }
    let since = own
        .iter()
        .filter(|e| e.object == *object)
        .map(|e| e.at.as_str())
        .max();
    parents(object).into_iter().find_map(|p| {
        if live.meta.contains_key(&p) {
            return None;
        }
        let last = audit
            .get(&p)?
            .iter()
            .filter(|e| e.object == p)
            .max_by(|a, b| a.at.cmp(&b.at))?;
        (last.action == "delete" && since.is_none_or(|s| last.at.as_str() >= s)).then(|| {
            let mut by = Attribution::from(last);
            by.through = Some(p.clone());
            by
        })
    })
}

/// The objects whose audit events a report needs: each change's and
/// grant's own, and the parents of a change whose object is gone (it may
/// have gone with them).
pub fn wanted_events<'a>(
    changes: impl IntoIterator<Item = &'a Change>,
    grants: &'a [UnmanagedGrant],
    live: &Live,
) -> std::collections::BTreeSet<ObjectId> {
    let mut out = std::collections::BTreeSet::new();
    for c in changes {
        out.insert(c.object.clone());
        if !live.meta.contains_key(&c.object) {
            out.extend(parents(&c.object));
        }
    }
    out.extend(grants.iter().map(|g| g.object.clone()));
    out
}

/// Today as `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_owned()
}

/// Sorts findings into drift, pending and acknowledged, and reports the
/// access granted outside the files (`grants`, from the plan). `audit`
/// holds each object's events by its id; `previously` is the files'
/// earlier slugs.
#[allow(clippy::too_many_arguments)]
pub fn report(
    endpoint: &str,
    changes: &[Change],
    grants: &[UnmanagedGrant],
    live: &Live,
    acknowledged: &BTreeMap<ObjectId, Acknowledgement>,
    audit: &BTreeMap<ObjectId, Vec<AuditEvent>>,
    today: &str,
    caps: &Capabilities,
    previously: &BTreeMap<ObjectId, Vec<Slug>>,
) -> Report {
    let former = former(changes);
    let names = from_files(previously);
    let mut out = Report {
        endpoint: endpoint.to_owned(),
        ..Report::default()
    };
    let platform = caps.platform;
    if !caps.audit && !changes.is_empty() {
        out.notes.push(format!(
            "{platform} has no audit log: tenet compares state, but cannot tell who made a change or when"
        ));
    }
    let unrecorded: Vec<&str> = caps
        .kinds
        .iter()
        .filter(|k| {
            caps.ownership(**k) != Ownership::Labels && changes.iter().any(|c| c.kind == **k)
        })
        .map(|k| k.as_str())
        .collect();
    if !unrecorded.is_empty() {
        out.notes.push(format!(
            "{platform} keeps no record of what tenet last applied to {}: a change made on the platform and one made in the files look alike",
            unrecorded.join(", ")
        ));
    }
    for g in grants {
        let events = audit.get(&g.object).map(Vec::as_slice).unwrap_or_default();
        out.unmanaged_access.push(AccessFinding {
            grant: g.clone(),
            // Every write to it: none was tenet's.
            granted_by: events
                .iter()
                .filter(|e| e.object == g.object)
                .map(Attribution::from)
                .collect(),
            acknowledged: acknowledged
                .get(&g.object)
                .filter(|a| a.in_force(today))
                .cloned(),
        });
    }
    for c in changes {
        let at = former.id(&c.object);
        // Events recorded under an earlier name are the object's.
        let events: Vec<AuditEvent> = audit
            .get(&c.object)
            .into_iter()
            .flatten()
            .map(|e| AuditEvent {
                object: names.id(&e.object),
                ..e.clone()
            })
            .collect();
        let events = events.as_slice();
        let mut class = if caps.ownership(c.kind) == Ownership::Labels {
            classify(c, &at, live, events, previously)
        } else {
            Class::Differs
        };
        let last = live.meta.get(&at).and_then(|m| m.last_applied_text());
        let cascade = (class == Class::Pending)
            .then(|| cascaded(&c.object, live, events, audit))
            .flatten();
        let changed_by = match cascade {
            Some(by) => {
                class = Class::Drift;
                vec![by]
            }
            None if class == Class::Drift => attribution(events, &c.object, last.as_deref()),
            None => Vec::new(),
        };
        // An object that cannot exist without an acknowledged one (the
        // memberships of an acknowledged user) is acknowledged with it.
        let ack = acknowledged
            .get(&c.object)
            .or_else(|| {
                parents(&c.object)
                    .iter()
                    .find_map(|p| acknowledged.get(p).filter(|a| a.in_force(today)))
            })
            .cloned();
        let finding = Finding {
            object: c.object.clone(),
            from: c.from.clone(),
            kind: c.kind,
            class,
            action: c.action,
            fields: c.fields.clone(),
            changed_by,
            acknowledged: ack.clone(),
        };
        match (class, ack) {
            (Class::Drift | Class::Differs, Some(a)) if a.in_force(today) => {
                out.acknowledged.push(finding)
            }
            (Class::Drift, _) => out.drift.push(finding),
            (Class::Pending, _) => out.pending.push(finding),
            (Class::Differs, _) => out.differs.push(finding),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: u64, actor: &str, labels_after: Option<&str>) -> AuditEvent {
        let mut changes = BTreeMap::new();
        if let Some(l) = labels_after {
            changes.insert(
                "labels".to_owned(),
                FieldValues {
                    before: json!({}),
                    after: json!({ LAST_APPLIED_LABEL: l }),
                },
            );
        } else {
            changes.insert(
                "roles".to_owned(),
                FieldValues {
                    before: json!(["member"]),
                    after: json!(["administrator"]),
                },
            );
        }
        AuditEvent {
            at: format!("2026-11-25T00:00:0{id}Z"),
            actor: actor.to_owned(),
            channel: "api".to_owned(),
            action: "update".to_owned(),
            object: ObjectId::parse("workspaces/w/memberships/a@b.example").unwrap(),
            changes,
        }
    }

    #[test]
    fn attribution_starts_after_tenets_last_write() {
        let events = vec![
            event(1, "ci", Some("sha256:old")),
            event(2, "alice", None),
            event(3, "ci", Some("sha256:new")),
            event(4, "bob", None),
            event(5, "carol", None),
        ];
        let a = attribution(
            &events,
            &ObjectId::parse("workspaces/w/memberships/a@b.example").unwrap(),
            Some("sha256:new"),
        );
        let actors: Vec<&str> = a.iter().map(|a| a.actor.as_str()).collect();
        assert_eq!(actors, vec!["bob", "carol"]);
    }

    #[test]
    fn dates_compare_as_text() {
        assert!("2026-12-31" >= "2026-11-25");
        assert_eq!(today().len(), 10);
    }
}
