//! The command line: one file per subcommand, each an `Args` struct and a
//! `run` function. Library errors become one [`CommandError`] with a hint at
//! this edge, and outcomes become exit codes: 0 ok / no changes, 1 error,
//! 2 changes or drift.

pub mod apply;
pub mod completions;
pub mod drift;
pub mod export;
pub mod import;
pub mod init;
pub mod out;
pub mod plan;
pub mod plan_base;
pub mod schema;
pub mod serve;
pub mod unlock;
pub mod validate;
pub mod why;

use std::fmt;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{Diagnostic, Sources};
use crate::model::Profile;
use crate::render;

/// Manage a multi-tenant AI platform as code.
#[derive(Debug, Parser)]
#[command(name = "tenet", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More detail on stderr (-v: progress and timings, -vv: every change).
    /// RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Logs go to stderr: `RUST_LOG` if set, else by `-v` count (`serve` logs
/// its requests at info by default). No secret or token is ever logged.
pub fn init_logging(verbose: u8, default: &str) {
    let level = match verbose {
        0 => default,
        1 => "tenet=info",
        2 => "tenet=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(render::use_color(std::io::stderr().is_terminal()))
        .try_init();
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold a config repository: tenet.toml, an example, and GitHub workflows.
    Init(init::Args),
    /// Check a config tree: syntax, schema, references, permissions, invariants.
    Validate(validate::Args),
    /// Show what applying the files would change (exit 2 when something would).
    Plan(plan::Args),
    /// Make the platform match the files, or apply a saved plan.
    Apply(apply::Args),
    /// Release the apply lock a dead apply left behind, by its holder id.
    Unlock(unlock::Args),
    /// Report what changed on the platform outside tenet (read-only; exit 2 on drift).
    Drift(drift::Args),
    /// Write a config tree describing the live platform (to adopt it).
    Export(export::Args),
    /// Merge users from a spreadsheet into the config files (MagOneAI's bulk-import sheet).
    Import(import::Args),
    /// Explain whether and how a user has a permission in a workspace.
    Why(why::Args),
    /// Print the JSON Schema of config files (for editors and other tools).
    Schema(schema::Args),
    /// Run the reference platform over HTTP (and manage its tokens).
    Serve(serve::Args),
    /// Print shell completions.
    Completions(completions::Args),
}

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: all good, or nothing to change.
    Clean,
    /// Exit 2: changes or drift found.
    Changes,
    /// Exit 1, already reported (for example as diagnostics).
    Failed,
}

impl Outcome {
    fn code(self) -> ExitCode {
        match self {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::from(1),
            Outcome::Changes => ExitCode::from(2),
        }
    }
}

/// The one error type at the command edge: a message and a hint.
#[derive(Debug)]
pub struct CommandError {
    pub message: String,
    pub hint: Option<String>,
    /// Stdout is a closed pipe: the run ends quietly with exit 0.
    pub closed: bool,
}

impl CommandError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            closed: false,
        }
    }

    /// Nobody reads stdout any more (`tenet plan | head -1`): not a failure
    /// of tenet's, so it ends the run quietly with exit 0 (see [`out`]).
    pub fn closed_stdout() -> Self {
        Self {
            closed: true,
            ..Self::new("standard output is closed")
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the hint only when there is one.
    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint.or(self.hint);
        self
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        CommandError::new(format!("i/o error: {e}"))
    }
}

/// Output formats for commands whose output is data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// `--profile` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    M3forge,
    Magoneai,
    Openwebui,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Profile {
        match p {
            ProfileArg::M3forge => Profile::M3forge,
            ProfileArg::Magoneai => Profile::Magoneai,
            ProfileArg::Openwebui => Profile::Openwebui,
        }
    }
}

/// Width for rendered diagnostics: `COLUMNS` if set, else 100.
pub fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}

/// Renders diagnostics for people, on stderr.
/// Leaves a large value for the process's exit to reclaim instead of
/// freeing its million allocations one by one (a second or more on a large
/// platform, spent after the answer is known). Only for what a command
/// holds until it returns: the files loaded, the live state.
pub fn leave<T>(value: T) {
    std::mem::forget(value);
}

pub fn eprint_diagnostics(diags: &[Diagnostic], sources: &Sources) {
    let color = render::use_color(std::io::stderr().is_terminal());
    out::eprint(&render::diagnostics::text(diags, sources, color, width()));
}

fn print_error(e: &CommandError) {
    let d = Diagnostic::error("", e.message.clone()).with_help_opt(e.hint.clone());
    eprint_diagnostics(&[d], &Sources::default());
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1: exit 2 means "changes" to scripts.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let default = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    init_logging(cli.verbose, default);
    let result = match cli.command {
        Command::Init(args) => init::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Unlock(args) => unlock::run(args),
        Command::Drift(args) => drift::run(args),
        Command::Why(args) => why::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Export(args) => export::run(args),
        Command::Import(args) => import::run(args),
    };
    match result {
        Ok(outcome) => outcome.code(),
        Err(e) if e.closed => ExitCode::SUCCESS,
        Err(e) => {
            print_error(&e);
            ExitCode::from(1)
        }
    }
}
