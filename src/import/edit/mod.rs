//! The declarations an import adds to one file, and the edit that adds
//! them, in the file's language: TOML through `toml_edit`, KDL by inserting
//! text where the `kdl` parser says the nodes are. Either way the file's
//! own text, comments and formatting come out as they were, byte for byte,
//! with the additions after what is there; a new file is written whole.
//! Pure: text in, text out.

mod kdl;
mod toml;

use super::tree::Language;

/// The status every imported user is declared with: the platform invites
/// them (tenet never sets a password).
pub const INVITED: &str = "invited";

/// A user to declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDecl {
    pub email: String,
    pub name: Option<String>,
}

/// A workspace to declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceDecl {
    pub slug: String,
    pub name: String,
}

/// A membership to declare, in a workspace the file declares (or a new
/// one it gets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDecl {
    pub workspace: String,
    /// The email as the tree spells it.
    pub email: String,
    pub role: String,
}

/// What one file gets, in the order it is written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Additions {
    pub users: Vec<UserDecl>,
    pub workspaces: Vec<WorkspaceDecl>,
    pub members: Vec<MemberDecl>,
}

impl Additions {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.workspaces.is_empty() && self.members.is_empty()
    }
}

/// Why a file cannot take an addition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("cannot parse it again: {0}")]
    Parse(String),
    #[error("`{0}` is not a table there, so nothing can be added to it")]
    NotATable(String),
    #[error("the workspace `{0}` is not declared in it")]
    NoWorkspace(String),
}

/// `old` (the file's text, `None` for a new file) with `adds` added. A new
/// file opens with `comment`, a line of its own.
pub fn apply(
    language: Language,
    old: Option<&str>,
    adds: &Additions,
    comment: &str,
) -> Result<String, EditError> {
    match language {
        Language::Toml => toml::apply(old, adds, comment),
        Language::Kdl => kdl::apply(old, adds, comment),
    }
}
