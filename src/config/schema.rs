//! The JSON Schema of the config document (`schema/tenet.schema.json`,
//! draft 2020-12): embedded, enforced on every file with `jsonschema`, and
//! walked by pointer to explain errors (allowed fields, "did you mean") and to
//! give KDL its shape (which fields are arrays, which nodes are collections).

use std::collections::HashSet;
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::spans::{SpanIndex, push, tokens};
use crate::diagnostic::{Diagnostic, FileId, did_you_mean};

/// The schema text, exactly as shipped in `schema/tenet.schema.json`.
pub const SCHEMA_TEXT: &str = include_str!("../../schema/tenet.schema.json");

/// The parsed schema.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    // The schema is part of the build and tested; failing here is a defect.
    SCHEMA.get_or_init(|| {
        serde_json::from_str(SCHEMA_TEXT)
            .unwrap_or_else(|e| panic!("embedded schema is not JSON: {e}"))
    })
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::draft202012::new(schema())
            .unwrap_or_else(|e| panic!("embedded schema is not a valid JSON Schema: {e}"))
    })
}

/// A position in the schema: the node as written (perhaps a `$ref`) and the
/// node it resolves to.
#[derive(Clone, Copy)]
pub struct Node {
    pub written: &'static Value,
    pub resolved: &'static Value,
}

impl Node {
    pub fn root() -> Node {
        Node::at(schema())
    }

    fn at(written: &'static Value) -> Node {
        let mut resolved = written;
        // `$ref`s are local (`#/$defs/name`); bounded to avoid cycles.
        for _ in 0..16 {
            match resolved.get("$ref").and_then(Value::as_str) {
                Some(r) => match r
                    .strip_prefix("#/$defs/")
                    .and_then(|n| schema()["$defs"].get(n))
                {
                    Some(target) => resolved = target,
                    None => break,
                },
                None => break,
            }
        }
        Node { written, resolved }
    }

    /// The name of the `$defs` entry this node refers to, if it is a `$ref`.
    pub fn def_name(&self) -> Option<&'static str> {
        self.written
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
    }

    pub fn description(&self) -> Option<&'static str> {
        self.resolved
            .get("description")
            .or_else(|| self.written.get("description"))
            .and_then(Value::as_str)
    }

    /// The declared type, if a single one.
    pub fn type_name(&self) -> Option<&'static str> {
        self.resolved.get("type").and_then(Value::as_str)
    }

    pub fn is_array(&self) -> bool {
        self.type_name() == Some("array")
    }

    pub fn is_object(&self) -> bool {
        self.type_name() == Some("object")
    }

    /// Named properties, in schema order.
    pub fn properties(&self) -> Vec<&'static str> {
        self.resolved
            .get("properties")
            .and_then(Value::as_object)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub fn property(&self, name: &str) -> Option<Node> {
        self.resolved
            .get("properties")
            .and_then(|p| p.get(name))
            .map(Node::at)
    }

    /// The schema of a collection's entries (`additionalProperties`).
    pub fn entries(&self) -> Option<Node> {
        self.resolved
            .get("additionalProperties")
            .filter(|v| v.is_object())
            .map(Node::at)
    }

    pub fn items(&self) -> Option<Node> {
        self.resolved.get("items").map(Node::at)
    }

    /// The KDL node name of a collection's entries (`x-kdl-node`).
    pub fn kdl_node(&self) -> Option<&'static str> {
        self.written
            .get("x-kdl-node")
            .or_else(|| self.resolved.get("x-kdl-node"))
            .and_then(Value::as_str)
    }

    /// The schema below this node for one reference token.
    pub fn child(&self, token: &str) -> Option<Node> {
        if self.is_array() {
            return self.items();
        }
        self.property(token).or_else(|| self.entries())
    }

    /// The schema at a JSON pointer, if the pointer stays inside the schema.
    pub fn at_pointer(pointer: &str) -> Option<Node> {
        tokens(pointer)
            .iter()
            .try_fold(Node::root(), |node, t| node.child(t))
    }

    /// The allowed values of an `enum`, as strings.
    pub fn enum_values(&self) -> Vec<String> {
        self.resolved
            .get("enum")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What a value is called in messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

fn type_phrase(t: &str) -> &str {
    match t {
        "object" => "a table",
        "array" => "a list",
        "string" => "a string",
        "integer" => "a whole number",
        "boolean" => "true or false",
        "number" => "a number",
        other => other,
    }
}

/// How to write a value of a type, as a fix for a type error.
fn type_fix(t: &str, field: &str) -> String {
    match t {
        "object" => format!(
            "`{field}` is a table: [..{field}] in TOML, `{field} key=value` or `{field} {{ ... }}` in KDL"
        ),
        "array" => format!("write a list: {field} = [\"a\", \"b\"] in TOML, `{field} a b` in KDL"),
        "string" => format!("put the text in double quotes: {field} = \"...\""),
        "integer" => format!("write a whole number without quotes, for example {field} = 100"),
        "boolean" => {
            format!("write {field} = true or false in TOML, {field}=#true or #false in KDL")
        }
        _ => "see the schema (tenet schema) for the expected type".to_owned(),
    }
}

/// The last reference token of a pointer that names a field (not a list
/// index): the field a value belongs to, as written in a file.
fn field_name(pointer: &str) -> String {
    tokens(pointer)
        .into_iter()
        .rev()
        .find(|t| t.parse::<usize>().is_err())
        .unwrap_or_else(|| "document".to_owned())
}

/// The field a value belongs to, with the indices of the lists it sits in:
/// `api_keys[0]`, `models[2]`, `name`.
fn field_label(root: &Value, pointer: &str) -> String {
    let t = tokens(pointer);
    let mut end = t.len();
    let mut suffix = String::new();
    while end > 0 {
        let parent = t[..end - 1].iter().fold(String::new(), |p, k| push(&p, k));
        if root.pointer(&parent).is_some_and(Value::is_array) {
            suffix = format!("[{}]{suffix}", t[end - 1]);
            end -= 1;
        } else {
            break;
        }
    }
    match end {
        0 => format!("document{suffix}"),
        n => format!("{}{suffix}", t[n - 1]),
    }
}

/// A short description of where a pointer lands, like "workspace `finance`".
pub fn describe(pointer: &str) -> String {
    let t = tokens(pointer);
    match t.as_slice() {
        [] => "the document".to_owned(),
        [kind, key, rest @ ..]
            if ["users", "roles", "providers", "teams", "workspaces"].contains(&kind.as_str()) =>
        {
            let object = format!("{} `{key}`", kind.trim_end_matches('s'));
            match rest {
                [] => object,
                // `members`, `providers`, `teams` entries are keyed; name the
                // table, not the key.
                [table, ..] => format!("`{table}` of {object}"),
            }
        }
        all => format!("`{}`", all.join(".")),
    }
}

/// Validates one file's document against the schema; every error becomes a
/// diagnostic pointing at the offending key or value.
/// Errors about values in `quiet` (already reported) are left out.
pub fn validate(
    file: FileId,
    value: &Value,
    spans: &SpanIndex,
    quiet: &HashSet<String>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // A key can break several rules of its name (an email's pattern and its
    // length): it is reported once.
    let mut bad_keys = HashSet::new();
    for err in validator().iter_errors(value) {
        let pointer = err.instance_path().as_str().to_owned();
        if quiet.contains(&pointer) {
            continue;
        }
        let here = Node::at_pointer(&pointer);
        let value_span = spans.value_span(&pointer).unwrap_or(0..0);
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = here.map(|n| n.properties()).unwrap_or_default();
                for key in unexpected {
                    let kp = push(&pointer, key);
                    let span = spans.key_span(&kp).unwrap_or_else(|| value_span.clone());
                    let help = did_you_mean(key, allowed.iter().copied())
                        .unwrap_or_else(|| format!("expected one of: {}", allowed.join(", ")));
                    out.push(
                        Diagnostic::error(
                            "tenet::schema::unknown-field",
                            format!("unknown field `{key}` in {}", describe(&pointer)),
                        )
                        .with_label(file, span, "unknown field")
                        .with_help(help),
                    );
                }
            }
            ValidationErrorKind::PropertyNames { error } => {
                let key = error.instance().as_str().unwrap_or_default().to_owned();
                let kp = push(&pointer, &key);
                if !bad_keys.insert(kp.clone()) {
                    continue;
                }
                let span = spans.key_span(&kp).unwrap_or_else(|| value_span.clone());
                let names = here
                    .and_then(|n| n.resolved.get("propertyNames"))
                    .map(Node::at);
                let (what, help) = match names.and_then(|n| n.def_name()) {
                    Some("email") => ("an email address", "write it as name@domain.tld".to_owned()),
                    Some("slug") => (
                        "a valid identifier",
                        "use 1-63 lower-case letters, digits and hyphens, starting with a letter or digit".to_owned(),
                    ),
                    _ => ("a valid key", names.and_then(|n| n.description()).unwrap_or("see the schema").to_owned()),
                };
                out.push(
                    Diagnostic::error(
                        "tenet::schema::invalid-key",
                        format!("`{key}` is not {what} ({})", describe(&kp)),
                    )
                    .with_label(file, span, format!("not {what}"))
                    .with_help(help),
                );
            }
            ValidationErrorKind::Type { kind } => {
                let t = match kind {
                    jsonschema::error::TypeKind::Single(t) => t.to_string(),
                    jsonschema::error::TypeKind::Multiple(_) => String::new(),
                };
                let expected = type_phrase(&t).to_owned();
                let fix = type_fix(&t, &field_name(&pointer));
                out.push(
                    Diagnostic::error(
                        "tenet::schema::type",
                        format!(
                            "`{}` must be {expected}, found {}",
                            field_label(value, &pointer),
                            json_type(err.instance())
                        ),
                    )
                    .with_label(file, value_span, format!("expected {expected}"))
                    .with_help(fix),
                );
            }
            ValidationErrorKind::Enum { .. } => {
                let options = here.map(|n| n.enum_values()).unwrap_or_default();
                let found = err
                    .instance()
                    .as_str()
                    .map_or_else(|| err.instance().to_string(), str::to_owned);
                let help = did_you_mean(&found, options.iter().map(String::as_str))
                    .or_else(|| here.and_then(|n| n.description()).map(str::to_owned))
                    .unwrap_or_else(|| "values are lower-case and exact".to_owned());
                out.push(
                    Diagnostic::error(
                        "tenet::schema::enum",
                        format!(
                            "`{found}` is not a valid value for `{}`",
                            field_label(value, &pointer)
                        ),
                    )
                    .with_label(
                        file,
                        value_span,
                        format!("expected one of: {}", options.join(", ")),
                    )
                    .with_help(help),
                );
            }
            ValidationErrorKind::Pattern { .. } => {
                let found = err.instance().as_str().unwrap_or_default();
                let (msg, help) = match here.and_then(|n| n.def_name()) {
                    Some("email") => (format!("`{found}` is not a valid email address"), "write it as name@domain.tld".to_owned()),
                    Some("slug") | Some("role_id") => (
                        format!("`{found}` is not a valid identifier"),
                        "use 1-63 lower-case letters, digits and hyphens, starting with a letter or digit".to_owned(),
                    ),
                    Some("secret_ref") => (
                        format!("`{}` must be a secret reference", field_label(value, &pointer)),
                        "write env:NAME to read an environment variable or file:PATH to read a file; never put a secret in the config".to_owned(),
                    ),
                    _ => (
                        format!("`{found}` is not a valid value for `{}`", field_label(value, &pointer)),
                        here.and_then(|n| n.description()).unwrap_or("see the schema").to_owned(),
                    ),
                };
                out.push(
                    Diagnostic::error("tenet::schema::pattern", msg)
                        .with_label(file, value_span, "invalid value")
                        .with_help(help),
                );
            }
            ValidationErrorKind::Minimum { limit } | ValidationErrorKind::Maximum { limit } => {
                let below = matches!(err.kind(), ValidationErrorKind::Minimum { .. });
                out.push(
                    Diagnostic::error(
                        "tenet::schema::range",
                        format!(
                            "`{}` is {}, {} the {} of {limit}",
                            field_label(value, &pointer),
                            err.instance(),
                            if below { "below" } else { "above" },
                            if below { "minimum" } else { "maximum" },
                        ),
                    )
                    .with_label(file, value_span, "out of range")
                    .with_help(match (below, limit.as_i64()) {
                        (true, Some(0)) => {
                            format!("`{}` is a count or a size: 0 or more", field_name(&pointer))
                        }
                        _ => format!(
                            "{}; allowed: {} {limit}",
                            here.and_then(|n| n.description())
                                .unwrap_or("see the schema"),
                            if below { "at least" } else { "at most" }
                        ),
                    }),
                );
            }
            ValidationErrorKind::Required { property } => {
                let prop = property.as_str().unwrap_or_default();
                let span = spans.key_span(&pointer).unwrap_or(value_span);
                out.push(
                    Diagnostic::error(
                        "tenet::schema::required",
                        format!(
                            "{} is missing the required field `{prop}`",
                            describe(&pointer)
                        ),
                    )
                    .with_label(file, span, format!("`{prop}` missing"))
                    .with_help(
                        here.and_then(|n| n.property(prop))
                            .and_then(|n| n.description())
                            .map_or_else(
                                || format!("add `{prop}`; docs/config.md describes every field"),
                                str::to_owned,
                            ),
                    ),
                );
            }
            ValidationErrorKind::UniqueItems => {
                out.push(
                    Diagnostic::error(
                        "tenet::schema::duplicate-item",
                        format!(
                            "`{}` lists the same item twice",
                            field_label(value, &pointer)
                        ),
                    )
                    .with_label(file, value_span, "duplicate item")
                    .with_help("remove the repeated item"),
                );
            }
            _ => {
                out.push(
                    Diagnostic::error(
                        "tenet::schema::invalid",
                        format!("{}: {err}", describe(&pointer)),
                    )
                    .with_label(file, value_span, "invalid value")
                    .with_help(here.and_then(|n| n.description()).map_or_else(
                        || "docs/config.md describes every field and its values (`tenet schema` prints the JSON Schema)".to_owned(),
                        str::to_owned,
                    )),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields without a description in the schema still get a hint
    /// (`region` too long, `kind` missing).
    #[test]
    fn every_schema_error_has_a_hint() {
        let value = serde_json::json!({
            "providers": { "p": { "region": "r".repeat(100), "models": ["m"] } }
        });
        let diags = validate(0, &value, &SpanIndex::default(), &HashSet::new());
        assert!(diags.len() >= 2, "{diags:?}");
        for d in &diags {
            assert!(d.help.is_some(), "no hint: {d:?}");
        }
    }

    #[test]
    fn schema_compiles_and_navigates() {
        let _ = validator();
        let n =
            Node::at_pointer("/workspaces/finance/members/a@b.c").unwrap_or_else(|| panic!("nav"));
        assert!(n.is_array());
        let ws = Node::at_pointer("/workspaces").unwrap_or_else(|| panic!("nav"));
        assert_eq!(ws.kdl_node(), Some("workspace"));
        assert!(Node::at_pointer("/users/x/name").is_some_and(|n| n.type_name() == Some("string")));
    }
}
