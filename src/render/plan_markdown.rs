//! A plan as GitHub-flavoured Markdown for a pull-request comment or a
//! step summary: a title, then refusals and warnings first, a summary table
//! per kind, the objects left alone, and one collapsed `<details>` section
//! per workspace (platform-wide objects first) whose changes are a ```diff
//! block. The output is kept within a caller-given size by dropping details
//! sections from the end, with a note saying so; refusals, warnings and the
//! summary are never cut. Text from the files or the platform is escaped
//! where it could break tables or HTML, and sensitive fields show only that
//! they changed. Pure: no IO, no environment.

use super::plan_text::{
    FieldView, Group, NO_CHANGES, Summary, UNMANAGED_SHOWN, cascades_line, cascades_shown,
    change_line, clean, endpoint, field_views, groups, sensitive_text, verb,
};
use crate::diff::Change;
use crate::model::Kind;
use crate::plan::Plan;

/// How many not-adopted objects are named before "and N more".
const NOT_ADOPTED_SHOWN: usize = 20;

/// Renders a plan as Markdown of at most `max_chars` characters (GitHub
/// allows 65,536 in a comment; callers pass 65,000). Details sections are
/// dropped from the end until the rest fits. The title, refusals, warnings
/// and summary are always kept, so when they alone exceed `max_chars` the
/// output does too (with every details section cut).
pub fn render(plan: &Plan, max_chars: usize) -> String {
    let mut head = head(plan);
    let access = super::access::markdown(&plan.access);
    if !access.is_empty() {
        head.push('\n');
        head.push_str(&access);
    }
    let idp_groups = super::access::groups_markdown(&plan.group_access);
    if !idp_groups.is_empty() {
        head.push('\n');
        head.push_str(&idp_groups);
    }
    let groups = groups(plan);
    let sections: Vec<String> = groups.iter().map(section).collect();
    let platform = groups.first().is_some_and(|g| g.workspace.is_none());

    // Parts are joined by blank lines: each ends with a line end and is
    // followed by one more (counted for the last one too, to be safe).
    let len = |s: &str| s.chars().count() + 1;
    let note_for = |kept: usize| cut_note(sections.len() - kept, platform && kept == 0);
    let note_len = |kept: usize| {
        if kept < sections.len() {
            len(&note_for(kept))
        } else {
            0
        }
    };
    let mut kept = sections.len();
    let mut size: usize = len(&head) + sections.iter().map(|s| len(s)).sum::<usize>();
    while kept > 0 && size + note_len(kept) > max_chars {
        kept -= 1;
        size -= len(&sections[kept]);
    }

    let mut parts = vec![head];
    if kept < sections.len() {
        parts.push(note_for(kept));
    }
    parts.extend(sections.into_iter().take(kept));
    let mut out = parts.join("\n");
    // The parts end with a line end; one is enough at the end.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The note that details were cut, naming how many.
fn cut_note(workspaces_cut: usize, platform_cut: bool) -> String {
    let workspaces = if platform_cut {
        workspaces_cut - 1
    } else {
        workspaces_cut
    };
    let ws = match workspaces {
        1 => "1 workspace's details".to_owned(),
        n => format!("{n} workspaces' details"),
    };
    let what = match (platform_cut, workspaces) {
        (true, 0) => "The platform-wide details".to_owned(),
        (true, _) => format!("The platform-wide details and {ws}"),
        (false, _) => ws,
    };
    format!("> ✂️ **{what} were cut to fit**; run `tenet plan` for the full plan.\n")
}

/// Title, refusals, warnings, summary and the objects left alone: never cut.
fn head(plan: &Plan) -> String {
    let mut blocks: Vec<String> = Vec::new();

    let mut meta = format!(
        "## tenet plan\n\n{} · profile {} · tenet {}",
        code(&endpoint(plan)),
        code(plan.profile.as_str()),
        escape(&plan.tool_version)
    );
    if let Some(git) = &plan.git {
        let short: String = git.commit.chars().take(12).collect();
        meta.push_str(&format!(" · commit {}", code(&short)));
        if git.dirty {
            meta.push_str(" (with uncommitted changes)");
        }
    }
    if !plan.options.only.is_empty() {
        let only: Vec<String> = plan.options.only.iter().map(|s| code(s)).collect();
        meta.push_str(&format!(
            " · only {} (nothing outside is planned)",
            only.join(", ")
        ));
    }
    meta.push('\n');
    blocks.push(meta);

    if !plan.refusals.is_empty() {
        let mut b = "### ⛔ Refused: apply will not run\n\n".to_owned();
        for r in &plan.refusals {
            let at = r
                .object
                .as_ref()
                .map(|r| format!("{}: ", code(&r.to_string())))
                .unwrap_or_default();
            let how = match &r.lifted_by {
                Some(flag) => format!("run with {} to apply anyway", code(flag)),
                None => "no flag lifts this; change the configuration".to_owned(),
            };
            b.push_str(&format!(
                "- ⛔ {at}{} ({}); {how}\n",
                escape(&r.message),
                code(&r.code)
            ));
        }
        blocks.push(b);
    }

    if !plan.warnings.is_empty() {
        let mut b = "### ⚠️ Warnings\n\n".to_owned();
        for w in &plan.warnings {
            let at = w
                .object
                .as_ref()
                .map(|r| format!("{}: ", code(&r.to_string())))
                .unwrap_or_default();
            b.push_str(&format!(
                "- ⚠️ {at}{} ({})\n",
                escape(&w.message),
                code(&w.code)
            ));
        }
        blocks.push(b);
    }

    if plan.is_empty() {
        blocks.push(format!("{NO_CHANGES}\n"));
    } else {
        blocks.push(summary_table(plan));
    }

    if !plan.not_adopted.is_empty() {
        blocks.push(format!(
            "**Not adopted**: {} declared object(s) exist but are not managed by tenet; run with `--adopt` to take them over: {}\n",
            plan.not_adopted.len(),
            listing(&plan.not_adopted, NOT_ADOPTED_SHOWN)
        ));
    }
    if !plan.unmanaged.is_empty() {
        blocks.push(format!(
            "**Unmanaged**: {} live object(s) not managed by tenet are left alone: {}\n",
            plan.unmanaged.len(),
            listing(&plan.unmanaged, UNMANAGED_SHOWN)
        ));
    }
    if !plan.acknowledged.is_empty() {
        let items: Vec<String> = plan
            .acknowledged
            .iter()
            .map(|h| format!("- {}", escape(&super::plan_text::held_line(h))))
            .collect();
        blocks.push(format!(
            "**Acknowledged**: {} difference(s) the files acknowledge are left alone (`--include-acknowledged` reverts them):\n\n{}\n",
            plan.acknowledged.len(),
            items.join("\n")
        ));
    }
    if !plan.unmanaged_access.is_empty() {
        let items: Vec<String> = plan
            .unmanaged_access
            .iter()
            .take(UNMANAGED_SHOWN)
            .map(|g| code(&super::plan_text::unmanaged_grant(g)))
            .collect();
        let more = plan.unmanaged_access.len().saturating_sub(UNMANAGED_SHOWN);
        let more = if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        };
        blocks.push(format!(
            "**Unmanaged access**: {} membership(s) of declared workspaces are not in the files and are left alone: {}{more}\n",
            plan.unmanaged_access.len(),
            items.join(", ")
        ));
    }
    if !plan.unsupported.is_empty() {
        let kinds: Vec<&str> = plan.unsupported.iter().map(|k| k.as_str()).collect();
        blocks.push(format!(
            "**Unsupported**: the target cannot hold {}; these are not planned.\n",
            kinds.join(", ")
        ));
    }
    blocks.join("\n")
}

/// The summary line and a table of counts: kinds by action.
fn summary_table(plan: &Plan) -> String {
    let total = Summary::of(&plan.changes);
    let actions = total.actions();
    let mut out = format!("**{}**\n\n| Kind |", total.line());
    for a in &actions {
        out.push_str(&format!(" {} |", capitalized(verb(*a))));
    }
    out.push_str("\n| :-- |");
    for _ in &actions {
        out.push_str(" --: |");
    }
    out.push('\n');
    for kind in Kind::ALL {
        let of_kind = Summary::of(plan.changes.iter().filter(|c| c.change.kind == kind));
        if of_kind.total() == 0 {
            continue;
        }
        out.push_str(&format!("| {} |", kind.as_str()));
        for a in &actions {
            out.push_str(&format!(" {} |", of_kind.get(*a)));
        }
        out.push('\n');
    }
    out
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The first few resources as code, then how many more.
fn listing(resources: &[crate::model::ObjectId], shown: usize) -> String {
    let mut items: Vec<String> = resources
        .iter()
        .take(shown)
        .map(|r| code(&r.to_string()))
        .collect();
    if resources.len() > shown {
        items.push(format!("and {} more", resources.len() - shown));
    }
    items.join(", ")
}

/// One collapsed section: the group's changes as a diff block.
fn section(g: &Group<'_>) -> String {
    let title = match g.workspace {
        None => "<b>Platform-wide</b>".to_owned(),
        Some(ws) => format!("<b>Workspace <code>{}</code></b>", html(ws.as_str())),
    };
    let mut lines: Vec<String> = Vec::new();
    for (i, (kind, changes)) in g.kinds.iter().enumerate() {
        if i > 0 {
            lines.push(String::new());
        }
        lines.push(format!("# {}", kind.as_str()));
        for c in changes {
            diff_lines(&mut lines, &c.change);
        }
    }
    let body = lines.join("\n");
    let fence = fence(&body);
    format!(
        "<details><summary>{title}: {}</summary>\n\n{fence}diff\n{body}\n{fence}\n\n</details>\n",
        g.summary().brief()
    )
}

/// A change as diff lines: the `+`/`-` of a line is in column 0 so GitHub
/// colours it; `!` marks sensitive fields.
fn diff_lines(out: &mut Vec<String>, c: &Change) {
    out.push(change_line(c));
    for v in field_views(c) {
        match v {
            FieldView::Sensitive { field, keys } => {
                out.push(format!("!     {field}: {}", sensitive_text(keys)))
            }
            FieldView::New { field, value } => out.push(format!("+     {field}: {value}")),
            FieldView::Scalar {
                field,
                before,
                after,
            } => {
                out.push(format!("-     {field}: {before}"));
                out.push(format!("+     {field}: {after}"));
            }
            FieldView::Text { field, lines } => {
                out.push(format!("      {field}:"));
                for l in lines {
                    if l.starts_with("---") || l.starts_with("+++") {
                        // The -/+ colours already say which side is which.
                        continue;
                    }
                    if l.starts_with("@@") {
                        out.push(format!("        {l}"));
                    } else {
                        let mut chars = l.chars();
                        let tag = chars.next().unwrap_or(' ');
                        out.push(format!("{tag}       {}", chars.as_str()));
                    }
                }
            }
            FieldView::List {
                field,
                before,
                after,
                added,
                removed,
                unchanged,
            } => {
                if !FieldView::long_list(&before, &after) {
                    out.push(format!("-     {field}: {before}"));
                    out.push(format!("+     {field}: {after}"));
                    continue;
                }
                out.push(format!(
                    "      {field}: {} added, {} removed, {unchanged} unchanged",
                    added.len(),
                    removed.len()
                ));
                out.extend(added.iter().map(|a| format!("+       {a}")));
                out.extend(removed.iter().map(|r| format!("-       {r}")));
            }
        }
    }
    if let Some(line) = cascades_line(c) {
        out.push(format!("      {line}:"));
        let (shown, more) = cascades_shown(c);
        out.extend(shown.iter().map(|id| format!("-       {id}")));
        if more > 0 {
            out.push(format!("        ... and {more} more"));
        }
    }
}

/// A code fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    "`".repeat(longest_backtick_run(body).max(2) + 1)
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// `s` as an inline code span, whatever backticks it holds; `|` escaped
/// so a span cannot end a table cell.
fn code(s: &str) -> String {
    let s = clean(&s.replace(['\n', '\r'], " ")).replace('|', "\\|");
    let ticks = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// Text for inline Markdown: formatting characters backslash-escaped, HTML
/// characters as entities, line breaks as spaces.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in clean(s).chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// Text inside HTML tags.
fn html(s: &str) -> String {
    clean(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::super::plan_text::tests::{PLAIN_CANARY, SECRET_CANARY, empty_plan, sample_plan};
    use super::*;

    const MAX: usize = 65_000;

    #[test]
    fn full_plan() {
        let out = render(&sample_plan(), MAX);
        let refused = out.find("### ⛔ Refused").unwrap();
        let warnings = out.find("### ⚠️ Warnings").unwrap();
        let summary = out
            .find("**Plan: 2 to create, 3 to update, 1 to archive, 0 to delete.**")
            .unwrap();
        let platform = out
            .find("<details><summary><b>Platform-wide</b>: 1 to create, 1 to update</summary>")
            .unwrap();
        let eng = out
            .find("<summary><b>Workspace <code>eng</code></b>: 1 to create, 2 to update</summary>")
            .unwrap();
        assert!(
            refused < warnings && warnings < summary && summary < platform && platform < eng,
            "{out}"
        );
        for part in [
            "- ⛔ would archive 1 of 1 workspaces (100%) (`destroy-threshold`); run with `--allow-destroy` to apply anyway\n",
            "- ⚠️ `roles/auditor`: role \\`auditor\\` gains 2: prompts.test, credentials.read (`role-gains-permissions`)\n",
            "| Kind | Create | Update | Archive | Delete |\n| :-- | --: | --: | --: | --: |\n| workspaces | 0 | 1 | 1 | 0 |\n| users | 1 | 0 | 0 | 0 |\n",
            "| providers | 0 | 1 | 0 | 0 |\n| memberships | 1 | 1 | 0 | 0 |\n\n",
            "```diff\n# users\n+ users/ada@acme.example\n+     name: \"Ada Lovelace\"\n",
            "!     api_keys: (sensitive value changed)\n",
            "-     roles: [member]\n+     roles: [administrator, member]\n",
            "      description:\n        @@ -1,3 +1,4 @@\n        Engineering workspace.\n-       Owns the build pipeline.\n+       Owns the build and release pipelines.\n",
            "! archive workspaces/legacy\n```\n\n</details>\n",
            "run with `--adopt`",
            "`users/u4@acme.example`, and 2 more\n",
        ] {
            assert!(out.contains(part), "missing {part:?} in\n{out}");
        }
        assert!(!out.contains("was cut") && !out.contains("were cut"));
        assert!(out.ends_with("</details>\n") && !out.ends_with("\n\n"));
        assert!(out.chars().count() <= MAX);
    }

    #[test]
    fn no_changes() {
        let out = render(&empty_plan(), MAX);
        assert!(out.contains(&format!("\n{NO_CHANGES}\n")), "{out}");
        assert!(!out.contains("<details>") && !out.contains("| Kind |"));
    }

    #[test]
    fn cut_to_fit() {
        let plan = sample_plan();
        let full = render(&plan, MAX);
        let n = full.chars().count();
        // Just too small for the last section.
        let out = render(&plan, n - 1);
        assert!(out.chars().count() < n, "{out}");
        assert!(
            out.contains("1 workspace's details were cut to fit"),
            "{out}"
        );
        assert!(out.contains("run `tenet plan` for the full plan"));
        assert!(!out.contains("<code>legacy</code>") && out.contains("<code>eng</code>"));
        // Small: every section goes, warnings, refusals and summary stay.
        let small = render(&plan, 0).chars().count();
        let out = render(&plan, small);
        assert!(
            out.chars().count() <= small,
            "{} > {small}:\n{out}",
            out.chars().count()
        );
        assert!(
            out.contains("The platform-wide details and 2 workspaces' details were cut to fit"),
            "{out}"
        );
        assert!(out.contains("### ⚠️ Warnings") && out.contains("role-gains-permissions"));
        assert!(out.contains("### ⛔ Refused") && out.contains("**Plan: 2 to create"));
        assert!(!out.contains("<details>"));
        // Too small even for those: they stay all the same.
        let out = render(&plan, 10);
        assert!(out.contains("role-gains-permissions") && out.contains("destroy-threshold"));
    }

    #[test]
    fn secrets_only_where_not_sensitive() {
        let out = render(&sample_plan(), MAX);
        assert!(out.contains(PLAIN_CANARY));
        assert!(!out.contains(SECRET_CANARY));
        assert!(!out.contains("key(s)"));
    }

    #[test]
    fn user_text_escaped() {
        let out = render(&sample_plan(), MAX);
        // In a diff block, text is verbatim.
        assert!(out.contains("+     name: \"Engineering <core> | `build`\"\n"));
        let mut plan = sample_plan();
        plan.warnings[0].message = "a | b <script> `x` *y*".to_owned();
        plan.changes[2].change.fields[0].after = serde_json::json!("```\n</details>");
        let out = render(&plan, MAX);
        assert!(
            out.contains("- ⚠️ `roles/auditor`: a \\| b &lt;script&gt; \\`x\\` \\*y\\* ("),
            "{out}"
        );
        // The value holds a fence of three: the block's fence is longer.
        assert!(out.contains("````diff\n"), "{out}");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("``"), "``` `` ```");
        assert_eq!(html("<x & y>"), "&lt;x &amp; y&gt;");
    }

    #[test]
    fn cascades_and_key_changes_show_in_the_diff_block() {
        let out = render(&super::super::plan_text::tests::lifecycle_plan(), 65_000);
        for line in [
            "- users/ken@acme.example\n      cascades: 2 object(s) removed with it by the platform, no writes of their own:\n-       workspaces/eng/memberships/ken@acme.example\n",
            "        ... and 3 more\n",
            "!     api_keys: key rotated (sensitive values not shown)\n",
            "!     api_keys: key added (sensitive values not shown)\n",
        ] {
            assert!(out.contains(line), "missing {line:?} in\n{out}");
        }
    }
}
