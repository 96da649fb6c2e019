//! Literals that must not be in a config file. Secrets belong in the
//! environment or in files, referenced as `env:NAME` / `file:PATH`: any
//! literal in a secret field (`api_keys`, the fields whose schema is a
//! `secret_ref`) is an error, whatever it looks like, and so is a value
//! that looks like a real key in any other field. The diagnostic names the
//! field by its path (`api_keys[0]`) and never echoes the value (the source
//! shown with diagnostics is masked too, see `secrets`).

use std::collections::HashSet;
use std::sync::OnceLock;

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
        &mut Vec::new(),
        Some(Node::root()),
        false,
        &mut found,
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

/// True when values under `node` (the node itself included) may be
/// secret references, as [`walk`] descends the schema. Computed once for
/// the whole schema: the walk asks for every value of a large file.
fn holds_secrets(node: &Node) -> bool {
    static HOLDING: OnceLock<HashSet<usize>> = OnceLock::new();
    let holding = HOLDING.get_or_init(|| {
        let mut holding = HashSet::new();
        mark(Node::root(), &mut holding, 0);
        holding
    });
    holding.contains(&address(node))
}

/// A schema position's identity: the schema is static, so its address.
fn address(node: &Node) -> usize {
    std::ptr::from_ref(node.written) as usize
}

/// Marks `node` when it or anything below it holds secret references.
fn mark(node: Node, holding: &mut HashSet<usize>, depth: usize) -> bool {
    // The schema is a few levels deep; the bound only guards a cycle.
    if depth > 16 {
        return false;
    }
    let mut holds = is_secret(&node);
    for p in node.properties() {
        if let Some(n) = node.property(p) {
            holds |= mark(n, holding, depth + 1);
        }
    }
    for n in [node.entries(), node.items()].into_iter().flatten() {
        holds |= mark(n, holding, depth + 1);
    }
    if holds {
        holding.insert(address(&node));
    }
    holds
}

/// One step of the path to a value: a key, or a list index.
enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

/// The JSON pointer of a path, and the field it names for people: the last
/// key with the list indices after it (`api_keys[0]`).
fn named(path: &[Step]) -> (String, String) {
    let mut pointer = String::new();
    let mut field = "document".to_owned();
    for step in path {
        match step {
            Step::Key(k) => {
                pointer = push(&pointer, k);
                field = (*k).to_owned();
            }
            Step::Index(i) => {
                pointer = push(&pointer, &i.to_string());
                field.push_str(&format!("[{i}]"));
            }
        }
    }
    (pointer, field)
}

/// Walks a value with its path as a stack of steps: names are made only
/// for what is found, so a large file costs no string per value.
fn walk<'v>(
    value: &'v Value,
    path: &mut Vec<Step<'v>>,
    node: Option<Node>,
    secret: bool,
    out: &mut Vec<(String, String, Found)>,
) {
    if path.len() > 128 {
        return;
    }
    // Below a node whose values cannot be secret references the schema
    // has nothing more to say: only credential-looking text is looked for.
    let node = node.filter(holds_secrets);
    let secret = secret || node.as_ref().is_some_and(is_secret);
    let mut found = |what: Found, path: &[Step]| {
        let (pointer, field) = named(path);
        out.push((pointer, field, what));
    };
    match value {
        Value::String(s) if secret && SecretRef::parse(s).is_none() => {
            found(Found::SecretLiteral, path);
        }
        Value::String(_) if secret => {}
        Value::String(s) if !credential_spans(s).is_empty() => found(Found::Credential, path),
        Value::Number(_) | Value::Bool(_) | Value::Null if secret => {
            found(Found::SecretLiteral, path);
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let child = node.as_ref().and_then(|n| match n.is_array() {
                    true => n.items(),
                    false => n.child(&i.to_string()),
                });
                path.push(Step::Index(i));
                walk(v, path, child, secret, out);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let child = node.as_ref().and_then(|n| n.child(k));
                path.push(Step::Key(k));
                walk(v, path, child, secret, out);
                path.pop();
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
