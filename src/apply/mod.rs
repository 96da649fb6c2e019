//! The executor: runs a plan's changes against a target, phase by phase,
//! with at most `parallelism` writes in flight. Every write carries its
//! `If-Match`; transient failures (429, 5xx, no answer) are retried with
//! backoff and jitter, honouring `Retry-After`, and a write whose answer was
//! lost is checked on the platform before it is sent again, so nothing is
//! created twice. A failed change skips its dependents and not the rest.
//! Ctrl-C stops new changes from starting; those in flight finish.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::diff::{Action, Change, Object};
use crate::model::Slug;
use crate::model::live::LAST_APPLIED_LABEL;
use crate::plan::{Plan, PlannedChange};
use crate::target::http::backoff;
use crate::target::{Target, TargetError, convert};

/// The lock every apply holds.
pub const LOCK_NAME: &str = "tenet-apply";

/// How an apply runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub parallelism: usize,
    /// Attempts per change for transient failures.
    pub attempts: u32,
    /// Who holds the lock (shown to a concurrent apply).
    pub holder: String,
    pub lock_ttl: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            parallelism: 8,
            attempts: 6,
            holder: "tenet".to_owned(),
            lock_ttl: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Applied,
    Failed,
    Skipped,
}

/// What happened to one change.
#[derive(Debug, Clone, Serialize)]
pub struct Done {
    pub id: usize,
    pub resource: String,
    pub action: Action,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub attempts: u32,
}

/// The end of an apply.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub changes: Vec<Done>,
    pub interrupted: bool,
}

impl Report {
    pub fn count(&self, o: Outcome) -> usize {
        self.changes.iter().filter(|d| d.outcome == o).count()
    }

    pub fn ok(&self) -> bool {
        self.count(Outcome::Failed) == 0 && self.count(Outcome::Skipped) == 0 && !self.interrupted
    }
}

/// Resolved API keys per provider, for the changes that send them.
pub type Keys = BTreeMap<Slug, Vec<String>>;

/// Called as each change finishes (for progress bars and logs).
pub type Progress = Arc<dyn Fn(&Done) + Send + Sync>;

/// Runs `plan` against `target` while holding the platform lock.
pub async fn run<T: Target>(
    target: &T,
    plan: &Plan,
    keys: &Keys,
    opts: &Options,
    stop: Arc<AtomicBool>,
    progress: Progress,
) -> Result<Report, TargetError> {
    // Re-acquiring our own lock is a renewal, so a lost answer is harmless.
    retrying(opts.attempts, || {
        target.lock(LOCK_NAME, &opts.holder, opts.lock_ttl)
    })
    .await?;
    let report = execute(target, plan, keys, opts, stop, progress).await;
    let released = retrying(opts.attempts, || async {
        match target.unlock(LOCK_NAME, &opts.holder).await {
            // Released by an attempt whose answer was lost.
            Err(e) if e.status == Some(404) => Ok(()),
            other => other,
        }
    })
    .await;
    if let Err(e) = released {
        tracing::warn!("could not release the apply lock: {e}");
    }
    Ok(report)
}

/// Runs `f` until it succeeds or fails for good, backing off between tries.
async fn retrying<F, Fut>(attempts: u32, mut f: F) -> Result<(), TargetError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), TargetError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if e.retryable() && attempt < attempts => {
                tokio::time::sleep(backoff(attempt, e.retry_after)).await
            }
            other => return other,
        }
    }
}

async fn execute<T: Target>(
    target: &T,
    plan: &Plan,
    keys: &Keys,
    opts: &Options,
    stop: Arc<AtomicBool>,
    progress: Progress,
) -> Report {
    let mut report = Report::default();
    let mut failed: BTreeSet<usize> = BTreeSet::new();
    let phases: BTreeSet<u8> = plan.changes.iter().map(|c| c.phase).collect();
    for phase in phases {
        let batch: Vec<&PlannedChange> = plan.changes.iter().filter(|c| c.phase == phase).collect();
        let mut runnable = Vec::new();
        for c in batch {
            if stop.load(Ordering::SeqCst) {
                report.interrupted = true;
            }
            let blocked = c.depends_on.iter().find(|d| failed.contains(d));
            let reason = if report.interrupted {
                Some("interrupted before it started".to_owned())
            } else {
                blocked.map(|d| format!("skipped: it needs change #{d}, which did not apply"))
            };
            match reason {
                Some(reason) => {
                    failed.insert(c.id);
                    let done = Done {
                        id: c.id,
                        resource: c.change.resource.clone(),
                        action: c.change.action,
                        outcome: Outcome::Skipped,
                        reason: Some(reason),
                        attempts: 0,
                    };
                    progress(&done);
                    report.changes.push(done);
                }
                None => runnable.push(c),
            }
        }
        // Bounded concurrency within the phase.
        for chunk in runnable.chunks(opts.parallelism.max(1)) {
            if stop.load(Ordering::SeqCst) {
                report.interrupted = true;
            }
            let mut futs = Vec::new();
            for c in chunk {
                if report.interrupted {
                    failed.insert(c.id);
                    let done = Done {
                        id: c.id,
                        resource: c.change.resource.clone(),
                        action: c.change.action,
                        outcome: Outcome::Skipped,
                        reason: Some("interrupted before it started".to_owned()),
                        attempts: 0,
                    };
                    progress(&done);
                    report.changes.push(done);
                    continue;
                }
                futs.push(one(target, c, keys, opts));
            }
            for done in crate::target::http::join_all(futs).await {
                if done.outcome != Outcome::Applied {
                    failed.insert(done.id);
                }
                progress(&done);
                report.changes.push(done);
            }
        }
    }
    report.changes.sort_by_key(|d| d.id);
    report
}

/// The keys a change must send, if any.
fn keys_for<'k>(change: &Change, keys: &'k Keys) -> Option<&'k [String]> {
    match &change.desired {
        Some(Object::Provider(p)) => keys.get(&p.id).map(Vec::as_slice),
        _ => None,
    }
}

/// Did a write whose answer was lost happen? Compares the live object with
/// what the change would have left.
async fn landed<T: Target>(target: &T, c: &Change) -> Result<bool, TargetError> {
    let probe = target.probe(&c.resource).await?;
    Ok(match (c.action, probe) {
        (Action::Delete, None) => true,
        (Action::Delete, Some(_)) => false,
        (_, None) => false,
        (Action::Archive, Some((v, _))) => c.version.is_some_and(|old| v > old),
        // Written by us: our digest, and (for an update) a newer version than
        // the one planned against, since an update may not change the digest.
        (_, Some((v, labels))) => {
            labels.get(LAST_APPLIED_LABEL) == c.labels.get(LAST_APPLIED_LABEL)
                && c.version.is_none_or(|old| v > old)
        }
    })
}

async fn one<T: Target>(target: &T, pc: &PlannedChange, keys: &Keys, opts: &Options) -> Done {
    let c = &pc.change;
    let op = convert::op(c, keys_for(c, keys));
    let mut attempts = 0;
    let mut maybe_landed = false;
    let result = loop {
        attempts += 1;
        match target.execute(&op).await {
            Ok(()) => break Ok(()),
            Err(e) => {
                // After a lost answer, a conflict on retry may be our own
                // earlier write: look before calling it a failure.
                let lost =
                    e.retryable() || (maybe_landed && matches!(e.status, Some(409 | 412 | 404)));
                if lost {
                    match landed(target, c).await {
                        Ok(true) => break Ok(()),
                        Ok(false) if e.retryable() && attempts < opts.attempts => {
                            maybe_landed = true;
                            tokio::time::sleep(backoff(attempts, e.retry_after)).await;
                            continue;
                        }
                        Ok(false) => break Err(e),
                        Err(probe) if attempts < opts.attempts => {
                            maybe_landed = true;
                            tokio::time::sleep(backoff(attempts, probe.retry_after)).await;
                            continue;
                        }
                        Err(_) => break Err(e),
                    }
                }
                break Err(e);
            }
        }
    };
    match &result {
        Ok(()) => tracing::debug!(resource = %c.resource, attempts, "applied"),
        Err(e) => tracing::info!(resource = %c.resource, attempts, error = %e.message, "failed"),
    }
    match result {
        Ok(()) => Done {
            id: pc.id,
            resource: c.resource.clone(),
            action: c.action,
            outcome: Outcome::Applied,
            reason: None,
            attempts,
        },
        Err(e) => Done {
            id: pc.id,
            resource: c.resource.clone(),
            action: c.action,
            outcome: Outcome::Failed,
            reason: Some(match e.status {
                Some(412) => format!("{} (it changed since the plan was made)", e.message),
                Some(s) => format!("{s} {}: {}", e.code, e.message),
                None => e.message,
            }),
            attempts,
        },
    }
}
