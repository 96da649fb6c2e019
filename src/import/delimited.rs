//! A CSV file -> [`Workbook`], with the `csv` crate: the header row and the
//! rows below it, the users sheet alone (a CSV file has one sheet). The
//! delimiter is the one the header line uses most (`,`, `;` as spreadsheet
//! programs write in many locales, or a tab). Each cell keeps its bytes in
//! the file, found by a small scan of the record's text, so a problem is
//! shown at its `file:line:column`. A row is numbered by the line it starts
//! on: the header is row 1, as in a spreadsheet.

use std::ops::Range;

use super::sheet::{Cell, Kind, Place, ReadError, Row, Table, Workbook};

pub fn read(name: &str, bytes: &[u8]) -> Result<Workbook, ReadError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        ReadError::Unknown {
            why: format!(
                "line {} is not UTF-8 text (save the CSV as UTF-8)",
                bytes[..at].iter().filter(|b| **b == b'\n').count() + 1
            ),
        }
    })?;
    let table = table(name, text)?;
    Ok(Workbook {
        kind: Kind::Csv,
        users: table,
        workspaces: None,
        text: text.to_owned(),
    })
}

/// The rows of a CSV text: the first one is the header.
pub fn table(name: &str, text: &str) -> Result<Table, ReadError> {
    // A byte-order mark is not part of the first header.
    let base = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &text[base..];
    let delimiter = delimiter(body);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body.as_bytes());
    let mut rows = Vec::new();
    // Lines counted up to `counted`, so that counting stays linear.
    let (mut counted, mut line) = (0usize, 1u64);
    for record in reader.records() {
        let record = record.map_err(|e| ReadError::Csv {
            line: e.position().map_or(0, |p| p.line()),
            why: csv_reason(&e),
        })?;
        // A record's position may be that of the blank lines before it.
        let mut start = record
            .position()
            .map_or(0, |p| p.byte() as usize)
            .min(body.len());
        while matches!(body.as_bytes().get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start >= counted {
            line += body[counted..start].matches('\n').count() as u64;
            counted = start;
        }
        let spans = field_spans(body, start, record.len(), delimiter);
        let cells: Vec<Cell> = record
            .iter()
            .zip(spans)
            .map(|(field, span)| Cell {
                text: field.to_owned(),
                place: Place::Bytes(span.start + base..span.end + base),
            })
            .collect();
        rows.push(Row {
            number: u32::try_from(line).unwrap_or(u32::MAX),
            place: Place::Bytes(start + base..start + base),
            cells,
        });
    }
    let mut rows = rows.into_iter();
    let header = rows
        .next()
        .ok_or_else(|| ReadError::NoHeader(name.to_owned()))?;
    Ok(Table {
        name: name.to_owned(),
        header_place: header.place,
        header: header.cells,
        rows: rows.collect(),
    })
}

/// What went wrong, in words (no field's text: it may be a password).
fn csv_reason(e: &::csv::Error) -> String {
    match e.kind() {
        ::csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
        ::csv::ErrorKind::Io(io) => io.to_string(),
        _ => "not a well-formed CSV record".to_owned(),
    }
}

/// The delimiter the first line uses most: `,` unless `;` or a tab is
/// more frequent.
fn delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let count = |c: char| first.matches(c).count();
    let (comma, semicolon, tab) = (count(','), count(';'), count('\t'));
    if tab > comma && tab > semicolon {
        b'\t'
    } else if semicolon > comma {
        b';'
    } else {
        b','
    }
}

/// The byte spans of the first `n` fields of the record starting at
/// `start`: a quoted field with its quotes, an unquoted one as written. A
/// record that does not scan as expected gets empty spans at its start.
fn field_spans(text: &str, start: usize, n: usize, delimiter: u8) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut spans = Vec::with_capacity(n);
    let mut at = start.min(b.len());
    while spans.len() < n {
        let from = at;
        if b.get(at) == Some(&b'"') {
            at += 1;
            while at < b.len() {
                if b[at] == b'"' {
                    if b.get(at + 1) == Some(&b'"') {
                        at += 2;
                        continue;
                    }
                    at += 1;
                    break;
                }
                at += 1;
            }
        }
        while at < b.len() && b[at] != delimiter && b[at] != b'\n' && b[at] != b'\r' {
            at += 1;
        }
        spans.push(from..at);
        if b.get(at) == Some(&delimiter) {
            at += 1;
        } else {
            break;
        }
    }
    while spans.len() < n {
        spans.push(start..start);
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(t: &Table, text: &str) -> Vec<Vec<(String, String)>> {
        t.rows
            .iter()
            .map(|r| {
                r.cells
                    .iter()
                    .map(|c| {
                        let Place::Bytes(s) = &c.place else {
                            panic!("not bytes")
                        };
                        (c.text.clone(), text[s.clone()].to_owned())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn fields_keep_their_bytes() {
        let text = "org_id,email,display_name\nresearch,a@x.example,\"Lima, Ana\"\r\n\n\"ops\",b@x.example,\"Say \"\"hi\"\"\"\n";
        let t = table("u.csv", text).unwrap();
        assert_eq!(t.header.len(), 3);
        assert_eq!(
            cells(&t, text),
            vec![
                vec![
                    ("research".into(), "research".into()),
                    ("a@x.example".into(), "a@x.example".into()),
                    ("Lima, Ana".into(), "\"Lima, Ana\"".into()),
                ],
                vec![
                    ("ops".into(), "\"ops\"".into()),
                    ("b@x.example".into(), "b@x.example".into()),
                    ("Say \"hi\"".into(), "\"Say \"\"hi\"\"\"".into()),
                ],
            ]
        );
        assert_eq!(t.rows[0].number, 2);
        assert_eq!(t.rows[1].number, 4);
    }

    #[test]
    fn semicolons_and_a_byte_order_mark() {
        let text = "\u{feff}org_id;email\nresearch;a@x.example\n";
        let t = table("u.csv", text).unwrap();
        assert_eq!(t.header[0].text, "org_id");
        assert_eq!(cells(&t, text)[0][1].1, "a@x.example");
    }

    #[test]
    fn no_header() {
        assert_eq!(
            table("u.csv", "").unwrap_err(),
            ReadError::NoHeader("u.csv".into())
        );
    }
}
