//! The access-impact section of a plan, for text and Markdown: per user and
//! workspace, the permissions gained and lost, administrator grants and
//! credential access first; then per IdP group, what its members gain and
//! lose through identity providers' group mappings.

use crate::plan::access::{AccessChange, GroupAccessChange};

/// At most this many permission names are spelled out per line.
const SHOWN: usize = 8;

/// At most this many rows in Markdown (a comment has a size limit).
const ROWS: usize = 50;

fn names(ps: &[String]) -> String {
    let mut s = ps
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ps.len() > SHOWN {
        s.push_str(&format!(", and {} more", ps.len() - SHOWN));
    }
    s
}

fn flags(a: &AccessChange) -> String {
    flag_text(
        a.becomes_administrator,
        a.loses_administrator,
        a.gains_credential_access,
    )
}

fn flag_text(becomes: bool, loses: bool, credentials: bool) -> String {
    let mut f = Vec::new();
    if becomes {
        f.push("BECOMES ADMINISTRATOR");
    }
    if loses {
        f.push("loses administrator");
    }
    if credentials {
        f.push("GAINS CREDENTIAL ACCESS");
    }
    if f.is_empty() {
        String::new()
    } else {
        format!(" [{}]", f.join(", "))
    }
}

/// Most important first: administrator grants, credential access, then by
/// workspace and user.
fn ordered(access: &[AccessChange]) -> Vec<&AccessChange> {
    let mut v: Vec<&AccessChange> = access.iter().collect();
    v.sort_by_key(|a| {
        (
            !a.becomes_administrator,
            !a.gains_credential_access,
            a.workspace.clone(),
            a.user.clone(),
            a.project.clone(),
        )
    });
    v
}

/// Plain text lines (empty when nothing changes).
pub fn text(access: &[AccessChange]) -> String {
    if access.is_empty() {
        return String::new();
    }
    let mut out = format!("Access changes ({} user/workspace pairs):\n", access.len());
    for a in ordered(access) {
        out.push_str(&format!("  {} in {}{}\n", a.user, a.place(), flags(a)));
        if !a.gained.is_empty() {
            out.push_str(&format!(
                "      gains {}: {}\n",
                a.gained.len(),
                names(&a.gained)
            ));
        }
        if !a.lost.is_empty() {
            out.push_str(&format!(
                "      loses {}: {}\n",
                a.lost.len(),
                names(&a.lost)
            ));
        }
    }
    out
}

/// A Markdown section (empty when nothing changes).
pub fn markdown(access: &[AccessChange]) -> String {
    if access.is_empty() {
        return String::new();
    }
    let mut out = "### Access changes\n\n| User | Workspace | Gains | Loses | Notes |\n| :-- | :-- | :-- | :-- | :-- |\n".to_owned();
    for a in ordered(access).into_iter().take(ROWS) {
        let notes = flags(a)
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .replace(", ", "<br>");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            a.user,
            a.place(),
            if a.gained.is_empty() {
                String::new()
            } else {
                format!("{}: {}", a.gained.len(), names(&a.gained))
            },
            if a.lost.is_empty() {
                String::new()
            } else {
                format!("{}: {}", a.lost.len(), names(&a.lost))
            },
            if notes.is_empty() {
                String::new()
            } else {
                format!("⚠️ {notes}")
            }
        ));
    }
    if access.len() > ROWS {
        out.push_str(&format!(
            "\n{} more user/workspace pairs change; `tenet plan --format json` lists them all.\n",
            access.len() - ROWS
        ));
    }
    out
}

/// What a group mapping change means, said once above the groups.
const GROUPS_NOTE: &str = "tenet cannot see who is in an IdP group: these apply to whoever the IdP puts in it, at their next sign-in";

fn group_flags(g: &GroupAccessChange) -> String {
    flag_text(
        g.becomes_administrator,
        g.loses_administrator,
        g.gains_credential_access,
    )
}

/// Administrator grants and credential access first, then by provider,
/// group and place.
fn groups_ordered(groups: &[GroupAccessChange]) -> Vec<&GroupAccessChange> {
    let mut v: Vec<&GroupAccessChange> = groups.iter().collect();
    v.sort_by_key(|g| {
        (
            !g.becomes_administrator,
            !g.gains_credential_access,
            g.provider.clone(),
            g.group.clone(),
            g.place(),
        )
    });
    v
}

/// Plain text lines for the IdP groups (empty when nothing changes).
pub fn groups_text(groups: &[GroupAccessChange]) -> String {
    if groups.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "Access through IdP groups ({} group/workspace pairs; {GROUPS_NOTE}):\n",
        groups.len()
    );
    for g in groups_ordered(groups) {
        out.push_str(&format!(
            "  members of IdP group `{}` (identity provider {}) in {}{}\n",
            g.group,
            g.provider,
            g.place(),
            group_flags(g)
        ));
        if !g.gained.is_empty() {
            out.push_str(&format!(
                "      gain {}: {}\n",
                g.gained.len(),
                names(&g.gained)
            ));
        }
        if !g.lost.is_empty() {
            out.push_str(&format!(
                "      lose {}: {}\n",
                g.lost.len(),
                names(&g.lost)
            ));
        }
    }
    out
}

/// A Markdown section for the IdP groups (empty when nothing changes).
pub fn groups_markdown(groups: &[GroupAccessChange]) -> String {
    if groups.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "### Access through IdP groups\n\n_{GROUPS_NOTE}._\n\n| IdP group | Identity provider | Workspace | Gains | Loses | Notes |\n| :-- | :-- | :-- | :-- | :-- | :-- |\n"
    );
    for g in groups_ordered(groups).into_iter().take(ROWS) {
        let notes = group_flags(g)
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .replace(", ", "<br>");
        let count = |ps: &[String]| {
            if ps.is_empty() {
                String::new()
            } else {
                format!("{}: {}", ps.len(), names(ps))
            }
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            g.group.replace('|', "\\|").replace('`', "'"),
            g.provider,
            g.place(),
            count(&g.gained),
            count(&g.lost),
            if notes.is_empty() {
                String::new()
            } else {
                format!("⚠️ {notes}")
            }
        ));
    }
    if groups.len() > ROWS {
        out.push_str(&format!(
            "\n{} more group/workspace pairs change; `tenet plan --format json` lists them all.\n",
            groups.len() - ROWS
        ));
    }
    out
}
