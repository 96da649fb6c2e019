//! A sheet as read, before any meaning is given to it: tables of text cells,
//! each cell knowing where it is (a spreadsheet's `Users!B7`, or a CSV
//! file's bytes), so every problem found later can point at it. The format
//! is told by content, not by name: an xlsx file is a zip archive (it opens
//! with `PK\x03\x04`); anything else must be UTF-8 text, read as CSV.

use std::fmt;
use std::ops::Range;

use super::{delimited, spreadsheet};

/// Inputs larger than this are refused unread: a bulk-import sheet of a
/// hundred thousand users is a few MiB.
pub const MAX_SHEET_BYTES: usize = 32 * 1024 * 1024;

/// What kind of file a sheet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Xlsx,
    Csv,
}

/// Where a cell (or a row) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A spreadsheet cell; `column` 0-based, `row` 1-based as the
    /// spreadsheet numbers it.
    Cell {
        sheet: String,
        column: u32,
        row: u32,
    },
    /// Bytes of a CSV file.
    Bytes(Range<usize>),
}

impl Place {
    /// `Users!B7` for a spreadsheet cell; `None` for CSV bytes (those are
    /// shown as `file:line:column`).
    pub fn cell_ref(&self) -> Option<String> {
        match self {
            Place::Cell { sheet, column, row } => {
                Some(format!("{sheet}!{}{row}", letters(*column)))
            }
            Place::Bytes(_) => None,
        }
    }
}

/// A 0-based column index as spreadsheet letters: 0 -> `A`, 27 -> `AB`.
pub fn letters(column: u32) -> String {
    let mut n = u64::from(column) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        out.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// One cell: its text as the sheet shows it, and where it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub place: Place,
}

// A cell may hold a password: its text is never printed, not even in a
// debug dump.
impl fmt::Debug for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cell")
            .field("bytes", &self.text.len())
            .field("place", &self.place)
            .finish()
    }
}

/// One row below the header.
#[derive(Debug, Clone)]
pub struct Row {
    /// As the spreadsheet numbers it: the header is row 1.
    pub number: u32,
    /// Where the row starts (its first cell).
    pub place: Place,
    pub cells: Vec<Cell>,
}

impl Row {
    /// The cell in `column`, if the row reaches it.
    pub fn cell(&self, column: usize) -> Option<&Cell> {
        self.cells.get(column)
    }

    /// True when every cell is blank (such rows are skipped).
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.text.trim().is_empty())
    }
}

/// A header row and the rows below it.
#[derive(Debug, Clone)]
pub struct Table {
    /// The sheet's name (for CSV, the file's).
    pub name: String,
    /// Where the header row is.
    pub header_place: Place,
    pub header: Vec<Cell>,
    pub rows: Vec<Row>,
}

/// A file read: the users table, and the reference list of organisations
/// when the file has one (the template's `Workspaces` sheet).
#[derive(Debug, Clone)]
pub struct Workbook {
    pub kind: Kind,
    pub users: Table,
    pub workspaces: Option<Table>,
    /// A CSV file's text (to point into); empty for a spreadsheet.
    pub text: String,
}

/// Why a file could not be read as a sheet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the file is {size} bytes, over the limit of {} MiB for a sheet", MAX_SHEET_BYTES / 1024 / 1024)]
    TooLarge { size: usize },
    #[error("the file is empty")]
    Empty,
    #[error("not an xlsx spreadsheet or a CSV file: {why}")]
    Unknown { why: String },
    #[error("cannot read the spreadsheet: {0}")]
    Xlsx(String),
    #[error("no sheet named `Users` (the sheets are: {0})")]
    NoUsersSheet(String),
    #[error("the sheet `{0}` has no header row")]
    NoHeader(String),
    #[error("cannot read the CSV file at line {line}: {why}")]
    Csv { line: u64, why: String },
}

/// Reads a sheet from its bytes, by content.
pub fn read(name: &str, bytes: &[u8]) -> Result<Workbook, ReadError> {
    if bytes.len() > MAX_SHEET_BYTES {
        return Err(ReadError::TooLarge { size: bytes.len() });
    }
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return spreadsheet::read(bytes);
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") {
        return Err(ReadError::Unknown {
            why: "it is named like an xlsx spreadsheet but is not one (every .xlsx file is a zip archive); \
                  save the sheet again from the spreadsheet program, as .xlsx or as CSV"
                .to_owned(),
        });
    }
    if looks_binary(bytes) {
        return Err(ReadError::Unknown {
            why: "it is neither a zip archive (as every .xlsx file is) nor text; \
                  an old .xls or an .ods file must be saved as .xlsx or CSV first"
                .to_owned(),
        });
    }
    delimited::read(name, bytes)
}

/// Text has no NUL bytes: a quick test that tells binary formats (`.xls`,
/// images, archives other than zip) from CSV.
fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8192).any(|b| *b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(letters(0), "A");
        assert_eq!(letters(25), "Z");
        assert_eq!(letters(26), "AA");
        assert_eq!(letters(27), "AB");
        assert_eq!(letters(701), "ZZ");
        assert_eq!(letters(702), "AAA");
    }

    #[test]
    fn a_spreadsheet_by_name_only_is_refused() {
        let e = read("People.XLSX", b"org_id,email\n").unwrap_err();
        assert!(
            e.to_string().contains("named like an xlsx spreadsheet"),
            "{e}"
        );
        assert!(read("people.csv", b"org_id,email\n").is_ok());
    }

    #[test]
    fn binary_is_neither() {
        let e = read("x.xlsx", b"\xd0\xcf\x11\xe0\0\0\0").unwrap_err();
        assert!(matches!(e, ReadError::Unknown { .. }), "{e}");
    }

    #[test]
    fn a_cell_never_shows_its_text_in_debug() {
        let c = Cell {
            text: "hunter2-secret".into(),
            place: Place::Bytes(0..1),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
