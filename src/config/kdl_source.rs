//! KDL (v2) files -> the JSON shape of the schema, with spans. The mapping is
//! generic and driven by the schema, so TOML and KDL always describe the same
//! document:
//!
//! - a node is a field; properties (`key=value`) and children make an object;
//! - a field whose schema is an array takes its items as arguments
//!   (`models gpt-4o gpt-4`) or as children named `-`;
//! - a scalar field takes one argument (`name "Finance"`);
//! - a collection (`x-kdl-node` in the schema) is one node per entry with the
//!   singular name and the key as first argument (`user "a@b.example"`);
//!   when entries are lists, the remaining arguments are the list
//!   (`member "a@b.example" administrator`).
//!
//! Shape problems the schema cannot see (a key missing, a field set twice)
//! become diagnostics here; everything else is left to schema validation.

use std::ops::Range;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use serde_json::{Map, Number, Value};

use super::schema::Node;
use super::spans::{SpanIndex, push};
use super::toml_source::Parsed;
use crate::diagnostic::{Diagnostic, FileId};

/// Deepest nesting accepted, of `{` children and of `/* */` comments; the
/// config needs three or four levels.
pub const MAX_DEPTH: usize = 64;
/// Longest run of one punctuation character accepted outside comments
/// (`""""…`, `####…`, `\\\\…`, `}}}}…`): nothing in a config needs one.
pub const MAX_RUN: usize = 64;
/// Most characters a file may hold that no KDL node can start or continue
/// with (an unmatched `}` or `)`, `[`, a `=` with no key, a `;` after `;`,
/// a `\` line continuation with more on its line):
/// the parser recovers from each one by recursing, and reports each; past
/// this many nobody reads the reports anyway.
pub const MAX_STRAY: usize = 200;
/// Longest chain of `/-` (slashdash) accepted with nothing but space
/// between them.
pub const MAX_SLASHDASH: usize = 3;
/// The stack of the thread the `kdl` parser runs on: it recurses once per
/// level of nesting and once per error it recovers from, which the limits
/// above bound well within this (the memory is only used as deep as it
/// recurses).
const PARSER_STACK: usize = 256 * 1024 * 1024;

/// Parses KDL v2 text into the document's JSON shape.
pub fn parse(file: FileId, text: &str) -> Result<Parsed, Vec<Diagnostic>> {
    if let Some(h) = hostile(text) {
        return Err(vec![
            Diagnostic::error(
                "tenet::syntax::too-deep",
                format!("invalid KDL: {}", h.message),
            )
            .with_label(file, h.span, h.label)
            .with_help(h.help),
        ]);
    }
    let doc = match parse_v2(text) {
        Ok(doc) => doc,
        Err(e) => return Err(syntax_errors(file, text, &e)),
    };
    let mut conv = Converter {
        text,
        file,
        spans: SpanIndex::default(),
        diags: Vec::new(),
    };
    let map = conv.object(doc.nodes(), Some(Node::root()), "", Map::new());
    Ok(Parsed {
        value: Value::Object(map),
        spans: conv.spans,
        diagnostics: conv.diags,
    })
}

/// `KdlDocument::parse_v2` on a thread with a stack of [`PARSER_STACK`]
/// (on this thread if one cannot be made). Public for the editors of KDL
/// files (`tenet import`), which parse text this module already accepted.
pub fn parse_v2(text: &str) -> Result<KdlDocument, kdl::KdlError> {
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("kdl-parser".to_owned())
            .stack_size(PARSER_STACK)
            .spawn_scoped(s, || KdlDocument::parse_v2(text));
        match spawned {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => KdlDocument::parse_v2(text),
        }
    })
}

/// Why a file is refused before parsing, and where.
#[derive(Debug)]
struct Hostile {
    span: Range<usize>,
    message: String,
    label: &'static str,
    help: String,
}

/// The first thing in `text` past the limits ([`MAX_DEPTH`], [`MAX_RUN`],
/// [`MAX_STRAY`], [`MAX_SLASHDASH`]) or a raw string never closed, found by
/// a cheap lexical scan that knows KDL's strings (quoted, multi-line, raw)
/// and comments (line, nested block, slashdash). The `kdl` parser recurses
/// per level and per recovered error, and takes quadratic time or worse on
/// slashdash chains and unclosed raw strings; this guard keeps a hostile
/// file from exhausting the stack or the parser's time.
fn hostile(text: &str) -> Option<Hostile> {
    let b = text.as_bytes();
    let (mut i, mut depth, mut parens) = (0usize, 0usize, 0usize);
    let mut stray: Vec<usize> = Vec::new();
    // The previous significant byte on the line: `\n` at its start,
    // `a` after a word or value, else the punctuation itself.
    let mut prev = b'\n';
    let deep = |at: usize, len: usize, what: &str| {
        Hostile {
        span: at..at + len,
        message: format!("{what} are nested more than {MAX_DEPTH} levels deep"),
        label: "too deep here",
        help: "a tenet config needs only a few levels of children; check for unbalanced braces or comments".to_owned(),
    }
    };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_punctuation() && !(c == b'/' && matches!(b.get(i + 1), Some(b'/' | b'*'))) {
            let run = b[i..].iter().take_while(|x| **x == c).count();
            if run > MAX_RUN {
                return Some(run_of(i, run, c));
            }
        }
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = b[i..]
                    .iter()
                    .position(|x| *x == b'\n')
                    .map_or(b.len(), |n| i + n);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut level = 0usize;
                while i < b.len() {
                    if b[i..].starts_with(b"/*") {
                        level += 1;
                        if level > MAX_DEPTH {
                            return Some(deep(i, 2, "block comments"));
                        }
                        i += 2;
                    } else if b[i..].starts_with(b"*/") {
                        level -= 1;
                        i += 2;
                        if level == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'-') => {
                // `/- /- /- …`: the parser backtracks through a chain in
                // time quadratic in its length.
                let (mut j, mut chain) = (i, 0usize);
                while b[j..].starts_with(b"/-") {
                    chain += 1;
                    j += 2;
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                }
                if chain > MAX_SLASHDASH {
                    return Some(Hostile {
                        span: i..i + 2,
                        message: format!(
                            "{chain} `/-` in a row (at most {MAX_SLASHDASH} are accepted)"
                        ),
                        label: "the first of them",
                        help: "`/-` comments out the one node, argument or children block after it; one is enough".to_owned(),
                    });
                }
                i += 1;
            }
            b'"' => {
                match quoted_end(b, i) {
                    Ok(end) => i = end,
                    Err(h) => return Some(h),
                }
                prev = b'a';
                continue;
            }
            b'#' => {
                let n = b[i..].iter().take_while(|x| **x == b'#').count();
                if b.get(i + n) == Some(&b'"') {
                    // Unclosed, the parser retries it at every later
                    // opening in time more than quadratic.
                    match raw_end(b, i + n, n) {
                        Some(end) => i = end,
                        None => {
                            return Some(Hostile {
                                span: i..i + n + 1,
                                message: format!(
                                    "a raw string opened here is never closed (by `\"{}`)",
                                    "#".repeat(n)
                                ),
                                label: "opened here",
                                help: "end the raw string with a quote and as many `#` as opened it, or quote the text with \"...\" instead".to_owned(),
                            });
                        }
                    }
                } else {
                    // A keyword: #true, #null, #inf...
                    i += n;
                    while i < b.len() && is_word(b[i]) {
                        i += 1;
                    }
                }
                prev = b'a';
                continue;
            }
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(deep(i, 1, "nodes"));
                }
            }
            b'}' if depth == 0 => stray.push(i),
            b'}' => depth -= 1,
            b'(' => parens += 1,
            b')' if parens == 0 => stray.push(i),
            b')' => parens -= 1,
            b'[' | b']' => stray.push(i),
            // A line continuation: only space or a comment may follow it.
            b'\\' => {
                let rest = &b[i + 1..];
                let gap = rest
                    .iter()
                    .take_while(|x| matches!(x, b' ' | b'\t'))
                    .count();
                if !matches!(rest.get(gap), None | Some(b'\n' | b'\r' | b'/')) {
                    stray.push(i);
                }
            }
            b'=' if matches!(prev, b'\n' | b'{' | b'}' | b';' | b'=') => stray.push(i),
            b';' if matches!(prev, b'\n' | b'{' | b';') => stray.push(i),
            b'\n' | b'\r' | 0x0b | 0x0c => {
                parens = 0;
                prev = b'\n';
                i += 1;
                continue;
            }
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            c if c < 0x20 || c == 0x7f => stray.push(i),
            _ => {}
        }
        prev = if is_word(c) { b'a' } else { c };
        i += 1;
    }
    if stray.len() > MAX_STRAY {
        let at = stray[0];
        return Some(Hostile {
            span: at..at + 1,
            message: format!(
                "{} characters that cannot start or continue a node (more than {MAX_STRAY}), the first here",
                stray.len()
            ),
            label: "cannot be read here",
            help:
                "unmatched `}` or `)`, `[`, `]`, a `=` without a key, `;;`, text after a `\\` line continuation or control characters: \
                   check that this is a KDL file and that nothing was pasted into it"
                    .to_owned(),
        });
    }
    None
}

/// A run of `n` characters `c` at `at`, refused.
fn run_of(at: usize, n: usize, c: u8) -> Hostile {
    Hostile {
        span: at..at + n,
        message: format!(
            "a run of {n} `{}` characters (at most {MAX_RUN} are accepted)",
            c as char
        ),
        label: "this run",
        help: "nothing in a tenet config needs a long run of one character; a string with many quotes \
               or backslashes can be written as a raw string #\"...\"#"
            .to_owned(),
    }
}

/// The end of the quoted (or `"""` multi-line) string at `at`: past its
/// closing quotes, at the line break of an unterminated single-line one,
/// or at the end of the text. A long run of `\\` inside is refused.
fn quoted_end(b: &[u8], at: usize) -> Result<usize, Hostile> {
    let multi = b[at..].starts_with(b"\"\"\"");
    let mut i = at + if multi { 3 } else { 1 };
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let run = b[i..].iter().take_while(|x| **x == b'\\').count();
                if run > MAX_RUN {
                    return Err(run_of(i, run, b'\\'));
                }
                i += 2;
            }
            b'"' if !multi => return Ok(i + 1),
            b'"' if b[i..].starts_with(b"\"\"\"") => return Ok(i + 3),
            b'\n' if !multi => return Ok(i),
            _ => i += 1,
        }
    }
    Ok(b.len())
}

/// The end of the raw string whose quote is at `at`, opened by `hashes`
/// `#`s (`#"..."#`, `##"""..."""##`); `None` when it is never closed.
fn raw_end(b: &[u8], at: usize, hashes: usize) -> Option<usize> {
    let quotes = if b[at..].starts_with(b"\"\"\"") { 3 } else { 1 };
    let mut close = vec![b'"'; quotes];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let from = at + quotes;
    b.get(from..)
        .and_then(|rest| {
            rest.windows(close.len())
                .position(|w| w == close.as_slice())
        })
        .map(|p| from + p + close.len())
}

fn is_word(c: u8) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || b"-_.+*,:@!$%&'<>?^`|~".contains(&c)
}
fn span(s: miette::SourceSpan) -> Range<usize> {
    s.offset()..s.offset() + s.len()
}

fn syntax_errors(file: FileId, text: &str, e: &kdl::KdlError) -> Vec<Diagnostic> {
    let v1 = looks_like_v1(text);
    // The parser reports an unclosed block twice; keep the precise one.
    let unclosed = e.diagnostics.iter().any(|d| {
        d.message
            .as_deref()
            .is_some_and(|m| m.starts_with("No closing '}'"))
    });
    let mut out: Vec<Diagnostic> = e
        .diagnostics
        .iter()
        .filter(|d| {
            !(unclosed
                && d.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Closing '}' was not found")))
        })
        .map(|d| {
            let s = span(d.span);
            let mut s = s.start.min(text.len())..s.end.min(text.len());
            let message = d
                .message
                .clone()
                .unwrap_or_else(|| "unexpected input".to_owned());
            // "Expected property value" spans the whole node; point at the
            // `=` that has nothing after it.
            if message == "Expected property value"
                && let Some(i) = text.get(s.clone()).and_then(|t| {
                    t.match_indices('=')
                        .map(|(i, _)| i)
                        .find(|i| t[i + 1..].starts_with(char::is_whitespace) || i + 1 == t.len())
                })
            {
                s = s.start + i..s.start + i + 1;
            }
            let label = if message == "Expected property value" {
                "a value must follow `=`".to_owned()
            } else {
                d.label.clone().unwrap_or_else(|| "here".to_owned())
            };
            let help = if v1 {
                Some(V1_HELP.to_owned())
            } else {
                d.help.clone()
            };
            Diagnostic::error("tenet::syntax::kdl", format!("invalid KDL: {message}"))
                .with_label(file, s, label)
                .with_help_opt(
                    help.or_else(|| Some("see https://kdl.dev for the KDL v2 syntax".to_owned())),
                )
        })
        .collect();
    if out.is_empty() {
        out.push(
            Diagnostic::error("tenet::syntax::kdl", "invalid KDL document")
                .in_file(file)
                .with_help(if v1 {
                    V1_HELP
                } else {
                    "see https://kdl.dev for the KDL v2 syntax"
                }),
        );
    }
    out
}

const V1_HELP: &str = "this looks like KDL v1; tenet reads KDL v2: write #true and #false instead of true and false, leave out a field instead of setting it to null, and write raw strings as #\"...\"# instead of r\"...\"";

/// KDL v1 habits: bare `true`/`false`/`null` values and `r"` raw strings.
fn looks_like_v1(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || c == '=' || c == ';' || c == '{' || c == '}')
        .any(|w| {
            matches!(w, "true" | "false" | "null") || w.starts_with("r\"") || w.starts_with("r#\"")
        })
}

struct Converter<'t> {
    text: &'t str,
    file: FileId,
    spans: SpanIndex,
    diags: Vec<Diagnostic>,
}

impl Converter<'_> {
    /// Adds the fields declared by `nodes` to `map`.
    fn object(
        &mut self,
        nodes: &[KdlNode],
        schema: Option<Node>,
        pointer: &str,
        mut map: Map<String, Value>,
    ) -> Map<String, Value> {
        for node in nodes {
            let name = node.name().value();
            let collection = schema.and_then(|s| {
                s.properties()
                    .into_iter()
                    .filter_map(|p| s.property(p).map(|n| (p, n)))
                    .find(|(_, n)| n.kdl_node() == Some(name))
            });
            match collection {
                Some((prop, coll)) => self.collection_entry(node, prop, coll, pointer, &mut map),
                None => {
                    let p = push(pointer, name);
                    if map.contains_key(name) {
                        self.duplicate(
                            &p,
                            span(node.name().span()),
                            &format!("`{name}` is set twice"),
                        );
                        continue;
                    }
                    // A field, or an entry of a map keyed by node name.
                    let field = schema.and_then(|s| s.property(name).or_else(|| s.entries()));
                    let value = self.value(node, 0, field, &p);
                    self.spans
                        .insert(p, Some(span(node.name().span())), value_span(node, 0));
                    map.insert(name.to_owned(), value);
                }
            }
        }
        map
    }

    fn collection_entry(
        &mut self,
        node: &KdlNode,
        prop: &str,
        coll: Node,
        pointer: &str,
        map: &mut Map<String, Value>,
    ) {
        let coll_ptr = push(pointer, prop);
        let Some(key_entry) = args(node).next() else {
            self.diags.push(
                Diagnostic::error(
                    "tenet::kdl::missing-key",
                    format!(
                        "`{}` needs its key as the first argument",
                        node.name().value()
                    ),
                )
                .with_label(self.file, span(node.name().span()), "no key")
                .with_help(format!("for example: {} \"name\" ...", node.name().value())),
            );
            return;
        };
        let key = match key_entry.value() {
            KdlValue::String(s) => s.clone(),
            other => other.to_string(),
        };
        let entry_ptr = push(&coll_ptr, &key);
        let entries = map
            .entry(prop.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !self.spans.contains(&coll_ptr) {
            self.spans.insert(
                coll_ptr.clone(),
                Some(span(node.name().span())),
                span(node.span()),
            );
        }
        let Some(entries) = entries.as_object_mut() else {
            self.duplicate(
                &coll_ptr,
                span(node.name().span()),
                &format!("`{prop}` is set twice"),
            );
            return;
        };
        if entries.contains_key(&key) {
            let what = node.name().value();
            self.duplicate(
                &entry_ptr,
                span(key_entry.span()),
                &format!("{what} `{key}` is declared twice"),
            );
            return;
        }
        let value = self.value(node, 1, coll.entries(), &entry_ptr);
        self.spans
            .insert(entry_ptr, Some(span(key_entry.span())), span(node.span()));
        entries.insert(key, value);
    }

    fn duplicate(&mut self, pointer: &str, again: Range<usize>, message: &str) {
        let mut d = Diagnostic::error("tenet::duplicate", message.to_owned()).with_label(
            self.file,
            again,
            "declared again here",
        );
        if let Some(first) = self.spans.key_span(pointer) {
            d = d.with_label(self.file, first, "first declared here");
        }
        self.diags.push(
            d.with_help("declare each object once: merge the two declarations or remove one"),
        );
    }

    /// The span of a property's value (`100` in `storage_gb=100`).
    fn prop_value_span(&self, e: &KdlEntry) -> Range<usize> {
        let s = span(e.span());
        let Some(name) = e.name() else { return s };
        let after = span(name.span()).end;
        let tail = self.text.get(after..s.end).unwrap_or("");
        match tail.find('=') {
            Some(i) => {
                let rest = &tail[i + 1..];
                let start = after + i + 1 + (rest.len() - rest.trim_start().len());
                start.min(s.end)..s.end
            }
            None => s,
        }
    }

    /// The value of a node, skipping `skip` leading arguments (a key).
    fn value(&mut self, node: &KdlNode, skip: usize, schema: Option<Node>, pointer: &str) -> Value {
        let args: Vec<&KdlEntry> = args(node).skip(skip).collect();
        let props: Vec<&KdlEntry> = node
            .entries()
            .iter()
            .filter(|e| e.name().is_some())
            .collect();
        let children = node.children().map(|c| c.nodes()).unwrap_or_default();
        let is_array = schema.is_some_and(|s| s.is_array());
        let is_object = schema.is_some_and(|s| s.is_object())
            || (schema.is_none() && (!props.is_empty() || !children.is_empty()));
        if is_array {
            let items = schema.and_then(|s| s.items());
            if let Some(p) = props.first() {
                self.no_properties(node, p);
            }
            let mut out = Vec::new();
            for a in args {
                let p = push(pointer, &out.len().to_string());
                self.spans.insert(p, None, span(a.span()));
                out.push(scalar(a.value()));
            }
            for child in children {
                let p = push(pointer, &out.len().to_string());
                if child.name().value() != "-" {
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::kdl::list-item",
                            format!(
                                "items of `{}` are written as arguments or as `-` children",
                                node.name().value()
                            ),
                        )
                        .with_label(self.file, span(child.name().span()), "expected `-`")
                        .with_help(format!(
                            "write `- {}` or list the items as arguments",
                            child.name().value()
                        )),
                    );
                    continue;
                }
                let v = self.value(child, 0, items, &p);
                self.spans.insert(p, None, span(child.span()));
                out.push(v);
            }
            return Value::Array(out);
        }
        if is_object {
            if let Some(a) = args.first() {
                self.diags.push(
                    Diagnostic::error(
                        "tenet::kdl::unexpected-argument",
                        format!("`{}` takes fields, not arguments", node.name().value()),
                    )
                    .with_label(self.file, span(a.span()), "unexpected argument")
                    .with_help("write fields as properties (key=value) or as child nodes"),
                );
            }
            let mut map = Map::new();
            for e in props {
                let Some(name) = e.name() else { continue };
                let key = name.value();
                let p = push(pointer, key);
                if map.contains_key(key) {
                    self.diags.push(
                        Diagnostic::error("tenet::duplicate", format!("`{key}` is set twice"))
                            .with_label(self.file, span(e.span()), "set again here")
                            .with_help("set each field once"),
                    );
                    continue;
                }
                let prop_schema = schema.and_then(|s| s.property(key));
                let v = scalar(e.value());
                let v = if prop_schema.is_some_and(|s| s.is_array()) {
                    Value::Array(vec![v])
                } else {
                    v
                };
                let vspan = self.prop_value_span(e);
                self.spans.insert(p, Some(span(name.span())), vspan);
                map.insert(key.to_owned(), v);
            }
            return Value::Object(self.object(children, schema, pointer, map));
        }
        // A scalar: exactly one argument. Anything else is handed to the
        // schema, which explains the type it expected.
        if let Some(p) = props.first()
            && schema.is_some()
        {
            self.no_properties(node, p);
        }
        match (args.as_slice(), children.is_empty()) {
            ([one], true) => scalar(one.value()),
            ([], true) => Value::Null,
            _ => Value::Array(args.iter().map(|a| scalar(a.value())).collect()),
        }
    }

    fn no_properties(&mut self, node: &KdlNode, prop: &KdlEntry) {
        self.diags.push(
            Diagnostic::error(
                "tenet::kdl::unexpected-property",
                format!("`{}` takes a value, not properties", node.name().value()),
            )
            .with_label(self.file, span(prop.span()), "unexpected property")
            .with_help(format!("write `{} <value>`", node.name().value())),
        );
    }
}

/// Where a node's value is: its one argument, else the whole node.
fn value_span(node: &KdlNode, skip: usize) -> Range<usize> {
    let mut a = args(node).skip(skip);
    match (
        a.next(),
        a.next(),
        node.children(),
        node.entries().iter().any(|e| e.name().is_some()),
    ) {
        (Some(one), None, None, false) => span(one.span()),
        _ => span(node.span()),
    }
}

fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

fn scalar(v: &KdlValue) -> Value {
    match v {
        KdlValue::String(s) => Value::String(s.clone()),
        KdlValue::Integer(i) => i64::try_from(*i)
            .map(|n| Value::Number(Number::from(n)))
            .unwrap_or_else(|_| Value::String(i.to_string())),
        KdlValue::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        KdlValue::Bool(b) => Value::Bool(*b),
        KdlValue::Null => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Parsed {
        let p = parse(0, text).unwrap_or_else(|d| panic!("{d:?}"));
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        p
    }

    #[test]
    fn maps_collections_lists_and_objects() {
        let p = ok(r#"
user "a@b.example" name="A"
role qa { permissions workflows.view "*.view" }
workspace w {
  name "W"
  quotas storage_gb=5
  member "a@b.example" administrator editor
  provider openai default=#true { models gpt-4o }
}
settings { security require_2fa=#true { ip_allowlist { - "10.0.0.0/8" } } }
"#);
        let v = &p.value;
        assert_eq!(v["users"]["a@b.example"]["name"], "A");
        assert_eq!(v["roles"]["qa"]["permissions"][1], "*.view");
        assert_eq!(v["workspaces"]["w"]["members"]["a@b.example"][1], "editor");
        assert_eq!(
            v["workspaces"]["w"]["providers"]["openai"]["models"][0],
            "gpt-4o"
        );
        assert_eq!(v["workspaces"]["w"]["providers"]["openai"]["default"], true);
        assert_eq!(v["settings"]["security"]["ip_allowlist"][0], "10.0.0.0/8");
        assert!(
            p.spans
                .value_span("/workspaces/w/quotas/storage_gb")
                .is_some()
        );
    }

    #[test]
    fn single_item_lists_stay_lists() {
        let p = ok("role r { permissions workflows.view }\n");
        assert_eq!(p.value["roles"]["r"]["permissions"][0], "workflows.view");
    }

    #[test]
    fn duplicates_show_both_places() {
        let d = parse(0, "user \"a@b.example\"\nuser \"a@b.example\"\n")
            .map(|p| p.diagnostics)
            .unwrap_or_default();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].labels.len(), 2);
        // Both labels point at the key, not at the node name.
        assert_eq!(d[0].labels[0].span, 24..37);
        assert_eq!(d[0].labels[1].span, 5..18);
    }

    #[test]
    fn v1_syntax_gets_a_hint() {
        let d = parse(0, "settings { security require_2fa=true }\n")
            .err()
            .unwrap_or_default();
        assert!(
            d.iter()
                .any(|d| d.help.as_deref().is_some_and(|h| h.contains("KDL v1")))
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "a {".repeat(10_000), "}".repeat(10_000));
        assert!(parse(0, &text).is_err());
    }

    /// The message and primary label of a file refused before parsing.
    fn refused(text: &str) -> (String, Range<usize>) {
        let d = parse(0, text).err().unwrap_or_default();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, "tenet::syntax::too-deep", "{d:?}");
        (d[0].message.clone(), d[0].labels[0].span.clone())
    }

    #[test]
    fn hostile_text_is_refused_where_the_limit_is_crossed() {
        let (m, at) = refused(&format!("a {}", "/*".repeat(10_000)));
        assert!(m.contains("block comments are nested more than 64"), "{m}");
        assert_eq!(at.start, 2 + 64 * 2);
        let (m, at) = refused(&format!("x {}\n", "\"".repeat(60_000)));
        assert!(m.contains("a run of 60000 `\"` characters"), "{m}");
        assert_eq!(at, 2..60_002);
        for c in ["#", "}", ")", "=", ";", "\\"] {
            let (m, _) = refused(&format!("x {}\n", c.repeat(20_000)));
            assert!(m.contains("a run of 20000"), "{c}: {m}");
        }
        let (m, at) = refused(&format!("x \"{}\"\n", "\\".repeat(100)));
        assert!(m.contains("a run of 100 `\\`"), "{m}");
        assert_eq!(at.start, 3);
        let (m, at) = refused(&format!("node {}\n", "/- ".repeat(800)));
        assert!(m.contains("800 `/-` in a row"), "{m}");
        assert_eq!(at, 5..7);
        let (m, at) = refused(&format!("node {}\n", "#\"a ".repeat(8_000)));
        assert!(
            m.contains("a raw string opened here is never closed"),
            "{m}"
        );
        assert_eq!(at, 5..7);
        let (m, _) = refused("node ##\"a\"# x\n");
        assert!(m.contains("(by `\"##`)"), "{m}");
        let (m, _) = refused(&format!("a {}\n", "\\ x ".repeat(1_000)));
        assert!(m.contains("1000 characters that cannot start"), "{m}");
        let (m, at) = refused(&format!("a\n{}", "} ".repeat(5_000)));
        assert!(m.contains("5000 characters that cannot start"), "{m}");
        assert_eq!(at, 2..3);
    }

    #[test]
    fn what_looks_hostile_inside_strings_and_comments_is_not() {
        let text = format!(
            "// {hash}\n/* {brace} /* nested */ */\nrole r {{\n    description \"{brace}\" \n    permissions #\"{quote}\\\"# #\"\"\"\n{hash}\n\"\"\"#\n}}\n",
            hash = "#".repeat(200),
            brace = "}".repeat(200),
            quote = "\"".repeat(10),
        );
        assert!(hostile(&text).is_none(), "{:?}", hostile(&text));
        // Odd but valid: spaces around `=`, `;` between nodes, a type.
        assert!(hostile("a key = 1; b (t)\"x\" c=#true\n").is_none());
        assert!(hostile("a b \\ // more\n  c \\\n  d \\  \n e\n").is_none());
        assert!(hostile("a /- b /- { c } d\n/- e\nf #\"\"\"\nx\n\"\"\"#\n").is_none());
    }
}
