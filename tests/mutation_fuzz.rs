//! The mutation fuzz harness: hostile config trees made from the shipped
//! examples (`examples/*`, TOML and KDL) and the bad-input cases
//! (`tests/cases/*.in`), run through the real binary. Each case takes one
//! tree and applies seeded random mutations (byte flips, truncation, lines
//! and blocks duplicated, quotes, brackets and braces deleted or doubled,
//! 70,000-character strings, 10,000 levels of nesting, long runs of `"`, `#`
//! or `\`, invalid UTF-8, NUL and control characters, multi-byte characters
//! next to secrets and at line ends, values swapped between fields, types
//! confused, keys renamed, huge numbers, references to undeclared objects,
//! files copied or moved to odd names, and secret-looking literals), writes
//! it to a temporary directory and runs `tenet validate` (text, and
//! sometimes JSON or GitHub annotations), for some cases `tenet plan
//! --endpoint sandbox:...` (text, Markdown or JSON) and, when the tree is
//! valid, `plan --out` with the saved plan mutated and `apply PLAN`, then
//! `apply`, `export` and `validate` of the export. It checks the
//! invariant "bad input never panics": every exit code is 0, 1 or 2 (never
//! 101, a signal, or a hang past [`TIMEOUT`]), nothing says "panicked", an
//! error of `validate` always names a file, line and column (and in JSON has
//! a hint), output is bounded, and a canary literal put in a secret field
//! (or a credential-shaped one anywhere) never appears in any output.
//!
//! Reproducible: `TENET_FUZZ_SEED` (default [`DEFAULT_SEED`]) and
//! `TENET_FUZZ_CASES` (default [`DEFAULT_CASES`]) choose the cases,
//! `TENET_FUZZ_CASE=N` reruns case N alone, `TENET_FUZZ_THREADS` sets how
//! many run at once (default 2). A failure prints the seed, the case, its
//! mutations and the kept directory holding the tree.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The seed when `TENET_FUZZ_SEED` is not set.
const DEFAULT_SEED: u64 = 0x7e4e_7f22_0010_0001;
/// Cases run when `TENET_FUZZ_CASES` is not set.
const DEFAULT_CASES: usize = 300;
/// A run longer than this is a hang: the process is killed and it fails.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Diagnostics shown per file at most (and one line saying how many more).
const MAX_PER_FILE: usize = 200;

// ------------------------------------------------------------ trees

/// A config tree in memory: paths relative to its root, and bytes.
#[derive(Clone)]
struct Tree {
    origin: String,
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl Tree {
    fn read(origin: &str, root: &Path) -> Tree {
        let mut files = Vec::new();
        read_dir(root, Path::new(""), &mut files);
        files.sort();
        Tree {
            origin: origin.to_owned(),
            files,
        }
    }

    /// Indices of the `.toml` and `.kdl` files.
    fn config_files(&self) -> Vec<usize> {
        (0..self.files.len())
            .filter(|i| {
                matches!(
                    self.files[*i].0.extension().and_then(|e| e.to_str()),
                    Some("toml" | "kdl")
                )
            })
            .collect()
    }

    fn is_kdl(&self, i: usize) -> bool {
        self.files[i].0.extension().is_some_and(|e| e == "kdl")
    }

    fn name(&self, i: usize) -> String {
        self.files[i].0.display().to_string()
    }

    fn write(&self, root: &Path) {
        for (rel, bytes) in &self.files {
            let path = root.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
            }
            std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {rel:?}: {e}"));
        }
    }
}

fn read_dir(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {dir:?}: {e}"));
    for entry in entries.flatten() {
        let name = entry.file_name();
        let path = rel.join(&name);
        let Ok(ty) = entry.file_type() else { continue };
        if ty.is_dir() && name != ".tenet" {
            read_dir(root, &path, out);
        } else if ty.is_file() {
            let bytes = std::fs::read(root.join(&path)).unwrap_or_else(|e| panic!("read: {e}"));
            out.push((path, bytes));
        }
    }
}

/// The shipped examples and every bad-input case that has a config root.
fn corpus() -> Vec<Tree> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut trees = Vec::new();
    for name in ["acme", "acme-kdl", "directory", "openwebui"] {
        trees.push(Tree::read(
            &format!("examples/{name}"),
            &support::example(name),
        ));
    }
    let cases = manifest.join("tests/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap_or_else(|e| panic!("read tests/cases: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.extension().is_some_and(|e| e == "in"))
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        let tree = Tree::read(&format!("tests/cases/{}", name.unwrap_or_default()), &dir);
        if !tree.config_files().is_empty() {
            trees.push(tree);
        }
    }
    trees
}

// ------------------------------------------------------------ helpers

/// splitmix64: one seed per case from the run's seed.
fn mix(seed: u64, case: usize) -> u64 {
    let mut z = seed.wrapping_add((case as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

/// Byte ranges of the lines of `b`, without their `\n`.
fn lines(b: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in b.iter().enumerate() {
        if *c == b'\n' {
            out.push(start..i);
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push(start..b.len());
    }
    out
}

fn splice(b: &mut Vec<u8>, range: std::ops::Range<usize>, with: &[u8]) {
    b.splice(range, with.iter().copied());
}

/// `key = value` lines of a TOML file: (line, where the value starts).
fn toml_values(b: &[u8]) -> Vec<(std::ops::Range<usize>, usize)> {
    lines(b)
        .into_iter()
        .filter_map(|r| {
            let line = &b[r.clone()];
            let first = line.iter().position(|c| !c.is_ascii_whitespace())?;
            if matches!(line[first], b'[' | b'#') {
                return None;
            }
            let eq = line.iter().position(|c| *c == b'=')?;
            let v = eq + 1 + line[eq + 1..].iter().take_while(|c| **c == b' ').count();
            (v < line.len()).then_some((r.clone(), r.start + v))
        })
        .collect()
}

/// Node lines of a KDL file: (line, where the arguments start).
fn kdl_nodes(b: &[u8]) -> Vec<(std::ops::Range<usize>, usize)> {
    lines(b)
        .into_iter()
        .filter_map(|r| {
            let line = &b[r.clone()];
            let first = line.iter().position(|c| !c.is_ascii_whitespace())?;
            if matches!(line[first], b'}' | b'/' | b'{') {
                return None;
            }
            let name_end = first + line[first..].iter().position(|c| *c == b' ')?;
            let args = name_end + 1;
            let end = line[args..]
                .iter()
                .position(|c| *c == b'{')
                .map_or(line.len(), |i| args + i);
            (args < end).then_some((r.clone(), r.start + args))
        })
        .collect()
}

/// Where the value or arguments of a line end (before a KDL `{`).
fn value_end(b: &[u8], line: &std::ops::Range<usize>, start: usize, kdl: bool) -> usize {
    if kdl {
        b[start..line.end]
            .iter()
            .position(|c| *c == b'{')
            .map_or(line.end, |i| start + i)
            .max(start)
    } else {
        line.end
    }
}

/// Spans of `"..."` strings (contents only) on one line each.
fn quoted(b: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    for r in lines(b) {
        let mut i = r.start;
        while i < r.end {
            if b[i] == b'"' {
                let start = i + 1;
                let mut j = start;
                while j < r.end && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                if j < r.end {
                    out.push(start..j);
                }
                i = j + 1;
            } else {
                i += 1;
            }
        }
    }
    out
}

fn random_lower(rng: &mut fastrand::Rng, n: usize) -> String {
    (0..n).map(|_| rng.lowercase()).collect()
}

// ------------------------------------------------------------ mutations

/// What a case did, to print on failure.
#[derive(Default)]
struct Case {
    mutations: Vec<String>,
    /// Strings that must appear in no output.
    canaries: Vec<String>,
}

type Mutation = fn(&mut fastrand::Rng, &mut Tree, usize) -> Option<String>;

/// Every mutation, by name. Each takes the tree and one of its config
/// files and says what it did, or `None` when it does not apply there.
const MUTATIONS: &[(&str, Mutation)] = &[
    ("byte flips", byte_flips),
    ("truncate", truncate),
    ("duplicate lines", duplicate_lines),
    ("duplicate block", duplicate_block),
    ("delete delimiters", delete_delimiters),
    ("double delimiters", double_delimiters),
    ("huge string", huge_string),
    ("deep nesting", deep_nesting),
    ("long run", long_run),
    ("invalid utf-8", invalid_utf8),
    ("control characters", control_characters),
    ("multi-byte characters", multibyte),
    ("swap values", swap_values),
    ("type confusion", type_confusion),
    ("rename key", rename_key),
    ("huge number", huge_number),
    ("undeclared reference", undeclared_reference),
    ("many problems", many_problems),
    ("copy file", copy_file),
    ("move file", move_file),
];

/// Mutations that keep the syntax, so more trees get past parsing into
/// validation, plan, apply and export.
const GENTLE: &[(&str, Mutation)] = &[
    ("multi-byte characters in a string", multibyte_in_string),
    ("huge string", huge_string),
    ("swap values", swap_values),
    ("huge number", huge_number),
    ("undeclared reference", undeclared_reference),
    ("control character in a string", control_in_string),
];

fn multibyte_in_string(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let b = &mut t.files[f].1;
    let q = quoted(b);
    let r = q.get(rng.usize(..q.len().max(1)))?.clone();
    let c = *pick(rng, MULTIBYTE);
    let at = *pick(rng, &[r.start, r.end]);
    splice(b, at..at, c.as_bytes());
    Some(format!("{c:?} inside the string at {}", r.start))
}

fn control_in_string(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let kdl = t.is_kdl(f);
    let b = &mut t.files[f].1;
    let q = quoted(b);
    let r = q.get(rng.usize(..q.len().max(1)))?.clone();
    // Escaped, so the file still parses: the value holds the character.
    let c = if kdl {
        *pick(
            rng,
            &["\\u{0}", "\\u{1b}", "\\t", "\\u{202e}", "\\r\\n", "\\u{7f}"],
        )
    } else {
        *pick(
            rng,
            &["\\u0000", "\\u001b", "\\t", "\\u202e", "\\r\\n", "\\u007f"],
        )
    };
    splice(b, r.end..r.end, c.as_bytes());
    Some(format!("{c} at the end of the string at {}", r.start))
}

fn byte_flips(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let b = &mut t.files[f].1;
    if b.is_empty() {
        return None;
    }
    let n = rng.usize(1..=8);
    let mut at = Vec::new();
    for _ in 0..n {
        let i = rng.usize(..b.len());
        b[i] ^= rng.u8(1..);
        at.push(i);
    }
    Some(format!("flipped bytes at {at:?}"))
}

fn truncate(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let b = &mut t.files[f].1;
    let at = rng.usize(..=b.len());
    b.truncate(at);
    Some(format!("truncated to {at} bytes"))
}

fn duplicate_lines(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let b = &mut t.files[f].1;
    let ls = lines(b);
    if ls.is_empty() {
        return None;
    }
    let first = rng.usize(..ls.len());
    let last = (first + rng.usize(0..4)).min(ls.len() - 1);
    let times = *pick(rng, &[1, 1, 2, 3, 50, 1500]);
    let mut chunk = b[ls[first].start..ls[last].end].to_vec();
    chunk.push(b'\n');
    let at = ls[last].end.min(b.len());
    let mut copies = vec![b'\n'];
    for _ in 0..times {
        copies.extend_from_slice(&chunk);
    }
    splice(b, at..at, &copies);
    Some(format!(
        "lines {}..={} copied {times} times",
        first + 1,
        last + 1
    ))
}

fn duplicate_block(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let kdl = t.is_kdl(f);
    let b = &mut t.files[f].1;
    let ls = lines(b);
    // A block: from a header line (TOML) or a line at column 0 (KDL) to the
    // next one.
    let starts: Vec<usize> = (0..ls.len())
        .filter(|i| {
            let l = &b[ls[*i].clone()];
            if kdl {
                l.first().is_some_and(u8::is_ascii_alphabetic)
            } else {
                l.first() == Some(&b'[')
            }
        })
        .collect();
    let s = *starts.get(rng.usize(..starts.len().max(1)))?;
    let e = starts
        .iter()
        .find(|i| **i > s)
        .map_or(b.len(), |i| ls[*i].start);
    let block = b[ls[s].start..e].to_vec();
    let at = *pick(rng, &[e, b.len(), ls[s].start]);
    splice(b, at..at, &block);
    Some(format!("block at line {} copied to byte {at}", s + 1))
}

const DELIMITERS: &[u8] = b"\"'[]{}";

fn delete_delimiters(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let b = &mut t.files[f].1;
    let d = *pick(rng, DELIMITERS);
    let at: Vec<usize> = (0..b.len()).filter(|i| b[*i] == d).collect();
    if at.is_empty() {
        return None;
    }
    let n = rng.usize(1..=3.min(at.len()));
    let mut gone: Vec<usize> = (0..n).map(|_| *pick(rng, &at)).collect();
    gone.sort_unstable();
    gone.dedup();
    for i in gone.iter().rev() {
        b.remove(*i);
    }
    Some(format!("deleted `{}` at {gone:?}", d as char))
}

fn double_delimiters(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let b = &mut t.files[f].1;
    let d = *pick(rng, DELIMITERS);
    let at: Vec<usize> = (0..b.len()).filter(|i| b[*i] == d).collect();
    let i = *at.get(rng.usize(..at.len().max(1)))?;
    let n = *pick(rng, &[1, 2, 5]);
    splice(b, i..i, &vec![d; n]);
    Some(format!("`{}` at {i} repeated {n} more times", d as char))
}

fn huge_string(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let kdl = t.is_kdl(f);
    let unit = *pick(rng, &["a", "é", "漢", " ", "\\n", "-", "😀"]);
    let n = 70_000 / unit.chars().count();
    let big = unit.repeat(n);
    let b = &mut t.files[f].1;
    match rng.u8(0..3) {
        0 => {
            let q = quoted(b);
            let r = q.get(rng.usize(..q.len().max(1)))?.clone();
            splice(b, r.clone(), big.as_bytes());
            Some(format!("string at {} replaced by 70k × {unit:?}", r.start))
        }
        1 => {
            let line = if kdl {
                format!("\ndescription \"{big}\"\n")
            } else {
                format!("\ndescription = \"{big}\"\n")
            };
            let at = *pick(rng, &[0, b.len()]);
            splice(b, at..at, line.as_bytes());
            Some(format!("70k-character description of {unit:?} at {at}"))
        }
        _ => {
            let word: String = "k".repeat(70_000);
            let line = if kdl {
                format!("\nworkspace {word} {{\n    name \"x\"\n}}\n")
            } else {
                format!("\n[workspaces.{word}]\nname = \"x\"\n")
            };
            b.extend_from_slice(line.as_bytes());
            Some("a workspace with a 70k-character key appended".to_owned())
        }
    }
}

fn deep_nesting(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let kdl = t.is_kdl(f);
    let n = *pick(rng, &[65, 129, 200, 1_000, 10_000, 10_000, 100_000]);
    let closed = rng.bool();
    let (open, close) = if kdl {
        *pick(
            rng,
            &[
                ("a {", "}"),
                ("a {\n", "}\n"),
                ("/*", "*/"),
                ("- {", "}"),
                ("(", ")"),
            ],
        )
    } else {
        *pick(
            rng,
            &[
                ("[", "]"),
                ("{a = ", "}"),
                ("[{a = ", "}]"),
                ("a.", "a"),
                ("[[", "]]"),
            ],
        )
    };
    let mut text = String::from("\n");
    if !kdl {
        text.push_str(match open {
            "a." => "",
            _ => "deep = ",
        });
    }
    text.push_str(&open.repeat(n));
    if closed || open == "a." {
        text.push_str(&close.repeat(if open == "a." { 1 } else { n }));
    }
    if open == "a." {
        text.push_str(" = 1");
    }
    text.push('\n');
    let b = &mut t.files[f].1;
    let ls = lines(b);
    let at = ls.get(rng.usize(..ls.len().max(1))).map_or(0, |r| r.end);
    splice(b, at..at, text.as_bytes());
    Some(format!(
        "{n} levels of {open:?}{} at {at}",
        if closed { " (closed)" } else { "" }
    ))
}

fn long_run(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let c = *pick(
        rng,
        &[
            "\"", "\"", "#", "#", "\\", "\\", "'", "}", ")", "]", "=", ";", "/", "*", "-", "{",
            "[", "#\"", "r#", "\"\"\"", "/- ", "#\"a ", "\\ x ", "x= ", "/* ",
        ],
    );
    let n = *pick(rng, &[64, 300, 1_000, 10_000, 60_000]);
    let b = &mut t.files[f].1;
    let at = rng.usize(..=b.len());
    splice(b, at..at, c.repeat(n).as_bytes());
    Some(format!("{n} × {c:?} at {at}"))
}

/// Byte sequences that are not UTF-8: stray continuation and lead bytes,
/// cut sequences, a surrogate, an overlong NUL.
const BAD_UTF8: &[&[u8]] = &[
    &[0xff],
    &[0xc3],
    &[0xe2, 0x82],
    &[0xf0, 0x9f, 0x98],
    &[0xed, 0xa0, 0x80],
    &[0xc0, 0x80],
    &[0xfe, 0xfe, 0xff],
];

fn invalid_utf8(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let seq: &[u8] = BAD_UTF8[rng.usize(..BAD_UTF8.len())];
    let b = &mut t.files[f].1;
    let at = rng.usize(..=b.len());
    splice(b, at..at, seq);
    Some(format!("invalid UTF-8 {seq:x?} at {at}"))
}

fn control_characters(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let c = *pick(
        rng,
        &[
            "\0", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b[2J", "\r", "\x7f", "\u{2028}",
            "\u{feff}", "\u{202e}", "\u{85}", "\t", "\0\0\0\0",
        ],
    );
    let b = &mut t.files[f].1;
    let ls = lines(b);
    let at = if rng.bool() || ls.is_empty() {
        rng.usize(..=b.len())
    } else {
        ls[rng.usize(..ls.len())].end
    };
    splice(b, at..at, c.as_bytes());
    Some(format!("{c:?} at {at}"))
}

const MULTIBYTE: &[&str] = &["é", "ß", "漢", "😀", "\u{301}", "\u{200b}", "ﬁ", "Ⅻ"];

fn multibyte(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let c = *pick(rng, MULTIBYTE);
    let b = &mut t.files[f].1;
    let secretish: Vec<usize> = lines(b)
        .into_iter()
        .filter(|r| {
            let l = String::from_utf8_lossy(&b[r.clone()]);
            l.contains("api_keys") || l.contains("env:") || l.contains("file:")
        })
        .flat_map(|r| {
            (r.start..r.end)
                .filter(|i| matches!(b[*i], b'"' | b'\'' | b':' | b'=' | b' '))
                .flat_map(|i| [i, i + 1])
                .chain([r.end])
                .collect::<Vec<_>>()
        })
        .collect();
    let ends: Vec<usize> = lines(b).into_iter().map(|r| r.end).collect();
    let (at, text, what) = match rng.u8(0..3) {
        0 if !secretish.is_empty() => (*pick(rng, &secretish), c.to_owned(), "near a secret"),
        1 if !secretish.is_empty() => (
            *pick(rng, &secretish),
            format!("\\{c}"),
            "escaped near a secret",
        ),
        _ if !ends.is_empty() => (
            *pick(rng, &ends),
            c.repeat(rng.usize(1..4)),
            "at a line end",
        ),
        _ => return None,
    };
    let at = at.min(b.len());
    splice(b, at..at, text.as_bytes());
    Some(format!("{text:?} {what}, at {at}"))
}

/// The value of a line (or a node's arguments), as a byte range.
fn values(t: &Tree, f: usize) -> Vec<std::ops::Range<usize>> {
    let kdl = t.is_kdl(f);
    let b = &t.files[f].1;
    let found = if kdl { kdl_nodes(b) } else { toml_values(b) };
    found
        .into_iter()
        .map(|(line, start)| start..value_end(b, &line, start, kdl))
        .filter(|r| !r.is_empty())
        .collect()
}

fn swap_values(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let vs = values(t, f);
    if vs.len() < 2 {
        return None;
    }
    let mut a = pick(rng, &vs).clone();
    let mut c = pick(rng, &vs).clone();
    if a == c {
        return None;
    }
    if a.start > c.start {
        std::mem::swap(&mut a, &mut c);
    }
    let b = &mut t.files[f].1;
    let (va, vc) = (b[a.clone()].to_vec(), b[c.clone()].to_vec());
    splice(b, c.clone(), &va);
    splice(b, a.clone(), &vc);
    Some(format!("values at {} and {} swapped", a.start, c.start))
}

fn type_confusion(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let kdl = t.is_kdl(f);
    let vs = values(t, f);
    let r = vs.get(rng.usize(..vs.len().max(1)))?.clone();
    let with = if kdl {
        *pick(
            rng,
            &[
                "42",
                "\"42\"",
                "#true",
                "#null",
                "#nan",
                "#-inf",
                "1.5",
                "-0",
                "0x10",
                "\"a\" \"b\"",
                "k=v",
                "(t)\"x\"",
                "{ - 1; - \"x\" }",
                "",
            ],
        )
    } else {
        *pick(
            rng,
            &[
                "42",
                "\"42\"",
                "-7",
                "[1, \"two\", 3.5]",
                "{ x = 1 }",
                "true",
                "\"true\"",
                "[]",
                "{}",
                "1.5",
                "[[1, [2]]]",
                "1979-05-27T07:32:00Z",
                "\"env:NOPE\"",
                "''",
                "\"\"\"\nmulti\n\"\"\"",
                "nan",
            ],
        )
    };
    let b = &mut t.files[f].1;
    splice(b, r.clone(), with.as_bytes());
    Some(format!("value at {} replaced by {with:?}", r.start))
}

fn rename_key(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let kdl = t.is_kdl(f);
    let b = &mut t.files[f].1;
    // Identifier-like words at the start of a line, or in a TOML header.
    let mut words = Vec::new();
    for r in lines(b) {
        let line = &b[r.clone()];
        let Some(first) = line.iter().position(|c| !c.is_ascii_whitespace()) else {
            continue;
        };
        let mut i = first + usize::from(!kdl && line[first] == b'[');
        while i < line.len() {
            let s = i;
            while i < line.len() && (line[i].is_ascii_alphanumeric() || line[i] == b'_') {
                i += 1;
            }
            if i > s {
                words.push(r.start + s..r.start + i);
            }
            if kdl || line.get(i) != Some(&b'.') {
                break;
            }
            i += 1;
        }
    }
    let w = words.get(rng.usize(..words.len().max(1)))?.clone();
    let old = String::from_utf8_lossy(&b[w.clone()]).into_owned();
    let new = match rng.u8(0..4) {
        0 => format!("{old}x"),
        1 if old.len() > 2 => {
            let mut c: Vec<char> = old.chars().collect();
            c.swap(0, 1);
            c.into_iter().collect()
        }
        2 => old.to_uppercase(),
        _ => format!("zz{}", random_lower(rng, 4)),
    };
    splice(b, w.clone(), new.as_bytes());
    Some(format!("`{old}` renamed to `{new}` at {}", w.start))
}

fn huge_number(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let b = &mut t.files[f].1;
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let s = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            if i == b.len() || !b[i].is_ascii_alphabetic() {
                runs.push(s..i);
            }
        }
        i += 1;
    }
    let r = runs.get(rng.usize(..runs.len().max(1)))?.clone();
    let with = *pick(
        rng,
        &[
            "99999999999999999999999",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551616",
            "4294967296",
            "1e308",
            "1e400",
            "-0",
            "0x7fffffffffffffff",
            "1_000_000_000_000",
            "340282366920938463463374607431768211456",
        ],
    );
    splice(b, r.clone(), with.as_bytes());
    Some(format!("number at {} replaced by {with}", r.start))
}

fn undeclared_reference(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let b = &mut t.files[f].1;
    let q = quoted(b);
    let r = q.get(rng.usize(..q.len().max(1)))?.clone();
    let old = String::from_utf8_lossy(&b[r.clone()]).into_owned();
    let ghost = if old.contains('@') {
        format!("ghost-{}@nowhere.example", random_lower(rng, 3))
    } else {
        format!("ghost-{}", random_lower(rng, 3))
    };
    splice(b, r.clone(), ghost.as_bytes());
    Some(format!("`{old}` at {} replaced by `{ghost}`", r.start))
}

fn many_problems(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let kdl = t.is_kdl(f);
    let n = *pick(rng, &[250, 1_000, 3_000]);
    let mut text = String::from("\n");
    for i in 0..n {
        if kdl {
            let _ = writeln!(text, "workspace w{i} {{\n    nmae 1\n}}");
        } else {
            let _ = writeln!(text, "[workspaces.w{i}]\nnmae = 1");
        }
    }
    t.files[f].1.extend_from_slice(text.as_bytes());
    Some(format!("{n} workspaces with an unknown field appended"))
}

fn copy_file(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let (path, bytes) = t.files[f].clone();
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
    let to = PathBuf::from(format!(
        "copy-{}.{}",
        random_lower(rng, 4),
        ext.unwrap_or_default()
    ));
    let msg = format!("{} copied to {}", path.display(), to.display());
    t.files.push((to, bytes));
    Some(msg)
}

/// Moves a file (never `tenet.toml`) to a name with spaces, multi-byte
/// characters, a line break, a colon, a leading dash, non-UTF-8 bytes, 250
/// characters, or into a hidden directory.
fn move_file(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    if t.files[f].0 == Path::new("tenet.toml") {
        return None;
    }
    let ext = if t.is_kdl(f) { "kdl" } else { "toml" };
    let stem: Vec<u8> = match rng.u8(0..8) {
        0 => b"with space".to_vec(),
        1 => "é漢 dir/😀".as_bytes().to_vec(),
        2 => b"new\nline".to_vec(),
        3 => b"a:b,c%d".to_vec(),
        4 => b"-dash".to_vec(),
        5 => vec![b'x', 0xff, 0xfe],
        6 => vec![b'n'; 250],
        _ => b".hidden/x".to_vec(),
    };
    let mut name = stem;
    name.extend_from_slice(format!(".{ext}").as_bytes());
    let to = PathBuf::from(std::ffi::OsStr::from_bytes(&name));
    let msg = format!("{} moved to {to:?}", t.files[f].0.display());
    t.files[f].0 = to;
    Some(msg)
}

/// A literal that does not look like a key, so only the secret-field rule
/// can hide it.
fn secret_canary(rng: &mut fastrand::Rng) -> String {
    format!("hunter{}", random_lower(rng, 14))
}

/// A credential-shaped literal (`sk-proj-` and 30 mixed characters).
fn credential_canary(rng: &mut fastrand::Rng) -> String {
    let mut tail = String::new();
    for i in 0..30 {
        tail.push(match i % 3 {
            0 => rng.uppercase(),
            1 => rng.lowercase(),
            _ => rng.digit(10),
        });
    }
    format!("sk-proj-{tail}")
}

/// Puts a literal in a secret field (`api_keys`), in one of many spellings,
/// next to multi-byte characters sometimes.
fn place_secret(rng: &mut fastrand::Rng, t: &mut Tree, case: &mut Case) {
    let canary = secret_canary(rng);
    let files = t.config_files();
    let f = *pick(rng, &files);
    let kdl = t.is_kdl(f);
    let around = *pick(rng, &["", "", "é", "漢字", "😀", "\\é"]);
    let c = format!(
        "{around}{canary}{}",
        if around == "\\é" { "" } else { around }
    );
    let value = if kdl {
        match rng.u8(0..7) {
            0 => format!("\"{c}\""),
            1 => format!("{canary}{}", around.trim_start_matches('\\')),
            2 => format!("#\"{c}\"#"),
            3 => format!("env:OK \"{c}\""),
            4 => format!("{{ - \"{c}\" }}"),
            5 => format!("\"\"\"\n{c}\n\"\"\""),
            _ => format!("\"{c}\" // note"),
        }
    } else {
        match rng.u8(0..9) {
            0 => format!("[\"{c}\"]"),
            1 => format!("['{c}']"),
            2 => format!("[\"env:OK\", \"{c}\"]"),
            3 => format!("\"{c}\""),
            4 => format!("\"\"\"{c}\"\"\""),
            5 => format!("[\n  \"{c}\",\n]"),
            6 => format!("[{canary}]"),
            7 => format!("{{ x = \"{c}\" }}"),
            _ => format!("[ \"{c}\" ] # {canary}"),
        }
    };
    let b = &mut t.files[f].1;
    let line = if kdl {
        format!("api_keys {value}")
    } else {
        format!("api_keys = {value}")
    };
    // Replace an existing api_keys line when there is one, else add a
    // provider that has the literal. Offsets are the bytes' (a lossy copy
    // of a file with invalid UTF-8 has others).
    let existing = lines(b)
        .into_iter()
        .find(|r| b[r.clone()].trim_ascii_start().starts_with(b"api_keys"));
    let what = match existing {
        Some(r) => {
            let indent = r.len() - b[r.clone()].trim_ascii_start().len();
            let start = r.start + indent;
            splice(b, start..r.end, line.as_bytes());
            format!("secret literal {value:?} in api_keys of {}", t.name(f))
        }
        None => {
            let block = if kdl {
                format!("\nprovider canary {{\n    kind openai\n    models m\n    {line}\n}}\n")
            } else {
                format!("\n[providers.canary]\nkind = \"openai\"\nmodels = [\"m\"]\n{line}\n")
            };
            b.extend_from_slice(block.as_bytes());
            format!(
                "provider with secret literal {value:?} added to {}",
                t.name(f)
            )
        }
    };
    case.mutations.push(what);
    case.canaries.push(canary);
}

/// Puts a credential-shaped literal in a field that is not secret.
fn place_credential(rng: &mut fastrand::Rng, t: &mut Tree, case: &mut Case) {
    let canary = credential_canary(rng);
    let files = t.config_files();
    let f = *pick(rng, &files);
    let around = *pick(rng, &["", "é", "漢", " "]);
    // Not in a secret field: there it is a secret literal.
    let vs: Vec<_> = values(t, f)
        .into_iter()
        .filter(|r| {
            let b = &t.files[f].1;
            let line_start = b[..r.start]
                .iter()
                .rposition(|c| *c == b'\n')
                .map_or(0, |i| i + 1);
            !String::from_utf8_lossy(&b[line_start..r.end]).contains("api_keys")
        })
        .collect();
    let b = &mut t.files[f].1;
    let text = format!("\"{around}{canary}{around}\"");
    let at = match vs.get(rng.usize(..vs.len().max(1))) {
        Some(r) => {
            splice(b, r.clone(), text.as_bytes());
            r.start
        }
        None => {
            let at = b.len();
            b.extend_from_slice(format!("\ndescription = {text}\n").as_bytes());
            at
        }
    };
    case.mutations.push(format!(
        "credential-shaped literal {text:?} at {at} of {}",
        t.name(f)
    ));
    case.canaries.push(canary);
}

/// The tree and mutations of case `n`.
fn make_case(seed: u64, n: usize, corpus: &[Tree]) -> (Tree, Case, fastrand::Rng) {
    let mut rng = fastrand::Rng::with_seed(mix(seed, n));
    // The examples are the richest trees: half the cases start from one.
    let base = if rng.bool() {
        rng.usize(..4)
    } else {
        rng.usize(..corpus.len())
    };
    let mut tree = corpus[base].clone();
    let mut case = Case::default();
    case.mutations.push(format!("from {}", tree.origin));
    // A quarter of the cases keep the syntax (and start from an example).
    let gentle = rng.u8(0..4) == 0;
    let (count, kinds) = if gentle {
        tree = corpus[rng.usize(..4)].clone();
        case.mutations[0] = format!("from {} (gentle)", tree.origin);
        (*pick(&mut rng, &[0, 1, 1, 2]), GENTLE)
    } else {
        (*pick(&mut rng, &[1, 1, 2, 2, 3, 4]), MUTATIONS)
    };
    let mut tries = 0;
    while case.mutations.len() <= count && tries < 20 {
        tries += 1;
        let files = tree.config_files();
        let f = *pick(&mut rng, &files);
        let (name, m) = pick(&mut rng, kinds);
        let file = tree.name(f);
        if let Some(what) = m(&mut rng, &mut tree, f) {
            case.mutations.push(format!("{name} in {file}: {what}"));
        }
    }
    // Literals go last, so no later mutation moves them out of their field.
    if rng.u8(0..6) == 0 {
        place_credential(&mut rng, &mut tree, &mut case);
    }
    if rng.u8(0..4) == 0 {
        place_secret(&mut rng, &mut tree, &mut case);
    }
    (tree, case, rng)
}

// ------------------------------------------------------------ running

struct Outcome {
    what: String,
    /// None: killed by a signal, or timed out.
    code: Option<i32>,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with its output in files (no pipe can fill up), killing it
/// after [`TIMEOUT`].
fn run_bounded(mut cmd: Command, dir: &Path, what: &str) -> Outcome {
    // One pair of files per command, kept with the tree on failure.
    let slug: String = what
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let out_path = dir.join(format!("{slug}.stdout"));
    let err_path = dir.join(format!("{slug}.stderr"));
    let out = std::fs::File::create(&out_path).unwrap_or_else(|e| panic!("create: {e}"));
    let err = std::fs::File::create(&err_path).unwrap_or_else(|e| panic!("create: {e}"));
    cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn tenet: {e}"));
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > TIMEOUT => {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("wait: {e}"),
        }
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Outcome {
        what: what.to_owned(),
        code: status.and_then(|s| s.code()),
        timed_out,
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}

/// What is wrong with a run, if anything.
fn problems(o: &Outcome, case: &Case, files: usize) -> Vec<String> {
    let mut out = Vec::new();
    if o.timed_out {
        out.push(format!("`{}` hung (killed after {TIMEOUT:?})", o.what));
    } else {
        match o.code {
            Some(0..=2) => {}
            Some(c) => out.push(format!("`{}` exited {c}", o.what)),
            None => out.push(format!("`{}` was killed by a signal", o.what)),
        }
    }
    for bad in ["panicked", "overflowed its stack", "RUST_BACKTRACE"] {
        if o.stderr.contains(bad) || o.stdout.contains(bad) {
            out.push(format!("`{}` says {bad:?}", o.what));
        }
    }
    for canary in &case.canaries {
        let tail = &canary[canary.len() - 12..];
        if o.stdout.contains(tail) || o.stderr.contains(tail) {
            out.push(format!("`{}` shows the literal {canary}", o.what));
        }
    }
    let errors = o.stderr.lines().filter(|l| l.starts_with("  × ")).count();
    if errors > (MAX_PER_FILE + 1) * (files + 1) {
        out.push(format!(
            "`{}` shows {errors} errors for {files} files",
            o.what
        ));
    }
    out
}

/// Errors about a whole file (one that does not exist, or is too large to
/// read): there is no line to point at.
const PLACELESS: &[&str] = &["tenet::files::no-tenet-toml", "tenet::files::too-large"];

/// Every error report of a `validate` that exited 1 names a place.
fn located(o: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    let ls: Vec<&str> = o.stderr.lines().collect();
    let mut seen = 0;
    for (i, l) in ls.iter().enumerate() {
        let Some(message) = l.strip_prefix("  × ") else {
            continue;
        };
        seen += 1;
        let code = ls[..i].iter().rev().find(|l| l.starts_with("tenet::"));
        if code.is_some_and(|c| PLACELESS.contains(c)) {
            continue;
        }
        let report_end = ls[i + 1..]
            .iter()
            .position(|l| l.starts_with("tenet::") || l.starts_with("error: "))
            .map_or(ls.len(), |j| i + 1 + j);
        let has_place = ls[i + 1..report_end].iter().any(|l| {
            l.contains("╭─[")
                && l.rsplit(':')
                    .nth(1)
                    .is_some_and(|n| n.parse::<usize>().is_ok())
        });
        if !has_place && out.len() < 3 {
            out.push(format!(
                "`{}`: an error without file:line:column: {message}",
                o.what
            ));
        }
    }
    if seen == 0 {
        out.push(format!("`{}` exited 1 without a diagnostic", o.what));
    }
    out
}

/// Every error in `validate --format json` output has a place and a hint.
fn json_located(o: &Outcome) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<Value>(&o.stdout) else {
        return vec![format!("`{}` printed no JSON document", o.what)];
    };
    let mut out = Vec::new();
    let mut per_file: std::collections::BTreeMap<String, usize> = Default::default();
    for d in doc["diagnostics"].as_array().into_iter().flatten() {
        if let Some(f) = d["file"].as_str() {
            *per_file.entry(f.to_owned()).or_default() += 1;
        }
        if d["severity"] != "error" {
            continue;
        }
        let place = d["file"].is_string() && d["line"].is_u64() && d["column"].is_u64()
            || d["code"].as_str().is_some_and(|c| PLACELESS.contains(&c));
        if (!place || !d["help"].is_string()) && out.len() < 3 {
            out.push(format!(
                "`{}`: error {} without a place or a hint: {}",
                o.what, d["code"], d["message"]
            ));
        }
    }
    for (file, n) in per_file {
        if n > MAX_PER_FILE + 1 {
            out.push(format!("`{}`: {n} diagnostics for {file}", o.what));
        }
    }
    if o.code == Some(1) && doc["valid"] != false {
        out.push(format!("`{}` exited 1 with a valid document", o.what));
    }
    out
}

/// A `tenet` command in `dir` with distinct provider keys set.
fn tenet_in(dir: &Path, args: &[&str]) -> Command {
    let mut c = support::tenet();
    c.current_dir(dir).args(args);
    for (i, k) in support::KEY_VARS.iter().enumerate() {
        c.env(k, format!("fuzz-key-{i}"));
    }
    c.env("OK", "fuzz-key-ok");
    c
}

/// A saved plan is input too: `plan --out`, then the file mutated (bytes,
/// strings, numbers, nesting, or its config root pointed elsewhere), then
/// `apply PLAN`, which must refuse what it cannot trust with exit 1.
fn saved_plan(
    root: &Path,
    endpoint: &str,
    case: &mut Case,
    rng: &mut fastrand::Rng,
    tmp: &Path,
    files: usize,
) -> Vec<String> {
    let file = tmp.join("plan.json");
    let file_s = file.display().to_string();
    let p = run_bounded(
        tenet_in(
            root,
            &["plan", ".", "--endpoint", endpoint, "--out", &file_s],
        ),
        tmp,
        "tenet plan . --endpoint sandbox:DB --out plan.json",
    );
    let mut bad = problems(&p, case, files);
    let Ok(bytes) = std::fs::read(&file) else {
        return bad;
    };
    let mut plan = Tree {
        origin: "plan.json".to_owned(),
        files: vec![(PathBuf::from("plan.json"), bytes)],
    };
    const PLAN_MUTATIONS: &[(&str, Mutation)] = &[
        ("byte flips", byte_flips),
        ("truncate", truncate),
        ("duplicate lines", duplicate_lines),
        ("delete delimiters", delete_delimiters),
        ("huge string", huge_string),
        ("deep nesting", deep_nesting),
        ("long run", long_run),
        ("invalid utf-8", invalid_utf8),
        ("multi-byte characters", multibyte_in_string),
        ("huge number", huge_number),
        ("undeclared reference", undeclared_reference),
        ("config root elsewhere", plan_root_elsewhere),
    ];
    for _ in 0..rng.usize(1..=2) {
        let (name, m) = pick(rng, PLAN_MUTATIONS);
        if let Some(what) = m(rng, &mut plan, 0) {
            case.mutations.push(format!("saved plan, {name}: {what}"));
        }
    }
    if std::fs::write(&file, &plan.files[0].1).is_err() {
        return bad;
    }
    let a = run_bounded(
        tenet_in(tmp, &["apply", &file_s]),
        tmp,
        "tenet apply plan.json (mutated)",
    );
    bad.extend(problems(&a, case, files));
    bad
}

/// Points a saved plan's `config_root` somewhere it should not go.
fn plan_root_elsewhere(rng: &mut fastrand::Rng, t: &mut Tree, f: usize) -> Option<String> {
    let b = &mut t.files[f].1;
    let text = String::from_utf8_lossy(b).into_owned();
    let key = "\"config_root\": \"";
    let start = text.find(key)? + key.len();
    let end = start + text[start..].find('"')?;
    let to = *pick(rng, &["/", "/proc", "..", "", "/dev/zero", "~", "\\u0000"]);
    splice(b, start..end, to.as_bytes());
    Some(format!("config_root set to {to:?}"))
}

/// How many runs of each kind ended how, for the summary line.
#[derive(Default)]
struct Stats {
    /// `validate` exits 0, 1 and 2.
    validate: [AtomicUsize; 3],
    plans: AtomicUsize,
    exports: AtomicUsize,
}

impl Stats {
    fn count(&self, o: &Outcome) {
        if let Some(c @ 0..=2) = o.code {
            self.validate[c as usize].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs one case; returns what went wrong (empty when nothing did).
fn run_case(
    tree: &Tree,
    case: &mut Case,
    rng: &mut fastrand::Rng,
    tmp: &Path,
    stats: &Stats,
) -> Vec<String> {
    let root = tmp.join("tree");
    tree.write(&root);
    let files = tree.config_files().len();
    let mut bad = Vec::new();
    let mut validate = vec!["validate", "."];
    let github = rng.u8(0..6) == 0;
    let o = {
        let mut c = tenet_in(&root, &validate);
        if github {
            c.env("GITHUB_ACTIONS", "true");
        }
        run_bounded(c, tmp, &format!("tenet {}", validate.join(" ")))
    };
    stats.count(&o);
    bad.extend(problems(&o, case, files));
    if o.code == Some(1) && !github {
        bad.extend(located(&o));
    }
    if rng.u8(0..3) == 0 {
        validate.extend(["--format", "json"]);
        let j = run_bounded(
            tenet_in(&root, &validate),
            tmp,
            "tenet validate . --format json",
        );
        bad.extend(problems(&j, case, files));
        if matches!(j.code, Some(0 | 1)) {
            bad.extend(json_located(&j));
        }
    }
    // Every valid tree is planned (and applied and exported); a quarter of
    // the others too.
    if o.code == Some(0) || rng.u8(0..4) == 0 {
        let db = tmp.join("platform.db");
        let endpoint = format!("sandbox:{}", db.display());
        let format = *pick(rng, &["text", "markdown", "json"]);
        let p = run_bounded(
            tenet_in(
                &root,
                &["plan", ".", "--endpoint", &endpoint, "--format", format],
            ),
            tmp,
            &format!("tenet plan . --endpoint sandbox:DB --format {format}"),
        );
        stats.plans.fetch_add(1, Ordering::Relaxed);
        bad.extend(problems(&p, case, files));
        if p.code == Some(2) && o.code == Some(0) {
            bad.extend(saved_plan(&root, &endpoint, case, rng, tmp, files));
            let a = run_bounded(
                tenet_in(
                    &root,
                    &["apply", ".", "--endpoint", &endpoint, "--auto-approve"],
                ),
                tmp,
                "tenet apply . --endpoint sandbox:DB --auto-approve",
            );
            bad.extend(problems(&a, case, files));
            let format = if rng.bool() { "toml" } else { "kdl" };
            let out = tmp.join("exported");
            let out_s = out.display().to_string();
            let e = run_bounded(
                tenet_in(
                    tmp,
                    &[
                        "export",
                        "--endpoint",
                        &endpoint,
                        "--out",
                        &out_s,
                        "--format",
                        format,
                    ],
                ),
                tmp,
                &format!("tenet export --format {format}"),
            );
            stats.exports.fetch_add(1, Ordering::Relaxed);
            bad.extend(problems(&e, case, files));
            if a.code == Some(0) && e.code == Some(0) {
                let v = run_bounded(
                    tenet_in(&out, &["validate", "."]),
                    tmp,
                    "tenet validate EXPORTED",
                );
                bad.extend(problems(&v, case, files));
                if v.code != Some(0) {
                    bad.push(format!(
                        "the export of an applied tree does not validate:\n{}",
                        v.stderr
                    ));
                }
            }
        }
    }
    bad
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    let parsed = v
        .strip_prefix("0x")
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .map(|n| n.to_string())
        .unwrap_or_else(|| v.to_owned());
    Some(
        parsed
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
    )
}

#[test]
fn hostile_config_trees_never_crash_hang_or_leak() {
    let seed: u64 = env_number("TENET_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let cases: usize = env_number("TENET_FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let only: Option<usize> = env_number("TENET_FUZZ_CASE");
    let threads: usize = env_number("TENET_FUZZ_THREADS").unwrap_or(2).max(1);
    let corpus = corpus();
    assert!(
        corpus.len() > 10,
        "the corpus is too small: {}",
        corpus.len()
    );
    let todo: Vec<usize> = match only {
        Some(n) => vec![n],
        None => (0..cases).collect(),
    };
    eprintln!(
        "mutation fuzz: {} cases from {} trees, TENET_FUZZ_SEED={seed:#x}, {threads} threads",
        todo.len(),
        corpus.len()
    );
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let stats = Stats::default();
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.min(todo.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&n) = todo.get(i) else { break };
                    let (tree, mut case, mut rng) = make_case(seed, n, &corpus);
                    let tmp = tempfile::Builder::new()
                        .prefix(&format!("tenet-fuzz-{n}-"))
                        .tempdir()
                        .unwrap_or_else(|e| panic!("tempdir: {e}"));
                    let bad = run_case(&tree, &mut case, &mut rng, tmp.path(), &stats);
                    if bad.is_empty() {
                        continue;
                    }
                    let kept = tmp.keep();
                    let mut report = format!(
                        "case {n} (TENET_FUZZ_SEED={seed:#x} TENET_FUZZ_CASE={n}) failed:\n"
                    );
                    for b in &bad {
                        let _ = writeln!(report, "  - {}", b.trim_end());
                    }
                    let _ = writeln!(report, "  mutations:");
                    for m in &case.mutations {
                        let _ = writeln!(report, "    {m}");
                    }
                    let _ = writeln!(
                        report,
                        "  tree kept in {} (each command's output beside it)",
                        kept.join("tree").display()
                    );
                    eprintln!("{report}");
                    failures
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(report);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_default();
    let n = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    eprintln!(
        "mutation fuzz: {} cases, seed {seed:#x}, {} failed, {:.1?} \
         (validate exited 0: {}, 1: {}, 2: {}; {} plans, {} exports)",
        todo.len(),
        failures.len(),
        started.elapsed(),
        n(&stats.validate[0]),
        n(&stats.validate[1]),
        n(&stats.validate[2]),
        n(&stats.plans),
        n(&stats.exports),
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed (seed {seed:#x}):\n{}",
        failures.len(),
        todo.len(),
        failures.join("\n")
    );
}
