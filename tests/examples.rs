//! The shipped examples: both validate through the real binary, both pass the
//! JSON Schema file by file, and the TOML and KDL trees describe exactly the
//! same organisation. `tenet schema` prints the schema file byte for byte.

use std::path::Path;

use assert_cmd::Command;
use tenet::validate::check_tree;

fn tenet() -> Command {
    let mut cmd = Command::cargo_bin("tenet").unwrap_or_else(|e| panic!("binary: {e}"));
    cmd.env("NO_COLOR", "1").env_remove("GITHUB_ACTIONS");
    cmd
}

#[test]
fn examples_validate_with_a_summary() {
    for dir in ["examples/acme", "examples/acme-kdl"] {
        let out = tenet()
            .args(["validate", dir])
            .output()
            .unwrap_or_else(|e| panic!("run: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{dir}: {stderr}");
        assert_eq!(
            stdout.trim(),
            format!(
                "{dir} is valid [m3forge]: 5 workspaces, 20 users, 35 memberships, 3 roles, 3 providers, 6 assignments, 1 team"
            )
        );
        assert_eq!(stderr, "", "{dir}: no warnings expected");
    }
}

#[test]
fn the_magoneai_examples_are_one_deployment_in_toml_and_kdl() {
    let toml = check_tree(Path::new("examples/magoneai"), None);
    let kdl = check_tree(Path::new("examples/magoneai-kdl"), None);
    assert!(!toml.has_errors() && !kdl.has_errors());
    assert_eq!(toml.config.state, kdl.config.state);
    assert_eq!(toml.config.policy, kdl.config.policy);
    assert_eq!(
        toml.config.platform.profile,
        tenet::model::Profile::Magoneai
    );
    assert_eq!(kdl.config.platform.profile, tenet::model::Profile::Magoneai);
    // Not vacuous: what the example is for is there.
    let state = &toml.config.state;
    assert!(
        state
            .workspaces
            .values()
            .all(|w| w.settings.timezone.is_some())
    );
    let branding = state.settings.as_ref().map(|s| &s.branding);
    assert_eq!(
        branding.and_then(|b| b.accent_color.as_deref()),
        Some("#1f6feb")
    );
    assert_eq!(state.memberships.len(), 8);
    assert!(
        state
            .users
            .values()
            .any(|u| u.status == tenet::model::UserStatus::Invited && u.invitation.is_some())
    );
}

#[test]
fn toml_and_kdl_examples_are_the_same_organisation() {
    let toml = check_tree(Path::new("examples/acme"), None);
    let kdl = check_tree(Path::new("examples/acme-kdl"), None);
    assert!(!toml.has_errors() && !kdl.has_errors());
    assert_eq!(toml.config.state, kdl.config.state);
    assert_eq!(toml.config.teams, kdl.config.teams);
    assert_eq!(toml.config.policy, kdl.config.policy);
    assert_eq!(toml.config.default_quotas, kdl.config.default_quotas);
    assert_eq!(toml.config.platform.profile, kdl.config.platform.profile);
    // Only the sandbox database differs.
    assert_ne!(toml.config.platform.endpoint, kdl.config.platform.endpoint);
    // The comparison is not vacuous: the trees are populated.
    assert_eq!(toml.config.state.users.len(), 20);
    assert!(toml.config.state.memberships.len() > 20);
    assert!(toml.config.state.settings.is_some());
}

#[test]
fn every_example_file_passes_the_schema() {
    for dir in ["examples/acme", "examples/acme-kdl"] {
        let checked = check_tree(Path::new(dir), None);
        assert!(checked.loaded.sources.len() >= 8, "{dir}: all files loaded");
        let schema_codes: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.code.starts_with("tenet::schema") || d.code.starts_with("tenet::syntax"))
            .collect();
        assert!(schema_codes.is_empty(), "{dir}: {schema_codes:?}");
    }
}

#[test]
fn schema_command_prints_the_schema_file() {
    let out = tenet()
        .arg("schema")
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    assert_eq!(out.status.code(), Some(0));
    let file = std::fs::read("schema/tenet.schema.json").unwrap_or_else(|e| panic!("read: {e}"));
    assert_eq!(out.stdout, file);
    let parsed: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("json: {e}"));
    assert_eq!(
        parsed["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}

#[test]
fn usage_errors_exit_1_not_2() {
    let out = tenet()
        .args(["validate", "--format", "yaml"])
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn github_actions_annotations() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::write(
        dir.path().join("tenet.toml"),
        "[platform]\nprofile = \"m3forge\"\nnmae = 1\n",
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    let out = tenet()
        .env("GITHUB_ACTIONS", "true")
        .args(["validate"])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected_prefix = format!(
        "::error file={}/tenet.toml,line=3,col=1,endLine=3,endColumn=5,title=tenet%3A%3Aschema%3A%3Aunknown-field::unknown field `nmae`",
        dir.path().display()
    );
    assert!(stdout.starts_with(&expected_prefix), "{stdout}");
}

#[test]
fn every_diagnostic_code_is_documented() {
    let docs = std::fs::read_to_string("docs/validate.md").unwrap_or_else(|e| panic!("read: {e}"));
    let mut codes = std::collections::BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read_dir: {e}")) {
            let path = entry.unwrap_or_else(|e| panic!("entry: {e}")).path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (i, _) in text.match_indices("\"tenet::") {
                let code: String = text[i + 1..].chars().take_while(|c| *c != '"').collect();
                // Test-only codes are not part of the product.
                if !code.ends_with("::x") {
                    codes.insert(code);
                }
            }
        }
    }
    assert!(codes.len() > 30, "found {codes:?}");
    let missing: Vec<_> = codes
        .iter()
        .filter(|c| !docs.contains(&format!("`{c}`")))
        .collect();
    assert!(missing.is_empty(), "undocumented codes: {missing:?}");
}

#[test]
fn why_says_no_for_a_suspended_user_even_with_roles() {
    // charles.babbage is suspended in the example but holds `member` in finance.
    let out = tenet()
        .args([
            "why",
            "charles.babbage@acme.example",
            "workflows.view",
            "--workspace",
            "finance",
            "--dir",
            "examples/acme",
        ])
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is suspended"), "{stderr}");
    assert!(
        stderr.contains("granted here"),
        "the roles are still shown: {stderr}"
    );
}
