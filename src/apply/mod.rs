//! The executor: runs a plan's changes against a target, phase by phase,
//! with at most `parallelism` writes in flight (a stream, no per-batch
//! barrier). Every write carries the stamp it was planned against: a
//! target with versions sends it as `If-Match`; for one without, the object
//! is re-read and its content compared right before the write.
//!
//! Failure is bounded. Transient failures (rate limits, server errors, no
//! answer) are retried with backoff and jitter, honouring `Retry-After`,
//! within a retry budget per change. A write whose outcome is unknown (a
//! timeout, a connection lost after the request left, a server error) is
//! looked for on the platform before it is sent again, so nothing is
//! created twice; a rate limit or a refused connection did nothing, so it
//! is re-sent without looking. A circuit breaker stops the whole apply when
//! the platform stops answering (or says its storage is full or failing):
//! no new change starts, retries stop, and the report says why. A failed
//! change skips its dependents and not the rest. Ctrl-C stops new changes
//! from starting; those in flight finish. The apply lock is taken by the
//! caller, before planning (see [`lock`]).

pub mod lock;
pub mod pace;
pub mod sink;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;

use crate::diff::{Action, Change};
use crate::model::ObjectId;
use crate::model::live::LAST_APPLIED_LABEL;
use crate::plan::{Plan, PlannedChange};
pub use crate::target::Blobs;
use crate::target::{
    ErrorKind, Keys as KeyValues, Sink, Target, TargetError, Uploads, Write, WriteOp, backoff,
};

/// How an apply runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub parallelism: usize,
    /// Attempts per change for transient failures.
    pub attempts: u32,
    /// The most time one change may spend retrying.
    pub retry_budget: Duration,
    /// The platform is taken for gone when nothing it answered for this
    /// long, and the last requests in a row had no answer.
    pub silence: Duration,
    /// At most this many requests a second (writes and their checks).
    pub max_writes_per_second: Option<f64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            parallelism: 8,
            attempts: 6,
            retry_budget: Duration::from_secs(60),
            silence: Duration::from_secs(10),
            max_writes_per_second: None,
        }
    }
}

/// Why an apply stops early, shared by whoever may ask for it (Ctrl-C, the
/// lock's renewal, the circuit breaker).
#[derive(Debug, Default)]
pub struct Stop {
    state: Mutex<Option<(String, bool)>>,
}

impl Stop {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, bool)>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// No new change starts; those in flight finish. The first reason
    /// given is the one reported.
    pub fn request(&self, reason: impl Into<String>) {
        self.lock().get_or_insert((reason.into(), false));
    }

    /// No new change starts, and those in flight stop retrying.
    pub fn abort(&self, reason: impl Into<String>) {
        let mut s = self.lock();
        match &mut *s {
            Some((_, aborting)) => *aborting = true,
            None => *s = Some((reason.into(), true)),
        }
    }

    pub fn requested(&self) -> bool {
        self.lock().is_some()
    }

    fn aborting(&self) -> bool {
        self.lock().as_ref().is_some_and(|(_, a)| *a)
    }

    pub fn reason(&self) -> Option<String> {
        self.lock().as_ref().map(|(r, _)| r.clone())
    }
}

/// The circuit breaker: counts failures without an answer in a row across
/// every change; a success or any other answer resets it.
struct Breaker<'s> {
    stop: &'s Stop,
    silence: Duration,
    state: Mutex<(u32, Instant)>,
}

impl<'s> Breaker<'s> {
    fn new(stop: &'s Stop, silence: Duration) -> Self {
        Self {
            stop,
            silence,
            state: Mutex::new((0, Instant::now())),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, (u32, Instant)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn answered(&self) {
        *self.state() = (0, Instant::now());
    }

    fn saw(&self, e: &TargetError) {
        match e.kind {
            ErrorKind::Broken => self.stop.abort(format!(
                "the platform cannot take writes: {}; the apply stopped at once",
                e.reason()
            )),
            ErrorKind::Unavailable => {
                let mut s = self.state();
                s.0 += 1;
                let quiet = s.1.elapsed();
                if s.0 >= 2 && quiet >= self.silence {
                    self.stop.abort(format!(
                        "the platform stopped answering: nothing for {} s, {} requests in a row failed (last: {})",
                        quiet.as_secs(),
                        s.0,
                        e.reason()
                    ));
                }
            }
            _ => self.answered(),
        }
    }

    fn tripped(&self) -> bool {
        self.stop.aborting()
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

impl Done {
    fn skipped(c: &PlannedChange, reason: String) -> Done {
        Done {
            id: c.id,
            object: c.change.object.clone(),
            action: c.change.action,
            outcome: Outcome::Skipped,
            reason: Some(reason),
            attempts: 0,
        }
    }
}

/// The end of an apply.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub changes: Vec<Done>,
    /// Why the apply stopped before the end (interrupted, the platform
    /// gone, the lock lost), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl Report {
    pub fn count(&self, o: Outcome) -> usize {
        self.changes.iter().filter(|d| d.outcome == o).count()
    }

    pub fn ok(&self) -> bool {
        self.count(Outcome::Failed) == 0
            && self.count(Outcome::Skipped) == 0
            && self.stopped.is_none()
    }
}

/// Resolved secrets per object (a provider's API keys, an identity
/// provider's client secret), for the changes that send them.
pub type Keys = BTreeMap<ObjectId, Vec<String>>;

/// What an apply sends besides the plan: resolved secrets, the files the
/// plan names by digest, and where issued secrets go.
#[derive(Clone, Copy)]
pub struct Sends<'a> {
    pub keys: &'a Keys,
    pub blobs: &'a Blobs,
    pub issued: &'a sink::Issued,
}

/// Called as each change finishes (for progress bars and logs).
pub type Progress = Arc<dyn Fn(&Done) + Send + Sync>;

/// Runs `plan` against `target`. The caller holds the apply lock.
pub async fn run<T: Target>(
    target: &T,
    plan: &Plan,
    sends: Sends<'_>,
    opts: &Options,
    stop: &Stop,
    progress: Progress,
) -> Report {
    let Sends {
        keys,
        blobs,
        issued,
    } = sends;
    let breaker = Breaker::new(stop, opts.silence);
    let pacer = pace::Pacer::new(opts.max_writes_per_second);
    let mut report = Report::default();
    let mut failed: BTreeSet<usize> = BTreeSet::new();
    let phases: BTreeSet<u8> = plan.changes.iter().map(|c| c.phase).collect();
    for phase in phases {
        let mut runnable = Vec::new();
        for c in plan.changes.iter().filter(|c| c.phase == phase) {
            let blocked = c.depends_on.iter().find(|d| failed.contains(d));
            let reason = match (stop.reason(), blocked) {
                (Some(why), _) => Some(format!("not started: {why}")),
                (None, Some(d)) => Some(format!(
                    "skipped: it needs change #{d}, which did not apply"
                )),
                (None, None) => None,
            };
            match reason {
                Some(reason) => {
                    failed.insert(c.id);
                    let done = Done::skipped(c, reason);
                    progress(&done);
                    report.changes.push(done);
                }
                None => runnable.push(c),
            }
        }
        let (breaker, pacer) = (&breaker, &pacer);
        let mut finish = |done: Done| {
            if done.outcome != Outcome::Applied {
                failed.insert(done.id);
            }
            progress(&done);
            report.changes.push(done);
        };
        let batch = target.capabilities().batch;
        if batch > 1 {
            // Sent together, a batch at a time; what fails in a batch is
            // retried on its own.
            for chunk in runnable.chunks(batch) {
                for done in batched(
                    target,
                    chunk,
                    (keys, blobs, issued),
                    opts,
                    breaker,
                    pacer,
                    stop,
                )
                .await
                {
                    finish(done);
                }
            }
        } else {
            // At most `parallelism` in flight; each starts as another ends.
            let mut finished = futures::stream::iter(runnable)
                .map(|c| async move {
                    match stop.reason() {
                        Some(why) => Done::skipped(c, format!("not started: {why}")),
                        None => {
                            one(target, c, (keys, blobs, issued), opts, breaker, pacer, None).await
                        }
                    }
                })
                .buffer_unordered(opts.parallelism.max(1));
            while let Some(done) = finished.next().await {
                finish(done);
            }
        }
    }
    report.stopped = stop.reason();
    report.changes.sort_by_key(|d| d.id);
    report
}

/// The keys a change must send, if any.
fn keys_for<'k>(change: &Change, keys: &'k Keys) -> Option<&'k [String]> {
    change.desired.as_ref()?;
    keys.get(&change.object).map(Vec::as_slice)
}

/// Did a write whose answer was lost happen? Compares the live object with
/// what the change would have left.
async fn landed<T: Target>(
    target: &T,
    c: &Change,
    pacer: &pace::Pacer,
) -> Result<bool, TargetError> {
    pacer.turn().await;
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
            m.last_applied_text().as_ref() == c.labels.get(LAST_APPLIED_LABEL)
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
async fn unchanged<T: Target>(
    target: &T,
    c: &Change,
    pacer: &pace::Pacer,
) -> Result<(), TargetError> {
    if target.capabilities().versions {
        return Ok(());
    }
    pacer.turn().await;
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

/// Before a write is sent: the object is still what the plan saw (where
/// the target has no versions), and the write's slot has come.
async fn ready<T: Target>(target: &T, c: &Change, pacer: &pace::Pacer) -> Result<(), TargetError> {
    unchanged(target, c, pacer).await?;
    pacer.turn().await;
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
        sink: None,
        uploads: None,
    }
}

/// The branding images a change sends, by slot and digest: those of a
/// settings creation, or of the image fields the change sets.
pub fn images_sent(c: &Change) -> Vec<(crate::model::image::ImageSlot, &String)> {
    let Some(crate::model::Object::Settings(s)) = &c.desired else {
        return Vec::new();
    };
    crate::model::image::ImageSlot::ALL
        .into_iter()
        .filter(|slot| {
            c.action == Action::Create
                || c.fields
                    .iter()
                    .any(|f| f.field == format!("branding.{}", slot.field()))
        })
        .filter_map(|slot| Some((slot, s.branding.image(slot)?)))
        .collect()
}

/// The files a change names and must send first (a digest the files no
/// longer have was refused before the apply began).
fn uploads_for<'b>(c: &Change, blobs: &'b Blobs) -> Vec<(&'b str, &'b [u8])> {
    images_sent(c)
        .into_iter()
        .filter_map(|(_, d)| blobs.get_key_value(d))
        .map(|(d, b)| (d.as_str(), b.as_slice()))
        .collect()
}

/// Whether a change makes the platform issue a secret (a new API key's
/// value): a creation, or a rotation.
pub fn issues_secret(c: &Change) -> bool {
    matches!(c.object, ObjectId::ApiKey(..))
        && (c.action == Action::Create || c.fields.iter().any(|f| f.field == "rotation"))
}

/// Where the files say a change's new value goes.
fn key_sink(c: &Change) -> Option<&crate::model::KeySink> {
    match &c.desired {
        Some(crate::diff::Object::ApiKey(k)) => k.sink.as_ref(),
        _ => None,
    }
}

/// The names of the fields a change writes.
fn field_names(c: &Change) -> Vec<&str> {
    c.fields.iter().map(|f| f.field.as_str()).collect()
}

/// Runs `chunk` as one batch of writes (for a target whose capabilities
/// allow it): each change checked as [`one`] checks it, the writes sent
/// together, and each outcome then taken from there by [`one`], which
/// retries what failed, on its own.
async fn batched<T: Target>(
    target: &T,
    chunk: &[&PlannedChange],
    (keys, blobs, issued): (&Keys, &Blobs, &sink::Issued),
    opts: &Options,
    breaker: &Breaker<'_>,
    pacer: &pace::Pacer,
    stop: &Stop,
) -> Vec<Done> {
    if let Some(why) = stop.reason() {
        return chunk
            .iter()
            .map(|c| Done::skipped(c, format!("not started: {why}")))
            .collect();
    }
    let fields: Vec<Vec<&str>> = chunk.iter().map(|pc| field_names(&pc.change)).collect();
    let uploads: Vec<Vec<(&str, &[u8])>> = chunk
        .iter()
        .map(|pc| uploads_for(&pc.change, blobs))
        .collect();
    // The first attempt of each: refused before sending, or sent.
    let mut first: Vec<Option<Result<(), TargetError>>> = Vec::with_capacity(chunk.len());
    let delivers: Vec<_> = chunk
        .iter()
        .map(|pc| {
            let c = &pc.change;
            move |v: &str| issued.deliver(&c.object, key_sink(c), v)
        })
        .collect();
    let mut writes = Vec::with_capacity(chunk.len());
    for (((pc, fields), deliver), ups) in chunk.iter().zip(&fields).zip(&delivers).zip(&uploads) {
        let c = &pc.change;
        match ready(target, c, pacer).await {
            Ok(()) => {
                let mut w = write_of(c, fields, keys_for(c, keys));
                w.uploads = (!ups.is_empty()).then_some(Uploads(ups));
                if issues_secret(c) {
                    w.sink = Some(Sink(deliver));
                }
                writes.push(w);
                first.push(None);
            }
            Err(e) => first.push(Some(Err(e))),
        }
    }
    let mut sent = target.write_batch(&writes).await.into_iter();
    let mut out = Vec::with_capacity(chunk.len());
    for (pc, refused) in chunk.iter().zip(first) {
        let attempt = match refused {
            Some(r) => r,
            None => sent.next().unwrap_or_else(|| {
                Err(TargetError::new(
                    ErrorKind::Unavailable,
                    "the target answered fewer writes than it was sent",
                ))
            }),
        };
        out.push(
            one(
                target,
                pc,
                (keys, blobs, issued),
                opts,
                breaker,
                pacer,
                Some(attempt),
            )
            .await,
        );
    }
    out
}

/// Carries out one change, retrying as the failure allows. `first` is the
/// outcome of a first attempt already made (in a batch), if any.
async fn one<T: Target>(
    target: &T,
    pc: &PlannedChange,
    (keys, blobs, issued): (&Keys, &Blobs, &sink::Issued),
    opts: &Options,
    breaker: &Breaker<'_>,
    pacer: &pace::Pacer,
    mut first: Option<Result<(), TargetError>>,
) -> Done {
    let c = &pc.change;
    let fields = field_names(c);
    let deliver = |v: &str| issued.deliver(&c.object, key_sink(c), v);
    let ups = uploads_for(c, blobs);
    let mut write = write_of(c, &fields, keys_for(c, keys));
    write.uploads = (!ups.is_empty()).then_some(Uploads(&ups));
    if issues_secret(c) {
        write.sink = Some(Sink(&deliver));
    }
    let started = Instant::now();
    let mut attempts = 0;
    // An earlier attempt's outcome is unknown: it may have landed.
    let mut maybe_landed = false;
    let result = loop {
        attempts += 1;
        let sent = match first.take() {
            Some(made) => made,
            None => match ready(target, c, pacer).await {
                Ok(()) => target.write(&write).await,
                Err(e) => Err(e),
            },
        };
        let e = match sent {
            Ok(()) => {
                breaker.answered();
                break Ok(());
            }
            Err(e) => e,
        };
        breaker.saw(&e);
        // A rate limit holds every writer, not only this one.
        if e.kind == ErrorKind::RateLimited
            && let Some(d) = e.retry_after
        {
            pacer.hold(d);
        }
        // Look before sending again only when the write may have happened:
        // its outcome is unknown, or a retry after an unknown outcome is
        // refused as if it had.
        let look = e.outcome_unknown()
            || (maybe_landed
                && matches!(
                    e.kind,
                    ErrorKind::Conflict | ErrorKind::PreconditionFailed | ErrorKind::NotFound
                ));
        // Whether it landed is still unknown: the look itself failed.
        let mut unknown = false;
        if look && !breaker.tripped() {
            match landed(target, c, pacer).await {
                Ok(true) => {
                    breaker.answered();
                    break Ok(());
                }
                Ok(false) => breaker.answered(),
                Err(probe) => {
                    breaker.saw(&probe);
                    unknown = true;
                }
            }
        }
        maybe_landed |= e.outcome_unknown();
        if !e.retryable() && !unknown {
            break Err(e);
        }
        let wait = backoff(attempts, e.retry_after);
        let spent = started.elapsed();
        if breaker.tripped() {
            break Err(e);
        }
        if attempts >= opts.attempts || spent + wait > opts.retry_budget {
            let mut e = e;
            e.message = format!(
                "{} (gave up after {attempts} attempt(s) in {} s)",
                e.message,
                spent.as_secs()
            );
            break Err(e);
        }
        tokio::time::sleep(wait).await;
        if breaker.tripped() {
            break Err(e);
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
