//! Benchmarks of `validate::check_tree` (load, parse, schema, merge, build,
//! semantic checks) on trees made by `scripts/gen-config.py`, at sizes that
//! show how the cost grows with the number of objects. Set
//! `TENET_BENCH_SIZES=users:workspaces,...` to choose sizes; the default runs
//! quickly enough for a laptop.

use std::path::Path;
use std::process::Command;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tenet::validate::check_tree;

fn generate(dir: &Path, users: usize, workspaces: usize, kdl: bool) {
    let mut cmd = Command::new("python3");
    cmd.arg("scripts/gen-config.py")
        .arg(dir)
        .arg(users.to_string())
        .arg(workspaces.to_string());
    if kdl {
        cmd.arg("--kdl");
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("python3 is needed for the benchmark: {e}"));
    assert!(status.success(), "gen-config.py failed");
}

fn sizes() -> Vec<(usize, usize)> {
    std::env::var("TENET_BENCH_SIZES")
        .unwrap_or_else(|_| "1000:100,10000:1000".to_owned())
        .split(',')
        .filter_map(|s| {
            let (u, w) = s.split_once(':')?;
            Some((u.trim().parse().ok()?, w.trim().parse().ok()?))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    for (users, workspaces) in sizes() {
        for kdl in [false, true] {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
            generate(dir.path(), users, workspaces, kdl);
            let checked = check_tree(dir.path(), None);
            assert!(
                !checked.has_errors(),
                "generated tree must be valid: {:?}",
                checked.diagnostics.first()
            );
            let name = if kdl { "kdl" } else { "toml" };
            group.bench_with_input(
                BenchmarkId::new(name, format!("{users}u-{workspaces}w")),
                dir.path(),
                |b, p| b.iter(|| check_tree(p, None)),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
