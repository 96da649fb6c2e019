//! Targets: where live state is read from and changes are written to. A
//! `Target` declares which kinds it supports; implementations speak the
//! platform API over HTTP or open the embedded sandbox engine in-process.
//!
//! Targets arrive with the plan/apply issue.
