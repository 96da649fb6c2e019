//! The apply lock, crashes and failure, with the real binary against a real
//! `tenet serve` child and the embedded sandbox: unique holder ids, renewal
//! while an apply runs, release on SIGTERM, a dead holder on this host
//! released by the next apply, `tenet unlock`, `--lock-timeout`, planning
//! under the lock, `kill -9` at several points of an apply followed by an
//! apply that converges with no wait, stopping within seconds when the
//! platform goes away, an immediate stop on failing storage, and requests
//! that carry no needless probe or precondition.

#[path = "e2e/mod.rs"]
mod e2e;
mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{Target, World, run};
use serde_json::json;

const LOCK: &str = "locks/tenet-apply";

/// This host's name as tenet writes it in a holder id.
fn host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    name.trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(64)
        .collect()
}

/// A pid that no process has any more.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait true");
    pid
}

/// Takes the apply lock for `holder`, as another apply would.
fn plant(w: &World, holder: &str, ttl: u64) {
    match &w.server {
        Some(_) => {
            let r = w.api().post(
                "locks",
                &json!({"name": "tenet-apply", "holder": holder, "ttl_seconds": ttl}),
            );
            assert_eq!(r.status, 201, "{:?}", r.body);
        }
        None => {
            let db = w.endpoint.trim_start_matches("sandbox:");
            let engine = tenet::platform::engine::Engine::open(std::path::Path::new(db), None)
                .expect("open the sandbox");
            engine
                .acquire_lock(
                    &tenet::platform::engine::Actor::local(),
                    "tenet-apply",
                    holder,
                    ttl,
                )
                .expect("take the lock");
        }
    }
}

/// Who holds the apply lock now (HTTP worlds).
fn holder_now(w: &World) -> Option<String> {
    let r = w.api().get(LOCK);
    match r.status {
        200 => r.body["holder"].as_str().map(str::to_owned),
        404 => None,
        s => panic!("GET {LOCK}: {s} {:?}", r.body),
    }
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap_or_else(|e| panic!("spawn tenet: {e}"))
}

/// Waits for `child` (at most `limit`: longer is a hang), returning the
/// exit code, stdout and stderr.
fn finish(mut child: Child, limit: Duration) -> (i32, String, String) {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                panic!(
                    "tenet did not end within {limit:?}:\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until the platform's audit log holds at least `n` events.
fn wait_for_writes(w: &World, n: usize) {
    let api = w.api();
    let started = Instant::now();
    loop {
        let r = api.get(&format!("audit?limit={n}"));
        if r.body["items"].as_array().is_some_and(|a| a.len() >= n) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "apply never wrote {n} events"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success(), "kill {sig}");
}

fn unlock(w: &World, holder: &str) -> e2e::Run {
    let mut cmd = w.bare();
    cmd.args(["unlock", holder])
        .arg(&w.cfg)
        .args(["--endpoint", &w.endpoint]);
    run(cmd)
}

// ---------------------------------------------------------------------------

fn dead_holder_on_this_host_is_released(target: Target) {
    let w = World::new("acme", target);
    let dead = format!("tenet@{}:{}:0badcafe", host(), dead_pid());
    plant(&w, &dead, 3600);
    w.apply(&["--auto-approve"])
        .code(0)
        .stderr_has(&format!("Released the apply lock of `{dead}`"))
        .stdout_has(", 0 failed, 0 skipped.");
    w.assert_clean();
}

#[test]
fn a_lock_left_by_a_dead_tenet_on_this_host_is_released_by_the_next_apply_over_http() {
    dead_holder_on_this_host_is_released(Target::Http);
}

#[test]
fn a_lock_left_by_a_dead_tenet_on_this_host_is_released_by_the_next_apply_on_the_sandbox() {
    dead_holder_on_this_host_is_released(Target::Sandbox);
}

fn live_holder_refuses_and_unlock_releases(target: Target) {
    let w = World::new("acme", target);
    let other = "tenet@build-host-7:4242:cafe0123:gh-99-1";
    plant(&w, other, 3600);
    w.apply(&["--auto-approve"])
        .code(1)
        .stderr_has(other)
        .stderr_has(&format!("tenet unlock '{other}'"))
        .stderr_has("nothing was changed");
    if w.server.is_some() {
        assert!(w.api().audit(None).is_empty(), "nothing may be written");
    }
    // The wrong id releases nothing and names the real holder.
    unlock(&w, "tenet@build-host-7:4242:other")
        .code(1)
        .stderr_has(other)
        .stderr_has("nothing was released");
    unlock(&w, other)
        .code(0)
        .stdout_has("Released the apply lock");
    unlock(&w, other).code(0).stdout_has("not held");
    w.apply_ok();
    w.assert_clean();
}

#[test]
fn a_lock_of_a_live_holder_refuses_the_apply_and_tenet_unlock_releases_it_over_http() {
    live_holder_refuses_and_unlock_releases(Target::Http);
}

#[test]
fn a_lock_of_a_live_holder_refuses_the_apply_and_tenet_unlock_releases_it_on_the_sandbox() {
    live_holder_refuses_and_unlock_releases(Target::Sandbox);
}

#[test]
fn unlock_says_when_a_target_has_no_locks() {
    let w = World::new("directory", Target::Sandbox);
    let mut cmd = w.bare();
    cmd.args(["unlock", "tenet@h:1:n"])
        .arg(&w.cfg)
        .args(["--endpoint", "scim+http://127.0.0.1:9/v2"]);
    run(cmd).code(1).stderr_has("has no locks");
}

#[test]
fn lock_timeout_waits_for_a_lock_that_expires() {
    let w = World::new("acme", Target::Http);
    plant(&w, "tenet@elsewhere:1:n", 2);
    w.apply(&["--auto-approve", "--lock-timeout", "30s"])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    w.assert_clean();
}

#[test]
fn the_lock_is_renewed_while_a_long_apply_runs_and_released_at_the_end() {
    let w = World::with_server_flags("acme", Target::Http, &["--latency-ms", "120"]);
    let mut cmd = w.cmd("apply", &["--auto-approve", "--parallelism", "1"]);
    cmd.env("TENET_LOCK_TTL", "2");
    let child = spawn(cmd);
    wait_for_writes(&w, 1);
    let first = holder_now(&w).expect("the apply holds the lock");
    let prefix = format!("tenet@{}:{}:", host(), child.id());
    assert!(
        first.starts_with(&prefix),
        "holder {first:?}, not {prefix}…"
    );
    // Three times the TTL later, still held by the same apply.
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        assert_eq!(
            holder_now(&w).as_deref(),
            Some(first.as_str()),
            "lock lost while the apply runs"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let rival = w.apply(&["--auto-approve"]);
    rival
        .code(1)
        .stderr_has("another apply holds the lock")
        .stderr_has(&first);
    let (code, out, err) = finish(child, Duration::from_secs(120));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(", 0 failed, 0 skipped."), "{out}");
    assert_eq!(holder_now(&w), None, "released at the end");
}

#[test]
fn a_second_apply_waits_for_the_lock_then_plans_against_what_the_first_applied() {
    let w = World::with_server_flags("acme", Target::Http, &["--latency-ms", "40"]);
    let first = spawn(w.cmd("apply", &["--auto-approve", "--parallelism", "2"]));
    wait_for_writes(&w, 3);
    let second = spawn(w.cmd("apply", &["--auto-approve", "--lock-timeout", "2m"]));
    let (c1, o1, e1) = finish(first, Duration::from_secs(120));
    let (c2, o2, e2) = finish(second, Duration::from_secs(120));
    assert_eq!(c1, 0, "{o1}\n{e1}");
    assert!(o1.contains(", 0 failed, 0 skipped."), "{o1}");
    // It planned only once it held the lock, against the finished work.
    assert_eq!(c2, 0, "{o2}\n{e2}");
    assert!(
        o2.contains(e2e::NO_CHANGES),
        "the second apply planned too early:\n{o2}\n{e2}"
    );
    assert!(e2e::duplicate_creates(&w.api().audit(None)).is_empty());
}

#[test]
fn sigterm_stops_the_apply_releases_the_lock_and_the_next_apply_finishes() {
    let w = World::with_server_flags("acme", Target::Http, &["--latency-ms", "60"]);
    let child = spawn(w.cmd("apply", &["--auto-approve", "--parallelism", "1"]));
    wait_for_writes(&w, 3);
    signal(&child, "-TERM");
    let (code, out, err) = finish(child, Duration::from_secs(60));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("Interrupted (SIGTERM)"), "{err}");
    assert!(out.contains("Apply incomplete:"), "{out}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert_eq!(holder_now(&w), None, "SIGTERM released the lock");
    w.apply(&["--auto-approve"])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    w.assert_clean();
}

// ---------------------------------------------------------------------------
// kill -9 at several points, then apply again: no wait, no manual step.
// ---------------------------------------------------------------------------

#[test]
fn a_kill_9_at_several_points_of_an_apply_over_http_then_apply_converges_at_once() {
    for after in [1, 12, 40, 70] {
        let w = World::with_server_flags("acme", Target::Http, &["--latency-ms", "15"]);
        let child = spawn(w.cmd("apply", &["--auto-approve", "--parallelism", "2"]));
        wait_for_writes(&w, after);
        signal(&child, "-KILL");
        // Not reaped yet (a zombie, as under a parent that has not waited):
        // still dead to the next apply.
        std::thread::sleep(Duration::from_millis(50));
        let again = w.apply(&["--auto-approve"]);
        let (code, ..) = finish(child, Duration::from_secs(30));
        assert_eq!(code, -1, "killed");
        again.code(0).stdout_has(", 0 failed, 0 skipped.");
        w.assert_clean();
        assert!(
            e2e::duplicate_creates(&w.api().audit(None)).is_empty(),
            "killed after {after} writes: a create was sent twice"
        );
    }
}

#[test]
fn a_kill_9_at_several_points_of_an_apply_on_the_sandbox_then_apply_converges_at_once() {
    // A tree big enough (about 7,800 objects) to be killed mid-apply.
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("cfg");
    support::generated_tree(&cfg, 3000, 300);
    let mut fresh = support::tenet();
    fresh
        .arg("plan")
        .arg(&cfg)
        .args(["--format", "json", "--endpoint"]);
    fresh.arg(format!("sandbox:{}", tmp.path().join("fresh.db").display()));
    let full = run(fresh).json()["changes"].as_array().map_or(0, Vec::len);
    assert!(full > 5000, "the generated tree plans {full} changes");
    let mut mid_apply = Vec::new();
    // Kill once the database's write-ahead log has grown so far: after the
    // lock, a few writes, many, most.
    for (i, wal_bytes) in [60_000u64, 400_000, 1_500_000, 3_000_000]
        .into_iter()
        .enumerate()
    {
        let db = tmp.path().join(format!("p{i}.db"));
        let endpoint = format!("sandbox:{}", db.display());
        let apply = |extra: &[&str]| {
            let mut cmd = support::tenet();
            cmd.arg("apply")
                .arg(&cfg)
                .args(["--auto-approve", "--endpoint", &endpoint])
                .args(extra);
            cmd
        };
        // Its output is not read: it must not fill a pipe and block.
        let mut quiet = apply(&["--parallelism", "1"]);
        quiet.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = quiet.spawn().expect("spawn tenet apply");
        let wal = tmp.path().join(format!("p{i}.db-wal"));
        let started = Instant::now();
        while std::fs::metadata(&wal).map_or(0, |m| m.len()) < wal_bytes
            && started.elapsed() < Duration::from_secs(60)
            && matches!(child.try_wait(), Ok(None))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        signal(&child, "-KILL");
        let _ = finish(child, Duration::from_secs(30));
        // No wait, no manual step: the dead holder's lock is released.
        let again = run(apply(&[]));
        again.code(0).stdout_has(", 0 failed, 0 skipped.");
        let applied: usize = again
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("Apply complete: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut plan = support::tenet();
        plan.arg("plan").arg(&cfg).args(["--endpoint", &endpoint]);
        run(plan).code(0).stdout_has(e2e::NO_CHANGES);
        eprintln!("killed at a {wal_bytes}-byte log: the next apply applied {applied} of {full}");
        // Killed after some writes and before the last one.
        if applied > 0 && applied < full {
            mid_apply.push(wal_bytes);
        }
    }
    assert!(
        mid_apply.len() >= 2,
        "too few kills landed mid-apply to prove anything: {mid_apply:?}"
    );
}

// ---------------------------------------------------------------------------
// Failure is bounded.
// ---------------------------------------------------------------------------

#[test]
fn when_the_platform_dies_mid_apply_the_apply_stops_within_seconds_with_its_report() {
    let mut w = World::with_server_flags("acme", Target::Http, &["--latency-ms", "80"]);
    let child = spawn(w.cmd("apply", &["--auto-approve", "--parallelism", "2"]));
    wait_for_writes(&w, 3);
    if let Some(s) = w.server.as_mut() {
        s.kill();
    }
    // A hang guard, not a timing: it used to retry for minutes.
    let (code, out, err) = finish(child, Duration::from_secs(45));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("Apply incomplete:"), "{out}");
    assert!(err.contains("the platform stopped answering"), "{err}");
    assert!(err.contains("not started"), "{err}");
}

#[test]
fn a_full_disk_stops_a_sandbox_apply_at_once_with_an_error() {
    let w = World::new("acme", Target::Sandbox);
    w.plan(&[]).code(2);
    // Files may grow by a few blocks only; SIGXFSZ ignored, so writes fail.
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 40; exec "$@""#)
        .arg("bash")
        .arg(support::tenet_bin())
        .args(["apply"])
        .arg(&w.cfg)
        .args(["--auto-approve", "--endpoint", &w.endpoint])
        .current_dir(w.tmp.path());
    for (k, v) in &w.keys {
        cmd.env(k, v);
    }
    let (code, out, err) = finish(spawn(cmd), Duration::from_secs(30));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("the platform cannot take writes"), "{err}");
    assert!(err.contains("storage"), "{err}");
    assert!(out.contains("Apply incomplete:"), "{out}");
    // With room again, the next apply finishes the job.
    w.apply(&["--auto-approve"]).code(0);
    w.assert_clean();
}

/// `(method, path, status, if_match)` of each request in a server log.
fn requests(log: &str) -> Vec<(String, String, String, String)> {
    let field = |line: &str, k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .to_owned()
    };
    log.lines()
        .filter(|l| l.contains("method=") && l.contains("status="))
        .map(|l| {
            (
                field(l, "method"),
                field(l, "path"),
                field(l, "status"),
                field(l, "if_match"),
            )
        })
        .collect()
}

#[test]
fn a_throttled_apply_resends_each_429_once_without_probing_and_reads_carry_no_if_match() {
    let calm = World::new("acme", Target::Http);
    calm.apply_ok();
    std::thread::sleep(Duration::from_millis(300));
    let calm_log = requests(&calm.server_stderr());
    let throttled = World::with_server_flags("acme", Target::Http, &["--rate-limit", "15"]);
    throttled.apply_ok();
    throttled.assert_clean();
    std::thread::sleep(Duration::from_millis(300));
    let log = requests(&throttled.server_stderr());
    let limited = log.iter().filter(|r| r.2 == "429").count();
    assert!(
        limited > 0,
        "the rate limit never bit; the test proves nothing"
    );
    // The same requests as unthrottled, plus exactly one re-send per 429
    // (the extra plan above adds the same reads to both sides).
    let calm_count = calm_log.len() + requests_of_a_plan(&calm);
    assert_eq!(
        log.len(),
        calm_count + limited,
        "{limited} answers were 429; every extra request beyond one re-send each is a needless probe"
    );
    for (method, path, _, if_match) in log.iter().chain(&calm_log) {
        if method == "GET" {
            assert_eq!(if_match, "-", "GET {path} carried If-Match: {if_match}");
        }
    }
}

/// How many requests one `tenet plan` makes against this world.
fn requests_of_a_plan(w: &World) -> usize {
    let before = requests(&w.server_stderr()).len();
    w.assert_clean();
    // The log is read asynchronously; give it a moment to catch up.
    std::thread::sleep(Duration::from_millis(300));
    requests(&w.server_stderr()).len() - before
}

#[test]
fn paced_writes_stay_under_the_platform_rate_limit() {
    let w = World::with_server_flags("acme", Target::Http, &["--rate-limit", "10"]);
    w.apply(&["--auto-approve", "--max-writes-per-second", "9"])
        .code(0)
        .stdout_has(", 0 failed, 0 skipped.");
    std::thread::sleep(Duration::from_millis(300));
    let log = requests(&w.server_stderr());
    let writes: Vec<_> = log
        .iter()
        .filter(|r| r.0 != "GET" && !r.1.starts_with("/v1/locks"))
        .collect();
    assert!(writes.len() >= 70, "{} writes", writes.len());
    let limited: Vec<_> = writes.iter().filter(|r| r.2 == "429").collect();
    assert!(
        limited.is_empty(),
        "paced writes met the limit: {limited:?}"
    );
    w.apply(&["--auto-approve", "--max-writes-per-second", "0"])
        .code(1)
        .stderr_has("not a positive number");
}
