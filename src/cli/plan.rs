//! `tenet plan [DIR]`: what applying the files would change, as text,
//! Markdown (for a pull request) or JSON. Exit 0 when nothing would change,
//! 2 when something would, 1 on error. `--out FILE` saves the plan for
//! `tenet apply FILE`.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::{CommandError, Outcome, ProfileArg, eprint_diagnostics};
use crate::pipeline::{self, PipelineError, PlanOptions};
use crate::plan::Plan;
use crate::render;
use crate::target::Target;
use crate::validate::{Checked, check_tree};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum PlanFormat {
    #[default]
    Text,
    Markdown,
    Json,
}

/// Flags shared by `plan` and `apply`.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The platform: sandbox:PATH, an http(s):// URL, scim+http(s)://HOST/BASE or openwebui+http(s)://HOST (default: TENET_ENDPOINT, then tenet.toml).
    #[arg(long, value_name = "ENDPOINT")]
    pub endpoint: Option<String>,
    /// Take over existing objects the files declare but tenet does not manage.
    #[arg(long)]
    pub adopt: bool,
    /// Requests in flight at once when reading and writing.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub parallelism: usize,
    /// The catalog to validate against when tenet.toml names none.
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// Revert acknowledged drift too (by default plan and apply leave it
    /// alone until the acknowledgement expires).
    #[arg(long)]
    pub include_acknowledged: bool,
    /// Plan (and apply) only this part of the platform: `workspaces/SLUG`
    /// (with `*` for any text, `workspaces/finance*`: those workspaces and
    /// everything in them), `users`, `roles`, `providers`, `settings`, or a
    /// pattern of their keys. Repeat or comma-separate for a union; nothing
    /// outside is changed or counted.
    #[arg(long, value_name = "SELECTOR")]
    pub only: Vec<String>,
}

impl Common {
    /// The shard `--only` names (the whole platform without it).
    pub fn shard(&self) -> Result<crate::model::shard::Shard, CommandError> {
        crate::model::shard::Shard::parse(&self.only).map_err(|e| {
            CommandError::new(format!("--only {e}")).with_hint(
                "select `workspaces/SLUG` (`*` matches any text), `users`, `roles`, `providers` or `settings`, for example `--only 'workspaces/finance*'`",
            )
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config root: a directory holding tenet.toml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub common: Common,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Save the plan to FILE, for `tenet apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Show what the files change since git revision REV (a pull request's
    /// base), in config terms; with platform access, also what is already
    /// pending on the base and what drifted.
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Plan as `apply --allow-destroy` would: a removal over the destroy
    /// threshold is not a refusal.
    #[arg(long)]
    pub allow_destroy: bool,
}

impl From<PipelineError> for CommandError {
    fn from(e: PipelineError) -> Self {
        CommandError::new(e.message).with_hint_opt(e.hint)
    }
}

/// Loads and checks the files; diagnostics are printed and become an error.
pub fn checked(dir: &std::path::Path, common: &Common) -> Result<Checked, CommandError> {
    let mut checked = check_tree(dir, common.profile.map(Into::into));
    pipeline::fit(&mut checked, common.endpoint.as_deref(), dir)?;
    if checked.has_errors() {
        eprint_diagnostics(&checked.diagnostics, &checked.loaded.sources);
        return Err(CommandError::new(format!(
            "`{}` is not valid; nothing was planned",
            dir.display()
        ))
        .with_hint("fix the problems above (tenet validate shows them too)"));
    }
    Ok(checked)
}

/// Checks, connects, reads and plans. Where the platform is known before
/// the files are loaded (the flag, the environment, or `tenet.toml` alone),
/// it is read while they load, on another core: a large tree and a large
/// platform take the longer of the two, not their sum. (Only reads: `apply`
/// takes its lock first and does not use this.)
pub fn make(
    dir: &std::path::Path,
    common: &Common,
) -> Result<(Checked, pipeline::AnyTarget, Plan, crate::model::Live), CommandError> {
    let rt = runtime()?;
    let Some((early, target)) = early_target(dir, common) else {
        let checked = checked(dir, common)?;
        let (text, target) = connect(dir, common, &checked)?;
        let (plan, live) = plan_on(&rt, &target, &checked, common, dir, text)?;
        return Ok((checked, target, plan, live));
    };
    // The read stops as soon as its result cannot be used: invalid files,
    // or files naming another platform. Waiting for it (a server that does
    // not answer takes its whole retry budget) would only delay the error.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (prepared, same, read) = std::thread::scope(|s| {
        let read = s.spawn(|| {
            rt.block_on(async {
                tokio::select! {
                    read = pipeline::read_live(&target, common.parallelism) => Some(read),
                    Ok(()) = stopped => None,
                }
            })
        });
        let prepared = checked(dir, common).and_then(|c| {
            let named = pipeline::endpoint(
                common.endpoint.as_deref(),
                c.config.platform.endpoint.as_deref(),
                dir,
            )?;
            Ok((c, named))
        });
        // The files are valid and name the platform being read.
        let same = prepared.as_ref().is_ok_and(|(c, (text, _))| {
            early.text == *text && early.profile == c.config.platform.profile
        });
        if !same {
            // The reader may have finished already; then nothing listens.
            let _ = stop.send(());
        }
        (prepared, same, read.join())
    });
    let (checked, (text, endpoint)) = prepared?;
    // A read that was stopped or whose thread failed is read again below.
    let read = read.ok().flatten();
    let (plan, live) = match read {
        // What was read is the platform the files name: plan on it.
        Some(Ok(read)) if same => {
            let opts = plan_options(common, dir, text)?;
            let sandbox = !target.capabilities().keys_required;
            rt.block_on(pipeline::make_plan_from(
                &target, &checked, sandbox, &opts, read,
            ))?
        }
        // The platform the files name did not answer: that is the error.
        Some(Err(e)) if same => return Err(e.into()),
        // The files name another platform: as usual.
        _ => {
            let target = pipeline::connect(&text, &endpoint, checked.config.platform.profile)?;
            let (plan, live) = plan_on(&rt, &target, &checked, common, dir, text)?;
            return Ok((checked, target, plan, live));
        }
    };
    Ok((checked, target, plan, live))
}

/// The endpoint and profile known before the files are loaded.
struct Early {
    text: String,
    profile: crate::model::Profile,
}

/// The platform to read while the files load: the one the flag or the
/// environment names, else `tenet.toml`'s `[platform]`, when that file
/// parses on its own. Never a sandbox that does not exist yet (opening one
/// creates it, which is for a valid config to do).
fn early_target(dir: &std::path::Path, common: &Common) -> Option<(Early, pipeline::AnyTarget)> {
    let root = dir.join(crate::config::ROOT_FILE);
    let bytes = std::fs::read(&root).ok()?;
    if bytes.len() as u64 > crate::config::MAX_FILE_BYTES {
        return None;
    }
    let table: toml::Table = toml::from_str(std::str::from_utf8(&bytes).ok()?).ok()?;
    let platform = table.get("platform").and_then(toml::Value::as_table);
    let field = |k: &str| {
        platform
            .and_then(|p| p.get(k))
            .and_then(toml::Value::as_str)
    };
    let profile = field("profile")
        .and_then(crate::model::Profile::parse)
        .or(common.profile.map(Into::into))
        .unwrap_or_default();
    let (text, endpoint) =
        pipeline::endpoint(common.endpoint.as_deref(), field("endpoint"), dir).ok()?;
    if let crate::target::Endpoint::Sandbox(path) = &endpoint
        && !path.is_file()
    {
        return None;
    }
    let target = pipeline::connect(&text, &endpoint, profile).ok()?;
    Some((Early { text, profile }, target))
}

/// The target the flags and files name, and its endpoint as written.
pub fn connect(
    dir: &std::path::Path,
    common: &Common,
    checked: &Checked,
) -> Result<(String, pipeline::AnyTarget), CommandError> {
    let (text, endpoint) = pipeline::endpoint(
        common.endpoint.as_deref(),
        checked.config.platform.endpoint.as_deref(),
        dir,
    )?;
    let target = pipeline::connect(&text, &endpoint, checked.config.platform.profile)?;
    Ok((text, target))
}

/// Reads the live state and plans the files against it.
pub fn plan_on(
    rt: &tokio::runtime::Runtime,
    target: &pipeline::AnyTarget,
    checked: &Checked,
    common: &Common,
    dir: &std::path::Path,
    endpoint: String,
) -> Result<(Plan, crate::model::Live), CommandError> {
    let opts = plan_options(common, dir, endpoint)?;
    let sandbox = !target.capabilities().keys_required;
    Ok(rt.block_on(pipeline::make_plan(target, checked, sandbox, &opts))?)
}

fn plan_options(
    common: &Common,
    dir: &std::path::Path,
    endpoint: String,
) -> Result<PlanOptions, CommandError> {
    Ok(PlanOptions {
        adopt: common.adopt,
        include_acknowledged: common.include_acknowledged,
        parallelism: common.parallelism,
        config_root: dir.display().to_string(),
        endpoint,
        only: common.shard()?,
    })
}

pub fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::new(format!("cannot start the runtime: {e}")))
}

/// Prints a plan in the chosen format on stdout.
pub fn print(plan: &Plan, format: PlanFormat) -> Result<(), CommandError> {
    let text = match format {
        PlanFormat::Text => {
            render::plan_text::render(plan, render::use_color(std::io::stdout().is_terminal()))
        }
        PlanFormat::Markdown => render::plan_markdown::render(plan, 65_000),
        PlanFormat::Json => render::plan_json::render(plan),
    };
    if text.ends_with('\n') {
        super::out::print(&text)
    } else {
        super::out::println(&text)
    }
}

/// Refusals in force with the given overrides become the command's error
/// (exit 1), each named; `outcome` says what did not happen.
pub fn refuse_if_blocked(
    plan: &Plan,
    allow_destroy: bool,
    outcome: &str,
) -> Result<(), CommandError> {
    let blocking = plan.blocking(allow_destroy);
    if blocking.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = blocking
        .iter()
        .map(|r| format!("  {} [{}]", r.message, r.code))
        .collect();
    let hint = if blocking.iter().all(|r| r.lifted_by.is_some()) {
        "review the plan; if the removals are intended, apply with --allow-destroy"
    } else {
        "protected objects are never removed; change the files"
    };
    Err(CommandError::new(format!(
        "the plan is refused; {outcome}:\n{}",
        lines.join("\n")
    ))
    .with_hint(hint))
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    if let Some(rev) = &args.base {
        return super::plan_base::run(&args, rev);
    }
    let (checked, _, plan, live) = make(&args.dir, &args.common)?;
    super::leave((checked, live));
    print(&plan, args.format)?;
    // A plan apply would refuse fails here too, so the pull request whose
    // merge would break the apply fails its check.
    refuse_if_blocked(&plan, args.allow_destroy, "nothing was saved or changed")?;
    if let Some(path) = &args.out {
        let json =
            serde_json::to_string_pretty(&plan).map_err(|e| CommandError::new(e.to_string()))?;
        std::fs::write(path, json + "\n").map_err(|e| {
            CommandError::new(format!("cannot write the plan to {}: {e}", path.display()))
        })?;
        super::out::eprintln(&format!(
            "Saved the plan to {}; apply it with `tenet apply {}`.",
            path.display(),
            path.display()
        ));
    }
    Ok(if plan.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Changes
    })
}
