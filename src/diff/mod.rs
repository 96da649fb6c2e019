//! Desired x live -> changes. Pure and deterministic: the same inputs give
//! the same changes in the same order, byte for byte. Depends on `model`
//! only; ordering and safety are `plan`'s business.
//!
//! Ownership: a live object carrying `tenet.dev/managed` is tenet's; one
//! without it is left alone unless the files declare it and adoption is on
//! (then it is adopted), or its kind is authoritative (then it is deleted
//! when the files do not declare it). Quotas and settings belong to their
//! workspace and the platform, so they need no adoption.
//!
//! Renames: a declared object that is not live, while one of its
//! `previously` slugs is, becomes one [`Action::Rename`] of that live
//! object (see [`rename`]); live state is compared re-keyed under the new
//! names, so what is attached to the object follows it.

mod compare;
pub mod rename;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::model::Object;
pub use compare::FieldChange;

use crate::model::live::{LAST_APPLIED_LABEL, MANAGED_LABEL, split_labels};
use crate::model::rename::Renames;
use crate::model::{
    Config, Email, Kind, Labels, Live, ObjectId, Quotas, Slug, Stamp, UserStatus, WorkspaceRemoval,
    WorkspaceStatus,
};

/// Label recording `prevent_destroy`, so a removed object stays protected.
pub const PREVENT_DESTROY_LABEL: &str = "tenet.dev/prevent-destroy";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    /// Take over an existing object: label it managed (and align fields).
    Adopt,
    /// Give an existing object its new slug in place (and align fields);
    /// what is attached to it stays attached.
    Rename,
    Archive,
    Delete,
}

impl Action {
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update | Action::Adopt => '~',
            Action::Rename => '>',
            Action::Archive => '!',
            Action::Delete => '-',
        }
    }

    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Archive | Action::Delete)
    }
}

/// One change to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The object changed (for a rename, its id under the new name).
    pub object: ObjectId,
    /// For a rename: the object's id on the platform now, under its old
    /// name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ObjectId>,
    pub kind: Kind,
    pub action: Action,
    /// The workspace the object belongs to, for grouping.
    pub workspace: Option<Slug>,
    /// What changes, field by field (sensitive values masked).
    pub fields: Vec<FieldChange>,
    /// The live stamp the change was planned against: the version sent as
    /// `If-Match`, or the content digest compared before writing.
    pub version: Option<Stamp>,
    /// The desired object (absent for deletions).
    pub desired: Option<Object>,
    /// The labels to write: the files' plus tenet's.
    pub labels: Labels,
    /// Live label keys to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset_labels: Vec<String>,
}

/// Everything that differs, plus what was left alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    pub changes: Vec<Change>,
    /// Live objects not managed by tenet and not declared: left alone.
    pub unmanaged: Vec<ObjectId>,
    /// Declared objects that exist unmanaged: adopt them with `--adopt`.
    pub not_adopted: Vec<ObjectId>,
    /// The renames the changes make (old -> new), to read live state as it
    /// will be once they are made.
    #[serde(skip)]
    pub renames: Renames,
}

/// Inputs besides the two states.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Adopt existing unmanaged objects the files declare.
    pub adopt: bool,
    /// Desired key fingerprints per provider; a provider missing here has
    /// keys that could not be resolved, and its keys are not compared.
    pub fingerprints: BTreeMap<Slug, Vec<String>>,
    /// Kinds the target has nowhere to mark as tenet's: a declared object
    /// that exists is matched by its natural key (no adoption), and an
    /// undeclared one is left alone unless the kind is authoritative.
    pub unmarked: Vec<Kind>,
}

/// The digest of an object's [projection](Object::projection), recorded as
/// its last-applied label (see [`Object::digest`]).
pub fn digest(object: &Object) -> String {
    object.digest()
}

struct Differ<'a> {
    config: &'a Config,
    /// Live state re-keyed under the new names of what is renamed.
    live: &'a Live,
    opts: &'a Options,
    /// New -> old names.
    former: Renames,
    out: Diff,
}

/// Computes the changes that make `live` match `config`.
pub fn diff(config: &Config, live: &Live, opts: &Options) -> Diff {
    let renames = rename::detect(config, live, opts);
    let view = renames.live(live);
    let mut d = Differ {
        config,
        live: &view,
        opts,
        former: renames.inverse(),
        out: Diff {
            renames: renames.clone(),
            ..Diff::default()
        },
    };
    d.workspaces();
    d.users();
    d.roles();
    d.providers();
    d.memberships();
    d.assignments();
    d.settings();
    d.out
}

impl<'a> Differ<'a> {
    fn meta_labels(&self, path: &ObjectId) -> Labels {
        self.live
            .meta
            .get(path)
            .map(|m| m.labels.clone())
            .unwrap_or_default()
    }

    fn managed(&self, path: &ObjectId) -> bool {
        self.live.meta.get(path).is_some_and(|m| m.managed())
    }

    fn version(&self, path: &ObjectId) -> Option<Stamp> {
        self.live.meta.get(path).map(|m| m.stamp.clone())
    }

    fn authoritative(&self, kind: Kind) -> bool {
        self.config.policy.authoritative.contains(&kind)
    }

    /// Labels to write on a desired object: the files' labels, tenet's
    /// ownership and digest, and the prevent-destroy marker.
    fn labels_for(&self, object: &Object, user: &Labels, prevent_destroy: bool) -> Labels {
        let mut labels = user.clone();
        labels.insert(MANAGED_LABEL.to_owned(), "true".to_owned());
        labels.insert(LAST_APPLIED_LABEL.to_owned(), digest(object));
        if prevent_destroy {
            labels.insert(PREVENT_DESTROY_LABEL.to_owned(), "true".to_owned());
        }
        labels
    }

    /// Decides create / update / adopt / nothing for a declared object.
    #[allow(clippy::too_many_arguments)]
    fn upsert(
        &mut self,
        path: ObjectId,
        object: Object,
        user_labels: &Labels,
        prevent_destroy: bool,
        exists: bool,
        fields: Vec<FieldChange>,
    ) {
        let labels = self.labels_for(&object, user_labels, prevent_destroy);
        let (kind, workspace) = (path.kind(), path.workspace().cloned());
        if !exists {
            self.out.changes.push(Change {
                object: path,
                from: None,
                kind,
                action: Action::Create,
                workspace,
                fields,
                version: None,
                desired: Some(object),
                labels,
                unset_labels: Vec::new(),
            });
            return;
        }
        let live_labels = self.meta_labels(&path);
        let unmarked = self.opts.unmarked.contains(&kind);
        let managed = self.managed(&path) || unmarked;
        if !managed && !self.opts.adopt {
            self.out.not_adopted.push(path);
            return;
        }
        // Only tenet's own labels differing (a digest after a refactor) is
        // not worth a write; user labels are compared as fields.
        let (_, live_own) = split_labels(&live_labels);
        let (_, want_own) = split_labels(&labels);
        // (A target with nowhere to keep them has none to compare.)
        let own_changed = !unmarked
            && (live_own.get(MANAGED_LABEL) != want_own.get(MANAGED_LABEL)
                || live_own.get(PREVENT_DESTROY_LABEL) != want_own.get(PREVENT_DESTROY_LABEL));
        let from = self.renamed_from(&path);
        if fields.is_empty() && !own_changed && managed && from.is_none() {
            return;
        }
        let action = if from.is_some() {
            Action::Rename
        } else if managed {
            Action::Update
        } else {
            Action::Adopt
        };
        let unset_labels = live_labels
            .keys()
            .filter(|k| !labels.contains_key(*k))
            .cloned()
            .collect();
        self.out.changes.push(Change {
            object: path.clone(),
            from,
            kind,
            action,
            workspace,
            fields,
            version: self.version(&path),
            desired: Some(object),
            labels,
            unset_labels,
        });
    }

    /// The live id of a renamed workspace, role or provider, under its old
    /// name; `None` for anything not renamed.
    fn renamed_from(&self, id: &ObjectId) -> Option<ObjectId> {
        let old = match id {
            ObjectId::Workspace(_) | ObjectId::Role(_) | ObjectId::Provider(_) => {
                self.former.id(id)
            }
            _ => return None,
        };
        (old != *id).then_some(old)
    }

    /// Plans removal of a live object the files do not declare.
    fn remove(&mut self, path: ObjectId, action: Action) {
        let (kind, workspace) = (path.kind(), path.workspace().cloned());
        if self.managed(&path) || self.authoritative(kind) {
            self.out.changes.push(Change {
                object: path.clone(),
                from: None,
                kind,
                action,
                workspace,
                fields: Vec::new(),
                version: self.version(&path),
                desired: None,
                labels: self.meta_labels(&path),
                unset_labels: Vec::new(),
            });
        } else {
            self.out.unmanaged.push(path);
        }
    }

    /// Workspaces being archived or deleted: their contents are left alone.
    fn leaving(&self) -> BTreeSet<&'a Slug> {
        let (live, config) = (self.live, self.config);
        live.state
            .workspaces
            .keys()
            .filter(|w| !config.state.workspaces.contains_key(*w))
            .collect()
    }

    fn workspaces(&mut self) {
        let (config, live_state) = (self.config, self.live);
        let (desired, live) = (&config.state.workspaces, &live_state.state.workspaces);
        for (slug, w) in desired {
            let path = ObjectId::Workspace(slug.clone());
            let l = live.get(slug);
            let fields = l.map(|l| compare::workspace(l, w)).unwrap_or_default();
            let object = Object::Workspace(compare::workspace_spec(w));
            self.upsert(
                path.clone(),
                object,
                &w.labels,
                w.prevent_destroy,
                l.is_some(),
                fields,
            );
            // Quotas follow their workspace: managed when it is (or will be).
            let will_manage = l.is_none() || self.managed(&path) || self.opts.adopt;
            if will_manage {
                let live_q = l.map(|l| l.quotas).unwrap_or_default();
                let fields = compare::quotas(&live_q, &w.quotas, l.is_none());
                if !fields.is_empty() {
                    let qpath = ObjectId::Quotas(slug.clone());
                    let object = Object::Quotas(slug.clone(), merged_quotas(&live_q, &w.quotas));
                    let labels = self.labels_for(&object, &Labels::new(), false);
                    self.out.changes.push(Change {
                        object: qpath.clone(),
                        from: None,
                        kind: Kind::Workspaces,
                        action: Action::Update,
                        workspace: Some(slug.clone()),
                        fields,
                        // A new workspace's quotas start at version 1.
                        version: self.version(&qpath).or(Some(Stamp::Version(1))),
                        desired: Some(object),
                        labels,
                        unset_labels: Vec::new(),
                    });
                }
            }
        }
        for (slug, l) in live {
            if desired.contains_key(slug) {
                continue;
            }
            let action = match self.config.policy.workspace_removal {
                WorkspaceRemoval::Delete => Action::Delete,
                WorkspaceRemoval::Archive if l.status == WorkspaceStatus::Archived => continue,
                WorkspaceRemoval::Archive => Action::Archive,
            };
            self.remove(ObjectId::Workspace(slug.clone()), action);
        }
    }

    fn users(&mut self) {
        let (config, live_state) = (self.config, self.live);
        let (desired, live) = (&config.state.users, &live_state.state.users);
        for (email, u) in desired {
            let l = live.get(email);
            let fields = l.map(|l| compare::user(l, u)).unwrap_or_default();
            self.upsert(
                ObjectId::User(email.clone()),
                Object::User(u.clone()),
                &u.labels,
                u.prevent_destroy,
                l.is_some(),
                fields,
            );
        }
        for email in live.keys().filter(|e| !desired.contains_key(*e)) {
            self.remove(ObjectId::User(email.clone()), Action::Delete);
        }
    }

    fn roles(&mut self) {
        let (config, live_state) = (self.config, self.live);
        let (desired, live) = (&config.state.roles, &live_state.state.roles);
        for (id, r) in desired {
            let l = live.get(id);
            let fields = l.map(|l| compare::role(l, r)).unwrap_or_default();
            self.upsert(
                ObjectId::Role(id.clone()),
                Object::Role(r.clone()),
                &r.labels,
                r.prevent_destroy,
                l.is_some(),
                fields,
            );
        }
        for id in live.keys().filter(|id| !desired.contains_key(*id)) {
            self.remove(ObjectId::Role(id.clone()), Action::Delete);
        }
    }

    fn providers(&mut self) {
        let (config, live_state) = (self.config, self.live);
        let (desired, live) = (&config.state.providers, &live_state.state.providers);
        for (id, p) in desired {
            let l = live.get(id);
            let want_keys = self.opts.fingerprints.get(id);
            let live_keys = self.live.key_fingerprints.get(id);
            let fields = match l {
                Some(l) => compare::provider(l, p, live_keys, want_keys),
                None => Vec::new(),
            };
            self.upsert(
                ObjectId::Provider(id.clone()),
                Object::Provider(p.clone()),
                &p.labels,
                p.prevent_destroy,
                l.is_some(),
                fields,
            );
        }
        for id in live.keys().filter(|id| !desired.contains_key(*id)) {
            self.remove(ObjectId::Provider(id.clone()), Action::Delete);
        }
    }

    fn memberships(&mut self) {
        let leaving = self.leaving();
        let (config, live_all) = (self.config, self.live);
        let gone_users: BTreeSet<&Email> = live_all
            .state
            .users
            .keys()
            .filter(|u| !config.state.users.contains_key(*u))
            .collect();
        let (config, live_state) = (self.config, self.live);
        let (desired, live) = (&config.state.memberships, &live_state.state.memberships);
        for ((ws, user), m) in desired {
            let l = live.get(&(ws.clone(), user.clone()));
            let fields = l.map(|l| compare::membership(l, m)).unwrap_or_default();
            self.upsert(
                ObjectId::Membership(ws.clone(), user.clone()),
                Object::Membership(m.clone()),
                &Labels::new(),
                false,
                l.is_some(),
                fields,
            );
        }
        for (ws, user) in live.keys().filter(|k| !desired.contains_key(*k)) {
            // Archived or deleted with their workspace or user.
            if leaving.contains(ws) || gone_users.contains(user) {
                continue;
            }
            self.remove(
                ObjectId::Membership(ws.clone(), user.clone()),
                Action::Delete,
            );
        }
    }

    fn assignments(&mut self) {
        let leaving = self.leaving();
        let (config, live_state) = (self.config, self.live);
        let (desired, live) = (&config.state.assignments, &live_state.state.assignments);
        for ((ws, p), a) in desired {
            let l = live.get(&(ws.clone(), p.clone()));
            let fields = l.map(|l| compare::assignment(l, a)).unwrap_or_default();
            self.upsert(
                ObjectId::Assignment(ws.clone(), p.clone()),
                Object::Assignment(a.clone()),
                &Labels::new(),
                false,
                l.is_some(),
                fields,
            );
        }
        for (ws, p) in live.keys().filter(|k| !desired.contains_key(*k)) {
            if leaving.contains(ws) {
                continue;
            }
            self.remove(ObjectId::Assignment(ws.clone(), p.clone()), Action::Delete);
        }
    }

    fn settings(&mut self) {
        let config = self.config;
        let Some(want) = &config.state.settings else {
            return;
        };
        let live = self.live.state.settings.clone().unwrap_or_default();
        let fields = compare::settings(&live, want);
        if fields.is_empty() {
            return;
        }
        let object = Object::Settings(compare::merged_settings(&live, want));
        let labels = self.labels_for(&object, &Labels::new(), false);
        self.out.changes.push(Change {
            object: ObjectId::Settings,
            from: None,
            kind: Kind::Settings,
            action: Action::Update,
            workspace: None,
            fields,
            version: self.version(&ObjectId::Settings),
            desired: Some(object),
            labels,
            unset_labels: Vec::new(),
        });
    }
}

/// The quotas to write: the desired limits, and the live value for every
/// limit the files leave unmanaged.
fn merged_quotas(live: &Quotas, want: &Quotas) -> Quotas {
    want.or(*live)
}

/// Users whose live status the files cannot change (an invitation pending).
pub fn status_matches(live: UserStatus, want: UserStatus) -> bool {
    live == want || (live == UserStatus::Invited && want == UserStatus::Active)
}

/// A JSON value for display.
pub(crate) fn show<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
