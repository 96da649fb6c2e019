//! What a plan says about renames: a refusal for each rename the target
//! cannot make in place (never a silent create and archive instead), and a
//! warning where an earlier slug of a new object is live but not tenet's,
//! so the new object is created beside it rather than renamed.

use super::{PlannedChange, Refusal, Warning};
use crate::diff::Action;
use crate::model::capabilities::Capabilities;
use crate::model::{Config, Live, ObjectId};

pub fn refusals(changes: &[PlannedChange], caps: &Capabilities) -> Vec<Refusal> {
    changes
        .iter()
        .map(|c| &c.change)
        .filter(|c| c.action == Action::Rename && !caps.renames(c.kind))
        .map(|c| {
            let from = c.from.as_ref().unwrap_or(&c.object);
            Refusal {
                code: "target-cannot-rename".to_owned(),
                message: format!(
                    "{} cannot rename {} in place, so `{from}` is not renamed to `{}` (nor recreated under the new name): keep the old slug, or remove it from `previously` to create the new {} and remove the old one",
                    caps.platform,
                    c.kind.as_str(),
                    c.object,
                    singular(&c.object),
                ),
                object: Some(c.object.clone()),
                lifted_by: None,
            }
        })
        .collect()
}

fn singular(id: &ObjectId) -> &'static str {
    match id {
        ObjectId::Workspace(_) => "workspace",
        ObjectId::Role(_) => "role",
        ObjectId::Provider(_) => "provider",
        _ => "object",
    }
}

/// Whether the object of `id`'s kind named like `old` is live.
fn live_named(live: &Live, id: &ObjectId, old: &crate::model::Slug) -> Option<ObjectId> {
    let s = &live.state;
    match id {
        ObjectId::Workspace(_) if s.workspaces.contains_key(old) => {
            Some(ObjectId::Workspace(old.clone()))
        }
        ObjectId::Role(_) if s.roles.contains_key(old) => Some(ObjectId::Role(old.clone())),
        ObjectId::Provider(_) if s.providers.contains_key(old) => {
            Some(ObjectId::Provider(old.clone()))
        }
        _ => None,
    }
}

pub fn warnings(changes: &[PlannedChange], config: &Config, live: &Live) -> Vec<Warning> {
    let mut out = Vec::new();
    for c in changes.iter().map(|c| &c.change) {
        if c.action != Action::Create {
            continue;
        }
        let Some(olds) = config.previously.get(&c.object) else {
            continue;
        };
        let Some(old) = olds.iter().find_map(|o| live_named(live, &c.object, o)) else {
            continue;
        };
        out.push(Warning {
            code: "rename-not-adopted".to_owned(),
            message: format!(
                "`{old}`, an earlier name of `{}`, exists but is not managed by tenet, so it is not renamed: the new {} is created beside it; run with --adopt to rename it in place instead",
                c.object,
                singular(&c.object)
            ),
            object: Some(c.object.clone()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::Change;
    use crate::model::{Kind, Slug};

    fn rename(kind: Kind, from: ObjectId, to: ObjectId) -> PlannedChange {
        PlannedChange {
            id: 0,
            phase: 4,
            depends_on: Vec::new(),
            change: Change {
                object: to,
                from: Some(from),
                kind,
                action: Action::Rename,
                workspace: None,
                fields: Vec::new(),
                version: None,
                desired: None,
                labels: Default::default(),
                unset_labels: Vec::new(),
                cascades: Vec::new(),
            },
        }
    }

    #[test]
    fn a_target_that_cannot_rename_refuses_the_rename_by_name() {
        let s = |x: &str| Slug::parse(x).unwrap();
        let changes = [
            rename(
                Kind::Workspaces,
                ObjectId::Workspace(s("fin")),
                ObjectId::Workspace(s("finance")),
            ),
            rename(
                Kind::Providers,
                ObjectId::Provider(s("oai")),
                ObjectId::Provider(s("openai")),
            ),
        ];
        let caps = Capabilities {
            renames: &[Kind::Workspaces],
            ..crate::target::native::HTTP
        };
        let refused = refusals(&changes, &caps);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].code, "target-cannot-rename");
        assert_eq!(refused[0].object, Some(ObjectId::Provider(s("openai"))));
        assert!(
            refused[0]
                .message
                .contains("cannot rename providers in place, so `providers/oai` is not renamed to `providers/openai`"),
            "{}",
            refused[0].message
        );
        assert_eq!(refused[0].lifted_by, None);
        let all = Capabilities {
            renames: &crate::model::rename::RENAMABLE,
            ..caps
        };
        assert!(refusals(&changes, &all).is_empty());
    }
}
