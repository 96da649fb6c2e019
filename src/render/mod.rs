//! Renderers: turn data (diagnostics now; plans and reports with the
//! plan/apply issue) into text for people, JSON for programs, and GitHub
//! workflow annotations. Renderers never decide anything; they only format.

pub mod access;
pub mod diagnostics;
pub mod drift;
pub mod plan_json;
pub mod plan_markdown;
pub mod plan_text;

/// Whether output to a stream may use colour: a terminal, and `NO_COLOR`
/// unset (https://no-color.org).
pub fn use_color(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
