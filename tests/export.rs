//! `tenet export` end to end: each shipped example is applied to a fresh
//! platform (a sandbox database, or a real `tenet serve` child on a free
//! port), exported as TOML and as KDL, and each export must validate and
//! plan with no changes against the same platform. Also: refusals (no
//! endpoint, a missing sandbox, a non-empty directory), `--force`, byte for
//! byte determinism, and a library-level round trip of values that are hard
//! to quote (an email with `'` and `+`, labels with quotes, backslashes,
//! newlines and `/` in keys).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tenet::export::{Format, Options, export};
use tenet::model::live::{MANAGED_LABEL, Meta, resource};
use tenet::model::{
    Assignment, Email, Live, Membership, Profile, Provider, ProviderKind, ProviderScope, Quotas,
    RateLimits, Role, Settings, Slug, User, UserStatus, Workspace, WorkspaceStatus,
};

const NO_CHANGES: &str = "No changes. The platform matches the configuration.";

/// Key values the examples' `env:` references get at apply time.
const APPLY_KEYS: [(&str, &str); 4] = [
    ("AZURE_OPENAI_KEY_1", "test-azure-one"),
    ("AZURE_OPENAI_KEY_2", "test-azure-two"),
    ("ANTHROPIC_API_KEY", "test-anthropic"),
    ("OPENAI_API_KEY", "test-openai"),
];

/// The same values under the names the export writes.
const EXPORT_KEYS: [(&str, &str); 4] = [
    ("AZURE_OPENAI_KEY_1", "test-azure-one"),
    ("AZURE_OPENAI_KEY_2", "test-azure-two"),
    ("ANTHROPIC_KEY_1", "test-anthropic"),
    ("OPENAI_KEY_1", "test-openai"),
];

/// A quiet `tenet` with nothing inherited that changes its behaviour.
fn tenet() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenet"));
    cmd.env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("RUST_LOG")
        .env_remove("TENET_ENDPOINT")
        .env_remove("TENET_TOKEN")
        .stdin(Stdio::null());
    for (k, _) in APPLY_KEYS.iter().chain(&EXPORT_KEYS) {
        cmd.env_remove(k);
    }
    cmd
}

struct Run {
    what: String,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "`{}` exited {} (expected {code})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        );
        self
    }
}

fn run(mut cmd: Command) -> Run {
    let what = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run `tenet {what}`: {e}"));
    Run {
        what: format!("tenet {what}"),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Copies a config tree, leaving out any `.tenet` sandbox directory.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let ty = entry.file_type().unwrap_or_else(|e| panic!("{e}"));
        let target = to.join(entry.file_name());
        if ty.is_dir() && entry.file_name() != ".tenet" {
            copy_tree(&entry.path(), &target);
        } else if ty.is_file() {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("copy: {e}"));
        }
    }
}

/// Every file below `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
                let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                out.insert(rel, text);
            }
        }
    }
    out
}

/// A `tenet serve` child process, killed when dropped.
struct Server {
    child: Child,
    url: String,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(db: &Path) -> Server {
        let mut token = tenet();
        token
            .args([
                "serve",
                "token",
                "create",
                "export-test",
                "--scope",
                "write",
                "--db",
            ])
            .arg(db);
        let t = run(token);
        t.code(0);
        let token = t.stdout.trim().to_owned();
        assert!(
            !token.is_empty() && t.stdout.lines().count() == 1,
            "{}",
            t.stdout
        );

        let mut child = tenet()
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn tenet serve: {e}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (tx, rx) = mpsc::channel();
        // Keeps reading (the server logs every request) so it never blocks.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("tenet serve: listening on http://")
                    && let Some(tx) = tx.take()
                {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        // Owned by the guard before anything can panic.
        let mut server = Server {
            child,
            url: String::new(),
            token,
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("tenet serve did not say where it listens"));
        server.url = format!("http://{addr}");
        server
    }
}

/// Where the round trip runs.
enum Platform {
    Sandbox,
    Http,
}

/// Apply `example`, export it both ways, validate and plan each export.
fn round_trip(example: &str, platform: Platform) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let conf = tmp.path().join("conf");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(example),
        &conf,
    );
    let server = match platform {
        Platform::Sandbox => None,
        Platform::Http => Some(Server::start(&tmp.path().join("s.db"))),
    };
    let endpoint = match &server {
        Some(s) => s.url.clone(),
        None => format!("sandbox:{}", tmp.path().join("p.db").display()),
    };
    let cmd = |keys: &[(&str, &str)]| {
        let mut c = tenet();
        if let Some(s) = &server {
            c.env("TENET_TOKEN", &s.token);
            c.envs(keys.iter().copied());
        }
        c
    };

    let mut apply = cmd(&APPLY_KEYS);
    apply
        .arg("apply")
        .arg(&conf)
        .args(["--auto-approve", "--endpoint", &endpoint]);
    run(apply).code(0);

    for format in ["toml", "kdl"] {
        let out = tmp.path().join(format!("out-{format}"));
        let mut export = cmd(&[]);
        export
            .args(["export", "--format", format, "--out"])
            .arg(&out)
            .args(["--endpoint", &endpoint]);
        let r = run(export);
        r.code(0);
        assert!(
            r.stderr
                .contains("Exported 5 workspaces, 20 users, 3 custom roles, 3 providers"),
            "{}",
            r.stderr
        );
        assert!(out.join("tenet.toml").is_file());
        assert!(out.join(format!("users.{format}")).is_file());
        assert!(
            out.join(format!("workspaces/production.{format}"))
                .is_file()
        );
        if server.is_some() {
            let providers = std::fs::read_to_string(out.join(format!("providers.{format}")))
                .unwrap_or_else(|e| panic!("{e}"));
            let keys = match format {
                "toml" => r#"api_keys = ["env:AZURE_OPENAI_KEY_1", "env:AZURE_OPENAI_KEY_2"]"#,
                _ => r#"api_keys "env:AZURE_OPENAI_KEY_1" "env:AZURE_OPENAI_KEY_2""#,
            };
            assert!(providers.contains(keys), "{providers}");
            assert!(r.stderr.contains("set ANTHROPIC_KEY_1"), "{}", r.stderr);
        }

        let mut validate = tenet();
        validate.arg("validate").arg(&out);
        run(validate).code(0);

        let mut plan = cmd(&EXPORT_KEYS);
        plan.arg("plan").arg(&out).args(["--endpoint", &endpoint]);
        let p = run(plan);
        p.code(0);
        assert!(p.stdout.contains(NO_CHANGES), "{}", p.stdout);

        if server.is_some() {
            // The placeholders really are compared: a wrong value is a change.
            let mut plan = cmd(&EXPORT_KEYS);
            plan.env("OPENAI_KEY_1", "not-the-key")
                .arg("plan")
                .arg(&out)
                .args(["--endpoint", &endpoint]);
            let p = run(plan);
            p.code(2);
            assert!(p.stdout.contains("providers/openai"), "{}", p.stdout);
        }
    }

    // The endpoint is needed, and a second export is byte for byte the same.
    let again = tmp.path().join("again");
    let mut export = cmd(&[]);
    export
        .args(["export", "--format", "kdl", "--out"])
        .arg(&again)
        .args(["--endpoint", &endpoint]);
    run(export).code(0);
    assert_eq!(files(&again), files(&tmp.path().join("out-kdl")));
}

#[test]
fn acme_round_trips_through_the_sandbox() {
    round_trip("acme", Platform::Sandbox);
}

#[test]
fn acme_kdl_round_trips_through_the_sandbox() {
    round_trip("acme-kdl", Platform::Sandbox);
}

#[test]
fn acme_round_trips_over_http() {
    round_trip("acme", Platform::Http);
}

#[test]
fn acme_kdl_round_trips_over_http() {
    round_trip("acme-kdl", Platform::Http);
}

#[test]
fn refusals_and_force() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = tmp.path().join("out");

    // No endpoint: there are no files to read one from.
    let mut c = tenet();
    c.args(["export", "--out"]).arg(&out);
    let r = run(c);
    r.code(1);
    assert!(r.stderr.contains("no platform endpoint"), "{}", r.stderr);
    assert!(!out.exists());

    // A sandbox that does not exist is not created.
    let missing = tmp.path().join("missing.db");
    let mut c = tenet();
    c.args(["export", "--out"])
        .arg(&out)
        .arg("--endpoint")
        .arg(format!("sandbox:{}", missing.display()));
    run(c).code(1);
    assert!(!missing.exists() && !out.exists());

    // A platform to export: apply the TOML example.
    let conf = tmp.path().join("conf");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme"),
        &conf,
    );
    let endpoint = format!("sandbox:{}", tmp.path().join("p.db").display());
    let mut c = tenet();
    c.arg("apply")
        .arg(&conf)
        .args(["--auto-approve", "--endpoint", &endpoint]);
    run(c).code(0);

    // A non-empty directory is refused and left alone.
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out.join("README.md"), "ours\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out.join("stale.toml"), "[users.\"x@y.example\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let export = |format: &str, force: bool| {
        let mut c = tenet();
        c.env("TENET_ENDPOINT", &endpoint)
            .args(["export", "--format", format, "--out"])
            .arg(&out);
        if force {
            c.arg("--force");
        }
        run(c)
    };
    let r = export("toml", false);
    r.code(1);
    assert!(r.stderr.contains("is not empty"), "{}", r.stderr);
    assert!(!out.join("tenet.toml").exists());

    // --force replaces the config files and keeps the rest.
    export("toml", true).code(0);
    assert!(!out.join("stale.toml").exists());
    assert!(out.join("users.toml").exists());
    export("kdl", true).code(0);
    let names: Vec<PathBuf> = files(&out).into_keys().collect();
    assert!(names.contains(&PathBuf::from("README.md")), "{names:?}");
    assert!(
        names
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .all(|p| p == Path::new("tenet.toml")),
        "{names:?}"
    );
    let mut c = tenet();
    c.arg("plan").arg(&out).args(["--endpoint", &endpoint]);
    let p = run(c);
    p.code(0);
    assert!(p.stdout.contains(NO_CHANGES), "{}", p.stdout);
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap_or_else(|e| panic!("{e:?}"))
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap_or_else(|e| panic!("{e:?}"))
}

/// A small live platform full of values that are hard to write.
fn tricky_live() -> Live {
    let mut live = Live::default();
    let managed = |extra: &[(&str, &str)]| Meta {
        version: 1,
        labels: [(MANAGED_LABEL, "true")]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let labels = |pairs: &[(&str, &str)]| -> tenet::model::Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let s = &mut live.state;
    let obrien = email("o'brien+x@acme.example");
    s.users.insert(
        obrien.clone(),
        User {
            email: obrien.clone(),
            name: Some("Seán \"Shaun\" O'Brien \\ Jr.".into()),
            status: UserStatus::Active,
            labels: labels(&[
                ("nickname", "say \"hi\""),
                ("acme.example/team", "platform / infra"),
                ("note", "line one\nline two\ttabbed"),
                ("2fa", "true"),
                ("empty", ""),
            ]),
            prevent_destroy: true,
        },
    );
    let invited = email("new.hire@acme.example");
    s.users.insert(
        invited.clone(),
        User {
            email: invited.clone(),
            name: None,
            status: UserStatus::Invited,
            labels: Default::default(),
            prevent_destroy: false,
        },
    );
    let role = slug("auditor");
    s.roles.insert(
        role.clone(),
        Role {
            id: role.clone(),
            name: Some("Auditor".into()),
            description: Some("Reads everything.\nChanges nothing.".into()),
            permissions: ["*.view".to_string(), "monitoring.export".to_string()]
                .into_iter()
                .collect(),
            labels: labels(&[("owner", "security")]),
            prevent_destroy: false,
        },
    );
    let provider = slug("1st-party");
    s.providers.insert(
        provider.clone(),
        Provider {
            id: provider.clone(),
            name: Some("First party".into()),
            kind: ProviderKind::Custom,
            endpoint: Some("https://llm.acme.example/v1".into()),
            region: Some("eu west".into()),
            models: ["llama-3-70b".to_string(), "true".to_string()]
                .into_iter()
                .collect(),
            api_keys: Vec::new(),
            rate_limits: RateLimits {
                requests_per_minute: Some(1200),
                tokens_per_minute: None,
            },
            scope: ProviderScope::Global,
            labels: Default::default(),
            prevent_destroy: false,
        },
    );
    live.key_fingerprints.insert(
        provider.clone(),
        vec!["sha256:aa".into(), "sha256:bb".into()],
    );
    let ws = slug("r-and-d");
    s.workspaces.insert(
        ws.clone(),
        Workspace {
            slug: ws.clone(),
            name: Some("R&D".into()),
            description: None,
            status: WorkspaceStatus::Archived,
            labels: labels(&[("cost-center", "cc-0042"), ("quote", "it's \"fine\"")]),
            prevent_destroy: false,
            quotas: Quotas {
                storage_gb: Some(0),
                tokens_per_day: Some(2_500_000),
                ..Quotas::default()
            },
        },
    );
    for (user, roles) in [
        (&obrien, vec!["administrator"]),
        (&invited, vec!["auditor", "member"]),
    ] {
        s.memberships.insert(
            (ws.clone(), user.clone()),
            Membership {
                workspace: ws.clone(),
                user: user.clone(),
                roles: roles.into_iter().map(slug).collect(),
            },
        );
    }
    s.assignments.insert(
        (ws.clone(), provider.clone()),
        Assignment {
            workspace: ws.clone(),
            provider: provider.clone(),
            models: Some(["true".to_string()].into_iter().collect()),
            default: true,
        },
    );
    s.settings = Some(Settings::default());
    live.meta.insert(
        resource::user(&obrien),
        managed(&[("tenet.dev/prevent-destroy", "true")]),
    );
    live.meta.insert(resource::user(&invited), managed(&[]));
    live
}

#[test]
fn hard_values_round_trip_through_toml_and_kdl() {
    let live = tricky_live();
    for format in [Format::Toml, Format::Kdl] {
        let opts = Options {
            format,
            endpoint: "https://forge.acme.example".into(),
            profile: Profile::M3forge,
        };
        let exported = export(&live, &opts);
        assert_eq!(exported, export(&live, &opts), "deterministic");
        assert_eq!(
            exported.key_vars,
            ["_1ST_PARTY_KEY_1", "_1ST_PARTY_KEY_2"],
            "{format:?}"
        );
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        tenet::export::write(tmp.path(), &exported, false).unwrap_or_else(|e| panic!("{e}"));
        let checked = tenet::validate::check_tree(tmp.path(), None);
        assert!(
            !checked.has_errors(),
            "{format:?}: {:#?}\n{:#?}",
            checked.diagnostics,
            exported.files
        );
        let config = &checked.config;
        let state = &config.state;
        assert_eq!(
            config.platform.endpoint.as_deref(),
            Some("https://forge.acme.example")
        );
        assert_eq!(config.platform.profile, Profile::M3forge);

        // Users: every label and the name exactly; invited is written active.
        let obrien = &state.users[&email("o'brien+x@acme.example")];
        let live_obrien = &live.state.users[&email("o'brien+x@acme.example")];
        assert_eq!(obrien.name, live_obrien.name, "{format:?}");
        assert_eq!(obrien.labels, live_obrien.labels, "{format:?}");
        assert!(obrien.prevent_destroy);
        let invited = &state.users[&email("new.hire@acme.example")];
        assert_eq!(invited.status, UserStatus::Active);

        assert_eq!(state.roles, live.state.roles, "{format:?}");
        let p = &state.providers[&slug("1st-party")];
        let lp = &live.state.providers[&slug("1st-party")];
        assert_eq!(
            p.api_keys
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["env:_1ST_PARTY_KEY_1", "env:_1ST_PARTY_KEY_2"]
        );
        assert_eq!(
            Provider {
                api_keys: Vec::new(),
                ..p.clone()
            },
            *lp,
            "{format:?}"
        );
        assert_eq!(state.workspaces, live.state.workspaces, "{format:?}");
        assert_eq!(state.memberships, live.state.memberships, "{format:?}");
        assert_eq!(state.assignments, live.state.assignments, "{format:?}");
        // Nothing set live: no settings written.
        assert_eq!(state.settings, None, "{format:?}");
    }
}
