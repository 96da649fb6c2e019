//! Bad input never panics, driven through the real binary: output into a
//! closed pipe (`tenet plan | head -0`) ends quietly with exit 0 on every
//! command, with and without GitHub annotations; a diagnostic on a line
//! longer than 65,535 columns renders (windowed) and still names file, line
//! and column; a literal in a secret field is never shown, whatever it looks
//! like, and is named by its path (`api_keys[0]`); a `TENET_TOKEN` that is
//! not a valid header value is said to be so (never shown) for every target
//! that takes it, instead of "endpoint unreachable".

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::{Run, copy_tree, example, run, tenet};

// ------------------------------------------------------------ closed pipes

/// Runs `cmd` with stdout (and, with `stderr_too`, stderr) writing into a
/// pipe whose reading end is already closed, as `| head -0` leaves it.
/// Whatever stream is not closed is captured.
fn into_closed_pipe(mut cmd: Command, stderr_too: bool) -> Run {
    let (reader, writer) = std::io::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    drop(reader);
    if stderr_too {
        let w2 = writer
            .try_clone()
            .unwrap_or_else(|e| panic!("pipe clone: {e}"));
        cmd.stderr(Stdio::from(w2));
    }
    cmd.stdout(Stdio::from(writer));
    run(cmd)
}

/// Exit 0 and no panic, whatever stream was closed.
#[track_caller]
fn ends_quietly(r: &Run) {
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("Broken pipe"),
        "a closed pipe must end quietly: {}",
        r.show()
    );
    assert_eq!(r.code, 0, "a closed pipe ends with exit 0: {}", r.show());
}

/// A copy of `examples/acme` and an empty sandbox beside it.
fn acme() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    copy_tree(&example("acme"), &tmp.path().join("acme"));
    let endpoint = format!("sandbox:{}", tmp.path().join("p.db").display());
    (tmp, endpoint)
}

fn cmd_in(dir: &Path, args: &[&str]) -> Command {
    let mut c = tenet();
    c.current_dir(dir).args(args);
    c
}

#[test]
fn a_closed_stdout_ends_plan_drift_and_apply_quietly() {
    let (tmp, endpoint) = acme();
    let dir = tmp.path();
    for format in ["text", "markdown", "json"] {
        // Changes would exit 2; nobody reads them, so it is 0.
        ends_quietly(&into_closed_pipe(
            cmd_in(
                dir,
                &["plan", "acme", "--endpoint", &endpoint, "--format", format],
            ),
            false,
        ));
        ends_quietly(&into_closed_pipe(
            cmd_in(
                dir,
                &["drift", "acme", "--endpoint", &endpoint, "--format", format],
            ),
            true,
        ));
    }
    // Apply is the point, not its output: it still applies everything.
    let r = into_closed_pipe(
        cmd_in(
            dir,
            &["apply", "acme", "--endpoint", &endpoint, "--auto-approve"],
        ),
        false,
    );
    ends_quietly(&r);
    assert!(
        r.stderr.is_empty() || !r.stderr.contains("error"),
        "{}",
        r.show()
    );
    run(cmd_in(dir, &["plan", "acme", "--endpoint", &endpoint])).code(0);
}

#[test]
fn a_closed_stdout_ends_validate_quietly_with_and_without_github_annotations() {
    let (tmp, _) = acme();
    let dir = tmp.path();
    ends_quietly(&into_closed_pipe(cmd_in(dir, &["validate", "acme"]), false));
    ends_quietly(&into_closed_pipe(
        cmd_in(dir, &["validate", "acme", "--format", "json"]),
        false,
    ));
    // An invalid tree: annotations on stdout, diagnostics on stderr, both
    // into the closed pipe.
    support::edit(
        &dir.join("acme/workspaces/finance.toml"),
        "name = \"Finance\"",
        "name = 42",
    );
    for both in [false, true] {
        let mut c = cmd_in(dir, &["validate", "acme"]);
        c.env("GITHUB_ACTIONS", "true");
        ends_quietly(&into_closed_pipe(c, both));
    }
    // A closed stderr alone loses the diagnostics, not the verdict.
    let mut c = cmd_in(dir, &["validate", "acme"]);
    let (reader, writer) = std::io::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    drop(reader);
    c.stderr(Stdio::from(writer));
    let r = run(c);
    assert_eq!(r.code, 1, "{}", r.show());
}

#[test]
fn a_closed_stdout_ends_completions_schema_why_and_help_quietly() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        ends_quietly(&into_closed_pipe(
            cmd_in(Path::new("."), &["completions", shell]),
            false,
        ));
    }
    ends_quietly(&into_closed_pipe(
        cmd_in(Path::new("."), &["schema"]),
        false,
    ));
    ends_quietly(&into_closed_pipe(
        cmd_in(Path::new("."), &["--help"]),
        false,
    ));
    ends_quietly(&into_closed_pipe(
        cmd_in(Path::new("."), &["--version"]),
        false,
    ));
    let acme = example("acme");
    let acme = acme.to_string_lossy();
    ends_quietly(&into_closed_pipe(
        cmd_in(
            Path::new("."),
            &[
                "why",
                "ada.lovelace@acme.example",
                "workflows.view",
                "--workspace",
                "finance",
                "--dir",
                &acme,
            ],
        ),
        true,
    ));
}

#[test]
fn a_closed_stdout_ends_init_export_and_token_create_quietly() {
    let (tmp, endpoint) = acme();
    let dir = tmp.path();
    // init writes every file before it says so.
    ends_quietly(&into_closed_pipe(cmd_in(dir, &["init", "scaffold"]), true));
    assert!(dir.join("scaffold/tenet.toml").is_file());
    assert!(dir.join("scaffold/.github/workflows").is_dir());
    run(cmd_in(
        dir,
        &["apply", "acme", "--endpoint", &endpoint, "--auto-approve"],
    ))
    .code(0);
    // export speaks on stderr only.
    ends_quietly(&into_closed_pipe(
        cmd_in(
            dir,
            &["export", "--endpoint", &endpoint, "--out", "exported"],
        ),
        true,
    ));
    assert!(dir.join("exported/tenet.toml").is_file());
    let db = dir.join("p.db");
    let db = db.to_string_lossy();
    ends_quietly(&into_closed_pipe(
        cmd_in(
            dir,
            &[
                "serve", "token", "create", "ci", "--scope", "read", "--db", &db,
            ],
        ),
        true,
    ));
    // Nobody saw that token, so it was not kept: the name is free.
    run(cmd_in(
        dir,
        &[
            "serve", "token", "create", "ci", "--scope", "read", "--db", &db,
        ],
    ))
    .code(0);
}

// ------------------------------------------------------------ long lines

/// A tree under a temporary directory: `(relative path, text)` files.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for (rel, text) in files {
        let path = tmp.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    }
    tmp
}

/// `tenet validate .` inside `dir`, with `env`.
fn validate_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = cmd_in(dir, &["validate", "."]);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

#[test]
fn a_diagnostic_past_column_65535_is_windowed_and_names_file_line_and_column() {
    let long = "a".repeat(65_600);
    let text = format!("[workspaces.finance]\nname = \"{long}\" junk\n");
    let tmp = tree(&[("tenet.toml", &text)]);
    let r = validate_in(tmp.path(), &[], &[]);
    r.code(1);
    // `name = "` is 8 characters, then the string and `" `: junk starts
    // at column 8 + 65,600 + 3.
    r.stderr_has("tenet.toml:2:65611");
    r.stderr_has("invalid TOML");
    r.stderr_has("…");
    assert!(
        r.stderr.len() < 4_000,
        "the line is shown as a window, not whole: {} bytes",
        r.stderr.len()
    );
    // JSON and annotations say the same place.
    let j = validate_in(tmp.path(), &["--format", "json"], &[]);
    j.code(1);
    let d = &j.json()["diagnostics"][0];
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(2), Some(65_611))
    );
    let g = validate_in(tmp.path(), &[], &[("GITHUB_ACTIONS", "true")]);
    g.code(1);
    g.stdout_has("line=2,col=65611");
}

#[test]
fn labels_on_long_lines_in_two_files_are_windowed_each_with_its_own_position() {
    let pad = format!("# {}", "x".repeat(70_000));
    let first = format!("[workspaces.finance]  {pad}\nname = \"Finance\"\n");
    let again = format!("name = \"x\"  {pad}\n[workspaces.finance]  {pad}\nname = \"Old\"\n")
        .replacen("name = \"x\"", "[workspaces.other]\nname = \"x\"", 1);
    let tmp = tree(&[
        ("tenet.toml", "[platform]\nprofile = \"m3forge\"\n"),
        ("finance.toml", &first),
        ("legacy/finance.toml", &again),
    ]);
    let r = validate_in(tmp.path(), &[], &[]);
    r.code(1);
    r.stderr_has("workspace `finance` is declared twice");
    r.stderr_has("legacy/finance.toml:3:13");
    r.stderr_has("finance.toml:1:13");
    r.stderr_has("first declared here");
    assert!(r.stderr.len() < 6_000, "{} bytes", r.stderr.len());
    // A 70,000-character key is cut in the message too.
    let key = "k".repeat(70_000);
    let tmp = tree(&[("tenet.toml", &format!("[workspaces.{key}]\nname = 5\n"))]);
    let r = validate_in(tmp.path(), &[], &[]);
    r.code(1);
    r.stderr_has("is not a valid identifier");
    r.stderr_has("tenet.toml:1:13");
    assert!(r.stderr.len() < 6_000, "{} bytes", r.stderr.len());
}

// ------------------------------------------------------------ secret literals

const BASE_TOML: &str = "[platform]\nprofile = \"m3forge\"\n\n[users.\"ada@acme.example\"]\nname = \"Ada\"\n\n[workspaces.finance]\nname = \"Finance\"\n\n[workspaces.finance.members]\n\"ada@acme.example\" = [\"administrator\"]\n";

/// Every output of `tenet validate` on `dir`: text, JSON, annotations.
fn every_output(dir: &Path) -> Vec<Run> {
    vec![
        validate_in(dir, &[], &[]),
        validate_in(dir, &["--format", "json"], &[]),
        validate_in(dir, &[], &[("GITHUB_ACTIONS", "true")]),
    ]
}

#[test]
fn a_literal_in_a_secret_field_is_never_shown_whatever_it_looks_like() {
    let cases: [(&str, &str, &str); 5] = [
        (
            "providers.toml",
            "[providers.openai]\nkind = \"openai\"\nmodels = [\"gpt-4o\"]\napi_keys = [\"my-openai-key-is-hunter2\"]\n",
            "api_keys[0]",
        ),
        (
            "providers.toml",
            "[providers.openai]\nkind = \"openai\"\nmodels = [\"gpt-4o\"]\napi_keys = [\"env:OK\", 'hunter2hunter2']\n",
            "api_keys[1]",
        ),
        (
            "providers.toml",
            "[providers.openai]\nkind = \"openai\"\nmodels = [\"gpt-4o\"]\napi_keys = [31415926535]\n",
            "api_keys[0]",
        ),
        (
            "providers.toml",
            "[providers.openai]\nkind = \"openai\"\nmodels = [\"gpt-4o\"]\napi_keys = \"hunter2hunter2\"\n",
            "api_keys",
        ),
        (
            "providers.kdl",
            "provider openai {\n    kind openai\n    models gpt-4o\n    api_keys env:OK \"hunter2 with spaces\"\n}\n",
            "api_keys[1]",
        ),
    ];
    for (file, text, field) in cases {
        let tmp = tree(&[("tenet.toml", BASE_TOML), (file, text)]);
        let outputs = every_output(tmp.path());
        for r in &outputs {
            r.code(1);
            for canary in ["hunter2", "31415926535"] {
                assert!(
                    !r.all().contains(canary),
                    "{canary} shown for {text:?}: {}",
                    r.show()
                );
            }
        }
        outputs[0].stderr_has(&format!("`{field}` holds a literal value"));
        outputs[0].stderr_has("literal value (hidden)");
        assert!(!outputs[0].stderr.contains("`0`"), "{}", outputs[0].show());
    }
}

#[test]
fn a_literal_in_a_secret_field_is_hidden_even_when_the_file_does_not_parse() {
    // The syntax error is on the next line: its context shows the key line.
    let text = "[providers.openai]\nkind = \"openai\"\napi_keys = [\"my-openai-key-is-hunter2\"]\nmodels = [\"gpt-4o\" junk\n";
    let tmp = tree(&[("tenet.toml", BASE_TOML), ("providers.toml", text)]);
    for r in every_output(tmp.path()) {
        r.code(1);
        assert!(!r.all().contains("hunter2"), "{}", r.show());
    }
    let kdl = "provider openai {\n    api_keys \"my-openai-key-is-hunter2\"\n    models {{{\n}\n";
    let tmp = tree(&[("tenet.toml", BASE_TOML), ("providers.kdl", kdl)]);
    for r in every_output(tmp.path()) {
        r.code(1);
        assert!(!r.all().contains("hunter2"), "{}", r.show());
    }
}

// ------------------------------------------------------------ bad tokens

#[test]
fn a_token_with_a_line_break_or_whitespace_is_named_as_the_problem_for_every_target() {
    let (tmp, _) = acme();
    let dir = tmp.path();
    let db = dir.join("platform.db");
    let token = support::token(&db, "ci", "write");
    let server = support::ServeChild::start(&db, &[]);
    copy_tree(&example("directory"), &dir.join("directory"));
    copy_tree(&example("openwebui"), &dir.join("openwebui"));
    // Nothing listens on port 9: before the check, that was all anyone saw.
    let endpoints = [
        (server.url.clone(), "acme"),
        ("scim+http://127.0.0.1:9/v2".to_owned(), "directory"),
        ("openwebui+http://127.0.0.1:9".to_owned(), "openwebui"),
    ];
    let bad = [
        (format!("{token}\n"), "ends with a line break"),
        (format!("{token}\r\n"), "ends with a line break"),
        (format!(" {token}"), "starts or ends with whitespace"),
        (format!("{token}\tx"), "contains a control character"),
        (format!("tok en-{token}"), "contains whitespace"),
    ];
    for (endpoint, config) in &endpoints {
        for (value, says) in &bad {
            for command in ["plan", "drift"] {
                let mut c = cmd_in(dir, &[command, config, "--endpoint", endpoint]);
                c.env("TENET_TOKEN", value);
                let r = run(c);
                r.code(1);
                r.stderr_has(&format!("TENET_TOKEN {says}"));
                assert!(
                    !r.all().contains(&token),
                    "the token is shown: {}",
                    r.show()
                );
                assert!(!r.all().contains("unreachable"), "{}", r.show());
            }
        }
    }
    // The same token without the line break works.
    let mut c = cmd_in(dir, &["plan", "acme", "--endpoint", &server.url]);
    c.env("TENET_TOKEN", &token);
    for k in support::KEY_VARS {
        c.env(k, "k");
    }
    run(c).code(2);
}

/// A secret-field literal with multi-byte characters next to it (or after a
/// `\` escape) is masked whole; the masker used to slice inside a character
/// and panic (exit 101).
#[test]
fn a_multi_byte_character_in_a_secret_field_is_masked_not_a_panic() {
    let cases: [(&str, &str); 4] = [
        (
            "providers.toml",
            "[providers.openai]\nkind = \"openai\"\nmodels = [\"gpt-4o\"]\napi_keys = [\"a\\é hunter2\"]\n",
        ),
        (
            "providers.toml",
            "[providers.openai]\nkind = \"openai\"\nmodels = [\"gpt-4o\"]\napi_keys = [\"é漢😀hunter2😀\"]\n",
        ),
        (
            "providers.kdl",
            "provider openai {\n    kind openai\n    models gpt-4o\n    api_keys \"\\😀hunter2\"\n}\n",
        ),
        (
            "providers.kdl",
            "provider openai {\n    kind openai\n    models gpt-4o\n    api_keys hunter2é\n}\n",
        ),
    ];
    for (file, text) in cases {
        let tmp = tree(&[("tenet.toml", BASE_TOML), (file, text)]);
        for r in every_output(tmp.path()) {
            r.code(1);
            assert!(!r.all().contains("panicked"), "{}", r.show());
            assert!(!r.all().contains("hunter2"), "{text:?}: {}", r.show());
        }
    }
}

/// Wherever a literal sits in a secret field, it is hidden: in a TOML inline
/// table, in a comment after the value on its line, in a KDL children block.
#[test]
fn a_secret_literal_in_an_inline_table_a_trailing_comment_or_a_children_block_is_hidden() {
    let provider = "[providers.openai]\nkind = \"openai\"\nmodels = [\"gpt-4o\"]\n";
    let cases = [
        ("providers.toml", format!("{provider}api_keys = {{ x = \"hunter2\" }}\n")),
        (
            "providers.toml",
            format!("{provider}api_keys = [\"env:OK\"] # was hunter2\nname = 5\n"),
        ),
        (
            "providers.kdl",
            "provider openai {\n    kind openai\n    models gpt-4o\n    api_keys { - \"hunter2\" }\n}\n"
                .to_owned(),
        ),
        (
            "providers.kdl",
            "provider openai {\n    kind openai\n    models gpt-4o\n    api_keys {\n        - hunter2\n    }\n}\n"
                .to_owned(),
        ),
    ];
    for (file, text) in &cases {
        let tmp = tree(&[("tenet.toml", BASE_TOML), (file, text)]);
        for r in every_output(tmp.path()) {
            r.code(1);
            assert!(!r.all().contains("hunter2"), "{text:?}: {}", r.show());
        }
    }
}

// ------------------------------------------------------------ hostile text

/// Deep nesting, long runs of one character and floods of characters KDL
/// cannot read made the `kdl` parser overflow its stack (a signal, not an
/// exit code); chains of `/-` and unclosed raw strings made it take minutes
/// (quadratic or worse). They are refused before parsing, with the limit,
/// the file, line and column.
#[test]
fn hostile_kdl_is_refused_before_parsing_with_file_line_and_column() {
    let cases = [
        (
            format!("a {}\n", "/*".repeat(10_000)),
            "block comments are nested more than 64 levels deep",
            "deep.kdl:1:131",
        ),
        (
            format!("{}\n", "a { ".repeat(10_000)),
            "nodes are nested more than 64 levels deep",
            "deep.kdl:1:259",
        ),
        (
            format!("x {}\n", "\"".repeat(60_000)),
            "a run of 60000 `\"` characters",
            "deep.kdl:1:3",
        ),
        (
            format!("x {}\n", "}".repeat(20_000)),
            "a run of 20000 `}` characters",
            "deep.kdl:1:3",
        ),
        (
            format!("x\n{}\n", "= ".repeat(20_000)),
            "characters that cannot start or continue a node",
            "deep.kdl:2:1",
        ),
        (
            format!("x \"{}\"\n", "\\".repeat(10_000)),
            "a run of 10000 `\\` characters",
            "deep.kdl:1:4",
        ),
        (
            format!("x {}\n", "/- ".repeat(2_000)),
            "2000 `/-` in a row",
            "deep.kdl:1:3",
        ),
        (
            format!("x {}\n", "#\"a ".repeat(2_000)),
            "a raw string opened here is never closed",
            "deep.kdl:1:3",
        ),
    ];
    for (text, says, place) in &cases {
        let tmp = tree(&[("tenet.toml", BASE_TOML), ("deep.kdl", text)]);
        let started = std::time::Instant::now();
        let r = validate_in(tmp.path(), &[], &[]);
        r.code(1);
        r.stderr_has("tenet::syntax::too-deep")
            .stderr_has(says)
            .stderr_has(place);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{says}: took {:?}",
            started.elapsed()
        );
    }
}

/// A file with thousands of problems shows the first 200 and one line with
/// how many more there are, in every format; the counts stay whole.
#[test]
fn thousands_of_problems_in_one_file_show_200_and_how_many_more() {
    let mut many = String::new();
    for i in 0..3_000 {
        many.push_str(&format!("[workspaces.w{i}]\nnmae = 1\n"));
    }
    let tmp = tree(&[("tenet.toml", BASE_TOML), ("many.toml", &many)]);
    let r = validate_in(tmp.path(), &[], &[]);
    r.code(1);
    let reports = r.stderr.matches("tenet::schema::unknown-field").count();
    assert_eq!(reports, 200, "{} bytes", r.stderr.len());
    r.stderr_has("more problems in many.toml");
    r.stderr_has("is not valid: ");
    let j = validate_in(tmp.path(), &["--format", "json"], &[]);
    j.code(1);
    let doc = j.json();
    let in_file = doc["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["file"] == "many.toml")
        .count();
    assert_eq!(in_file, 201, "200 and the summary");
    assert!(
        doc["errors"].as_u64().unwrap_or(0) >= 3_000,
        "{}",
        doc["errors"]
    );
    let g = validate_in(tmp.path(), &[], &[("GITHUB_ACTIONS", "true")]);
    assert!(g.stdout.matches("::error file=many.toml").count() <= 201);
    g.stdout_has("more problems in many.toml");
}

/// A file name with a line break or a bidirectional override is shown
/// escaped: it used to split the `file:line:column` header of every
/// diagnostic in the file over two lines.
#[test]
fn a_file_name_with_a_line_break_is_shown_escaped() {
    let text = "[workspaces.finance]\nnmae = \"Finance\"\n";
    for (name, shown) in [
        ("new\nline.toml", "new\\nline.toml:2:1"),
        ("evil\u{202e}lmot.toml", "evil\\u{202e}lmot.toml:2:1"),
    ] {
        let tmp = tree(&[("tenet.toml", BASE_TOML), (name, text)]);
        let r = validate_in(tmp.path(), &[], &[]);
        r.code(1);
        r.stderr_has(&format!("╭─[{shown}]"));
        let j = validate_in(tmp.path(), &["--format", "json"], &[]);
        assert!(
            j.json()["diagnostics"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|d| d["file"]
                    .as_str()
                    .is_some_and(|f| !f.contains(['\n', '\u{202e}']))),
            "{}",
            j.show()
        );
    }
}

/// A directory without `tenet.toml` is not a config root, and nothing below
/// it is read: `tenet validate /`, or a saved plan whose `config_root` was
/// edited to `/` or `/proc`, used to walk the whole disk (20,000 problems
/// about files under /proc, and minutes).
#[test]
fn a_directory_without_tenet_toml_is_not_walked() {
    let started = std::time::Instant::now();
    let r = run(cmd_in(Path::new("."), &["validate", "/"]));
    r.code(1);
    r.stderr_has("no tenet.toml in `/`")
        .stderr_has("(0 files checked)");
    let (tmp, endpoint) = acme();
    let dir = tmp.path();
    run(cmd_in(
        dir,
        &[
            "plan",
            "acme",
            "--endpoint",
            &endpoint,
            "--out",
            "plan.json",
        ],
    ))
    .code(2);
    let plan = dir.join("plan.json");
    let text = std::fs::read_to_string(&plan).unwrap_or_else(|e| panic!("read plan: {e}"));
    let doc: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("plan JSON: {e}"));
    let root = doc["config_root"].as_str().unwrap_or_default().to_owned();
    for elsewhere in ["/", "/proc"] {
        let edited = text.replacen(
            &format!(
                "\"config_root\": {}",
                serde_json::Value::String(root.clone())
            ),
            &format!("\"config_root\": \"{elsewhere}\""),
            1,
        );
        assert_ne!(edited, text, "config_root not found in the plan");
        std::fs::write(&plan, edited).unwrap_or_else(|e| panic!("write plan: {e}"));
        let r = run(cmd_in(dir, &["apply", "plan.json"]));
        r.code(1);
        r.stderr_has(&format!("no tenet.toml in `{elsewhere}`"));
        assert!(r.stderr.matches("tenet::").count() < 5, "{}", r.show());
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------- branding images

/// An image over 2 MiB is refused unread, at the line that names it, even
/// when its first bytes are a PNG's.
#[test]
fn an_oversized_branding_image_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_tree(&example("magoneai"), dir.path());
    let mut big =
        std::fs::read(dir.path().join("branding/logo-light.png")).unwrap_or_else(|e| panic!("{e}"));
    big.resize(2 * 1024 * 1024 + 1, 0);
    std::fs::write(dir.path().join("branding/logo-light.png"), big)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = run(cmd_in(dir.path(), &["validate", "."]));
    r.code(1)
        .stderr_has("tenet::branding::image")
        .stderr_has("it is 2097153 bytes, over the limit of 2 MiB")
        .stderr_has("tenet.toml:31:14");
}
