//! The rows of a sheet against the tree: what each row does (creates a
//! user, adds a membership of an existing one, changes nothing, or is
//! refused and why) and the declarations to add. Pure: rows and the tree's
//! index in, decisions out. One bad row never stops the others.
//!
//! An `org_id` names a workspace declared with that slug; else the
//! reference list's name for that ID names the declared workspace with that
//! name; else it becomes a new workspace whose slug is made from the name.
//! An import never changes what the files already say: a member with
//! another role is refused, and an existing user's name stays.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::rows::{Field, Organisations, UserRow};
use super::sheet::Place;
use super::tree::Tree;
use crate::diagnostic::did_you_mean;
use crate::model::keys::{Email, fold, is_slug};

/// The roles of the MagOneAI template; a blank role is `member`.
pub const ROLES: [&str; 3] = ["owner", "admin", "member"];
pub const DEFAULT_ROLE: &str = "member";

/// Rows with an unknown organisation that get a "did you mean" hint.
const MAX_HINTS: usize = 100;

/// Why a row is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    BlankOrgId,
    BlankEmail,
    InvalidEmail(String),
    UnknownRole {
        role: String,
        hint: Option<String>,
    },
    Password,
    UnknownOrganisation {
        id: String,
        hint: Option<String>,
    },
    /// The reference list names the organisation, but several declared
    /// workspaces carry that name.
    AmbiguousName {
        id: String,
        name: String,
        slugs: Vec<String>,
    },
    /// The slug made from the name is declared, with another name.
    SlugTaken {
        id: String,
        name: String,
        slug: String,
        declared_as: Option<String>,
        file: PathBuf,
    },
    /// Two organisations of the reference list make the same slug.
    SlugShared {
        id: String,
        slug: String,
        other_id: String,
    },
    /// No slug can be made from the name.
    NoSlug {
        id: String,
        name: String,
    },
    Duplicate {
        first_row: u32,
    },
    RoleConflict {
        roles: Vec<String>,
        workspace: String,
        file: PathBuf,
        team: Option<String>,
    },
}

impl Refusal {
    /// The stable code of its diagnostic.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::BlankOrgId | Refusal::BlankEmail => "tenet::import::blank",
            Refusal::InvalidEmail(_) => "tenet::import::invalid-email",
            Refusal::UnknownRole { .. } => "tenet::import::unknown-role",
            Refusal::Password => "tenet::import::password",
            Refusal::UnknownOrganisation { .. } => "tenet::import::unknown-organisation",
            Refusal::AmbiguousName { .. }
            | Refusal::SlugTaken { .. }
            | Refusal::SlugShared { .. }
            | Refusal::NoSlug { .. } => "tenet::import::organisation-slug",
            Refusal::Duplicate { .. } => "tenet::import::duplicate-row",
            Refusal::RoleConflict { .. } => "tenet::import::role-conflict",
        }
    }

    /// A short label for the cell.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::BlankOrgId | Refusal::BlankEmail => "blank",
            Refusal::InvalidEmail(_) => "not an email address",
            Refusal::UnknownRole { .. } => "no such role",
            Refusal::Password => "a password (not shown)",
            Refusal::UnknownOrganisation { .. } => "no such organisation",
            Refusal::AmbiguousName { .. }
            | Refusal::SlugTaken { .. }
            | Refusal::SlugShared { .. }
            | Refusal::NoSlug { .. } => "this organisation",
            Refusal::Duplicate { .. } => "again",
            Refusal::RoleConflict { .. } => "another role",
        }
    }

    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Refusal::BlankOrgId => "every row needs the organisation: an ID from the Workspaces sheet or the slug of a workspace of the tree".to_owned(),
            Refusal::BlankEmail => "every row needs the user's email address".to_owned(),
            Refusal::InvalidEmail(_) => "write the address as name@domain.example".to_owned(),
            Refusal::UnknownRole { hint, .. } => hint.clone().unwrap_or_else(|| {
                format!("the roles are {} (blank means {DEFAULT_ROLE})", ROLES.join(", "))
            }),
            Refusal::Password => "clear the password cells (or delete the column): the platform emails each new user an invitation to set their own".to_owned(),
            Refusal::UnknownOrganisation { hint, .. } => hint.clone().unwrap_or_else(|| {
                "use an ID the Workspaces sheet lists, or the slug of a workspace of the tree".to_owned()
            }),
            Refusal::AmbiguousName { .. } => "use the slug of one of them as the row's org_id".to_owned(),
            Refusal::SlugTaken { .. } => "give the workspace in the files the name the Workspaces sheet has, or use its slug as the row's org_id".to_owned(),
            Refusal::SlugShared { .. } => "declare the workspaces in the tree first (each with its slug and the sheet's name), then import again".to_owned(),
            Refusal::NoSlug { .. } => "declare the workspace in the tree first, with a slug and the sheet's name, then import again".to_owned(),
            Refusal::Duplicate { .. } => "remove one of the two rows".to_owned(),
            Refusal::RoleConflict { .. } => "tenet import never changes a role the files already give; change it in the file".to_owned(),
        })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::BlankOrgId => f.write_str("org_id is blank"),
            Refusal::BlankEmail => f.write_str("email is blank"),
            Refusal::InvalidEmail(e) => write!(f, "`{e}` is not a valid email address"),
            Refusal::UnknownRole { role, .. } => write!(f, "unknown role `{role}`"),
            Refusal::Password => f.write_str(
                "a password is set; tenet never stores passwords: leave the column blank, the user gets an invitation",
            ),
            Refusal::UnknownOrganisation { id, .. } => write!(
                f,
                "unknown organisation ID `{id}`; it is not in the Workspaces sheet and no workspace has that slug"
            ),
            Refusal::AmbiguousName { id, name, slugs } => write!(
                f,
                "organisation `{id}` is named `{name}`, and so are the workspaces {}",
                slugs.join(", ")
            ),
            Refusal::SlugTaken {
                id,
                name,
                slug,
                declared_as,
                file,
            } => write!(
                f,
                "organisation `{id}` is named `{name}`, but the workspace `{slug}` ({}) is named {}",
                file.display(),
                declared_as
                    .as_deref()
                    .map_or_else(|| "nothing".to_owned(), |n| format!("`{n}`"))
            ),
            Refusal::SlugShared { id, slug, other_id } => write!(
                f,
                "organisations `{other_id}` and `{id}` would both be the workspace `{slug}`"
            ),
            Refusal::NoSlug { id, name } => write!(
                f,
                "no workspace slug can be made from `{name}`, the name of organisation `{id}`"
            ),
            Refusal::Duplicate { first_row } => {
                write!(f, "the same user and organisation as row {first_row}")
            }
            Refusal::RoleConflict {
                roles,
                workspace,
                file,
                team,
            } => {
                let through = team
                    .as_deref()
                    .map(|t| format!(" through team `{t}`"))
                    .unwrap_or_default();
                write!(
                    f,
                    "already {} in {workspace}{through} ({}); change it there",
                    roles.join(", "),
                    file.display()
                )
            }
        }
    }
}

/// What one row did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A membership of a new user (the first row naming the user creates
    /// it).
    Created,
    /// A new membership of a user the tree (or an earlier row) declares.
    Added,
    /// The tree already says it.
    Unchanged,
    Refused {
        why: Refusal,
        place: Place,
    },
}

/// One row's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    pub number: u32,
    /// As written (for the report).
    pub org_id: String,
    pub email: String,
    /// The email case-folded, once it is known to be one.
    pub user: Option<String>,
    /// The workspace the row is about, when it is known.
    pub workspace: Option<String>,
    pub role: String,
    pub outcome: Outcome,
}

/// A user to declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: Option<String>,
}

/// Everything an import adds, keyed for deterministic output.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decisions {
    pub rows: Vec<RowResult>,
    /// Case-folded email -> user.
    pub users: BTreeMap<String, NewUser>,
    /// Slug -> name of each new workspace.
    pub workspaces: BTreeMap<String, String>,
    /// Workspace -> (email key -> role): the memberships to declare. The
    /// key is the email as the tree spells it (case-folded for new users).
    pub members: BTreeMap<String, BTreeMap<String, String>>,
}

impl Decisions {
    pub fn refused(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Refused { .. }))
            .count()
    }

    /// True when nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.workspaces.is_empty() && self.members.is_empty()
    }
}

/// A slug made from a name: lower-case ASCII letters and digits, accents
/// dropped from Latin letters, everything else one `-`, at most 63
/// characters; `None` when nothing is left.
pub fn slug_from(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = unaccented(c);
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(63);
    let out = out.trim_end_matches('-').to_owned();
    is_slug(&out).then_some(out)
}

/// The base letter of a lower-case Latin letter with a diacritic.
fn unaccented(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ğ' => 'g',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => 'i',
        'ł' | 'ľ' => 'l',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ř' => 'r',
        'ś' | 'š' | 'ş' => 's',
        'ť' | 'ţ' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        c => c,
    }
}

/// Where an `org_id` leads.
enum Target {
    Workspace(String),
    Refused(Refusal),
}

/// Resolves organisation IDs to workspaces, making new ones as needed.
struct Resolver<'a> {
    tree: &'a Tree,
    organisations: &'a Organisations,
    /// Declared workspaces by name, case-folded.
    by_name: BTreeMap<String, Vec<&'a str>>,
    /// New slug -> the ID it was made for.
    made: BTreeMap<String, String>,
    /// "did you mean" hints still to give: each compares with every
    /// workspace, so a sheet of thousands of unknown IDs gets the first few.
    hints: usize,
    new: BTreeMap<String, String>,
}

impl<'a> Resolver<'a> {
    fn new(tree: &'a Tree, organisations: &'a Organisations) -> Self {
        let mut by_name: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (slug, w) in &tree.workspaces {
            if let Some(n) = &w.name {
                by_name
                    .entry(fold(n.trim()).into_owned())
                    .or_default()
                    .push(slug);
            }
        }
        Resolver {
            tree,
            organisations,
            by_name,
            made: BTreeMap::new(),
            new: BTreeMap::new(),
            hints: MAX_HINTS,
        }
    }

    fn resolve(&mut self, id: &str) -> Target {
        if self.tree.workspaces.contains_key(id) {
            return Target::Workspace(id.to_owned());
        }
        let Some(name) = self.organisations.get(id) else {
            let slugs = self.tree.workspaces.keys().map(String::as_str);
            let hint = (self.hints > 0).then(|| did_you_mean(id, slugs)).flatten();
            self.hints = self.hints.saturating_sub(1);
            return Target::Refused(Refusal::UnknownOrganisation {
                id: id.to_owned(),
                hint,
            });
        };
        match self.by_name.get(fold(name).as_ref()).map(Vec::as_slice) {
            Some([one]) => return Target::Workspace((*one).to_owned()),
            Some(several) if several.len() > 1 => {
                return Target::Refused(Refusal::AmbiguousName {
                    id: id.to_owned(),
                    name: name.clone(),
                    slugs: several.iter().map(|s| (*s).to_owned()).collect(),
                });
            }
            _ => {}
        }
        let Some(slug) = slug_from(name) else {
            return Target::Refused(Refusal::NoSlug {
                id: id.to_owned(),
                name: name.clone(),
            });
        };
        if let Some(w) = self.tree.workspaces.get(&slug) {
            return Target::Refused(Refusal::SlugTaken {
                id: id.to_owned(),
                name: name.clone(),
                slug,
                declared_as: w.name.clone(),
                file: w.file.clone(),
            });
        }
        match self.made.get(&slug) {
            Some(other) if other != id => Target::Refused(Refusal::SlugShared {
                id: id.to_owned(),
                slug,
                other_id: other.clone(),
            }),
            _ => {
                self.made.insert(slug.clone(), id.to_owned());
                Target::Workspace(slug)
            }
        }
    }
}

/// A row's fields checked: its email, role and workspace.
struct Checked {
    email: Email,
    role: String,
    workspace: String,
}

/// Checks the fields of a row, the first problem found refusing it.
/// A refusal and the place it points at.
type Refused = Box<(Refusal, Place)>;

fn refuse(why: Refusal, place: Place) -> Refused {
    Box::new((why, place))
}

fn check(row: &UserRow, resolver: &mut Resolver) -> Result<Checked, Refused> {
    let at = |f: &Field| f.place.clone();
    if let Some(place) = &row.password {
        return Err(refuse(Refusal::Password, place.clone()));
    }
    if row.org_id.is_blank() {
        return Err(refuse(Refusal::BlankOrgId, at(&row.org_id)));
    }
    if row.email.is_blank() {
        return Err(refuse(Refusal::BlankEmail, at(&row.email)));
    }
    let email = Email::parse(&row.email.text).map_err(|_| {
        (
            Refusal::InvalidEmail(row.email.text.clone()),
            at(&row.email),
        )
    })?;
    let role = if row.role.is_blank() {
        DEFAULT_ROLE.to_owned()
    } else {
        let r = row.role.text.to_lowercase();
        let r = r.strip_prefix("org ").unwrap_or(&r).trim().to_owned();
        if !ROLES.contains(&r.as_str()) {
            return Err(refuse(
                Refusal::UnknownRole {
                    role: row.role.text.clone(),
                    hint: did_you_mean(&r, ROLES),
                },
                at(&row.role),
            ));
        }
        r
    };
    let workspace = match resolver.resolve(&row.org_id.text) {
        Target::Workspace(w) => w,
        Target::Refused(why) => return Err(refuse(why, at(&row.org_id))),
    };
    Ok(Checked {
        email,
        role,
        workspace,
    })
}

/// The roles the tree already gives `email` in `workspace`, with the team
/// that gives them when it is not a direct membership.
fn existing_roles(
    tree: &Tree,
    workspace: &str,
    email: &str,
) -> Option<(Vec<String>, Option<String>)> {
    let w = tree.workspaces.get(workspace)?;
    if let Some(roles) = w.members.get(email) {
        return Some((roles.clone(), None));
    }
    w.teams.iter().find_map(|(team, roles)| {
        tree.teams
            .get(team)
            .is_some_and(|m| m.iter().any(|e| e == email))
            .then(|| (roles.clone(), Some(team.clone())))
    })
}

/// Decides every row.
pub fn decide(rows: &[UserRow], organisations: &Organisations, tree: &Tree) -> Decisions {
    let mut resolver = Resolver::new(tree, organisations);
    let mut d = Decisions::default();
    // (workspace, email) -> the first row that named them.
    let mut seen: BTreeMap<(String, String), u32> = BTreeMap::new();
    for row in rows {
        let mut result = RowResult {
            number: row.number,
            org_id: row.org_id.text.clone(),
            email: row.email.text.clone(),
            user: None,
            workspace: None,
            role: if row.role.is_blank() {
                DEFAULT_ROLE.to_owned()
            } else {
                row.role.text.clone()
            },
            outcome: Outcome::Unchanged,
        };
        let c = match check(row, &mut resolver) {
            Ok(c) => c,
            Err(refused) => {
                let (why, place) = *refused;
                result.outcome = Outcome::Refused { why, place };
                d.rows.push(result);
                continue;
            }
        };
        let email = c.email.as_str().to_owned();
        result.workspace = Some(c.workspace.clone());
        result.role = c.role.clone();
        result.user = Some(email.clone());
        let key = (c.workspace.clone(), email.clone());
        if let Some(first) = seen.get(&key) {
            result.outcome = Outcome::Refused {
                why: Refusal::Duplicate { first_row: *first },
                place: row.email.place.clone(),
            };
            d.rows.push(result);
            continue;
        }
        seen.insert(key, row.number);
        if let Some((roles, team)) = existing_roles(tree, &c.workspace, &email) {
            result.outcome = if roles.contains(&c.role) {
                Outcome::Unchanged
            } else {
                let file = tree
                    .workspaces
                    .get(&c.workspace)
                    .map(|w| w.file.clone())
                    .unwrap_or_default();
                Outcome::Refused {
                    why: Refusal::RoleConflict {
                        roles,
                        workspace: c.workspace.clone(),
                        file,
                        team,
                    },
                    place: row.role.place.clone(),
                }
            };
            d.rows.push(result);
            continue;
        }
        let key = match tree.users.get(&email) {
            Some(u) => {
                result.outcome = Outcome::Added;
                u.key.clone()
            }
            None => {
                d.users.entry(email.clone()).or_insert_with(|| NewUser {
                    name: (!row.display_name.is_blank()).then(|| row.display_name.text.clone()),
                });
                result.outcome = Outcome::Created;
                email.clone()
            }
        };
        if !tree.workspaces.contains_key(&c.workspace) {
            let name = resolver.new.entry(c.workspace.clone()).or_insert_with(|| {
                organisations
                    .get(&row.org_id.text)
                    .cloned()
                    .unwrap_or_else(|| c.workspace.clone())
            });
            d.workspaces.insert(c.workspace.clone(), name.clone());
        }
        d.members
            .entry(c.workspace.clone())
            .or_default()
            .insert(key, c.role);
        d.rows.push(result);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::rows::{columns, user_rows};
    use crate::import::tree::{User, Workspace};

    fn tree() -> Tree {
        let mut t = Tree {
            exists: true,
            profile: Some("magoneai".into()),
            ..Tree::default()
        };
        t.users.insert(
            "ada@x.example".into(),
            User {
                key: "Ada@x.example".into(),
                file: "users.toml".into(),
            },
        );
        t.workspaces.insert(
            "research".into(),
            Workspace {
                file: "organizations/research.toml".into(),
                name: Some("Research".into()),
                members: BTreeMap::from([
                    ("ada@x.example".into(), vec!["admin".into()]),
                    ("eve@x.example".into(), vec!["member".into()]),
                ]),
                ..Workspace::default()
            },
        );
        t
    }

    fn rows(csv: &str) -> Vec<UserRow> {
        let t = crate::import::delimited::table("u.csv", csv).unwrap();
        user_rows(&t, &columns(&t).unwrap())
    }

    fn outcomes(d: &Decisions) -> Vec<String> {
        d.rows
            .iter()
            .map(|r| match &r.outcome {
                Outcome::Refused { why, .. } => format!("{}: {why}", r.number),
                o => format!("{}: {o:?}", r.number),
            })
            .collect()
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(
            slug_from("Research & Development").as_deref(),
            Some("research-development")
        );
        assert_eq!(
            slug_from("  Société Générale ").as_deref(),
            Some("societe-generale")
        );
        assert_eq!(slug_from("研究"), None);
        assert_eq!(slug_from(&"a".repeat(80)).map(|s| s.len()), Some(63));
    }

    #[test]
    fn every_row_gets_an_outcome() {
        let orgs = Organisations::from([
            ("org-7".into(), "Research".into()),
            ("org-9".into(), "Field Sales".into()),
        ]);
        let d = decide(
            &rows(
                "org_id,email,display_name,role,password\n\
                 research,eve@x.example,,Member,\n\
                 org-7,ADA@x.example,,owner,\n\
                 org-9,bo@x.example,Bo,Owner,\n\
                 org-9,bo@x.example,Bo,member,\n\
                 research,bo@x.example,,,\n\
                 nowhere,cy@x.example,,,\n\
                 research,not-an-email,,,\n\
                 research,cy@x.example,,ownr,\n\
                 research,dee@x.example,,,pw\n\
                 ,dee@x.example,,,\n",
            ),
            &orgs,
            &tree(),
        );
        assert_eq!(
            outcomes(&d),
            [
                "2: Unchanged",
                "3: already admin in research (organizations/research.toml); change it there",
                "4: Created",
                "5: the same user and organisation as row 4",
                "6: Created",
                "7: unknown organisation ID `nowhere`; it is not in the Workspaces sheet and no workspace has that slug",
                "8: `not-an-email` is not a valid email address",
                "9: unknown role `ownr`",
                "10: a password is set; tenet never stores passwords: leave the column blank, the user gets an invitation",
                "11: org_id is blank",
            ]
        );
        assert_eq!(
            d.workspaces,
            BTreeMap::from([("field-sales".into(), "Field Sales".into())])
        );
        assert_eq!(
            d.members,
            BTreeMap::from([
                (
                    "field-sales".into(),
                    BTreeMap::from([("bo@x.example".into(), "owner".into())])
                ),
                (
                    "research".into(),
                    BTreeMap::from([("bo@x.example".into(), "member".into())])
                ),
            ])
        );
        assert_eq!(d.users.len(), 1);
    }

    #[test]
    fn roles_as_the_portal_names_them() {
        let d = decide(
            &rows(
                "org_id,email,role\nresearch,a@x.example,Org Owner\nresearch,b@x.example,ADMIN\nresearch,c@x.example,\n",
            ),
            &Organisations::new(),
            &tree(),
        );
        let roles: Vec<&str> = d.rows.iter().map(|r| r.role.as_str()).collect();
        assert_eq!(roles, ["owner", "admin", "member"]);
    }

    #[test]
    fn a_role_through_a_team_is_a_role_too() {
        let mut t = tree();
        t.teams.insert("leads".into(), vec!["lee@x.example".into()]);
        if let Some(w) = t.workspaces.get_mut("research") {
            w.teams.insert("leads".into(), vec!["owner".into()]);
        }
        let d = decide(
            &rows(
                "org_id,email,role\nresearch,lee@x.example,admin\nresearch,LEE@x.example,owner\n",
            ),
            &Organisations::new(),
            &t,
        );
        assert_eq!(
            outcomes(&d)[0],
            "2: already owner in research through team `leads` (organizations/research.toml); change it there"
        );
        assert_eq!(
            outcomes(&d)[1],
            "3: the same user and organisation as row 2"
        );
        assert!(d.is_empty());
    }

    #[test]
    fn names_that_clash() {
        let orgs = Organisations::from([
            ("a".into(), "R&D".into()),
            ("b".into(), "R D".into()),
            ("c".into(), "research".into()),
        ]);
        let mut t = tree();
        t.workspaces.insert(
            "r-d".into(),
            Workspace {
                name: Some("Other".into()),
                file: "organizations/r-d.toml".into(),
                ..Workspace::default()
            },
        );
        let d = decide(
            &rows("org_id,email\na,x@x.example\nc,y@x.example\n"),
            &orgs,
            &t,
        );
        assert_eq!(
            outcomes(&d),
            [
                "2: organisation `a` is named `R&D`, but the workspace `r-d` (organizations/r-d.toml) is named `Other`",
                "3: Created",
            ]
        );
        let d = decide(
            &rows("org_id,email\na,x@x.example\nb,y@x.example\n"),
            &orgs,
            &tree(),
        );
        assert_eq!(
            outcomes(&d)[1],
            "3: organisations `a` and `b` would both be the workspace `r-d`"
        );
    }
}
