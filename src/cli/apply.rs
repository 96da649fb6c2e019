//! `tenet apply [DIR | PLAN_FILE]`: make the platform match. It takes the
//! apply lock first, then reads and plans under it (so it never plans
//! against another apply's half-applied state), and holds it, renewed,
//! until the last write. From a directory it shows the plan and asks for
//! confirmation (or takes `--auto-approve`); from a saved plan it plans
//! again and applies only if that is exactly the saved plan. Ctrl-C or
//! SIGTERM stops new changes and releases the lock. Exit 0 when everything
//! applied, 1 otherwise.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::plan::{
    Common, PlanFormat, checked, connect, plan_on, print, refuse_if_blocked, runtime,
};
use super::{CommandError, Outcome};
use crate::apply::lock::{self, Holder, LockOptions};
use crate::apply::{self, Done, Options, Report, Stop};
use crate::pipeline::{self, AnyTarget};
use crate::plan::{FORMAT_VERSION, Plan};
use crate::target::{ErrorKind, Target, TargetError};
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
    /// Wait up to this long (`30s`, `10m`) for a lock another apply holds,
    /// instead of failing at once.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
    pub lock_timeout: Duration,
    /// Send at most RATE requests a second while applying (writes and the
    /// reads that check them), across all changes in flight. Set it a
    /// little under the platform's limit: reads and lock renewals share it.
    #[arg(long, value_name = "RATE")]
    pub max_writes_per_second: Option<f64>,
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    if let Some(r) = args.max_writes_per_second
        && !(r.is_finite() && r > 0.0)
    {
        return Err(CommandError::new(format!(
            "--max-writes-per-second is {r}, not a positive number of requests a second"
        ))
        .with_hint("for example `--max-writes-per-second 9` under a limit of 10 a second"));
    }
    if args.source.is_file() {
        return from_file(&args);
    }
    let checked = checked(&args.source, &args.common)?;
    let (text, target) = connect(&args.source, &args.common, &checked)?;
    let target = Arc::new(target);
    let rt = runtime()?;
    let shard = args.common.shard()?;
    under_lock(&rt, &target, &args, &shard, |stop, executing| {
        let (plan, _) = plan_on(&rt, &target, &checked, &args.common, &args.source, text)?;
        // Applying is the point, not the output: a closed stdout does not
        // stop it.
        super::out::unless_closed(print(&plan, PlanFormat::Text))?;
        if plan.is_empty() {
            return Ok(Outcome::Clean);
        }
        refuse_if_blocked(&plan, args.allow_destroy, "nothing was changed")?;
        if !args.auto_approve {
            confirm()?;
        }
        execute(&rt, &target, &plan, &checked, &args, stop, executing)
    })
}

/// Runs `body` holding the apply lock (when the target has locks), with
/// Ctrl-C and SIGTERM handled, and releases the lock however `body` ends.
fn under_lock(
    rt: &tokio::runtime::Runtime,
    target: &Arc<AnyTarget>,
    args: &Args,
    shard: &crate::model::shard::Shard,
    body: impl FnOnce(&Arc<Stop>, &Arc<AtomicBool>) -> Result<Outcome, CommandError>,
) -> Result<Outcome, CommandError> {
    let stop = Arc::new(Stop::default());
    let executing = Arc::new(AtomicBool::new(false));
    let holder = Holder::this_process();
    let held = if target.capabilities().locks {
        let opts = LockOptions {
            name: lock::name_for(shard),
            ttl: lock_ttl()?,
            wait: args.lock_timeout,
        };
        let held = rt
            .block_on(lock::acquire(target.clone(), &holder, &opts, stop.clone()))
            .map_err(not_locked)?;
        if let Some(dead) = &held.broke {
            super::out::eprintln(&format!(
                "Released the apply lock of `{dead}`: that tenet process on this host is no longer running."
            ));
        }
        tracing::info!(holder = %held.holder(), "took the apply lock");
        Some(held)
    } else {
        None
    };
    let lock_holder = held
        .as_ref()
        .map(|h| (h.name().to_owned(), h.holder().to_owned()));
    let signals = rt.spawn(on_signals(
        target.clone(),
        lock_holder,
        stop.clone(),
        executing.clone(),
    ));
    let result = body(&stop, &executing);
    signals.abort();
    if let Some(held) = held {
        rt.block_on(held.release());
    }
    result
}

/// The lock's time to live: `TENET_LOCK_TTL` (`90s`, or seconds), else
/// one minute.
fn lock_ttl() -> Result<Duration, CommandError> {
    let Some(text) = std::env::var("TENET_LOCK_TTL")
        .ok()
        .filter(|t| !t.is_empty())
    else {
        return Ok(lock::DEFAULT_TTL);
    };
    let ttl = text
        .parse::<u64>()
        .map(Duration::from_secs)
        .or_else(|_| humantime::parse_duration(&text))
        .ok()
        .filter(|d| (Duration::from_secs(1)..=Duration::from_secs(3600)).contains(d));
    ttl.ok_or_else(|| {
        CommandError::new(format!(
            "TENET_LOCK_TTL is `{text}`, not a time to live between 1 s and 1 h"
        ))
        .with_hint("write it in seconds (`90`) or with a unit (`2m`)")
    })
}

/// The lock could not be taken: say who has it and how to go on.
fn not_locked(e: TargetError) -> CommandError {
    if e.kind != ErrorKind::Locked {
        return CommandError::new(format!(
            "cannot take the apply lock: {}; nothing was changed",
            e.message
        ));
    }
    let holder = e.holder.clone().unwrap_or_else(|| "?".to_owned());
    CommandError::new(format!(
        "another apply holds the lock: {}; nothing was changed",
        e.message
    ))
    .with_hint(format!(
        "wait for it (`--lock-timeout 10m` waits up to ten minutes); if that apply died on another machine, release its lock with `tenet unlock '{holder}'` (a lock left behind also expires within its time to live, a minute by default)"
    ))
}

/// Ctrl-C or SIGTERM: while changes run, the first one stops new changes
/// (those in flight finish, then the lock is released as usual); before
/// that, or a second time, the lock is released and tenet exits at once.
async fn on_signals(
    target: Arc<AnyTarget>,
    holder: Option<(String, String)>,
    stop: Arc<Stop>,
    executing: Arc<AtomicBool>,
) {
    let mut asked = 0;
    loop {
        let Some(name) = signal().await else {
            return;
        };
        asked += 1;
        if executing.load(Ordering::SeqCst) && asked == 1 {
            super::out::eprintln(&format!(
                "\nInterrupted ({name}): finishing the changes in flight, starting no new ones..."
            ));
            stop.request(format!("interrupted by {name}"));
            continue;
        }
        if let Some((lock, h)) = &holder {
            let _ = target.unlock(lock, h).await;
        }
        super::out::eprintln(&format!(
            "\nInterrupted ({name}); the apply lock was released."
        ));
        std::process::exit(1);
    }
}

/// The next Ctrl-C or SIGTERM, by name; `None` when they cannot be watched.
async fn signal() -> Option<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok()?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.ok().map(|()| "Ctrl-C"),
            _ = term.recv() => Some("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
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
    let target = Arc::new(pipeline::connect(
        &text,
        &endpoint,
        checked.config.platform.profile,
    )?);
    let rt = runtime()?;
    // The comparison runs under the lock: nothing moves between it and
    // the writes.
    let shard = shard_of(&plan)?;
    if !args.common.only.is_empty() && args.common.shard()? != shard {
        return Err(CommandError::new(format!(
            "this plan covers {}, not what --only names; nothing was changed",
            if shard.is_whole() {
                "the whole platform".to_owned()
            } else {
                shard.texts().join(", ")
            }
        ))
        .with_hint("a saved plan applies to the shard it was made for: leave out --only"));
    }
    under_lock(&rt, &target, args, &shard, |stop, executing| {
        let fresh = fresh_plan(&rt, &target, &checked, &plan, &text, args)?;
        verify_saved(&plan, &fresh)?;
        if fresh.plan.is_empty() {
            super::out::eprintln(crate::render::plan_text::NO_CHANGES);
            return Ok(Outcome::Clean);
        }
        // The fresh plan's refusals: a saved file cannot talk them away.
        refuse_if_blocked(&fresh.plan, args.allow_destroy, "nothing was changed")?;
        execute(&rt, &target, &fresh.plan, &checked, args, stop, executing)
    })
}

/// The plan made again, now, from the same files with the same options,
/// and the live state it was made from.
struct Fresh {
    plan: Plan,
    live: crate::model::Live,
}

fn fresh_plan(
    rt: &tokio::runtime::Runtime,
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
        only: shard_of(saved)?,
    };
    let sandbox = !target.capabilities().keys_required;
    let (plan, live) = rt.block_on(pipeline::make_plan(target, checked, sandbox, &opts))?;
    Ok(Fresh { plan, live })
}

/// The shard a saved plan was made for.
fn shard_of(plan: &Plan) -> Result<crate::model::shard::Shard, CommandError> {
    crate::model::shard::Shard::parse(&plan.options.only).map_err(|e| {
        CommandError::new(format!("the plan's --only {e}; nothing was changed"))
            .with_hint("make a new plan with `tenet plan --out FILE`")
    })
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
    rt: &tokio::runtime::Runtime,
    target: &AnyTarget,
    plan: &Plan,
    checked: &Checked,
    args: &Args,
    stop: &Stop,
    executing: &AtomicBool,
) -> Result<Outcome, CommandError> {
    let keys = pipeline::keys_for_plan(plan, checked, !target.capabilities().keys_required)?;
    let blobs = pipeline::blobs_for_plan(plan, checked)?;
    let opts = Options {
        parallelism: args.common.parallelism.max(1),
        max_writes_per_second: args.max_writes_per_second,
        ..Options::default()
    };
    let bar = progress_bar(plan.changes.len());
    let shown = bar.clone();
    let progress: apply::Progress = Arc::new(move |d: &Done| {
        if let Some(b) = &shown {
            b.inc(1);
            b.set_message(d.object.to_string());
        }
    });
    executing.store(true, Ordering::SeqCst);
    let issued = apply::sink::Issued::default();
    let report: Report = rt.block_on(apply::run(
        target,
        plan,
        apply::Sends {
            keys: &keys,
            blobs: &blobs,
            issued: &issued,
        },
        &opts,
        stop,
        progress,
    ));
    executing.store(false, Ordering::SeqCst);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // The platform has changed by now: a closed stdout loses the summary,
    // not the outcome.
    super::out::unless_closed(print_report(&report))?;
    super::out::unless_closed(print_issued(plan, &report, &issued))?;
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

/// Where the values of new API keys went: printed here once (sink
/// `stdout`), in a file, or nowhere (said, with what to do).
fn print_issued(
    plan: &Plan,
    report: &Report,
    issued: &apply::sink::Issued,
) -> Result<(), CommandError> {
    let mut reached = std::collections::BTreeSet::new();
    for (id, value) in issued.take_printed() {
        super::out::println(&format!(
            "New value of {id} (shown this once): {}",
            value.expose()
        ))?;
        reached.insert(id);
    }
    for (id, path) in issued.take_written() {
        super::out::println(&format!("New value of {id} written to {path} (mode 0600)."))?;
        reached.insert(id);
    }
    for id in issued.take_lost() {
        super::out::eprintln(&format!(
            "  warning: the new value of {id} went nowhere (the files name no sink for it): it is lost; set `sink` and rotate the key"
        ));
        reached.insert(id);
    }
    let applied: std::collections::BTreeSet<usize> = report
        .changes
        .iter()
        .filter(|d| d.outcome == apply::Outcome::Applied)
        .map(|d| d.id)
        .collect();
    for c in plan.changes.iter().filter(|c| applied.contains(&c.id)) {
        if apply::issues_secret(&c.change) && !reached.contains(&c.change.object) {
            super::out::eprintln(&format!(
                "  warning: {} was written but its new value never reached tenet (the answer was lost): rotate the key",
                c.change.object
            ));
        }
    }
    Ok(())
}

fn print_report(report: &Report) -> Result<(), CommandError> {
    use crate::apply::Outcome as O;
    let mut not_started = 0;
    for d in report.changes.iter().filter(|d| d.outcome != O::Applied) {
        // Changes the stop kept from starting are counted, not listed:
        // the reason is the same for all and said once below.
        if d.outcome == O::Skipped
            && report.stopped.is_some()
            && d.attempts == 0
            && d.reason
                .as_deref()
                .is_some_and(|r| r.starts_with("not started: "))
        {
            not_started += 1;
            continue;
        }
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
    if not_started > 0 {
        super::out::eprintln(&format!(
            "  skipped: {not_started} change(s) not started, because the apply stopped early"
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
    if let Some(why) = &report.stopped {
        super::out::eprintln(&format!(
            "The apply stopped early: {why}. Run it again to finish."
        ));
    }
    Ok(())
}
