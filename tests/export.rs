//! `tenet export` end to end: each shipped example is applied to a fresh
//! platform (a sandbox database, or a real `tenet serve` child on a free
//! port), exported as TOML and as KDL, and each export must validate and
//! plan with no changes against the same platform. Also: refusals (no
//! endpoint, a missing sandbox, a non-empty directory), `--force`, byte for
//! byte determinism, and a library-level round trip of values that are hard
//! to quote (an email with `'` and `+`, labels with quotes, backslashes,
//! newlines and `/` in keys).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{ServeChild, copy_tree, run, token};

use tenet::export::{Format, Options, export};
use tenet::model::live::{MANAGED_LABEL, Meta};
use tenet::model::{
    Assignment, Email, Live, Membership, Profile, Provider, ProviderKind, ProviderScope, Quotas,
    RateLimits, Role, Settings, Slug, User, UserStatus, Workspace, WorkspaceStatus,
};
use tenet::model::{ObjectId, Stamp};

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

/// The shared quiet `tenet`, which also inherits none of the key variables
/// the export writes.
fn tenet() -> Command {
    let mut cmd = support::tenet();
    for (k, _) in EXPORT_KEYS {
        cmd.env_remove(k);
    }
    cmd
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

/// Where the round trip runs.
enum Platform {
    Sandbox,
    Http,
}

/// Apply `example`, export it both ways, validate and plan each export.
fn round_trip(example: &str, platform: Platform) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let conf = tmp.path().join("conf");
    copy_tree(&support::example(example), &conf);
    // The server and a write token for it.
    let server: Option<(ServeChild, String)> = match platform {
        Platform::Sandbox => None,
        Platform::Http => {
            let db = tmp.path().join("s.db");
            let token = token(&db, "export-test", "write");
            Some((ServeChild::start(&db, &[]), token))
        }
    };
    let endpoint = match &server {
        Some((s, _)) => s.url.clone(),
        None => format!("sandbox:{}", tmp.path().join("p.db").display()),
    };
    let cmd = |keys: &[(&str, &str)]| {
        let mut c = tenet();
        if let Some((_, token)) = &server {
            c.env("TENET_TOKEN", token);
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
    copy_tree(&support::example("acme"), &conf);
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
    let managed = |extra: &[(&str, &str)]| {
        let labels: tenet::model::Labels = [(MANAGED_LABEL, "true")]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Meta::from_labels(Stamp::Version(1), &labels)
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
            invitation: None,
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
            invitation: Some(tenet::model::Invitation {
                message: Some("Welcome, \"new\" hire!\nSee C:\\onboarding.".into()),
                resend_expired: false,
                sent: Some(tenet::model::SentInvitation {
                    expires_at: "2026-12-11T09:00:00Z".into(),
                    expired: false,
                }),
            }),
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
    live.secret_fingerprints.insert(
        tenet::model::ObjectId::Provider(provider.clone()),
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
            settings: tenet::model::WorkspaceSettings {
                theme: Some(tenet::model::Theme::Dark),
                language: Some("pt-BR".into()),
                timezone: Some("America/Argentina/Buenos_Aires".into()),
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
        ObjectId::User(obrien.clone()),
        managed(&[("tenet.dev/prevent-destroy", "true")]),
    );
    live.meta
        .insert(ObjectId::User(invited.clone()), managed(&[]));
    live
}

#[test]
fn hard_values_round_trip_through_toml_and_kdl() {
    let live = tricky_live();
    for format in [Format::Toml, Format::Kdl] {
        let opts = Options {
            format,
            endpoint: "https://forge.acme.example".into(),
            archive: true,
            profile: Profile::M3forge,
            images: Default::default(),
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

        // Users: every label and the name exactly; invited with its message.
        let obrien = &state.users[&email("o'brien+x@acme.example")];
        let live_obrien = &live.state.users[&email("o'brien+x@acme.example")];
        assert_eq!(obrien.name, live_obrien.name, "{format:?}");
        assert_eq!(obrien.labels, live_obrien.labels, "{format:?}");
        assert!(obrien.prevent_destroy);
        let invited = &state.users[&email("new.hire@acme.example")];
        assert_eq!(invited.status, UserStatus::Invited);
        assert_eq!(
            invited
                .invitation
                .as_ref()
                .and_then(|i| i.message.as_deref()),
            Some("Welcome, \"new\" hire!\nSee C:\\onboarding."),
            "{format:?}"
        );

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
