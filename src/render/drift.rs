//! Drift reports as text (for a terminal), Markdown (ready to be an issue
//! body) and JSON (versioned, serialize-only: the `drift::Report` itself).

use std::fmt::Write;

use crate::drift::{Finding, Report};

fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "(unset)".to_owned(),
        other => other.to_string(),
    }
}

fn field_lines(f: &Finding, indent: &str, out: &mut String) {
    if let Some(from) = &f.from {
        let _ = writeln!(out, "{indent}renamed in the files from {from}");
    }
    for c in &f.fields {
        if c.sensitive {
            let _ = writeln!(out, "{indent}{}: (sensitive value differs)", c.field);
        } else {
            let _ = writeln!(
                out,
                "{indent}{}: files say {}, live is {}",
                c.field,
                value(&c.after),
                value(&c.before)
            );
        }
    }
    if f.fields.is_empty() && f.from.is_none() {
        let what = match f.action {
            crate::diff::Action::Create => "in the files, missing on the platform",
            crate::diff::Action::Delete | crate::diff::Action::Archive => {
                "on the platform, gone from the files"
            }
            _ => "differs",
        };
        let _ = writeln!(out, "{indent}{what}");
    }
}

fn attribution_lines(f: &Finding, indent: &str, out: &mut String) {
    for a in &f.changed_by {
        let fields: Vec<String> = a
            .changes
            .iter()
            .filter(|(k, _)| k.as_str() != "labels")
            .map(|(k, c)| format!("{k}: {} -> {}", value(&c.before), value(&c.after)))
            .collect();
        let channel = &a.channel;
        if let Some(parent) = &a.through {
            let _ = writeln!(
                out,
                "{indent}gone with {parent}, deleted by {} at {} via {channel}",
                a.actor, a.at
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{indent}changed by {} at {} via {channel} ({}{}{})",
            a.actor,
            a.at,
            a.action,
            if fields.is_empty() { "" } else { ": " },
            fields.join(", ")
        );
    }
}

/// Plain text for a terminal.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    if r.clean() {
        out.push_str("No drift. The platform matches the configuration.\n");
    }
    if !r.drift.is_empty() {
        let _ = writeln!(
            out,
            "Drift: {} object(s) changed outside tenet on {}:\n",
            r.drift.len(),
            r.endpoint
        );
        for f in &r.drift {
            let _ = writeln!(out, "  ! {}", f.object);
            field_lines(f, "      ", &mut out);
            attribution_lines(f, "      ", &mut out);
            if let Some(a) = &f.acknowledged {
                let _ = writeln!(out, "      acknowledgement expired on {}", a.until);
            }
        }
        out.push('\n');
    }
    if !r.pending.is_empty() {
        let _ = writeln!(
            out,
            "Pending: {} change(s) in the files not applied yet:\n",
            r.pending.len()
        );
        for f in &r.pending {
            let _ = writeln!(out, "  ~ {}", f.object);
            field_lines(f, "      ", &mut out);
        }
        out.push('\n');
    }
    if !r.differs.is_empty() {
        let _ = writeln!(
            out,
            "Differs: {} object(s) on {} do not match the files (changed there, or in the files; the platform cannot tell which):\n",
            r.differs.len(),
            r.endpoint
        );
        for f in &r.differs {
            let _ = writeln!(out, "  ~ {}", f.object);
            field_lines(f, "      ", &mut out);
        }
        out.push('\n');
    }
    if !r.unmanaged_access.is_empty() {
        let _ = writeln!(
            out,
            "Unmanaged access: {} membership(s) of declared workspaces are not in the files (apply leaves them alone unless memberships are authoritative):\n",
            r.unmanaged_access.len()
        );
        for a in &r.unmanaged_access {
            let _ = writeln!(
                out,
                "  ! {}",
                crate::render::plan_text::unmanaged_grant(&a.grant)
            );
            for b in &a.granted_by {
                let _ = writeln!(
                    out,
                    "      {} by {} at {} via {}",
                    b.action, b.actor, b.at, b.channel
                );
            }
            if let Some(ack) = &a.acknowledged {
                let _ = writeln!(out, "      acknowledged until {}", ack.until);
            }
        }
        out.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(out, "Note: {n}.");
    }
    if !r.notes.is_empty() {
        out.push('\n');
    }
    if !r.acknowledged.is_empty() {
        let _ = writeln!(out, "Acknowledged drift ({}):", r.acknowledged.len());
        for f in &r.acknowledged {
            let a = f.acknowledged.as_ref();
            let _ = writeln!(
                out,
                "  {} until {}{}",
                f.object,
                a.map_or("", |a| a.until.as_str()),
                a.and_then(|a| a.reason.as_deref())
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
        }
    }
    out
}

fn md(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "'")
}

/// Markdown, ready to be the body of an issue.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## tenet drift\n\nPlatform `{}` · checked {}\n",
        md(&r.endpoint),
        crate::drift::today()
    );
    if r.clean() {
        out.push_str("✅ No drift: the platform matches the configuration.\n");
    }
    if !r.drift.is_empty() {
        let _ = writeln!(
            out,
            "### ⚠️ Drift: {} object(s) changed outside tenet\n",
            r.drift.len()
        );
        out.push_str("| Object | Field | Files say | Live is | Changed by |\n| :-- | :-- | :-- | :-- | :-- |\n");
        for f in &r.drift {
            let who = f
                .changed_by
                .iter()
                .map(|a| match &a.through {
                    Some(p) => format!(
                        "{} at {} (deleted `{}`)",
                        md(&a.actor),
                        md(&a.at),
                        md(&p.to_string())
                    ),
                    None => format!("{} at {}", md(&a.actor), md(&a.at)),
                })
                .collect::<Vec<_>>()
                .join("<br>");
            if f.fields.is_empty() {
                let _ = writeln!(out, "| `{}` | | | | {who} |", md(&f.object.to_string()));
            }
            for c in &f.fields {
                let (after, before) = if c.sensitive {
                    ("(sensitive)".to_owned(), "(sensitive)".to_owned())
                } else {
                    (md(&value(&c.after)), md(&value(&c.before)))
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {after} | {before} | {who} |",
                    md(&f.object.to_string()),
                    md(&c.field)
                );
            }
        }
        out.push('\n');
    }
    if !r.pending.is_empty() {
        let _ = writeln!(
            out,
            "### Pending: {} change(s) in the files not applied yet\n",
            r.pending.len()
        );
        for f in &r.pending {
            let renamed = f
                .from
                .as_ref()
                .map(|from| format!(" (renamed from `{}`)", md(&from.to_string())))
                .unwrap_or_default();
            let _ = writeln!(out, "- `{}`{renamed}", md(&f.object.to_string()));
        }
        out.push('\n');
    }
    if !r.differs.is_empty() {
        let _ = writeln!(
            out,
            "### ⚠️ Differs: {} object(s) do not match the files\n\nChanged on the platform or in the files: the platform keeps no record that tells which.\n",
            r.differs.len()
        );
        for f in &r.differs {
            let _ = writeln!(out, "- `{}`", md(&f.object.to_string()));
        }
        out.push('\n');
    }
    if !r.unmanaged_access.is_empty() {
        let _ = writeln!(
            out,
            "### ⚠️ Unmanaged access: {} membership(s) of declared workspaces are not in the files\n\nApply leaves them alone unless memberships are authoritative; declare them or remove them.\n",
            r.unmanaged_access.len()
        );
        out.push_str("| Membership | Roles | Grants | Made by |\n| :-- | :-- | :-- | :-- |\n");
        for a in &r.unmanaged_access {
            let g = &a.grant;
            let roles: Vec<&str> = g.roles.iter().map(|r| r.as_str()).collect();
            let who = a
                .granted_by
                .iter()
                .map(|b| format!("{} at {}", md(&b.actor), md(&b.at)))
                .collect::<Vec<_>>()
                .join("<br>");
            let mut grants = g.what().unwrap_or("").to_owned();
            if let Some(ack) = &a.acknowledged {
                grants.push_str(&format!(" (acknowledged until {})", ack.until));
            }
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {who} |",
                md(&g.object.to_string()),
                md(&roles.join(", ")),
                md(&grants)
            );
        }
        out.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(out, "> {}.\n", md(n));
    }
    if !r.acknowledged.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Acknowledged drift ({})</summary>\n",
            r.acknowledged.len()
        );
        for f in &r.acknowledged {
            let until = f.acknowledged.as_ref().map_or("", |a| a.until.as_str());
            let _ = writeln!(out, "- `{}` until {until}", md(&f.object.to_string()));
        }
        out.push_str("\n</details>\n");
    }
    out.push_str("\nRun `tenet drift` for details; `tenet apply` restores what the files say.\n");
    out
}

/// Versioned JSON.
pub fn json(r: &Report) -> String {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        version: u32,
        clean: bool,
        #[serde(flatten)]
        report: &'a Report,
    }
    serde_json::to_string_pretty(&Out {
        version: 1,
        clean: r.clean(),
        report: r,
    })
    .unwrap_or_default()
        + "\n"
}
