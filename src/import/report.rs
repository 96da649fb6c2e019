//! What an import says: a summary in the shape of MagOneAI's result file
//! (users created, memberships added to existing users, rows unchanged,
//! errors with row, organisation, email and reason) and the files written,
//! plus one diagnostic per refused row, at its cell (`Users!D7`) or at its
//! `file:line:column` in a CSV file. Never a password: a row only knows
//! that it had one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::decide::{Decisions, Outcome, Refusal, RowResult};
use super::sheet::Place;
use super::{Change, SHEET};
use crate::diagnostic::Diagnostic;

/// One diagnostic per refused row, in row order.
pub fn diagnostics(decisions: &Decisions) -> Vec<Diagnostic> {
    decisions
        .rows
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Refused { why, place } => Some(refused(r, why, place)),
            _ => None,
        })
        .collect()
}

fn refused(row: &RowResult, why: &Refusal, place: &Place) -> Diagnostic {
    let who = if row.email.is_empty() || matches!(why, Refusal::InvalidEmail(_)) {
        String::new()
    } else {
        format!(" ({})", row.email)
    };
    let d = |message: String| Diagnostic::error(why.code(), message).with_help_opt(why.help());
    match place {
        Place::Bytes(r) => {
            d(format!("row {}{who}: {why}", row.number)).with_label(SHEET, r.clone(), why.label())
        }
        Place::Cell { .. } => {
            let cell = place.cell_ref().unwrap_or_default();
            d(format!("{cell}{who}: {why}")).in_file(SHEET)
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The counts line: "8 rows: 3 users created, ...".
pub fn counts(d: &Decisions) -> String {
    let count = |f: fn(&Outcome) -> bool| d.rows.iter().filter(|r| f(&r.outcome)).count();
    let added = count(|o| matches!(o, Outcome::Added));
    let unchanged = count(|o| matches!(o, Outcome::Unchanged));
    format!(
        "{}: {} created, {} of existing users added, {} unchanged, {} refused",
        plural(d.rows.len(), "row", "rows"),
        plural(d.users.len(), "user", "users"),
        plural(added, "membership", "memberships"),
        plural(unchanged, "row", "rows"),
        plural(d.refused(), "row", "rows"),
    )
}

/// `role in workspace`, with `(new)` for a workspace the import declares.
fn grant(d: &Decisions, r: &RowResult) -> String {
    let w = r.workspace.as_deref().unwrap_or("?");
    let new = if d.workspaces.contains_key(w) {
        " (new)"
    } else {
        ""
    };
    format!("{} in {w}{new}", r.role)
}

/// The summary, for stdout. `dry_run`: the files would be written.
pub fn summary(d: &Decisions, source: &str, changes: &[Change], dry_run: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Read {source}: {}.", counts(d));

    // Created users, each with the memberships of its rows.
    let mut created: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in d.rows.iter().filter(|r| r.outcome == Outcome::Created) {
        let key = r.user.as_deref().unwrap_or(&r.email);
        if !created.contains_key(key) {
            order.push(key);
        }
        created.entry(key).or_default().push(grant(d, r));
    }
    if !order.is_empty() {
        let _ = writeln!(out, "\nCreated (new users, invited):");
        for email in order {
            let name = d
                .users
                .get(email)
                .and_then(|u| u.name.as_deref())
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            let grants = created.get(email).map(|g| g.join(", ")).unwrap_or_default();
            let _ = writeln!(out, "  {email}{name}: {grants}");
        }
    }
    let section = |out: &mut String, title: &str, f: fn(&Outcome) -> bool| {
        let rows: Vec<&RowResult> = d.rows.iter().filter(|r| f(&r.outcome)).collect();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n{title}:");
        for r in rows {
            let email = r.user.as_deref().unwrap_or(&r.email);
            let _ = writeln!(out, "  row {}: {email} {}", r.number, grant(d, r));
        }
    };
    section(&mut out, "Added (existing users)", |o| {
        matches!(o, Outcome::Added)
    });
    section(&mut out, "Unchanged (the files say it already)", |o| {
        matches!(o, Outcome::Unchanged)
    });

    let errors: Vec<(&RowResult, &Refusal)> = d
        .rows
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Refused { why, .. } => Some((r, why)),
            _ => None,
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\nErrors (row, org, email, reason):");
        let blank = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.to_owned()
            }
        };
        let width = |f: &dyn Fn(&RowResult) -> String| {
            errors
                .iter()
                .map(|(r, _)| f(r).chars().count())
                .max()
                .unwrap_or(0)
                .min(40)
        };
        let (w_row, w_org, w_email) = (
            width(&|r| r.number.to_string()),
            width(&|r| blank(&r.org_id)),
            width(&|r| blank(&r.email)),
        );
        for (r, why) in errors {
            let _ = writeln!(
                out,
                "  {:<w_row$}  {:<w_org$}  {:<w_email$}  {why}",
                r.number,
                blank(&r.org_id),
                blank(&r.email),
            );
        }
    }

    if !d.workspaces.is_empty() {
        let _ = writeln!(out, "\nNew workspaces:");
        for (slug, name) in &d.workspaces {
            let _ = writeln!(out, "  {slug} ({name})");
        }
    }

    out.push('\n');
    if changes.is_empty() {
        let said = match d.rows.len() - d.refused() {
            0 => "",
            _ if d.refused() > 0 => ": the files already say what the other rows add",
            _ => ": the files already say everything the sheet adds",
        };
        let _ = writeln!(out, "Nothing to write{said}.");
    } else {
        let files: Vec<String> = changes
            .iter()
            .map(|c| {
                let new = if c.old.is_none() { " (new)" } else { "" };
                format!("{}{new}", c.path.display())
            })
            .collect();
        if dry_run {
            let _ = writeln!(
                out,
                "Would write {} (--dry-run: nothing was written).",
                files.join(", ")
            );
        } else {
            let _ = writeln!(out, "Wrote {}.", files.join(", "));
        }
    }
    out
}
