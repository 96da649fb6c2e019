//! The access-impact section of a plan, for text and Markdown: per user and
//! workspace, the permissions gained and lost, administrator grants and
//! credential access first.

use crate::plan::access::AccessChange;

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
    let mut f = Vec::new();
    if a.becomes_administrator {
        f.push("BECOMES ADMINISTRATOR");
    }
    if a.loses_administrator {
        f.push("loses administrator");
    }
    if a.gains_credential_access {
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
