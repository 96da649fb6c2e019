//! Bad inputs that must not live in git, built at run time in temporary
//! directories and checked through the real `tenet validate`: a 50 MB file, a
//! symlink loop, a dangling symlink, and a credential canary written into
//! every kind of place a secret could be echoed from. Every test asserts that
//! the binary exits with exactly 1 (never a panic's 101, never a signal or a
//! hang) and that the output says something specific about the problem. The
//! data cases in `tests/cases/` cover everything that can be committed.

use std::hash::BuildHasher;
use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

/// A minimal valid tree: one user, one provider, one workspace with an
/// administrator and a provider assignment.
const TENET_TOML: &str = r#"[platform]
profile = "m3forge"

[users."ada@acme.example"]
name = "Ada"

[providers.openai]
kind = "openai"
models = ["gpt-4o"]
api_keys = ["env:OPENAI_API_KEY"]
"#;

const FINANCE_TOML: &str = r#"[workspaces.finance]
name = "Finance"

[workspaces.finance.members]
"ada@acme.example" = ["administrator"]

[workspaces.finance.providers.openai]
default = true
"#;

/// Longest a run may take before it counts as a hang (the process is killed).
const HANG: Duration = Duration::from_secs(60);

fn tenet() -> Command {
    let mut cmd = cargo_bin_cmd!("tenet");
    cmd.env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("GITHUB_ACTIONS")
        .timeout(HANG);
    cmd
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Both streams, for "appears nowhere" checks.
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

fn validate(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tenet();
    // Run inside the tree, as people do, so paths are shown relative to it.
    cmd.current_dir(dir).args(["validate", "."]).args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("run tenet: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Exit code exactly 1: an error was reported, nothing crashed.
fn assert_failed_cleanly(run: &Run, what: &str) {
    assert_eq!(
        run.code,
        Some(1),
        "{what}: expected exit code 1 (None means a signal or the {HANG:?} timeout)\n\
         stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        !run.all().contains("panicked"),
        "{what}: the binary panicked:\n{}",
        run.stderr
    );
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {parent:?}: {e}"));
    }
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
}

fn base_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    write(dir.path(), "tenet.toml", TENET_TOML);
    write(dir.path(), "finance.toml", FINANCE_TOML);
    dir
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("--format json is not JSON ({e}):\n{}", run.stdout))
}

fn codes(doc: &Value) -> Vec<String> {
    doc["diagnostics"]
        .as_array()
        .unwrap_or_else(|| panic!("no diagnostics array: {doc}"))
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn base_tree_is_valid() {
    // Every other test starts from this tree; it must be clean on its own.
    let dir = base_tree();
    let run = validate(dir.path(), &[], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("is valid [m3forge]"), "{}", run.stdout);
    assert_eq!(run.stderr, "");
}

#[test]
fn a_50_mb_file_is_refused_quickly_and_the_rest_is_still_checked() {
    let dir = base_tree();
    // Real text, not a sparse file: if the size check were skipped the
    // parser would have to chew through all of it.
    let line = "# padding padding padding padding padding padding padding padding padding\n";
    let big = line.repeat(50 * 1024 * 1024 / line.len() + 1);
    write(dir.path(), "workspaces/big.toml", &big);
    drop(big);
    // A second, unrelated problem: the big file must not stop validation of
    // the others. (Cross-file checks such as unknown roles are skipped while
    // a file is unread, so this is a problem within one file.)
    write(
        dir.path(),
        "legal.toml",
        "[workspaces.legal]\nnmae = \"Legal\"\n\n[workspaces.legal.members]\n\
         \"ada@acme.example\" = [\"administrator\"]\n\n\
         [workspaces.legal.providers.openai]\n",
    );

    let started = Instant::now();
    let run = validate(dir.path(), &[], &[]);
    let elapsed = started.elapsed();
    assert_failed_cleanly(&run, "50 MB file");
    assert!(
        elapsed < Duration::from_secs(10),
        "a file over the limit must be refused unread, took {elapsed:?}"
    );
    assert!(
        run.stderr.contains("tenet::files::too-large"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("workspaces/big.toml"),
        "names the file: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("50.0 MiB") && run.stderr.contains("8 MiB"),
        "gives the size and the limit: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("unknown field `nmae`")
            && run.stderr.contains("tenet::files::incomplete"),
        "other files are still checked: {}",
        run.stderr
    );

    let run = validate(dir.path(), &["--format", "json"], &[]);
    assert_failed_cleanly(&run, "50 MB file, JSON");
    let doc = json(&run);
    let too_large: Vec<&Value> = doc["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["code"] == "tenet::files::too-large")
        .collect();
    assert_eq!(too_large.len(), 1, "{doc}");
    assert_eq!(too_large[0]["file"], "workspaces/big.toml", "{doc}");
    assert_eq!(doc["valid"], false);
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_reported_not_followed() {
    let dir = base_tree();
    std::fs::create_dir(dir.path().join("nested")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    // nested/back -> .. is the config root itself: walking it would load
    // every file again (and again).
    std::os::unix::fs::symlink("..", dir.path().join("nested/back"))
        .unwrap_or_else(|e| panic!("symlink: {e}"));

    let run = validate(dir.path(), &[], &[]);
    assert_failed_cleanly(&run, "symlink loop");
    assert!(
        run.stderr.contains("tenet::files::symlink-loop"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nested/back"),
        "names the link: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("tenet::duplicate"),
        "the loop must not load the tree a second time: {}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("tenet::").count(),
        1,
        "exactly one problem: {}",
        run.stderr
    );

    let run = validate(dir.path(), &["--format", "json"], &[]);
    assert_failed_cleanly(&run, "symlink loop, JSON");
    assert_eq!(codes(&json(&run)), ["tenet::files::symlink-loop"]);
}

#[cfg(unix)]
#[test]
fn a_link_to_the_directory_itself_is_a_loop_too() {
    let dir = base_tree();
    std::os::unix::fs::symlink(".", dir.path().join("self"))
        .unwrap_or_else(|e| panic!("symlink: {e}"));
    let run = validate(dir.path(), &["--format", "json"], &[]);
    assert_failed_cleanly(&run, "self link");
    let doc = json(&run);
    assert_eq!(codes(&doc), ["tenet::files::symlink-loop"]);
    let message = doc["diagnostics"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("self"), "names the link: {message}");
}

#[cfg(unix)]
#[test]
fn a_dangling_symlink_named_toml_is_reported() {
    let dir = base_tree();
    std::os::unix::fs::symlink("does-not-exist.toml", dir.path().join("x.toml"))
        .unwrap_or_else(|e| panic!("symlink: {e}"));

    let run = validate(dir.path(), &[], &[]);
    assert_failed_cleanly(&run, "dangling symlink");
    assert!(
        run.stderr.contains("tenet::files::unreadable"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("cannot read `x.toml`"),
        "names the link: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("symlink"),
        "the help mentions symlinks: {}",
        run.stderr
    );
}

/// A fresh credential-shaped canary (`sk-proj-` and 30 random letters and
/// digits), different on every run, so no key sits in the repository.
fn canary() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let state = std::collections::hash_map::RandomState::new();
    let tail: String = (0..30u64)
        .map(|i| {
            let n = usize::try_from(state.hash_one(i) % ALNUM.len() as u64).unwrap_or(0);
            char::from(ALNUM[n])
        })
        .collect();
    format!("sk-proj-{tail}")
}

/// Fails if the canary, or any 10 characters of its random part, appear in
/// `output`: a partly echoed key is still a leak.
fn assert_no_canary(canary: &str, output: &str, what: &str) {
    let tail = &canary["sk-proj-".len()..];
    let leaked = (0..=tail.len() - 10).any(|i| output.contains(&tail[i..i + 10]));
    assert!(
        !leaked,
        "{what}: the credential canary leaked into the output:\n{output}"
    );
}

#[test]
fn a_credential_canary_never_appears_in_any_output() {
    let canary = canary();
    let dir = base_tree();
    // In api_keys (TOML).
    write(
        dir.path(),
        "tenet.toml",
        &TENET_TOML.replace("env:OPENAI_API_KEY", &canary),
    );
    // In a description and in a label value.
    write(
        dir.path(),
        "finance.toml",
        &FINANCE_TOML.replace(
            "name = \"Finance\"\n",
            &format!(
                "name = \"Finance\"\ndescription = \"Temporary key {canary} until the vault is ready.\"\n\
                 labels = {{ owner = \"{canary}\" }}\n"
            ),
        ),
    );
    // On a TOML syntax-error line (the file cannot be parsed at all).
    write(
        dir.path(),
        "broken.toml",
        &format!("[workspaces.broken]\ntoken = {canary}\n"),
    );
    // The same in KDL: api_keys, a description, and a syntax error.
    write(
        dir.path(),
        "anthropic.kdl",
        &format!(
            "provider anthropic kind=anthropic {{\n    models claude-3-5-sonnet\n    api_keys \"{canary}\"\n}}\n\
             team oncall description=\"ask {canary}\" {{\n    members \"ada@acme.example\"\n}}\n"
        ),
    );
    write(
        dir.path(),
        "broken.kdl",
        &format!("user \"grace@acme.example\" token={canary} {{\n"),
    );

    for (what, format, github) in [
        ("text", "text", "false"),
        ("json", "json", "false"),
        ("text in GitHub Actions", "text", "true"),
        ("json in GitHub Actions", "json", "true"),
    ] {
        let run = validate(
            dir.path(),
            &["--format", format],
            &[("GITHUB_ACTIONS", github)],
        );
        assert_failed_cleanly(&run, what);
        assert_no_canary(&canary, &run.all(), what);

        // The run really saw every planted value: five literal secrets (two
        // api_keys, two descriptions, a label) and both syntax errors.
        if github == "true" && format == "text" {
            let annotations = run
                .stdout
                .matches("title=tenet%3A%3Asecrets%3A%3Aliteral::")
                .count();
            assert_eq!(annotations, 5, "{what}:\n{}", run.stdout);
            assert!(run.stdout.contains("::error file=broken.toml,"), "{what}");
            assert!(run.stdout.contains("::error file=broken.kdl,"), "{what}");
        }
        if format == "json" {
            let doc = json_document(&run.stdout);
            let codes = codes(&doc);
            let literals = codes
                .iter()
                .filter(|c| *c == "tenet::secrets::literal")
                .count();
            assert_eq!(literals, 5, "{what}: {doc}");
            for field in ["api_keys[0]", "description", "owner"] {
                assert!(
                    doc["diagnostics"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|d| {
                            d["code"] == "tenet::secrets::literal"
                                && d["message"]
                                    .as_str()
                                    .is_some_and(|m| m.contains(&format!("`{field}`")))
                        }),
                    "{what}: no literal-secret diagnostic for `{field}`: {doc}"
                );
            }
            assert!(codes.iter().any(|c| c == "tenet::syntax::toml"), "{doc}");
            assert!(codes.iter().any(|c| c == "tenet::syntax::kdl"), "{doc}");
        } else {
            let literals = run.stderr.matches("tenet::secrets::literal").count();
            assert_eq!(literals, 5, "{what}:\n{}", run.stderr);
            assert!(run.stderr.contains("tenet::syntax::toml"), "{what}");
            assert!(run.stderr.contains("tenet::syntax::kdl"), "{what}");
            assert!(
                run.stderr.contains("credential-like value (hidden)"),
                "{what}"
            );
        }
    }
}

/// The JSON document in `--format json` output. In GitHub Actions the
/// annotations come first on the same stream (see
/// `json_output_stays_json_in_github_actions`), so they are skipped here.
fn json_document(stdout: &str) -> Value {
    let text: String = stdout
        .lines()
        .skip_while(|l| l.starts_with("::"))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("--format json is not JSON ({e}):\n{stdout}"))
}

/// A credential-shaped string used as a key (an unknown field, a team or
/// provider slug) or as a reference (a role id, a model name) is masked in
/// diagnostic messages too, not only in the source snippets.
#[test]

fn a_credential_canary_in_keys_and_references_is_not_echoed() {
    let canary = canary();
    let dir = base_tree();
    write(
        dir.path(),
        "finance.toml",
        &format!(
            "[workspaces.finance]\nname = \"Finance\"\n\n[workspaces.finance.members]\n\
             \"ada@acme.example\" = [\"administrator\", \"{canary}\"]\n\n\
             [workspaces.finance.teams]\n{canary} = [\"editor\"]\n\n\
             [workspaces.finance.providers.openai]\nmodels = [\"{canary}\"]\ndefault = true\n\n\
             [workspaces.finance.providers.{canary}]\n"
        ),
    );
    write(
        dir.path(),
        "security.toml",
        &format!("[settings.security]\n{canary} = true\n"),
    );
    for (what, args) in [("text", &[][..]), ("json", &["--format", "json"][..])] {
        let run = validate(dir.path(), args, &[("GITHUB_ACTIONS", "true")]);
        assert_failed_cleanly(&run, what);
        assert_no_canary(&canary, &run.all(), what);
    }
}

/// With `GITHUB_ACTIONS=true`, `--format json` still prints one JSON document
/// and nothing else on standard output, so `tenet validate --format json | jq`
/// works in CI.
#[test]

fn json_output_stays_json_in_github_actions() {
    let dir = base_tree();
    write(
        dir.path(),
        "roles.toml",
        "[roles.editor]\npermissions = [\"*\"]\n",
    );
    let run = validate(
        dir.path(),
        &["--format", "json"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_failed_cleanly(&run, "json in GitHub Actions");
    let doc = json(&run);
    assert_eq!(codes(&doc), ["tenet::role::builtin"]);
}
