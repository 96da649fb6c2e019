//! Shards (`--only`) with the real binary on a copy of `examples/acme`,
//! against the sandbox and a real `tenet serve`: a shard plans and applies
//! only its objects, removals outside it are neither made nor counted, a
//! saved plan keeps its shard, two shards apply at once (each holds its own
//! lock), and a bad selector is an error with a hint.

#[path = "e2e/mod.rs"]
mod e2e;
mod support;

use std::process::Stdio;

use e2e::{NO_CHANGES, Target, World};

/// `users,roles,providers,settings`: what the workspace shards refer to.
const SHARED: &str = "users,roles,providers,settings";

#[test]
fn a_shard_plans_and_applies_only_its_objects() {
    let w = World::new("acme", Target::Sandbox);
    let plan = w.plan(&["--only", "workspaces/fin*"]);
    plan.code(2)
        .stdout_has("only in workspaces/fin*")
        .stdout_has("workspace finance")
        .stdout_lacks("workspace legal")
        .stdout_lacks("users/");
    w.apply(&["--auto-approve", "--only", SHARED])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    w.plan(&["--only", SHARED]).code(0).stdout_has(NO_CHANGES);
    w.apply(&["--auto-approve", "--only", "workspaces/fin*"])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    w.plan(&["--only", "workspaces/finance"]).code(0);
    // The rest is still to do, and only the rest.
    let rest = w.plan(&[]);
    rest.code(2)
        .stdout_has("workspace legal")
        .stdout_lacks("workspace finance");
    w.apply_ok();
    w.assert_clean();
}

#[test]
fn removals_outside_a_shard_are_neither_made_nor_counted() {
    let w = World::new("acme", Target::Sandbox);
    w.apply_ok();
    std::fs::remove_file(w.file("workspaces/legal.toml")).expect("remove legal");
    w.plan(&["--only", "workspaces/fin*"])
        .code(0)
        .stdout_has(NO_CHANGES);
    w.plan(&["--only", "users"]).code(0);
    w.plan(&[]).code(2).stdout_has("legal");
}

#[test]
fn a_saved_shard_plan_applies_its_shard_only() {
    let w = World::new("acme", Target::Sandbox);
    w.apply(&["--auto-approve", "--only", SHARED]).code(0);
    let out = w.path("fin.json");
    w.plan(&[
        "--only",
        "workspaces/finance",
        "--out",
        out.to_str().unwrap_or(""),
    ])
    .code(2);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("plan file")).expect("json");
    assert_eq!(
        saved["options"]["only"],
        serde_json::json!(["workspaces/finance"])
    );
    // Another shard named at apply time is refused.
    w.apply_file(&out, &["--only", "workspaces/legal"])
        .code(1)
        .stderr_has("nothing was changed");
    w.apply_file(&out, &[])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    w.plan(&["--only", "workspaces/finance"]).code(0);
    w.plan(&["--only", "workspaces/legal"]).code(2);
}

#[test]
fn two_shards_apply_at_once_each_under_its_own_lock() {
    let w = World::with_server_flags("acme", Target::Http, &["--latency-ms", "40"]);
    w.apply(&["--auto-approve", "--only", SHARED]).code(0);
    let spawn = |only: &str| {
        let mut cmd = w.cmd(
            "apply",
            &["--auto-approve", "--parallelism", "1", "--only", only],
        );
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn().expect("spawn tenet apply")
    };
    let (a, b) = (
        spawn("workspaces/finance,workspaces/hr"),
        spawn("workspaces/legal"),
    );
    for child in [a, b] {
        let out = child.wait_with_output().expect("wait");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stdout.contains(", 0 failed, 0 skipped."), "{stdout}");
    }
    let rest = w.plan(&[]);
    rest.code(2)
        .stdout_lacks("workspace finance")
        .stdout_lacks("workspace legal")
        .stdout_has("workspace production");
    w.apply_ok();
    w.assert_clean();
}

#[test]
fn a_bad_selector_is_an_error_with_a_hint() {
    let w = World::new("acme", Target::Sandbox);
    for bad in ["teams", "workspaces/", "settings/x"] {
        w.plan(&["--only", bad])
            .code(1)
            .stderr_has("--only")
            .stderr_has("workspaces/finance*");
    }
}
