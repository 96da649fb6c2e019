//! `tenet init` through the real binary in temporary directories: the
//! scaffold validates and plans on the embedded sandbox, existing files are
//! never overwritten without `--force`, and the GitHub workflows it writes
//! are the templates in `src/cli/init/`, byte for byte the same as
//! `examples/github/`, free of `pull_request_target`, and keep `${{ }}`
//! expressions out of their shell scripts.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::tenet;

const WORKFLOWS: [&str; 3] = ["tenet-apply.yml", "tenet-drift.yml", "tenet-plan.yml"];

const WRITTEN: [&str; 8] = [
    "tenet.toml",
    "users.toml",
    "providers.toml",
    "workspaces/example.toml",
    ".gitignore",
    ".github/workflows/tenet-plan.yml",
    ".github/workflows/tenet-apply.yml",
    ".github/workflows/tenet-drift.yml",
];

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("run: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs `tenet init DIR` and checks it succeeded.
fn init(dir: &Path) -> Output {
    let out = run(tenet().arg("init").arg(dir));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    out
}

fn manifest(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn init_writes_a_config_that_validates() {
    let tmp = temp();
    let dir = tmp.path().join("config");
    let out = init(&dir);
    let stdout = text(&out.stdout);
    for path in WRITTEN {
        assert!(dir.join(path).is_file(), "{path} written");
        let line = format!("Created {}", dir.join(path).display());
        assert!(stdout.contains(&line), "{line} in:\n{stdout}");
    }
    assert!(stdout.contains("tenet validate"), "{stdout}");

    let out = run(tenet().arg("validate").arg(&dir));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(
            "is valid [m3forge]: 1 workspace, 2 users, 2 memberships, 0 roles, 1 provider, 1 assignment"
        ),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(text(&out.stderr), "", "no warnings expected");
}

#[test]
fn init_writes_what_the_brief_promises() {
    let tmp = temp();
    init(tmp.path());
    let toml = text(&read(&tmp.path().join("tenet.toml")));
    assert!(
        toml.starts_with("#:schema https://tenet.dev/schema/tenet.schema.json\n"),
        "{toml}"
    );
    for needle in [
        "tenet schema > tenet.schema.json",
        "TENET_ENDPOINT",
        "endpoint = \"sandbox:.tenet/platform.db\"",
        "profile = \"m3forge\"",
        "[policy]",
        "[defaults.quotas]",
        "storage_gb = 100\n",
        "executions_per_month = 10_000\n",
        "api_calls_per_month = 1_000_000\n",
        "max_users = 50\n",
    ] {
        assert!(toml.contains(needle), "tenet.toml lacks {needle}");
    }
    let providers = text(&read(&tmp.path().join("providers.toml")));
    assert!(providers.contains("\"env:OPENAI_API_KEY\""), "{providers}");
    let gitignore = text(&read(&tmp.path().join(".gitignore")));
    let lines: Vec<&str> = gitignore.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines, [".tenet/", "plan.json"]);
}

#[test]
fn the_scaffold_applies_to_the_sandbox_and_then_plans_no_changes() {
    let tmp = temp();
    init(tmp.path());
    let dir = tmp.path();
    let out = run(tenet().arg("plan").arg(dir));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(tenet().args(["apply", "--auto-approve"]).arg(dir));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        dir.join(".tenet/platform.db").is_file(),
        "the sandbox lives under .tenet/"
    );
    let out = run(tenet().arg("plan").arg(dir));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn init_defaults_to_the_current_directory() {
    let tmp = temp();
    let out = run(tenet().arg("init").current_dir(tmp.path()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Created tenet.toml\n"));
    for path in WRITTEN {
        assert!(tmp.path().join(path).is_file(), "{path} written");
    }
}

#[test]
fn init_refuses_to_overwrite_and_writes_nothing() {
    let tmp = temp();
    let dir = tmp.path();
    fs::write(dir.join("tenet.toml"), "# mine\n").unwrap_or_else(|e| panic!("{e}"));
    fs::create_dir_all(dir.join(".github/workflows")).unwrap_or_else(|e| panic!("{e}"));
    fs::write(dir.join(".github/workflows/tenet-plan.yml"), "mine: true\n")
        .unwrap_or_else(|e| panic!("{e}"));

    let out = run(tenet().arg("init").arg(dir));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("tenet.toml"), "{stderr}");
    assert!(
        stderr.contains(".github/workflows/tenet-plan.yml"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(
        !stderr.contains("users.toml"),
        "only existing files: {stderr}"
    );
    assert_eq!(text(&out.stdout), "");
    assert_eq!(read(&dir.join("tenet.toml")), b"# mine\n");
    assert!(!dir.join("users.toml").exists(), "nothing written");
    assert!(!dir.join(".gitignore").exists(), "nothing written");

    let out = run(tenet().args(["init", "--force"]).arg(dir));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Overwrote"), "{stdout}");
    assert!(stdout.contains("Created"), "{stdout}");
    assert_ne!(read(&dir.join("tenet.toml")), b"# mine\n");
    let out = run(tenet().arg("validate").arg(dir));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn init_refuses_a_file_as_the_directory() {
    let tmp = temp();
    let file = tmp.path().join("not-a-dir");
    fs::write(&file, "x").unwrap_or_else(|e| panic!("{e}"));
    let out = run(tenet().arg("init").arg(&file));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a directory"));
}

#[test]
fn written_workflows_are_the_templates_and_the_examples_byte_for_byte() {
    let tmp = temp();
    init(tmp.path());
    let mut examples: Vec<String> = fs::read_dir(manifest("examples/github"))
        .unwrap_or_else(|e| panic!("examples/github: {e}"))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{e}"))
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    examples.sort();
    assert_eq!(
        examples, WORKFLOWS,
        "examples/github holds the workflows only"
    );
    let mut written: Vec<String> = fs::read_dir(tmp.path().join(".github/workflows"))
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{e}"))
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    written.sort();
    assert_eq!(written, WORKFLOWS);
    for name in WORKFLOWS {
        let written = read(&tmp.path().join(".github/workflows").join(name));
        let template = read(&manifest("src/cli/init/workflows").join(name));
        let example = read(&manifest("examples/github").join(name));
        assert!(
            written == template,
            "{name}: tenet init wrote something else than src/cli/init/workflows/{name}"
        );
        assert!(
            example == template,
            "examples/github/{name} differs from src/cli/init/workflows/{name}: copy the template over it"
        );
    }
}

#[test]
fn workflows_never_use_pull_request_target() {
    for name in WORKFLOWS {
        let text = text(&read(&manifest("src/cli/init/workflows").join(name)));
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!code.contains("pull_request_target"), "{name}");
    }
    let plan = text(&read(&manifest("src/cli/init/workflows/tenet-plan.yml")));
    assert!(plan.contains("\non:\n"), "{plan}");
    assert!(plan.contains("  pull_request:\n"), "{plan}");
}

#[test]
fn workflows_keep_expressions_out_of_run_scripts() {
    for name in WORKFLOWS {
        let text = text(&read(&manifest("src/cli/init/workflows").join(name)));
        let mut script_indent: Option<usize> = None;
        let mut scripts = 0;
        for (n, line) in text.lines().enumerate() {
            let indent = line.len() - line.trim_start().len();
            if let Some(min) = script_indent {
                if line.trim().is_empty() || indent >= min {
                    assert!(
                        !line.contains("${{"),
                        "{name}:{}: an expression inside a run script; pass it through env:",
                        n + 1
                    );
                    continue;
                }
                script_indent = None;
            }
            let key = line.trim_start().trim_start_matches("- ");
            if let Some(rest) = key.strip_prefix("run:") {
                scripts += 1;
                assert!(!rest.contains("${{"), "{name}:{}", n + 1);
                if rest.trim() == "|" {
                    script_indent = Some(indent + 1);
                }
            }
        }
        assert!(scripts >= 3, "{name}: the scan found the run scripts");
        assert!(text.contains("set -euo pipefail"), "{name}");
        assert!(text.contains("shell: bash"), "{name}");
    }
}

#[test]
fn workflows_have_least_privilege_and_the_agreed_shape() {
    let wf = |name: &str| text(&read(&manifest("src/cli/init/workflows").join(name)));
    let plan = wf("tenet-plan.yml");
    assert!(plan.contains("permissions:\n  contents: read\n  pull-requests: write\n"));
    assert!(plan.contains("fetch-depth: 0"));
    assert!(plan.contains(
        "tenet plan --base \"origin/$BASE_REF\" --format markdown --out plan.json > \"$RUNNER_TEMP/plan.md\""
    ));
    assert!(plan.contains("path: plan.json\n"));
    assert!(plan.contains("TENET_TOKEN: ${{ secrets.TENET_READ_TOKEN }}"));
    assert!(plan.contains("TENET_ENDPOINT: ${{ vars.TENET_ENDPOINT }}"));
    assert!(plan.contains("<!-- tenet-plan -->"));
    assert!(plan.contains("gh api -X PATCH"));
    assert!(plan.contains("gh pr comment \"$PR_NUMBER\" --body-file"));
    assert!(plan.contains("name: tenet-plan-${{ github.event.pull_request.head.sha }}"));
    assert!(plan.contains("$GITHUB_STEP_SUMMARY"));

    let apply = wf("tenet-apply.yml");
    assert!(apply.contains("  push:\n    branches: [main]\n"));
    assert!(apply.contains("permissions:\n  contents: read\n"));
    assert!(apply.contains("  actions: read\n"));
    assert!(
        !apply.contains("write\n"),
        "apply's GITHUB_TOKEN only reads"
    );
    assert!(apply.contains("TENET_TOKEN: ${{ secrets.TENET_WRITE_TOKEN }}"));
    assert!(apply.contains("group: tenet-apply\n"));
    assert!(apply.contains("commits/$SHA/pulls"));
    assert!(apply.contains("gh run download"));
    assert!(
        !plan.contains("TENET_WRITE_TOKEN") && !wf("tenet-drift.yml").contains("TENET_WRITE_TOKEN")
    );

    let drift = wf("tenet-drift.yml");
    assert!(drift.contains("permissions:\n  contents: read\n  issues: write\n"));
    assert!(drift.contains("  schedule:\n    - cron: "));
    assert!(drift.contains("  workflow_dispatch:\n"));
    assert!(drift.contains("tenet drift --format markdown > \"$RUNNER_TEMP/drift.md\""));
    assert!(drift.contains("TENET_TOKEN: ${{ secrets.TENET_READ_TOKEN }}"));
    assert!(drift.contains("tenet: drift detected"));
}

#[test]
fn workflows_install_this_version_of_tenet() {
    let line = format!("  TENET_VERSION: \"{}\"\n", env!("CARGO_PKG_VERSION"));
    for name in WORKFLOWS {
        let text = text(&read(&manifest("src/cli/init/workflows").join(name)));
        assert!(
            text.contains(&line),
            "{name}: TENET_VERSION is not {} (update the templates and examples/github)",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains("cargo install tenet --locked --version \"$TENET_VERSION\""));
    }
}
