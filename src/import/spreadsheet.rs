//! An xlsx workbook -> [`Workbook`], with `calamine`: the `Users` sheet
//! (by name, case-insensitively; a workbook of one sheet is that sheet) and
//! the `Workspaces` reference sheet if there is one. Cells become the text
//! the spreadsheet shows (a number `12` stays `12`); each keeps its sheet,
//! column and row so a problem can name `Users!B7`.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::sheet::{Cell, Kind, Place, ReadError, Row, Table, Workbook};

/// Names of the reference sheet of organisations, compared
/// case-insensitively.
const WORKSPACE_SHEETS: [&str; 4] = ["workspaces", "organizations", "organisations", "orgs"];

pub fn read(bytes: &[u8]) -> Result<Workbook, ReadError> {
    // calamine is not expected to panic on a damaged archive, but a bad
    // file must never take the command down with it.
    let read = std::panic::catch_unwind(|| read_workbook(bytes));
    read.unwrap_or_else(|_| Err(ReadError::Xlsx("the workbook is damaged".to_owned())))
}

fn read_workbook(bytes: &[u8]) -> Result<Workbook, ReadError> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| ReadError::Xlsx(e.to_string()))?;
    let names = book.sheet_names();
    let users_name = names
        .iter()
        .find(|n| n.trim().eq_ignore_ascii_case("users"))
        .or_else(|| (names.len() == 1).then(|| &names[0]))
        .cloned()
        .ok_or_else(|| ReadError::NoUsersSheet(names.join(", ")))?;
    let users = table(&mut book, &users_name)?;
    let workspaces = match names.iter().find(|n| {
        WORKSPACE_SHEETS
            .iter()
            .any(|w| n.trim().eq_ignore_ascii_case(w))
    }) {
        Some(n) => {
            let n = n.clone();
            Some(table(&mut book, &n)?)
        }
        None => None,
    };
    Ok(Workbook {
        kind: Kind::Xlsx,
        users,
        workspaces,
        text: String::new(),
    })
}

/// One sheet as a table: its first non-empty row is the header.
fn table(book: &mut Xlsx<Cursor<&[u8]>>, name: &str) -> Result<Table, ReadError> {
    let range = book
        .worksheet_range(name)
        .map_err(|e| ReadError::Xlsx(format!("sheet `{name}`: {e}")))?;
    let Some((row0, col0)) = range.start() else {
        return Err(ReadError::NoHeader(name.to_owned()));
    };
    let place = |row: u32, column: u32| Place::Cell {
        sheet: name.to_owned(),
        column,
        row,
    };
    let mut rows = range.rows().enumerate().map(|(i, cells)| {
        let number = row0.saturating_add(i as u32).saturating_add(1);
        Row {
            number,
            place: place(number, col0),
            cells: cells
                .iter()
                .enumerate()
                .map(|(j, data)| Cell {
                    text: text(data),
                    place: place(number, col0.saturating_add(j as u32)),
                })
                .collect(),
        }
    });
    let header = rows
        .next()
        .ok_or_else(|| ReadError::NoHeader(name.to_owned()))?;
    Ok(Table {
        name: name.to_owned(),
        header_place: header.place.clone(),
        header: header.cells,
        rows: rows.collect(),
    })
}

/// The text a cell shows.
fn text(data: &Data) -> String {
    match data {
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}
