//! The executor: runs a plan's changes against a target, phase by phase,
//! with at most `parallelism` writes in flight. Every write carries the
//! stamp it was planned against: a target with versions sends it as
//! `If-Match`; for one without, the object is re-read and its content
//! compared right before the write. Transient failures (rate limits, server
//! errors, no answer) are retried with backoff and jitter, honouring
//! `Retry-After`, and a write whose answer was lost is checked on the
//! platform before it is sent again, so nothing is created twice. A failed
//! change skips its dependents and not the rest. Ctrl-C stops new changes
//! from starting; those in flight finish.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::diff::{Action, Change, Object};
use crate::model::live::LAST_APPLIED_LABEL;
use crate::model::{ObjectId, Slug};
use crate::plan::{Plan, PlannedChange};
use crate::target::{ErrorKind, Keys as KeyValues, Target, TargetError, Write, WriteOp, backoff};

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
    pub object: ObjectId,
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
    // Without locks (the plan warned) there is nothing to take.
    if !target.capabilities().locks {
        return Ok(execute(target, plan, keys, opts, stop, progress).await);
    }
    // Re-acquiring our own lock is a renewal, so a lost answer is harmless.
    retrying(opts.attempts, || {
        target.lock(LOCK_NAME, &opts.holder, opts.lock_ttl)
    })
    .await?;
    let report = execute(target, plan, keys, opts, stop, progress).await;
    let released = retrying(opts.attempts, || async {
        match target.unlock(LOCK_NAME, &opts.holder).await {
            // Released by an attempt whose answer was lost.
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
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
                        object: c.change.object.clone(),
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
                        object: c.change.object.clone(),
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
            for done in futures::future::join_all(futs).await {
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
    let probe = target.probe(&c.object).await?;
    let labelled = target.capabilities().ownership(c.kind) == crate::target::Ownership::Labels;
    Ok(match (c.action, probe) {
        (Action::Delete, None) => true,
        (Action::Delete, Some(_)) => false,
        (_, None) => false,
        (Action::Archive, Some(m)) => c
            .version
            .as_ref()
            .is_some_and(|old| m.stamp.moved_on_from(old)),
        // Written by us: our digest, and (for an update) a newer version than
        // the one planned against, since an update may not change the digest.
        (_, Some(m)) if labelled => {
            m.labels.get(LAST_APPLIED_LABEL) == c.labels.get(LAST_APPLIED_LABEL)
                && c.version
                    .as_ref()
                    .is_none_or(|old| m.stamp.moved_on_from(old))
        }
        // Stamped by content: the live content is what the change writes.
        (_, Some(m)) => match (&c.desired, &m.stamp) {
            (Some(d), crate::model::Stamp::Digest(now)) => *now == d.digest(),
            _ => false,
        },
    })
}

/// For a target without versions: the object is re-read right before the
/// write, and must still be what the plan saw.
async fn unchanged<T: Target>(target: &T, c: &Change) -> Result<(), TargetError> {
    if target.capabilities().versions {
        return Ok(());
    }
    // A rename reads the object under its old name.
    let now = target.probe(c.from.as_ref().unwrap_or(&c.object)).await?;
    let moved = match (&c.version, &now) {
        (Some(planned), Some(m)) => m.stamp != *planned,
        (Some(_), None) => true,
        (None, Some(_)) => c.action == Action::Create,
        (None, None) => false,
    };
    if moved {
        return Err(TargetError::new(
            ErrorKind::PreconditionFailed,
            format!("`{}` is not what the plan saw", c.object),
        ));
    }
    Ok(())
}

/// The typed write that carries out a change (`fields` are the names of
/// `c.fields`; `keys` the provider's resolved key values, if it sends them).
pub fn write_of<'a>(c: &'a Change, fields: &'a [&'a str], keys: Option<&'a [String]>) -> Write<'a> {
    let op = match (c.action, &c.desired) {
        // An archive carries no desired object: it must not read as a delete.
        (Action::Archive, _) => WriteOp::Archive,
        (Action::Delete, _) | (_, None) => WriteOp::Delete,
        (Action::Create, Some(o)) => WriteOp::Create(o),
        (Action::Update | Action::Adopt, Some(o)) => WriteOp::Update { desired: o, fields },
        (Action::Rename, Some(o)) => match &c.from {
            Some(from) => WriteOp::Rename {
                from,
                desired: o,
                fields,
            },
            // Not from a plan tenet made (it always says from what): an
            // update of the new name, which the platform refuses as missing.
            None => WriteOp::Update { desired: o, fields },
        },
    };
    Write {
        object: &c.object,
        op,
        expected: c.version.as_ref(),
        labels: &c.labels,
        unset_labels: &c.unset_labels,
        keys: keys.map(KeyValues),
    }
}

async fn one<T: Target>(target: &T, pc: &PlannedChange, keys: &Keys, opts: &Options) -> Done {
    let c = &pc.change;
    let fields: Vec<&str> = c.fields.iter().map(|f| f.field.as_str()).collect();
    let write = write_of(c, &fields, keys_for(c, keys));
    let mut attempts = 0;
    let mut maybe_landed = false;
    let result = loop {
        attempts += 1;
        let sent = match unchanged(target, c).await {
            Ok(()) => target.write(&write).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => break Ok(()),
            Err(e) => {
                // After a lost answer, a conflict on retry may be our own
                // earlier write: look before calling it a failure.
                let lost = e.retryable()
                    || (maybe_landed
                        && matches!(
                            e.kind,
                            ErrorKind::Conflict
                                | ErrorKind::PreconditionFailed
                                | ErrorKind::NotFound
                        ));
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
        Ok(()) => tracing::debug!(object = %c.object, attempts, "applied"),
        Err(e) => tracing::info!(object = %c.object, attempts, error = %e.message, "failed"),
    }
    match result {
        Ok(()) => Done {
            id: pc.id,
            object: c.object.clone(),
            action: c.action,
            outcome: Outcome::Applied,
            reason: None,
            attempts,
        },
        Err(e) => Done {
            id: pc.id,
            object: c.object.clone(),
            action: c.action,
            outcome: Outcome::Failed,
            reason: Some(e.reason()),
            attempts,
        },
    }
}
