//! `tenet init [DIR]`: scaffolds a config repository in DIR (default `.`):
//! `tenet.toml` on the embedded sandbox, a small example organisation (two
//! users, one workspace, one provider and its assignment), a `.gitignore`,
//! and GitHub Actions workflows that plan pull requests, apply merged plans
//! and look for drift every night. It refuses to overwrite an existing file
//! (exit 1, listing them, nothing written) unless `--force`. The files are
//! the templates under `src/cli/init/`, embedded at build time; the
//! workflows in `examples/github/` are copies of them, kept equal by
//! `tests/init.rs`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::{CommandError, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to create the config repository (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
}

/// One file `tenet init` writes: its path under DIR (with `/`) and contents.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub path: &'static str,
    pub contents: &'static str,
}

/// Everything `tenet init` writes, in the order it is written and listed.
pub const TEMPLATES: &[Template] = &[
    Template {
        path: "tenet.toml",
        contents: include_str!("init/tenet.toml"),
    },
    Template {
        path: "users.toml",
        contents: include_str!("init/users.toml"),
    },
    Template {
        path: "providers.toml",
        contents: include_str!("init/providers.toml"),
    },
    Template {
        path: "workspaces/example.toml",
        contents: include_str!("init/workspaces/example.toml"),
    },
    Template {
        path: ".gitignore",
        contents: include_str!("init/gitignore"),
    },
    Template {
        path: ".github/workflows/tenet-plan.yml",
        contents: include_str!("init/workflows/tenet-plan.yml"),
    },
    Template {
        path: ".github/workflows/tenet-apply.yml",
        contents: include_str!("init/workflows/tenet-apply.yml"),
    },
    Template {
        path: ".github/workflows/tenet-drift.yml",
        contents: include_str!("init/workflows/tenet-drift.yml"),
    },
];

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    let dir = &args.dir;
    if dir.exists() && !dir.is_dir() {
        return Err(CommandError::new(format!(
            "`{}` is not a directory; nothing was written",
            dir.display()
        )));
    }
    // A dangling symbolic link exists too: symlink_metadata, not exists().
    let existing: Vec<&str> = TEMPLATES
        .iter()
        .filter(|t| dir.join(t.path).symlink_metadata().is_ok())
        .map(|t| t.path)
        .collect();
    if !existing.is_empty() && !args.force {
        let (these, exist) = if existing.len() == 1 {
            ("this file", "exists")
        } else {
            ("these files", "exist")
        };
        return Err(CommandError::new(format!(
            "{these} already {exist} in `{}`; nothing was written:\n  {}",
            dir.display(),
            existing.join("\n  ")
        ))
        .with_hint("move them aside, or run `tenet init --force` to overwrite them"));
    }

    // Said once every file is written, so a closed stdout cannot leave a
    // half-made scaffold.
    let mut out = String::new();
    for t in TEMPLATES {
        let path = dir.join(t.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CommandError::new(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let replaced = existing.contains(&t.path);
        // --force replaces a symbolic link itself, never the file it points
        // at (which may be outside DIR).
        if replaced
            && path
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
        {
            std::fs::remove_file(&path).map_err(|e| {
                CommandError::new(format!("cannot replace {}: {e}", path.display()))
            })?;
        }
        std::fs::write(&path, t.contents)
            .map_err(|e| CommandError::new(format!("cannot write {}: {e}", path.display())))?;
        let verb = if replaced { "Overwrote" } else { "Created" };
        let _ = writeln!(out, "{verb} {}", shown(dir, t.path));
    }

    let target = if dir == Path::new(".") {
        String::new()
    } else {
        format!(" {}", dir.display())
    };
    let _ = writeln!(
        out,
        "\nNext:\n  \
         tenet validate{target}   check the files\n  \
         tenet plan{target}       what applying them would change (on the embedded sandbox)\n  \
         tenet apply{target}      make the sandbox match\n\
         For GitHub, add the secrets TENET_READ_TOKEN and TENET_WRITE_TOKEN and the variable\n\
         TENET_ENDPOINT to the repository (see tenet's docs/ci.md)."
    );
    super::out::print(&out)?;
    Ok(Outcome::Clean)
}

/// A written file as the user would type it: relative to the current
/// directory when DIR is `.`, else under DIR.
fn shown(dir: &Path, path: &str) -> String {
    if dir == Path::new(".") {
        path.to_owned()
    } else {
        dir.join(path).display().to_string()
    }
}
