//! What git knows about the config tree: the commit it is at and whether the
//! working tree is dirty, read with git2 (no network, no `git` binary).

use std::path::Path;

use crate::plan::GitInfo;

/// The commit of the repository holding `dir`, the id of the config tree in
/// it, and whether the working tree has uncommitted changes; `None` outside
/// a repository.
pub fn info(dir: &Path) -> Option<GitInfo> {
    let repo = git2::Repository::discover(dir).ok()?;
    let head = repo.head().ok()?.peel_to_commit().ok()?;
    let commit = head.id().to_string();
    let config_tree = config_tree(&repo, &head, dir);
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let dirty = repo
        .statuses(Some(&mut opts))
        .map(|s| !s.is_empty())
        .unwrap_or(true);
    Some(GitInfo {
        commit,
        config_tree,
        dirty,
    })
}

/// The id of the tree holding the config root at `commit`: equal ids mean
/// identical config files, whatever the commits around them.
fn config_tree(repo: &git2::Repository, commit: &git2::Commit<'_>, dir: &Path) -> Option<String> {
    let top = std::fs::canonicalize(repo.workdir()?).ok()?;
    let abs = std::fs::canonicalize(dir).ok()?;
    let rel = abs.strip_prefix(&top).ok()?;
    let tree = commit.tree().ok()?;
    if rel.as_os_str().is_empty() {
        return Some(tree.id().to_string());
    }
    Some(tree.get_path(rel).ok()?.id().to_string())
}

/// Files as paths relative to the config root, with their bytes.
pub type Files = Vec<(std::path::PathBuf, Vec<u8>)>;

/// The config files under `dir` as they were at revision `rev`, read from
/// the repository's object store (no checkout): paths relative to `dir`
/// with their bytes, and the commit the revision names. A `dir` that did
/// not exist at `rev` gives no files.
pub fn files_at(dir: &Path, rev: &str) -> Result<(Files, String), String> {
    let repo = git2::Repository::discover(dir)
        .map_err(|_| format!("`{}` is not in a git repository", dir.display()))?;
    let workdir = repo.workdir().ok_or("the repository has no working tree")?;
    let abs = std::fs::canonicalize(dir)
        .map_err(|e| format!("cannot resolve `{}`: {e}", dir.display()))?;
    let top = std::fs::canonicalize(workdir)
        .map_err(|e| format!("cannot resolve the repository: {e}"))?;
    let rel = abs
        .strip_prefix(&top)
        .map_err(|_| "the config is outside the repository".to_owned())?;
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|_| format!("`{rev}` names no commit in this repository (is the branch fetched? try fetch-depth: 0)"))?;
    let tree = commit.tree().map_err(|e| e.message().to_owned())?;
    let sub = if rel.as_os_str().is_empty() {
        Some(tree)
    } else {
        match tree.get_path(rel) {
            Ok(entry) => Some(
                entry
                    .to_object(&repo)
                    .and_then(|o| o.peel_to_tree())
                    .map_err(|e| e.message().to_owned())?,
            ),
            Err(_) => None,
        }
    };
    let mut files = Vec::new();
    if let Some(sub) = sub {
        let mut failure = None;
        sub.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
            if entry.kind() != Some(git2::ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            let Ok(name) = entry.name() else {
                return git2::TreeWalkResult::Ok;
            };
            match repo.find_blob(entry.id()) {
                Ok(blob) => files.push((Path::new(parent).join(name), blob.content().to_vec())),
                Err(e) => failure = Some(e.message().to_owned()),
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| e.message().to_owned())?;
        if let Some(f) = failure {
            return Err(f);
        }
    }
    Ok((files, commit.id().to_string()))
}
