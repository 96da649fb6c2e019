//! Where the target lacks a capability, the plan says so and what tenet does
//! instead: no locks (concurrent applies are not excluded), no versions
//! (content is compared right before each write), no place to record
//! ownership for a kind (matched by natural key, never deleted unless the
//! kind is authoritative), no archive (removing a workspace must delete it,
//! or the plan refuses).

use super::{PlannedChange, Refusal, Warning};
use crate::diff::Action;
use crate::model::capabilities::{Capabilities, Ownership};
use crate::model::{Config, Kind, Live};

fn warning(code: &str, message: String) -> Warning {
    Warning {
        code: code.to_owned(),
        message,
        object: None,
    }
}

/// The natural key a kind is matched by.
fn key(kind: Kind) -> &'static str {
    match kind {
        Kind::Users => "email",
        Kind::Memberships => "workspace and user",
        Kind::Assignments => "workspace and provider",
        Kind::Settings => "being the one set of settings",
        _ => "name",
    }
}

pub fn warnings(
    changes: &[PlannedChange],
    live: &Live,
    config: &Config,
    caps: &Capabilities,
) -> Vec<Warning> {
    let mut out = Vec::new();
    if changes.is_empty() {
        return out;
    }
    let platform = caps.platform;
    if !caps.locks {
        out.push(warning(
            "target-no-locks",
            format!(
                "{platform} has no locks: concurrent applies are not excluded, so run one at a time (for example one CI concurrency group)"
            ),
        ));
    }
    if !caps.versions {
        out.push(warning(
            "target-no-versions",
            format!(
                "{platform} has no versions for conditional writes: each object is read again and compared with the plan right before it is written; a change made in the moment between is not detected"
            ),
        ));
    }
    if caps.global_permissions {
        // Users whose roles differ from one workspace to another.
        let mut roles: std::collections::BTreeMap<
            &crate::model::Email,
            Vec<&crate::model::RoleSet>,
        > = std::collections::BTreeMap::new();
        for ((_, user), m) in &config.state.memberships {
            roles.entry(user).or_default().push(&m.roles);
        }
        let mixed: Vec<String> = roles
            .iter()
            .filter(|(_, sets)| sets.windows(2).any(|w| w[0] != w[1]))
            .map(|(u, _)| format!("`{u}`"))
            .collect();
        if !mixed.is_empty() {
            let shown: Vec<&str> = mixed.iter().take(5).map(String::as_str).collect();
            let more = mixed.len().saturating_sub(5);
            out.push(warning(
                "target-global-permissions",
                format!(
                    "{platform}'s permissions are global per user, the union of their groups: {} hold{} different roles in different workspaces, so each gets the union of those roles' permissions everywhere{}",
                    shown.join(", "),
                    if mixed.len() == 1 { "s" } else { "" },
                    if more > 0 { format!(" (and {more} more)") } else { String::new() }
                ),
            ));
        }
    }
    for kind in caps.kinds {
        // Settings are one object: nothing to own.
        if caps.ownership(*kind) != Ownership::Nowhere || *kind == Kind::Settings {
            continue;
        }
        let touched = changes.iter().any(|c| c.change.kind == *kind);
        let present = match kind {
            Kind::Users => !live.state.users.is_empty(),
            Kind::Workspaces => !live.state.workspaces.is_empty(),
            Kind::Providers => !live.state.providers.is_empty(),
            _ => false,
        };
        if !(touched || present) {
            continue;
        }
        let deleted = if config.policy.authoritative.contains(kind) {
            format!(
                "`{}` is authoritative, so those not in the files are deleted",
                kind.as_str()
            )
        } else {
            format!(
                "those not in the files are left alone unless `{}` is made authoritative",
                kind.as_str()
            )
        };
        out.push(warning(
            "target-no-ownership",
            format!(
                "{platform} has nowhere to mark {} as tenet's: they are matched by {}, and {deleted}",
                kind.as_str(),
                key(*kind)
            ),
        ));
    }
    out
}

pub fn refusals(changes: &[PlannedChange], caps: &Capabilities) -> Vec<Refusal> {
    if caps.archive {
        return Vec::new();
    }
    changes
        .iter()
        .filter(|c| c.change.action == Action::Archive)
        .map(|c| Refusal {
            code: "target-cannot-archive".to_owned(),
            message: format!(
                "{} cannot archive `{}`: to remove it, set [policy] workspace_removal = \"delete\" (it is then deleted), or keep it in the files",
                caps.platform, c.change.object
            ),
            object: Some(c.change.object.clone()),
            lifted_by: None,
        })
        .collect()
}
