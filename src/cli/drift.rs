//! `tenet drift [DIR]`: read-only (a read-scope token is enough; nothing is
//! ever written): reports what changed on the platform outside tenet, with
//! who, when and how from the audit log, apart from changes in the files not
//! applied yet. Exit 0 when the platform matches, 2 when it does not.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::plan::{Common, PlanFormat, make, runtime};
use super::{CommandError, Outcome};
use crate::drift;
use crate::target::Target;

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
    let rt = runtime()?;
    let mut audit = BTreeMap::new();
    let logged = target.capabilities().audit;
    // Acknowledged drift, which the plan holds back, is reported too.
    let changes: Vec<_> = plan
        .changes
        .iter()
        .map(|c| c.change.clone())
        .chain(plan.acknowledged.iter().map(|h| h.change.clone()))
        .collect();
    // A rename not applied yet is read under its old name.
    let former = drift::former(&changes);
    let wanted = drift::wanted_events(&changes, &plan.unmanaged_access, &live);
    for object in wanted.into_iter().filter(|_| logged) {
        let events = rt
            .block_on(target.audit(&former.id(&object)))
            .map_err(crate::pipeline::PipelineError::from)?;
        audit.insert(object, events);
    }
    let report = drift::report(
        &plan.endpoint,
        &changes,
        &plan.unmanaged_access,
        &live,
        &checked.config.acknowledged,
        &audit,
        &drift::today(),
        target.capabilities(),
        &checked.config.previously,
    );
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
