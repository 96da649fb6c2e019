//! `tenet serve`: the reference platform over HTTP, and
//! `tenet serve token create` to mint API tokens for it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::{CommandError, Outcome, ProfileArg};
use crate::platform::engine::{Engine, Profile, Scope};
use crate::platform::server::{AppState, Faults, serve};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    /// The platform database (SQLite); created on first use.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8750", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Catalog of a new database (an existing one keeps its own).
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// Answer this share of requests (0..1) with 500 or 503; some writes fail
    /// after they committed, as a lost response.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub fail_rate: f64,
    /// Delay every request by this many milliseconds.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub latency_ms: u64,
    /// Requests per second allowed per token (429 with Retry-After beyond).
    #[arg(long, value_name = "RPS")]
    pub rate_limit: Option<f64>,
    /// Seed of the injected faults, for repeatable runs.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,
    /// How long an invitation stays valid (MagOneAI: 7 days), for example
    /// `7d`, `1h` or `0s` (every invitation expires at once).
    #[arg(long, default_value = "7d", value_name = "DURATION", value_parser = duration)]
    pub invitation_ttl: std::time::Duration,
}

fn duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (for example 7d, 12h or 0s)"))
}

#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (only once) on stdout.
    Create {
        /// The token's name: the actor recorded in the audit log.
        name: String,
        /// read: GET only; write: everything.
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// The platform database.
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        /// Catalog of a new database (an existing one keeps its own, and a
        /// different one is an error), as `tenet serve --profile`.
        #[arg(long, value_enum)]
        profile: Option<ProfileArg>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    Read,
    Write,
}

fn open(db: &std::path::Path, profile: Option<ProfileArg>) -> Result<Engine, CommandError> {
    // `--profile` is shared with the commands that validate; the reference
    // platform serves only the contract's profiles.
    let profile = match profile.map(crate::model::Profile::from) {
        None => None,
        Some(p) => Some(Profile::parse(p.as_str()).ok_or_else(|| {
            CommandError::new(format!("the reference platform has no {p} profile")).with_hint(
                format!(
                    "pass --profile {}",
                    Profile::ALL.map(Profile::as_str).join(" or ")
                ),
            )
        })?),
    };
    Engine::open(db, profile).map_err(|e| {
        CommandError::new(format!(
            "cannot open the platform database {}: {}",
            db.display(),
            e.detail
        ))
    })
}

pub fn run(args: Args) -> Result<Outcome, CommandError> {
    if let Some(ServeCommand::Token(TokenCommand::Create {
        name,
        scope,
        db,
        profile,
    })) = args.command
    {
        let engine = open(&db, profile.or(args.profile))?;
        let scope = match scope {
            ScopeArg::Read => Scope::Read,
            ScopeArg::Write => Scope::Write,
        };
        let shown = engine
            .create_token(&name, scope, super::out::println)
            .map_err(|e| {
                CommandError::new(e.detail).with_hint("token names are unique; pick another")
            })?;
        if let Err(e) = shown {
            // Nobody could read it, so it was not kept. A closed stdout
            // still ends quietly (nobody is reading); another failure says
            // that no token was made.
            if e.closed {
                return Err(e);
            }
            return Err(CommandError::new(format!(
                "the token could not be shown ({e}), so it was not created"
            ))
            .with_hint("run it again with stdout to a terminal, a file or a pipe that reads it"));
        }
        super::out::eprintln(&format!(
            "created {} token `{name}`; it is shown only once (the platform keeps a hash)",
            scope.as_str()
        ));
        return Ok(Outcome::Clean);
    }
    let Some(db) = args.db else {
        return Err(CommandError::new("`tenet serve` needs a database")
            .with_hint("pass --db FILE, for example --db platform.db"));
    };
    if !(0.0..=1.0).contains(&args.fail_rate) {
        return Err(CommandError::new("--fail-rate must be between 0 and 1"));
    }
    let engine = open(&db, args.profile)?.with_invitation_ttl(args.invitation_ttl.as_secs());
    let faults = Faults {
        fail_rate: args.fail_rate,
        latency_ms: args.latency_ms,
        rate_limit: args.rate_limit,
        seed: args.seed,
    };
    let profile = engine.profile();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::new(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| CommandError::new(format!("cannot listen on {}: {e}", args.listen)).with_hint("is another server using the port? try --listen 127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        super::out::eprintln(&format!("tenet serve: listening on http://{addr} (profile {profile}, database {})", db.display()));
        if faults.fail_rate > 0.0 || faults.latency_ms > 0 || faults.rate_limit.is_some() {
            super::out::eprintln(&format!(
                "tenet serve: fault injection on: fail rate {}, latency {} ms, rate limit {:?} rps, seed {}",
                faults.fail_rate, faults.latency_ms, faults.rate_limit, faults.seed
            ));
        }
        serve(listener, AppState::new(engine, faults), shutdown_signal()).await?;
        super::out::eprintln("tenet serve: stopped");
        Ok(Outcome::Clean)
    })
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
