//! Diagnostics as miette reports (text), as versioned JSON, and as GitHub
//! Actions `::error` annotations.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, FileId, Severity, Sources};
use crate::secrets::redact_text;

/// A diagnostic ready for miette: its labels in its primary file, and labels
/// in other files as related reports (each with its own source).
struct Report {
    message: String,
    code: &'static str,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
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
    NamedSource::new(f.display.clone(), f.text.clone())
}

fn clamp(text: &str, span: &std::ops::Range<usize>) -> SourceSpan {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    (start..end).into()
}

/// A copy of `d` whose texts have credential-looking values masked: messages
/// quote keys and values from the files, and those may be secrets.
pub fn redacted(d: &Diagnostic) -> Diagnostic {
    let mut d = d.clone();
    d.message = redact_text(&d.message);
    d.help = d.help.map(|h| redact_text(&h));
    for l in &mut d.labels {
        l.message = redact_text(&l.message);
    }
    d
}

fn report(d: &Diagnostic, sources: &Sources) -> Report {
    let d = &redacted(d);
    let primary = d.primary().map(|(f, _)| f);
    let mut labels = Vec::new();
    let mut related = Vec::new();
    for (i, l) in d.labels.iter().enumerate() {
        let text = &sources.get(l.file).text;
        let span = clamp(text, &l.span);
        if Some(l.file) == primary {
            let ls = if i == 0 {
                LabeledSpan::new_primary_with_span(Some(l.message.clone()), span)
            } else {
                LabeledSpan::new_with_span(Some(l.message.clone()), span)
            };
            labels.push(ls);
        } else {
            related.push(Report {
                message: l.message.clone(),
                code: "",
                severity: miette::Severity::Advice,
                help: None,
                source: Some(named(sources, l.file)),
                labels: vec![LabeledSpan::new_primary_with_span(
                    Some(l.message.clone()),
                    span,
                )],
                related: Vec::new(),
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
        source: primary
            .filter(|_| !d.labels.is_empty())
            .map(|f| named(sources, f)),
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
    let mut out = String::new();
    for d in diags {
        let mut r = report(d, sources);
        // Places in other files follow as notes of their own, each with its
        // file's snippet (miette's "related" rendering adds empty headings).
        let notes = std::mem::take(&mut r.related);
        for part in std::iter::once(&r).chain(&notes) {
            if handler.render_report(&mut out, part).is_err() {
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

fn json_span<'a>(
    sources: &'a Sources,
    file: FileId,
    span: &std::ops::Range<usize>,
) -> JsonSpan<'a> {
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

/// The JSON form of diagnostics. Pass diagnostics through [`redacted`] first.
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
    for d in diags {
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
