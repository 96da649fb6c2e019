//! Problems found in a config tree, as data: a severity, a stable code, a
//! message, labelled spans into source files, and a help line. Loading and
//! validation collect every problem instead of stopping at the first; the
//! renderers in `render::diagnostics` turn them into miette reports, JSON or
//! GitHub annotations.
//!
//! Source text is shown only redacted (see `secrets::redact_text` and
//! [`SourceFile::text`]), so no rendering of a diagnostic can echo a
//! credential that sat in a file.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

/// Index of a file in [`Sources`].
pub type FileId = usize;

/// How a file's text is made safe to show: credential-looking tokens and
/// secret fields masked with `*`s of the same byte length, so every offset
/// into the text as read stays valid.
pub type Redact = fn(&std::path::Path, &str) -> String;

/// One loaded file: where it is and its text as it may be shown.
///
/// The text as read is kept private; what diagnostics show is made from it,
/// masked, the first time one needs it ([`SourceFile::text`]), so a tree
/// with no problem costs no redaction and no line index.
#[derive(Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The path as shown to the user: relative to the root as it was given.
    pub display: String,
    read: Arc<str>,
    /// `None` when the text as read is already safe to show.
    redact: Option<Redact>,
    shown: OnceLock<Arc<str>>,
    line_starts: OnceLock<Vec<usize>>,
}

impl std::fmt::Debug for SourceFile {
    // The text as read may hold a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceFile")
            .field("path", &self.path)
            .field("display", &self.display)
            .field("bytes", &self.read.len())
            .finish()
    }
}

impl SourceFile {
    /// A file whose text is safe to show as it is.
    pub fn new(path: PathBuf, display: String, text: Arc<str>) -> Self {
        Self {
            path,
            display,
            read: text,
            redact: None,
            shown: OnceLock::new(),
            line_starts: OnceLock::new(),
        }
    }

    /// A file as read, shown only through `redact`.
    pub fn masked(path: PathBuf, display: String, read: Arc<str>, redact: Redact) -> Self {
        Self {
            redact: Some(redact),
            ..Self::new(path, display, read)
        }
    }

    /// The text as it may be shown: masked (see [`Redact`]).
    pub fn text(&self) -> &Arc<str> {
        self.shown.get_or_init(|| match self.redact {
            Some(redact) => Arc::from(redact(&self.path, &self.read)),
            None => self.read.clone(),
        })
    }

    /// Feeds the text as read to a digest: equal digests, equal files. (A
    /// digest does not show the text, so nothing needs masking.)
    pub fn digest_into(&self, h: &mut impl sha2::Digest) {
        h.update(self.read.as_bytes());
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.read.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// 0-based index of the line holding a byte offset.
    pub fn line_index(&self, offset: usize) -> usize {
        let offset = offset.min(self.read.len());
        self.line_starts().partition_point(|&s| s <= offset).max(1) - 1
    }

    /// How many lines the text has (a final newline starts an empty one).
    pub fn line_count(&self) -> usize {
        self.line_starts().len()
    }

    /// Byte range of a 0-based line, without its line break.
    pub fn line_range(&self, line: usize) -> std::ops::Range<usize> {
        let starts = self.line_starts();
        let text = self.text();
        let start = starts.get(line).copied().unwrap_or(text.len());
        let end = starts.get(line + 1).map_or(text.len(), |next| next - 1);
        let end = if text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        start..end.max(start)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let text = self.text();
        let offset = offset.min(text.len());
        let starts = self.line_starts();
        let line = starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = starts[line];
        let col = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// Every file a run has read, so diagnostics can point into them.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        self.files.len() - 1
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id]
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// An explanation, not a problem (`tenet why`).
    Advice,
}

/// A span in a file with a short message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub file: FileId,
    pub span: Range<usize>,
    pub message: String,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable, documented identifier such as `tenet::reference::unknown-role`.
    pub code: &'static str,
    pub message: String,
    /// The file the problem is in when no span can be given.
    pub file: Option<FileId>,
    /// The first label is the primary location.
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: None,
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn advice(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Advice,
            ..Self::error(code, message)
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn with_label(
        mut self,
        file: FileId,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        if self.labels.is_empty() {
            self.file = Some(file);
        }
        self.labels.push(Label {
            file,
            span,
            message: message.into(),
        });
        self
    }

    pub fn in_file(mut self, file: FileId) -> Self {
        self.file = Some(file);
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line only when there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary location: file and byte offset.
    pub fn primary(&self) -> Option<(FileId, usize)> {
        match self.labels.first() {
            Some(l) => Some((l.file, l.span.start)),
            None => self.file.map(|f| (f, 0)),
        }
    }
}

/// Sorts diagnostics by file, then position, then message, so output is stable
/// whatever order the checks ran in.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        // Positionless warnings (summaries such as "checks skipped") last.
        let key = |d: &Diagnostic| {
            let summary = d.primary().is_none() && d.severity == Severity::Warning;
            (summary, d.primary(), d.severity)
        };
        key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message))
    });
}

/// Diagnostics shown per file at most: past these, one more says how many
/// were left out, so output stays bounded (a file of 3,000 broken lines
/// makes 3,000 problems, and nobody reads past the first few).
pub const MAX_SHOWN_PER_FILE: usize = 200;

/// `diags` (sorted) with at most `limit` per file: the rest of a file's are
/// replaced by one "… and N more problems in FILE" at the first of them,
/// as severe as the worst. Problems in no file (unreadable files, for
/// example) are bounded the same way, with one "… and N more problems".
pub fn bounded(diags: &[Diagnostic], sources: &Sources, limit: usize) -> Vec<Diagnostic> {
    use std::collections::BTreeMap;
    let mut shown: BTreeMap<FileId, usize> = BTreeMap::new();
    // Per file: left out, the first left out, the worst severity, and the
    // index in `out` after which the summary goes.
    let mut hidden: BTreeMap<FileId, (usize, Diagnostic, Severity, usize)> = BTreeMap::new();
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diags.len().min(4 * limit));
    let (mut fileless, mut fileless_hidden) = (0usize, Vec::new());
    for d in diags {
        let Some(file) = d.file else {
            if fileless < limit {
                fileless += 1;
                out.push(d.clone());
            } else {
                fileless_hidden.push(d.severity);
            }
            continue;
        };
        let n = shown.entry(file).or_default();
        if *n < limit {
            *n += 1;
            out.push(d.clone());
            if let Some(h) = hidden.get_mut(&file) {
                h.3 = out.len();
            }
            continue;
        }
        let h = hidden
            .entry(file)
            .or_insert_with(|| (0, d.clone(), d.severity, out.len()));
        h.0 += 1;
        h.2 = h.2.min(d.severity);
    }
    let mut summaries: Vec<(usize, Diagnostic)> = hidden
        .into_iter()
        .filter(|(file, _)| *file < sources.len())
        .map(|(file, (n, first, worst, at))| {
            let name = &sources.get(file).display;
            let mut d = Diagnostic::error(
                "tenet::files::more-problems",
                format!(
                    "… and {n} more problem{} in {name}",
                    if n == 1 { "" } else { "s" }
                ),
            )
            .in_file(file);
            d.severity = worst;
            if let Some(l) = first.labels.first() {
                d = d.with_label(file, l.span.clone(), "the next one is here");
            }
            (
                at,
                d.with_help(format!(
                    "only the first {limit} problems of a file are shown; fix those (the rest often follow from them) and run again"
                )),
            )
        })
        .collect();
    summaries.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, d) in summaries {
        out.insert(at.min(out.len()), d);
    }
    if let Some(worst) = fileless_hidden.iter().min() {
        let n = fileless_hidden.len();
        let mut d = Diagnostic::error(
            "tenet::files::more-problems",
            format!("… and {n} more problem{}", if n == 1 { "" } else { "s" }),
        )
        .with_help(format!(
            "only the first {limit} problems outside any file are shown; fix those and run again"
        ));
        d.severity = *worst;
        out.push(d);
    }
    out
}

/// "did you mean `x`?" for the closest candidate, if any is close enough.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Names longer than this get no suggestion and are suggested for nothing:
/// Jaro-Winkler costs the product of the two lengths, and a 70k-character
/// value compared with thousands of names would take minutes.
const SUGGEST_MAX_LEN: usize = 256;

/// The candidate closest to `word` by Jaro-Winkler similarity, if similar.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if word.len() > SUGGEST_MAX_LEN {
        return None;
    }
    candidates
        .into_iter()
        .filter(|c| c.len() <= SUGGEST_MAX_LEN)
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_names_get_no_suggestion() {
        let long = "é".repeat(70_000);
        assert_eq!(closest(&long, [long.as_str()]), None);
        assert_eq!(
            closest("finance", [long.as_str(), "finances"]),
            Some("finances")
        );
    }

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("x".into(), "x".into(), Arc::from("ab\nçd = 1\n"));
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(6), (2, 3));
        assert_eq!(f.line_col(999), (3, 1));
    }

    #[test]
    fn at_most_a_bounded_number_of_problems_per_file_are_kept() {
        let mut sources = Sources::default();
        let a = sources.add(SourceFile::new(
            "a".into(),
            "a.toml".into(),
            Arc::from("x\n"),
        ));
        let b = sources.add(SourceFile::new(
            "b".into(),
            "b.toml".into(),
            Arc::from("y\n"),
        ));
        let mut diags: Vec<Diagnostic> = (0..5)
            .map(|i| Diagnostic::warning("w", format!("a{i}")).with_label(a, i..i + 1, "x"))
            .collect();
        diags.push(Diagnostic::error("e", "a5").with_label(a, 5..6, "x"));
        diags.push(Diagnostic::error("e", "b0").with_label(b, 0..1, "x"));
        diags.push(Diagnostic::error("e", "nowhere"));
        for i in 0..3 {
            diags.push(Diagnostic::warning("w", format!("nowhere {i}")));
        }
        let out = bounded(&diags, &sources, 2);
        let messages: Vec<&str> = out.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "a0",
                "a1",
                "… and 4 more problems in a.toml",
                "b0",
                "nowhere",
                "nowhere 0",
                "… and 2 more problems"
            ]
        );
        assert_eq!(out[6].severity, Severity::Warning);
        assert_eq!(out[2].severity, Severity::Error);
        assert_eq!(out[2].labels[0].span, 2..3);
        assert_eq!(bounded(&diags, &sources, 10), diags);
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("nmae", ["name", "status", "labels"]), Some("name"));
        assert_eq!(closest("zzz", ["name", "status"]), None);
    }
}
