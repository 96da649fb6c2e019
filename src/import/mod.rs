//! `tenet import users`: the MagOneAI bulk-import sheet (xlsx with a
//! `Users` sheet and a `Workspaces` reference sheet, or the users as CSV)
//! merged into a config tree. Each row becomes a user (declared invited:
//! the platform sends the invitation, tenet never sets a password) and a
//! membership of the workspace its `org_id` names; a bad row is refused
//! with its reason and never stops the others. What the files already say
//! is never changed, and the files keep their text, comments and
//! formatting: the additions are all that changes.
//!
//! The steps, each pure but the first and the last: [`read`] (the file's
//! bytes -> rows, by content: `sheet`, `spreadsheet`, `delimited`, `rows`),
//! [`Tree::of`] (the loaded tree -> what the import needs of it), [`decide`]
//! (rows x tree -> [`Decisions`]), [`changes`] (decisions -> the text of
//! each file written, `edit`), and [`write`]. [`report`] says what
//! happened, as a summary and as diagnostics.

mod decide;
mod delimited;
mod edit;
pub mod report;
mod rows;
mod sheet;
mod spreadsheet;
mod tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use decide::{Decisions, Outcome, Refusal, RowResult, decide};
pub use edit::{Additions, EditError, MemberDecl, UserDecl, WorkspaceDecl};
pub use rows::{Organisations, UserRow};
pub use sheet::{Kind, MAX_SHEET_BYTES, Place, ReadError};
pub use tree::{Language, Tree};

use crate::diagnostic::{Diagnostic, FileId, SourceFile, Sources};

/// The profile whose roles the MagOneAI template names.
pub const PROFILE: &str = "magoneai";

/// The sheet's file in the import's [`Sources`].
pub const SHEET: FileId = 0;

/// A sheet read and typed: its rows and its reference list of
/// organisations, and the sheet as diagnostics may show it.
#[derive(Debug)]
pub struct Sheet {
    pub kind: Kind,
    pub rows: Vec<UserRow>,
    pub organisations: Organisations,
    /// The sheet as file [`SHEET`]: a CSV file's text with every password
    /// masked, or nothing for a spreadsheet (its cells are named instead).
    pub sources: Sources,
}

/// A sheet that could not be read: what to show, and where.
#[derive(Debug)]
pub struct Unreadable {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

/// A CSV text with the bytes at `places` replaced by `*`, so the offsets
/// of everything else stay valid.
fn masked(text: &str, places: &[Place]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for p in places {
        if let Place::Bytes(r) = p {
            for b in bytes.get_mut(r.clone()).into_iter().flatten() {
                *b = b'*';
            }
        }
    }
    // Whole characters were replaced by ASCII: still UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

fn unreadable(path: &Path, display: &str, e: &ReadError) -> Unreadable {
    let mut sources = Sources::default();
    let file = sources.add(SourceFile::new(
        path.to_path_buf(),
        display.to_owned(),
        Arc::from(""),
    ));
    let help = match e {
        ReadError::Unknown { .. } | ReadError::Empty => {
            "give the MagOneAI template saved as .xlsx, or its Users sheet saved as CSV (UTF-8)"
        }
        ReadError::NoUsersSheet(_) => "the template's users are on a sheet named Users",
        ReadError::NoHeader(_) => {
            "the first row names the columns: org_id, email, display_name, role, password"
        }
        _ => "check that the file is the template, saved as .xlsx or CSV",
    };
    Unreadable {
        diagnostics: vec![
            Diagnostic::error(
                "tenet::import::unreadable",
                format!("cannot read `{display}`: {e}"),
            )
            .in_file(file)
            .with_help(help),
        ],
        sources,
    }
}

/// A file given to the import: where it is, how it is shown, its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub path: &'a Path,
    pub display: &'a str,
    pub bytes: &'a [u8],
}

impl Input<'_> {
    fn read(&self) -> Result<sheet::Workbook, Unreadable> {
        sheet::read(self.display, self.bytes).map_err(|e| unreadable(self.path, self.display, &e))
    }
}

/// Reads the sheet from its bytes, and the reference list of organisations
/// from its `Workspaces` sheet or from `reference` (a CSV file of IDs and
/// names).
pub fn read(input: Input, reference: Option<Input>) -> Result<Sheet, Unreadable> {
    let (path, display) = (input.path, input.display);
    let book = input.read()?;
    let mut organisations = book
        .workspaces
        .as_ref()
        .map(rows::organisations)
        .unwrap_or_default();
    if let Some(reference) = reference {
        let other = reference.read()?;
        for (id, name) in rows::organisations(&other.users) {
            organisations.entry(id).or_insert(name);
        }
    }
    let columns = rows::columns(&book.users);
    let passwords = columns
        .as_ref()
        .map(|c| rows::password_places(&book.users, c))
        .unwrap_or_default();
    let mut sources = Sources::default();
    sources.add(SourceFile::new(
        path.to_path_buf(),
        display.to_owned(),
        Arc::from(masked(&book.text, &passwords)),
    ));
    let columns = match columns {
        Ok(c) => c,
        Err(missing) => {
            let diagnostics = missing
                .into_iter()
                .map(|m| {
                    let d = Diagnostic::error("tenet::import::missing-column", m.to_string())
                        .with_help(m.hint.clone());
                    at(d, &m.place, "the header row")
                })
                .collect();
            return Err(Unreadable {
                diagnostics,
                sources,
            });
        }
    };
    Ok(Sheet {
        kind: book.kind,
        rows: rows::user_rows(&book.users, &columns),
        organisations,
        sources,
    })
}

/// `d` located at `place`: a label on the bytes of a CSV file, or the
/// cell's reference before the message for a spreadsheet.
pub fn at(d: Diagnostic, place: &Place, label: &str) -> Diagnostic {
    match place {
        Place::Bytes(r) => d.with_label(SHEET, r.clone(), label),
        Place::Cell { .. } => {
            let cell = place.cell_ref().unwrap_or_default();
            let mut d = d.in_file(SHEET);
            d.message = format!("{cell}: {}", d.message);
            d
        }
    }
}

/// One file an import writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Relative to the root.
    pub path: PathBuf,
    /// `None` for a new file.
    pub old: Option<String>,
    pub new: String,
}

/// Why the changes could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot add to {}: {source}", path.display())]
    Edit { path: PathBuf, source: EditError },
}

/// The templates a fresh tree starts from (`tenet init`'s).
#[derive(Debug, Clone, Copy)]
pub struct Fresh<'a> {
    /// `tenet.toml`: its profile is set to [`PROFILE`].
    pub root: &'a str,
    /// `.gitignore`.
    pub gitignore: &'a str,
}

/// `tenet init`'s `tenet.toml` on the [`PROFILE`] profile: the template's
/// text and comments kept, the profile set, and the default quotas (which
/// are M3 Forge's) left out.
pub fn fresh_root(template: &str) -> Result<String, EditError> {
    let mut doc: toml_edit::DocumentMut = template
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Parse(e.message().to_owned()))?;
    let platform = doc
        .get_mut("platform")
        .and_then(toml_edit::Item::as_table_like_mut)
        .ok_or_else(|| EditError::NotATable("platform".to_owned()))?;
    match platform
        .get_mut("profile")
        .and_then(toml_edit::Item::as_value_mut)
    {
        Some(v) => {
            let decor = v.decor().clone();
            *v = toml_edit::Value::from(PROFILE);
            *v.decor_mut() = decor;
        }
        None => {
            platform.insert("profile", toml_edit::value(PROFILE));
        }
    }
    doc.remove("defaults");
    Ok(doc.to_string())
}

/// The comment a new file opens with.
fn comment_for(what: &str) -> String {
    format!("{what}, added by `tenet import users`.")
}

/// What each file gets: decisions laid out over the tree's files.
pub fn layout(
    decisions: &Decisions,
    tree: &Tree,
    language: Language,
) -> BTreeMap<PathBuf, Additions> {
    let mut files: BTreeMap<PathBuf, Additions> = BTreeMap::new();
    if !decisions.users.is_empty() {
        let adds = files.entry(tree.users_file(language)).or_default();
        for (email, u) in &decisions.users {
            adds.users.push(UserDecl {
                email: email.clone(),
                name: u.name.clone(),
            });
        }
    }
    for (slug, name) in &decisions.workspaces {
        files
            .entry(tree.workspace_file(slug, language))
            .or_default()
            .workspaces
            .push(WorkspaceDecl {
                slug: slug.clone(),
                name: name.clone(),
            });
    }
    for (slug, members) in &decisions.members {
        let file = match tree.workspaces.get(slug) {
            Some(w) => w.file.clone(),
            None => tree.workspace_file(slug, language),
        };
        let adds = files.entry(file).or_default();
        for (email, role) in members {
            adds.members.push(MemberDecl {
                workspace: slug.clone(),
                email: email.clone(),
                role: role.clone(),
            });
        }
    }
    files
}

/// The files to write: each file of the layout with its additions (read
/// from the tree with `read_file`, a path relative to the root), and for a
/// fresh tree `tenet.toml` and `.gitignore` too. Nothing when there is
/// nothing to add.
pub fn changes(
    decisions: &Decisions,
    tree: &Tree,
    language: Language,
    fresh: Fresh,
    read_file: impl Fn(&Path) -> std::io::Result<Option<String>>,
) -> Result<Vec<Change>, ChangeError> {
    let mut out = Vec::new();
    if decisions.is_empty() {
        return Ok(out);
    }
    if !tree.exists {
        for (path, text) in [
            ("tenet.toml", fresh_root(fresh.root)),
            (".gitignore", Ok(fresh.gitignore.to_owned())),
        ] {
            let path = PathBuf::from(path);
            let old = read_file(&path).map_err(|source| ChangeError::Read {
                path: path.clone(),
                source,
            })?;
            if old.is_some() {
                continue;
            }
            let new = text.map_err(|source| ChangeError::Edit {
                path: path.clone(),
                source,
            })?;
            out.push(Change {
                path,
                old: None,
                new,
            });
        }
    }
    for (path, adds) in layout(decisions, tree, language) {
        let old = read_file(&path).map_err(|source| ChangeError::Read {
            path: path.clone(),
            source,
        })?;
        let what = match adds.workspaces.first() {
            Some(w) if adds.users.is_empty() => format!("The organisation {}", w.name),
            _ => "Users and memberships".to_owned(),
        };
        let new = edit::apply(
            Language::of(&path),
            old.as_deref(),
            &adds,
            &comment_for(&what),
        )
        .map_err(|source| ChangeError::Edit {
            path: path.clone(),
            source,
        })?;
        if old.as_deref() != Some(new.as_str()) {
            out.push(Change { path, old, new });
        }
    }
    Ok(out)
}

/// A file of the tree as it is on disk, `None` when there is none.
pub fn read_from(root: &Path, path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(root.join(path)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the changes under `root` (created if missing), each file whole
/// through a temporary file beside it, so a file is never left half
/// written.
pub fn write(root: &Path, changes: &[Change]) -> std::io::Result<()> {
    for c in changes {
        let path = root.join(&c.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tenet-import");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, &c.new)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// The tree as it would be with `changes`, in memory, for `--dry-run`:
/// its config files and the other files it names, read from disk, with
/// the changes laid over them.
pub fn with_changes(root: &Path, tree: &Tree, changes: &[Change]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    for path in tree.files.iter().chain(tree.assets.iter()) {
        if let Ok(bytes) = std::fs::read(root.join(path)) {
            files.insert(path.clone(), bytes);
        }
    }
    for c in changes {
        files.insert(c.path.clone(), c.new.clone().into_bytes());
    }
    files.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_root_is_inits_on_magoneai() {
        let template = "# Root.\n\n[platform]\n# Where.\nendpoint = \"sandbox:.tenet/platform.db\"\nprofile = \"m3forge\" # catalog\n\n# Quotas.\n[defaults.quotas]\nstorage_gb = 100\n";
        assert_eq!(
            fresh_root(template).unwrap(),
            "# Root.\n\n[platform]\n# Where.\nendpoint = \"sandbox:.tenet/platform.db\"\nprofile = \"magoneai\" # catalog\n"
        );
    }

    #[test]
    fn masking_keeps_offsets() {
        let text = "a,pässwörd,c\n";
        let m = masked(text, &[Place::Bytes(2..12)]);
        assert_eq!(m, "a,**********,c\n");
        assert_eq!(m.len(), text.len());
    }
}
