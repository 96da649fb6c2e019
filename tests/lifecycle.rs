//! The lifecycle of objects leaving the files, end to end with the real
//! binary on `examples/acme`: a workspace removed from the files under
//! `workspace_removal = "archive"` is archived, and stays.

#[path = "e2e/mod.rs"]
#[allow(unused_imports)]
mod e2e;
mod support;

use e2e::{Target, World};

#[test]
fn a_workspace_removed_under_archive_is_archived_not_deleted() {
    let w = World::new("acme", Target::Http);
    let api = w.api();
    w.apply_ok();
    std::fs::remove_file(w.file("workspaces/legal.toml")).unwrap_or_else(|e| panic!("{e}"));
    w.apply_ok().stdout_has("1 applied");
    let legal = api.get("workspaces/legal").expect(200);
    assert_eq!(legal.body["status"], "archived", "{:#}", legal.body);
    assert_eq!(api.list("workspaces/legal/memberships", "").len(), 5);
    let log = api.audit(Some("workspaces/legal"));
    assert!(e2e::events(&log, "delete").is_empty(), "{log:#?}");
    w.assert_clean();
}
