//! `tenet validate [DIR]`: loads a config tree and reports every problem at
//! once, as miette diagnostics (or JSON with `--format json`), plus GitHub
//! annotations when running in GitHub Actions. Exit 0 when clean (warnings
//! allowed), 1 on any error.

use std::path::PathBuf;

use serde::Serialize;

use super::{CommandError, Format, Outcome, ProfileArg, eprint_diagnostics, out};
use crate::render::diagnostics as render;
use crate::validate::{Checked, check_tree};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config root: a directory holding tenet.toml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The catalog to validate against when tenet.toml names none.
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// Also check that the platform at this endpoint can hold everything
    /// the files declare (default: TENET_ENDPOINT, else the files').
    #[arg(long, value_name = "ENDPOINT")]
    pub endpoint: Option<String>,
}

/// Counts of a valid config, for the summary and JSON output.
#[derive(Debug, Serialize)]
struct Counts {
    workspaces: usize,
    users: usize,
    memberships: usize,
    roles: usize,
    providers: usize,
    assignments: usize,
    teams: usize,
}

/// `--format json` output, serialize-only; documented in `docs/validate.md`.
#[derive(Serialize)]
struct JsonOutput<'a> {
    version: u32,
    valid: bool,
    profile: &'a str,
    errors: usize,
    warnings: usize,
    counts: Option<Counts>,
    diagnostics: Vec<render::JsonDiagnostic<'a>>,
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    let mut checked: Checked = check_tree(&args.dir, args.profile.map(Into::into));
    crate::pipeline::fit(&mut checked, args.endpoint.as_deref(), &args.dir)
        .map_err(CommandError::from)?;
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = checked.diagnostics.len() - errors;
    let sources = &checked.loaded.sources;
    let state = &checked.config.state;
    let counts = (errors == 0).then_some(Counts {
        workspaces: state.workspaces.len(),
        users: state.users.len(),
        memberships: state.memberships.len(),
        roles: state.roles.len(),
        providers: state.providers.len(),
        assignments: state.assignments.len(),
        teams: checked.config.teams.len(),
    });

    // Annotations go with text output only: JSON output stays one document.
    if args.format == Format::Text && std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        out::print(&render::github(&checked.diagnostics, sources))?;
    }
    let shown: Vec<_> = render::shown(&checked.diagnostics, sources)
        .iter()
        .map(render::redacted)
        .collect();
    match args.format {
        Format::Json => {
            let json = JsonOutput {
                version: 1,
                valid: errors == 0,
                profile: checked.config.platform.profile.as_str(),
                errors,
                warnings,
                counts,
                diagnostics: render::json(&shown, sources),
            };
            let text = serde_json::to_string_pretty(&json)
                .map_err(|e| CommandError::new(e.to_string()))?;
            out::println(&text)?;
        }
        Format::Text => {
            eprint_diagnostics(&checked.diagnostics, sources);
            let dir = args.dir.display();
            if errors > 0 {
                let also = if warnings > 0 {
                    format!(" and {}", plural(warnings, "warning", "warnings"))
                } else {
                    String::new()
                };
                out::eprintln(&format!(
                    "error: `{dir}` is not valid: {}{also} ({} checked)",
                    plural(errors, "error", "errors"),
                    plural(sources.len(), "file", "files"),
                ));
            } else {
                let extra = if warnings > 0 {
                    format!(" ({})", plural(warnings, "warning", "warnings"))
                } else {
                    String::new()
                };
                out::println(&format!(
                    "{dir} is valid{extra} [{}]: {}, {}",
                    checked.config.platform.profile,
                    state.summary(),
                    plural(checked.config.teams.len(), "team", "teams"),
                ))?;
            }
        }
    }
    super::leave(checked);
    Ok(if errors > 0 {
        Outcome::Failed
    } else {
        Outcome::Clean
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
