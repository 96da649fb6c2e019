//! `tenet why USER PERMISSION --workspace W [--project P] [DIR]`: whether
//! the files give a user a permission in a workspace (or in one of its
//! projects), and exactly how: through which role (built-in or custom, and
//! which of its permission patterns), granted directly, through which team,
//! or (in the default project) mapped from which workspace role, pointing
//! at the config lines. Grants an identity provider's group mapping would
//! give at sign-in are named too, as possible only: tenet cannot see who is
//! in an IdP group. Exit 0 when the user has the permission, 2 when not, 1
//! on error.

use std::path::PathBuf;

use super::plan::{Common, checked};
use super::{CommandError, Outcome, eprint_diagnostics};
use crate::config::document::fold_email;
use crate::config::spans::push;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::Catalog;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The user's email.
    pub user: String,
    /// A permission of the catalog, like prompts.test.
    pub permission: String,
    /// The workspace.
    #[arg(long, short)]
    pub workspace: String,
    /// A project of the workspace (platforms with projects): the answer is
    /// about the project roles there.
    #[arg(long, short)]
    pub project: Option<String>,
    /// The config root.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub common: Common,
}

/// One way the permission is granted: a role, and where it comes from.
struct Grant {
    role: String,
    via_team: Option<String>,
    /// (file, pointer) of the grant (member role or team role).
    at: (usize, String),
    /// (file, pointer) of the team membership, for team grants.
    member_at: Option<(usize, String)>,
    /// In the default project: the workspace role this role is mapped from.
    mapped_from: Option<String>,
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    let checked = checked(&args.dir, &args.common)?;
    let catalog = Catalog::builtin(checked.config.platform.profile);
    let doc = &checked.loaded.document;
    let user = fold_email(&args.user);
    if !catalog.has_permission(&args.permission) {
        let ids: Vec<&str> = catalog.permissions.iter().map(|p| p.id.as_str()).collect();
        return Err(CommandError::new(format!(
            "`{}` is not a permission of the {} catalog",
            args.permission, catalog.profile
        ))
        .with_hint(
            did_you_mean(&args.permission, ids)
                .unwrap_or_else(|| "permissions are family.action, like prompts.test".to_owned()),
        ));
    }
    // A workspace renamed in place answers to its earlier slugs too.
    let renamed = || {
        doc.workspaces.iter().find(|(_, d)| {
            d.value
                .as_ref()
                .is_some_and(|v| v.previously.contains(&args.workspace))
        })
    };
    let Some((workspace, ws)) = doc
        .workspaces
        .get_key_value(&args.workspace)
        .or_else(renamed)
    else {
        return Err(
            CommandError::new(format!("no workspace `{}` in the files", args.workspace)).with_hint(
                did_you_mean(&args.workspace, doc.workspaces.keys().map(String::as_str))
                    .unwrap_or_default(),
            ),
        );
    };
    if *workspace != args.workspace {
        super::out::eprintln(&format!(
            "note: workspace `{}` is now `{workspace}` (renamed with `previously`)",
            args.workspace
        ));
    }
    let workspace = workspace.as_str();
    if !doc.users.contains_key(&user) {
        return Err(
            CommandError::new(format!("no user `{}` in the files", args.user)).with_hint(
                did_you_mean(&user, doc.users.keys().map(String::as_str)).unwrap_or_default(),
            ),
        );
    }
    let Some(w) = &ws.value else {
        return Err(CommandError::new(
            "that workspace is not valid; run tenet validate",
        ));
    };
    // Roles do not act for a suspended user or in an archived workspace.
    let suspended = doc
        .users
        .get(&user)
        .and_then(|u| u.value.as_ref())
        .and_then(|u| u.status.as_deref())
        == Some("suspended");
    let mut archived = w.status.as_deref() == Some("archived");

    // Every grant of every role to the user in the workspace.
    let mut grants = Vec::new();
    for (email, roles) in &w.members {
        if fold_email(email) == user {
            for (i, r) in roles.iter().enumerate() {
                let p = push(&push(&push(&ws.pointer, "members"), email), &i.to_string());
                grants.push(Grant {
                    role: r.clone(),
                    via_team: None,
                    at: (ws.file, p),
                    member_at: None,
                    mapped_from: None,
                });
            }
        }
    }
    for (team, roles) in &w.teams {
        let Some(t) = doc.teams.get(team) else {
            continue;
        };
        let Some(tv) = &t.value else { continue };
        let Some(idx) = tv.members.iter().position(|m| fold_email(m) == user) else {
            continue;
        };
        let member_at = (t.file, push(&push(&t.pointer, "members"), &idx.to_string()));
        for (i, r) in roles.iter().enumerate() {
            let p = push(&push(&push(&ws.pointer, "teams"), team), &i.to_string());
            grants.push(Grant {
                role: r.clone(),
                via_team: Some(team.clone()),
                at: (ws.file, p),
                member_at: Some(member_at.clone()),
                mapped_from: None,
            });
        }
    }
    let mut place = workspace.to_owned();
    if let Some(project) = &args.project {
        let Some(rules) = &catalog.projects else {
            return Err(CommandError::new(format!(
                "the {} profile has no projects",
                catalog.profile
            ))
            .with_hint("ask about the workspace: leave out --project"));
        };
        let declared = w.projects.get(project);
        if declared.is_none() && *project != rules.default_project {
            return Err(CommandError::new(format!(
                "no project `{project}` in workspace `{workspace}` in the files"
            ))
            .with_hint({
                let known: Vec<&str> = std::iter::once(rules.default_project.as_str())
                    .chain(
                        w.projects
                            .keys()
                            .map(String::as_str)
                            .filter(|p| *p != rules.default_project),
                    )
                    .collect();
                did_you_mean(project, known.iter().copied()).unwrap_or_else(|| {
                    format!("the projects of `{workspace}`: {}", known.join(", "))
                })
            }));
        }
        place = format!("{workspace}/{project}");
        archived |= declared.and_then(|p| p.status.as_deref()) == Some("archived");
        let own = declared.and_then(|p| {
            p.members
                .iter()
                .find(|(email, _)| fold_email(email) == user)
        });
        grants = match own {
            Some((email, roles)) => {
                let base = push(&push(&push(&ws.pointer, "projects"), project), "members");
                roles
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Grant {
                        role: r.clone(),
                        via_team: None,
                        at: (ws.file, push(&push(&base, email), &i.to_string())),
                        member_at: None,
                        mapped_from: None,
                    })
                    .collect()
            }
            // The default project maps every workspace role.
            None if *project == rules.default_project => grants
                .into_iter()
                .filter_map(|g| {
                    let to = rules.mapping.get(&g.role)?.clone();
                    Some(Grant {
                        mapped_from: Some(g.role),
                        role: to,
                        ..g
                    })
                })
                .collect(),
            None => Vec::new(),
        };
    }
    let workspace = place.as_str();

    let loaded = &checked.loaded;
    let mut found = Vec::new();
    for g in &grants {
        // Which pattern of the role covers the permission.
        let (patterns, custom): (
            Vec<String>,
            Option<&crate::config::document::Declared<crate::config::document::RoleDoc>>,
        ) = match (catalog.role(&g.role), doc.roles.get(&g.role)) {
            (Some(b), _) => (b.permissions.clone(), None),
            (None, Some(c)) => (
                c.value
                    .as_ref()
                    .map(|v| v.permissions.clone())
                    .unwrap_or_default(),
                Some(c),
            ),
            _ => continue,
        };
        let Some((i, pattern)) = patterns.iter().enumerate().find(|(_, p)| {
            catalog
                .expand(p)
                .is_ok_and(|set| set.contains(args.permission.as_str()))
        }) else {
            continue;
        };
        let how = match (&g.mapped_from, &g.via_team) {
            (Some(from), Some(t)) => format!(
                "as the default project's role for workspace role `{from}` (held through team `{t}`)"
            ),
            (Some(from), None) => {
                format!("as the default project's role for workspace role `{from}`")
            }
            (None, Some(t)) => format!("through team `{t}`"),
            (None, None) => "directly".to_owned(),
        };
        let kind = if custom.is_some() {
            "custom role"
        } else {
            "built-in role"
        };
        let mut d = Diagnostic::advice(
            "tenet::why::granted",
            format!(
                "{} has {} in `{}` {how}: {kind} `{}` grants it with `{pattern}`",
                user, args.permission, workspace, g.role
            ),
        )
        .with_label(
            g.at.0,
            loaded.value_span(g.at.0, &g.at.1),
            match &g.mapped_from {
                Some(from) => format!("workspace role `{from}` granted here"),
                None => format!("role `{}` granted here", g.role),
            },
        );
        if let Some((f, p)) = &g.member_at {
            d = d.with_label(
                *f,
                loaded.value_span(*f, p),
                format!("{user} is a member of the team here"),
            );
        }
        if let Some(c) = custom {
            let p = push(&push(&c.pointer, "permissions"), &i.to_string());
            d = d.with_label(
                c.file,
                loaded.value_span(c.file, &p),
                format!("`{pattern}` includes {}", args.permission),
            );
        } else {
            d = d.with_help(format!(
                "`{}` is a built-in role of the {} catalog",
                g.role, catalog.profile
            ));
        }
        found.push(d);
    }
    let through_groups = idp_groups(
        &checked.loaded,
        catalog,
        (ws.key.as_str(), args.project.as_deref()),
        &args.permission,
        &user,
    );
    if !found.is_empty() && (suspended || archived) {
        let why = if suspended {
            format!("{user} is suspended")
        } else {
            format!("`{workspace}` is archived")
        };
        let d = Diagnostic::advice(
            "tenet::why::not-granted",
            format!(
                "{user} does not have {} in `{}`: {why}, so the roles below do not act",
                args.permission, workspace
            ),
        )
        .in_file(ws.file)
        .with_help("the roles would grant it once the user is active and the workspace is active");
        let mut all = vec![d];
        all.extend(found);
        eprint_diagnostics(&all, &loaded.sources);
        return Ok(Outcome::Changes);
    }
    if found.is_empty() {
        let held: Vec<String> = grants.iter().map(|g| g.role.clone()).collect();
        let mut d = Diagnostic::advice(
            "tenet::why::not-granted",
            format!(
                "{user} does not have {} in `{}`",
                args.permission, workspace
            ),
        );
        d = match grants.first() {
            Some(g) => d.with_label(
                g.at.0,
                loaded.value_span(g.at.0, &g.at.1),
                "the roles held here do not include it",
            ),
            None => d.in_file(ws.file),
        };
        let holders: Vec<&str> = catalog
            .roles
            .iter()
            .filter(|r| {
                r.permissions.iter().any(|p| {
                    catalog
                        .expand(p)
                        .is_ok_and(|s| s.contains(args.permission.as_str()))
                })
            })
            .map(|r| r.id.as_str())
            .collect();
        d = d.with_help(format!(
            "roles held: {}; built-in roles that grant it: {}",
            if held.is_empty() {
                "none (not a member)".to_owned()
            } else {
                held.join(", ")
            },
            holders.join(", ")
        ));
        let mut all = vec![d];
        all.extend(through_groups);
        eprint_diagnostics(&all, &loaded.sources);
        return Ok(Outcome::Changes);
    }
    found.extend(through_groups);
    let ways = found
        .iter()
        .filter(|d| d.code == "tenet::why::granted")
        .count();
    eprint_diagnostics(&found, &loaded.sources);
    super::out::println(&format!(
        "yes: {user} has {} in {} ({} way{})",
        args.permission,
        workspace,
        ways,
        if ways == 1 { "" } else { "s" }
    ))?;
    Ok(Outcome::Clean)
}

/// The group mappings of identity providers that give `permission` in the
/// workspace (or project): a note each, since whether the user is in the
/// group only the IdP knows.
fn idp_groups(
    loaded: &crate::config::Loaded,
    catalog: &Catalog,
    (workspace, project): (&str, Option<&str>),
    permission: &str,
    user: &str,
) -> Vec<Diagnostic> {
    let doc = &loaded.document;
    let Some(settings) = &doc.settings else {
        return Vec::new();
    };
    let Some(sso) = settings.value.as_ref().and_then(|s| s.sso.as_ref()) else {
        return Vec::new();
    };
    let grants = |role: &str| {
        let patterns = match (catalog.role(role), doc.roles.get(role)) {
            (Some(b), _) => b.permissions.clone(),
            (None, Some(c)) => c
                .value
                .as_ref()
                .map(|v| v.permissions.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        patterns
            .iter()
            .any(|p| catalog.expand(p).is_ok_and(|set| set.contains(permission)))
    };
    let default_project = catalog.projects.as_ref().map(|r| &r.default_project);
    let mut out = Vec::new();
    for (name, idp) in sso.providers() {
        let Some(idp) = idp.filter(|i| i.enabled != Some(false)) else {
            continue;
        };
        let base = push(&push(&push(&settings.pointer, "sso"), "providers"), name);
        for (group, mapped) in &idp.groups {
            let Some(grant) = mapped.get(workspace) else {
                continue;
            };
            let at = push(&push(&push(&base, "groups"), group), workspace);
            // (role, pointer of the role, mapped from a workspace role)
            let mut roles: Vec<(String, String, Option<String>)> = Vec::new();
            match project {
                None => {
                    for (i, r) in grant.roles.iter().enumerate() {
                        let p = push(&push(&at, "roles"), &i.to_string());
                        roles.push((r.clone(), p, None));
                    }
                }
                Some(p) => match grant.projects.get(p) {
                    Some(own) => {
                        for (i, r) in own.iter().enumerate() {
                            let ptr = push(&push(&push(&at, "projects"), p), &i.to_string());
                            roles.push((r.clone(), ptr, None));
                        }
                    }
                    None if default_project.is_some_and(|d| d == p) => {
                        let mapping = catalog.projects.as_ref().map(|r| &r.mapping);
                        for (i, r) in grant.roles.iter().enumerate() {
                            if let Some(to) = mapping.and_then(|m| m.get(r)) {
                                let ptr = push(&push(&at, "roles"), &i.to_string());
                                roles.push((to.clone(), ptr, Some(r.clone())));
                            }
                        }
                    }
                    None => {}
                },
            }
            for (role, ptr, from) in roles.into_iter().filter(|(r, ..)| grants(r)) {
                let place =
                    project.map_or_else(|| workspace.to_owned(), |p| format!("{workspace}/{p}"));
                let how = match &from {
                    Some(f) => format!("as the default project's role for workspace role `{f}`: "),
                    None => String::new(),
                };
                out.push(
                    Diagnostic::advice(
                        "tenet::why::idp-group",
                        format!(
                            "members of IdP group `{group}` (identity provider `{name}`) get {permission} in `{place}` when they sign in: {how}role `{role}` grants it"
                        ),
                    )
                    .with_label(settings.file, loaded.value_span(settings.file, &ptr), "mapped here")
                    .with_help(format!(
                        "tenet cannot see who is in an IdP group: {user} has this too if the IdP puts them in `{group}`"
                    )),
                );
            }
        }
    }
    out
}
