//! The reference platform: the platform engine persisted in SQLite
//! ([`engine`]) and its HTTP server ([`server`], `tenet serve`). The same
//! engine opened in-process is the embedded sandbox behind `sandbox:PATH`
//! endpoints. It is strict on purpose: it enforces every platform rule, so a
//! reconciler bug surfaces here rather than in production.
//!
//! It shares only the wire types (`crate::wire`) with the rest of tenet (and
//! the catalog JSON files, read as data): its key checks, CIDR normalization,
//! catalog and key fingerprints are its own, written from the contract, so it
//! stays an independent check of the client (tests/architecture.rs).

pub mod engine;
pub mod error;
pub mod server;

pub use engine::{Actor, Engine};
pub use error::ApiError;
