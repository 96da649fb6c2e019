//! Credential-looking literals in any string of a config file. Secrets belong
//! in the environment or in files, referenced as `env:NAME` / `file:PATH`; a
//! value that looks like a real key is an error that names the field but never
//! echoes the value (the source shown with diagnostics is redacted too).

use std::collections::HashSet;

use serde_json::Value;

use super::spans::{SpanIndex, push, tokens};
use crate::diagnostic::{Diagnostic, FileId};
use crate::secrets::credential_spans;

/// Fields that hold secret references.
const SECRET_FIELDS: &[&str] = &["api_keys"];

/// Every string value of `value` that holds credential-looking text, as
/// diagnostics, plus the set of their pointers (so other checks can stay
/// quiet about the same value).
pub fn check(file: FileId, value: &Value, spans: &SpanIndex) -> (Vec<Diagnostic>, HashSet<String>) {
    let mut found = Vec::new();
    walk(value, String::new(), &mut found, 0);
    let diags = found
        .iter()
        .map(|pointer| {
            let field = tokens(pointer)
                .into_iter()
                .rev()
                .find(|t| t.parse::<usize>().is_err())
                .unwrap_or_default();
            let help = if SECRET_FIELDS.contains(&field.as_str()) {
                "reference the secret instead, as \"env:NAME\" (an environment variable) or \"file:PATH\"; \
                 if this was a real key, rotate it: it may already be in version control"
            } else {
                "remove it: this field is not secret, and is stored and shown in clear; \
                 if this was a real key, rotate it: it may already be in version control"
            };
            Diagnostic::error(
                "tenet::secrets::literal",
                format!("`{field}` holds what looks like a credential; secrets never go in config files"),
            )
            .with_label(file, spans.value_span(pointer).unwrap_or(0..0), "credential-like value (hidden)")
            .with_help(help)
        })
        .collect();
    (diags, found.into_iter().collect())
}

fn walk(value: &Value, pointer: String, out: &mut Vec<String>, depth: usize) {
    if depth > 128 {
        return;
    }
    match value {
        Value::String(s) if !credential_spans(s).is_empty() => out.push(pointer),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, push(&pointer, &i.to_string()), out, depth + 1);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                walk(v, push(&pointer, k), out, depth + 1);
            }
        }
        _ => {}
    }
}
