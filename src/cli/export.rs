//! `tenet export --out DIR`: reads the live platform and writes a config
//! tree describing it (in TOML or KDL), so a team can bring an existing
//! platform under tenet: `tenet plan DIR` on the result reports no changes.
//! The endpoint comes from `--endpoint` or `TENET_ENDPOINT` (there are no
//! files to read it from). Refuses a non-empty DIR unless `--force`. Exit 0
//! when the files were written, 1 on error.

use std::path::{Path, PathBuf};

use super::plan::runtime;
use super::{CommandError, Outcome, ProfileArg, eprint_diagnostics};
use crate::export::{self, Format, Options, and_list};
use crate::model::Profile;
use crate::pipeline::{self, AnyTarget};
use crate::target::{Endpoint, Target};
use crate::validate::check_tree;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ExportFormat {
    #[default]
    Toml,
    Kdl,
}

impl From<ExportFormat> for Format {
    fn from(f: ExportFormat) -> Format {
        match f {
            ExportFormat::Toml => Format::Toml,
            ExportFormat::Kdl => Format::Kdl,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The language of every file but tenet.toml (which is always TOML).
    #[arg(long, value_enum, default_value_t = ExportFormat::Toml)]
    pub format: ExportFormat,
    /// The directory to write the config tree to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The platform: sandbox:PATH, an http(s):// URL, scim+http(s)://HOST/BASE or openwebui+http(s)://HOST (default: TENET_ENDPOINT).
    #[arg(long, value_name = "ENDPOINT")]
    pub endpoint: Option<String>,
    /// The catalog of the sandbox to open (an HTTP platform says its own).
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// Requests in flight at once when reading.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub parallelism: usize,
    /// Write into a non-empty DIR, replacing the config files (*.toml,
    /// *.kdl) already there; other files are kept.
    #[arg(long)]
    pub force: bool,
}

/// Opens the target. A sandbox must exist already (export never creates a
/// platform); without `--profile`, whichever catalog it was created with
/// is used.
fn connect(
    text: &str,
    endpoint: &Endpoint,
    flag: Option<Profile>,
) -> Result<AnyTarget, CommandError> {
    if let Endpoint::Sandbox(path) = endpoint
        && !path.is_file()
    {
        return Err(CommandError::new(format!(
            "there is no sandbox platform at {}; nothing was exported",
            path.display()
        ))
        .with_hint(
            "check the path after sandbox: (relative paths are relative to the current directory)",
        ));
    }
    let candidates: Vec<Profile> = match (endpoint, flag) {
        (_, Some(p)) => vec![p],
        (Endpoint::Sandbox(_), None) => Profile::ALL.to_vec(),
        (Endpoint::Http(_) | Endpoint::Scim(_), None) => vec![Profile::default()],
        (Endpoint::OpenWebUi(_), None) => vec![Profile::Openwebui],
    };
    let mut first_error = None;
    for p in candidates {
        match pipeline::connect(text, endpoint, p) {
            Ok(t) => return Ok(t),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error
        .map(CommandError::from)
        .unwrap_or_else(|| CommandError::new("cannot connect to the platform")))
}

/// Live objects that do not carry tenet's managed label and could (quotas,
/// settings and a workspace's default project need no adoption; a kind the
/// target has nowhere to mark is matched by key instead).
fn unmanaged(
    live: &crate::model::Live,
    caps: &crate::target::Capabilities,
    catalog: &crate::model::Catalog,
) -> usize {
    use crate::model::ObjectId;
    let default = catalog
        .projects
        .as_ref()
        .map(|r| r.default_project.as_str());
    live.meta
        .iter()
        .filter(|(id, _)| match id {
            ObjectId::Settings | ObjectId::Quotas(_) => false,
            ObjectId::Project(_, p) if Some(p.as_str()) == default => false,
            id => caps.ownership(id.kind()) != crate::target::Ownership::Nowhere,
        })
        .filter(|(_, m)| !m.managed())
        .count()
}

/// The bytes of the branding images the live settings name, from the
/// platform.
async fn images(
    target: &AnyTarget,
    live: &crate::model::Live,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, CommandError> {
    let mut out = std::collections::BTreeMap::new();
    let Some(settings) = &live.state.settings else {
        return Ok(out);
    };
    for slot in crate::model::image::ImageSlot::ALL {
        let Some(digest) = settings.branding.image(slot) else {
            continue;
        };
        if out.contains_key(digest) {
            continue;
        }
        let got = target
            .image(digest)
            .await
            .map_err(pipeline::PipelineError::from)?;
        if let Some(bytes) = got {
            out.insert(digest.clone(), bytes);
        }
    }
    Ok(out)
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    let out = &args.out;
    if out.exists() && !out.is_dir() {
        return Err(CommandError::new(format!(
            "`{}` is not a directory; nothing was exported",
            out.display()
        )));
    }
    if export::is_non_empty_dir(out) && !args.force {
        return Err(CommandError::new(format!(
            "`{}` is not empty; nothing was exported",
            out.display()
        ))
        .with_hint(
            "choose a new or empty directory, or pass --force to replace the config files in it",
        ));
    }
    let from_env = std::env::var("TENET_ENDPOINT")
        .ok()
        .filter(|s| !s.is_empty());
    if args.endpoint.is_none() && from_env.is_none() {
        return Err(CommandError::new("no platform endpoint to export from")
            .with_hint("pass --endpoint or set TENET_ENDPOINT (sandbox:PATH, an https:// URL, scim+https://... or openwebui+https://...)"));
    }
    let (text, endpoint) = pipeline::endpoint(args.endpoint.as_deref(), None, Path::new("."))?;
    let flag = args.profile.map(Profile::from);
    let target = connect(&text, &endpoint, flag)?;
    let rt = runtime()?;
    let catalog = rt
        .block_on(target.catalog())
        .map_err(pipeline::PipelineError::from)?;
    if let Some(p) = flag.filter(|p| *p != catalog.profile) {
        super::out::eprintln(&format!(
            "warning: the platform speaks the {} catalog; exporting with that profile, not {p}",
            catalog.profile
        ));
    }
    let live = rt
        .block_on(target.read(args.parallelism.max(1)))
        .map_err(pipeline::PipelineError::from)?;

    let images = rt.block_on(images(&target, &live))?;
    let opts = Options {
        format: args.format.into(),
        endpoint: export::endpoint_for_files(&text, out),
        archive: target.capabilities().archive,
        profile: catalog.profile,
        images,
    };
    let exported = export::export(&live, &opts);
    let removed = export::write(out, &exported, args.force)
        .map_err(|e| CommandError::new(e.message).with_hint_opt(e.hint))?;

    // The files must stand on their own: check them as `tenet validate` would.
    let mut checked = check_tree(out, None);
    pipeline::fit(&mut checked, Some(&text), out).map_err(CommandError::from)?;
    if !checked.diagnostics.is_empty() {
        eprint_diagnostics(&checked.diagnostics, &checked.loaded.sources);
    }
    if checked.has_errors() {
        return Err(CommandError::new(format!(
            "the exported tree in `{}` does not validate",
            out.display()
        ))
        .with_hint(
            "the platform holds something the config language cannot express as read; fix the files above by hand",
        ));
    }

    for path in &removed {
        super::out::eprintln(&format!(
            "Removed {} (not part of the export).",
            path.display()
        ));
    }
    super::out::eprintln(&format!(
        "Exported {} to {}.",
        exported.counts.summary(),
        out.display()
    ));
    if !exported.key_vars.is_empty() {
        super::out::eprintln(&format!(
            "API keys are never exported: set {} to the key values before `tenet plan {}`.",
            and_list(&exported.key_vars),
            out.display()
        ));
    }
    let n = unmanaged(&live, target.capabilities(), &catalog);
    if n > 0 {
        super::out::eprintln(&format!(
            "{n} live object{} not managed by tenet yet: after reviewing, `tenet apply {} --adopt` labels {} as managed.",
            if n == 1 { " is" } else { "s are" },
            out.display(),
            if n == 1 { "it" } else { "them" }
        ));
    }
    Ok(Outcome::Clean)
}
