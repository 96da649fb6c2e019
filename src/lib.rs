//! tenet: a multi-tenant AI platform as code.
//!
//! The library behind the `tenet` binary. Files are loaded by [`config`] into
//! the normalized [`model`], checked by [`validate`], and reported through
//! [`diagnostic`] and [`render`]. The modules [`diff`], [`plan`], [`apply`],
//! [`target`] and [`platform`] hold the reconciliation engine and the reference
//! platform. Dependencies point one way: `config -> model <- target`, `cli`
//! on top of everything; ARCHITECTURE.md states the rules and
//! `tests/architecture.rs` checks them.
//!
//! Nothing prints directly: every write to stdout or stderr goes through
//! `cli::out`, which ends quietly on a closed pipe instead of panicking.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod diff;
pub mod drift;
pub mod export;
pub mod git;
pub mod import;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod platform;
pub mod render;
pub mod secrets;
pub mod target;
pub mod validate;
pub mod wire;
