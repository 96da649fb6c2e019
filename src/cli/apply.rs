//! `tenet apply [DIR | PLAN_FILE]`: make the platform match. From a
//! directory it plans, shows the plan and asks for confirmation (or takes
//! `--auto-approve`); from a saved plan it applies exactly that plan, and
//! refuses if the files or the platform moved since. Exit 0 when everything
//! applied, 1 otherwise.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::plan::{Common, PlanFormat, checked, make, print, refuse_if_blocked, runtime};
use super::{CommandError, Outcome};
use crate::apply::{self, Done, Options, Report};
use crate::pipeline::{self, AnyTarget};
use crate::plan::{FORMAT_VERSION, Plan};
use crate::target::Target;
use crate::validate::Checked;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A config root (directory) or a plan saved with `tenet plan --out`.
    #[arg(default_value = ".")]
    pub source: PathBuf,
    #[command(flatten)]
    pub common: Common,
    /// Do not ask for confirmation (implied for a saved plan).
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow a plan that removes more than the destroy threshold.
    #[arg(long)]
    pub allow_destroy: bool,
    /// Apply a saved plan even though the git working tree has uncommitted
    /// changes.
    #[arg(long)]
    pub allow_dirty: bool,
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    if args.source.is_file() {
        return from_file(&args);
    }
    let (checked, target, plan, _) = make(&args.source, &args.common)?;
    // Applying is the point, not the output: a closed stdout does not stop it.
    super::out::unless_closed(print(&plan, PlanFormat::Text))?;
    if plan.is_empty() {
        return Ok(Outcome::Clean);
    }
    refuse_if_blocked(&plan, args.allow_destroy, "nothing was changed")?;
    if !args.auto_approve {
        confirm()?;
    }
    execute(&target, &plan, &checked, &args)
}

fn confirm() -> Result<(), CommandError> {
    if !std::io::stdin().is_terminal() {
        return Err(
            CommandError::new("no terminal to confirm on; nothing was changed")
                .with_hint("review the plan and pass --auto-approve, or apply a saved plan file"),
        );
    }
    super::out::eprint("Apply these changes? Only 'yes' will be accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(CommandError::new("apply cancelled; nothing was changed"))
    }
}

fn from_file(args: &Args) -> Result<Outcome, CommandError> {
    let path = &args.source;
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::new(format!("cannot read {}: {e}", path.display())))?;
    let version: Option<u32> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format_version").and_then(serde_json::Value::as_u64))
        .and_then(|v| u32::try_from(v).ok());
    match version {
        Some(FORMAT_VERSION) => {}
        Some(old) if old < FORMAT_VERSION => {
            return Err(CommandError::new(format!(
                "{} is a plan of format version {old}, made by an older tenet; this tenet reads version {FORMAT_VERSION} only, so nothing was changed",
                path.display()
            ))
            .with_hint("make the plan again with this tenet: `tenet plan --out FILE`"));
        }
        _ => {
            return Err(CommandError::new(format!(
                "{} is not a tenet plan of format version {FORMAT_VERSION}",
                path.display()
            ))
            .with_hint("make a new plan with `tenet plan --out FILE`"));
        }
    }
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| CommandError::new(format!("{} is not a valid plan: {e}", path.display())))?;
    // A plan records its endpoint without user-info; `--endpoint` may carry
    // it (and must otherwise name the same platform).
    if let Some(e) = &args.common.endpoint
        && crate::target::without_credentials(e) != plan.endpoint
    {
        return Err(CommandError::new(format!(
            "this plan was made for {}, not {}; nothing was changed",
            plan.endpoint,
            crate::target::without_credentials(e)
        ))
        .with_hint("a plan applies only to the platform it was made against"));
    }
    let root = PathBuf::from(&plan.config_root);
    if let Some(made) = &plan.git {
        match crate::git::info(&root) {
            // Another commit holding the same config tree (the merge of the
            // reviewed pull request) is the same config.
            Some(now)
                if now.commit != made.commit
                    && (now.config_tree.is_none() || now.config_tree != made.config_tree) =>
            {
                return Err(CommandError::new(format!(
                    "the plan was made at commit {}, and the config at the checkout ({}) differs from it; nothing was changed",
                    short(&made.commit),
                    short(&now.commit)
                ))
                .with_hint("apply the plan from a commit with the same config, or make a new plan"));
            }
            Some(now) if now.dirty && !args.allow_dirty => {
                return Err(CommandError::new("the git working tree has uncommitted changes; nothing was changed")
                    .with_hint("commit or stash them (keep plan files outside the tree or in .gitignore), or pass --allow-dirty"));
            }
            _ => {}
        }
    }
    let checked = checked(&root, &args.common)?;
    let digest = checked.loaded.digest();
    if digest != plan.config_digest {
        return Err(CommandError::new(format!(
            "the files in `{}` changed since the plan was made; nothing was changed",
            plan.config_root
        ))
        .with_hint("make a new plan from the current files"));
    }
    let text = args.common.endpoint.as_deref().unwrap_or(&plan.endpoint);
    let (text, endpoint) = pipeline::endpoint(Some(text), None, &root)?;
    let target = pipeline::connect(&text, &endpoint, checked.config.platform.profile)?;
    let fresh = fresh_plan(&target, &checked, &plan, &text, args)?;
    verify_saved(&plan, &fresh)?;
    if fresh.plan.is_empty() {
        super::out::eprintln(crate::render::plan_text::NO_CHANGES);
        return Ok(Outcome::Clean);
    }
    // The fresh plan's refusals: a saved file cannot talk them away.
    refuse_if_blocked(&fresh.plan, args.allow_destroy, "nothing was changed")?;
    execute(&target, &fresh.plan, &checked, args)
}

/// The plan made again, now, from the same files with the same options,
/// and the live state it was made from.
struct Fresh {
    plan: Plan,
    live: crate::model::Live,
}

fn fresh_plan(
    target: &AnyTarget,
    checked: &Checked,
    saved: &Plan,
    endpoint: &str,
    args: &Args,
) -> Result<Fresh, CommandError> {
    let opts = pipeline::PlanOptions {
        adopt: saved.options.adopt,
        include_acknowledged: saved.options.include_acknowledged,
        parallelism: args.common.parallelism,
        config_root: saved.config_root.clone(),
        endpoint: endpoint.to_owned(),
    };
    let sandbox = !target.capabilities().keys_required;
    let (plan, live) = runtime()?.block_on(pipeline::make_plan(target, checked, sandbox, &opts))?;
    Ok(Fresh { plan, live })
}

/// A saved plan runs only if it is exactly what would be planned now: the
/// platform has not moved since (or only by this very plan: then it was
/// already applied), and every change, pinned key and option in the file
/// is what a plan made now holds (an edited file is refused).
fn verify_saved(saved: &Plan, fresh: &Fresh) -> Result<(), CommandError> {
    let moved = pipeline::moved(saved, &fresh.live);
    if !moved.is_empty() && moved.iter().all(|m| m.by_this_plan) {
        return Err(CommandError::new(format!(
            "this plan was already applied: the platform holds what its {} change(s) write; nothing was changed",
            saved.changes.len()
        ))
        .with_hint("a saved plan applies once; make a new plan to see what differs now"));
    }
    if !moved.is_empty() {
        let lines: Vec<String> = moved
            .iter()
            .map(|m| {
                if m.by_this_plan {
                    format!("{} (already applied by this plan)", m.line)
                } else {
                    m.line.clone()
                }
            })
            .collect();
        return Err(CommandError::new(format!(
            "the platform changed since the plan was made; nothing was changed:\n  {}",
            lines.join("\n  ")
        ))
        .with_hint("make a new plan and review it"));
    }
    let differences = crate::plan::integrity::differences(saved, &fresh.plan);
    if !differences.is_empty() {
        return Err(CommandError::new(format!(
            "the plan file is not what a plan made now from the same files and platform holds (was it edited?); nothing was changed:\n  {}",
            differences.join("\n  ")
        ))
        .with_hint("apply only plan files as `tenet plan --out` wrote them; make a new plan"));
    }
    Ok(())
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

fn execute(
    target: &AnyTarget,
    plan: &Plan,
    checked: &Checked,
    args: &Args,
) -> Result<Outcome, CommandError> {
    let keys = pipeline::keys_for_plan(plan, checked, !target.capabilities().keys_required)?;
    let holder = format!(
        "tenet@{} (pid {})",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned()),
        std::process::id()
    );
    let opts = Options {
        parallelism: args.common.parallelism.max(1),
        holder,
        ..Options::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let bar = progress_bar(plan.changes.len());
    let shown = bar.clone();
    let progress: apply::Progress = Arc::new(move |d: &Done| {
        if let Some(b) = &shown {
            b.inc(1);
            b.set_message(d.object.to_string());
        }
    });
    let rt = runtime()?;
    let report: Report = rt
        .block_on(async {
            let flag = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    super::out::eprintln(
                        "\nInterrupted: finishing the changes in flight, starting no new ones...",
                    );
                    flag.store(true, Ordering::SeqCst);
                }
            });
            apply::run(target, plan, &keys, &opts, stop.clone(), progress).await
        })
        .map_err(|e| {
            let hint = (e.kind == crate::target::ErrorKind::Locked)
                .then_some("another apply is running; wait for it, or ask its holder");
            CommandError::new(format!("cannot start the apply: {}", e.message))
                .with_hint_opt(hint.map(str::to_owned))
        })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // The platform has changed by now: a closed stdout loses the summary,
    // not the outcome.
    super::out::unless_closed(print_report(&report))?;
    Ok(if report.ok() {
        Outcome::Clean
    } else {
        Outcome::Failed
    })
}

fn progress_bar(len: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}") {
        bar.set_style(style);
    }
    Some(bar)
}

fn print_report(report: &Report) -> Result<(), CommandError> {
    use crate::apply::Outcome as O;
    for d in report.changes.iter().filter(|d| d.outcome != O::Applied) {
        let what = if d.outcome == O::Failed {
            "failed"
        } else {
            "skipped"
        };
        super::out::eprintln(&format!(
            "  {what}: #{} {} {}: {}",
            d.id,
            crate::render::plan_text::verb(d.action),
            d.object,
            d.reason.as_deref().unwrap_or("")
        ));
    }
    let line = format!(
        "Apply {}: {} applied, {} failed, {} skipped.",
        if report.ok() {
            "complete"
        } else {
            "incomplete"
        },
        report.count(O::Applied),
        report.count(O::Failed),
        report.count(O::Skipped)
    );
    super::out::println(&line)?;
    if report.interrupted {
        super::out::eprintln("The apply was interrupted; run it again to finish.");
    }
    Ok(())
}
