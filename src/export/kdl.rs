//! The KDL (version 2) form of an exported tree, in the style of
//! `examples/acme-kdl`: one node per object with a blank line between,
//! short fields as properties or arguments, long lists as `-` children,
//! booleans as `#true`/`#false`. Identifier-like strings (slugs, models,
//! permissions, label values such as `cc-1200`) are written bare; names,
//! descriptions, emails, URLs, secret references and anything else that is
//! not plainly an identifier are quoted, with every character that needs it
//! escaped, so any value round-trips.

use std::fmt::Write as _;

use super::{ProviderOut, RoleOut, UserOut, WorkspaceOut, kind_name, user_labels};
use crate::model::{Labels, ProviderScope, WorkspaceStatus};

/// Nodes longer than this put their list items or properties in children.
const WIDTH: usize = 100;
const INDENT: &str = "    ";

/// A quoted string; `"` and `\` escaped, and every character KDL does not
/// allow literally (controls, newlines, direction marks, BOM) as `\u{..}` or
/// a short escape.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control()
                || matches!(c, '\u{200E}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{2028}' | '\u{2029}' | '\u{85}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A string bare when it is plainly an identifier (an ASCII letter, then
/// letters, digits, `.`, `_` and `-`, and not a keyword), else quoted.
pub fn value(s: &str) -> String {
    let mut chars = s.chars();
    let bare = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !matches!(s, "true" | "false" | "null" | "inf" | "nan");
    if bare { s.to_owned() } else { quoted(s) }
}

fn boolean(b: bool) -> &'static str {
    if b { "#true" } else { "#false" }
}

/// A KDL node, its parts already rendered.
#[derive(Default)]
struct Node {
    comments: Vec<String>,
    blank_before: bool,
    name: String,
    args: Vec<String>,
    props: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Node {
    fn new(name: &str) -> Node {
        Node {
            name: name.to_owned(),
            ..Node::default()
        }
    }

    fn arg(mut self, a: String) -> Node {
        self.args.push(a);
        self
    }

    fn prop(mut self, k: &str, v: String) -> Node {
        self.props.push((value(k), v));
        self
    }

    fn blank(mut self) -> Node {
        self.blank_before = true;
        self
    }

    fn comment(mut self, c: String) -> Node {
        self.comments.push(c);
        self
    }

    fn child(&mut self, n: Node) {
        self.children.push(n);
    }

    /// The first line, without indentation or braces.
    fn head(&self) -> String {
        let mut line = self.name.clone();
        for a in &self.args {
            line.push(' ');
            line.push_str(a);
        }
        for (k, v) in &self.props {
            let _ = write!(line, " {k}={v}");
        }
        line
    }

    fn render(&self, depth: usize, out: &mut String) {
        let pad = INDENT.repeat(depth);
        if self.blank_before && !out.is_empty() && !out.ends_with("{\n") {
            out.push('\n');
        }
        for c in &self.comments {
            let _ = writeln!(out, "{pad}// {c}");
        }
        out.push_str(&pad);
        out.push_str(&self.head());
        if self.children.is_empty() {
            out.push('\n');
            return;
        }
        out.push_str(" {\n");
        for c in &self.children {
            c.render(depth + 1, out);
        }
        let _ = writeln!(out, "{pad}}}");
    }
}

/// A list field: arguments when the line fits at `depth`, else `-` children.
fn list<'a>(name: &str, items: impl IntoIterator<Item = &'a String>, depth: usize) -> Node {
    let items: Vec<String> = items.into_iter().map(|s| value(s)).collect();
    let mut n = Node::new(name);
    let len = INDENT.len() * depth + name.len() + items.iter().map(|i| i.len() + 1).sum::<usize>();
    if len <= WIDTH {
        n.args = items;
    } else {
        n.children = items.into_iter().map(|i| Node::new("-").arg(i)).collect();
    }
    n
}

/// A map or object of simple values: properties when the line fits, else
/// one child per entry.
fn map(name: &str, entries: Vec<(String, String)>, depth: usize) -> Node {
    let mut n = Node::new(name);
    let len = INDENT.len() * depth
        + name.len()
        + entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>();
    if len <= WIDTH {
        n.props = entries;
    } else {
        n.children = entries
            .into_iter()
            .map(|(k, v)| Node::new(&k).arg(v))
            .collect();
    }
    n
}

fn labels(all: &Labels, depth: usize) -> Option<Node> {
    let entries: Vec<(String, String)> = user_labels(all)
        .map(|(k, v)| (value(k), value(v)))
        .collect();
    (!entries.is_empty()).then(|| map("labels", entries, depth))
}

/// A count, with `_` between thousands from 1_000 up.
fn count(n: u64) -> String {
    super::toml::count(n)
}

fn render_all(header: &str, nodes: &[Node]) -> String {
    let mut out = String::from(header);
    for n in nodes {
        n.render(0, &mut out);
    }
    out
}

pub(super) fn users(users: &[UserOut]) -> String {
    let mut nodes = Vec::new();
    let mut previous_block = true;
    for u in users {
        let mut n = Node::new("user").arg(quoted(u.user.email.as_str()));
        if let Some(name) = &u.user.name {
            n = n.prop("name", quoted(name));
        }
        if u.suspended {
            n = n.prop("status", "suspended".to_owned());
        }
        if u.invited {
            n = n.prop("status", "invited".to_owned());
        }
        if u.prevent_destroy {
            n = n.prop("prevent_destroy", boolean(true).to_owned());
        }
        if let Some(m) = u.invitation_message() {
            n.child(Node::new("invitation").prop("message", quoted(m)));
        }
        if let Some(l) = labels(&u.user.labels, 1) {
            n.child(l);
        }
        if u.invited {
            n = n.comment(u.invitation_note());
        }
        // One line per user; a user with a block stands apart.
        let block = !n.children.is_empty() || !n.comments.is_empty();
        n.blank_before = block || previous_block;
        previous_block = block;
        nodes.push(n);
    }
    render_all(
        "// Every user of the platform. Emails are compared case-insensitively.\n\
         // A suspended user keeps their memberships but cannot log in.\n",
        &nodes,
    )
}

pub(super) fn roles(roles: &[RoleOut]) -> String {
    let nodes: Vec<Node> = roles
        .iter()
        .map(|r| {
            let role = r.role;
            let mut n = Node::new("role").arg(value(role.id.as_str())).blank();
            if let Some(name) = &role.name {
                n.child(Node::new("name").arg(quoted(name)));
            }
            if let Some(d) = &role.description {
                n.child(Node::new("description").arg(quoted(d)));
            }
            n.child(list("permissions", &role.permissions, 1));
            if let Some(l) = labels(&role.labels, 1) {
                n.child(l);
            }
            if r.prevent_destroy {
                n.child(Node::new("prevent_destroy").arg(boolean(true).into()));
            }
            n
        })
        .collect();
    render_all(
        "// Custom roles. The built-in roles come from the platform's catalog and are\n\
         // not declared here.\n",
        &nodes,
    )
}

pub(super) fn providers(providers: &[ProviderOut]) -> String {
    let nodes: Vec<Node> = providers
        .iter()
        .map(|p| {
            let q = p.provider;
            let mut n = Node::new("provider").arg(value(q.id.as_str())).blank();
            if let Some(name) = &q.name {
                n.child(Node::new("name").arg(quoted(name)));
            }
            n.child(Node::new("kind").arg(kind_name(q.kind).to_owned()));
            if let Some(e) = &q.endpoint {
                n.child(Node::new("endpoint").arg(quoted(e)));
            }
            if let Some(r) = &q.region {
                n.child(Node::new("region").arg(value(r)));
            }
            n.child(list("models", &q.models, 1));
            if !p.key_vars.is_empty() {
                let mut keys = Node::new("api_keys").comment(format!(
                    "Not exported: set {} to the key value{}.",
                    p.key_vars.join(" and "),
                    if p.key_vars.len() == 1 { "" } else { "s" }
                ));
                keys.args = p
                    .key_vars
                    .iter()
                    .map(|v| quoted(&format!("env:{v}")))
                    .collect();
                n.child(keys);
            }
            if q.scope == ProviderScope::Global {
                n.child(Node::new("scope").arg("global".into()));
            }
            if let Some(l) = labels(&q.labels, 1) {
                n.child(l);
            }
            let rl = &q.rate_limits;
            let limits: Vec<(String, String)> = [
                ("requests_per_minute", rl.requests_per_minute),
                ("tokens_per_minute", rl.tokens_per_minute),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), count(v))))
            .collect();
            if !limits.is_empty() {
                n.child(map("rate_limits", limits, 1));
            }
            if p.prevent_destroy {
                n.child(Node::new("prevent_destroy").arg(boolean(true).into()));
            }
            n
        })
        .collect();
    render_all(
        "// LLM provider connections. tenet never writes API keys into files, so each\n\
         // key is an env: placeholder: set those variables to the key values before\n\
         // `tenet plan` or `tenet apply` (or point them at file:PATH secrets).\n",
        &nodes,
    )
}

pub(super) fn workspace(w: &WorkspaceOut) -> String {
    let ws = w.workspace;
    let mut n = Node::new("workspace").arg(value(ws.slug.as_str()));
    if let Some(name) = &ws.name {
        n.child(Node::new("name").arg(quoted(name)));
    }
    if let Some(d) = &ws.description {
        n.child(Node::new("description").arg(quoted(d)));
    }
    if ws.status == WorkspaceStatus::Archived {
        n.child(Node::new("status").arg("archived".into()));
    }
    if let Some(l) = labels(&ws.labels, 1) {
        n.child(l);
    }
    if w.prevent_destroy {
        n.child(Node::new("prevent_destroy").arg(boolean(true).into()));
    }

    let quotas: Vec<(String, String)> = w
        .quotas
        .fields()
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), count(v))))
        .collect();
    let settings: Vec<(String, String)> = super::toml::settings_fields(&ws.settings)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), quoted(&v)))
        .collect();
    if !settings.is_empty() {
        n.child(map("settings", settings, 1));
    }
    if !quotas.is_empty() {
        n.child(
            map("quotas", quotas, 1).blank().comment(
                "The limits as they are live; a limit not listed here is unlimited.".into(),
            ),
        );
    }

    for (i, (email, roles)) in w.members.iter().enumerate() {
        let mut m = Node::new("member").arg(quoted(email.as_str()));
        m.args.extend(roles.iter().map(|r| value(r.as_str())));
        m.blank_before = i == 0;
        n.child(m);
    }

    for (i, a) in w.providers.iter().enumerate() {
        let mut p = Node::new("provider").arg(value(a.provider.as_str()));
        p.blank_before = i == 0;
        if a.default {
            p = p.prop("default", boolean(true).into());
        }
        if let Some(models) = &a.models {
            p.child(list("models", models, 2));
        }
        n.child(p);
    }

    for p in &w.projects {
        let q = p.project;
        let mut pn = Node::new("project").arg(value(q.slug.as_str()));
        pn.blank_before = true;
        if let Some(name) = p.name {
            pn.child(Node::new("name").arg(quoted(name)));
        }
        if let Some(d) = &q.description {
            pn.child(Node::new("description").arg(quoted(d)));
        }
        if q.status == WorkspaceStatus::Archived {
            pn.child(Node::new("status").arg("archived".into()));
        }
        if let Some(l) = labels(&q.labels, 2) {
            pn.child(l);
        }
        if p.prevent_destroy {
            pn.child(Node::new("prevent_destroy").arg(boolean(true).into()));
        }
        let limits = token_limits(&q.quotas);
        if !limits.is_empty() {
            pn.child(map("quotas", limits, 2));
        }
        for (email, roles) in &q.members {
            let mut m = Node::new("member").arg(quoted(email.as_str()));
            m.args.extend(roles.iter().map(|r| value(r.as_str())));
            pn.child(m);
        }
        n.child(pn);
    }
    for (i, (email, q)) in w.member_quotas.iter().enumerate() {
        let mut m = Node::new("member_quota").arg(quoted(email.as_str()));
        for (k, v) in token_limits(q) {
            m = m.prop(&k, v);
        }
        m.blank_before = i == 0;
        n.child(m);
    }
    for t in &w.top_ups {
        let mut tn = Node::new("top_up").arg(value(t.id.as_str()));
        tn.blank_before = true;
        tn.child(Node::new("tokens").arg(count(t.tokens)));
        tn.child(Node::new("expires").arg(quoted(&t.expires)));
        if let Some(p) = &t.project {
            tn.child(Node::new("project").arg(value(p.as_str())));
        }
        if let Some(u) = &t.user {
            tn.child(Node::new("user").arg(quoted(u.as_str())));
        }
        if let Some(r) = &t.reason {
            tn.child(Node::new("reason").arg(quoted(r)));
        }
        if let Some(l) = labels(&t.labels, 2) {
            tn.child(l);
        }
        n.child(tn);
    }
    for k in &w.api_keys {
        let mut kn = Node::new("api_key").arg(value(k.id.as_str()));
        kn.blank_before = true;
        if let Some(name) = &k.name {
            kn.child(Node::new("name").arg(quoted(name)));
        }
        kn.child(Node::new("owner").arg(quoted(k.owner.as_str())));
        let mut perms = Node::new("permissions");
        for p in &k.permissions {
            perms = perms.arg(quoted(p));
        }
        kn.child(perms);
        if let Some(e) = &k.expires {
            kn.child(Node::new("expires").arg(quoted(e)));
        }
        if let Some(d) = k.rotate_every_days {
            kn.child(Node::new("rotate_every_days").arg(d.to_string()));
        }
        if let Some(l) = labels(&k.labels, 2) {
            kn.child(l);
        }
        n.child(kn);
    }
    let mut out = String::new();
    n.render(0, &mut out);
    out
}

/// The token limits that are set, as (name, value) pairs.
fn token_limits(q: &crate::model::TokenQuotas) -> Vec<(String, String)> {
    q.fields()
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), count(v))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(value("cc-1200"), "cc-1200");
        assert_eq!(value("gpt-4o"), "gpt-4o");
        assert_eq!(value("prompts.*"), "\"prompts.*\"");
        assert_eq!(value("true"), "\"true\"");
        assert_eq!(value("1200"), "\"1200\"");
        assert_eq!(value("a b"), "\"a b\"");
        assert_eq!(value(""), "\"\"");
        assert_eq!(
            quoted("say \"hi\"\\\n\u{1}"),
            "\"say \\\"hi\\\"\\\\\\n\\u{1}\""
        );
    }
}
