//! Single sign-on: each identity provider has what its protocol needs
//! (OIDC: issuer, client id and secret; SAML: one source of metadata, a
//! readable XML document when it is a file), serves a declared workspace
//! if it names one, and maps IdP groups to declared workspaces, their
//! projects, workspace roles and project roles.

use super::Checker;
use crate::config::document::{Declared, IdentityProviderDoc, SettingsDoc};
use crate::diagnostic::Diagnostic;
use crate::model::RoleScope;

/// A field by name, and whether the provider sets it.
type Field = (&'static str, bool);

impl Checker<'_> {
    pub(super) fn sso(&mut self) {
        let Some(d) = &self.loaded.document.settings else {
            return;
        };
        let Some(sso) = d.value.as_ref().and_then(|s| s.sso.as_ref()) else {
            return;
        };
        for (name, idp) in sso.providers() {
            if let Some(idp) = idp {
                self.identity_provider(d, name, &idp);
            }
        }
    }

    fn identity_provider(
        &mut self,
        d: &Declared<SettingsDoc>,
        name: &str,
        idp: &IdentityProviderDoc,
    ) {
        let base = ["sso", "providers", name];
        let at = |sub: &[&str]| -> Vec<String> {
            base.iter().chain(sub).map(|s| (*s).to_owned()).collect()
        };
        let place = |c: &Checker<'_>, sub: &[&str], key: bool| {
            let path = at(sub);
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            c.at(d, &path, key)
        };
        let what = format!("identity provider `{name}`");
        let oidc = idp.protocol == "oidc";
        // What the protocol needs, and what belongs to the other one.
        let (needed, foreign): (Vec<Field>, Vec<Field>) = if oidc {
            (
                vec![
                    ("issuer", idp.issuer.is_some()),
                    ("client_id", idp.client_id.is_some()),
                    ("client_secret", idp.client_secret.is_some()),
                ],
                vec![
                    ("metadata_url", idp.metadata_url.is_some()),
                    ("metadata_file", idp.metadata_file.is_some()),
                ],
            )
        } else {
            (
                Vec::new(),
                vec![
                    ("issuer", idp.issuer.is_some()),
                    ("client_id", idp.client_id.is_some()),
                    ("client_secret", idp.client_secret.is_some()),
                    ("scopes", !idp.scopes.is_empty()),
                ],
            )
        };
        let missing: Vec<&str> = needed
            .iter()
            .filter(|(_, has)| !has)
            .map(|(f, _)| *f)
            .collect();
        if !missing.is_empty() {
            let (file, span) = place(self, &[], true);
            self.diags.push(
                Diagnostic::error(
                    "tenet::sso::incomplete",
                    format!("{what} (OIDC) has no {}", missing.join(", ")),
                )
                .with_label(file, span, "incomplete")
                .with_help(
                    "an OIDC provider needs issuer (https://...), client_id and client_secret (a secret reference such as \"env:NAME\"), from the IdP's app registration",
                ),
            );
        }
        for (field, _) in foreign.iter().filter(|(_, has)| *has) {
            let (file, span) = place(self, &[field], true);
            let (this, other) = if oidc {
                ("OIDC", "SAML")
            } else {
                ("SAML", "OIDC")
            };
            self.diags.push(
                Diagnostic::error(
                    "tenet::sso::protocol-field",
                    format!("`{field}` is for {other} identity providers; {what} is {this}"),
                )
                .with_label(file, span, format!("not used by {this}"))
                .with_help(format!(
                    "remove `{field}`, or set protocol = \"{}\"",
                    other.to_lowercase()
                )),
            );
        }
        if !oidc && idp.metadata_url.is_some() == idp.metadata_file.is_some() {
            let (file, span) = place(self, &[], true);
            self.diags.push(
                Diagnostic::error(
                    "tenet::sso::metadata",
                    format!("{what} (SAML) needs one of metadata_url and metadata_file"),
                )
                .with_label(file, span, "metadata")
                .with_help(
                    "give the IdP's metadata URL (metadata_url = \"https://...\") or its metadata XML saved in the config tree (metadata_file = \"sso/okta.xml\"), not both",
                ),
            );
        }
        if let Some(f) = &idp.metadata_file {
            let problem = match self.loaded.assets.get(f) {
                Some(Ok(bytes)) => xml_problem(bytes),
                Some(Err(why)) => Some(format!("cannot read `{f}`: {why}")),
                None => Some(format!("cannot read `{f}`")),
            };
            if let Some(problem) = problem {
                let (file, span) = place(self, &["metadata_file"], false);
                self.diags.push(
                    Diagnostic::error("tenet::sso::metadata", format!("{what}: {problem}"))
                        .with_label(file, span, "metadata file")
                        .with_help(
                            "download the IdP's SAML metadata (an EntityDescriptor XML document) into the config tree; the path is relative to the directory of tenet.toml",
                        ),
                );
            }
        }
        if let Some(w) = &idp.workspace {
            self.workspace_reference(d, &at(&["workspace"]), w, &what);
        }
        for (group, grants) in &idp.groups {
            for (ws, grant) in grants {
                let path = at(&["groups", group, ws]);
                let whose = format!("IdP group `{group}` of {what}");
                if !self.workspace_reference(d, &path, ws, &whose) {
                    continue;
                }
                if let Some(only) = idp.workspace.as_deref().filter(|w| *w != ws) {
                    let path: Vec<&str> = path.iter().map(String::as_str).collect();
                    let (file, span) = self.at(d, &path, true);
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::sso::other-workspace",
                            format!("{whose} maps to workspace `{ws}`, but the provider serves `{only}` only"),
                        )
                        .with_label(file, span, "another workspace")
                        .with_help(format!(
                            "map the group in `{only}`, or drop `workspace` to make the provider platform-wide"
                        )),
                    );
                }
                if grant.roles.is_empty() && grant.projects.is_empty() {
                    let p: Vec<&str> = path.iter().map(String::as_str).collect();
                    let (file, span) = self.at(d, &p, true);
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::sso::empty-grant",
                            format!("{whose} maps to nothing in workspace `{ws}`"),
                        )
                        .with_label(file, span, "no roles")
                        .with_help("give roles = [...] (members join the workspace with them) or projects = { <project> = [...] }"),
                    );
                }
                let roles_path: Vec<String> =
                    path.iter().cloned().chain(["roles".to_owned()]).collect();
                let roles_path: Vec<&str> = roles_path.iter().map(String::as_str).collect();
                self.role_list(d, &roles_path, &grant.roles, || {
                    format!("{whose} in workspace `{ws}`")
                });
                for (project, roles) in &grant.projects {
                    let ppath: Vec<String> = path
                        .iter()
                        .cloned()
                        .chain(["projects".to_owned(), project.clone()])
                        .collect();
                    self.project_reference(d, &ppath, ws, project, &whose);
                    for (i, role) in roles.iter().enumerate() {
                        if self.catalog.scope_of(role) == RoleScope::Project
                            && self.catalog.role(role).is_some()
                        {
                            continue;
                        }
                        let idx = i.to_string();
                        let p: Vec<&str> = ppath
                            .iter()
                            .map(String::as_str)
                            .chain([idx.as_str()])
                            .collect();
                        let (file, span) = self.at(d, &p, false);
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
                            Diagnostic::error(
                                "tenet::role::workspace-role",
                                format!(
                                    "`{role}` is not a project role ({whose}, project `{project}`)"
                                ),
                            )
                            .with_label(file, span, "not a project role")
                            .with_help(help),
                        );
                    }
                }
            }
        }
    }

    /// Reports a workspace the files do not declare; true if it is declared.
    fn workspace_reference(
        &mut self,
        d: &Declared<SettingsDoc>,
        path: &[String],
        ws: &str,
        whose: &str,
    ) -> bool {
        let declared = &self.loaded.document.workspaces;
        if declared.contains_key(ws) || !self.complete {
            return true;
        }
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let key = p.last().is_some_and(|last| *last == ws);
        let (file, span) = self.at(d, &p, key);
        let help = self
            .hint(ws, declared.keys().map(String::as_str))
            .unwrap_or_else(|| format!("declare it under [workspaces.{ws}] first"));
        self.diags.push(
            Diagnostic::error(
                "tenet::reference::unknown-workspace",
                format!("{whose} names workspace `{ws}`, which the files do not declare"),
            )
            .with_label(file, span, "no such workspace")
            .with_help(help),
        );
        false
    }

    fn project_reference(
        &mut self,
        d: &Declared<SettingsDoc>,
        path: &[String],
        ws: &str,
        project: &str,
        whose: &str,
    ) {
        let default = self
            .catalog
            .projects
            .as_ref()
            .map(|r| r.default_project.as_str());
        let declared = self
            .loaded
            .document
            .workspaces
            .get(ws)
            .and_then(|w| w.value.as_ref())
            .map(|w| w.projects.keys().map(String::as_str).collect::<Vec<_>>())
            .unwrap_or_default();
        if default == Some(project) || declared.contains(&project) || !self.complete {
            return;
        }
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let (file, span) = self.at(d, &p, true);
        let help = self
            .hint(project, declared.iter().copied().chain(default))
            .unwrap_or_else(|| match default {
                None => format!("the {} profile has no projects", self.catalog.profile),
                Some(_) => format!("declare it under [workspaces.{ws}.projects.{project}] first"),
            });
        self.diags.push(
            Diagnostic::error(
                "tenet::reference::unknown-project",
                format!(
                    "{whose} maps to project `{project}`, which workspace `{ws}` does not have"
                ),
            )
            .with_label(file, span, "no such project")
            .with_help(help),
        );
    }
}

/// Why `bytes` is no SAML metadata document, if it is not.
fn xml_problem(bytes: &[u8]) -> Option<String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some("the metadata file is not UTF-8 text".to_owned());
    };
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if !text.starts_with('<') {
        return Some("the metadata file is not XML".to_owned());
    }
    if !text.contains("EntityDescriptor") {
        return Some(
            "the metadata file has no EntityDescriptor: it is not SAML metadata".to_owned(),
        );
    }
    None
}
