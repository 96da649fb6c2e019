//! What git knows about the config tree: the commit it is at and whether the
//! working tree is dirty, read with git2 (no network, no `git` binary).

use std::path::Path;

use crate::plan::GitInfo;

/// The commit of the repository holding `dir` and whether its tree has
/// uncommitted changes; `None` outside a repository.
pub fn info(dir: &Path) -> Option<GitInfo> {
    let repo = git2::Repository::discover(dir).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?.id().to_string();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let dirty = repo
        .statuses(Some(&mut opts))
        .map(|s| !s.is_empty())
        .unwrap_or(true);
    Some(GitInfo { commit, dirty })
}
