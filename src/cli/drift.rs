//! `tenet drift [DIR]`: read-only (a read-scope token is enough; nothing is
//! ever written): reports what changed on the platform outside tenet, with
//! who, when and how from the audit log, apart from changes in the files not
//! applied yet. Exit 0 when the platform matches, 2 when it does not.

use std::path::PathBuf;

use super::plan::{Common, PlanFormat, make, runtime};
use super::{CommandError, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config root: a directory holding tenet.toml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub common: Common,
    /// Output format (Markdown is ready to be an issue body).
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    let (checked, target, plan, live) = make(&args.dir, &args.common)?;
    let report = runtime()?.block_on(crate::pipeline::drift_report(
        &target,
        &plan,
        &live,
        &checked.config,
        &plan.endpoint,
    ))?;
    let text = match args.format {
        PlanFormat::Text => crate::render::drift::text(&report),
        PlanFormat::Markdown => crate::render::drift::markdown(&report),
        PlanFormat::Json => crate::render::drift::json(&report),
    };
    super::out::print(&text)?;
    Ok(if report.clean() {
        Outcome::Clean
    } else {
        Outcome::Changes
    })
}
