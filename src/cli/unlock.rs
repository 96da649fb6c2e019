//! `tenet unlock HOLDER [DIR]`: releases the apply lock a dead apply left
//! behind, by its holder id (as `terraform force-unlock` takes a lock id),
//! on any target that has locks. The id is the one an apply that found the
//! lock taken printed; a lock held by anyone else is left alone. A tenet
//! process that died on this host needs none of this: the next apply
//! releases its lock by itself.

use std::path::PathBuf;

use super::plan::{Common, checked, connect, runtime};
use super::{CommandError, Outcome, ProfileArg};
use crate::target::{ErrorKind, Target};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The holder id of the lock to release (`tenet@HOST:PID:NONCE...`),
    /// as a refused apply showed it.
    pub holder: String,
    /// The config root: a directory holding tenet.toml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The platform (default: TENET_ENDPOINT, then tenet.toml).
    #[arg(long, value_name = "ENDPOINT")]
    pub endpoint: Option<String>,
    /// The catalog to validate against when tenet.toml names none.
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// The shard whose lock to release, as the apply named it with `--only`.
    #[arg(long, value_name = "SELECTOR")]
    pub only: Vec<String>,
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    let common = Common {
        endpoint: args.endpoint.clone(),
        adopt: false,
        parallelism: 1,
        profile: args.profile,
        include_acknowledged: false,
        only: args.only.clone(),
    };
    let lock = crate::apply::lock::name_for(&common.shard()?);
    let checked = checked(&args.dir, &common)?;
    let (text, target) = connect(&args.dir, &common, &checked)?;
    if !target.capabilities().locks {
        return Err(CommandError::new(format!(
            "{} has no locks, so there is nothing to unlock",
            target.capabilities().platform
        ))
        .with_hint("applies to this target are not mutually excluded: run one at a time"));
    }
    let released = runtime()?.block_on(target.unlock(&lock, &args.holder));
    match released {
        Ok(()) => {
            super::out::println(&format!(
                "Released the apply lock of `{}` on {text}.",
                args.holder
            ))?;
            Ok(Outcome::Clean)
        }
        Err(e) if e.kind == ErrorKind::NotFound => {
            super::out::println(&format!(
                "The apply lock on {text} is not held; nothing to release."
            ))?;
            Ok(Outcome::Clean)
        }
        Err(e) if e.kind == ErrorKind::Locked => {
            let holder = e.holder.unwrap_or_else(|| "someone else".to_owned());
            Err(CommandError::new(format!(
                "the apply lock on {text} is held by `{holder}`, not `{}`; nothing was released",
                args.holder
            ))
            .with_hint(format!(
                "make sure that apply is dead before releasing its lock: `tenet unlock '{holder}'`"
            )))
        }
        Err(e) => Err(CommandError::new(format!(
            "cannot release the apply lock on {text}: {}",
            e.message
        ))),
    }
}
