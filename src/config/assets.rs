//! Files the config names besides its own: a SAML identity provider's
//! metadata document (and, in time, branding images). Paths are relative
//! to the config root and must stay inside the tree; each file is read
//! once, at most [`MAX_ASSET_BYTES`], from disk or from the in-memory
//! files of a git revision, and its bytes join the config's digest. What
//! cannot be read is kept as the reason, for validation to report at the
//! place that names it.

use std::collections::BTreeMap;
use std::path::{Component, Path};

/// Larger files are refused unread: metadata is kilobytes, an image is at
/// most a few megabytes.
pub const MAX_ASSET_BYTES: u64 = 2 * 1024 * 1024;

/// Each named file, by the path as written: its bytes, or why not.
pub type Assets = BTreeMap<String, Result<Vec<u8>, String>>;

/// Whether `written` is a relative path that stays inside the tree.
pub fn inside(written: &str) -> bool {
    let p = Path::new(written);
    !written.is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Reads every path in `named` with `read` (root-relative path -> bytes or
/// an error message).
pub fn read(
    named: impl IntoIterator<Item = String>,
    read: impl Fn(&Path) -> Result<Vec<u8>, String>,
) -> Assets {
    let mut out = Assets::new();
    for written in named {
        if out.contains_key(&written) {
            continue;
        }
        let got = if !inside(&written) {
            Err(
                "it must be a relative path inside the config tree (no `..`, not absolute)"
                    .to_owned(),
            )
        } else {
            read(Path::new(&written)).and_then(|b| {
                if b.len() as u64 > MAX_ASSET_BYTES {
                    Err(format!(
                        "it is {} bytes, over the limit of {} MiB",
                        b.len(),
                        MAX_ASSET_BYTES / 1024 / 1024
                    ))
                } else {
                    Ok(b)
                }
            })
        };
        out.insert(written, got);
    }
    out
}

/// Reads from disk below `root`, refusing a file too large before reading it.
pub fn from_disk(root: &Path) -> impl Fn(&Path) -> Result<Vec<u8>, String> + '_ {
    move |rel| {
        let path = root.join(rel);
        let meta = std::fs::metadata(&path).map_err(|e| super::discover::io_reason(&e))?;
        if !meta.is_file() {
            return Err("it is not a file".to_owned());
        }
        if meta.len() > MAX_ASSET_BYTES {
            return Err(format!(
                "it is {} bytes, over the limit of {} MiB",
                meta.len(),
                MAX_ASSET_BYTES / 1024 / 1024
            ));
        }
        std::fs::read(&path).map_err(|e| super::discover::io_reason(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_tree() {
        assert!(inside("sso/okta.xml"));
        assert!(inside("./okta.xml"));
        assert!(!inside("../okta.xml"));
        assert!(!inside("/etc/passwd"));
        assert!(!inside("a/../../b"));
        assert!(!inside(""));
        let got = read(["../x".to_owned()], |_| Ok(Vec::new()));
        assert!(got["../x"].is_err());
    }
}
