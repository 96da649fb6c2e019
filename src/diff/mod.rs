//! Desired x live -> changes. Pure and deterministic: the same inputs give the
//! same changes, byte for byte. Depends on `model` only.
//!
//! The diff engine arrives with the plan/apply issue; this module marks the
//! boundary so that nothing else grows into its place.
