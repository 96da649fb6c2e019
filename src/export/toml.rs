//! The TOML form of an exported tree, written by hand so that it reads like
//! a person wrote it: one table per object with a blank line between, keys
//! quoted only when they must be (emails, label keys with `.` or `/`),
//! short lists and labels inline, long ones spread over lines, large counts
//! with `_` separators. Strings are TOML basic strings with every character
//! that needs it escaped, so any value round-trips.

use std::fmt::Write as _;

use super::{ProviderOut, RoleOut, Tree, UserOut, WorkspaceOut, kind_name, user_labels};
use crate::model::{Labels, ProviderScope, WorkspaceStatus};

/// Lines longer than this are spread out (lists) or split into a table
/// (labels).
const WIDTH: usize = 100;

/// A key, bare when TOML allows it (`A-Za-z0-9_-`), else quoted.
pub(super) fn key(s: &str) -> String {
    let bare = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { s.to_owned() } else { string(s) }
}

/// A basic string: `"` and `\` escaped, control characters as escapes.
pub(super) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An integer, with `_` between thousands from 1_000 up (as the examples
/// write counts).
pub(super) fn count(n: u64) -> String {
    let digits = n.to_string();
    if n < 1000 {
        return digits;
    }
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// A table header `[a.b."c"]`.
fn header(path: &[&str]) -> String {
    let parts: Vec<String> = path.iter().map(|p| key(p)).collect();
    format!("[{}]\n", parts.join("."))
}

/// `name = [..]`, on one line when it fits, else one item per line.
fn array<'a>(out: &mut String, name: &str, items: impl IntoIterator<Item = &'a String>) {
    let items: Vec<String> = items.into_iter().map(|s| string(s)).collect();
    let line = format!("{name} = [{}]", items.join(", "));
    if line.len() <= WIDTH {
        out.push_str(&line);
        out.push('\n');
    } else {
        let _ = writeln!(out, "{name} = [");
        for i in items {
            let _ = writeln!(out, "  {i},");
        }
        out.push_str("]\n");
    }
}

fn opt_string(out: &mut String, name: &str, value: Option<&String>) {
    if let Some(v) = value {
        let _ = writeln!(out, "{name} = {}", string(v));
    }
}

/// Labels: inline when the line fits. Otherwise returns them as a table to
/// write after the object's other keys (`[PATH.labels]`).
fn labels(out: &mut String, all: &Labels) -> Option<String> {
    let pairs: Vec<String> = user_labels(all)
        .map(|(k, v)| format!("{} = {}", key(k), string(v)))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let line = format!("labels = {{ {} }}", pairs.join(", "));
    if line.len() <= WIDTH {
        out.push_str(&line);
        out.push('\n');
        None
    } else {
        Some(pairs.join("\n") + "\n")
    }
}

fn prevent_destroy(out: &mut String, on: bool) {
    if on {
        out.push_str("prevent_destroy = true\n");
    }
}

/// A labels table that did not fit inline, after the object's keys.
fn labels_table(out: &mut String, path: &[&str], body: Option<String>) {
    if let Some(body) = body {
        let mut p = path.to_vec();
        p.push("labels");
        out.push('\n');
        out.push_str(&header(&p));
        out.push_str(&body);
    }
}

/// `tenet.toml`: platform, policy and security settings. Always TOML.
pub(super) fn root(tree: &Tree) -> String {
    let mut out = String::new();
    out.push_str(
        "# Exported from the live platform by `tenet export`. Review every file before\n\
         # committing it; `tenet plan` on this tree should report no changes.\n\
         # Every *.toml and *.kdl file below this directory is part of the config.\n\n",
    );
    out.push_str("[platform]\n");
    let _ = writeln!(out, "endpoint = {}", string(tree.endpoint));
    let _ = writeln!(out, "profile = {}", string(tree.profile.as_str()));
    out.push_str(if tree.archive {
        "\n[policy]\n\
         # A workspace removed from the files is archived (data kept), never deleted.\n\
         workspace_removal = \"archive\"\n"
    } else {
        "\n[policy]\n\
         # This platform cannot archive a workspace: one removed from the files is\n\
         # deleted (its groups go; the users stay).\n\
         workspace_removal = \"delete\"\n"
    });
    out.push_str(
        "# Refuse, without --allow-destroy, a plan that deletes more than 25% of the\n\
         # live objects of a kind, once that kind has at least 10 objects.\n\
         destroy_threshold_percent = 25\n\
         destroy_threshold_min_objects = 10\n\
         \n\
         # There is no [defaults.quotas]: each workspace states its quotas in full.\n",
    );
    if let Some(s) = tree.security {
        out.push_str("\n[settings.security]\n");
        if let Some(v) = s.session_timeout_minutes {
            let _ = writeln!(out, "session_timeout_minutes = {v}");
        }
        if let Some(v) = s.require_2fa {
            let _ = writeln!(out, "require_2fa = {v}");
        }
        if let Some(v) = s.email_verification {
            let _ = writeln!(out, "email_verification = {v}");
        }
        if let Some(list) = &s.ip_allowlist {
            array(&mut out, "ip_allowlist", list);
        }
        let p = &s.password_policy;
        let bools = [
            ("require_uppercase", p.require_uppercase),
            ("require_lowercase", p.require_lowercase),
            ("require_digit", p.require_digit),
            ("require_symbol", p.require_symbol),
        ];
        if p.min_length.is_some() || p.max_age_days.is_some() || bools.iter().any(|b| b.1.is_some())
        {
            out.push_str("\n[settings.security.password_policy]\n");
            if let Some(v) = p.min_length {
                let _ = writeln!(out, "min_length = {v}");
            }
            for (name, v) in bools {
                if let Some(v) = v {
                    let _ = writeln!(out, "{name} = {v}");
                }
            }
            if let Some(v) = p.max_age_days {
                let _ = writeln!(out, "max_age_days = {v}");
            }
        }
    }
    if let Some(b) = tree.branding {
        out.push_str("\n[settings.branding]\n");
        for (k, v) in branding_fields(b) {
            let _ = writeln!(out, "{k} = {}", string(&v));
        }
        for slot in crate::model::image::ImageSlot::ALL {
            let Some(d) = b.image(slot) else { continue };
            match tree
                .branding_images
                .iter()
                .find(|(f, ..)| *f == slot.field())
            {
                Some((field, path, _)) => {
                    let _ = writeln!(out, "{field} = {}", string(path));
                }
                None => {
                    let _ = writeln!(
                        out,
                        "# {} on the platform: image {d}, which it did not answer: save the file in this tree and name it here, or leave it unmanaged.",
                        slot.field()
                    );
                }
            }
        }
    }
    for i in &tree.identity_providers {
        identity_provider(&mut out, i);
    }
    out
}

/// `[settings.sso.providers.<name>]` and its group mappings.
fn identity_provider(out: &mut String, i: &super::IdentityProviderOut) {
    let idp = i.idp;
    let id = idp.id.as_str();
    let path = ["settings", "sso", "providers", id];
    out.push('\n');
    out.push_str(&header(&path));
    if let Some(n) = &idp.name {
        let _ = writeln!(out, "name = {}", string(n));
    }
    let _ = writeln!(out, "protocol = {}", string(idp.protocol.as_str()));
    if !idp.enabled {
        out.push_str("enabled = false\n");
    }
    if let Some(w) = &idp.workspace {
        let _ = writeln!(out, "workspace = {}", string(w.as_str()));
    }
    for (k, v) in [("issuer", &idp.issuer), ("client_id", &idp.client_id)] {
        if let Some(v) = v {
            let _ = writeln!(out, "{k} = {}", string(v));
        }
    }
    if let Some(var) = &i.secret_var {
        out.push_str("# The platform keeps only a fingerprint: set this variable to the secret.\n");
        let _ = writeln!(out, "client_secret = {}", string(&format!("env:{var}")));
    }
    if !idp.scopes.is_empty() {
        array(out, "scopes", &idp.scopes);
    }
    if let Some(u) = &idp.metadata_url {
        let _ = writeln!(out, "metadata_url = {}", string(u));
    }
    if let Some(f) = &i.metadata_file {
        let _ = writeln!(out, "metadata_file = {}", string(f));
    }
    if idp.jit_provisioning {
        out.push_str("jit_provisioning = true\n");
    }
    if i.prevent_destroy {
        out.push_str("prevent_destroy = true\n");
    }
    let body = labels(out, &idp.labels);
    labels_table(out, &path, body);
    for (group, grants) in &idp.groups {
        for (ws, grant) in grants {
            let gpath = [
                "settings",
                "sso",
                "providers",
                id,
                "groups",
                group,
                ws.as_str(),
            ];
            out.push('\n');
            out.push_str(&header(&gpath));
            if !grant.roles.is_empty() {
                let roles: Vec<String> = grant.roles.iter().map(ToString::to_string).collect();
                array(out, "roles", &roles);
            }
            if !grant.projects.is_empty() {
                let mut ppath = gpath.to_vec();
                ppath.push("projects");
                out.push('\n');
                out.push_str(&header(&ppath));
                for (p, roles) in &grant.projects {
                    let roles: Vec<String> = roles.iter().map(ToString::to_string).collect();
                    array(out, &key(p.as_str()), &roles);
                }
            }
        }
    }
}

/// The branding fields that are set, by name.
fn branding_fields(b: &crate::model::Branding) -> Vec<(&'static str, String)> {
    [
        ("display_name", b.display_name.clone()),
        ("accent_color", b.accent_color.clone()),
        ("login_headline", b.login_headline.clone()),
        ("login_tagline", b.login_tagline.clone()),
        (
            "support_email",
            b.support_email.as_ref().map(|e| e.to_string()),
        ),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect()
}

pub(super) fn users(users: &[UserOut]) -> String {
    let mut out = String::from(
        "# Every user of the platform. Emails are compared case-insensitively.\n\
         # A suspended user keeps their memberships but cannot log in.\n",
    );
    for u in users {
        let email = u.user.email.as_str();
        let path = ["users", email];
        out.push('\n');
        if u.invited {
            let _ = writeln!(out, "# {}", u.invitation_note());
        }
        out.push_str(&header(&path));
        opt_string(&mut out, "name", u.user.name.as_ref());
        if u.suspended {
            out.push_str("status = \"suspended\"\n");
        }
        if u.invited {
            out.push_str("status = \"invited\"\n");
            if let Some(m) = u.invitation_message() {
                let _ = writeln!(out, "invitation = {{ message = {} }}", string(m));
            }
        }
        let long = labels(&mut out, &u.user.labels);
        prevent_destroy(&mut out, u.prevent_destroy);
        labels_table(&mut out, &path, long);
    }
    out
}

pub(super) fn roles(roles: &[RoleOut]) -> String {
    let mut out = String::from(
        "# Custom roles. The built-in roles come from the platform's catalog and are\n\
         # not declared here.\n",
    );
    for r in roles {
        let id = r.role.id.as_str();
        let path = ["roles", id];
        out.push('\n');
        out.push_str(&header(&path));
        opt_string(&mut out, "name", r.role.name.as_ref());
        opt_string(&mut out, "description", r.role.description.as_ref());
        array(&mut out, "permissions", &r.role.permissions);
        let long = labels(&mut out, &r.role.labels);
        prevent_destroy(&mut out, r.prevent_destroy);
        labels_table(&mut out, &path, long);
    }
    out
}

pub(super) fn providers(providers: &[ProviderOut]) -> String {
    let mut out = String::from(
        "# LLM provider connections. tenet never writes API keys into files, so each\n\
         # key is an env: placeholder: set those variables to the key values before\n\
         # `tenet plan` or `tenet apply` (or point them at file:PATH secrets).\n",
    );
    for p in providers {
        let q = p.provider;
        let id = q.id.as_str();
        let path = ["providers", id];
        out.push('\n');
        out.push_str(&header(&path));
        opt_string(&mut out, "name", q.name.as_ref());
        let _ = writeln!(out, "kind = {}", string(kind_name(q.kind)));
        opt_string(&mut out, "endpoint", q.endpoint.as_ref());
        opt_string(&mut out, "region", q.region.as_ref());
        array(&mut out, "models", &q.models);
        if !p.key_vars.is_empty() {
            let _ = writeln!(
                out,
                "# Not exported: set {} to the key value{}.",
                p.key_vars.join(" and "),
                if p.key_vars.len() == 1 { "" } else { "s" }
            );
            let refs: Vec<String> = p.key_vars.iter().map(|v| format!("env:{v}")).collect();
            array(&mut out, "api_keys", &refs);
        }
        if q.scope == ProviderScope::Global {
            out.push_str("scope = \"global\"\n");
        }
        let long = labels(&mut out, &q.labels);
        prevent_destroy(&mut out, p.prevent_destroy);
        labels_table(&mut out, &path, long);
        let rl = &q.rate_limits;
        if rl.requests_per_minute.is_some() || rl.tokens_per_minute.is_some() {
            out.push('\n');
            out.push_str(&header(&["providers", id, "rate_limits"]));
            if let Some(v) = rl.requests_per_minute {
                let _ = writeln!(out, "requests_per_minute = {}", count(v));
            }
            if let Some(v) = rl.tokens_per_minute {
                let _ = writeln!(out, "tokens_per_minute = {}", count(v));
            }
        }
    }
    out
}

/// A workspace's settings that are set, by field name.
pub(super) fn settings_fields(s: &crate::model::WorkspaceSettings) -> Vec<(&'static str, String)> {
    [
        ("theme", s.theme.map(|t| t.as_str().to_owned())),
        ("language", s.language.clone()),
        ("timezone", s.timezone.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect()
}

pub(super) fn workspace(w: &WorkspaceOut) -> String {
    let ws = w.workspace;
    let slug = ws.slug.as_str();
    let path = ["workspaces", slug];
    let mut out = String::new();
    out.push_str(&header(&path));
    opt_string(&mut out, "name", ws.name.as_ref());
    opt_string(&mut out, "description", ws.description.as_ref());
    if ws.status == WorkspaceStatus::Archived {
        out.push_str("status = \"archived\"\n");
    }
    let long = labels(&mut out, &ws.labels);
    prevent_destroy(&mut out, w.prevent_destroy);
    labels_table(&mut out, &path, long);

    let quotas: Vec<(&str, u64)> = w
        .quotas
        .fields()
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let settings = settings_fields(&ws.settings);
    if !settings.is_empty() {
        out.push('\n');
        out.push_str(&header(&["workspaces", slug, "settings"]));
        for (k, v) in settings {
            let _ = writeln!(out, "{k} = {}", string(&v));
        }
    }

    if !quotas.is_empty() {
        out.push('\n');
        out.push_str("# The limits as they are live; a limit not listed here is unlimited.\n");
        out.push_str(&header(&["workspaces", slug, "quotas"]));
        for (k, v) in quotas {
            let _ = writeln!(out, "{k} = {}", count(v));
        }
    }

    if !w.members.is_empty() {
        out.push('\n');
        out.push_str(&header(&["workspaces", slug, "members"]));
        for (email, roles) in &w.members {
            let roles: Vec<String> = roles.iter().map(|r| string(r.as_str())).collect();
            let _ = writeln!(out, "{} = [{}]", string(email.as_str()), roles.join(", "));
        }
    }

    for a in &w.providers {
        out.push('\n');
        out.push_str(&header(&[
            "workspaces",
            slug,
            "providers",
            a.provider.as_str(),
        ]));
        if let Some(models) = &a.models {
            array(&mut out, "models", models);
        }
        if a.default {
            out.push_str("default = true\n");
        }
    }

    for p in &w.projects {
        let q = p.project;
        let path = ["workspaces", slug, "projects", q.slug.as_str()];
        out.push('\n');
        out.push_str(&header(&path));
        opt_string(&mut out, "name", p.name);
        opt_string(&mut out, "description", q.description.as_ref());
        if q.status == WorkspaceStatus::Archived {
            out.push_str("status = \"archived\"\n");
        }
        let long = labels(&mut out, &q.labels);
        prevent_destroy(&mut out, p.prevent_destroy);
        labels_table(&mut out, &path, long);
        let limits = token_limits(&q.quotas);
        if !limits.is_empty() {
            out.push('\n');
            let mut quotas = path.to_vec();
            quotas.push("quotas");
            out.push_str(&header(&quotas));
            out.push_str(&limits);
        }
        if !q.members.is_empty() {
            out.push('\n');
            let mut members = path.to_vec();
            members.push("members");
            out.push_str(&header(&members));
            for (email, roles) in &q.members {
                let roles: Vec<String> = roles.iter().map(|r| string(r.as_str())).collect();
                let _ = writeln!(out, "{} = [{}]", string(email.as_str()), roles.join(", "));
            }
        }
    }
    budgets(&mut out, slug, w);
    out
}

/// `tokens_per_day = 100_000` lines for the limits that are set.
fn token_limits(q: &crate::model::TokenQuotas) -> String {
    q.fields()
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} = {}\n", count(v))))
        .collect()
}

/// Members' token budgets and top-ups, after a workspace's projects.
fn budgets(out: &mut String, slug: &str, w: &WorkspaceOut) {
    for (email, q) in &w.member_quotas {
        out.push('\n');
        out.push_str(&header(&[
            "workspaces",
            slug,
            "member_quotas",
            email.as_str(),
        ]));
        out.push_str(&token_limits(q));
    }
    for t in &w.top_ups {
        let path = ["workspaces", slug, "top_ups", t.id.as_str()];
        out.push('\n');
        out.push_str(&header(&path));
        let _ = writeln!(out, "tokens = {}", count(t.tokens));
        let _ = writeln!(out, "expires = {}", string(&t.expires));
        if let Some(p) = &t.project {
            let _ = writeln!(out, "project = {}", string(p.as_str()));
        }
        if let Some(u) = &t.user {
            let _ = writeln!(out, "user = {}", string(u.as_str()));
        }
        opt_string(out, "reason", t.reason.as_ref());
        let long = labels(out, &t.labels);
        labels_table(out, &path, long);
    }
    for k in &w.api_keys {
        let path = ["workspaces", slug, "api_keys", k.id.as_str()];
        out.push('\n');
        out.push_str(&header(&path));
        opt_string(out, "name", k.name.as_ref());
        let _ = writeln!(out, "owner = {}", string(k.owner.as_str()));
        array(out, "permissions", &k.permissions);
        opt_string(out, "expires", k.expires.as_ref());
        if let Some(d) = k.rotate_every_days {
            let _ = writeln!(out, "rotate_every_days = {d}");
        }
        out.push_str(
            "# Where a new value goes is not on the platform: set sink = \"file:PATH\" or \"stdout\".\n",
        );
        let long = labels(out, &k.labels);
        labels_table(out, &path, long);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_keys() {
        assert_eq!(key("cost-center"), "cost-center");
        assert_eq!(key("app.example/team"), "\"app.example/team\"");
        assert_eq!(key("o'brien+x@acme.example"), "\"o'brien+x@acme.example\"");
        assert_eq!(
            string("say \"hi\"\\\n\u{1}"),
            "\"say \\\"hi\\\"\\\\\\n\\u0001\""
        );
        assert_eq!(count(999), "999");
        assert_eq!(count(5000), "5_000");
        assert_eq!(count(1_000_000), "1_000_000");
        assert_eq!(count(240_000), "240_000");
    }
}
