//! `tenet import users FILE --out DIR`: merges the MagOneAI bulk-import
//! sheet (the template as .xlsx, or its Users sheet as CSV) into the config
//! tree in DIR, or writes a fresh tree there. The edge of
//! [`crate::import`]: it reads the files, prints the summary on stdout and
//! the refused rows as diagnostics on stderr, writes (unless `--dry-run`)
//! and then validates DIR as `tenet validate` would. Exit 0 when every row
//! was fine and the tree validates, 1 when a row was refused, the tree
//! does not validate, or the sheet could not be read (then nothing is
//! written).

use std::path::{Path, PathBuf};

use super::export::ExportFormat;
use super::{CommandError, Outcome, eprint_diagnostics, out};
use crate::config::ROOT_FILE;
use crate::import::{self, Fresh, Input, Language, Tree, report};
use crate::validate::{Checked, check_loaded, check_tree};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Users and their memberships, from MagOneAI's bulk-import sheet
    /// (.xlsx, or its Users sheet as CSV).
    Users(UsersArgs),
}

#[derive(Debug, clap::Args)]
pub struct UsersArgs {
    /// The sheet: the template as .xlsx (Users and Workspaces sheets), or
    /// the Users sheet as CSV (columns org_id, email, display_name, role,
    /// password).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The config tree to merge into; created (with tenet.toml) if it is
    /// missing or empty.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// For a CSV sheet: the Workspaces reference sheet as CSV (org_id and
    /// name), so an org_id can be an organisation ID.
    #[arg(long, value_name = "FILE")]
    pub workspaces: Option<PathBuf>,
    /// The language of a fresh tree's files (an existing tree keeps its
    /// own).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// Say what would be written, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    match args.what {
        What::Users(a) => users(a),
    }
}

/// A file's bytes, refused unread when over the limit of a sheet.
fn read_input(path: &Path) -> Result<Vec<u8>, CommandError> {
    let fail = |e: std::io::Error| {
        CommandError::new(format!("cannot read `{}`: {e}", path.display()))
            .with_hint("nothing was written")
    };
    let size = std::fs::metadata(path).map_err(fail)?.len();
    if size > import::MAX_SHEET_BYTES as u64 {
        return Err(CommandError::new(format!(
            "`{}` is {size} bytes, over the limit of {} MiB for a sheet",
            path.display(),
            import::MAX_SHEET_BYTES / 1024 / 1024
        )));
    }
    std::fs::read(path).map_err(fail)
}

/// The tree in `dir`, loaded and checked, or `None` when it has no
/// `tenet.toml` yet (a fresh tree is written there).
fn existing(dir: &Path) -> Result<Option<Checked>, CommandError> {
    if dir.exists() && !dir.is_dir() {
        return Err(CommandError::new(format!(
            "`{}` is not a directory; nothing was written",
            dir.display()
        )));
    }
    if !dir.join(ROOT_FILE).is_file() {
        if !crate::export::existing_config_files(dir).is_empty() {
            return Err(CommandError::new(format!(
                "`{}` holds config files but no {ROOT_FILE}; nothing was written",
                dir.display()
            ))
            .with_hint("pass the root of the config tree (the directory holding tenet.toml), or a new or empty directory"));
        }
        return Ok(None);
    }
    let checked = check_tree(dir, None);
    if !checked.loaded.unparsed.is_empty() {
        eprint_diagnostics(&checked.diagnostics, &checked.loaded.sources);
        return Err(CommandError::new(format!(
            "some files of `{}` cannot be read; nothing was written",
            dir.display()
        ))
        .with_hint("fix the files above (`tenet validate` shows the same), then import again"));
    }
    Ok(Some(checked))
}

/// The sheet and its reference list read, or `None` when the file could
/// not be read (said on stderr).
fn read_sheet(args: &UsersArgs) -> Result<Option<import::Sheet>, CommandError> {
    let display = args.file.display().to_string();
    let bytes = read_input(&args.file)?;
    let reference = match &args.workspaces {
        Some(p) => Some((p.as_path(), p.display().to_string(), read_input(p)?)),
        None => None,
    };
    let input = Input {
        path: &args.file,
        display: &display,
        bytes: &bytes,
    };
    let reference = reference.as_ref().map(|(path, display, bytes)| Input {
        path,
        display,
        bytes,
    });
    match import::read(input, reference) {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            eprint_diagnostics(&e.diagnostics, &e.sources);
            out::eprintln(&format!(
                "error: `{display}` was not imported; nothing was written"
            ));
            Ok(None)
        }
    }
}

/// The tree the import merges into (an empty one, on the MagOneAI profile,
/// when `dir` has no `tenet.toml` yet) and how many errors it has already.
fn target(dir: &Path) -> Result<(Tree, usize), CommandError> {
    let Some(before) = existing(dir)? else {
        let fresh = Tree {
            profile: Some(import::PROFILE.to_owned()),
            ..Tree::default()
        };
        return Ok((fresh, 0));
    };
    let tree = Tree::of(&before.loaded);
    if tree.profile.as_deref() != Some(import::PROFILE) {
        return Err(CommandError::new(format!(
            "`{}` is on the {} profile; the bulk-import sheet is MagOneAI's (roles owner, admin, member); nothing was written",
            dir.display(),
            tree.profile.as_deref().map_or_else(|| "default (m3forge)".to_owned(), |p| format!("`{p}`")),
        ))
        .with_hint("import into a tree with `profile = \"magoneai\"` under [platform] in tenet.toml"));
    }
    let errors = before.diagnostics.iter().filter(|d| d.is_error()).count();
    super::leave(before);
    Ok((tree, errors))
}

/// The language new files are written in: the tree's, else `--format`.
fn language(args: &UsersArgs, tree: &Tree) -> Language {
    let flag = match args.format.unwrap_or_default() {
        ExportFormat::Toml => Language::Toml,
        ExportFormat::Kdl => Language::Kdl,
    };
    let language = tree.language(flag);
    if args.format.is_some() && language != flag {
        out::eprintln(&format!(
            "note: the files of `{}` are {}; new declarations follow them, not --format",
            args.out.display(),
            language.ext().to_uppercase()
        ));
    }
    language
}

/// Checks the tree as it now is (or, for a dry run, would be) as `tenet
/// validate` does, shows its problems on stderr, and returns the line
/// that says it is valid, or `None` when it is not.
fn check_after(
    args: &UsersArgs,
    tree: &Tree,
    changes: &[import::Change],
    errors_before: usize,
) -> Result<Option<String>, CommandError> {
    let dir = &args.out;
    if changes.is_empty() && !tree.exists {
        return Ok(Some(String::new()));
    }
    let mut checked = if args.dry_run {
        let files = import::with_changes(dir, tree, changes);
        check_loaded(crate::config::load_files(dir, files), None)
    } else {
        check_tree(dir, None)
    };
    crate::pipeline::fit(&mut checked, None, dir).map_err(CommandError::from)?;
    if !checked.diagnostics.is_empty() {
        eprint_diagnostics(&checked.diagnostics, &checked.loaded.sources);
    }
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let verdict = if errors > 0 {
        let before = if errors_before > 0 {
            format!(" ({errors_before} of them before the import)")
        } else {
            String::new()
        };
        out::eprintln(&format!(
            "error: `{}` {} not validate: {errors} error{}{before}; see above",
            dir.display(),
            if args.dry_run { "would" } else { "does" },
            if errors == 1 { "" } else { "s" }
        ));
        None
    } else {
        Some(format!(
            "`{}` {} valid: {}.\n",
            dir.display(),
            if args.dry_run { "would be" } else { "is" },
            checked.config.state.summary()
        ))
    };
    super::leave(checked);
    Ok(verdict)
}

fn users(args: UsersArgs) -> Result<Outcome, CommandError> {
    let Some(sheet) = read_sheet(&args)? else {
        return Ok(Outcome::Failed);
    };
    let dir = &args.out;
    let (tree, errors_before) = target(dir)?;
    let language = language(&args, &tree);

    let decisions = import::decide(&sheet.rows, &sheet.organisations, &tree);
    let fresh = Fresh {
        root: template("tenet.toml")?,
        gitignore: template(".gitignore")?,
    };
    let changes = import::changes(&decisions, &tree, language, fresh, |p| {
        import::read_from(dir, p)
    })
    .map_err(|e| CommandError::new(format!("{e}; nothing was written")))?;

    eprint_diagnostics(&report::diagnostics(&decisions), &sheet.sources);
    if !args.dry_run {
        import::write(dir, &changes).map_err(|e| {
            CommandError::new(format!("cannot write into `{}`: {e}", dir.display()))
        })?;
    }
    let verdict = check_after(&args, &tree, &changes, errors_before)?;

    let summary = report::summary(
        &decisions,
        &args.file.display().to_string(),
        &changes,
        args.dry_run,
    );
    // The files are written: a closed stdout loses the summary, not the
    // outcome.
    out::unless_closed(out::print(&format!(
        "{summary}{}",
        verdict.as_deref().unwrap_or("")
    )))?;
    Ok(if decisions.refused() > 0 || verdict.is_none() {
        Outcome::Failed
    } else {
        Outcome::Clean
    })
}

/// One of `tenet init`'s templates, by path.
fn template(path: &str) -> Result<&'static str, CommandError> {
    super::init::TEMPLATES
        .iter()
        .find(|t| t.path == path)
        .map(|t| t.contents)
        .ok_or_else(|| CommandError::new(format!("no `{path}` template (a bug of tenet's)")))
}
