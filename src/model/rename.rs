//! Renames in place: which workspaces, custom roles and providers change
//! their slug (from `previously = ["old-slug"]` in the files), and the same
//! objects, ids and live state re-keyed under the new names. Everything
//! attached to a renamed object (a workspace's quotas, memberships and
//! assignments, the memberships holding a renamed role, the assignments of a
//! renamed provider) follows it: re-keyed, it compares against the files
//! under the new name, so a rename is one write and nothing is recreated.
//!
//! Pure data and functions, no IO: `diff` decides which renames apply,
//! `plan` and `drift` read live state through them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::id::{ObjectId, Stamp};
use super::live::{Live, Meta};
use super::object::Object;
use super::{Kind, Slug};

/// Renames by kind, old slug -> new slug.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renames {
    pub workspaces: BTreeMap<Slug, Slug>,
    pub roles: BTreeMap<Slug, Slug>,
    pub providers: BTreeMap<Slug, Slug>,
}

/// The kinds whose objects can be renamed in place.
pub const RENAMABLE: [Kind; 3] = [Kind::Workspaces, Kind::Roles, Kind::Providers];

impl Renames {
    pub fn is_empty(&self) -> bool {
        self.workspaces.is_empty() && self.roles.is_empty() && self.providers.is_empty()
    }

    /// Records that the object `from` is now called like `to` (both a
    /// workspace, a role or a provider, of one kind); anything else is
    /// ignored.
    pub fn add(&mut self, from: &ObjectId, to: &ObjectId) {
        match (from, to) {
            (ObjectId::Workspace(a), ObjectId::Workspace(b)) => {
                self.workspaces.insert(a.clone(), b.clone());
            }
            (ObjectId::Role(a), ObjectId::Role(b)) => {
                self.roles.insert(a.clone(), b.clone());
            }
            (ObjectId::Provider(a), ObjectId::Provider(b)) => {
                self.providers.insert(a.clone(), b.clone());
            }
            _ => {}
        }
    }

    /// The same renames the other way round, new -> old.
    pub fn inverse(&self) -> Renames {
        let flip =
            |m: &BTreeMap<Slug, Slug>| m.iter().map(|(a, b)| (b.clone(), a.clone())).collect();
        Renames {
            workspaces: flip(&self.workspaces),
            roles: flip(&self.roles),
            providers: flip(&self.providers),
        }
    }

    /// Every rename as (old id, new id), workspaces, roles, then providers.
    pub fn pairs(&self) -> Vec<(ObjectId, ObjectId)> {
        let ws = self.workspaces.iter().map(|(a, b)| {
            (
                ObjectId::Workspace(a.clone()),
                ObjectId::Workspace(b.clone()),
            )
        });
        let roles = self
            .roles
            .iter()
            .map(|(a, b)| (ObjectId::Role(a.clone()), ObjectId::Role(b.clone())));
        let providers = self
            .providers
            .iter()
            .map(|(a, b)| (ObjectId::Provider(a.clone()), ObjectId::Provider(b.clone())));
        ws.chain(roles).chain(providers).collect()
    }

    fn workspace(&self, s: &Slug) -> Slug {
        self.workspaces.get(s).unwrap_or(s).clone()
    }

    fn role(&self, s: &Slug) -> Slug {
        self.roles.get(s).unwrap_or(s).clone()
    }

    fn provider(&self, s: &Slug) -> Slug {
        self.providers.get(s).unwrap_or(s).clone()
    }

    /// The id of the object under the new names.
    pub fn id(&self, id: &ObjectId) -> ObjectId {
        match id {
            ObjectId::Workspace(w) => ObjectId::Workspace(self.workspace(w)),
            ObjectId::Quotas(w) => ObjectId::Quotas(self.workspace(w)),
            ObjectId::Role(r) => ObjectId::Role(self.role(r)),
            ObjectId::Provider(p) => ObjectId::Provider(self.provider(p)),
            ObjectId::Membership(w, u) => ObjectId::Membership(self.workspace(w), u.clone()),
            ObjectId::Assignment(w, p) => ObjectId::Assignment(self.workspace(w), self.provider(p)),
            ObjectId::Project(w, p) => ObjectId::Project(self.workspace(w), p.clone()),
            ObjectId::MemberQuotas(w, u) => ObjectId::MemberQuotas(self.workspace(w), u.clone()),
            ObjectId::TopUp(w, t) => ObjectId::TopUp(self.workspace(w), t.clone()),
            ObjectId::ApiKey(w, k) => ObjectId::ApiKey(self.workspace(w), k.clone()),
            ObjectId::User(_) | ObjectId::IdentityProvider(_) | ObjectId::Settings => id.clone(),
        }
    }

    /// The object under the new names: its own key, and the keys it refers
    /// to (a membership's workspace and roles, an assignment's workspace and
    /// provider).
    pub fn object(&self, object: &Object) -> Object {
        match object {
            Object::Workspace(w) => Object::Workspace(super::Workspace {
                slug: self.workspace(&w.slug),
                ..w.clone()
            }),
            Object::Quotas(w, q) => Object::Quotas(self.workspace(w), *q),
            Object::Role(r) => Object::Role(super::Role {
                id: self.role(&r.id),
                ..r.clone()
            }),
            Object::Provider(p) => Object::Provider(super::Provider {
                id: self.provider(&p.id),
                ..p.clone()
            }),
            Object::Membership(m) => Object::Membership(super::Membership {
                workspace: self.workspace(&m.workspace),
                user: m.user.clone(),
                roles: m.roles.iter().map(|r| self.role(r)).collect(),
            }),
            Object::Assignment(a) => Object::Assignment(super::Assignment {
                workspace: self.workspace(&a.workspace),
                provider: self.provider(&a.provider),
                ..a.clone()
            }),
            Object::Project(p) => Object::Project(super::Project {
                workspace: self.workspace(&p.workspace),
                ..p.clone()
            }),
            Object::MemberQuotas(w, u, q) => Object::MemberQuotas(self.workspace(w), u.clone(), *q),
            Object::TopUp(t) => Object::TopUp(super::TopUp {
                workspace: self.workspace(&t.workspace),
                ..t.clone()
            }),
            Object::ApiKey(k) => Object::ApiKey(super::ApiKey {
                workspace: self.workspace(&k.workspace),
                ..k.clone()
            }),
            Object::IdentityProvider(i) => Object::IdentityProvider(super::IdentityProvider {
                workspace: i.workspace.as_ref().map(|w| self.workspace(w)),
                groups: i
                    .groups
                    .iter()
                    .map(|(g, grants)| {
                        let grants = grants
                            .iter()
                            .map(|(w, grant)| {
                                let grant = super::GroupGrant {
                                    roles: grant.roles.iter().map(|r| self.role(r)).collect(),
                                    projects: grant.projects.clone(),
                                };
                                (self.workspace(w), grant)
                            })
                            .collect();
                        (g.clone(), grants)
                    })
                    .collect(),
                ..i.clone()
            }),
            Object::User(_) | Object::Settings(_) => object.clone(),
        }
    }

    /// Live state as it reads once the renames are made: every object
    /// re-keyed, references renamed, stamps and labels kept. A stamp that is
    /// the content digest of an object attached to a renamed one (targets
    /// without versions) becomes the digest of the re-keyed object, which is
    /// what the target will read after the rename; a renamed object keeps
    /// its own stamp, which its rename is checked against under the old
    /// name. Borrowed, at no cost, when there is nothing to rename.
    pub fn live<'l>(&self, live: &'l Live) -> Cow<'l, Live> {
        if self.is_empty() {
            return Cow::Borrowed(live);
        }
        let s = &live.state;
        let mut out = Live::default();
        let o = &mut out.state;
        for w in s.workspaces.values() {
            if let Object::Workspace(w) = self.object(&Object::Workspace(w.clone())) {
                o.workspaces.insert(w.slug.clone(), w);
            }
        }
        o.users = s.users.clone();
        for r in s.roles.values() {
            if let Object::Role(r) = self.object(&Object::Role(r.clone())) {
                o.roles.insert(r.id.clone(), r);
            }
        }
        for p in s.providers.values() {
            if let Object::Provider(p) = self.object(&Object::Provider(p.clone())) {
                o.providers.insert(p.id.clone(), p);
            }
        }
        for m in s.memberships.values() {
            if let Object::Membership(m) = self.object(&Object::Membership(m.clone())) {
                o.memberships
                    .insert((m.workspace.clone(), m.user.clone()), m);
            }
        }
        for a in s.assignments.values() {
            if let Object::Assignment(a) = self.object(&Object::Assignment(a.clone())) {
                o.assignments
                    .insert((a.workspace.clone(), a.provider.clone()), a);
            }
        }
        for p in s.projects.values() {
            if let Object::Project(p) = self.object(&Object::Project(p.clone())) {
                o.projects.insert((p.workspace.clone(), p.slug.clone()), p);
            }
        }
        for ((w, u), q) in &s.member_quotas {
            o.member_quotas.insert((self.workspace(w), u.clone()), *q);
        }
        for t in s.top_ups.values() {
            if let Object::TopUp(t) = self.object(&Object::TopUp(t.clone())) {
                o.top_ups.insert((t.workspace.clone(), t.id.clone()), t);
            }
        }
        o.settings = s.settings.clone();
        out.signed_in_as = live.signed_in_as.clone();
        for (id, meta) in &live.meta {
            let new = self.id(id);
            let renamed_itself = matches!(
                id,
                ObjectId::Workspace(_) | ObjectId::Role(_) | ObjectId::Provider(_)
            );
            let stamp = match (&meta.stamp, Object::live(live, id)) {
                (Stamp::Digest(d), Some(before))
                    if new != *id && !renamed_itself && *d == before.digest() =>
                {
                    Stamp::Digest(self.object(&before).digest())
                }
                (stamp, _) => stamp.clone(),
            };
            out.meta.insert(
                new,
                Meta {
                    stamp,
                    ..meta.clone()
                },
            );
        }
        out.secret_fingerprints = live
            .secret_fingerprints
            .iter()
            .map(|(id, k)| (self.id(id), k.clone()))
            .collect();
        out.usage = live
            .usage
            .iter()
            .map(|(w, u)| (self.workspace(w), *u))
            .collect();
        Cow::Owned(out)
    }
}

/// The renames the files name: every `previously` slug -> the slug now.
pub fn from_files(previously: &BTreeMap<ObjectId, Vec<Slug>>) -> Renames {
    let mut out = Renames::default();
    for (id, olds) in previously {
        for old in olds {
            if let Some(from) = same_kind(id, old) {
                out.add(&from, id);
            }
        }
    }
    out
}

/// The id of the object of `id`'s kind (workspace, role, provider) named
/// `slug`.
pub fn same_kind(id: &ObjectId, slug: &Slug) -> Option<ObjectId> {
    match id {
        ObjectId::Workspace(_) => Some(ObjectId::Workspace(slug.clone())),
        ObjectId::Role(_) => Some(ObjectId::Role(slug.clone())),
        ObjectId::Provider(_) => Some(ObjectId::Provider(slug.clone())),
        _ => None,
    }
}

/// The renamable objects an object names: itself, its workspace, its
/// provider, the roles of a membership.
pub fn references(object: &Object) -> Vec<ObjectId> {
    match object {
        Object::Workspace(w) => vec![ObjectId::Workspace(w.slug.clone())],
        Object::Quotas(w, _) => vec![ObjectId::Workspace(w.clone())],
        Object::Role(r) => vec![ObjectId::Role(r.id.clone())],
        Object::Provider(p) => vec![ObjectId::Provider(p.id.clone())],
        Object::Membership(m) => std::iter::once(ObjectId::Workspace(m.workspace.clone()))
            .chain(m.roles.iter().map(|r| ObjectId::Role(r.clone())))
            .collect(),
        Object::Assignment(a) => vec![
            ObjectId::Workspace(a.workspace.clone()),
            ObjectId::Provider(a.provider.clone()),
        ],
        Object::Project(p) => vec![ObjectId::Workspace(p.workspace.clone())],
        Object::MemberQuotas(w, _, _) => vec![ObjectId::Workspace(w.clone())],
        Object::TopUp(t) => vec![ObjectId::Workspace(t.workspace.clone())],
        Object::ApiKey(k) => vec![ObjectId::Workspace(k.workspace.clone())],
        Object::IdentityProvider(i) => {
            let mut out: Vec<ObjectId> = i
                .workspace
                .iter()
                .cloned()
                .map(ObjectId::Workspace)
                .collect();
            for (w, grant) in i.groups.values().flatten() {
                out.push(ObjectId::Workspace(w.clone()));
                out.extend(grant.roles.iter().cloned().map(ObjectId::Role));
            }
            out.sort();
            out.dedup();
            out
        }
        Object::User(_) | Object::Settings(_) => Vec::new(),
    }
}

/// At most this many earlier forms of one object are tried.
const MAX_FORMS: usize = 64;

/// The object as it was under earlier names the files give
/// (`previously`): every combination of the names it refers to, its own
/// current one first excluded, at most [`MAX_FORMS`]. A last-applied
/// digest taken before a rename is the digest of one of these.
pub fn earlier_forms(object: &Object, previously: &BTreeMap<ObjectId, Vec<Slug>>) -> Vec<Object> {
    let mut maps = vec![Renames::default()];
    for id in references(object) {
        let Some(olds) = previously.get(&id) else {
            continue;
        };
        let mut next = Vec::new();
        for m in &maps {
            next.push(m.clone());
            for old in olds {
                if next.len() >= MAX_FORMS {
                    break;
                }
                if let Some(to) = same_kind(&id, old) {
                    let mut m = m.clone();
                    m.add(&id, &to);
                    next.push(m);
                }
            }
        }
        maps = next;
    }
    maps.iter()
        .filter(|m| !m.is_empty())
        .map(|m| m.object(object))
        .collect()
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::model::{Email, Membership, Quotas, Workspace, WorkspaceStatus};

    fn slug(s: &str) -> Slug {
        Slug::parse(s).unwrap()
    }

    #[test]
    fn attached_objects_follow_their_workspace_and_role() {
        let mut r = Renames::default();
        r.add(
            &ObjectId::Workspace(slug("fin")),
            &ObjectId::Workspace(slug("finance")),
        );
        r.add(
            &ObjectId::Role(slug("qa")),
            &ObjectId::Role(slug("qa-tester")),
        );
        let ada = Email::parse("ada@acme.example").unwrap();
        let mut live = Live::default();
        live.state.workspaces.insert(
            slug("fin"),
            Workspace {
                slug: slug("fin"),
                name: None,
                description: None,
                status: WorkspaceStatus::Active,
                labels: Default::default(),
                prevent_destroy: false,
                quotas: Quotas::default(),
                settings: Default::default(),
            },
        );
        let m = Membership {
            workspace: slug("fin"),
            user: ada.clone(),
            roles: crate::model::RoleSet::from([slug("qa"), slug("member")]),
        };
        live.state
            .memberships
            .insert((slug("fin"), ada.clone()), m.clone());
        let id = ObjectId::Membership(slug("fin"), ada.clone());
        let digest = Object::Membership(m).digest();
        live.meta
            .insert(id.clone(), Meta::new(Stamp::Digest(digest.clone())));
        live.meta.insert(
            ObjectId::Workspace(slug("fin")),
            Meta::new(Stamp::Version(3)),
        );
        let view = r.live(&live);
        let new_id = ObjectId::Membership(slug("finance"), ada.clone());
        let moved = &view.state.memberships[&(slug("finance"), ada.clone())];
        assert_eq!(
            moved.roles,
            crate::model::RoleSet::from([slug("qa-tester"), slug("member")])
        );
        assert!(view.state.workspaces.contains_key(&slug("finance")));
        assert!(!view.state.workspaces.contains_key(&slug("fin")));
        // Versions stay; content digests become the renamed object's.
        assert_eq!(
            view.meta[&ObjectId::Workspace(slug("finance"))].stamp,
            Stamp::Version(3)
        );
        let after = Object::live(&view, &new_id).unwrap().digest();
        assert_eq!(view.meta[&new_id].stamp, Stamp::Digest(after.clone()));
        assert_ne!(after, digest);
        assert_eq!(r.inverse().id(&new_id), id);
    }

    #[test]
    fn nothing_to_rename_borrows() {
        let live = Live::default();
        assert!(matches!(Renames::default().live(&live), Cow::Borrowed(_)));
    }
}
