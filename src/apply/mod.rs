//! The executor: runs a plan's changes against a target with bounded
//! concurrency, retries, `If-Match` preconditions, progress and a journal.
//!
//! The executor arrives with the plan/apply issue.
