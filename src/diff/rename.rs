//! Which renames a diff makes: a declared workspace, role or provider that
//! does not exist live, while one of its `previously` slugs does, is that
//! live object renamed, provided the live one is tenet's (managed, or of a
//! kind the target cannot mark), or adoption is on. The first earlier slug
//! in the list that exists wins; one that is declared itself, or already
//! taken by another rename, is never used. Once renamed, the declared slug
//! exists live and `previously` has nothing left to do.

use std::collections::BTreeSet;

use super::Options;
use crate::model::rename::{Renames, same_kind};
use crate::model::{Config, Live, ObjectId, Slug};

/// Whether an object of this id's kind is live (or declared) under `slug`.
fn has(state: &crate::model::State, id: &ObjectId, slug: &Slug) -> bool {
    match id {
        ObjectId::Workspace(_) => state.workspaces.contains_key(slug),
        ObjectId::Role(_) => state.roles.contains_key(slug),
        ObjectId::Provider(_) => state.providers.contains_key(slug),
        _ => false,
    }
}

/// The renames that make `live` match `config`.
pub fn detect(config: &Config, live: &Live, opts: &Options) -> Renames {
    let mut out = Renames::default();
    let mut taken: BTreeSet<ObjectId> = BTreeSet::new();
    for (id, olds) in &config.previously {
        let Some(slug) = key(id) else { continue };
        if has(&live.state, id, slug) {
            continue;
        }
        let found = olds.iter().find_map(|old| {
            let from = same_kind(id, old)?;
            let usable =
                has(&live.state, id, old) && !has(&config.state, id, old) && !taken.contains(&from);
            usable.then_some(from)
        });
        let Some(from) = found else { continue };
        let managed = live.meta.get(&from).is_some_and(|m| m.managed())
            || opts.unmarked.contains(&from.kind());
        if managed || opts.adopt {
            out.add(&from, id);
            taken.insert(from);
        }
    }
    out
}

fn key(id: &ObjectId) -> Option<&Slug> {
    match id {
        ObjectId::Workspace(s) | ObjectId::Role(s) | ObjectId::Provider(s) => Some(s),
        _ => None,
    }
}
