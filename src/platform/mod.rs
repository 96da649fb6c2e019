//! The reference platform: the platform engine persisted in SQLite and its
//! HTTP server (`tenet serve`). It shares wire types with the http target,
//! never its internals with the rest of tenet.
//!
//! The engine arrives with the reference platform issue; the catalogs it will
//! serve already live in `model::catalog`.
