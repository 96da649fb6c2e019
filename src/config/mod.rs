//! Loading a config tree: files -> spanned documents -> the merged
//! [`Document`] -> the normalized [`model::Config`](crate::model::Config).
//!
//! A config root is a directory holding `tenet.toml`. Every `*.toml` and
//! `*.kdl` below it is read (at most [`MAX_FILE_BYTES`] each), parsed with
//! spans, checked against the JSON Schema, and merged; an object declared
//! twice is an error naming both places. Nothing stops at the first problem:
//! every file is read and every problem collected.

pub mod build;
pub mod discover;
pub mod document;
pub mod kdl_source;
pub mod literals;
pub mod schema;
pub mod spans;
pub mod toml_source;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use document::Document;
pub use spans::SpanIndex;

use crate::diagnostic::{Diagnostic, FileId, SourceFile, Sources};
use crate::secrets;

/// Files larger than this are refused unread: a config tree is text written
/// by people, and a huge file is a mistake (or an attack on the parser).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The name of the file that marks a config root.
pub const ROOT_FILE: &str = "tenet.toml";

/// A loaded config tree: its sources, each file's spans, the merged document
/// and every problem found while loading.
#[derive(Debug, Default)]
pub struct Loaded {
    pub root: PathBuf,
    pub sources: Sources,
    /// Spans per file, indexed by `FileId`.
    pub spans: Vec<SpanIndex>,
    pub document: Document,
    pub diagnostics: Vec<Diagnostic>,
    /// Files that could not be read or parsed: the document lacks whatever
    /// they declare, so checks that need the whole tree must not run.
    pub unparsed: Vec<String>,
}

impl Loaded {
    /// A digest of every file's path and text: equal digests, equal config.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (_, f) in self.sources.iter() {
            let rel = f.path.strip_prefix(&self.root).unwrap_or(&f.path);
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            h.update(f.text.as_bytes());
            h.update([0]);
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// The span of a key (or, failing that, its value) in a file.
    pub fn key_span(&self, file: FileId, pointer: &str) -> std::ops::Range<usize> {
        self.spans
            .get(file)
            .and_then(|s| s.key_span(pointer))
            .unwrap_or(0..0)
    }

    /// The span of a value in a file.
    pub fn value_span(&self, file: FileId, pointer: &str) -> std::ops::Range<usize> {
        self.spans
            .get(file)
            .and_then(|s| s.value_span(pointer))
            .unwrap_or(0..0)
    }
}

/// How a path is shown: relative to the root as the user gave it, with
/// control and bidirectional-override characters escaped (`new\nline.toml`),
/// so a file name cannot break a diagnostic's `file:line:column` header or
/// disguise itself.
fn shown(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let text = if rel.as_os_str().is_empty() {
        // The root itself (for example the target of a symlink loop).
        root.display().to_string()
    } else if root == Path::new(".") || root == Path::new("") {
        rel.display().to_string()
    } else {
        root.join(rel).display().to_string()
    };
    printable(&text)
}

/// `text` with control characters and bidirectional overrides escaped.
fn printable(text: &str) -> String {
    let hidden =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.contains(hidden) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Loads a config tree from files already in memory (for example a git
/// revision): `files` are paths relative to `root` with their bytes, in any
/// order. The same rules as [`load`] apply, but nothing is read from disk.
pub fn load_files(root: &Path, mut files: Vec<(PathBuf, Vec<u8>)>) -> Loaded {
    let mut loaded = Loaded {
        root: root.to_path_buf(),
        ..Loaded::default()
    };
    files.retain(|(p, _)| {
        matches!(p.extension().and_then(|e| e.to_str()), Some("toml" | "kdl"))
            && !p
                .parent()
                .into_iter()
                .flat_map(Path::components)
                .any(|c| c.as_os_str().to_str().is_some_and(|n| n.starts_with('.')))
    });
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if !files.iter().any(|(p, _)| p == Path::new(ROOT_FILE)) {
        loaded.diagnostics.push(
            Diagnostic::error(
                "tenet::files::no-tenet-toml",
                format!("no {ROOT_FILE} in `{}`", root.display()),
            )
            .with_help("a config root is a directory holding tenet.toml"),
        );
    }
    for (rel, bytes) in files {
        let path = root.join(&rel);
        let display = shown(root, &path);
        let ok = if bytes.len() as u64 > MAX_FILE_BYTES {
            loaded.diagnostics.push(Diagnostic::error(
                "tenet::files::too-large",
                format!(
                    "`{display}` is over the limit of {} MiB for one config file",
                    MAX_FILE_BYTES / 1024 / 1024
                ),
            ));
            false
        } else {
            load_bytes(&mut loaded, &path, &display, bytes)
        };
        if !ok {
            loaded.unparsed.push(display);
        }
    }
    loaded
}

/// Loads the config tree at `root`.
pub fn load(root: &Path) -> Loaded {
    let mut loaded = Loaded {
        root: root.to_path_buf(),
        ..Loaded::default()
    };
    let show = |p: &Path| shown(root, p);
    match std::fs::metadata(root) {
        Err(e) => {
            loaded.diagnostics.push(
                Diagnostic::error(
                    "tenet::files::no-root",
                    format!("cannot read config directory `{}`: {}", root.display(), discover::io_reason(&e)),
                )
                .with_help("pass the directory that holds tenet.toml, for example `tenet validate examples/acme`"),
            );
            return loaded;
        }
        Ok(m) if !m.is_dir() => {
            loaded.diagnostics.push(
                Diagnostic::error(
                    "tenet::files::no-root",
                    format!("`{}` is a file, not a config directory", root.display()),
                )
                .with_help("pass the directory that holds tenet.toml"),
            );
            return loaded;
        }
        Ok(_) => {}
    }
    // Not a config root: nothing below it is walked (`tenet validate /`, or
    // a saved plan naming another directory, would read the whole disk).
    let root_file = root.join(ROOT_FILE);
    let (found, mut diags) = if root_file.is_file() {
        discover::discover(root, &show)
    } else {
        (Vec::new(), Vec::new())
    };
    loaded.diagnostics.append(&mut diags);
    if !found.iter().any(|f| f.relative == Path::new(ROOT_FILE)) {
        loaded.diagnostics.push(
            Diagnostic::error(
                "tenet::files::no-tenet-toml",
                format!("no {ROOT_FILE} in `{}`", root.display()),
            )
            .with_help(format!(
                "a config root is a directory holding {ROOT_FILE} (with [platform], [policy] and [defaults]); \
                 create one, or pass the right directory"
            )),
        );
    }
    for f in found {
        let display = show(&f.path);
        if !load_file(&mut loaded, &f.path, &display) {
            loaded.unparsed.push(display);
        }
    }
    loaded
}

/// Reads, parses, checks and merges one file. Returns false when the file
/// could not be read or parsed, so its declarations are missing.
fn load_file(loaded: &mut Loaded, path: &Path, display: &str) -> bool {
    let add = |loaded: &mut Loaded, text: &str| add_source(loaded, path, display, text);
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        let id = add(loaded, "");
        loaded.diagnostics.push(
            Diagnostic::error(
                "tenet::files::too-large",
                format!(
                    "`{display}` is {:.1} MiB, over the limit of {} MiB for one config file",
                    size as f64 / 1024.0 / 1024.0,
                    MAX_FILE_BYTES / 1024 / 1024
                ),
            )
            .in_file(id)
            .with_help(
                "split the config into several files, or move what is not config out of the tree",
            ),
        );
        return false;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let message = match std::fs::read_link(path) {
                Ok(target) if !path.exists() => {
                    format!("`{display}` is a broken symlink to `{}`", target.display())
                }
                _ => format!("cannot read `{display}`: {}", discover::io_reason(&e)),
            };
            loaded.diagnostics.push(
                Diagnostic::error("tenet::files::unreadable", message)
                    .with_help("fix or remove the link, or check the file's permissions"),
            );
            return false;
        }
    };
    load_bytes(loaded, path, display, bytes)
}

/// Registers a file's (redacted) text for diagnostics: credential-looking
/// tokens anywhere, and every literal in a secret field, are masked.
fn add_source(loaded: &mut Loaded, path: &Path, display: &str, text: &str) -> FileId {
    let kdl = path.extension().is_some_and(|e| e == "kdl");
    let redacted = secrets::redact_text(&secrets::redact_secret_fields(text, kdl));
    let id = loaded.sources.add(SourceFile::new(
        path.to_path_buf(),
        display.to_owned(),
        Arc::from(redacted),
    ));
    loaded.spans.push(SpanIndex::default());
    id
}

/// Parses, checks and merges one file's bytes. Returns false when they
/// could not be parsed, so the file's declarations are missing.
fn load_bytes(loaded: &mut Loaded, path: &Path, display: &str, bytes: Vec<u8>) -> bool {
    let add = |loaded: &mut Loaded, text: &str| add_source(loaded, path, display, text);
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // The lossy text's offsets match up to the first bad byte.
            let id = add(loaded, &lossy);
            loaded.diagnostics.push(
                Diagnostic::error(
                    "tenet::files::not-utf8",
                    format!("`{display}` is not valid UTF-8"),
                )
                .with_label(id, at..at + 1, "invalid byte here")
                .with_help("config files must be UTF-8 text; re-save the file as UTF-8"),
            );
            return false;
        }
    };
    let is_kdl = path.extension().is_some_and(|e| e == "kdl");
    let id = add(loaded, &text);
    let parsed = if is_kdl {
        kdl_source::parse(id, &text)
    } else {
        toml_source::parse(id, &text)
    };
    let p = match parsed {
        Ok(p) => p,
        Err(mut d) => {
            loaded.diagnostics.append(&mut d);
            return false;
        }
    };
    loaded.diagnostics.extend(p.diagnostics);
    let (secrets, secret_pointers) = literals::check(id, &p.value, &p.spans);
    loaded.diagnostics.extend(secrets);
    loaded
        .diagnostics
        .extend(schema::validate(id, &p.value, &p.spans, &secret_pointers));
    loaded.spans[id] = p.spans;
    let Loaded {
        document,
        spans,
        diagnostics,
        ..
    } = loaded;
    document.merge(id, p.value, spans, diagnostics);
    true
}
