//! The MagOneAI bulk-import template read into typed rows: the `Users`
//! table's columns found by header name (case-insensitively, in any order,
//! `Display Name` as `display_name`), each row's fields trimmed, and the
//! `Workspaces` reference list as organisation ID -> name. A password is
//! never kept: a row only remembers that it had one, and where.

use std::collections::BTreeMap;

use super::sheet::{Cell, Place, Row, Table};
use crate::diagnostic::did_you_mean;

/// The columns of the users table, by header name.
pub const ORG_ID: &str = "org_id";
pub const EMAIL: &str = "email";
pub const DISPLAY_NAME: &str = "display_name";
pub const ROLE: &str = "role";
pub const PASSWORD: &str = "password";

/// Where each known column of the users table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub org_id: usize,
    pub email: usize,
    pub display_name: Option<usize>,
    pub role: Option<usize>,
    pub password: Option<usize>,
}

/// A required column the header lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sheet `{sheet}` has no `{column}` column")]
pub struct MissingColumn {
    pub sheet: String,
    pub column: &'static str,
    /// Where the header row is.
    pub place: Place,
    /// "did you mean ...?" or the headers there are.
    pub hint: String,
}

/// A header as compared: trimmed, lower-case, spaces and hyphens as `_`.
fn normalized(header: &str) -> String {
    header
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

/// The index of the first header named one of `names`.
fn find(header: &[Cell], names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|c| names.contains(&normalized(&c.text).as_str()))
}

/// Finds the users table's columns; `org_id` and `email` are required.
pub fn columns(table: &Table) -> Result<Columns, Vec<MissingColumn>> {
    let org_id = find(
        &table.header,
        &[ORG_ID, "organization_id", "organisation_id"],
    );
    let email = find(&table.header, &[EMAIL, "e_mail", "email_address"]);
    let missing: Vec<MissingColumn> = [(ORG_ID, org_id), (EMAIL, email)]
        .into_iter()
        .filter(|(_, found)| found.is_none())
        .map(|(column, _)| missing(table, column))
        .collect();
    match (org_id, email) {
        (Some(org_id), Some(email)) => Ok(Columns {
            org_id,
            email,
            display_name: find(&table.header, &[DISPLAY_NAME, "name", "full_name"]),
            role: find(&table.header, &[ROLE]),
            password: find(&table.header, &[PASSWORD]),
        }),
        _ => Err(missing),
    }
}

fn missing(table: &Table, column: &'static str) -> MissingColumn {
    let headers: Vec<String> = table
        .header
        .iter()
        .map(|c| normalized(&c.text))
        .filter(|h| !h.is_empty())
        .collect();
    let hint = did_you_mean(column, headers.iter().map(String::as_str)).unwrap_or_else(|| {
        let listed = if headers.is_empty() {
            "none".to_owned()
        } else {
            headers
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "the first row must name the columns: org_id, email, display_name, role, password (the headers found: {listed})"
        )
    });
    MissingColumn {
        sheet: table.name.clone(),
        column,
        place: table.header_place.clone(),
        hint,
    }
}

/// A field of a row: its trimmed text (empty when blank or absent) and
/// where it is (the row's start when the row does not reach the column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub text: String,
    pub place: Place,
}

impl Field {
    fn of(row: &Row, column: Option<usize>) -> Field {
        match column.and_then(|c| row.cell(c)) {
            Some(cell) => Field {
                text: cell.text.trim().to_owned(),
                place: cell.place.clone(),
            },
            None => Field {
                text: String::new(),
                place: row.place.clone(),
            },
        }
    }

    pub fn is_blank(&self) -> bool {
        self.text.is_empty()
    }
}

/// One row of the users table, as written (nothing checked yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub number: u32,
    pub org_id: Field,
    pub email: Field,
    pub display_name: Field,
    pub role: Field,
    /// Where a non-blank password is: only that it is there is kept.
    pub password: Option<Place>,
}

/// The rows of the users table that are not blank, in order.
pub fn user_rows(table: &Table, columns: &Columns) -> Vec<UserRow> {
    table
        .rows
        .iter()
        .filter(|r| !r.is_blank())
        .map(|r| UserRow {
            number: r.number,
            org_id: Field::of(r, Some(columns.org_id)),
            email: Field::of(r, Some(columns.email)),
            display_name: Field::of(r, columns.display_name),
            role: Field::of(r, columns.role),
            password: columns
                .password
                .and_then(|c| r.cell(c))
                .filter(|c| !c.text.trim().is_empty())
                .map(|c| c.place.clone()),
        })
        .collect()
}

/// The places of every password cell that is not blank (to mask a CSV
/// file's text before any of it is shown).
pub fn password_places(table: &Table, columns: &Columns) -> Vec<Place> {
    let Some(c) = columns.password else {
        return Vec::new();
    };
    table
        .rows
        .iter()
        .filter_map(|r| r.cell(c))
        .filter(|cell| !cell.text.is_empty())
        .map(|cell| cell.place.clone())
        .collect()
}

/// The reference list of organisations: ID -> name.
pub type Organisations = BTreeMap<String, String>;

/// The ID -> name pairs of a `Workspaces` table, tolerant of its headers
/// (`org_id` or `id`, and `name` or `org_name`); without recognisable
/// headers, the first two columns. Rows without both are skipped.
pub fn organisations(table: &Table) -> Organisations {
    let id = find(
        &table.header,
        &[
            ORG_ID,
            "id",
            "organization_id",
            "organisation_id",
            "workspace_id",
        ],
    );
    let name = find(
        &table.header,
        &[
            "name",
            "org_name",
            "organization_name",
            "organisation_name",
            "workspace_name",
            "organization",
            "organisation",
            "workspace",
        ],
    );
    let (id, name) = match (id, name) {
        (Some(i), Some(n)) => (i, n),
        (Some(i), None) => (i, usize::from(i == 0)),
        (None, Some(n)) => (usize::from(n == 0), n),
        (None, None) => (0, 1),
    };
    let mut out = Organisations::new();
    for row in &table.rows {
        let (Some(i), Some(n)) = (row.cell(id), row.cell(name)) else {
            continue;
        };
        let (i, n) = (i.text.trim(), n.text.trim());
        if !i.is_empty() && !n.is_empty() {
            out.entry(i.to_owned()).or_insert_with(|| n.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::delimited::table;

    #[test]
    fn columns_by_name_in_any_order() {
        let t = table("u.csv", "Role,E-mail,Display Name,ORG_ID,Password\n").unwrap();
        assert_eq!(
            columns(&t).unwrap(),
            Columns {
                org_id: 3,
                email: 1,
                display_name: Some(2),
                role: Some(0),
                password: Some(4)
            }
        );
    }

    #[test]
    fn a_missing_column_is_named_with_a_hint() {
        let t = table("u.csv", "orgid,mail\n").unwrap();
        let e = columns(&t).unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].column, ORG_ID);
        assert_eq!(e[0].hint, "did you mean `orgid`?");
    }

    #[test]
    fn rows_keep_no_password() {
        let t = table(
            "u.csv",
            "org_id,email,password\nresearch,a@x.example,s3cret-canary\n,,\nops,b@x.example,\n",
        )
        .unwrap();
        let rows = user_rows(&t, &columns(&t).unwrap());
        assert_eq!(rows.len(), 2);
        assert!(rows[0].password.is_some());
        assert!(rows[1].password.is_none());
        assert!(!format!("{rows:?}").contains("canary"));
    }

    #[test]
    fn organisations_with_loose_headers() {
        let t = table("w.csv", "ID,Organization\norg-1,Research\norg-2,\n").unwrap();
        assert_eq!(
            organisations(&t),
            Organisations::from([("org-1".into(), "Research".into())])
        );
    }
}
