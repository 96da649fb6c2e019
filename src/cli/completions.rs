//! `tenet completions SHELL`: prints a completion script for the shell.

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, CommandError, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for.
    pub shell: Shell,
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    // clap_complete panics on a failed write: generate into memory, then
    // write once (a closed stdout ends quietly, see `out`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "tenet", &mut script);
    super::out::print(&String::from_utf8_lossy(&script))?;
    Ok(Outcome::Clean)
}
