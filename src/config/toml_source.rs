//! TOML files -> the JSON shape of the schema, with a span for every key and
//! value. Parsing uses `toml`'s spanned `DeTable` with error recovery, so every
//! syntax error of a file is reported, not only the first.

use serde_json::{Map, Number, Value};
use toml::de::{DeTable, DeValue};

use std::sync::Arc;

use super::spans::{SpanIndex, SpanMap, Spans, push};
use crate::diagnostic::{Diagnostic, FileId};

/// A parsed file: its JSON value and the spans of everything in it.
pub struct Parsed {
    pub value: Value,
    pub spans: SpanIndex,
    /// Problems that do not stop the file from being used (KDL shape).
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses TOML text. Syntax errors come back as diagnostics; a file with any
/// syntax error yields no value, so nothing half-read is merged. The spans
/// are indexed only when a diagnostic first asks for one ([`index`]).
pub fn parse(file: FileId, text: &Arc<str>) -> Result<Parsed, Vec<Diagnostic>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(syntax_errors(file, text, &errors));
    }
    let value = table_to_json(table.get_ref());
    Ok(Parsed {
        value,
        spans: SpanIndex::later(text.clone(), index),
        diagnostics: Vec::new(),
    })
}

/// The spans of every key and value of a TOML text that parses (others
/// have nothing to index): parsed again, which costs less than keeping a
/// pointer string per value of every file in case one is needed.
pub fn index(text: &str) -> SpanMap {
    let (table, _) = DeTable::parse_recoverable(text);
    let mut spans = SpanMap::new();
    index_table(table.get_ref(), "", &mut spans);
    spans
}

fn index_table(table: &DeTable<'_>, pointer: &str, spans: &mut SpanMap) {
    for (key, value) in table.iter() {
        let p = push(pointer, key.get_ref());
        index_value(value.get_ref(), &p, spans);
        let (key, value) = (Some(key.span()), value.span());
        spans.insert(p, Spans { key, value });
    }
}

fn index_value(value: &DeValue<'_>, pointer: &str, spans: &mut SpanMap) {
    match value {
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = push(pointer, &i.to_string());
                index_value(item.get_ref(), &p, spans);
                spans.insert(
                    p,
                    Spans {
                        key: None,
                        value: item.span(),
                    },
                );
            }
        }
        DeValue::Table(t) => index_table(t, pointer, spans),
        _ => {}
    }
}

/// At most this many syntax errors are shown per file: past the first few,
/// errors are mostly consequences of the first.
const MAX_SYNTAX_ERRORS: usize = 10;

fn syntax_errors(file: FileId, text: &str, errors: &[toml::de::Error]) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut last_line = None;
    let mut errors: Vec<_> = errors.iter().collect();
    errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
    for e in &errors {
        let span = clamp(e.span().unwrap_or(0..0), text.len());
        let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        // One error per line: the others on it are echoes of the first.
        if last_line == Some(line_start) {
            continue;
        }
        last_line = Some(line_start);
        if out.len() == MAX_SYNTAX_ERRORS {
            break;
        }
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i);
        let line = &text[line_start..line_end];
        let raw = e.message().trim();
        let (first, crate_help) = split_message(raw);
        let d = if raw.contains("recursion") {
            // The line may be megabytes long: the renderer shows a window.
            Diagnostic::error(
                "tenet::syntax::too-deep",
                "invalid TOML: arrays or tables are nested too deeply",
            )
            .with_label(file, span, "too deep here")
            .with_help("a tenet config needs only a few levels; check for unbalanced brackets")
        } else if let Some((message, help)) = explain(line) {
            Diagnostic::error("tenet::syntax::toml", format!("invalid TOML: {message}"))
                .with_label(file, span, "here")
                .with_help(help)
        } else {
            Diagnostic::error("tenet::syntax::toml", format!("invalid TOML: {first}"))
                .with_label(file, span, "here")
                .with_help_opt(crate_help.or_else(|| Some(TOML_HELP.to_owned())))
        };
        out.push(d);
    }
    let hidden = errors.len().saturating_sub(out.len());
    if hidden > 0
        && let Some(last) = out.last_mut()
    {
        let help = last.help.take().unwrap_or_default();
        last.help = Some(format!(
            "{help} ({hidden} more syntax error{} in this file are not shown; they often follow from this one)",
            if hidden == 1 { "" } else { "s" }
        ));
    }
    out
}

/// A plain-words explanation of a common mistake on a `key = value` line.
fn explain(line: &str) -> Option<(String, String)> {
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    let value = value.split('#').next().unwrap_or("").trim();
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    if value.is_empty() {
        return Some((
            format!("`{key}` has no value"),
            format!(
                "write a value after `=`, for example {key} = \"...\" or {key} = 100, or remove the line"
            ),
        ));
    }
    let bare = value
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '.' || c == ' ');
    if !bare || value.starts_with(|c: char| c.is_ascii_digit()) && value.contains(' ') {
        if value
            .split(' ')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '_'))
        {
            return Some((
                format!("the number for `{key}` contains a space"),
                format!(
                    "write {key} = {} (underscores may group digits: 1_000)",
                    value.replace(' ', "")
                ),
            ));
        }
        return None;
    }
    if value.starts_with(|c: char| c.is_ascii_digit())
        || matches!(value, "true" | "false" | "inf" | "nan")
    {
        return None;
    }
    if matches!(
        value.to_lowercase().as_str(),
        "yes" | "no" | "on" | "off" | "y" | "n"
    ) {
        return Some((
            format!("`{value}` is not a TOML boolean"),
            format!("write {key} = true or {key} = false"),
        ));
    }
    Some((
        format!("the text for `{key}` is not quoted"),
        format!("strings need double quotes: {key} = \"{value}\""),
    ))
}

const TOML_HELP: &str = "see https://toml.io/en/v1.0.0 for the syntax; strings need quotes, tables are [name] or name = { ... }";

fn clamp(span: std::ops::Range<usize>, len: usize) -> std::ops::Range<usize> {
    span.start.min(len)..span.end.min(len)
}

/// The toml crate puts its own advice after the first line; keep it as help.
fn split_message(message: &str) -> (String, Option<String>) {
    match message.split_once('\n') {
        Some((first, rest)) if !rest.trim().is_empty() => {
            (first.trim().to_owned(), Some(rest.trim().to_owned()))
        }
        _ => (message.to_owned(), None),
    }
}

fn table_to_json(table: &DeTable<'_>) -> Value {
    let mut map = Map::new();
    for (key, value) in table.iter() {
        map.insert(key.get_ref().to_string(), value_to_json(value.get_ref()));
    }
    Value::Object(map)
}

fn value_to_json(value: &DeValue<'_>) -> Value {
    match value {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let n = i128::from_str_radix(i.as_str(), i.radix())
                .ok()
                .and_then(|n| i64::try_from(n).ok().map(Number::from));
            // Integers beyond i64 are rejected by TOML itself; keep the text.
            n.map_or_else(|| Value::String(i.to_string()), Value::Number)
        }
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| value_to_json(item.get_ref()))
                .collect(),
        ),
        DeValue::Table(t) => table_to_json(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_with_spans() {
        let text =
            "[users.\"a@b.co\"]\nname = \"A\"\n[workspaces.w]\nquotas = { storage_gb = 5 }\n";
        let parsed = parse(0, &Arc::from(text)).unwrap_or_else(|_| panic!("parse"));
        assert_eq!(parsed.value["users"]["a@b.co"]["name"], "A");
        assert_eq!(parsed.value["workspaces"]["w"]["quotas"]["storage_gb"], 5);
        let s = parsed.spans.value_span("/users/a@b.co/name").unwrap();
        assert_eq!(&text[s], "\"A\"");
        let k = parsed
            .spans
            .key_span("/workspaces/w/quotas/storage_gb")
            .unwrap();
        assert_eq!(&text[k], "storage_gb");
    }

    #[test]
    fn reports_every_syntax_error() {
        let errs = parse(0, &Arc::from("a = \nb = [1,\n"))
            .err()
            .unwrap_or_default();
        assert!(!errs.is_empty());
    }

    #[test]
    fn explains_common_mistakes() {
        let first = |t: &str| {
            parse(0, &Arc::from(t))
                .err()
                .unwrap_or_default()
                .remove(0)
                .message
        };
        assert_eq!(
            first("name = Finance\n"),
            "invalid TOML: the text for `name` is not quoted"
        );
        assert_eq!(first("max = \n"), "invalid TOML: `max` has no value");
        assert_eq!(
            first("on = yes\n"),
            "invalid TOML: `yes` is not a TOML boolean"
        );
        assert_eq!(
            first("n = 1 00\n"),
            "invalid TOML: the number for `n` contains a space"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("a = {}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(0, &Arc::from(text)).is_err());
    }
}
