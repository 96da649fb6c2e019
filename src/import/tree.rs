//! What an import needs to know of the config tree it merges into, read
//! from the loaded [`Document`](crate::config::Document): which users and
//! workspaces are declared and in which file, each workspace's name and
//! members (and the teams that give roles in it), and where new
//! declarations go: new users to the file that declares most users, a new
//! workspace to a file of its own beside the others (`organizations/` if
//! the tree keeps them there), in the language the tree is written in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{Loaded, ROOT_FILE};
use crate::diagnostic::FileId;

/// The language of a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Language {
    #[default]
    Toml,
    Kdl,
}

impl Language {
    /// The language of a file, by its extension.
    pub fn of(path: &Path) -> Language {
        match path.extension().and_then(|e| e.to_str()) {
            Some("kdl") => Language::Kdl,
            _ => Language::Toml,
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            Language::Toml => "toml",
            Language::Kdl => "kdl",
        }
    }
}

/// A declared user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The email as the files spell it.
    pub key: String,
    pub file: PathBuf,
}

/// A declared workspace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Workspace {
    pub file: PathBuf,
    pub name: Option<String>,
    /// Case-folded email -> roles, as declared in `members`.
    pub members: BTreeMap<String, Vec<String>>,
    /// Team -> roles, as declared in `teams`.
    pub teams: BTreeMap<String, Vec<String>>,
}

/// The tree as an import sees it. Paths are relative to the root.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// False when there is no `tenet.toml` yet: a fresh tree is written.
    pub exists: bool,
    /// `[platform] profile` as written.
    pub profile: Option<String>,
    /// Case-folded email -> where the user is declared.
    pub users: BTreeMap<String, User>,
    pub workspaces: BTreeMap<String, Workspace>,
    /// Team -> its members, case-folded.
    pub teams: BTreeMap<String, Vec<String>>,
    /// Every config file of the tree.
    pub files: Vec<PathBuf>,
    /// The other files the config names (SAML metadata).
    pub assets: Vec<PathBuf>,
}

impl Tree {
    /// The index of a loaded tree.
    pub fn of(loaded: &Loaded) -> Tree {
        let rel = |file: FileId| -> PathBuf {
            let path = &loaded.sources.get(file).path;
            path.strip_prefix(&loaded.root)
                .unwrap_or(path)
                .to_path_buf()
        };
        let doc = &loaded.document;
        let files: Vec<PathBuf> = loaded.sources.iter().map(|(id, _)| rel(id)).collect();
        Tree {
            exists: files.iter().any(|f| f == Path::new(ROOT_FILE)),
            profile: doc
                .platform
                .as_ref()
                .and_then(|p| p.value.as_ref())
                .and_then(|p| p.profile.clone()),
            users: doc
                .users
                .iter()
                .map(|(email, d)| {
                    (
                        email.clone(),
                        User {
                            key: d.key.clone(),
                            file: rel(d.file),
                        },
                    )
                })
                .collect(),
            workspaces: doc
                .workspaces
                .iter()
                .map(|(slug, d)| {
                    let value = d.value.as_ref();
                    (
                        slug.clone(),
                        Workspace {
                            file: rel(d.file),
                            name: value.and_then(|w| w.name.clone()),
                            members: value
                                .map(|w| {
                                    w.members
                                        .iter()
                                        .map(|(e, r)| {
                                            (crate::model::keys::fold(e).into_owned(), r.clone())
                                        })
                                        .collect()
                                })
                                .unwrap_or_default(),
                            teams: value.map(|w| w.teams.clone()).unwrap_or_default(),
                        },
                    )
                })
                .collect(),
            teams: doc
                .teams
                .iter()
                .map(|(name, d)| {
                    let members = d
                        .value
                        .as_ref()
                        .map(|t| {
                            t.members
                                .iter()
                                .map(|e| crate::model::keys::fold(e).into_owned())
                                .collect()
                        })
                        .unwrap_or_default();
                    (name.clone(), members)
                })
                .collect(),
            assets: doc
                .asset_paths()
                .into_iter()
                .map(|a| {
                    Path::new(&a)
                        .components()
                        .filter(|c| !matches!(c, std::path::Component::CurDir))
                        .collect()
                })
                .collect(),
            files,
        }
    }

    /// The language new files are written in: the one of the files that
    /// declare users and workspaces (the more common, TOML on a tie), else
    /// `fresh` (a tree with neither).
    pub fn language(&self, fresh: Language) -> Language {
        let mut counts: BTreeMap<Language, usize> = BTreeMap::new();
        for f in self
            .users
            .values()
            .map(|u| &u.file)
            .chain(self.workspaces.values().map(|w| &w.file))
        {
            *counts.entry(Language::of(f)).or_default() += 1;
        }
        match (counts.get(&Language::Toml), counts.get(&Language::Kdl)) {
            (None, None) => fresh,
            (t, k) if k > t => Language::Kdl,
            _ => Language::Toml,
        }
    }

    /// The file new users go to: the one that declares most users (the
    /// first by path on a tie), else `users.toml` / `users.kdl`.
    pub fn users_file(&self, language: Language) -> PathBuf {
        let mut counts: BTreeMap<&Path, usize> = BTreeMap::new();
        for u in self.users.values() {
            *counts.entry(&u.file).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(f, _)| f.to_path_buf())
            .unwrap_or_else(|| PathBuf::from(format!("users.{}", language.ext())))
    }

    /// The file a new workspace is declared in: `<dir>/<slug>.<ext>`, where
    /// `<dir>` is the folder most workspace files are in (the first by
    /// path on a tie), else `workspaces/` (`organizations/` on a tree of
    /// the `magoneai` profile that has none yet).
    pub fn workspace_file(&self, slug: &str, language: Language) -> PathBuf {
        let mut counts: BTreeMap<&Path, usize> = BTreeMap::new();
        for w in self.workspaces.values() {
            if let Some(dir) = w.file.parent().filter(|d| !d.as_os_str().is_empty()) {
                *counts.entry(dir).or_default() += 1;
            }
        }
        let dir = counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(d, _)| d.to_path_buf())
            .unwrap_or_else(|| PathBuf::from(default_workspace_dir(self.profile.as_deref())));
        dir.join(format!("{slug}.{}", language.ext()))
    }
}

/// Where a tree with no workspace files yet keeps them.
fn default_workspace_dir(profile: Option<&str>) -> &'static str {
    match profile {
        Some("magoneai") => "organizations",
        _ => "workspaces",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(users: &[&str], workspaces: &[&str]) -> Tree {
        Tree {
            exists: true,
            profile: Some("magoneai".into()),
            users: users
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    (
                        format!("u{i}@x.example"),
                        User {
                            key: format!("u{i}@x.example"),
                            file: PathBuf::from(f),
                        },
                    )
                })
                .collect(),
            workspaces: workspaces
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    (
                        format!("w{i}"),
                        Workspace {
                            file: PathBuf::from(f),
                            ..Workspace::default()
                        },
                    )
                })
                .collect(),
            ..Tree::default()
        }
    }

    #[test]
    fn new_declarations_follow_the_tree() {
        let t = tree(
            &["users.kdl", "users.kdl", "more.toml"],
            &["orgs/a.kdl", "orgs/b.kdl", "c.toml"],
        );
        assert_eq!(t.language(Language::Toml), Language::Kdl);
        assert_eq!(t.users_file(Language::Kdl), PathBuf::from("users.kdl"));
        assert_eq!(
            t.workspace_file("new", Language::Kdl),
            PathBuf::from("orgs/new.kdl")
        );
    }

    #[test]
    fn an_empty_tree_gets_the_defaults() {
        let t = tree(&[], &[]);
        assert_eq!(t.language(Language::Kdl), Language::Kdl);
        assert_eq!(t.users_file(Language::Toml), PathBuf::from("users.toml"));
        assert_eq!(
            t.workspace_file("research", Language::Toml),
            PathBuf::from("organizations/research.toml")
        );
    }
}
