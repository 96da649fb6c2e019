//! The `tenet` binary: parse arguments, run the command, map the outcome to
//! an exit code (0 ok / no changes, 1 error, 2 changes or drift). Everything
//! else lives in the library.

fn main() -> std::process::ExitCode {
    tenet::cli::main()
}
