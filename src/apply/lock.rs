//! The apply lock, held from before the live state is read until the last
//! write, so two applies never interleave and no apply plans against
//! another's half-applied state.
//!
//! A holder is named `tenet@HOST:PID:NONCE[:RUN]`: unique per process (the
//! random nonce tells two runners with the same host name and pid apart)
//! and, in CI, naming the run. The lock is taken for a short time to live
//! and renewed in the background while the apply runs, so a killed apply
//! frees it within one TTL, and a long one never loses it. A lock whose
//! holder is a tenet process on this host that is no longer running is
//! released at once (`kill -9` leaves no wait on the same machine); any
//! other holder is waited for up to `wait`, or released by hand with
//! `tenet unlock HOLDER`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Stop;
use crate::target::{ErrorKind, Target, TargetError, backoff};

/// The lock an apply of the whole platform holds.
pub const LOCK_NAME: &str = "tenet-apply";

/// The lock an apply of `shard` holds: `tenet-apply` for the whole
/// platform, `tenet-apply:SELECTORS` for a shard (so shards apply in
/// parallel), a digest of them when they are long.
pub fn name_for(shard: &crate::model::shard::Shard) -> String {
    if shard.is_whole() {
        return LOCK_NAME.to_owned();
    }
    let selectors = shard.texts().join(",");
    let name = format!("{LOCK_NAME}:{selectors}");
    if name.len() <= 120 && name.chars().all(|c| !c.is_control()) {
        return name;
    }
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(selectors.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{LOCK_NAME}:sha256-{hex}")
}

/// The default time to live; renewed every third of it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// Who holds (or asks for) the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    id: String,
    host: String,
    pid: u32,
    nonce: String,
}

impl Holder {
    /// This process: the host's name, the pid, a fresh random nonce and the
    /// CI run when one is known (GitHub Actions, GitLab CI, Jenkins).
    pub fn this_process() -> Holder {
        let host = word(&gethostname::gethostname().to_string_lossy());
        let host = if host.is_empty() {
            "unknown-host".to_owned()
        } else {
            host
        };
        let pid = std::process::id();
        let nonce = format!("{:08x}", fastrand::u32(..));
        let mut id = format!("tenet@{host}:{pid}:{nonce}");
        if let Some(run) = ci_run() {
            id.push(':');
            id.push_str(&run);
        }
        Holder {
            id,
            host,
            pid,
            nonce,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `other` (a holder id a platform reported) is a tenet
    /// process on this host that is no longer running: then its lock can
    /// be released without waiting. Unknown (another host, another format,
    /// no way to look) is never dead.
    pub fn is_dead_here(&self, other: &str) -> bool {
        let Some(them) = Parsed::of(other) else {
            return false;
        };
        if them.host != self.host {
            return false;
        }
        if them.pid == self.pid {
            // Our own pid: it is us only with our nonce.
            return them.nonce != self.nonce;
        }
        process_gone(them.pid)
    }
}

/// A holder id taken apart.
struct Parsed<'a> {
    host: &'a str,
    pid: u32,
    nonce: &'a str,
}

impl<'a> Parsed<'a> {
    fn of(id: &'a str) -> Option<Parsed<'a>> {
        let rest = id.strip_prefix("tenet@")?;
        let mut parts = rest.split(':');
        let host = parts.next()?;
        let pid = parts.next()?.parse().ok()?;
        let nonce = parts.next()?;
        (!host.is_empty() && !nonce.is_empty()).then_some(Parsed { host, pid, nonce })
    }
}

/// Text safe inside a holder id: letters, digits, `.`, `-` and `_`.
fn word(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(64)
        .collect()
}

fn ci_run() -> Option<String> {
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| word(&v))
            .filter(|v| !v.is_empty())
    };
    if let Some(run) = var("GITHUB_RUN_ID") {
        let attempt = var("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".to_owned());
        return Some(format!("gh-{run}-{attempt}"));
    }
    if let Some(job) = var("CI_JOB_ID") {
        return Some(format!("gl-{job}"));
    }
    var("BUILD_TAG")
}

/// Whether no process of this program runs as `pid` on this machine: no
/// such process, a zombie (killed, not yet reaped by its parent), or a
/// process of another program (the pid was reused). Only Linux can tell
/// (from `/proc`); elsewhere nothing is ever called gone.
fn process_gone(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    let Ok(me) = std::fs::read_to_string(proc.join("self/stat")) else {
        return false;
    };
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        Ok(them) => match (stat_fields(&them), stat_fields(&me)) {
            (Some((comm, state)), Some((my_comm, _))) => {
                matches!(state, 'Z' | 'X' | 'x') || comm != my_comm
            }
            _ => false,
        },
        Err(_) => !proc.join(pid.to_string()).exists(),
    }
}

/// The command name and state of a `/proc/PID/stat` line
/// (`PID (COMM) STATE ...`; the name may hold spaces and parentheses).
fn stat_fields(stat: &str) -> Option<(&str, char)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((comm, state))
}

/// How the lock is taken.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// The lock's name (see [`name_for`]).
    pub name: String,
    pub ttl: Duration,
    /// How long to wait for a lock another live holder has.
    pub wait: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self {
            name: LOCK_NAME.to_owned(),
            ttl: DEFAULT_TTL,
            wait: Duration::ZERO,
        }
    }
}

/// A lock this process holds, renewed in the background until released.
pub struct Held<T: Target + 'static> {
    target: Arc<T>,
    name: String,
    holder: String,
    renewal: tokio::task::JoinHandle<()>,
    /// The holder whose dead lock was released to take this one.
    pub broke: Option<String>,
}

/// Takes the apply lock for `holder`, or says who has it. Must run inside
/// the tokio runtime that is to renew it.
pub async fn acquire<T: Target + 'static>(
    target: Arc<T>,
    holder: &Holder,
    opts: &LockOptions,
    stop: Arc<Stop>,
) -> Result<Held<T>, TargetError> {
    let started = Instant::now();
    let mut broke = None;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match target.lock(&opts.name, holder.id(), opts.ttl).await {
            Ok(()) => break,
            Err(e) => e,
        };
        match err.kind {
            ErrorKind::Locked => {
                let them = err.holder.clone().unwrap_or_default();
                if broke.is_none() && holder.is_dead_here(&them) {
                    match target.unlock(&opts.name, &them).await {
                        Ok(()) => {}
                        Err(e) if e.kind == ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                    tracing::warn!(holder = %them, "released the lock of a tenet process on this host that is no longer running");
                    broke = Some(them);
                    continue;
                }
                let waited = started.elapsed();
                if waited >= opts.wait || stop.requested() {
                    return Err(err);
                }
                tokio::time::sleep((opts.wait - waited).min(Duration::from_secs(1))).await;
            }
            _ if err.retryable() && attempt < 4 => {
                tokio::time::sleep(backoff(attempt, err.retry_after)).await
            }
            _ => return Err(err),
        }
    }
    let renewal = tokio::spawn(renew(
        target.clone(),
        opts.name.clone(),
        holder.id().to_owned(),
        opts.ttl,
        stop,
    ));
    Ok(Held {
        target,
        name: opts.name.clone(),
        holder: holder.id().to_owned(),
        renewal,
        broke,
    })
}

/// Renews every third of the TTL; a lock found taken over or expired stops
/// the apply (no new change starts), since exclusion is lost.
async fn renew<T: Target>(
    target: Arc<T>,
    name: String,
    holder: String,
    ttl: Duration,
    stop: Arc<Stop>,
) {
    let every = (ttl / 3).max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        match target.renew_lock(&name, &holder, ttl).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::Locked || e.kind == ErrorKind::NotFound => {
                stop.request(format!(
                    "the apply lock was lost ({}); no new change was started",
                    e.message
                ));
                return;
            }
            // Tried again at the next tick, well before the TTL runs out.
            Err(e) => tracing::info!(error = %e.message, "could not renew the apply lock"),
        }
    }
}

impl<T: Target + 'static> Held<T> {
    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops renewing and releases the lock (a few quick tries: a lock not
    /// released expires within its TTL anyway).
    pub async fn release(self) {
        self.renewal.abort();
        for attempt in 1..=3 {
            match self.target.unlock(&self.name, &self.holder).await {
                Ok(()) => return,
                Err(e) if e.kind == ErrorKind::NotFound => return,
                Err(e) if e.retryable() && attempt < 3 => {
                    tokio::time::sleep(backoff(attempt, None).min(Duration::from_secs(1))).await
                }
                Err(e) => {
                    tracing::warn!("could not release the apply lock: {e}");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_ids_are_unique_per_process_and_parse_back() {
        let a = Holder::this_process();
        let b = Holder::this_process();
        assert_ne!(a.id(), b.id(), "the nonce tells two holders apart");
        let p = Parsed::of(a.id()).expect("parses");
        assert_eq!(p.pid, std::process::id());
        assert!(!p.host.is_empty());
        assert!(a.id().starts_with("tenet@"));
    }

    #[test]
    fn stat_lines_give_the_name_and_state() {
        assert_eq!(stat_fields("42 (tenet) S 1 2 3"), Some(("tenet", 'S')));
        assert_eq!(stat_fields("42 (a (b) c) Z 1"), Some(("a (b) c", 'Z')));
        assert_eq!(stat_fields("garbage"), None);
    }

    #[test]
    fn only_a_gone_tenet_process_on_this_host_is_dead() {
        let me = Holder::this_process();
        // Another host, another format: never dead.
        assert!(!me.is_dead_here("tenet@elsewhere-host-x:1:abcd"));
        assert!(!me.is_dead_here("tenet@localhost (pid 1)"));
        assert!(!me.is_dead_here("someone"));
        // Our own pid with another nonce is a previous process.
        let same_pid = format!("tenet@{}:{}:other", me.host, me.pid);
        assert!(me.is_dead_here(&same_pid));
        assert!(!me.is_dead_here(me.id()));
        // A pid no process has.
        let gone = format!("tenet@{}:{}:n", me.host, u32::MAX - 7);
        assert!(me.is_dead_here(&gone));
        // A live process of another program (pid 1 is never this test).
        assert!(me.is_dead_here(&format!("tenet@{}:1:n", me.host)) || me.pid == 1);
    }
}
