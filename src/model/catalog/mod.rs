//! Permission catalogs and built-in roles, as data. The platform serves its
//! catalog at `GET /v1/catalog`; tenet ships copies (profiles) in the same
//! shape for offline validation: `m3forge.json`, `magoneai.json` and
//! `openwebui.json` (Open WebUI's group permission keys) beside this file. Wildcards in role permissions expand against a catalog.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The platform flavours tenet ships catalogs for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    M3forge,
    Magoneai,
    /// Open WebUI's group permission keys (`chat.file_upload`, ...).
    Openwebui,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::M3forge, Profile::Magoneai, Profile::Openwebui];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::M3forge => "m3forge",
            Profile::Magoneai => "magoneai",
            Profile::Openwebui => "openwebui",
        }
    }

    pub fn parse(s: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One permission: `family.action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    pub id: String,
    pub description: String,
}

/// Where a role is held: a workspace's members, or a project's (MagOneAI's
/// project Admin, Builder, Operator, Viewer).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum RoleScope {
    #[default]
    Workspace,
    Project,
}

impl RoleScope {
    pub fn is_workspace(&self) -> bool {
        *self == RoleScope::Workspace
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RoleScope::Workspace => "workspace",
            RoleScope::Project => "project",
        }
    }
}

/// A built-in role: immutable, never created or deleted by tenet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltinRole {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Workspace roles unless said otherwise.
    #[serde(default, skip_serializing_if = "RoleScope::is_workspace")]
    pub scope: RoleScope,
    pub permissions: Vec<String>,
}

/// A platform with projects inside its workspaces (MagOneAI): every
/// workspace has a default project the platform makes with it, whose
/// members are every member of the workspace, with project roles mapped
/// from their workspace roles unless declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRules {
    /// The slug of the default project.
    pub default_project: String,
    pub default_project_name: String,
    /// Workspace role -> the project role it gives in the default project.
    pub mapping: std::collections::BTreeMap<String, String>,
}

/// A platform's permission catalog and built-in roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub profile: Profile,
    pub title: String,
    /// Roles that make their holder an administrator of a workspace; every
    /// workspace keeps at least one member holding one.
    pub administrator_roles: Vec<String>,
    /// The role a new member gets when none is said.
    pub default_role: String,
    pub permissions: Vec<Permission>,
    pub roles: Vec<BuiltinRole>,
    /// Present where workspaces hold projects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects: Option<ProjectRules>,
}

/// Why a permission pattern does not expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Not `family.action`, `family.*`, `*.action` or `*`.
    Malformed,
    /// Well-formed but names nothing in the catalog.
    NoMatch,
}

impl Catalog {
    /// The catalog shipped for `profile`.
    pub fn builtin(profile: Profile) -> &'static Catalog {
        static M3FORGE: OnceLock<Catalog> = OnceLock::new();
        static MAGONEAI: OnceLock<Catalog> = OnceLock::new();
        static OPENWEBUI: OnceLock<Catalog> = OnceLock::new();
        let (cell, text) = match profile {
            Profile::M3forge => (&M3FORGE, include_str!("m3forge.json")),
            Profile::Magoneai => (&MAGONEAI, include_str!("magoneai.json")),
            Profile::Openwebui => (&OPENWEBUI, include_str!("openwebui.json")),
        };
        // The shipped catalogs are tested below; a malformed one is a build
        // defect, not user input.
        cell.get_or_init(|| {
            serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("shipped catalog {profile} is malformed: {e}"))
        })
    }

    pub fn role(&self, id: &str) -> Option<&BuiltinRole> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// Where the built-in role `id` is held (custom roles are workspace
    /// roles).
    pub fn scope_of(&self, id: &str) -> RoleScope {
        self.role(id).map(|r| r.scope).unwrap_or_default()
    }

    /// The built-in project roles, in catalog order.
    pub fn project_roles(&self) -> impl Iterator<Item = &BuiltinRole> {
        self.roles.iter().filter(|r| r.scope == RoleScope::Project)
    }

    /// The project roles a member holds in the default project by their
    /// workspace roles, when none are declared for them there.
    pub fn mapped_project_roles<'r>(
        &self,
        workspace_roles: impl IntoIterator<Item = &'r str>,
    ) -> std::collections::BTreeSet<&str> {
        let Some(rules) = &self.projects else {
            return Default::default();
        };
        workspace_roles
            .into_iter()
            .filter_map(|r| rules.mapping.get(r).map(String::as_str))
            .collect()
    }

    pub fn is_builtin_role(&self, id: &str) -> bool {
        self.role(id).is_some()
    }

    pub fn is_administrator_role(&self, id: &str) -> bool {
        self.administrator_roles.iter().any(|r| r == id)
    }

    pub fn has_permission(&self, id: &str) -> bool {
        self.permissions.iter().any(|p| p.id == id)
    }

    /// Expands a permission or wildcard (`prompts.*`, `*.view`, `*`) to the
    /// permission ids it grants, sorted.
    pub fn expand(&self, pattern: &str) -> Result<BTreeSet<&str>, PatternError> {
        let (family, action) = match pattern {
            "*" | "*.*" => ("*", "*"),
            p => p.split_once('.').ok_or(PatternError::Malformed)?,
        };
        let ok = |s: &str| {
            s == "*" || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        };
        if !ok(family) || !ok(action) {
            return Err(PatternError::Malformed);
        }
        let found: BTreeSet<&str> = self
            .permissions
            .iter()
            .map(|p| p.id.as_str())
            .filter(|id| {
                let (f, a) = id.split_once('.').unwrap_or((id, ""));
                (family == "*" || family == f) && (action == "*" || action == a)
            })
            .collect();
        if found.is_empty() {
            Err(PatternError::NoMatch)
        } else {
            Ok(found)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalogs_are_consistent() {
        for profile in Profile::ALL {
            let c = Catalog::builtin(profile);
            assert_eq!(c.profile, profile);
            let mut seen = BTreeSet::new();
            for p in &c.permissions {
                assert!(
                    seen.insert(&p.id),
                    "{profile}: duplicate permission {}",
                    p.id
                );
                assert_eq!(c.expand(&p.id), Ok(BTreeSet::from([p.id.as_str()])));
            }
            for r in &c.roles {
                for pat in &r.permissions {
                    assert!(
                        c.expand(pat).is_ok(),
                        "{profile}: role {} has bad pattern {pat}",
                        r.id
                    );
                }
            }
            for a in &c.administrator_roles {
                assert!(
                    c.is_builtin_role(a),
                    "{profile}: administrator role {a} is not built in"
                );
            }
            assert!(c.is_builtin_role(&c.default_role));
            assert_eq!(c.scope_of(&c.default_role), RoleScope::Workspace);
            for a in &c.administrator_roles {
                assert_eq!(c.scope_of(a), RoleScope::Workspace);
            }
            if let Some(rules) = &c.projects {
                for (from, to) in &rules.mapping {
                    assert_eq!(c.scope_of(from), RoleScope::Workspace, "{profile}: {from}");
                    assert!(c.is_builtin_role(from), "{profile}: {from}");
                    assert_eq!(c.scope_of(to), RoleScope::Project, "{profile}: {to}");
                }
                assert!(c.project_roles().count() > 0);
            } else {
                assert_eq!(
                    c.project_roles().count(),
                    0,
                    "{profile}: project roles without projects"
                );
            }
        }
    }

    #[test]
    fn wildcards_expand() {
        let c = Catalog::builtin(Profile::M3forge);
        let prompts = c.expand("prompts.*").unwrap();
        assert!(
            prompts.contains("prompts.test") && prompts.iter().all(|p| p.starts_with("prompts."))
        );
        let views = c.expand("*.view").unwrap();
        assert!(views.contains("workflows.view") && views.iter().all(|p| p.ends_with(".view")));
        assert_eq!(c.expand("*").unwrap().len(), c.permissions.len());
        assert_eq!(c.expand("prompt.view"), Err(PatternError::NoMatch));
        assert_eq!(c.expand("prompts"), Err(PatternError::Malformed));
        assert_eq!(c.expand("Prompts.view"), Err(PatternError::Malformed));
    }
}
