//! The one way tenet writes to its standard streams. `print!` panics when
//! stdout is a closed pipe (`tenet plan | head -1`), which would exit 101;
//! here a closed stdout becomes [`CommandError::closed_stdout`], which ends
//! the run quietly with exit 0 (as ripgrep does: nobody is reading), and
//! writes to stderr are best effort (a closed stderr loses the message,
//! never the run). The crate denies `print!`, `println!`, `eprint!` and
//! `eprintln!` (clippy's `print_stdout` / `print_stderr`), so every write
//! passes through these functions.

use std::io::{self, Write};

use super::CommandError;

/// Writes `text` to stdout and flushes it. A closed pipe is the quiet
/// [`CommandError::closed_stdout`]; another failure is an error.
pub fn print(text: &str) -> Result<(), CommandError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                CommandError::closed_stdout()
            } else {
                CommandError::new(format!("cannot write to standard output: {e}"))
            }
        })
}

/// [`print`] with a newline.
pub fn println(text: &str) -> Result<(), CommandError> {
    print(&format!("{text}\n"))
}

/// Writes `text` to stderr, ignoring failures: a message nobody can read is
/// not a reason to stop.
pub fn eprint(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// [`eprint`] with a newline.
pub fn eprintln(text: &str) {
    eprint(&format!("{text}\n"));
}

/// Keeps going when stdout is closed, for commands whose outcome is not
/// their output (`apply` has changed the platform by the time it reports).
pub fn unless_closed(r: Result<(), CommandError>) -> Result<(), CommandError> {
    match r {
        Err(e) if e.closed => Ok(()),
        other => other,
    }
}
