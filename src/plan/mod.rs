//! Plans as data: the ordering DAG of changes, safety rules (ownership,
//! destroy thresholds, `prevent_destroy`), fingerprints and the saved plan
//! file. Depends on `model` and `diff` only; rendering lives in `render`.
//!
//! The planner arrives with the plan/apply issue.
