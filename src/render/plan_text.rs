//! A plan as text for a terminal, Terraform-like: changes grouped by
//! workspace (platform-wide objects first, under "platform") and then by
//! kind, one line per object (`  + users/ada@acme.example`) with its changed
//! fields below, then warnings, refusals, the objects left alone, and one
//! summary line. Long or multi-line strings show as unified diffs; sensitive
//! fields show only that they changed (for API keys, whether a key is added,
//! removed or rotated). What the platform removes or closes with a change
//! (its cascades) is listed under it. Pure: colour is the caller's decision,
//! nothing here reads the environment. The grouping, counting and field
//! views defined here are shared with the Markdown renderer.

use std::collections::BTreeMap;

use serde_json::Value;
use similar::TextDiff;

use crate::diff::{Action, Change, KeyChange};
use crate::model::{Kind, Slug};
use crate::plan::{Plan, PlannedChange};
use crate::secrets::redact_text;

/// The endpoint prefix of a config-terms plan (`plan --base`).
pub const CONFIG_TERMS: &str = "config-terms:";

/// The whole output of a plan without changes (plus a newline).
pub const NO_CHANGES: &str = "No changes. The platform matches the configuration.";

/// What a sensitive field shows instead of its values.
pub const SENSITIVE_CHANGED: &str = "(sensitive value changed)";

/// Strings longer than this (in characters), or with a line break, are
/// shown as a unified diff rather than `"old" -> "new"`.
const LONG_STRING: usize = 60;

/// A list whose `before -> after` would be longer than this shows as
/// added and removed items instead.
const LONG_LIST: usize = 72;

/// How many cascaded objects are named under a change before "and N more".
pub(super) const CASCADES_SHOWN: usize = 10;

/// How many unmanaged objects are named before "and N more".
pub(super) const UNMANAGED_SHOWN: usize = 5;

/// Changes per action. Adoptions and renames have their own counts, and
/// the summary line mentions them only when there are some (as Terraform
/// does imports and moves).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub rename: usize,
    pub archive: usize,
    pub delete: usize,
}

impl Summary {
    /// Counts the given changes.
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a PlannedChange>) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            s.add(c.change.action);
        }
        s
    }

    pub fn add(&mut self, action: Action) {
        *self.get_mut(action) += 1;
    }

    fn get_mut(&mut self, action: Action) -> &mut usize {
        match action {
            Action::Create => &mut self.create,
            Action::Update => &mut self.update,
            Action::Adopt => &mut self.adopt,
            Action::Rename => &mut self.rename,
            Action::Archive => &mut self.archive,
            Action::Delete => &mut self.delete,
        }
    }

    pub fn get(&self, action: Action) -> usize {
        match action {
            Action::Create => self.create,
            Action::Update => self.update,
            Action::Adopt => self.adopt,
            Action::Rename => self.rename,
            Action::Archive => self.archive,
            Action::Delete => self.delete,
        }
    }

    pub fn total(&self) -> usize {
        self.create + self.update + self.adopt + self.rename + self.archive + self.delete
    }

    /// The actions to report: all but adopt and rename, and each of those
    /// when there is one.
    pub(super) fn actions(&self) -> Vec<Action> {
        let mut out = vec![Action::Create, Action::Update];
        if self.adopt > 0 {
            out.push(Action::Adopt);
        }
        if self.rename > 0 {
            out.push(Action::Rename);
        }
        out.extend([Action::Archive, Action::Delete]);
        out
    }

    /// `Plan: 3 to create, 2 to update, 1 to archive, 0 to delete.`, with
    /// `N to adopt` and `N to rename` after the updates when there are
    /// some.
    pub fn line(&self) -> String {
        let parts: Vec<String> = self
            .actions()
            .into_iter()
            .map(|a| format!("{} to {}", self.get(a), verb(a)))
            .collect();
        format!("Plan: {}.", parts.join(", "))
    }

    /// The non-zero counts only (`1 to create, 2 to update`), for headings.
    pub fn brief(&self) -> String {
        let parts: Vec<String> = self
            .actions()
            .into_iter()
            .filter(|a| self.get(*a) > 0)
            .map(|a| format!("{} to {}", self.get(a), verb(a)))
            .collect();
        parts.join(", ")
    }
}

/// The action's verb: `create`, `update`, `adopt`, `rename`, `archive`,
/// `delete`.
pub fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Adopt => "adopt",
        Action::Rename => "rename",
        Action::Archive => "archive",
        Action::Delete => "delete",
    }
}

/// The changes of one workspace (or platform-wide ones), by kind.
pub(super) struct Group<'a> {
    /// `None` for platform-wide objects (users, roles, providers, settings).
    pub workspace: Option<&'a Slug>,
    /// Kinds in their fixed order; changes of a kind in plan order.
    pub kinds: Vec<(Kind, Vec<&'a PlannedChange>)>,
}

impl Group<'_> {
    pub fn summary(&self) -> Summary {
        Summary::of(self.kinds.iter().flat_map(|(_, cs)| cs.iter().copied()))
    }
}

/// The plan's changes by workspace: platform-wide first, then workspaces
/// by slug.
pub(super) fn groups(plan: &Plan) -> Vec<Group<'_>> {
    let mut by: BTreeMap<Option<&Slug>, BTreeMap<Kind, Vec<&PlannedChange>>> = BTreeMap::new();
    for c in &plan.changes {
        by.entry(c.change.workspace.as_ref())
            .or_default()
            .entry(c.change.kind)
            .or_default()
            .push(c);
    }
    by.into_iter()
        .map(|(workspace, kinds)| Group {
            workspace,
            kinds: kinds.into_iter().collect(),
        })
        .collect()
}

/// The heading line of a change, without colour: the action's symbol, the
/// action's word for adopt, rename and archive, and the resource path (for
/// a rename, the old path, an arrow and the new one).
pub(super) fn change_line(c: &Change) -> String {
    let word = match c.action {
        Action::Adopt | Action::Rename | Action::Archive => format!("{} ", verb(c.action)),
        _ => String::new(),
    };
    let what = match (&c.action, &c.from) {
        (Action::Rename, Some(from)) => format!("{from} -> {}", c.object),
        _ => c.object.to_string(),
    };
    format!("{} {word}{}", c.action.symbol(), clean(&what))
}

/// One changed field, ready to show.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum FieldView {
    /// A secret: neither value is shown; for API keys, whether one is
    /// added, removed or rotated.
    Sensitive {
        field: String,
        keys: Option<KeyChange>,
    },
    /// A value on a new object.
    New { field: String, value: String },
    /// `before -> after`.
    Scalar {
        field: String,
        before: String,
        after: String,
    },
    /// A long or multi-line string: unified diff lines (`---`, `+++`, `@@`
    /// and `+`/`-`/` ` lines), control characters escaped.
    Text { field: String, lines: Vec<String> },
    /// Two lists: shown as `before -> after` when short, else as the items
    /// added and removed.
    List {
        field: String,
        before: String,
        after: String,
        added: Vec<String>,
        removed: Vec<String>,
        unchanged: usize,
    },
}

impl FieldView {
    /// Whether a list is too long for one `before -> after` line.
    pub fn long_list(before: &str, after: &str) -> bool {
        before.chars().count() + after.chars().count() > LONG_LIST
    }
}

/// Fields of the desired object that identify it (they are in the resource
/// path) or are bookkeeping, left out when showing a new object.
const IDENTITY_FIELDS: &[&str] = &[
    "slug",
    "id",
    "email",
    "workspace",
    "user",
    "provider",
    "labels",
    "prevent_destroy",
    "quotas",
];

/// Fields of a desired object that hold secrets (references, but shown only
/// as changed all the same).
const SECRET_FIELDS: &[&str] = &["api_keys"];

/// The fields of a new object, from the desired object itself: (name,
/// value, sensitive), identity fields, labels and unset values left out.
pub(super) fn created_fields(c: &Change) -> Vec<(String, Value, bool)> {
    let object = c
        .desired
        .as_ref()
        .and_then(|d| serde_json::to_value(d).ok())
        .and_then(|v| v.get("object").cloned());
    let Some(Value::Object(map)) = object else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(k, v)| !IDENTITY_FIELDS.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| {
            let sensitive = SECRET_FIELDS.contains(&k.as_str());
            (k, v, sensitive)
        })
        .collect()
}

/// The fields of a change as views. A create whose diff carries no fields
/// shows the desired object's own fields (so a new membership shows its
/// roles); identity fields, labels and unset values are left out.
pub(super) fn field_views(c: &Change) -> Vec<FieldView> {
    let mut out = Vec::new();
    if c.action == Action::Create && c.fields.is_empty() {
        for (k, v, sensitive) in created_fields(c) {
            push_view(&mut out, k, &Value::Null, &v, sensitive, true);
        }
        return out;
    }
    let create = c.action == Action::Create;
    for f in &c.fields {
        if f.sensitive {
            out.push(FieldView::Sensitive {
                field: f.field.clone(),
                keys: f.keys,
            });
            continue;
        }
        push_view(
            &mut out,
            f.field.clone(),
            &f.before,
            &f.after,
            f.sensitive,
            create,
        );
    }
    out
}

fn push_view(
    out: &mut Vec<FieldView>,
    field: String,
    before: &Value,
    after: &Value,
    sensitive: bool,
    create: bool,
) {
    if sensitive {
        out.push(FieldView::Sensitive { field, keys: None });
        return;
    }
    if create {
        match after {
            Value::Null => {}
            Value::Object(map) => {
                for (k, v) in map {
                    push_view(out, format!("{field}.{k}"), &Value::Null, v, false, true);
                }
            }
            v => out.push(FieldView::New {
                field,
                value: show(v),
            }),
        }
        return;
    }
    // Maps (labels, rate limits) show key by key.
    let map = |v: &Value| match v {
        Value::Object(m) => Some(m.clone()),
        Value::Null => Some(serde_json::Map::new()),
        _ => None,
    };
    if (before.is_object() || after.is_object())
        && let (Some(b), Some(a)) = (map(before), map(after))
    {
        let keys = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k)));
        for k in keys {
            let (bv, av) = (
                b.get(k).unwrap_or(&Value::Null),
                a.get(k).unwrap_or(&Value::Null),
            );
            if bv != av {
                push_view(out, format!("{field}.{k}"), bv, av, false, false);
            }
        }
        return;
    }
    if (before.is_string() || after.is_string())
        && let (Some(b), Some(a)) = (text(before), text(after))
        && (long(b) || long(a))
    {
        let lines = unified(b, a);
        // Empty when the texts differ only by a final line end.
        if !lines.is_empty() {
            out.push(FieldView::Text { field, lines });
            return;
        }
    }
    if let (Value::Array(b), Value::Array(a)) = (before, after) {
        let added = a.iter().filter(|v| !b.contains(v)).map(item).collect();
        let removed = b.iter().filter(|v| !a.contains(v)).map(item).collect();
        let unchanged = a.iter().filter(|v| b.contains(v)).count();
        out.push(FieldView::List {
            field,
            before: show(before),
            after: show(after),
            added,
            removed,
            unchanged,
        });
        return;
    }
    out.push(FieldView::Scalar {
        field,
        before: show(before),
        after: show(after),
    });
}

/// A string value as text; nothing counts as the empty text.
fn text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Null => Some(""),
        _ => None,
    }
}

fn long(s: &str) -> bool {
    s.contains('\n') || s.chars().count() > LONG_STRING
}

/// A unified diff of two texts, one entry per line, without line ends.
/// Both texts get a final line end, so that a last line compares equal to
/// the same line followed by more; empty when they differ only by that.
fn unified(old: &str, new: &str) -> Vec<String> {
    let ended = |s: &str| {
        if s.is_empty() || s.ends_with('\n') {
            s.to_owned()
        } else {
            format!("{s}\n")
        }
    };
    let (old, new) = (ended(old), ended(new));
    let diff = TextDiff::from_lines(&old, &new);
    let text = diff
        .unified_diff()
        .context_radius(1)
        .missing_newline_hint(false)
        .header("live", "desired")
        .to_string();
    text.lines().map(clean).collect()
}

/// What a sensitive field shows: that it changed, and for API keys how.
pub(super) fn sensitive_text(keys: Option<KeyChange>) -> String {
    match keys {
        Some(k) => format!("key {} (sensitive values not shown)", k.what()),
        None => SENSITIVE_CHANGED.to_owned(),
    }
}

/// The line over a change's cascades, if it has any.
pub(super) fn cascades_line(c: &Change) -> Option<String> {
    if c.cascades.is_empty() {
        return None;
    }
    let how = match c.action {
        Action::Archive => "closed with it while it is archived",
        _ => "removed with it by the platform",
    };
    Some(format!(
        "cascades: {} object(s) {how}, no writes of their own",
        c.cascades.len()
    ))
}

/// The cascaded objects to name, and how many more there are.
pub(super) fn cascades_shown(c: &Change) -> (Vec<String>, usize) {
    let shown = c
        .cascades
        .iter()
        .take(CASCADES_SHOWN)
        .map(|id| clean(&id.to_string()))
        .collect();
    (shown, c.cascades.len().saturating_sub(CASCADES_SHOWN))
}

/// A value in one line: strings quoted (and escaped), lists and maps
/// compact, `(unset)` for nothing.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "(unset)".to_owned(),
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(item).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{}: {}", clean(k), show(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => other.to_string(),
    }
}

/// A list item: plain identifiers (roles, models, CIDRs) unquoted.
fn item(v: &Value) -> String {
    match v {
        Value::String(s) if plain(s) => s.clone(),
        other => show(other),
    }
}

fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@:/*+".contains(c))
}

fn quote(s: &str) -> String {
    // JSON string syntax escapes quotes, backslashes and control characters.
    clean(&serde_json::to_string(s).unwrap_or_default())
}

/// `s` with control characters (but tabs) and bidirectional overrides
/// escaped, so text from the files or the platform cannot drive a terminal
/// or hide what it says.
pub(super) fn clean(s: &str) -> String {
    if !s.chars().any(unsafe_char) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The endpoint as shown: credential-looking parts masked.
pub(super) fn endpoint(plan: &Plan) -> String {
    clean(&redact_text(&plan.endpoint))
}

/// ANSI styling, or none.
#[derive(Clone, Copy)]
struct Paint {
    color: bool,
}

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }

    fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }

    fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }

    fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }

    fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }

    fn cyan(self, s: &str) -> String {
        self.wrap("36", s)
    }

    fn action(self, action: Action, s: &str) -> String {
        match action {
            Action::Create => self.green(s),
            Action::Update | Action::Adopt | Action::Rename => self.yellow(s),
            Action::Archive | Action::Delete => self.red(s),
        }
    }

    /// A line of a unified diff, by its first character.
    fn diff_line(self, line: &str) -> String {
        if line.starts_with("---") || line.starts_with("+++") {
            self.bold(line)
        } else if line.starts_with("@@") {
            self.cyan(line)
        } else if line.starts_with('+') {
            self.green(line)
        } else if line.starts_with('-') {
            self.red(line)
        } else {
            line.to_owned()
        }
    }
}

const FIELD_INDENT: &str = "      ";
const DETAIL_INDENT: &str = "        ";

fn push_fields(out: &mut String, c: &Change, p: Paint) {
    for v in field_views(c) {
        match v {
            FieldView::Sensitive { field, keys } => {
                out.push_str(&format!(
                    "{FIELD_INDENT}{field}: {}\n",
                    sensitive_text(keys)
                ));
            }
            FieldView::New { field, value } => {
                out.push_str(&format!("{FIELD_INDENT}{field}: {value}\n"));
            }
            FieldView::Scalar {
                field,
                before,
                after,
            } => {
                out.push_str(&format!("{FIELD_INDENT}{field}: {before} -> {after}\n"));
            }
            FieldView::Text { field, lines } => {
                out.push_str(&format!("{FIELD_INDENT}{field}:\n"));
                for l in lines {
                    out.push_str(&format!("{DETAIL_INDENT}{}\n", p.diff_line(&l)));
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
                    out.push_str(&format!("{FIELD_INDENT}{field}: {before} -> {after}\n"));
                    continue;
                }
                out.push_str(&format!(
                    "{FIELD_INDENT}{field}: {} added, {} removed, {unchanged} unchanged\n",
                    added.len(),
                    removed.len()
                ));
                for a in added {
                    out.push_str(&format!("{DETAIL_INDENT}{}\n", p.green(&format!("+ {a}"))));
                }
                for r in removed {
                    out.push_str(&format!("{DETAIL_INDENT}{}\n", p.red(&format!("- {r}"))));
                }
            }
        }
    }
    if let Some(line) = cascades_line(c) {
        out.push_str(&format!("{FIELD_INDENT}{line}:\n"));
        let (shown, more) = cascades_shown(c);
        for id in shown {
            out.push_str(&format!("{DETAIL_INDENT}{}\n", p.red(&format!("- {id}"))));
        }
        if more > 0 {
            out.push_str(&format!("{DETAIL_INDENT}... and {more} more\n"));
        }
    }
}

/// One warning or refusal line: its tag, the object it is about, the
/// message and its code.
fn notice(
    p: Paint,
    tag: &str,
    object: Option<&crate::model::ObjectId>,
    message: &str,
    code: &str,
) -> String {
    let at = object
        .map(|r| format!("{}: ", clean(&r.to_string())))
        .unwrap_or_default();
    format!(
        "{tag} {at}{} {}\n",
        clean(message),
        p.dim(&format!("[{}]", clean(code)))
    )
}

/// One held change: what it would do, until when, and why.
pub fn held_line(h: &crate::plan::Held) -> String {
    let a = &h.acknowledgement;
    let reason = a
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let with = h
        .with
        .as_ref()
        .map(|p| format!(" (with {p})"))
        .unwrap_or_default();
    format!(
        "{} {}{with} until {}{reason}",
        verb(h.change.action),
        h.change.object,
        a.until
    )
}

/// One unmanaged membership: who, where, with which roles, and what it
/// grants that matters.
pub fn unmanaged_grant(g: &crate::model::UnmanagedGrant) -> String {
    let roles: Vec<&str> = g.roles.iter().map(|r| r.as_str()).collect();
    let what = g.what().map(|w| format!(" [{w}]")).unwrap_or_default();
    format!("{} as {}{what}", g.object, roles.join(", "))
}

/// Renders a plan for a terminal; ANSI colour only when `color` is true.
/// A plan without changes ends with exactly [`NO_CHANGES`].
pub fn render(plan: &Plan, color: bool) -> String {
    let p = Paint { color };
    // Blocks are separated by one blank line.
    let mut blocks: Vec<String> = Vec::new();

    // Refusals first: a reviewer must see what stops the apply before
    // anything else.
    if !plan.refusals.is_empty() {
        let mut b = String::new();
        for r in &plan.refusals {
            let tag = p.red(&p.bold("Refused:"));
            b.push_str(&notice(p, &tag, r.object.as_ref(), &r.message, &r.code));
            let how = match &r.lifted_by {
                Some(flag) => format!("run with {} to apply anyway", clean(flag)),
                None => "no flag lifts this; change the configuration".to_owned(),
            };
            b.push_str(&format!("         {how}\n"));
        }
        blocks.push(b);
    }

    if !plan.is_empty() {
        blocks.push(match plan.endpoint.strip_prefix(CONFIG_TERMS) {
            // `plan --base`: a comparison of two configs, not a platform.
            Some(since) => format!(
                "Changes since {} in config terms (profile {}):\n",
                clean(since),
                plan.profile
            ),
            None if !plan.options.only.is_empty() => format!(
                "tenet will make these changes at {} (profile {}), only in {}:\n",
                endpoint(plan),
                plan.profile,
                clean(&plan.options.only.join(", "))
            ),
            None => format!(
                "tenet will make these changes at {} (profile {}):\n",
                endpoint(plan),
                plan.profile
            ),
        });
        for g in groups(plan) {
            let mut b = match g.workspace {
                None => p.bold("platform"),
                Some(ws) => p.bold(&format!("workspace {ws}")),
            };
            b.push('\n');
            for (kind, changes) in &g.kinds {
                b.push_str(&format!("  {}\n", p.dim(&format!("# {}", kind.as_str()))));
                for c in changes {
                    let c = &c.change;
                    b.push_str(&format!("  {}\n", p.action(c.action, &change_line(c))));
                    push_fields(&mut b, c, p);
                }
            }
            blocks.push(b);
        }
    }

    let access = super::access::text(&plan.access);
    if !access.is_empty() {
        blocks.push(access);
    }
    let groups = super::access::groups_text(&plan.group_access);
    if !groups.is_empty() {
        blocks.push(groups);
    }

    if !plan.warnings.is_empty() {
        let mut b = String::new();
        for w in &plan.warnings {
            let tag = p.yellow(&p.bold("Warning:"));
            b.push_str(&notice(p, &tag, w.object.as_ref(), &w.message, &w.code));
        }
        blocks.push(b);
    }

    if !plan.not_adopted.is_empty() {
        let mut b = format!(
            "Not adopted: {} declared object(s) exist but are not managed by tenet; run with --adopt to take them over:\n",
            plan.not_adopted.len()
        );
        for r in &plan.not_adopted {
            b.push_str(&format!("  {}\n", clean(&r.to_string())));
        }
        blocks.push(b);
    }

    if !plan.unmanaged.is_empty() {
        let n = plan.unmanaged.len();
        let mut b = format!("Unmanaged: {n} live object(s) not managed by tenet are left alone:\n");
        for r in plan.unmanaged.iter().take(UNMANAGED_SHOWN) {
            b.push_str(&format!("  {}\n", clean(&r.to_string())));
        }
        if n > UNMANAGED_SHOWN {
            b.push_str(&format!("  ... and {} more\n", n - UNMANAGED_SHOWN));
        }
        blocks.push(b);
    }

    if !plan.acknowledged.is_empty() {
        let mut b = format!(
            "Acknowledged: {} difference(s) the files acknowledge are left alone (--include-acknowledged reverts them):\n",
            plan.acknowledged.len()
        );
        for h in &plan.acknowledged {
            b.push_str(&format!("  {}\n", clean(&held_line(h))));
        }
        blocks.push(b);
    }

    if !plan.unmanaged_access.is_empty() {
        let n = plan.unmanaged_access.len();
        let mut b = format!(
            "Unmanaged access: {n} membership(s) of declared workspaces are not in the files and are left alone:\n"
        );
        for g in plan.unmanaged_access.iter().take(UNMANAGED_SHOWN) {
            b.push_str(&format!("  {}\n", clean(&unmanaged_grant(g))));
        }
        if n > UNMANAGED_SHOWN {
            b.push_str(&format!("  ... and {} more\n", n - UNMANAGED_SHOWN));
        }
        blocks.push(b);
    }

    if !plan.unsupported.is_empty() {
        let kinds: Vec<&str> = plan.unsupported.iter().map(|k| k.as_str()).collect();
        blocks.push(format!(
            "Unsupported: the target cannot hold {}; these are not planned.\n",
            kinds.join(", ")
        ));
    }

    let last = if plan.is_empty() && !plan.not_adopted.is_empty() {
        format!(
            "No changes to make, but {} declared object(s) exist unmanaged and were left alone (see above; --adopt takes them over).",
            plan.not_adopted.len()
        )
    } else if plan.is_empty() && !plan.unmanaged_access.is_empty() {
        format!(
            "No changes to make, but {} membership(s) of declared workspaces are not in the files and were left alone (see above).",
            plan.unmanaged_access.len()
        )
    } else if plan.is_empty() {
        NO_CHANGES.to_owned()
    } else {
        p.bold(&Summary::of(&plan.changes).line())
    };
    blocks.push(format!("{last}\n"));
    blocks.join("\n")
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::json;

    use super::*;
    use crate::diff::{FieldChange, Object};
    use crate::model::{Email, Labels, Membership, Profile, User, UserStatus};
    use crate::plan::{Refusal, Warning};

    /// A credential-looking value in a field that is not sensitive: shown.
    pub const PLAIN_CANARY: &str = "sk-proj-CANARYplain0123456789abcdef";
    /// Planted in a sensitive field's values: never shown.
    pub const SECRET_CANARY: &str = "sk-proj-CANARYsecret0123456789abcdef";

    fn slug(s: &str) -> Slug {
        Slug::parse(s).unwrap()
    }

    fn field(name: &str, before: Value, after: Value, sensitive: bool) -> FieldChange {
        FieldChange {
            field: name.to_owned(),
            before,
            after,
            sensitive,
            keys: None,
        }
    }

    fn change(
        id: usize,
        resource: &str,
        kind: Kind,
        action: Action,
        workspace: Option<&str>,
        fields: Vec<FieldChange>,
        desired: Option<Object>,
    ) -> PlannedChange {
        PlannedChange {
            id,
            phase: id as u8,
            depends_on: if id > 0 { vec![0] } else { Vec::new() },
            change: Change {
                object: crate::model::ObjectId::parse(resource).unwrap(),
                kind,
                action,
                workspace: workspace.map(slug),
                fields,
                version: Some(crate::model::Stamp::Version(3)),
                desired,
                labels: Labels::new(),
                unset_labels: Vec::new(),
                cascades: Vec::new(),
                from: None,
            },
        }
    }

    pub fn empty_plan() -> Plan {
        Plan {
            format_version: crate::plan::FORMAT_VERSION,
            tool_version: "0.1.0".to_owned(),
            endpoint: "https://forge.acme.example".to_owned(),
            config_root: ".".to_owned(),
            profile: Profile::M3forge,
            config_digest: "sha256:00".to_owned(),
            git: None,
            live_objects: 0,
            others_digest: String::new(),
            changes: Vec::new(),
            unmanaged: Vec::new(),
            unmanaged_access: Vec::new(),
            acknowledged: Vec::new(),
            secret_fingerprints: BTreeMap::new(),
            options: Default::default(),
            not_adopted: Vec::new(),
            unsupported: Vec::new(),
            warnings: Vec::new(),
            refusals: Vec::new(),
            access: Vec::new(),
            group_access: Vec::new(),
        }
    }

    /// A create, a membership create, an update with a long multi-line
    /// description, a list change, a sensitive key change, an archive, a
    /// warning and a refusal.
    pub fn sample_plan() -> Plan {
        let ada = Email::parse("ada@acme.example").unwrap();
        let user = User {
            email: ada.clone(),
            name: Some("Ada Lovelace".to_owned()),
            status: UserStatus::Active,
            labels: Labels::new(),
            prevent_destroy: false,
            invitation: None,
        };
        let membership = Membership {
            workspace: slug("eng"),
            user: ada,
            roles: crate::model::RoleSet::from([slug("member")]),
        };
        let old_desc = "Engineering workspace.\nOwns the build pipeline.\nContact: platform team.";
        let new_desc = format!(
            "Engineering workspace.\nOwns the build and release pipelines.\nContact: platform team.\nToken: {PLAIN_CANARY}"
        );
        let mut plan = empty_plan();
        plan.changes = vec![
            change(
                0,
                "users/ada@acme.example",
                Kind::Users,
                Action::Create,
                None,
                Vec::new(),
                Some(Object::User(user)),
            ),
            change(
                1,
                "providers/openai",
                Kind::Providers,
                Action::Update,
                None,
                vec![field(
                    "api_keys",
                    json!(format!("1 key(s) {SECRET_CANARY}")),
                    json!(format!("2 key(s) {SECRET_CANARY}")),
                    true,
                )],
                None,
            ),
            change(
                2,
                "workspaces/eng",
                Kind::Workspaces,
                Action::Update,
                Some("eng"),
                vec![
                    field(
                        "name",
                        json!("Eng"),
                        json!("Engineering <core> | `build`"),
                        false,
                    ),
                    field("description", json!(old_desc), json!(new_desc), false),
                ],
                None,
            ),
            change(
                3,
                "workspaces/eng/memberships/bob@acme.example",
                Kind::Memberships,
                Action::Update,
                Some("eng"),
                vec![field(
                    "roles",
                    json!(["member"]),
                    json!(["administrator", "member"]),
                    false,
                )],
                None,
            ),
            change(
                4,
                "workspaces/eng/memberships/ada@acme.example",
                Kind::Memberships,
                Action::Create,
                Some("eng"),
                Vec::new(),
                Some(Object::Membership(membership)),
            ),
            change(
                5,
                "workspaces/legacy",
                Kind::Workspaces,
                Action::Archive,
                Some("legacy"),
                Vec::new(),
                None,
            ),
        ];
        plan.warnings = vec![Warning {
            code: "role-gains-permissions".to_owned(),
            message: "role `auditor` gains 2: prompts.test, credentials.read".to_owned(),
            object: crate::model::ObjectId::parse("roles/auditor"),
        }];
        plan.refusals = vec![Refusal {
            code: "destroy-threshold".to_owned(),
            message: "would archive 1 of 1 workspaces (100%)".to_owned(),
            object: None,
            lifted_by: Some("--allow-destroy".to_owned()),
        }];
        plan.not_adopted = crate::model::ObjectId::parse("users/carol@acme.example")
            .into_iter()
            .collect();
        plan.unmanaged = (0..7)
            .filter_map(|i| crate::model::ObjectId::parse(&format!("users/u{i}@acme.example")))
            .collect();
        plan.unsupported = vec![Kind::Settings];
        plan
    }

    #[test]
    fn no_changes_is_one_line() {
        assert_eq!(render(&empty_plan(), false), format!("{NO_CHANGES}\n"));
        assert_eq!(render(&empty_plan(), true), format!("{NO_CHANGES}\n"));
    }

    #[test]
    fn summary_line() {
        let out = render(&sample_plan(), false);
        assert!(
            out.ends_with("\nPlan: 2 to create, 3 to update, 1 to archive, 0 to delete.\n"),
            "{out}"
        );
        let mut s = Summary::default();
        s.add(Action::Adopt);
        assert_eq!(
            s.line(),
            "Plan: 0 to create, 0 to update, 1 to adopt, 0 to archive, 0 to delete."
        );
        assert_eq!(s.brief(), "1 to adopt");
    }

    #[test]
    fn layout() {
        let out = render(&sample_plan(), false);
        let platform = out.find("\nplatform\n").unwrap();
        let eng = out.find("\nworkspace eng\n").unwrap();
        let legacy = out.find("\nworkspace legacy\n").unwrap();
        assert!(platform < eng && eng < legacy, "{out}");
        for line in [
            "  # users\n  + users/ada@acme.example\n      name: \"Ada Lovelace\"\n      status: \"active\"\n",
            "  ~ providers/openai\n      api_keys: (sensitive value changed)\n",
            "      name: \"Eng\" -> \"Engineering <core> | `build`\"\n",
            "      description:\n        --- live\n        +++ desired\n        @@ -1,3 +1,4 @@\n",
            "        -Owns the build pipeline.\n        +Owns the build and release pipelines.\n",
            "      roles: [member] -> [administrator, member]\n",
            "  + workspaces/eng/memberships/ada@acme.example\n      roles: [member]\n",
            "  ! archive workspaces/legacy\n",
            "Warning: roles/auditor: role `auditor` gains 2: prompts.test, credentials.read [role-gains-permissions]\n",
            "Refused: would archive 1 of 1 workspaces (100%) [destroy-threshold]\n         run with --allow-destroy to apply anyway\n",
            "run with --adopt",
            "  users/carol@acme.example\n",
            "Unmanaged: 7 live object(s)",
            "  ... and 2 more\n",
            "Unsupported: the target cannot hold settings",
        ] {
            assert!(out.contains(line), "missing {line:?} in\n{out}");
        }
    }

    #[test]
    fn color_only_when_asked() {
        let plain = render(&sample_plan(), false);
        assert!(!plain.contains('\x1b'));
        let colored = render(&sample_plan(), true);
        assert!(colored.contains("\x1b[32m+ users/ada@acme.example\x1b[0m"));
        assert!(colored.contains("\x1b[31m! archive workspaces/legacy\x1b[0m"));
        assert!(colored.contains("\x1b[33m~ workspaces/eng\x1b[0m"));
    }

    #[test]
    fn secrets_only_where_not_sensitive() {
        for color in [false, true] {
            let out = render(&sample_plan(), color);
            assert!(out.contains(PLAIN_CANARY));
            assert!(!out.contains(SECRET_CANARY));
            assert!(!out.contains("key(s)"));
        }
    }

    #[test]
    fn escapes_terminal_controls() {
        let mut plan = sample_plan();
        plan.changes[2].change.fields[0].after = json!("evil\u{1b}[2J");
        plan.warnings[0].message = "bad\u{1b}]0;title\u{7}\u{202e}".to_owned();
        let out = render(&plan, false);
        assert!(!out.contains('\x1b') && !out.contains('\u{7}') && !out.contains('\u{202e}'));
    }

    #[test]
    fn maps_and_long_lists() {
        let c = change(
            0,
            "providers/openai",
            Kind::Providers,
            Action::Update,
            None,
            vec![
                field(
                    "rate_limits",
                    json!({"requests_per_minute": 60, "tokens_per_minute": null}),
                    json!({"requests_per_minute": 60, "tokens_per_minute": 1000}),
                    false,
                ),
                field(
                    "models",
                    json!([
                        "gpt-4o",
                        "gpt-4o-mini",
                        "o3",
                        "o4-mini",
                        "text-embedding-3-small"
                    ]),
                    json!([
                        "gpt-4.1",
                        "gpt-4o",
                        "gpt-4o-mini",
                        "o3",
                        "o4-mini",
                        "text-embedding-3-large"
                    ]),
                    false,
                ),
            ],
            None,
        );
        let mut out = String::new();
        push_fields(&mut out, &c.change, Paint { color: false });
        assert_eq!(
            out,
            "      rate_limits.tokens_per_minute: (unset) -> 1000\n\
             \x20     models: 2 added, 1 removed, 4 unchanged\n\
             \x20       + gpt-4.1\n\
             \x20       + text-embedding-3-large\n\
             \x20       - text-embedding-3-small\n"
        );
    }

    #[test]
    fn adopt_delete_and_new_provider() {
        use crate::model::{Provider, ProviderKind, ProviderScope, RateLimits, SecretRef};
        let provider = Provider {
            id: slug("anthropic"),
            name: None,
            kind: ProviderKind::Anthropic,
            endpoint: None,
            region: None,
            models: BTreeSet::from(["claude-sonnet".to_owned()]),
            api_keys: vec![SecretRef::parse("env:ANTHROPIC_KEY").unwrap()],
            rate_limits: RateLimits {
                requests_per_minute: Some(60),
                tokens_per_minute: None,
            },
            scope: ProviderScope::Global,
            labels: Labels::from([("team".to_owned(), "ml".to_owned())]),
            prevent_destroy: true,
        };
        let mut plan = empty_plan();
        plan.changes = vec![
            change(
                0,
                "providers/anthropic",
                Kind::Providers,
                Action::Create,
                None,
                Vec::new(),
                Some(Object::Provider(provider)),
            ),
            change(
                1,
                "users/bob@acme.example",
                Kind::Users,
                Action::Adopt,
                None,
                vec![field("name", json!(null), json!("Bob"), false)],
                None,
            ),
            change(
                2,
                "roles/old",
                Kind::Roles,
                Action::Delete,
                None,
                Vec::new(),
                None,
            ),
        ];
        let out = render(&plan, false);
        let want = "  # roles\n  - roles/old\n  # providers\n  + providers/anthropic\n      kind: \"anthropic\"\n      models: [claude-sonnet]\n      api_keys: (sensitive value changed)\n      rate_limits.requests_per_minute: 60\n      scope: \"global\"\n";
        assert!(out.contains(want), "{out}");
        assert!(
            out.contains(
                "  # users\n  ~ adopt users/bob@acme.example\n      name: (unset) -> \"Bob\"\n"
            ),
            "{out}"
        );
        assert!(!out.contains("ANTHROPIC_KEY") && !out.contains("team"));
        assert!(
            out.ends_with(
                "\nPlan: 1 to create, 0 to update, 1 to adopt, 0 to archive, 1 to delete.\n"
            ),
            "{out}"
        );
    }

    /// A user deleted with two memberships, a workspace archived with its
    /// contents, and keys added, removed and rotated.
    pub fn lifecycle_plan() -> Plan {
        let id = |s: &str| crate::model::ObjectId::parse(s).unwrap();
        let keys = |added, removed, kept| {
            let mut f = field("api_keys", json!("1 key(s)"), json!("2 key(s)"), true);
            f.keys = Some(KeyChange {
                added,
                removed,
                kept,
            });
            vec![f]
        };
        let mut plan = empty_plan();
        let mut ken = change(
            0,
            "users/ken@acme.example",
            Kind::Users,
            Action::Delete,
            None,
            Vec::new(),
            None,
        );
        ken.change.cascades = vec![
            id("workspaces/eng/memberships/ken@acme.example"),
            id("workspaces/hr/memberships/ken@acme.example"),
        ];
        let mut legacy = change(
            1,
            "workspaces/legacy",
            Kind::Workspaces,
            Action::Archive,
            Some("legacy"),
            Vec::new(),
            None,
        );
        legacy.change.cascades = (0..12)
            .map(|i| {
                id(&format!(
                    "workspaces/legacy/memberships/u{i:02}@acme.example"
                ))
            })
            .chain([id("workspaces/legacy/quotas")])
            .collect();
        plan.changes = vec![
            ken,
            legacy,
            change(
                2,
                "providers/a",
                Kind::Providers,
                Action::Update,
                None,
                keys(1, 0, 1),
                None,
            ),
            change(
                3,
                "providers/b",
                Kind::Providers,
                Action::Update,
                None,
                keys(0, 1, 1),
                None,
            ),
            change(
                4,
                "providers/c",
                Kind::Providers,
                Action::Update,
                None,
                keys(1, 1, 0),
                None,
            ),
        ];
        plan
    }

    #[test]
    fn cascades_are_listed_under_their_change() {
        let out = render(&lifecycle_plan(), false);
        assert!(
            out.contains(
                "  - users/ken@acme.example\n      cascades: 2 object(s) removed with it by the platform, no writes of their own:\n        - workspaces/eng/memberships/ken@acme.example\n        - workspaces/hr/memberships/ken@acme.example\n"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "  ! archive workspaces/legacy\n      cascades: 13 object(s) closed with it while it is archived, no writes of their own:\n        - workspaces/legacy/memberships/u00@acme.example\n"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "        - workspaces/legacy/memberships/u09@acme.example\n        ... and 3 more\n"
            ),
            "{out}"
        );
        // Cascades are no writes: the summary counts the two changes only.
        assert!(
            out.contains("0 to create, 3 to update, 1 to archive, 1 to delete."),
            "{out}"
        );
    }

    #[test]
    fn api_keys_say_whether_a_key_is_added_removed_or_rotated() {
        let out = render(&lifecycle_plan(), false);
        for (p, what) in [("a", "added"), ("b", "removed"), ("c", "rotated")] {
            let want = format!(
                "  ~ providers/{p}\n      api_keys: key {what} (sensitive values not shown)\n"
            );
            assert!(out.contains(&want), "missing {want:?} in\n{out}");
        }
        assert!(!out.contains("key(s)"), "{out}");
    }
}
