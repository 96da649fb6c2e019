//! Diagnostics as miette reports (text), as versioned JSON, and as GitHub
//! Actions `::error` annotations. Every format shows at most
//! `MAX_SHOWN_PER_FILE` problems per file and then how many more there are.
//!
//! A label on a very long line (minified or generated files, or a hostile
//! 65,600-character string) is shown through a window: the lines around
//! the labels, each long one cut to a stretch around its first label with
//! `…` where text was left out. miette cannot render columns past 65,535,
//! and nobody can read such a line anyway; the header still names the
//! file, line and column in the whole file.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    NamedSource, SourceCode, SourceSpan, SpanContents,
};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, FileId, MAX_SHOWN_PER_FILE, Severity, Sources, bounded};
use crate::secrets::redact_text;

/// A diagnostic ready for miette: its labels in its primary file, and labels
/// in other files as related reports (each with its own source).
struct Report {
    message: String,
    code: &'static str,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<Snippet>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

/// Lines longer than this many bytes are windowed.
const LONG_LINE: usize = 500;
/// Bytes of a windowed line kept before its first label.
const BEFORE: usize = 40;
/// Bytes of a windowed line kept in all.
const WINDOW: usize = 160;

/// The text a report points into: the whole file, or a window of it.
enum Snippet {
    Whole(NamedSource<Arc<str>>),
    Window(Window),
}

impl Snippet {
    fn windowed(&self) -> bool {
        matches!(self, Snippet::Window(_))
    }
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        match self {
            Snippet::Whole(s) => s.read_span(span, before, after),
            Snippet::Window(w) => w.read_span(span, before, after),
        }
    }
}

/// Some lines of a file, long ones cut, numbered as in the whole file.
struct Window {
    /// `file:line:column` of the first label, in the whole file.
    name: String,
    text: String,
    /// 0-based number of the window's first line in the file.
    first_line: usize,
}

impl SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.as_str().read_span(span, before, after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            inner.column(),
            inner.line_count(),
        )))
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        (!self.code.is_empty()).then(|| Box::new(self.code) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty())
            .then(|| Box::new(self.labels.iter().cloned()) as Box<dyn Iterator<Item = LabeledSpan>>)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        (!self.related.is_empty()).then(|| {
            Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic))
                as Box<dyn Iterator<Item = _>>
        })
    }
}

fn named(sources: &Sources, file: FileId) -> NamedSource<Arc<str>> {
    let f = sources.get(file);
    NamedSource::new(f.display.clone(), f.text().clone())
}

fn floor_char(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

fn clamp(text: &str, span: &Range<usize>) -> Range<usize> {
    let start = floor_char(text, span.start);
    start..ceil_char(text, span.end.max(start))
}

/// The source for labels in one file and their spans in it: the whole file,
/// or a [`Window`] when a line they show is longer than [`LONG_LINE`].
fn snippet(sources: &Sources, file: FileId, spans: &[Range<usize>]) -> (Snippet, Vec<SourceSpan>) {
    let f = sources.get(file);
    let text: &str = f.text();
    let spans: Vec<Range<usize>> = spans.iter().map(|s| clamp(text, s)).collect();
    let first = spans
        .iter()
        .map(|s| f.line_index(s.start))
        .min()
        .unwrap_or(0)
        .saturating_sub(1);
    let last = (spans.iter().map(|s| f.line_index(s.end)).max().unwrap_or(0) + 1)
        .min(f.line_count().saturating_sub(1));
    if (first..=last).all(|l| f.line_range(l).len() <= LONG_LINE) {
        return (
            Snippet::Whole(named(sources, file)),
            spans.into_iter().map(Into::into).collect(),
        );
    }
    // Each shown line: its number, the part of it kept, where that part
    // starts in the window's text.
    let mut kept: Vec<(usize, Range<usize>, usize)> = Vec::new();
    let mut out = String::new();
    for line in first..=last {
        let r = f.line_range(line);
        let (lo, hi) = if r.len() <= LONG_LINE {
            (r.start, r.end)
        } else {
            let anchor = spans
                .iter()
                .flat_map(|s| [s.start, s.end])
                .filter(|p| (r.start..=r.end).contains(p))
                .min()
                .unwrap_or(r.start);
            let lo = floor_char(text, anchor.saturating_sub(BEFORE).max(r.start));
            (lo, floor_char(text, (lo + WINDOW).min(r.end)).max(lo))
        };
        if lo > r.start {
            out.push('…');
        }
        kept.push((line, lo..hi, out.len()));
        out.push_str(&text[lo..hi]);
        if hi < r.end {
            out.push('…');
        }
        if line < last {
            out.push('\n');
        }
    }
    let map = |offset: usize| {
        let line = f.line_index(offset);
        kept.iter()
            .find(|(l, ..)| *l == line)
            .map_or(0, |(_, k, at)| at + offset.clamp(k.start, k.end) - k.start)
    };
    let mapped = spans
        .iter()
        .map(|s| {
            let start = map(s.start);
            (start..map(s.end).max(start)).into()
        })
        .collect();
    let (line, column) = f.line_col(spans.first().map_or(0, |s| s.start));
    let window = Window {
        name: format!("{}:{line}:{column}", f.display),
        text: out,
        first_line: first,
    };
    (Snippet::Window(window), mapped)
}

/// Words of a message longer than this many characters are cut.
const LONG_WORD: usize = 200;

/// `text` with each word longer than [`LONG_WORD`] characters cut to its
/// start and `…`: messages quote keys and values from the files, and a
/// 65,600-character key helps nobody.
fn shorten_words(text: &str) -> String {
    if text.len() <= LONG_WORD {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len().min(4 * LONG_WORD));
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        if word.chars().count() > LONG_WORD {
            out.extend(word.chars().take(LONG_WORD / 2));
            out.push('…');
        } else {
            out.push_str(word);
        }
        let ws = tail.len() - tail.trim_start().len();
        out.push_str(&tail[..ws]);
        rest = &tail[ws..];
    }
    out
}

/// A copy of `d` fit to show: credential-looking values masked (messages
/// quote keys and values from the files, and those may be secrets), and
/// very long words cut.
pub fn redacted(d: &Diagnostic) -> Diagnostic {
    let show = |t: &str| shorten_words(&redact_text(t));
    let mut d = d.clone();
    d.message = show(&d.message);
    d.help = d.help.map(|h| show(&h));
    for l in &mut d.labels {
        l.message = show(&l.message);
    }
    d
}

fn report(d: &Diagnostic, sources: &Sources) -> Report {
    let d = &redacted(d);
    let primary = d.primary().map(|(f, _)| f);
    let mut own = Vec::new();
    let mut related = Vec::new();
    for (i, l) in d.labels.iter().enumerate() {
        if Some(l.file) == primary {
            own.push((i, l));
        } else {
            let (source, spans) = snippet(sources, l.file, std::slice::from_ref(&l.span));
            related.push(Report {
                message: l.message.clone(),
                code: "",
                severity: miette::Severity::Advice,
                help: None,
                source: Some(source),
                labels: spans
                    .into_iter()
                    .map(|s| LabeledSpan::new_primary_with_span(Some(l.message.clone()), s))
                    .collect(),
                related: Vec::new(),
            });
        }
    }
    let mut source = None;
    let mut labels = Vec::new();
    if let (Some(file), false) = (primary, own.is_empty()) {
        let spans: Vec<Range<usize>> = own.iter().map(|(_, l)| l.span.clone()).collect();
        let (snip, mapped) = snippet(sources, file, &spans);
        source = Some(snip);
        for ((i, l), span) in own.iter().zip(mapped) {
            labels.push(if *i == 0 {
                LabeledSpan::new_primary_with_span(Some(l.message.clone()), span)
            } else {
                LabeledSpan::new_with_span(Some(l.message.clone()), span)
            });
        }
    }
    Report {
        message: d.message.clone(),
        code: d.code,
        severity: match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Advice => miette::Severity::Advice,
        },
        help: d.help.clone(),
        source,
        labels,
        related,
    }
}

/// Renders diagnostics as miette reports, one after another.
pub fn text(diags: &[Diagnostic], sources: &Sources, color: bool, width: usize) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    // A window's name carries the position in the whole file.
    let windowed = handler.clone().without_primary_span_start();
    let mut out = String::new();
    for d in &bounded(diags, sources, MAX_SHOWN_PER_FILE) {
        let mut r = report(d, sources);
        // Places in other files follow as notes of their own, each with its
        // file's snippet (miette's "related" rendering adds empty headings).
        let notes = std::mem::take(&mut r.related);
        for part in std::iter::once(&r).chain(&notes) {
            let h = if part.source.as_ref().is_some_and(Snippet::windowed) {
                &windowed
            } else {
                &handler
            };
            if h.render_report(&mut out, part).is_err() {
                out.push_str(&format!("{}\n", part.message));
            }
        }
        out.push('\n');
    }
    out
}

/// A position in a file, 1-based.
#[derive(Serialize)]
pub struct JsonSpan<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    /// Byte offsets.
    pub offset: usize,
    pub length: usize,
}

#[derive(Serialize)]
pub struct JsonLabel<'a> {
    #[serde(flatten)]
    pub span: JsonSpan<'a>,
    pub message: &'a str,
}

/// One diagnostic, serialize-only; documented in `docs/validate.md`.
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub labels: Vec<JsonLabel<'a>>,
    pub help: Option<&'a str>,
}

fn json_span<'a>(sources: &'a Sources, file: FileId, span: &Range<usize>) -> JsonSpan<'a> {
    let f = sources.get(file);
    let (line, column) = f.line_col(span.start);
    let (end_line, end_column) = f.line_col(span.end);
    JsonSpan {
        file: &f.display,
        line,
        column,
        end_line,
        end_column,
        offset: span.start,
        length: span.end.saturating_sub(span.start),
    }
}

/// The diagnostics to show: at most [`MAX_SHOWN_PER_FILE`] per file (see
/// [`bounded`]); the text and GitHub renderers apply it themselves.
pub fn shown(diags: &[Diagnostic], sources: &Sources) -> Vec<Diagnostic> {
    bounded(diags, sources, MAX_SHOWN_PER_FILE)
}

/// The JSON form of diagnostics. Pass diagnostics through [`shown`] and
/// [`redacted`] first.
pub fn json<'a>(diags: &'a [Diagnostic], sources: &'a Sources) -> Vec<JsonDiagnostic<'a>> {
    diags
        .iter()
        .map(|d| {
            let labels: Vec<JsonLabel<'a>> = d
                .labels
                .iter()
                .map(|l| JsonLabel {
                    span: json_span(sources, l.file, &l.span),
                    message: &l.message,
                })
                .collect();
            let (line, column) = match labels.first() {
                Some(l) => (Some(l.span.line), Some(l.span.column)),
                None => (None, None),
            };
            JsonDiagnostic {
                severity: d.severity,
                code: d.code,
                message: &d.message,
                file: d.file.map(|f| sources.get(f).display.as_str()),
                line,
                column,
                labels,
                help: d.help.as_deref(),
            }
        })
        .collect()
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands, so problems show on the pull request
/// diff: `::error file=…,line=…,col=…::message`.
pub fn github(diags: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in &bounded(diags, sources, MAX_SHOWN_PER_FILE) {
        let d = &redacted(d);
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Advice => "notice",
        };
        let mut props = vec![format!("title={}", escape_property(d.code))];
        if let Some(l) = d.labels.first() {
            let s = json_span(sources, l.file, &l.span);
            props.insert(0, format!("file={}", escape_property(s.file)));
            props.insert(1, format!("line={}", s.line));
            props.insert(2, format!("col={}", s.column));
            props.insert(3, format!("endLine={}", s.end_line));
            props.insert(4, format!("endColumn={}", s.end_column));
        } else if let Some(f) = d.file {
            props.insert(
                0,
                format!("file={}", escape_property(&sources.get(f).display)),
            );
        }
        let mut message = d.message.clone();
        if let Some(h) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(h);
        }
        out.push_str(&format!(
            "::{level} {}::{}\n",
            props.join(","),
            escape_data(&message)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::SourceFile;

    #[test]
    fn github_escapes() {
        let mut sources = Sources::default();
        let f = sources.add(SourceFile::new(
            "a".into(),
            "dir/a,b.toml".into(),
            Arc::from("x = 1\ny = 2\n"),
        ));
        let d = Diagnostic::error("tenet::x", "bad: 100%\nreally").with_label(f, 6..7, "here");
        let out = github(&[d], &sources);
        assert_eq!(
            out,
            "::error file=dir/a%2Cb.toml,line=2,col=1,endLine=2,endColumn=2,title=tenet%3A%3Ax::bad: 100%25%0Areally\n"
        );
    }
}
