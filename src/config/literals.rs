//! Literals that must not be in a config file. Secrets belong in the
//! environment or in files, referenced as `env:NAME` / `file:PATH`: any
//! literal in a secret field (`api_keys`, the fields whose schema is a
//! `secret_ref`) is an error, whatever it looks like, and so is a value
//! that looks like a real key in any other field. The diagnostic names the
//! field by its path (`api_keys[0]`) and never echoes the value (the source
//! shown with diagnostics is masked too, see `secrets`).

use std::collections::HashSet;

use serde_json::Value;

use super::schema::Node;
use super::spans::{SpanIndex, push};
use crate::diagnostic::{Diagnostic, FileId};
use crate::model::SecretRef;
use crate::secrets::credential_spans;

/// What was found at one pointer.
enum Found {
    /// A literal where a secret reference belongs.
    SecretLiteral,
    /// Credential-looking text in a field that is not secret.
    Credential,
}

/// Every literal in a secret field and every credential-looking string
/// elsewhere, as diagnostics, plus the set of their pointers (so other
/// checks can stay quiet about the same value).
pub fn check(file: FileId, value: &Value, spans: &SpanIndex) -> (Vec<Diagnostic>, HashSet<String>) {
    let mut found = Vec::new();
    walk(
        value,
        String::new(),
        "document".to_owned(),
        Some(Node::root()),
        false,
        &mut found,
        0,
    );
    let diags = found
        .iter()
        .map(|(pointer, field, what)| {
            let span = spans.value_span(pointer).unwrap_or(0..0);
            match what {
                Found::SecretLiteral => Diagnostic::error(
                    "tenet::secrets::literal",
                    format!("`{field}` holds a literal value, not a secret reference; secrets never go in config files"),
                )
                .with_label(file, span, "literal value (hidden)")
                .with_help(
                    "reference the secret instead, as \"env:NAME\" (an environment variable) or \"file:PATH\"; \
                     if this was a real key, rotate it: it may already be in version control",
                ),
                Found::Credential => Diagnostic::error(
                    "tenet::secrets::literal",
                    format!("`{field}` holds what looks like a credential; secrets never go in config files"),
                )
                .with_label(file, span, "credential-like value (hidden)")
                .with_help(
                    "remove it: this field is not secret, and is stored and shown in clear; \
                     if this was a real key, rotate it: it may already be in version control",
                ),
            }
        })
        .collect();
    (diags, found.into_iter().map(|(p, ..)| p).collect())
}

/// True when the schema at `node` holds secret references (itself, or as
/// the items of a list).
pub fn is_secret(node: &Node) -> bool {
    node.def_name() == Some("secret_ref")
        || node
            .items()
            .is_some_and(|i| i.def_name() == Some("secret_ref"))
}

fn walk(
    value: &Value,
    pointer: String,
    field: String,
    node: Option<Node>,
    secret: bool,
    out: &mut Vec<(String, String, Found)>,
    depth: usize,
) {
    if depth > 128 {
        return;
    }
    let secret = secret || node.as_ref().is_some_and(is_secret);
    match value {
        Value::String(s) if secret && SecretRef::parse(s).is_none() => {
            out.push((pointer, field, Found::SecretLiteral));
        }
        Value::String(_) if secret => {}
        Value::String(s) if !credential_spans(s).is_empty() => {
            out.push((pointer, field, Found::Credential));
        }
        Value::Number(_) | Value::Bool(_) | Value::Null if secret => {
            out.push((pointer, field, Found::SecretLiteral));
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let t = i.to_string();
                let child = node.as_ref().and_then(|n| n.child(&t));
                walk(
                    v,
                    push(&pointer, &t),
                    format!("{field}[{i}]"),
                    child,
                    secret,
                    out,
                    depth + 1,
                );
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let child = node.as_ref().and_then(|n| n.child(k));
                walk(
                    v,
                    push(&pointer, k),
                    k.clone(),
                    child,
                    secret,
                    out,
                    depth + 1,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of the schema that holds secret references is one the
    /// source masking knows (`secrets::SECRET_FIELDS`), and the other way.
    #[test]
    fn secret_fields_match_the_schema() {
        fn collect(
            node: Node,
            name: &str,
            out: &mut std::collections::BTreeSet<String>,
            depth: usize,
        ) {
            if depth > 12 {
                return;
            }
            if is_secret(&node) {
                out.insert(name.to_owned());
                return;
            }
            for p in node.properties() {
                if let Some(n) = node.property(p) {
                    collect(n, p, out, depth + 1);
                }
            }
            if let Some(n) = node.entries() {
                collect(n, name, out, depth + 1);
            }
            if let Some(n) = node.items() {
                collect(n, name, out, depth + 1);
            }
        }
        let mut found = std::collections::BTreeSet::new();
        collect(Node::root(), "", &mut found, 0);
        let known: std::collections::BTreeSet<String> = crate::secrets::SECRET_FIELDS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(found, known);
    }
}
