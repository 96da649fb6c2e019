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
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "tenet",
        &mut std::io::stdout(),
    );
    Ok(Outcome::Clean)
}
