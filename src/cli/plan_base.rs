//! `tenet plan --base REV`: what a pull request changes. The config at REV
//! is read from the repository's object store (no checkout) and compared
//! with the files as they are, in config terms, which needs no platform
//! access (pull requests from forks get no secrets). With platform access
//! the platform's own differences are shown apart: changes already pending
//! on the base, and drift made outside tenet.

use std::collections::BTreeSet;

use super::plan::{Args, PlanFormat, checked, print, refuse_if_blocked, runtime};
use super::{CommandError, Outcome, eprint_diagnostics};
use crate::drift;
use crate::pipeline::{self, PlanOptions};
use crate::target::{Endpoint, Target};
use crate::validate::{Checked, check_loaded};

/// The config at `rev`, checked.
fn base_config(args: &Args, rev: &str) -> Result<(Checked, String), CommandError> {
    let (files, commit) = crate::git::files_at(&args.dir, rev).map_err(|e| {
        CommandError::new(e).with_hint("pass a revision git knows, for example --base origin/main")
    })?;
    let base = check_loaded(
        crate::config::load_files(&args.dir, files),
        args.common.profile.map(Into::into),
    );
    if base.has_errors() {
        eprint_diagnostics(&base.diagnostics, &base.loaded.sources);
        return Err(CommandError::new(format!(
            "the config at {rev} is not valid, so it cannot be compared"
        ))
        .with_hint("compare against a revision whose config validates"));
    }
    Ok((base, commit))
}

/// The platform's differences that this change did not make, if the
/// platform can be reached with the credentials at hand.
fn platform_report(
    args: &Args,
    head: &Checked,
    ours: &BTreeSet<crate::model::ObjectId>,
) -> Result<Option<(crate::plan::Plan, drift::Report)>, CommandError> {
    let Ok((text, endpoint)) = pipeline::endpoint(
        args.common.endpoint.as_deref(),
        head.config.platform.endpoint.as_deref(),
        &args.dir,
    ) else {
        return Ok(None);
    };
    let reachable = match &endpoint {
        Endpoint::Sandbox(path) => path.exists(),
        Endpoint::Http(_) | Endpoint::Scim(_) | Endpoint::OpenWebUi(_) => {
            std::env::var("TENET_TOKEN").is_ok_and(|t| !t.is_empty())
        }
    };
    if !reachable {
        return Ok(None);
    }
    let target = pipeline::connect(&text, &endpoint, head.config.platform.profile)?;
    let opts = PlanOptions {
        adopt: args.common.adopt,
        include_acknowledged: args.common.include_acknowledged,
        parallelism: args.common.parallelism,
        config_root: args.dir.display().to_string(),
        endpoint: text.clone(),
        only: args.common.shard()?,
    };
    let rt = runtime()?;
    let (plan, live) = rt.block_on(pipeline::make_plan(
        &target,
        head,
        !target.capabilities().keys_required,
        &opts,
    ))?;
    // Everything that differs on the platform: the pull request's own
    // objects count too when they drifted (a reviewer must see that), but
    // their pending changes are the pull request itself.
    let mut report = rt.block_on(pipeline::drift_report(
        &target,
        &plan,
        &live,
        &head.config,
        &text,
    ))?;
    report.pending.retain(|f| !ours.contains(&f.object));
    Ok(Some((plan, report)))
}

pub fn run(args: &Args, rev: &str) -> Result<Outcome, CommandError> {
    let head = checked(&args.dir, &args.common)?;
    let (base, commit) = base_config(args, rev)?;
    let short = &commit[..commit.len().min(12)];
    let label = format!("{}{rev} ({short})", crate::render::plan_text::CONFIG_TERMS);
    let change = pipeline::config_plan(&base, &head, &label);
    let ours: BTreeSet<crate::model::ObjectId> = change
        .changes
        .iter()
        .map(|c| c.change.object.clone())
        .collect();
    let reached = platform_report(args, &head, &ours)?;
    let platform = reached.as_ref().map(|(_, r)| r);
    match args.format {
        PlanFormat::Json => {
            #[derive(serde::Serialize)]
            struct Out<'a> {
                version: u32,
                base: &'a str,
                base_commit: &'a str,
                change: crate::render::plan_json::JsonPlan<'a>,
                platform: Option<&'a drift::Report>,
            }
            let out = Out {
                version: 1,
                base: rev,
                base_commit: &commit,
                change: crate::render::plan_json::json(&change),
                platform,
            };
            super::out::println(
                &serde_json::to_string_pretty(&out)
                    .map_err(|e| CommandError::new(e.to_string()))?,
            )?;
        }
        format => {
            print(&change, format)?;
            let md = format == PlanFormat::Markdown;
            match &platform {
                Some(r) if !r.clean() => {
                    let note = if md {
                        "\n### Not from this change\n\nThe platform also differs from the files in ways this change did not cause:\n"
                    } else {
                        "\nNot from this change: the platform also differs from the files:\n"
                    };
                    super::out::print(note)?;
                    let body = if md {
                        crate::render::drift::markdown(r)
                    } else {
                        crate::render::drift::text(r)
                    };
                    super::out::print(&body)?;
                }
                Some(_) => {}
                None => {
                    let note = "No platform access here (no token or no sandbox database): this is the change in config terms only.";
                    if md {
                        super::out::println(&format!("\n> {note}"))?;
                    } else {
                        super::out::eprintln(note);
                    }
                }
            }
        }
    }
    // What apply would refuse fails the check: the platform's plan when it
    // was reached, else the change itself in config terms.
    let judged = reached.as_ref().map_or(&change, |(p, _)| p);
    refuse_if_blocked(judged, args.allow_destroy, "nothing was saved or changed")?;
    // The saved plan is the platform's (what apply will do), never the
    // config-terms comparison.
    match (&args.out, &reached) {
        (Some(path), Some((plan, _))) => {
            let json =
                serde_json::to_string_pretty(plan).map_err(|e| CommandError::new(e.to_string()))?;
            std::fs::write(path, json + "\n").map_err(|e| {
                CommandError::new(format!("cannot write the plan to {}: {e}", path.display()))
            })?;
            super::out::eprintln(&format!("Saved the platform plan to {}.", path.display()));
        }
        (Some(path), None) => super::out::eprintln(&format!(
            "No plan saved to {}: there is no platform access here.",
            path.display()
        )),
        _ => {}
    }
    Ok(if change.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Changes
    })
}
