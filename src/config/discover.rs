//! Finding a config tree's files: every `*.toml` and `*.kdl` below the root,
//! recursively and sorted, hidden directories skipped, symlinks followed with
//! loop detection. Problems (a loop, an unreadable directory) are reported as
//! diagnostics together with everything else.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::diagnostic::Diagnostic;

/// A file to load: its path and its path relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub relative: PathBuf,
}

fn is_config(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("toml" | "kdl")
    )
}

fn hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with('.') && n != "." && n != "..")
}

/// Lists the config files under `root`, sorted by relative path.
pub fn discover(root: &Path, shown: &dyn Fn(&Path) -> String) -> (Vec<Found>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    let walker = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !(e.file_type().is_dir() && hidden(e.file_name())));
    for entry in walker {
        match entry {
            Ok(e) => {
                if e.file_type().is_file() && is_config(e.path()) {
                    let relative = e
                        .path()
                        .strip_prefix(root)
                        .unwrap_or(e.path())
                        .to_path_buf();
                    files.push(Found {
                        path: e.path().to_path_buf(),
                        relative,
                    });
                }
            }
            Err(err) => {
                let path = err.path().map(shown).unwrap_or_else(|| shown(root));
                let d = if let Some(ancestor) = err.loop_ancestor() {
                    Diagnostic::error(
                        "tenet::files::symlink-loop",
                        format!("symlink loop: `{path}` leads back to `{}`", shown(ancestor)),
                    )
                    .with_help("remove the link or point it outside the config tree")
                } else {
                    let cause = err.io_error().map_or_else(|| err.to_string(), io_reason);
                    Diagnostic::error("tenet::files::unreadable", format!("cannot read `{path}`: {cause}"))
                        .with_help("check that the path exists, that symlinks point somewhere, and permissions")
                };
                diags.push(d);
            }
        }
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    (files, diags)
}

/// An io error's reason without the OS error number.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}
