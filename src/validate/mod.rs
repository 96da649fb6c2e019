//! Semantic validation: what the schema cannot say. References (members name
//! declared users and known roles, assignments name declared providers and
//! only models those offer), permissions and wildcards against the catalog,
//! the administrator invariant, quota bounds, labels and network ranges.
//! Every check reads the normalized model for meaning and the document for
//! positions, and every problem becomes one diagnostic with a span and, where
//! one helps, a "did you mean".
//!
//! Every check is linear in the size of the config (plus sorting): it has to
//! stay fast at 100,000 users.

mod api_keys;
pub mod fit;
mod limits;
mod previously;
mod sso;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashSet;

use crate::config::Loaded;
use crate::config::document::{Declared, LabelsDoc, QuotasDoc, fold_email};
use crate::config::spans::push;
use crate::diagnostic::{Diagnostic, closest};
use crate::model::{
    Assignment, Catalog, Config, Membership, ProviderScope, RoleScope, Slug, UserStatus,
    WorkspaceStatus, normalize_cidr,
};

pub use limits::QUOTA_LIMITS;

/// "Did you mean" hints are computed for this many problems of one kind;
/// past that a broken file would make hints quadratic.
const MAX_HINTS: usize = 64;

/// Label keys with this prefix belong to tenet (managed marker, digests).
pub const RESERVED_LABEL_PREFIX: &str = "tenet.dev/";

struct Checker<'a> {
    loaded: &'a Loaded,
    config: &'a Config,
    catalog: &'a Catalog,
    /// Declared users (folded emails) and known roles, for lookups by the
    /// million.
    known_users: &'a HashSet<&'a str>,
    known_roles: &'a HashSet<&'a str>,
    /// Memberships and assignments grouped by workspace, built once.
    members: &'a BTreeMap<&'a Slug, Vec<&'a Membership>>,
    assignments: &'a BTreeMap<&'a Slug, Vec<&'a Assignment>>,
    diags: Vec<Diagnostic>,
    hints: usize,
    /// Every file parsed: checks that need the whole tree may run.
    complete: bool,
}

/// Runs every semantic check.
pub fn check(loaded: &Loaded, config: &Config, catalog: &Catalog) -> Vec<Diagnostic> {
    let mut members: BTreeMap<&Slug, Vec<&Membership>> = BTreeMap::new();
    for ((ws, _), m) in &config.state.memberships {
        members.entry(ws).or_default().push(m);
    }
    let mut assignments: BTreeMap<&Slug, Vec<&Assignment>> = BTreeMap::new();
    for ((ws, _), a) in &config.state.assignments {
        assignments.entry(ws).or_default().push(a);
    }
    let doc = &loaded.document;
    let known_users: HashSet<&str> = doc.users.keys().map(String::as_str).collect();
    let known_roles: HashSet<&str> = catalog
        .roles
        .iter()
        .map(|r| r.id.as_str())
        .chain(doc.roles.keys().map(String::as_str))
        .collect();
    let mut c = Checker {
        loaded,
        config,
        catalog,
        known_users: &known_users,
        known_roles: &known_roles,
        members: &members,
        assignments: &assignments,
        diags: Vec::new(),
        hints: 0,
        complete: loaded.unparsed.is_empty(),
    };
    if !c.complete {
        c.diags.push(
            Diagnostic::warning(
                "tenet::files::incomplete",
                format!(
                    "{} could not be loaded, so references and administrators were not checked",
                    loaded
                        .unparsed
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_help(
                "fix the errors in those files; the checks that need every declaration run then",
            ),
        );
    }
    c.users();
    c.roles();
    c.teams();
    c.workspaces();
    c.defaults();
    c.settings();
    c.sso();
    c.labels();
    c.previously();
    c.diags
}

impl<'a> Checker<'a> {
    /// An invitation belongs to a user declared invited.
    fn users(&mut self) {
        for d in self.loaded.document.users.values() {
            let Some(u) = &d.value else { continue };
            if u.invitation.is_some() && u.status.as_deref() != Some("invited") {
                let (file, span) = self.at(d, &["invitation"], true);
                self.diags.push(
                    Diagnostic::error(
                        "tenet::user::invitation-not-invited",
                        format!(
                            "user `{}` has an invitation but its status is {}",
                            d.key,
                            u.status.as_deref().unwrap_or("active (the default)")
                        ),
                    )
                    .with_label(file, span, "only an invited user gets one")
                    .with_help("set status = \"invited\" (the invitation is sent when the user is created), or remove the invitation"),
                );
            }
        }
    }

    /// The same checker with no problems found yet and its own hint budget,
    /// for a part of the tree checked on another core.
    fn fork(&self) -> Checker<'a> {
        Checker {
            diags: Vec::new(),
            hints: 0,
            ..*self
        }
    }

    /// The closest candidate, while the hint budget lasts.
    fn suggest<'c>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) -> Option<&'c str> {
        self.hints += 1;
        if self.hints > MAX_HINTS {
            return None;
        }
        closest(word, candidates)
    }

    /// "did you mean `x`?", while the hint budget lasts.
    fn hint<'c>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) -> Option<String> {
        self.suggest(word, candidates)
            .map(|c| format!("did you mean `{c}`?"))
    }

    fn at<T>(&self, d: &Declared<T>, sub: &[&str], key: bool) -> (usize, std::ops::Range<usize>) {
        let pointer = sub.iter().fold(d.pointer.clone(), |p, t| push(&p, t));
        let span = if key {
            self.loaded.key_span(d.file, &pointer)
        } else {
            self.loaded.value_span(d.file, &pointer)
        };
        (d.file, span)
    }

    fn role_exists(&self, id: &str) -> bool {
        self.known_roles.contains(id)
    }

    fn role_candidates(&self) -> Vec<&'a str> {
        let (catalog, loaded) = (self.catalog, self.loaded);
        catalog
            .roles
            .iter()
            .map(|r| r.id.as_str())
            .chain(loaded.document.roles.keys().map(String::as_str))
            .collect()
    }

    /// Reports every unknown role in a role list.
    /// `whose` names the holder, made only for a problem.
    fn role_list<T>(
        &mut self,
        d: &Declared<T>,
        sub: &[&str],
        roles: &[String],
        whose: impl Fn() -> String,
    ) {
        let scoped = self.catalog.projects.is_some();
        for (i, role) in roles.iter().enumerate() {
            if scoped && self.catalog.scope_of(role) == RoleScope::Project {
                let idx = i.to_string();
                let mut path = sub.to_vec();
                path.push(&idx);
                let (file, span) = self.at(d, &path, false);
                self.diags.push(
                    Diagnostic::error(
                        "tenet::role::project-role",
                        format!("`{role}` is a project role, not one of a workspace ({})", whose()),
                    )
                    .with_label(file, span, "held in projects only")
                    .with_help(format!(
                        "give a workspace role here ({}), and `{role}` in the members of a project: [workspaces.<slug>.projects.<project>.members]",
                        self.workspace_roles()
                    )),
                );
                continue;
            }
            if self.role_exists(role) || !self.complete {
                continue;
            }
            let whose = whose();
            let idx = i.to_string();
            let mut path = sub.to_vec();
            path.push(&idx);
            let (file, span) = self.at(d, &path, false);
            let candidates = self.role_candidates();
            let admins = &self.catalog.administrator_roles;
            let admin_hint = role.contains("admin") && !admins.iter().any(|a| a.contains("admin"));
            let help = if admin_hint {
                Some(format!(
                    "the administrator role of the {} profile is `{}`",
                    self.catalog.profile,
                    admins.join("` or `")
                ))
            } else {
                self.hint(role, candidates.iter().copied())
            };
            let help = help.unwrap_or_else(|| {
                format!(
                    "built-in roles of the {} profile: {}; custom roles are declared under [roles]",
                    self.catalog.profile,
                    self.catalog
                        .roles
                        .iter()
                        .map(|r| r.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            self.diags.push(
                Diagnostic::error(
                    "tenet::reference::unknown-role",
                    format!("unknown role `{role}` for {whose}"),
                )
                .with_label(file, span, "no such role")
                .with_help(help),
            );
        }
    }

    /// The members of workspace `slug` in the built model (teams
    /// included), by folded email.
    fn members_of(&self, slug: &str) -> BTreeSet<&'a str> {
        let members = self.members;
        Slug::parse(slug)
            .ok()
            .and_then(|s| members.get(&s))
            .into_iter()
            .flatten()
            .map(|m| m.user.as_str())
            .collect()
    }

    /// The catalog's workspace roles, for hints.
    fn workspace_roles(&self) -> String {
        self.catalog
            .roles
            .iter()
            .filter(|r| r.scope == RoleScope::Workspace)
            .map(|r| format!("`{}`", r.id))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The catalog's project roles, for hints.
    fn project_roles(&self) -> String {
        self.catalog
            .project_roles()
            .map(|r| format!("`{}`", r.id))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A workspace's projects: the platform has them, each member is a
    /// declared member of the workspace holding project roles, and the
    /// default project stays active.
    fn projects(&mut self, slug: &str, d: &Declared<crate::config::document::WorkspaceDoc>) {
        let Some(ws) = &d.value else { return };
        if ws.projects.is_empty() {
            return;
        }
        let Some(rules) = &self.catalog.projects else {
            let (file, span) = self.at(d, &["projects"], true);
            self.diags.push(
                Diagnostic::error(
                    "tenet::project::unsupported",
                    format!(
                        "the {} profile has no projects (workspace `{slug}`)",
                        self.catalog.profile
                    ),
                )
                .with_label(file, span, "no projects on this platform")
                .with_help(
                    "projects are MagOneAI's (profile = \"magoneai\"); on this platform members belong to the workspace directly",
                ),
            );
            return;
        };
        let members = self.members_of(slug);
        for (project, p) in &ws.projects {
            if project == &rules.default_project && p.status.as_deref() == Some("archived") {
                let (file, span) = self.at(d, &["projects", project, "status"], false);
                self.diags.push(
                    Diagnostic::error(
                        "tenet::project::default-archived",
                        format!("the default project of workspace `{slug}` cannot be archived"),
                    )
                    .with_label(file, span, "the default project")
                    .with_help("the default project lives as long as its workspace; archive the workspace, or another project"),
                );
            }
            for (email, roles) in &p.members {
                let folded = fold_email(email);
                let whose = format!("project `{project}` of workspace `{slug}`");
                if !self.known_users.contains(folded.as_str()) {
                    self.unknown_user(
                        d,
                        &["projects", project, "members", email],
                        email,
                        true,
                        &whose,
                    );
                } else if self.complete && !members.contains(folded.as_str()) {
                    let (file, span) = self.at(d, &["projects", project, "members", email], true);
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::project::not-a-member",
                            format!("`{email}` is in {whose} but is no member of the workspace"),
                        )
                        .with_label(file, span, "not a member of the workspace")
                        .with_help(format!(
                            "add `{folded}` to [workspaces.{slug}.members] (or a team of it) with a workspace role first"
                        )),
                    );
                }
                for (i, role) in roles.iter().enumerate() {
                    let scope = self.catalog.role(role).map(|r| r.scope);
                    if scope == Some(RoleScope::Project) {
                        continue;
                    }
                    let (file, span) = self.at(
                        d,
                        &["projects", project, "members", email, &i.to_string()],
                        false,
                    );
                    let (code, message, label) = if scope.is_some() || self.role_exists(role) {
                        (
                            "tenet::role::workspace-role",
                            format!(
                                "`{role}` is a workspace role, not one of a project (`{email}` in {whose})"
                            ),
                            "held in workspaces only",
                        )
                    } else {
                        (
                            "tenet::reference::unknown-role",
                            format!("unknown project role `{role}` for `{email}` in {whose}"),
                            "no such project role",
                        )
                    };
                    let help = self
                        .hint(role, self.catalog.project_roles().map(|r| r.id.as_str()))
                        .unwrap_or_else(|| {
                            format!(
                                "project roles of the {} profile: {}",
                                self.catalog.profile,
                                self.project_roles()
                            )
                        });
                    self.diags.push(
                        Diagnostic::error(code, message)
                            .with_label(file, span, label)
                            .with_help(help),
                    );
                }
            }
        }
    }

    /// Members' token budgets name members of the workspace; a top-up a
    /// project of it (or the default project) or a member, not both, and
    /// one past its last day is a warning: it counts no more.
    fn budgets(&mut self, slug: &str, d: &Declared<crate::config::document::WorkspaceDoc>) {
        let Some(ws) = &d.value else { return };
        if ws.member_quotas.is_empty() && ws.top_ups.is_empty() {
            return;
        }
        let members = self.members_of(slug);
        let not_member = |c: &mut Self, sub: &[&str], email: &str, what: &str| {
            let folded = fold_email(email);
            if !c.complete || members.contains(folded.as_str()) {
                return;
            }
            let (file, span) = c.at(d, sub, sub.len() == 2);
            c.diags.push(
                Diagnostic::error(
                    "tenet::budget::not-a-member",
                    format!("{what} names `{email}`, who is no member of workspace `{slug}`"),
                )
                .with_label(file, span, "not a member of the workspace")
                .with_help(format!(
                    "add `{folded}` to [workspaces.{slug}.members] first, or remove this"
                )),
            );
        };
        for email in ws.member_quotas.keys() {
            not_member(
                self,
                &["member_quotas", email],
                email,
                "a member's token budget",
            );
        }
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let today = now.get(..10).unwrap_or_default();
        let default_project = self
            .catalog
            .projects
            .as_ref()
            .map(|r| r.default_project.as_str());
        for (name, t) in &ws.top_ups {
            let what = format!("top-up `{name}`");
            if let Some(u) = &t.user {
                not_member(self, &["top_ups", name, "user"], u, &what);
            }
            if let Some(p) = &t.project {
                let known = ws.projects.contains_key(p) || default_project == Some(p.as_str());
                if self.catalog.projects.is_none() || !known {
                    let (file, span) = self.at(d, &["top_ups", name, "project"], false);
                    let help = self
                        .hint(
                            p,
                            ws.projects
                                .keys()
                                .map(String::as_str)
                                .chain(default_project),
                        )
                        .unwrap_or_else(|| match self.catalog.projects {
                            None => format!("the {} profile has no projects", self.catalog.profile),
                            Some(_) => {
                                format!("declare it under [workspaces.{slug}.projects.{p}] first")
                            }
                        });
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::reference::unknown-project",
                            format!("{what} tops up project `{p}`, which workspace `{slug}` does not have"),
                        )
                        .with_label(file, span, "no such project")
                        .with_help(help),
                    );
                }
            }
            if t.project.is_some() && t.user.is_some() {
                let (file, span) = self.at(d, &["top_ups", name, "user"], true);
                self.diags.push(
                    Diagnostic::error(
                        "tenet::top-up::two-scopes",
                        format!("{what} names both a project and a member"),
                    )
                    .with_label(file, span, "a second scope")
                    .with_help(
                        "a top-up is for the workspace, one project or one member: split it in two",
                    ),
                );
            }
            if t.expires.parse::<jiff::civil::Date>().is_err() {
                let (file, span) = self.at(d, &["top_ups", name, "expires"], false);
                self.diags.push(
                    Diagnostic::error(
                        "tenet::top-up::date",
                        format!("`{}` is not a day of the calendar", t.expires),
                    )
                    .with_label(file, span, "no such day")
                    .with_help("write the last day the top-up counts as YYYY-MM-DD"),
                );
            } else if t.expires.as_str() < today {
                let (file, span) = self.at(d, &["top_ups", name, "expires"], false);
                self.diags.push(
                    Diagnostic::warning(
                        "tenet::top-up::expired",
                        format!(
                            "{what} expired after {}: it counts no more and is not applied",
                            t.expires
                        ),
                    )
                    .with_label(file, span, "in the past")
                    .with_help("remove it from the files; the platform keeps it as history"),
                );
            }
        }
    }

    fn unknown_user<T>(
        &mut self,
        d: &Declared<T>,
        sub: &[&str],
        email: &str,
        key: bool,
        context: &str,
    ) {
        if !self.complete {
            return;
        }
        let (file, span) = self.at(d, sub, key);
        let folded = fold_email(email);
        let users = &self.loaded.document.users;
        let help = self
            .hint(&folded, users.keys().map(String::as_str))
            .unwrap_or_else(|| "declare the user under [users] first".to_owned());
        self.diags.push(
            Diagnostic::error(
                "tenet::reference::unknown-user",
                format!("{context} names `{email}`, who is not a declared user"),
            )
            .with_label(file, span, "undeclared user")
            .with_help(help),
        );
    }

    fn roles(&mut self) {
        let doc = &self.loaded.document;
        for (id, d) in &doc.roles {
            if self.catalog.is_builtin_role(id) {
                let (file, span) = self.at(d, &[], true);
                self.diags.push(
                    Diagnostic::error(
                        "tenet::role::builtin",
                        format!(
                            "`{id}` is a built-in role of the {} profile and cannot be redefined",
                            self.catalog.profile
                        ),
                    )
                    .with_label(file, span, "built-in role")
                    .with_help("built-in roles are immutable; give the custom role another id"),
                );
            }
            let Some(role) = &d.value else { continue };
            if role.permissions.is_empty() {
                let (file, span) = self.at(d, &["permissions"], false);
                self.diags.push(
                    Diagnostic::warning(
                        "tenet::role::empty",
                        format!("role `{id}` grants no permission"),
                    )
                    .with_label(file, span, "empty")
                    .with_help("list at least one permission, or remove the role"),
                );
            }
            for (i, pattern) in role.permissions.iter().enumerate() {
                if self.catalog.expand(pattern).is_ok() {
                    continue;
                }
                let (file, span) = self.at(d, &["permissions", &i.to_string()], false);
                let catalog = self.catalog;
                let (families, actions): (BTreeSet<&str>, BTreeSet<&str>) = (
                    catalog
                        .permissions
                        .iter()
                        .filter_map(|p| p.id.split_once('.').map(|(f, _)| f))
                        .collect(),
                    catalog
                        .permissions
                        .iter()
                        .filter_map(|p| p.id.split_once('.').map(|(_, a)| a))
                        .collect(),
                );
                let list = |s: &BTreeSet<&str>| s.iter().copied().collect::<Vec<_>>().join(", ");
                let (message, help) = match pattern.split_once('.') {
                    Some(("*", action)) => (
                        format!(
                            "`{pattern}` matches no permission of the {} catalog",
                            catalog.profile
                        ),
                        format!(
                            "no family has the action `{action}`; actions are: {}",
                            list(&actions)
                        ),
                    ),
                    Some((family, "*")) => (
                        format!(
                            "`{pattern}` matches no permission of the {} catalog",
                            catalog.profile
                        ),
                        self.suggest(family, families.iter().copied())
                            .map(|f| format!("did you mean `{f}.*`?"))
                            .unwrap_or_else(|| {
                                format!("permission families are: {}", list(&families))
                            }),
                    ),
                    _ => {
                        let candidates: Vec<&str> =
                            catalog.permissions.iter().map(|p| p.id.as_str()).collect();
                        (
                            format!("`{pattern}` is not a permission of the {} catalog", catalog.profile),
                            self.hint(pattern, candidates).unwrap_or_else(|| {
                                format!(
                                    "permissions are family.action (wildcards: family.*, *.action, *); families: {}",
                                    list(&families)
                                )
                            }),
                        )
                    }
                };
                self.diags.push(
                    Diagnostic::error("tenet::role::unknown-permission", message)
                        .with_label(file, span, "unknown permission")
                        .with_help(help),
                );
            }
        }
    }

    fn teams(&mut self) {
        let doc = &self.loaded.document;
        for d in doc.teams.values() {
            let Some(team) = &d.value else { continue };
            for (i, m) in team.members.iter().enumerate() {
                if !doc.users.contains_key(&fold_email(m)) {
                    self.unknown_user(
                        d,
                        &["members", &i.to_string()],
                        m,
                        false,
                        &format!("team `{}`", d.key),
                    );
                }
            }
        }
    }

    /// Every workspace, a range of them on each core. Where a range finds a
    /// problem, they are checked again one after another, so that which
    /// problems get a "did you mean" (the first [`MAX_HINTS`]) does not
    /// depend on the cores.
    fn workspaces(&mut self) {
        use rayon::prelude::*;
        let all: Vec<_> = self.loaded.document.workspaces.iter().collect();
        let per_core = all
            .len()
            .div_ceil(rayon::current_num_threads().max(1))
            .max(1);
        let shared: &Checker<'a> = self;
        let clean = all.par_chunks(per_core).all(|part| {
            let mut c = shared.fork();
            c.workspaces_of(part.iter().copied());
            c.diags.is_empty()
        });
        if !clean {
            self.workspaces_of(all.into_iter());
        }
    }

    fn workspaces_of<'w>(
        &mut self,
        workspaces: impl Iterator<
            Item = (
                &'w String,
                &'w Declared<crate::config::document::WorkspaceDoc>,
            ),
        >,
    ) where
        'a: 'w,
    {
        let doc = &self.loaded.document;
        for (slug, d) in workspaces {
            let Some(ws) = &d.value else { continue };
            let whose = format!("workspace `{slug}`");

            // The members are distinct as written: two are one member only
            // if folding changed one of them, so only then are they indexed.
            let folds = ws
                .members
                .keys()
                .any(|e| matches!(crate::model::keys::fold(e), Cow::Owned(_)));
            let mut seen: BTreeMap<Cow<str>, &str> = BTreeMap::new();
            for (email, roles) in &ws.members {
                let folded = crate::model::keys::fold(email);
                if folds && let Some(first) = seen.insert(folded.clone(), email) {
                    let f = (d.file, push(&push(&d.pointer, "members"), first));
                    let a = (d.file, push(&push(&d.pointer, "members"), email));
                    self.diags.push(crate::config::document::duplicate(
                        &format!("member `{folded}` of workspace `{slug}`"),
                        (f.0, &f.1),
                        (a.0, &a.1),
                        &self.loaded.spans,
                        Some("emails are compared case-insensitively, so these are one member"),
                    ));
                }
                if !self.known_users.contains(&*folded) {
                    self.unknown_user(d, &["members", email], email, true, &whose);
                }
                self.role_list(d, &["members", email], roles, || {
                    format!("`{email}` in workspace `{slug}`")
                });
            }

            for (team, roles) in &ws.teams {
                if self.complete && !doc.teams.contains_key(team) {
                    let (file, span) = self.at(d, &["teams", team], true);
                    let help = self
                        .hint(team, doc.teams.keys().map(String::as_str))
                        .unwrap_or_else(|| "declare the team under [teams] first".to_owned());
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::reference::unknown-team",
                            format!(
                                "{whose} grants roles to `{team}`, which is not a declared team"
                            ),
                        )
                        .with_label(file, span, "undeclared team")
                        .with_help(help),
                    );
                }
                self.role_list(d, &["teams", team], roles, || {
                    format!("team `{team}` in workspace `{slug}`")
                });
            }

            let mut defaults = Vec::new();
            for (provider, a) in &ws.providers {
                if a.default {
                    defaults.push(provider.as_str());
                }
                let Some(pd) = doc.providers.get(provider) else {
                    if !self.complete {
                        continue;
                    }
                    let (file, span) = self.at(d, &["providers", provider], true);
                    let help = self
                        .hint(provider, doc.providers.keys().map(String::as_str))
                        .unwrap_or_else(|| {
                            "declare the provider under [providers] first".to_owned()
                        });
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::reference::unknown-provider",
                            format!(
                                "{whose} is assigned `{provider}`, which is not a declared provider"
                            ),
                        )
                        .with_label(file, span, "undeclared provider")
                        .with_help(help),
                    );
                    continue;
                };
                let Some(p) = &pd.value else { continue };
                for (i, model) in a.models.iter().flatten().enumerate() {
                    if p.models.contains(model) {
                        continue;
                    }
                    let (file, span) =
                        self.at(d, &["providers", provider, "models", &i.to_string()], false);
                    let help = self
                        .hint(
                            model,
                            p.models
                                .iter()
                                .filter(|m| !a.models.iter().flatten().any(|x| x == *m))
                                .map(String::as_str),
                        )
                        .unwrap_or_else(|| format!("`{provider}` offers: {}", p.models.join(", ")));
                    let (pfile, pspan) = self.at(pd, &["models"], false);
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::assignment::model-not-offered",
                            format!("provider `{provider}` does not offer model `{model}` (assigned to {whose})"),
                        )
                        .with_label(file, span, "not offered by the provider")
                        .with_label(pfile, pspan, "the provider's models")
                        .with_help(help),
                    );
                }
            }
            if defaults.len() > 1 {
                let mut diag = Diagnostic::error(
                    "tenet::assignment::several-defaults",
                    format!(
                        "{whose} has {} default providers: {}",
                        defaults.len(),
                        defaults.join(", ")
                    ),
                );
                for p in &defaults {
                    let (file, span) = self.at(d, &["providers", p, "default"], false);
                    diag = diag.with_label(file, span, "default");
                }
                self.diags
                    .push(diag.with_help("mark exactly one provider assignment as default"));
            }
            self.workspace_settings(d);
            self.projects(slug, d);
            self.budgets(slug, d);
            self.api_keys(slug, d);
            self.workspace_model(slug, d);
        }
    }

    /// A workspace's time zone is one the IANA database knows.
    fn workspace_settings(&mut self, d: &Declared<crate::config::document::WorkspaceDoc>) {
        let Some(tz) = d
            .value
            .as_ref()
            .and_then(|w| w.settings.as_ref())
            .and_then(|s| s.timezone.as_deref())
        else {
            return;
        };
        if jiff::tz::db().get(tz).is_ok() {
            return;
        }
        let (file, span) = self.at(d, &["settings", "timezone"], false);
        let help = crate::diagnostic::did_you_mean(tz, time_zones().iter().map(String::as_str))
            .unwrap_or_else(|| {
                "write an IANA time zone name, such as Europe/Paris, America/New_York or UTC"
                    .to_owned()
            });
        self.diags.push(
            Diagnostic::error(
                "tenet::workspace::timezone",
                format!("`{tz}` is not a time zone of the IANA database"),
            )
            .with_label(file, span, "unknown time zone")
            .with_help(help),
        );
    }

    /// Checks on the built workspace: administrators, quotas, usable models.
    fn workspace_model(&mut self, slug: &str, d: &Declared<crate::config::document::WorkspaceDoc>) {
        let Ok(key) = Slug::parse(slug) else { return };
        let Some(ws) = self.config.state.workspaces.get(&key) else {
            return;
        };
        let state = &self.config.state;
        let members: &[&Membership] = self.members.get(&key).map_or(&[], Vec::as_slice);

        if !self.complete {
            if let Some(q) = d.value.as_ref().and_then(|w| w.quotas) {
                self.quota_bounds(d, &q);
            }
            return;
        }
        if ws.status == WorkspaceStatus::Active {
            let admins: Vec<&Membership> = members
                .iter()
                .copied()
                .filter(|m| {
                    m.roles
                        .iter()
                        .any(|r| self.catalog.is_administrator_role(r.as_str()))
                })
                .collect();
            let active = |m: &&Membership| {
                state
                    .users
                    .get(&m.user)
                    .is_some_and(|u| u.status == UserStatus::Active)
            };
            let invited: Vec<&str> = admins
                .iter()
                .filter(|m| {
                    state
                        .users
                        .get(&m.user)
                        .is_some_and(|u| u.status == UserStatus::Invited)
                })
                .map(|m| m.user.as_str())
                .collect();
            if !admins.iter().any(active) && !invited.is_empty() {
                // Someone will administer it, once they accept.
                let (file, span) = self.at(d, &[], true);
                self.diags.push(
                    Diagnostic::warning(
                        "tenet::workspace::administrator-invited",
                        format!(
                            "workspace `{slug}` has no active administrator yet: {} invited",
                            invited.join(", ")
                        ),
                    )
                    .with_label(file, span, "administered once an invitation is accepted")
                    .with_help("nobody can administer it until one of them accepts; the platform keeps another active administrator from leaving meanwhile"),
                );
            } else if !admins.iter().any(active) {
                let roles = self.catalog.administrator_roles.join("` or `");
                let mut diag = Diagnostic::error(
                    "tenet::workspace::no-administrator",
                    format!("workspace `{slug}` has no active member with the `{roles}` role"),
                );
                let (file, span) = self.at(d, &[], true);
                diag = diag.with_label(file, span, "no active administrator");
                // Holders who cannot act: suspended users, and members who
                // are no declared user at all (reported on their own too).
                let (suspended, undeclared): (Vec<&Membership>, Vec<&Membership>) = admins
                    .iter()
                    .partition(|m| state.users.contains_key(&m.user));
                let suspended: Vec<&str> = suspended.iter().map(|m| m.user.as_str()).collect();
                let undeclared: Vec<&str> = undeclared.iter().map(|m| m.user.as_str()).collect();
                for user in &suspended {
                    if let Some(u) = self.loaded.document.users.get(*user) {
                        let (file, span) = self.at(u, &["status"], false);
                        diag = diag.with_label(
                            file,
                            span,
                            format!("{user} holds it but is suspended"),
                        );
                    }
                }
                let help = if suspended.is_empty() && undeclared.is_empty() {
                    format!(
                        "every workspace keeps at least one administrator: grant `{roles}` to an active user under [workspaces.{slug}.members]"
                    )
                } else if suspended.is_empty() {
                    format!(
                        "{} holds the role but is not a declared user: declare it under [users], or grant `{roles}` to an active user",
                        undeclared.join(", ")
                    )
                } else {
                    format!(
                        "a suspended user cannot act: reactivate {} or grant `{roles}` to an active user",
                        suspended.join(", ")
                    )
                };
                self.diags.push(diag.with_help(help));
            }
        }

        if let Some(max) = ws.quotas.max_users {
            let n = members.len() as u64;
            if n > max {
                let own = d
                    .value
                    .as_ref()
                    .and_then(|w| w.quotas)
                    .and_then(|q| q.max_users)
                    .is_some();
                let (file, span) = if own {
                    self.at(d, &["quotas", "max_users"], false)
                } else {
                    self.at(d, &[], true)
                };
                self.diags.push(
                    Diagnostic::error(
                        "tenet::quota::max-users",
                        format!("workspace `{slug}` has {n} members but max_users is {max}"),
                    )
                    .with_label(file, span, format!("{n} members"))
                    .with_help("raise quotas.max_users or remove members (team grants count too)"),
                );
            }
        }
        if let Some(q) = d.value.as_ref().and_then(|w| w.quotas) {
            self.quota_bounds(d, &q);
        }

        let has_model = state
            .providers
            .values()
            .any(|p| p.scope == ProviderScope::Global)
            || self.assignments.get(&key).is_some_and(|list| {
                list.iter()
                    .any(|a| a.models.as_ref().is_none_or(|m| !m.is_empty()))
            });
        if !has_model && ws.status == WorkspaceStatus::Active {
            let (file, span) = self.at(d, &[], true);
            self.diags.push(
                Diagnostic::warning(
                    "tenet::workspace::no-model",
                    format!("workspace `{slug}` may use no LLM model"),
                )
                .with_label(file, span, "no provider assigned")
                .with_help(format!(
                    "assign a provider under [workspaces.{slug}.providers.NAME], or make one global"
                )),
            );
        }
    }

    fn quota_bounds<T>(&mut self, d: &Declared<T>, q: &QuotasDoc) {
        let quotas = crate::model::Quotas::from(*q);
        for ((field, value), (_, limit, unit)) in quotas.fields().into_iter().zip(QUOTA_LIMITS) {
            let Some(v) = value else { continue };
            if v > limit {
                let (file, span) = self.at(d, &["quotas", field], false);
                self.diags.push(
                    Diagnostic::error("tenet::quota::absurd", format!("`{field}` = {v} is beyond any sane limit ({limit} {unit})"))
                        .with_label(file, span, "too large")
                        .with_help("check for a typo (an extra digit?); quotas are plain numbers, for example storage_gb = 500"),
                );
            }
        }
        if let (Some(day), Some(week)) = (q.tokens_per_day, q.tokens_per_week)
            && day > week
        {
            let (file, span) = self.at(d, &["quotas", "tokens_per_day"], false);
            self.diags.push(
                Diagnostic::warning(
                    "tenet::quota::budget-order",
                    "the daily token budget is larger than the weekly one",
                )
                .with_label(file, span, "larger than tokens_per_week")
                .with_help("a daily budget above the weekly one never applies"),
            );
        }
        if let (Some(week), Some(month)) = (q.tokens_per_week, q.tokens_per_month)
            && week > month
        {
            let (file, span) = self.at(d, &["quotas", "tokens_per_week"], false);
            self.diags.push(
                Diagnostic::warning(
                    "tenet::quota::budget-order",
                    "the weekly token budget is larger than the monthly one",
                )
                .with_label(file, span, "larger than tokens_per_month")
                .with_help("a weekly budget above the monthly one never applies"),
            );
        }
    }

    fn defaults(&mut self) {
        let Some(d) = &self.loaded.document.defaults else {
            return;
        };
        if let Some(q) = d.value.as_ref().and_then(|v| v.quotas) {
            self.quota_bounds(d, &q);
        }
    }

    /// Each branding image is a file of the tree, at most 2 MiB, whose
    /// content (not its name) is a format its slot takes.
    fn branding_images(&mut self) {
        use crate::model::image::ImageFormat;
        let Some(d) = &self.loaded.document.settings else {
            return;
        };
        let Some(branding) = d.value.as_ref().and_then(|s| s.branding.as_ref()) else {
            return;
        };
        for (slot, path) in branding.images() {
            let field = slot.field();
            let problem = match self.loaded.assets.get(path) {
                Some(Ok(bytes)) => match ImageFormat::sniff(bytes) {
                    Some(f) if slot.accepts(f) => None,
                    Some(f) => Some((
                        format!(
                            "`{path}` is an {} image, which `{field}` does not take",
                            f.name()
                        ),
                        "an ICO file",
                    )),
                    None => Some((
                        format!(
                            "`{path}` is not a {} image: {}",
                            slot.formats(),
                            ImageFormat::describe(bytes)
                        ),
                        "not an image it takes",
                    )),
                },
                Some(Err(why)) => Some((format!("cannot read `{path}`: {why}"), "cannot be read")),
                None => Some((format!("cannot read `{path}`"), "cannot be read")),
            };
            if let Some((message, label)) = problem {
                let (file, span) = self.at(d, &["branding", field], false);
                self.diags.push(
                    Diagnostic::error("tenet::branding::image", format!("branding `{field}`: {message}"))
                        .with_label(file, span, label)
                        .with_help(format!(
                            "save the image as {} (told by its content, not its extension), at most 2 MiB, inside the config tree; the path is relative to the directory of tenet.toml",
                            slot.formats()
                        )),
                );
            }
        }
    }

    fn settings(&mut self) {
        self.branding_images();
        let Some(d) = &self.loaded.document.settings else {
            return;
        };
        let Some(list) = d
            .value
            .as_ref()
            .and_then(|s| s.security.as_ref())
            .and_then(|s| s.ip_allowlist.as_ref())
        else {
            return;
        };
        let mut seen = BTreeMap::new();
        for (i, cidr) in list.iter().enumerate() {
            let idx = i.to_string();
            let norm = match normalize_cidr(cidr) {
                Ok(n) => n,
                Err(why) => {
                    let (file, span) = self.at(d, &["security", "ip_allowlist", &idx], false);
                    self.diags.push(
                    Diagnostic::error(
                        "tenet::settings::cidr",
                        format!("`{cidr}` is not a CIDR block: {why}"),
                    )
                    .with_label(file, span, "not address/prefix-length")
                    .with_help(
                        "write networks as address/prefix, for example 10.0.0.0/8 or 2001:db8::/32",
                    ),
                );
                    continue;
                }
            };
            if let Some(first) = seen.insert(norm.clone(), cidr) {
                let (file, span) = self.at(d, &["security", "ip_allowlist", &idx], false);
                self.diags.push(
                    Diagnostic::warning(
                        "tenet::settings::cidr-duplicate",
                        format!("`{cidr}` is the same network as `{first}` ({norm})"),
                    )
                    .with_label(file, span, "duplicate network")
                    .with_help("remove one of them"),
                );
            } else if norm != *cidr {
                let (file, span) = self.at(d, &["security", "ip_allowlist", &idx], false);
                self.diags.push(
                    Diagnostic::warning(
                        "tenet::settings::cidr-host-bits",
                        format!("`{cidr}` has host bits set; the platform stores {norm}"),
                    )
                    .with_label(file, span, format!("means {norm}"))
                    .with_help(format!("write `{norm}`")),
                );
            }
        }
    }

    fn labels(&mut self) {
        let doc = &self.loaded.document;
        let mut found = Vec::new();
        let mut visit = |file: usize, pointer: &str, labels: &LabelsDoc| {
            for k in labels
                .keys()
                .filter(|k| k.starts_with(RESERVED_LABEL_PREFIX))
            {
                found.push((file, push(&push(pointer, "labels"), k), k.clone()));
            }
        };
        for d in doc.users.values() {
            if let Some(v) = &d.value {
                visit(d.file, &d.pointer, &v.labels);
            }
        }
        for d in doc.roles.values() {
            if let Some(v) = &d.value {
                visit(d.file, &d.pointer, &v.labels);
            }
        }
        for d in doc.providers.values() {
            if let Some(v) = &d.value {
                visit(d.file, &d.pointer, &v.labels);
            }
        }
        for d in doc.workspaces.values() {
            if let Some(v) = &d.value {
                visit(d.file, &d.pointer, &v.labels);
            }
        }
        for (file, pointer, key) in found {
            self.diags.push(
                Diagnostic::error("tenet::labels::reserved", format!("label `{key}` uses the reserved prefix {RESERVED_LABEL_PREFIX}"))
                    .with_label(file, self.loaded.key_span(file, &pointer), "reserved")
                    .with_help("tenet writes these labels itself (managed marker, last-applied digest); choose another key"),
            );
        }
    }
}

/// A config tree loaded, built and checked.
#[derive(Debug)]
pub struct Checked {
    pub loaded: Loaded,
    pub config: Config,
    /// Every problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads the tree at `root`, builds the model and runs every check. The
/// profile is the file's (`[platform] profile`), else `profile`, else m3forge.
pub fn check_tree(root: &std::path::Path, profile: Option<crate::model::Profile>) -> Checked {
    let started = std::time::Instant::now();
    let loaded = crate::config::load(root);
    tracing::info!(
        files = loaded.sources.len(),
        load_ms = started.elapsed().as_millis() as u64,
        "loaded"
    );
    check_loaded(loaded, profile)
}

/// Builds and checks a tree already loaded (from disk or from git).
/// The names of the bundled IANA time zone database, for suggestions.
fn time_zones() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_owned())
            .collect()
    })
}

pub fn check_loaded(mut loaded: Loaded, profile: Option<crate::model::Profile>) -> Checked {
    let profile = crate::config::build::profile(&loaded.document)
        .or(profile)
        .unwrap_or_default();
    let started = std::time::Instant::now();
    let config = crate::config::build::build(&loaded.document, &loaded.assets, profile);
    let built = started.elapsed();
    let mut diagnostics = std::mem::take(&mut loaded.diagnostics);
    diagnostics.extend(check(&loaded, &config, Catalog::builtin(profile)));
    crate::diagnostic::sort(&mut diagnostics);
    tracing::info!(
        build_ms = built.as_millis() as u64,
        check_ms = (started.elapsed() - built).as_millis() as u64,
        "checked"
    );
    Checked {
        loaded,
        config,
        diagnostics,
    }
}
