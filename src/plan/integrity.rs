//! Saved plans are applied exactly as reviewed, or not at all. `apply
//! PLAN` makes the plan again from the files and the live platform and
//! compares it with the saved one, change by change (octoDNS's checksum
//! idea, done per change), so an edited plan file, a key that resolves to
//! another value, or a platform that moved is refused with what differs.
//! Pure: the caller makes the fresh plan, with the saved plan's options.

use std::collections::BTreeMap;

use super::{Plan, PlannedChange};

/// What differs between the saved plan and a fresh one, one line each:
/// empty when the saved plan is exactly what would be planned now.
pub fn differences(saved: &Plan, fresh: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    let (a, b) = (by_id(saved), by_id(fresh));
    for (id, s) in &a {
        match b.get(id) {
            Some(f) if f == s => {}
            Some(f) if f.change.object == s.change.object => out.push(format!(
                "change #{id} of {} is not what a plan made now would do",
                s.change.object
            )),
            Some(f) => out.push(format!(
                "change #{id} is {} in the file, {} in a plan made now",
                s.change.object, f.change.object
            )),
            None => out.push(format!(
                "change #{id} of {} is in the file, not in a plan made now",
                s.change.object
            )),
        }
    }
    for (id, f) in &b {
        if !a.contains_key(id) {
            out.push(format!(
                "change #{id} of {} is in a plan made now, not in the file",
                f.change.object
            ));
        }
    }
    for (id, prints) in &fresh.secret_fingerprints {
        if saved.secret_fingerprints.get(id) != Some(prints) {
            out.push(format!(
                "the secrets of {} resolve to other values than when the plan was made (fingerprints differ)",
                id.secret_site()
            ));
        }
    }
    for id in saved.secret_fingerprints.keys() {
        if !fresh.secret_fingerprints.contains_key(id) {
            out.push(format!(
                "the plan sends the secrets of {}, a plan made now does not",
                id.secret_site()
            ));
        }
    }
    out
}

fn by_id(p: &Plan) -> BTreeMap<usize, &PlannedChange> {
    p.changes.iter().map(|c| (c.id, c)).collect()
}
