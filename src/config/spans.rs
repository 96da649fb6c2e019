//! Where each value of a parsed file came from. Both syntaxes are converted
//! to one JSON shape; a `SpanIndex` maps every JSON pointer of that shape to
//! the byte spans of its key and its value in the file, so schema errors and
//! semantic checks can point at the exact token whatever the syntax.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

/// Spans of one value: the key that names it (if any) and the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spans {
    pub key: Option<Range<usize>>,
    pub value: Range<usize>,
}

/// Pointer -> spans, the index itself.
pub type SpanMap = HashMap<String, Spans>;

/// JSON pointer -> spans, for one file. Built as the file is converted, or
/// (for TOML, whose parse is cheap to repeat) made from the file's text the
/// first time a span is asked for: spans are for diagnostics, and a valid
/// tree of a million values should not pay for an index it never reads.
#[derive(Clone, Default)]
pub struct SpanIndex {
    built: SpanMap,
    later: Option<Later>,
}

/// An index made on first use from a file's text.
#[derive(Clone)]
struct Later {
    text: Arc<str>,
    make: fn(&str) -> SpanMap,
    made: OnceLock<SpanMap>,
}

impl std::fmt::Debug for SpanIndex {
    // The text may hold a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanIndex")
            .field("built", &self.built.len())
            .field("later", &self.later.is_some())
            .finish()
    }
}

impl SpanIndex {
    /// An index that `make` builds from `text` when first needed.
    pub fn later(text: Arc<str>, make: fn(&str) -> SpanMap) -> SpanIndex {
        SpanIndex {
            built: SpanMap::new(),
            later: Some(Later {
                text,
                make,
                made: OnceLock::new(),
            }),
        }
    }

    fn map(&self) -> &SpanMap {
        match &self.later {
            Some(l) => l.made.get_or_init(|| (l.make)(&l.text)),
            None => &self.built,
        }
    }

    /// Adds the spans of `pointer` to an index being built (not to one
    /// made [`later`](Self::later), which owns what it holds).
    pub fn insert(&mut self, pointer: String, key: Option<Range<usize>>, value: Range<usize>) {
        self.built.insert(pointer, Spans { key, value });
    }

    /// True when `pointer` itself (not an ancestor) has spans.
    pub fn contains(&self, pointer: &str) -> bool {
        self.map().contains_key(pointer)
    }

    /// The spans of `pointer`, or of its nearest ancestor that has some.
    pub fn find(&self, pointer: &str) -> Option<&Spans> {
        let map = self.map();
        let mut p = pointer;
        loop {
            if let Some(s) = map.get(p) {
                return Some(s);
            }
            p = &p[..p.rfind('/')?];
        }
    }

    /// The best span to show for a problem with a value: the value itself.
    pub fn value_span(&self, pointer: &str) -> Option<Range<usize>> {
        self.find(pointer).map(|s| s.value.clone())
    }

    /// The best span to show for a problem with a key (an unknown field, a
    /// duplicate object): the key, else the value.
    pub fn key_span(&self, pointer: &str) -> Option<Range<usize>> {
        self.find(pointer)
            .map(|s| s.key.clone().unwrap_or_else(|| s.value.clone()))
    }
}

/// Appends one reference token to a JSON pointer, escaped per RFC 6901.
pub fn push(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// Splits a JSON pointer into its unescaped reference tokens.
pub fn tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_round_trip() {
        let p = push(&push("", "labels"), "a/b~c");
        assert_eq!(p, "/labels/a~1b~0c");
        assert_eq!(tokens(&p), vec!["labels".to_string(), "a/b~c".to_string()]);
    }

    #[test]
    fn find_walks_up() {
        let mut idx = SpanIndex::default();
        idx.insert("/users".into(), Some(0..5), 0..10);
        assert_eq!(idx.value_span("/users/a@b.c/name"), Some(0..10));
        assert_eq!(idx.key_span("/users/x"), Some(0..5));
        assert_eq!(idx.value_span("/roles"), None);
    }
}
