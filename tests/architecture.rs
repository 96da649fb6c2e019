//! The dependency invariants of ARCHITECTURE.md, enforced (as rust-analyzer's
//! tidy tests do): every file under `src/` is read, each path it names inside
//! the crate becomes an edge from the file's module to the module the path
//! points into, and an edge that a rule forbids fails the test with its file,
//! line and path.
//!
//! A file's module is its top-level folder or file under `src/` (`model`,
//! `diagnostic`, ...); under `src/target/` each target folder is a module of
//! its own (`target/native`, `target/scim`, ...), and the files beside them
//! (`mod.rs`, `any.rs`) are the shared `target` root. Edges come from
//! `crate::...` paths, in `use` declarations (grouped and nested forms
//! included) and inline alike, and from `super::...` paths resolved against
//! the file's place in the module tree.
//!
//! Ignored, on purpose: comments (doc comments included), string and
//! character literals (so a path written in a string, such as serde's
//! `with = "..."`, is not seen), `self::` paths (always the file's own
//! module), and any item annotated `#[cfg(test)]` (inline test modules,
//! test-only functions or imports), since tests may borrow fixtures from
//! anywhere. A test module kept in a file of its own (`#[cfg(test)] mod x;`)
//! is checked like any other file (there is none today). The binary
//! (`src/main.rs`) reaches `cli` through `tenet::`, which is not a crate
//! path, and data files pulled in by `include_str!` are not code edges.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

// ------------------------------------------------------------------- rules

/// What a module may depend on, besides itself.
enum Allowed {
    /// Only these modules. A name covers its sub-modules: `target` is the
    /// shared root only, `target/native` one target folder.
    Only(&'static [&'static str]),
    /// Anything but these (`target` here also covers every target folder).
    AllBut(&'static [&'static str]),
}

struct Rule {
    /// A module, or `target/*` for every target folder.
    from: &'static str,
    allowed: Allowed,
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        from: "model",
        allowed: Allowed::Only(&[]),
        why: "model depends on nothing else of tenet's",
    },
    Rule {
        from: "diff",
        allowed: Allowed::Only(&["model"]),
        why: "diff depends on model only",
    },
    Rule {
        from: "plan",
        allowed: Allowed::Only(&["model", "diff"]),
        why: "plan depends on model and diff only",
    },
    Rule {
        from: "drift",
        allowed: Allowed::Only(&["model", "diff"]),
        why: "drift depends on model and diff only",
    },
    Rule {
        from: "wire",
        allowed: Allowed::Only(&[]),
        why: "wire depends on nothing",
    },
    Rule {
        from: "platform",
        allowed: Allowed::Only(&["wire"]),
        why: "the reference platform shares only wire with the client side",
    },
    Rule {
        from: "config",
        allowed: Allowed::Only(&["model", "diagnostic", "secrets"]),
        why: "config depends on model, diagnostic and secrets only",
    },
    Rule {
        from: "secrets",
        allowed: Allowed::Only(&["model"]),
        why: "secrets depends on model only",
    },
    Rule {
        from: "target/native",
        allowed: Allowed::Only(&["model", "target", "wire", "platform"]),
        why: "the native target uses model, the shared target root, wire and platform only",
    },
    Rule {
        from: "target/*",
        allowed: Allowed::Only(&["model", "target"]),
        why: "a target folder uses model and the shared target root only",
    },
    Rule {
        from: "import",
        allowed: Allowed::Only(&["config", "model", "diagnostic", "export"]),
        why: "import reads sheets and edits files: it uses config, model, diagnostic and export's KDL quoting only (validation is the command's)",
    },
    Rule {
        from: "render",
        allowed: Allowed::AllBut(&["target", "platform", "apply", "cli"]),
        why: "render does not depend on target, platform, apply or cli",
    },
    Rule {
        from: "*",
        allowed: Allowed::AllBut(&["cli"]),
        why: "nothing depends on cli",
    },
];

/// `module` is `name` or one of its sub-modules (`target/scim` is in `target`
/// for an `AllBut` rule; `Only` names are exact).
fn within(module: &str, name: &str) -> bool {
    module == name
        || module
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The rules that apply to edges out of `from`: the first specific one, and
/// the rules for every module (`*`).
fn rules_for(from: &str) -> impl Iterator<Item = &'static Rule> + '_ {
    let specific = RULES
        .iter()
        .find(|r| r.from == from || (r.from == "target/*" && from.starts_with("target/")));
    specific
        .into_iter()
        .chain(RULES.iter().filter(|r| r.from == "*"))
}

/// The rule an edge `from -> to` breaks, if any.
fn broken(from: &str, to: &str) -> Option<&'static Rule> {
    if from == to {
        return None;
    }
    rules_for(from).find(|r| match r.allowed {
        Allowed::Only(ok) => !ok.contains(&to),
        Allowed::AllBut(no) => no.iter().any(|n| within(to, n)),
    })
}

// ------------------------------------------------------------------- lexing

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// Tokens with their line numbers. Comments, literals and whitespace are
/// dropped; numbers and lifetimes become nothing useful and are dropped too.
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let s: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let ident_start = |c: char| c == '_' || c.is_alphabetic();
    let ident_char = |c: char| c == '_' || c.is_alphanumeric();
    // Skips a quoted literal whose opening quote is at `j`; returns the index
    // after the closing quote.
    let quoted = |mut j: usize, quote: char, escapes: bool, line: &mut usize| {
        j += 1;
        while j < s.len() && s[j] != quote {
            if s[j] == '\n' {
                *line += 1;
            }
            if escapes && s[j] == '\\' {
                j += 1;
                if s.get(j) == Some(&'\n') {
                    *line += 1;
                }
            }
            j += 1;
        }
        j + 1
    };
    // A raw string: `r`, n `#`, `"` at `j`; returns the index after it.
    let raw = |mut j: usize, hashes: usize, line: &mut usize| {
        j += 1;
        while j < s.len() {
            if s[j] == '\n' {
                *line += 1;
            }
            if s[j] == '"' && (1..=hashes).all(|h| s.get(j + h) == Some(&'#')) {
                return j + 1 + hashes;
            }
            j += 1;
        }
        j
    };
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if s[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            i = quoted(i, '"', true, &mut line);
        } else if c == '\'' {
            // A character literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime.
            if next == Some('\\') {
                i = quoted(i, '\'', true, &mut line);
            } else if s.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < s.len() && ident_char(s[i]) {
                    i += 1;
                }
            }
        } else if ident_start(c) {
            let start = i;
            while i < s.len() && ident_char(s[i]) {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            let at = s.get(i).copied();
            let prefix = matches!(word.as_str(), "b" | "c" | "r" | "br" | "cr");
            if prefix && at == Some('"') {
                i = if word.contains('r') {
                    raw(i, 0, &mut line)
                } else {
                    quoted(i, '"', true, &mut line)
                };
            } else if prefix && word.ends_with('r') && at == Some('#') {
                let mut hashes = 0;
                while s.get(i + hashes) == Some(&'#') {
                    hashes += 1;
                }
                if s.get(i + hashes) == Some(&'"') {
                    i = raw(i + hashes, hashes, &mut line);
                } else if word == "r" {
                    // A raw identifier: `r#type`.
                    let start = i + 1;
                    i = start;
                    while i < s.len() && ident_char(s[i]) {
                        i += 1;
                    }
                    out.push((Tok::Ident(s[start..i].iter().collect()), line));
                }
            } else if word == "b" && at == Some('\'') {
                i = quoted(i, '\'', true, &mut line);
            } else {
                out.push((Tok::Ident(word), line));
            }
        } else if c.is_ascii_digit() {
            while i < s.len() && ident_char(s[i]) {
                i += 1;
            }
        } else if c == ':' && next == Some(':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c), line));
            i += 1;
        }
    }
    out
}

// ------------------------------------------------------------------- paths

/// A path found in a file: where, and its segments as written (`crate`,
/// `super` and `$crate` included).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    line: usize,
    path: Vec<String>,
}

fn is(t: Option<&(Tok, usize)>, want: &Tok) -> bool {
    t.is_some_and(|(t, _)| t == want)
}

fn ident(t: Option<&(Tok, usize)>) -> Option<&str> {
    match t {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

/// Skips a bracketed group opening at `i`; returns the index after it.
fn skip_group(toks: &[(Tok, usize)], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < toks.len() {
        match toks[i].0 {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// True when the tokens at `i` are `#[cfg(test)]`.
fn cfg_test_at(toks: &[(Tok, usize)], i: usize) -> bool {
    let want = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    want.iter().enumerate().all(|(k, w)| is(toks.get(i + k), w))
}

/// Skips the item that follows an attribute at `i`: further attributes, then
/// tokens up to a `;` or the end of the first brace block at the item's own
/// level.
fn skip_item(toks: &[(Tok, usize)], mut i: usize) -> usize {
    while is(toks.get(i), &Tok::Punct('#')) {
        i = skip_group(toks, i + 1);
    }
    while i < toks.len() {
        match toks[i].0 {
            Tok::Punct(';') => return i + 1,
            Tok::Punct('{') => return skip_group(toks, i),
            Tok::Punct('(' | '[') => i = skip_group(toks, i),
            _ => i += 1,
        }
    }
    i
}

/// Reads a path or use tree starting at `i` (just after a `::`), with the
/// segments read so far in `prefix`; pushes every complete path to `out` and
/// returns the index after the tree.
fn tree(
    toks: &[(Tok, usize)],
    mut i: usize,
    mut prefix: Vec<String>,
    line: usize,
    out: &mut Vec<Found>,
) -> usize {
    loop {
        match toks.get(i) {
            Some((Tok::Ident(s), _)) => {
                if s != "self" {
                    prefix.push(s.clone());
                }
                i += 1;
                if is(toks.get(i), &Tok::PathSep) {
                    i += 1;
                    continue;
                }
            }
            Some((Tok::Punct('{'), _)) => {
                i += 1;
                loop {
                    match toks.get(i) {
                        None => return i,
                        Some((Tok::Punct('}'), _)) => return i + 1,
                        Some((Tok::Punct(','), _)) => i += 1,
                        Some(_) => {
                            let l = toks[i].1;
                            i = tree(toks, i, prefix.clone(), l, out);
                            // `as name` and anything else up to the next item.
                            while i < toks.len() && !matches!(toks[i].0, Tok::Punct(',' | '}')) {
                                i += 1;
                            }
                        }
                    }
                }
            }
            Some((Tok::Punct('*'), _)) => i += 1,
            _ => {}
        }
        out.push(Found { line, path: prefix });
        return i;
    }
}

/// Every `crate::`, `$crate::` and `super::` path in `src`, outside
/// comments, literals and `#[cfg(test)]` items.
fn paths(src: &str) -> Vec<Found> {
    let toks = lex(src);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if cfg_test_at(&toks, i) {
            i = skip_item(&toks, i + 7);
            continue;
        }
        let root = ident(toks.get(i));
        let after_sep = i > 0 && is(toks.get(i - 1), &Tok::PathSep);
        if let Some(root @ ("crate" | "super")) = root
            && !after_sep
            && is(toks.get(i + 1), &Tok::PathSep)
        {
            let line = toks[i].1;
            i = tree(&toks, i + 2, vec![root.to_owned()], line, &mut out);
            continue;
        }
        i += 1;
    }
    out
}

// ------------------------------------------------------------------ modules

/// The module path of a file under `src/`: `target/native/sandbox.rs` is
/// `[target, native, sandbox]`, `target/native/mod.rs` `[target, native]`,
/// `lib.rs` and `main.rs` the crate root `[]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        let root = parts.is_empty() && (stem == "lib" || stem == "main");
        if stem != "mod" && !root {
            parts.push(stem.to_owned());
        }
    }
    parts
}

/// The module (in the sense of the rules) of a module path: its first
/// segment, or `target/<folder>` inside a target folder; `targets` are the
/// folders under `src/target/`. The crate root is `crate`.
fn module_of(path: &[String], targets: &BTreeSet<String>) -> String {
    match path {
        [] => "crate".to_owned(),
        [t, sub, ..] if t == "target" && targets.contains(sub) => format!("target/{sub}"),
        [first, ..] => first.clone(),
    }
}

/// The absolute module path a found path names, from a file at `here`; `None`
/// for a `super` that climbs above the crate.
fn resolve(found: &[String], here: &[String]) -> Option<Vec<String>> {
    match found.first().map(String::as_str) {
        Some("crate") => Some(found[1..].to_vec()),
        Some("super") => {
            let ups = found.iter().take_while(|s| *s == "super").count();
            let base = here.len().checked_sub(ups)?;
            let mut abs = here[..base].to_vec();
            abs.extend(found[ups..].iter().cloned());
            Some(abs)
        }
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    file: String,
    line: usize,
    from: String,
    to: String,
    path: String,
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} -> {} (`{}`)",
            self.file, self.line, self.from, self.to, self.path
        )
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every edge between two different modules in the tree under `src`.
fn edges(src: &Path) -> Vec<Edge> {
    let targets: BTreeSet<String> = std::fs::read_dir(src.join("target"))
        .unwrap_or_else(|e| panic!("cannot read src/target: {e}"))
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap_or(&file);
        let here = module_path(rel);
        let from = module_of(&here, &targets);
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for found in paths(&text) {
            let Some(abs) = resolve(&found.path, &here) else {
                continue;
            };
            let to = module_of(&abs, &targets);
            if to != from {
                out.push(Edge {
                    file: format!("src/{}", rel.display()),
                    line: found.line,
                    from: from.clone(),
                    to,
                    path: found.path.join("::"),
                });
            }
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

// -------------------------------------------------------------------- tests

#[test]
fn dependencies_follow_the_architecture() {
    let all = edges(&src());
    let bad: Vec<String> = all
        .iter()
        .filter_map(|e| broken(&e.from, &e.to).map(|r| format!("{e}: {}", r.why)))
        .collect();
    assert!(
        bad.is_empty(),
        "{} edge(s) break the dependency rules of ARCHITECTURE.md:\n  {}",
        bad.len(),
        bad.join("\n  ")
    );
}

/// The scan sees the tree it is meant to: every module a rule names has
/// files, and edges known to exist are found, so no rule holds vacuously.
#[test]
fn the_scan_sees_the_real_tree() {
    let all = edges(&src());
    let has = |from: &str, to: &str| all.iter().any(|e| e.from == from && e.to == to);
    for (from, to) in [
        ("diff", "model"),
        ("plan", "diff"),
        ("config", "diagnostic"),
        ("platform", "wire"),
        ("target/native", "platform"),
        ("target/native", "target"),
        ("target/scim", "model"),
        ("cli", "pipeline"),
    ] {
        assert!(
            has(from, to),
            "no edge {from} -> {to} found: the scan is broken"
        );
    }
    let modules: BTreeSet<&str> = all.iter().map(|e| e.from.as_str()).collect();
    for r in RULES {
        if !r.from.contains('*') {
            assert!(
                modules.contains(r.from) || src().join(r.from).exists(),
                "rule for `{}` names no module under src/",
                r.from
            );
        }
    }
}

#[test]
fn every_rule_can_fail() {
    for (from, to) in [
        ("model", "config"),
        ("model", "secrets"),
        ("diff", "plan"),
        ("plan", "render"),
        ("plan", "target"),
        ("drift", "plan"),
        ("wire", "model"),
        ("platform", "model"),
        ("platform", "secrets"),
        ("config", "target"),
        ("secrets", "config"),
        ("target/native", "diff"),
        ("target/native", "target/scim"),
        ("target/native", "secrets"),
        ("target/scim", "wire"),
        ("target/scim", "platform"),
        ("target/scim", "target/native"),
        ("target/openwebui", "pipeline"),
        ("target/openwebui", "config"),
        ("target/openwebui", "validate"),
        ("render", "target"),
        ("render", "target/native"),
        ("render", "platform"),
        ("render", "apply"),
        ("apply", "cli"),
        ("pipeline", "cli"),
        ("target", "cli"),
    ] {
        assert!(
            broken(from, to).is_some(),
            "{from} -> {to} should break a rule"
        );
    }
    for (from, to) in [
        ("plan", "diff"),
        ("drift", "diff"),
        ("platform", "wire"),
        ("config", "secrets"),
        ("target/native", "platform"),
        ("target/native", "wire"),
        ("target/scim", "target"),
        ("target/openwebui", "model"),
        ("render", "plan"),
        ("cli", "platform"),
        ("pipeline", "target/native"),
        ("model", "model"),
    ] {
        assert!(broken(from, to).is_none(), "{from} -> {to} is allowed");
    }
}

fn found(src: &str) -> Vec<String> {
    paths(src).into_iter().map(|f| f.path.join("::")).collect()
}

#[test]
fn parser_reads_use_trees_and_inline_paths() {
    assert_eq!(found("use crate::model::Slug;"), ["crate::model::Slug"]);
    assert_eq!(
        found("use crate::{model::{self, Slug}, diff::{compare::{a, b as c}, Change}, wire};"),
        [
            "crate::model",
            "crate::model::Slug",
            "crate::diff::compare::a",
            "crate::diff::compare::b",
            "crate::diff::Change",
            "crate::wire",
        ]
    );
    assert_eq!(found("use crate::plan::*;"), ["crate::plan"]);
    assert_eq!(
        found("fn f() { let x = crate::wire::strict::<T>(v)?; crate::model::Catalog::builtin(p) }"),
        ["crate::wire::strict", "crate::model::Catalog::builtin"]
    );
    assert_eq!(
        found("use super::{convert, super::Write};\nuse super::super::x::Y;"),
        [
            "super::convert",
            "super::super::Write",
            "super::super::x::Y"
        ]
    );
    assert_eq!(
        found("macro_rules! m { () => { $crate::model::X } }"),
        ["crate::model::X"]
    );
    // Lines are reported.
    let p = paths("\n\nuse crate::{\n  model,\n  wire,\n};");
    assert_eq!(p.iter().map(|f| f.line).collect::<Vec<_>>(), [4, 5]);
}

#[test]
fn parser_ignores_comments_literals_visibility_and_tests() {
    let src = r####"
        // use crate::cli::Line;
        /// Calls crate::cli::main.
        /* crate::cli /* nested crate::cli */ still a comment crate::cli */
        pub(crate) fn f<'a>(x: &'a str) -> char {
            let _ = "crate::cli::x";
            let _ = r#"crate::cli "quoted" crate::cli"#;
            let _ = b"crate::cli";
            let _ = '"';
            let _ = '\'';
            'c'
        }
        pub(in crate::model) struct S;
        #[cfg(test)]
        mod tests {
            use crate::cli::Args;
            fn g() { crate::config::load() }
        }
        #[cfg(test)]
        use crate::cli::Other;
        #[cfg(test)]
        #[allow(dead_code)]
        fn helper() -> crate::cli::X { crate::cli::y() }
        use crate::wire::Page;
    "####;
    assert_eq!(found(src), ["crate::model", "crate::wire::Page"]);
}

#[test]
fn modules_of_files_and_paths() {
    let targets: BTreeSet<String> = ["native", "scim"].map(String::from).into();
    let m = |p: &str| module_of(&module_path(Path::new(p)), &targets);
    assert_eq!(m("model/keys.rs"), "model");
    assert_eq!(m("diagnostic.rs"), "diagnostic");
    assert_eq!(m("target/mod.rs"), "target");
    assert_eq!(m("target/any.rs"), "target");
    assert_eq!(m("target/native/mod.rs"), "target/native");
    assert_eq!(m("target/scim/client.rs"), "target/scim");
    assert_eq!(m("lib.rs"), "crate");
    let here = module_path(Path::new("target/native/sandbox.rs"));
    let to = |p: &str| {
        let segs: Vec<String> = p.split("::").map(String::from).collect();
        resolve(&segs, &here).map(|abs| module_of(&abs, &targets))
    };
    assert_eq!(to("super::convert").as_deref(), Some("target/native"));
    assert_eq!(to("super::super::Write").as_deref(), Some("target"));
    assert_eq!(
        to("super::super::scim::Client").as_deref(),
        Some("target/scim")
    );
    assert_eq!(to("super::super::super::cli").as_deref(), Some("cli"));
    assert_eq!(to("super::super::super::super::x"), None);
    assert_eq!(
        to("crate::target::native::http").as_deref(),
        Some("target/native")
    );
    assert_eq!(to("crate::target::Capabilities").as_deref(), Some("target"));
    assert_eq!(to("crate::target").as_deref(), Some("target"));
}

/// A whole tree in a temporary directory: a forbidden edge is reported with
/// its file, line and path.
#[test]
fn a_forbidden_edge_is_reported() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let src = dir.path();
    for d in ["model", "target/native", "target/scim"] {
        std::fs::create_dir_all(src.join(d)).unwrap_or_else(|e| panic!("{d}: {e}"));
    }
    let write = |p: &str, text: &str| {
        std::fs::write(src.join(p), text).unwrap_or_else(|e| panic!("{p}: {e}"));
    };
    write("model/mod.rs", "// crate::cli\npub struct M;\n");
    write("target/mod.rs", "pub trait Target {}\n");
    write(
        "target/scim/mod.rs",
        "use super::Target;\nuse crate::{model::M, target::native::Http};\n",
    );
    write("target/native/mod.rs", "use crate::model::M;\n");
    let e = edges(src);
    let bad: Vec<String> = e
        .iter()
        .filter(|e| broken(&e.from, &e.to).is_some())
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        bad,
        ["src/target/scim/mod.rs:2: target/scim -> target/native (`crate::target::native::Http`)"]
    );
    assert_eq!(e.len(), 4, "{e:?}");
}
