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
//! Removal follows the policy: a workspace is archived or deleted
//! (`workspace_removal`), a user suspended, with its memberships revoked as
//! changes of their own, or deleted (`user_removal`). What the platform
//! removes or closes with a deleted user or a removed workspace is listed on
//! that change as its `cascades`, not as writes.
//! Renames: a declared object that is not live, while one of its
//! `previously` slugs is, becomes one [`Action::Rename`] of that live
//! object (see [`rename`]); live state is compared re-keyed under the new
//! names, so what is attached to the object follows it.

pub(crate) mod compare;
pub mod rename;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::model::Object;
pub use compare::{FieldChange, KeyChange};

use crate::model::live::{LAST_APPLIED_LABEL, MANAGED_LABEL, Meta};
use crate::model::rename::Renames;
use crate::model::{
    Config, Email, Kind, Labels, Live, ObjectId, Project, Quotas, Slug, Stamp, User, UserRemoval,
    UserStatus, WorkspaceRemoval, WorkspaceStatus,
};

/// Label recording `prevent_destroy`, so a removed object stays protected.
pub use crate::model::live::PREVENT_DESTROY_LABEL;

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
    /// Live objects the platform removes or closes with this change, with
    /// no write of their own: the memberships of a deleted user; the
    /// memberships, assignments and quotas of an archived or deleted
    /// workspace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cascades: Vec<ObjectId>,
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
    /// Desired secret fingerprints per object with secrets; one missing
    /// here has secrets that could not be resolved, and they are not
    /// compared.
    pub fingerprints: BTreeMap<ObjectId, Vec<String>>,
    /// Today (`YYYY-MM-DD`, UTC), for top-ups: one past its last day is
    /// neither created nor removed. `None`: nothing has expired.
    pub today: Option<String>,
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
    /// What goes with a removal, indexed the first time one needs it (a
    /// plan that removes no user or workspace never builds it).
    cascading: std::cell::OnceCell<Cascading<'a>>,
}

/// Live memberships by user, and memberships and assignments by workspace.
#[derive(Default)]
struct Cascading<'a> {
    by_user: BTreeMap<&'a Email, Vec<ObjectId>>,
    by_workspace: BTreeMap<&'a Slug, Vec<ObjectId>>,
}

impl<'a> Cascading<'a> {
    fn of(live: &'a Live) -> Self {
        let mut c = Cascading::default();
        for (w, u) in live.state.memberships.keys() {
            let id = ObjectId::Membership(w.clone(), u.clone());
            c.by_user.entry(u).or_default().push(id.clone());
            c.by_workspace.entry(w).or_default().push(id);
        }
        for (w, p) in live.state.assignments.keys() {
            let id = ObjectId::Assignment(w.clone(), p.clone());
            c.by_workspace.entry(w).or_default().push(id);
        }
        c
    }
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
        cascading: std::cell::OnceCell::new(),
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
    d.role_holders();
    d.assignments();
    d.projects();
    d.member_quotas();
    d.top_ups();
    d.api_keys();
    d.settings();
    d.identity_providers();
    d.out
}

impl<'a> Differ<'a> {
    /// Every label the live object has: its user labels (in the live
    /// state) and tenet's own (in its meta).
    fn live_labels(&self, path: &ObjectId) -> Labels {
        let s = &self.live.state;
        let mut labels = match path {
            ObjectId::Workspace(w) => s.workspaces.get(w).map(|x| x.labels.clone()),
            ObjectId::User(u) => s.users.get(u).map(|x| x.labels.clone()),
            ObjectId::Role(r) => s.roles.get(r).map(|x| x.labels.clone()),
            ObjectId::Provider(p) => s.providers.get(p).map(|x| x.labels.clone()),
            ObjectId::IdentityProvider(i) => s.identity_providers.get(i).map(|x| x.labels.clone()),
            _ => None,
        }
        .unwrap_or_default();
        if let Some(m) = self.live.meta.get(path) {
            labels.extend(m.labels());
        }
        labels
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
    /// `object` makes the desired object only when there is a change to
    /// carry it: an object that matches costs no copy and no digest.
    #[allow(clippy::too_many_arguments)]
    fn upsert(
        &mut self,
        path: ObjectId,
        object: impl FnOnce() -> Object,
        user_labels: &Labels,
        prevent_destroy: bool,
        exists: bool,
        fields: Vec<FieldChange>,
    ) {
        let meta = self.live.meta.get(&path);
        self.upsert_with(
            path,
            meta,
            object,
            user_labels,
            prevent_destroy,
            exists,
            fields,
        );
    }

    /// [`upsert`](Self::upsert), given the live object's meta (found by
    /// a caller walking the meta in order).
    #[allow(clippy::too_many_arguments)]
    fn upsert_with(
        &mut self,
        path: ObjectId,
        meta: Option<&'a Meta>,
        object: impl FnOnce() -> Object,
        user_labels: &Labels,
        prevent_destroy: bool,
        exists: bool,
        fields: Vec<FieldChange>,
    ) {
        if !exists {
            let object = object();
            let labels = self.labels_for(&object, user_labels, prevent_destroy);
            let (kind, workspace) = (path.kind(), path.workspace().cloned());
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
                cascades: Vec::new(),
            });
            return;
        }
        let kind = path.kind();
        let unmarked = self.opts.unmarked.contains(&kind);
        let managed = meta.is_some_and(|m| m.managed) || unmarked;
        if !managed && !self.opts.adopt {
            self.out.not_adopted.push(path);
            return;
        }
        self.push_upsert(
            path,
            meta,
            object,
            user_labels,
            prevent_destroy,
            managed,
            fields,
        );
    }

    /// The change that brings an existing object in line (or takes it
    /// over, when it is not `managed` yet), if anything differs.
    #[allow(clippy::too_many_arguments)]
    fn push_upsert(
        &mut self,
        path: ObjectId,
        meta: Option<&'a Meta>,
        object: impl FnOnce() -> Object,
        user_labels: &Labels,
        prevent_destroy: bool,
        managed: bool,
        mut fields: Vec<FieldChange>,
    ) {
        let kind = path.kind();
        let unmarked = self.opts.unmarked.contains(&kind);
        // Only tenet's own labels differing (a digest after a refactor) is
        // not worth a write; user labels are compared as fields. (A target
        // with nowhere to keep them has none to compare.)
        let protected = meta.is_some_and(|m| m.prevent_destroy);
        let own_changed =
            !unmarked && (!meta.is_some_and(|m| m.managed) || protected != prevent_destroy);
        // `prevent_destroy` lives in a label: its toggle is shown as a field.
        if !unmarked && protected != prevent_destroy {
            fields.push(compare::flag("prevent_destroy", protected, prevent_destroy));
        }
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
        let object = object();
        let labels = self.labels_for(&object, user_labels, prevent_destroy);
        let unset_labels = unset(&self.live_labels(&path), &labels);
        self.out.changes.push(Change {
            object: path.clone(),
            from,
            kind,
            action,
            workspace: path.workspace().cloned(),
            fields,
            version: self.version(&path),
            desired: Some(object),
            labels,
            unset_labels,
            cascades: Vec::new(),
        });
    }

    /// Whether tenet may remove this undeclared live object.
    fn removable(&self, path: &ObjectId) -> bool {
        self.managed(path) || self.authoritative(path.kind())
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
        if self.removable(&path) {
            let cascades = self.cascades(&path);
            self.push_removal(path, action, cascades);
        } else {
            self.out.unmanaged.push(path);
        }
    }

    fn push_removal(&mut self, path: ObjectId, action: Action, cascades: Vec<ObjectId>) {
        let (kind, workspace) = (path.kind(), path.workspace().cloned());
        self.out.changes.push(Change {
            from: None,
            object: path.clone(),
            kind,
            action,
            workspace,
            fields: Vec::new(),
            version: self.version(&path),
            desired: None,
            labels: self.live_labels(&path),
            unset_labels: Vec::new(),
            cascades,
        });
    }

    /// What the platform removes or closes with a user (its memberships)
    /// or a workspace (its memberships, assignments and quotas).
    fn cascades(&self, path: &ObjectId) -> Vec<ObjectId> {
        let index = || self.cascading.get_or_init(|| Cascading::of(self.live));
        match path {
            ObjectId::User(email) => index().by_user.get(email).cloned().unwrap_or_default(),
            ObjectId::Workspace(slug) => {
                let mut out = index().by_workspace.get(slug).cloned().unwrap_or_default();
                out.push(ObjectId::Quotas(slug.clone()));
                out
            }
            _ => Vec::new(),
        }
    }

    /// Suspends a user the files no longer declare (`user_removal =
    /// "suspend"`): an update of its status only, its labels kept. One
    /// already suspended needs nothing.
    fn suspend(&mut self, path: ObjectId, live: &User) {
        if !self.removable(&path) {
            self.out.unmanaged.push(path);
            return;
        }
        if live.status == UserStatus::Suspended {
            return;
        }
        let user = User {
            status: UserStatus::Suspended,
            ..live.clone()
        };
        let object = Object::User(user);
        let protected = self.live.meta.get(&path).is_some_and(|m| m.prevent_destroy);
        let labels = self.labels_for(&object, &live.labels, protected);
        let unset_labels = unset(&self.live_labels(&path), &labels);
        self.out.changes.push(Change {
            from: None,
            object: path.clone(),
            kind: Kind::Users,
            action: Action::Update,
            workspace: None,
            fields: vec![FieldChange {
                field: "status".to_owned(),
                before: show(&live.status),
                after: show(&UserStatus::Suspended),
                sensitive: false,
                keys: None,
            }],
            version: self.version(&path),
            desired: Some(object),
            labels,
            unset_labels,
            cascades: Vec::new(),
        });
    }

    /// Undeclared live users this diff removes, and how.
    fn removed_users(&self) -> BTreeMap<&'a Email, UserRemoval> {
        let (config, live) = (self.config, self.live);
        live.state
            .users
            .keys()
            .filter(|e| !config.state.users.contains_key(*e))
            .filter(|e| self.removable(&ObjectId::User((*e).clone())))
            .map(|e| (e, config.policy.user_removal))
            .collect()
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
            self.upsert(
                path.clone(),
                || Object::Workspace(compare::workspace_spec(w, l)),
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
                    // A new workspace's quotas were not read: no version
                    // (its workspace is created in the same plan).
                    self.push_attached(
                        Object::Quotas(slug.clone(), merged_quotas(&live_q, &w.quotas)),
                        fields,
                    );
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
            // Only a new user is invited: an existing one the files call
            // invited is written active (see compare::user).
            let desired = || {
                Object::User(match (l, u.status) {
                    (Some(_), UserStatus::Invited) => User {
                        status: UserStatus::Active,
                        ..u.clone()
                    },
                    _ => u.clone(),
                })
            };
            self.upsert(
                ObjectId::User(email.clone()),
                desired,
                &u.labels,
                u.prevent_destroy,
                l.is_some(),
                fields,
            );
        }
        for (email, l) in live.iter().filter(|(e, _)| !desired.contains_key(*e)) {
            let path = ObjectId::User(email.clone());
            match self.config.policy.user_removal {
                UserRemoval::Delete => self.remove(path, Action::Delete),
                UserRemoval::Suspend => self.suspend(path, l),
            }
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
                || Object::Role(r.clone()),
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
            let site = ObjectId::Provider(id.clone());
            let want_keys = self.opts.fingerprints.get(&site);
            let live_keys = self.live.secret_fingerprints.get(&site);
            let fields = match l {
                Some(l) => compare::provider(l, p, live_keys, want_keys),
                None => Vec::new(),
            };
            self.upsert(
                ObjectId::Provider(id.clone()),
                || Object::Provider(p.clone()),
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

    fn identity_providers(&mut self) {
        let (config, live_state) = (self.config, self.live);
        let (desired, live) = (
            &config.state.identity_providers,
            &live_state.state.identity_providers,
        );
        for (id, i) in desired {
            let l = live.get(id);
            let site = ObjectId::IdentityProvider(id.clone());
            let fields = l
                .map(|l| {
                    let live_secret = self.live.secret_fingerprints.get(&site);
                    compare::identity_provider(l, i, live_secret, self.opts.fingerprints.get(&site))
                })
                .unwrap_or_default();
            self.upsert(
                site,
                || Object::IdentityProvider(i.clone()),
                &i.labels,
                i.prevent_destroy,
                l.is_some(),
                fields,
            );
        }
        for id in live.keys().filter(|id| !desired.contains_key(*id)) {
            self.remove(ObjectId::IdentityProvider(id.clone()), Action::Delete);
        }
    }

    fn memberships(&mut self) {
        let leaving = self.leaving();
        let removed = self.removed_users();
        let (config, live_state) = (self.config, self.live);
        let (desired, live) = (&config.state.memberships, &live_state.state.memberships);
        // Both maps, and the memberships' meta, are sorted by the same
        // key: walked side by side, no lookup per membership.
        // (Memberships' ids sort after those of workspaces, users, roles
        // and providers: the walk steps over those once.)
        let mut metas = InOrder::new(live_state.meta.range::<ObjectId, _>(..));
        for (key, m, l) in join(desired, live) {
            let (Some(m), (ws, user)) = (m, key) else {
                continue;
            };
            let fields = l.map(|l| compare::membership(l, m)).unwrap_or_default();
            let id = ObjectId::Membership(ws.clone(), user.clone());
            let meta = l.and_then(|_| metas.get(&id));
            self.upsert_with(
                id,
                meta,
                || Object::Membership(m.clone()),
                &Labels::new(),
                false,
                l.is_some(),
                fields,
            );
        }
        for ((ws, user), ..) in join(desired, live).filter(|(_, m, _)| m.is_none()) {
            // Archived or deleted with their workspace.
            if leaving.contains(ws) {
                continue;
            }
            let id = ObjectId::Membership(ws.clone(), user.clone());
            match removed.get(user) {
                // A suspended user keeps no access: revoked, whoever made it.
                Some(UserRemoval::Suspend) => {
                    self.push_removal(id, Action::Delete, Vec::new());
                    continue;
                }
                // Deleted with its user: listed on the user's change.
                Some(UserRemoval::Delete) => continue,
                None => {}
            }
            // Every membership of a declared workspace is accounted for, a
            // user the files do not know included: it is tenet's only when
            // both it and its user are (however the target marks them),
            // else it is listed as unmanaged, or removed when memberships
            // are authoritative.
            let foreign_user = !config.state.users.contains_key(user)
                && !self.managed(&ObjectId::User(user.clone()));
            if foreign_user && !self.authoritative(Kind::Memberships) {
                self.out.unmanaged.push(id);
                continue;
            }
            self.remove(id, Action::Delete);
        }
    }

    /// A custom role the plan deletes may still be held live, by
    /// memberships the files no longer touch (in an archived workspace, or
    /// left out of the files): those tenet owns give the role up first (an
    /// update, or a removal when it was their only role); the rest are for
    /// the plan to refuse, naming each holder.
    fn role_holders(&mut self) {
        let deleted: BTreeSet<&Slug> = self
            .out
            .changes
            .iter()
            .filter_map(|c| match (&c.object, c.action) {
                (ObjectId::Role(r), Action::Delete) => self.live.state.roles.get_key_value(r),
                _ => None,
            })
            .map(|(k, _)| k)
            .collect();
        if deleted.is_empty() {
            return;
        }
        // Memberships this plan already changes, and users it deletes
        // (their memberships go with them).
        let touched: BTreeSet<&ObjectId> = self
            .out
            .changes
            .iter()
            .filter(|c| {
                matches!(c.object, ObjectId::Membership(..))
                    || (matches!(c.object, ObjectId::User(_)) && c.action == Action::Delete)
            })
            .map(|c| &c.object)
            .collect();
        let mut revoke = Vec::new();
        for ((ws, user), m) in &self.live.state.memberships {
            if !m.roles.iter().any(|r| deleted.contains(r)) {
                continue;
            }
            let id = ObjectId::Membership(ws.clone(), user.clone());
            if touched.contains(&id)
                || touched.contains(&ObjectId::User(user.clone()))
                || !self.managed(&id)
            {
                continue;
            }
            let kept: crate::model::RoleSet = m
                .roles
                .iter()
                .filter(|r| !deleted.contains(r))
                .cloned()
                .collect();
            revoke.push((id, m, kept));
        }
        for (id, m, kept) in revoke {
            let ObjectId::Membership(ws, user) = &id else {
                continue;
            };
            if kept.is_empty() {
                self.remove(id, Action::Delete);
                continue;
            }
            let desired = crate::model::Membership {
                workspace: ws.clone(),
                user: user.clone(),
                roles: kept,
            };
            let fields = compare::membership(m, &desired);
            let object = Object::Membership(desired);
            let labels = self.labels_for(&object, &Labels::new(), false);
            let unset_labels = unset(&self.live_labels(&id), &labels);
            self.out.changes.push(Change {
                from: None,
                object: id.clone(),
                kind: Kind::Memberships,
                action: Action::Update,
                workspace: Some(ws.clone()),
                fields,
                version: self.version(&id),
                desired: Some(object),
                labels,
                unset_labels,
                cascades: Vec::new(),
            });
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
                || Object::Assignment(a.clone()),
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

    /// Projects. The default project comes with its workspace, like its
    /// quotas: the platform makes it, so it is never created or removed
    /// here, and it is tenet's once declared in a workspace tenet manages
    /// (no adoption needed). Its members are overrides of the roles mapped
    /// from the workspace roles. Another project removed from the files is
    /// archived or deleted (`project_removal`); those of a workspace that
    /// goes, go with it.
    fn projects(&mut self) {
        let leaving = self.leaving();
        let (config, live_state) = (self.config, self.live);
        let rules = crate::model::Catalog::builtin(config.platform.profile)
            .projects
            .as_ref();
        let default = rules.map(|r| r.default_project.as_str());
        let (desired, live) = (&config.state.projects, &live_state.state.projects);
        for (key, p, l) in join(desired, live) {
            let (ws, slug) = key;
            let id = ObjectId::Project(ws.clone(), slug.clone());
            let is_default = default == Some(slug.as_str());
            let Some(p) = p else {
                if leaving.contains(ws) || is_default {
                    continue;
                }
                let action = match (config.policy.project_removal, l) {
                    (WorkspaceRemoval::Delete, _) => Action::Delete,
                    (WorkspaceRemoval::Archive, Some(l))
                        if l.status == WorkspaceStatus::Archived =>
                    {
                        continue;
                    }
                    (WorkspaceRemoval::Archive, _) => Action::Archive,
                };
                self.remove(id, action);
                continue;
            };
            // A limit the files leave out keeps its live value.
            let write = || {
                Object::Project(Project {
                    quotas: p.quotas.or(l.map(|l| l.quotas).unwrap_or_default()),
                    ..p.clone()
                })
            };
            if !is_default {
                let fields = l.map(|l| compare::project(l, p)).unwrap_or_default();
                self.upsert(id, write, &p.labels, p.prevent_destroy, l.is_some(), fields);
                continue;
            }
            let workspace = ObjectId::Workspace(ws.clone());
            let live_ws = live_state.state.workspaces.contains_key(ws);
            if live_ws && !self.managed(&workspace) && !self.opts.adopt {
                self.out.not_adopted.push(id);
                continue;
            }
            // Not read yet when its workspace is new: it will be as the
            // platform makes it, with no members of its own.
            let made = Project {
                members: BTreeMap::new(),
                labels: Labels::new(),
                prevent_destroy: false,
                ..p.clone()
            };
            let before = l.cloned().unwrap_or(Project {
                name: rules.map(|r| r.default_project_name.clone()),
                description: None,
                status: WorkspaceStatus::Active,
                ..made
            });
            let fields = compare::project(&before, p);
            let meta = self.live.meta.get(&id);
            let managed =
                meta.is_some_and(|m| m.managed) || self.opts.unmarked.contains(&Kind::Projects);
            self.push_upsert(
                id,
                meta,
                write,
                &p.labels,
                p.prevent_destroy,
                managed || l.is_none(),
                fields,
            );
        }
    }

    /// Members' token budgets: like a workspace's quotas, they travel with
    /// what they belong to (the membership) and need no adoption; only the
    /// limits the files set are compared, and the write keeps the live
    /// value of the others.
    fn member_quotas(&mut self) {
        let (config, live_state) = (self.config, self.live);
        for ((ws, user), q) in &config.state.member_quotas {
            let membership = ObjectId::Membership(ws.clone(), user.clone());
            let live_member = live_state
                .state
                .memberships
                .contains_key(&(ws.clone(), user.clone()));
            if live_member && !self.managed(&membership) && !self.opts.adopt {
                continue;
            }
            let l = live_state
                .state
                .member_quotas
                .get(&(ws.clone(), user.clone()))
                .copied()
                .unwrap_or_default();
            let fields = compare::token_quotas("", &l, q);
            if fields.is_empty() {
                continue;
            }
            self.push_attached(
                Object::MemberQuotas(ws.clone(), user.clone(), q.or(l)),
                fields,
            );
        }
    }

    /// Top-ups. One past its last day counts no more: it is not created,
    /// and one live is left alone (it is history), so a top-up falls out of
    /// the files with nothing to undo. An active one removed from the files
    /// is revoked.
    fn top_ups(&mut self) {
        let leaving = self.leaving();
        let (config, live_state) = (self.config, self.live);
        let today = self.opts.today.as_deref();
        let expired = |t: &crate::model::TopUp| today.is_some_and(|d| t.expired(d));
        let (desired, live) = (&config.state.top_ups, &live_state.state.top_ups);
        for (key, t, l) in join(desired, live) {
            let (ws, name) = key;
            let id = ObjectId::TopUp(ws.clone(), name.clone());
            match (t, l) {
                (Some(t), _) if expired(t) => {}
                (Some(t), l) => {
                    let fields = l.map(|l| compare::top_up(l, t)).unwrap_or_default();
                    self.upsert(
                        id,
                        || Object::TopUp(t.clone()),
                        &t.labels,
                        false,
                        l.is_some(),
                        fields,
                    );
                }
                (None, Some(l)) if !expired(l) && !leaving.contains(ws) => {
                    self.remove(id, Action::Delete);
                }
                (None, _) => {}
            }
        }
    }

    fn api_keys(&mut self) {
        let leaving = self.leaving();
        let (config, live_state) = (self.config, self.live);
        let today = self.opts.today.as_deref();
        let (desired, live) = (&config.state.api_keys, &live_state.state.api_keys);
        for (key, k, l) in join(desired, live) {
            let (ws, name) = key;
            let id = ObjectId::ApiKey(ws.clone(), name.clone());
            match (k, l) {
                (Some(k), l) => {
                    let fields = l.map(|l| compare::api_key(l, k, today)).unwrap_or_default();
                    self.upsert(
                        id,
                        || Object::ApiKey(k.clone()),
                        &k.labels,
                        false,
                        l.is_some(),
                        fields,
                    );
                }
                // Revoked, unless it goes with its workspace.
                (None, Some(_)) if !leaving.contains(ws) => self.remove(id, Action::Delete),
                (None, _) => {}
            }
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
        self.push_attached(
            Object::Settings(compare::merged_settings(&live, want)),
            fields,
        );
    }

    /// The update of an object that belongs to another or to the platform
    /// (quotas, a member's budget, the settings): always written, never
    /// adopted, with only tenet's own labels.
    fn push_attached(&mut self, object: Object, fields: Vec<FieldChange>) {
        let id = object.id();
        let labels = self.labels_for(&object, &Labels::new(), false);
        self.out.changes.push(Change {
            kind: id.kind(),
            workspace: id.workspace().cloned(),
            version: self.version(&id),
            object: id,
            from: None,
            action: Action::Update,
            fields,
            desired: Some(object),
            labels,
            unset_labels: Vec::new(),
            cascades: Vec::new(),
        });
    }
}

/// Looks up keys asked for in ascending order by walking a sorted range
/// once, instead of searching the map for each.
struct InOrder<'m, K, V> {
    rest: std::iter::Peekable<std::collections::btree_map::Range<'m, K, V>>,
}

impl<'m, K: Ord, V> InOrder<'m, K, V> {
    fn new(range: std::collections::btree_map::Range<'m, K, V>) -> Self {
        InOrder {
            rest: range.peekable(),
        }
    }

    /// The value at `key`; keys asked for must not decrease.
    fn get(&mut self, key: &K) -> Option<&'m V> {
        while let Some((k, _)) = self.rest.peek() {
            match (*k).cmp(key) {
                std::cmp::Ordering::Less => {
                    self.rest.next();
                }
                std::cmp::Ordering::Equal => return self.rest.next().map(|(_, v)| v),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }
}

/// Two maps sorted by the same key, walked side by side: every key of
/// either, with its value in each (O(n + m), no lookups).
fn join<'a, K: Ord, A, B>(
    a: &'a BTreeMap<K, A>,
    b: &'a BTreeMap<K, B>,
) -> impl Iterator<Item = (&'a K, Option<&'a A>, Option<&'a B>)> {
    use itertools::{EitherOrBoth, Itertools};
    a.iter()
        .merge_join_by(b.iter(), |(x, _), (y, _)| x.cmp(y))
        .map(|pair| match pair {
            EitherOrBoth::Both((k, x), (_, y)) => (k, Some(x), Some(y)),
            EitherOrBoth::Left((k, x)) => (k, Some(x), None),
            EitherOrBoth::Right((k, y)) => (k, None, Some(y)),
        })
}

/// Live label keys a write of `labels` removes.
fn unset(live: &Labels, labels: &Labels) -> Vec<String> {
    live.keys()
        .filter(|k| !labels.contains_key(*k))
        .cloned()
        .collect()
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

#[cfg(test)]
mod join_tests {
    use super::*;

    #[test]
    fn in_order_finds_what_a_map_lookup_finds_for_ascending_keys() {
        let m: BTreeMap<u8, char> = [(2, 'b'), (4, 'd'), (5, 'e'), (9, 'i')].into();
        let mut walk = InOrder::new(m.range(3..));
        let got: Vec<_> = [3, 4, 6, 9, 10].iter().map(|k| walk.get(k)).collect();
        assert_eq!(got, vec![None, Some(&'d'), None, Some(&'i'), None]);
    }

    #[test]
    fn join_gives_every_key_of_either_map_once_in_order() {
        let a: BTreeMap<u8, &str> = [(1, "a1"), (3, "a3"), (4, "a4")].into();
        let b: BTreeMap<u8, &str> = [(2, "b2"), (3, "b3"), (5, "b5")].into();
        let got: Vec<_> = join(&a, &b)
            .map(|(k, x, y)| (*k, x.copied(), y.copied()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Some("a1"), None),
                (2, None, Some("b2")),
                (3, Some("a3"), Some("b3")),
                (4, Some("a4"), None),
                (5, None, Some("b5")),
            ]
        );
    }
}
