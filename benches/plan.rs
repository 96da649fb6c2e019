//! Benchmarks of the engine on a platform that matches its files (a plan
//! with no changes), on a tree made by `scripts/gen-config.py`: reading the
//! live state from the sandbox, the diff alone, and the whole plan (read,
//! diff, order, safety). The platform is created once per size through the
//! library's own apply. `TENET_BENCH_PLAN_SIZE=users:workspaces:per_user`
//! chooses the size; the default, 10,000 users in 1,000 workspaces with 10
//! memberships each, is about 116,000 objects.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tenet::apply::{self, Stop};
use tenet::diff;
use tenet::model::Profile;
use tenet::pipeline::{PlanOptions, make_plan};
use tenet::target::Target;
use tenet::target::native::sandbox::Sandbox;
use tenet::validate::check_tree;

fn size() -> (usize, usize, usize) {
    let text =
        std::env::var("TENET_BENCH_PLAN_SIZE").unwrap_or_else(|_| "10000:1000:10".to_owned());
    let mut parts = text.split(':').map(|p| p.trim().parse::<usize>().ok());
    match (
        parts.next().flatten(),
        parts.next().flatten(),
        parts.next().flatten(),
    ) {
        (Some(u), Some(w), Some(k)) => (u, w, k),
        _ => panic!("TENET_BENCH_PLAN_SIZE is users:workspaces:per_user, not {text:?}"),
    }
}

fn generate(dir: &Path, (users, workspaces, per_user): (usize, usize, usize)) {
    let status = Command::new("python3")
        .arg("scripts/gen-config.py")
        .arg(dir)
        .arg(users.to_string())
        .arg(workspaces.to_string())
        .arg(format!("--members-per-user={per_user}"))
        .status()
        .unwrap_or_else(|e| panic!("python3 is needed for the benchmark: {e}"));
    assert!(status.success(), "gen-config.py failed");
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let size = size();
    generate(&dir.path().join("org"), size);
    let checked = check_tree(&dir.path().join("org"), None);
    assert!(!checked.has_errors(), "the generated tree must be valid");
    let db = dir.path().join("p.db");
    let target = Sandbox::open("sandbox:bench", &db, Profile::M3forge)
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let opts = PlanOptions {
        adopt: false,
        include_acknowledged: false,
        parallelism: 8,
        config_root: "org".to_owned(),
        endpoint: "sandbox:bench".to_owned(),
        only: Default::default(),
    };
    // Create the platform once: the benchmarks plan against a match.
    let (plan, _) = rt
        .block_on(make_plan(&target, &checked, true, &opts))
        .unwrap_or_else(|e| panic!("plan: {}", e.message));
    let report = rt.block_on(apply::run(
        &target,
        &plan,
        apply::Sends {
            keys: &apply::Keys::new(),
            blobs: &apply::Blobs::new(),
            issued: &apply::sink::Issued::default(),
        },
        &apply::Options::default(),
        &Stop::default(),
        Arc::new(|_| {}),
    ));
    assert!(report.ok(), "the setup apply failed");
    let live = rt
        .block_on(target.read(8))
        .unwrap_or_else(|e| panic!("read: {e}"));
    let objects = live.meta.len();

    let mut group = c.benchmark_group(format!("no-changes-{objects}-objects"));
    group.sample_size(10);
    group.bench_function("read live (sandbox)", |b| {
        b.iter(|| rt.block_on(target.read(8)))
    });
    let diff_opts = diff::Options {
        adopt: false,
        fingerprints: Default::default(),
        today: None,
        unmarked: Vec::new(),
    };
    group.bench_function("diff", |b| {
        b.iter(|| diff::diff(&checked.config, &live, &diff_opts))
    });
    group.bench_function("plan (read, diff, order, safety)", |b| {
        b.iter(|| {
            let (plan, _) = rt
                .block_on(make_plan(&target, &checked, true, &opts))
                .unwrap_or_else(|e| panic!("plan: {}", e.message));
            assert!(plan.is_empty(), "a plan with no changes");
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
