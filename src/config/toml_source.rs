//! TOML files -> the JSON shape of the schema, with a span for every key and
//! value. Parsing uses `toml`'s spanned `DeTable` with error recovery, so every
//! syntax error of a file is reported, not only the first.

use serde_json::{Map, Number, Value};
use toml::de::{DeTable, DeValue};

use super::spans::{SpanIndex, push};
use crate::diagnostic::{Diagnostic, FileId};

/// A parsed file: its JSON value and the spans of everything in it.
pub struct Parsed {
    pub value: Value,
    pub spans: SpanIndex,
}

/// Parses TOML text. Syntax errors come back as diagnostics; a file with any
/// syntax error yields no value, so nothing half-read is merged.
pub fn parse(file: FileId, text: &str) -> Result<Parsed, Vec<Diagnostic>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| {
                let span = e.span().unwrap_or(0..0);
                let message = e.message().trim().to_owned();
                let (message, help) = split_message(&message);
                Diagnostic::error("tenet::syntax::toml", format!("invalid TOML: {message}"))
                    .with_label(file, clamp(span, text.len()), "here")
                    .with_help_opt(help.or_else(|| Some(TOML_HELP.to_owned())))
            })
            .collect());
    }
    let mut spans = SpanIndex::default();
    let value = table_to_json(table.get_ref(), "", &mut spans);
    Ok(Parsed { value, spans })
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

fn table_to_json(table: &DeTable<'_>, pointer: &str, spans: &mut SpanIndex) -> Value {
    let mut map = Map::new();
    for (key, value) in table.iter() {
        let p = push(pointer, key.get_ref());
        spans.insert(p.clone(), Some(key.span()), value.span());
        map.insert(
            key.get_ref().to_string(),
            value_to_json(value.get_ref(), &p, spans),
        );
    }
    Value::Object(map)
}

fn value_to_json(value: &DeValue<'_>, pointer: &str, spans: &mut SpanIndex) -> Value {
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
                .enumerate()
                .map(|(i, item)| {
                    let p = push(pointer, &i.to_string());
                    spans.insert(p.clone(), None, item.span());
                    value_to_json(item.get_ref(), &p, spans)
                })
                .collect(),
        ),
        DeValue::Table(t) => table_to_json(t, pointer, spans),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_with_spans() {
        let text =
            "[users.\"a@b.co\"]\nname = \"A\"\n[workspaces.w]\nquotas = { storage_gb = 5 }\n";
        let parsed = parse(0, text).unwrap_or_else(|_| panic!("parse"));
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
        let errs = parse(0, "a = \nb = [1,\n").err().unwrap_or_default();
        assert!(!errs.is_empty());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("a = {}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(0, &text).is_err());
    }
}
