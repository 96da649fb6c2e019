//! Loading a config tree: files -> spanned documents -> the merged
//! [`Document`] -> the normalized [`model::Config`](crate::model::Config).
//!
//! A config root is a directory holding `tenet.toml`. Every `*.toml` and
//! `*.kdl` below it is read (at most [`MAX_FILE_BYTES`] each), parsed with
//! spans, checked against the JSON Schema, and merged; an object declared
//! twice is an error naming both places. Nothing stops at the first problem:
//! every file is read and every problem collected.

pub mod assets;
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
    /// The other files the config names (SAML metadata), by path as written.
    pub assets: assets::Assets,
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
            f.digest_into(&mut h);
            h.update([0]);
        }
        for (path, bytes) in &self.assets {
            h.update(path.as_bytes());
            h.update([0]);
            if let Ok(b) = bytes {
                h.update(b);
            }
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
pub fn load_files(root: &Path, files: Vec<(PathBuf, Vec<u8>)>) -> Loaded {
    let mut loaded = Loaded {
        root: root.to_path_buf(),
        ..Loaded::default()
    };
    let (mut files, others): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|(p, _)| matches!(p.extension().and_then(|e| e.to_str()), Some("toml" | "kdl")));
    files.retain(|(p, _)| {
        !p.parent()
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
    let files: Vec<(PathBuf, String, Vec<u8>)> = files
        .into_iter()
        .map(|(rel, bytes)| {
            let path = root.join(&rel);
            let display = shown(root, &path);
            (path, display, bytes)
        })
        .collect();
    load_all(&mut loaded, files, |id, (path, display, bytes)| {
        if bytes.len() as u64 > MAX_FILE_BYTES {
            let mut p = Prepared::unread(path, display, Arc::from(""));
            p.diagnostics.push(Diagnostic::error(
                "tenet::files::too-large",
                format!(
                    "`{}` is over the limit of {} MiB for one config file",
                    p.display,
                    MAX_FILE_BYTES / 1024 / 1024
                ),
            ));
            p
        } else {
            prepare_bytes(id, path, display, bytes)
        }
    });
    let others: std::collections::BTreeMap<PathBuf, Vec<u8>> = others.into_iter().collect();
    loaded.assets = assets::read(loaded.document.asset_paths(), |rel| {
        let rel: PathBuf = rel
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        others
            .get(&rel)
            .cloned()
            .ok_or_else(|| "no such file in this revision".to_owned())
    });
    loaded
}

/// How many files are prepared at once: enough to keep every core busy,
/// few enough that only a handful of parsed files are in memory together.
fn batch() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 2
}

/// Prepares `files` in parallel, a batch at a time, and merges each batch
/// in order: file `i` is `FileId` `first + i` whatever thread read it, so
/// the result is the same as reading them one after another.
fn load_all<F: Send>(
    loaded: &mut Loaded,
    files: Vec<F>,
    prepare: impl Fn(FileId, F) -> Prepared + Sync,
) {
    use rayon::prelude::*;
    let mut files = files.into_iter();
    let (mut preparing, mut merging) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    loop {
        let first = loaded.sources.len();
        let chunk: Vec<F> = files.by_ref().take(batch()).collect();
        if chunk.is_empty() {
            break;
        }
        let started = std::time::Instant::now();
        let prepared: Vec<Prepared> = chunk
            .into_par_iter()
            .enumerate()
            .map(|(i, f)| prepare(first + i, f))
            .collect();
        let prepared_at = std::time::Instant::now();
        preparing += prepared_at - started;
        for p in prepared {
            commit(loaded, p);
        }
        merging += prepared_at.elapsed();
    }
    tracing::debug!(
        parse_and_schema_ms = preparing.as_millis() as u64,
        merge_ms = merging.as_millis() as u64,
        "files loaded"
    );
}

/// One file read, parsed and checked on its own, on any thread: all but
/// the merge into the document.
struct Prepared {
    path: PathBuf,
    display: String,
    /// The text as read (diagnostics show it redacted, see `commit`).
    text: Arc<str>,
    spans: SpanIndex,
    /// `None` when the file could not be read or parsed.
    declarations: Option<document::Declarations>,
    diagnostics: Vec<Diagnostic>,
}

impl Prepared {
    /// A file whose declarations are missing, shown as `text`.
    fn unread(path: PathBuf, display: String, text: Arc<str>) -> Prepared {
        Prepared {
            text,
            path,
            display,
            spans: SpanIndex::default(),
            declarations: None,
            diagnostics: Vec::new(),
        }
    }
}

/// Registers a prepared file (it gets the next `FileId`, the one it was
/// prepared as) and merges its declarations.
fn commit(loaded: &mut Loaded, p: Prepared) {
    loaded.sources.add(SourceFile::masked(
        p.path,
        p.display.clone(),
        p.text,
        redact,
    ));
    loaded.spans.push(p.spans);
    loaded.diagnostics.extend(p.diagnostics);
    match p.declarations {
        Some(declared) => {
            let Loaded {
                document,
                spans,
                diagnostics,
                ..
            } = loaded;
            document.merge(declared, spans, diagnostics);
        }
        None => loaded.unparsed.push(p.display),
    }
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
    let found: Vec<(PathBuf, String)> = found
        .into_iter()
        .map(|f| {
            let display = show(&f.path);
            (f.path, display)
        })
        .collect();
    load_all(&mut loaded, found, |id, (path, display)| {
        prepare_file(id, path, display)
    });
    loaded.assets = assets::read(loaded.document.asset_paths(), assets::from_disk(root));
    loaded
}

/// Reads, parses and checks one file as `FileId` `id`.
fn prepare_file(id: FileId, path: PathBuf, display: String) -> Prepared {
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        let mut p = Prepared::unread(path, display, Arc::from(""));
        p.diagnostics.push(
            Diagnostic::error(
                "tenet::files::too-large",
                format!(
                    "`{}` is {:.1} MiB, over the limit of {} MiB for one config file",
                    p.display,
                    size as f64 / 1024.0 / 1024.0,
                    MAX_FILE_BYTES / 1024 / 1024
                ),
            )
            .in_file(id)
            .with_help(
                "split the config into several files, or move what is not config out of the tree",
            ),
        );
        return p;
    }
    match std::fs::read(&path) {
        Ok(bytes) => prepare_bytes(id, path, display, bytes),
        Err(e) => {
            let message = match std::fs::read_link(&path) {
                Ok(target) if !path.exists() => {
                    format!("`{display}` is a broken symlink to `{}`", target.display())
                }
                _ => format!("cannot read `{display}`: {}", discover::io_reason(&e)),
            };
            let mut p = Prepared::unread(path, display, Arc::from(""));
            p.diagnostics.push(
                Diagnostic::error("tenet::files::unreadable", message)
                    .with_help("fix or remove the link, or check the file's permissions"),
            );
            p
        }
    }
}

/// A file's text as diagnostics may show it: credential-looking tokens
/// anywhere, and every literal in a secret field, are masked.
fn redact(path: &Path, text: &str) -> String {
    let kdl = path.extension().is_some_and(|e| e == "kdl");
    secrets::redact_text(&secrets::redact_secret_fields(text, kdl))
}

/// Parses and checks one file's bytes as `FileId` `id`.
fn prepare_bytes(id: FileId, path: PathBuf, display: String, bytes: Vec<u8>) -> Prepared {
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // The lossy text's offsets match up to the first bad byte.
            let mut p = Prepared::unread(path, display, Arc::from(lossy));
            p.diagnostics.push(
                Diagnostic::error(
                    "tenet::files::not-utf8",
                    format!("`{}` is not valid UTF-8", p.display),
                )
                .with_label(id, at..at + 1, "invalid byte here")
                .with_help("config files must be UTF-8 text; re-save the file as UTF-8"),
            );
            return p;
        }
    };
    let is_kdl = path.extension().is_some_and(|e| e == "kdl");
    let text: Arc<str> = Arc::from(text);
    let parsed = if is_kdl {
        kdl_source::parse(id, &text)
    } else {
        toml_source::parse(id, &text)
    };
    let mut p = Prepared::unread(path, display, text);
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(d) => {
            p.diagnostics = d;
            return p;
        }
    };
    p.diagnostics = parsed.diagnostics;
    let (secrets, secret_pointers) = literals::check(id, &parsed.value, &parsed.spans);
    p.diagnostics.extend(secrets);
    p.diagnostics.extend(schema::validate(
        id,
        &parsed.value,
        &parsed.spans,
        &secret_pointers,
    ));
    p.spans = parsed.spans;
    p.declarations = Some(document::Declarations::of(id, parsed.value));
    p
}
