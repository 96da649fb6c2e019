//! One conformance suite over every target, table-driven: each scenario runs
//! the real binary against the embedded sandbox, the native HTTP server
//! (`tenet serve`), and a real SCIM 2.0 server (scim2-server, started with
//! `scripts/servers/scim.sh`, which installs it in a venv when missing) and
//! a real Open WebUI (`scripts/servers/openwebui.sh`, the same way). The
//! config is `examples/directory`, which every target can hold. Out-of-band
//! changes go through each server's own API, never through tenet. Where a
//! target lacks a capability, the scenario asserts the documented degraded
//! behaviour instead of skipping.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Api, Run, ServeChild, copy_tree, edit, run, tenet};

const ALAN: &str = "alan.turing@acme.example";
const KEN: &str = "ken.thompson@acme.example";
const GRACE: &str = "grace.hopper@acme.example";

// ------------------------------------------------------------ the servers

/// A platform under test, with a way to look at it and change it that does
/// not go through tenet.
trait Platform {
    fn name(&self) -> &'static str;
    fn endpoint(&self) -> String;
    fn token(&self) -> Option<String>;
    /// Renames a user through the platform's own API.
    fn rename_user(&self, email: &str, name: &str);
    /// The user's name as the platform holds it, or `None` when absent.
    fn user_name(&self, email: &str) -> Option<Option<String>>;
    /// Whether the user is suspended there, or `None` when absent.
    fn user_suspended(&self, email: &str) -> Option<bool>;
    /// Where users are marked nowhere: the account tenet signs in as, which
    /// the files must declare (email, name) before users are authoritative.
    fn own_account(&self) -> Option<(&'static str, &'static str)> {
        None
    }
    /// Makes a user and a workspace (group) by hand.
    fn hand_made(&self, email: &str, slug: &str);
    fn workspace_exists(&self, slug: &str) -> bool;
    /// Members of workspace `slug` with their roles, from the platform.
    fn members(&self, slug: &str) -> Vec<(String, Vec<String>)>;
    /// Something that changes whenever anything on the platform is written.
    fn write_mark(&self) -> String;
    /// What an apply must degrade on, as plan warning codes.
    fn degraded(&self) -> &'static [&'static str];
    /// An independent check that the server still conforms to its own
    /// protocol after tenet wrote to it (the native contract is checked by
    /// `scripts/api-conformance.sh` in CI instead).
    fn still_conforms(&self) {}
    /// The `[platform] profile` the config must name there.
    fn profile(&self) -> &'static str {
        "m3forge"
    }
    /// What it cannot hold of `roles/auditor` and finance's storage quota,
    /// as the refusals name it (empty: it holds both).
    fn refuses(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether drift can tell platform changes from file changes for users.
    fn records_users(&self) -> bool {
        true
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// The native platform: `tenet serve` on a database, reached by tenet over
/// HTTP, or by tenet in-process (`sandbox:`) while the same server is the
/// way to look at it.
struct Native {
    server: ServeChild,
    api: Api,
    token: String,
    sandbox: bool,
}

impl Native {
    fn start(dir: &Path, sandbox: bool) -> Native {
        let db = dir.join("platform.db");
        let token = support::token(&db, "ci", "write");
        let server = ServeChild::start(&db, &[]);
        let api = Api::new(&server.url, &token);
        Native {
            server,
            api,
            token,
            sandbox,
        }
    }

    fn get(&self, path: &str) -> support::Answer {
        self.api
            .send(reqwest::Method::GET, &format!("/v1/{path}"), None, None)
    }
}

impl Platform for Native {
    fn name(&self) -> &'static str {
        if self.sandbox { "sandbox" } else { "http" }
    }
    fn endpoint(&self) -> String {
        if self.sandbox {
            format!("sandbox:{}", self.server.db.display())
        } else {
            self.server.url.clone()
        }
    }
    fn token(&self) -> Option<String> {
        (!self.sandbox).then(|| self.token.clone())
    }
    fn rename_user(&self, email: &str, name: &str) {
        let current = self.get(&format!("users/{email}")).expect(200);
        let etag = current.etag.unwrap_or_default();
        self.api
            .send(
                reqwest::Method::PATCH,
                &format!("/v1/users/{email}"),
                Some(&etag),
                Some(&json!({ "name": name })),
            )
            .expect(200);
    }
    fn user_name(&self, email: &str) -> Option<Option<String>> {
        let a = self.get(&format!("users/{email}"));
        (a.status == 200).then(|| a.body["name"].as_str().map(str::to_owned))
    }
    fn user_suspended(&self, email: &str) -> Option<bool> {
        let a = self.get(&format!("users/{email}"));
        (a.status == 200).then(|| a.body["status"] == "suspended")
    }
    fn hand_made(&self, email: &str, slug: &str) {
        let post = |path: &str, body: Value| {
            self.api
                .send(
                    reqwest::Method::POST,
                    &format!("/v1/{path}"),
                    None,
                    Some(&body),
                )
                .expect(201);
        };
        post("users", json!({ "email": email }));
        post("workspaces", json!({ "slug": slug }));
    }
    fn workspace_exists(&self, slug: &str) -> bool {
        self.get(&format!("workspaces/{slug}")).status == 200
    }
    fn members(&self, slug: &str) -> Vec<(String, Vec<String>)> {
        let page = self
            .get(&format!("workspaces/{slug}/memberships?limit=1000"))
            .expect(200);
        let mut out: Vec<(String, Vec<String>)> = page.body["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| {
                let mut roles: Vec<String> = m["roles"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect();
                roles.sort();
                (m["user"].as_str().unwrap_or_default().to_owned(), roles)
            })
            .collect();
        out.sort();
        out
    }
    fn write_mark(&self) -> String {
        let page = self.get("audit?limit=1000").expect(200);
        let n = page.body["items"].as_array().map_or(0, Vec::len);
        format!("{n} audit events, next {}", page.body["next_cursor"])
    }
    fn degraded(&self) -> &'static [&'static str] {
        &[]
    }
}

/// A scim2-server started by `scripts/servers/scim.sh`, stopped on drop.
struct Scim {
    dir: PathBuf,
    url: String,
    token: String,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/servers/scim.sh")
}

/// Members of workspace `slug` with their roles, on a platform that holds
/// them as groups: the group `slug`, and a group `slug:role` per role.
/// `members_of` gives a group's member emails.
fn members_from_groups(
    slug: &str,
    groups: Vec<String>,
    members_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Vec<(String, Vec<String>)> {
    let holders: Vec<(String, Vec<String>)> = groups
        .iter()
        .filter_map(|name| {
            let role = name.strip_prefix(&format!("{slug}:"))?;
            Some((role.to_owned(), members_of(name)?))
        })
        .collect();
    members_of(slug)
        .unwrap_or_default()
        .into_iter()
        .map(|email| {
            let mut roles: Vec<String> = holders
                .iter()
                .filter(|(_, who)| who.contains(&email))
                .map(|(role, _)| role.clone())
                .collect();
            roles.sort();
            (email, roles)
        })
        .collect()
}

/// `SCRIPT install` once per test binary and server, then `SCRIPT start
/// DIR`: the URL and the token it prints (`<PREFIX>_URL=`, `<PREFIX>_TOKEN=`).
fn start_server(
    script: &Path,
    installed: &'static OnceLock<()>,
    dir: &Path,
    prefix: &str,
) -> (String, String) {
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    installed.get_or_init(|| {
        let out = Command::new(script)
            .arg("install")
            .output()
            .unwrap_or_else(|e| panic!("{name} install: {e}"));
        assert!(
            out.status.success(),
            "{name} install failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    let out = Command::new(script)
        .arg("start")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("{name} start: {e}"));
    assert!(
        out.status.success(),
        "{name} start failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Never print `text`: it holds the token.
    let var = |v: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{prefix}_{v}=")))
            .unwrap_or_else(|| panic!("no {prefix}_{v} in the output of {name} start"))
            .trim_matches(|c| c == '\'' || c == '"')
            .to_owned()
    };
    (var("URL"), var("TOKEN"))
}

impl Scim {
    fn start(dir: &Path) -> Scim {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        let dir = dir.join("scim");
        let (url, token) = start_server(&script(), &INSTALLED, &dir, "SCIM");
        Scim {
            url,
            token,
            dir,
            rt: runtime(),
            client: support::client(Duration::from_secs(30)),
        }
    }

    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/{path}", self.url);
        self.rt.block_on(async {
            let mut req = self
                .client
                .request(method.clone(), &url)
                .bearer_auth(&self.token)
                .header("Content-Type", "application/scim+json");
            if let Some(b) = body {
                req = req.body(b.to_string());
            }
            let resp = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    fn find(&self, resource: &str, attr: &str, value: &str) -> Vec<Value> {
        let filter = format!("{attr} eq \"{value}\"");
        let q: String = filter
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = self.send(
            reqwest::Method::GET,
            &format!("{resource}?filter={q}&count=1000"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        body["Resources"].as_array().cloned().unwrap_or_default()
    }

    fn all(&self, resource: &str) -> Vec<Value> {
        let (status, body) = self.send(
            reqwest::Method::GET,
            &format!("{resource}?count=1000"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        body["Resources"].as_array().cloned().unwrap_or_default()
    }

    fn user(&self, email: &str) -> Option<Value> {
        self.find("Users", "userName", email).into_iter().next()
    }

    fn group_members(&self, name: &str) -> Option<Vec<String>> {
        let g = self
            .find("Groups", "displayName", name)
            .into_iter()
            .next()?;
        let ids: Vec<String> = g["members"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m["value"].as_str().map(str::to_owned))
            .collect();
        let users = self.all("Users");
        let mut emails: Vec<String> = ids
            .iter()
            .filter_map(|id| {
                users
                    .iter()
                    .find(|u| u["id"] == id.as_str())
                    .and_then(|u| u["userName"].as_str().map(str::to_owned))
            })
            .collect();
        emails.sort();
        Some(emails)
    }
}

impl Drop for Scim {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).output();
    }
}

impl Platform for Scim {
    fn name(&self) -> &'static str {
        "scim"
    }
    fn endpoint(&self) -> String {
        format!("scim+{}", self.url)
    }
    fn token(&self) -> Option<String> {
        Some(self.token.clone())
    }
    fn rename_user(&self, email: &str, name: &str) {
        let u = self
            .user(email)
            .unwrap_or_else(|| panic!("no user {email}"));
        let id = u["id"].as_str().unwrap_or_default();
        let (status, body) = self.send(
            reqwest::Method::PATCH,
            &format!("Users/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": name}],
            })),
        );
        assert!(matches!(status, 200 | 204), "{status} {body}");
    }
    fn user_name(&self, email: &str) -> Option<Option<String>> {
        self.user(email)
            .map(|u| u["displayName"].as_str().map(str::to_owned))
    }
    fn user_suspended(&self, email: &str) -> Option<bool> {
        self.user(email).map(|u| u["active"] == false)
    }
    fn hand_made(&self, email: &str, slug: &str) {
        let (s, b) = self.send(
            reqwest::Method::POST,
            "Users",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email})),
        );
        assert_eq!(s, 201, "{b}");
        let (s, b) = self.send(
            reqwest::Method::POST,
            "Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": slug})),
        );
        assert_eq!(s, 201, "{b}");
    }
    fn workspace_exists(&self, slug: &str) -> bool {
        !self.find("Groups", "displayName", slug).is_empty()
    }
    fn members(&self, slug: &str) -> Vec<(String, Vec<String>)> {
        let names = self
            .all("Groups")
            .iter()
            .filter_map(|g| g["displayName"].as_str().map(str::to_owned))
            .collect();
        members_from_groups(slug, names, |name| self.group_members(name))
    }
    fn write_mark(&self) -> String {
        // Versions come from one counter: any write changes one.
        let mut v: Vec<String> = ["Users", "Groups"]
            .iter()
            .flat_map(|r| self.all(r))
            .map(|x| format!("{}={}", x["id"], x["meta"]["version"]))
            .collect();
        v.sort();
        v.join(",")
    }
    fn degraded(&self) -> &'static [&'static str] {
        &["target-no-locks", "target-no-versions"]
    }
    fn refuses(&self) -> Vec<String> {
        vec![
            "SCIM 2.0 cannot hold `roles/auditor`".to_owned(),
            "SCIM 2.0 cannot hold `quotas.storage_gb` of `workspaces/finance/quotas`".to_owned(),
            "SCIM 2.0 cannot hold `settings` of `workspaces/finance`".to_owned(),
            "SCIM 2.0 cannot hold `branding` of `settings`".to_owned(),
            "SCIM 2.0 cannot hold `workspaces/finance/member-quotas/ken.thompson@acme.example`"
                .to_owned(),
            "SCIM 2.0 cannot hold `workspaces/finance/top-ups/spring`".to_owned(),
            "SCIM 2.0 cannot hold `workspaces/finance/api-keys/ci`".to_owned(),
            "SCIM 2.0 cannot hold `status` of `users/mary.jackson@acme.example`".to_owned(),
        ]
    }
    fn records_users(&self) -> bool {
        false
    }
    fn still_conforms(&self) {
        let out = Command::new(script())
            .args(["check", &self.url, &self.token])
            .output()
            .unwrap_or_else(|e| panic!("scim.sh check: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("SUCCESS") && !text.contains("ERROR"),
            "scim2-tester failed after tenet's apply:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Open WebUI started by `scripts/servers/openwebui.sh` (one at a time:
/// each is a Python server of a few hundred MB), stopped on drop.
struct OpenWebUi {
    dir: PathBuf,
    url: String,
    token: String,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    _one: std::sync::MutexGuard<'static, ()>,
}

fn owui_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/servers/openwebui.sh")
}

impl OpenWebUi {
    fn start(dir: &Path) -> OpenWebUi {
        static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        static INSTALLED: OnceLock<()> = OnceLock::new();
        let dir = dir.join("openwebui");
        let (url, token) = start_server(&owui_script(), &INSTALLED, &dir, "OPENWEBUI");
        OpenWebUi {
            url,
            token,
            dir,
            rt: runtime(),
            client: support::client(Duration::from_secs(60)),
            _one: one,
        }
    }

    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.url);
        self.rt.block_on(async {
            let mut req = self
                .client
                .request(method.clone(), &url)
                .bearer_auth(&self.token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(reqwest::Method::GET, path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn users(&self) -> Vec<Value> {
        self.get("/api/v1/users/all")["users"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn groups(&self) -> Vec<Value> {
        self.get("/api/v1/groups/")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Emails of a group's direct members.
    fn group_emails(&self, name: &str) -> Option<Vec<String>> {
        let g = self.groups().into_iter().find(|g| g["name"] == name)?;
        let id = g["id"].as_str().unwrap_or_default().to_owned();
        let ids = self.get(&format!("/api/v1/groups/id/{id}/export"))["user_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let users = self.users();
        let mut emails: Vec<String> = ids
            .iter()
            .filter_map(|i| {
                users
                    .iter()
                    .find(|u| u["id"] == *i)
                    .and_then(|u| u["email"].as_str().map(str::to_owned))
            })
            .collect();
        emails.sort();
        Some(emails)
    }
}

impl Drop for OpenWebUi {
    fn drop(&mut self) {
        let _ = Command::new(owui_script())
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

impl Platform for OpenWebUi {
    fn name(&self) -> &'static str {
        "openwebui"
    }
    fn endpoint(&self) -> String {
        format!("openwebui+{}", self.url)
    }
    fn token(&self) -> Option<String> {
        Some(self.token.clone())
    }
    fn rename_user(&self, email: &str, name: &str) {
        let u = self
            .users()
            .into_iter()
            .find(|u| u["email"] == email)
            .unwrap_or_else(|| panic!("no user {email}"));
        let id = u["id"].as_str().unwrap_or_default();
        let (status, body) = self.send(
            reqwest::Method::POST,
            &format!("/api/v1/users/{id}/update"),
            Some(json!({ "name": name })),
        );
        assert_eq!(status, 200, "{body}");
    }
    fn user_name(&self, email: &str) -> Option<Option<String>> {
        self.users()
            .into_iter()
            .find(|u| u["email"] == email)
            .map(|u| u["name"].as_str().map(str::to_owned))
    }
    fn user_suspended(&self, email: &str) -> Option<bool> {
        self.users()
            .into_iter()
            .find(|u| u["email"] == email)
            .map(|u| u["role"] == "pending")
    }
    fn own_account(&self) -> Option<(&'static str, &'static str)> {
        // Signed up by scripts/servers/openwebui.sh.
        Some(("admin@tenet.test", "tenet admin"))
    }
    fn hand_made(&self, email: &str, slug: &str) {
        let (s, b) = self.send(
            reqwest::Method::POST,
            "/api/v1/auths/add",
            Some(json!({"name": "By Hand", "email": email, "password": support::random_hex(24), "role": "user"})),
        );
        assert_eq!(s, 200, "{b}");
        let (s, b) = self.send(
            reqwest::Method::POST,
            "/api/v1/groups/create",
            Some(json!({"name": slug, "description": "made by hand"})),
        );
        assert_eq!(s, 200, "{b}");
    }
    fn workspace_exists(&self, slug: &str) -> bool {
        self.groups().iter().any(|g| g["name"] == slug)
    }
    fn members(&self, slug: &str) -> Vec<(String, Vec<String>)> {
        let names = self
            .groups()
            .iter()
            .filter_map(|g| g["name"].as_str().map(str::to_owned))
            .collect();
        members_from_groups(slug, names, |name| self.group_emails(name))
    }
    fn write_mark(&self) -> String {
        let mut groups: Vec<String> = self
            .groups()
            .iter()
            .map(|g| {
                let id = g["id"].as_str().unwrap_or_default().to_owned();
                let members =
                    self.get(&format!("/api/v1/groups/id/{id}/export"))["user_ids"].clone();
                format!(
                    "{} {} {} {members}",
                    g["name"], g["updated_at"], g["permissions"]
                )
            })
            .collect();
        groups.sort();
        let mut users: Vec<String> = self
            .users()
            .iter()
            .map(|u| format!("{} {} {}", u["email"], u["name"], u["role"]))
            .collect();
        users.sort();
        format!(
            "{groups:?} {users:?} {}",
            self.get("/openai/config")["OPENAI_API_CONFIGS"]
        )
    }
    fn degraded(&self) -> &'static [&'static str] {
        &[
            "target-no-locks",
            "target-no-versions",
            "target-no-ownership",
        ]
    }
    fn profile(&self) -> &'static str {
        "openwebui"
    }
    fn refuses(&self) -> Vec<String> {
        vec![
            "Open WebUI cannot hold `quotas.storage_gb` of `workspaces/finance/quotas`".to_owned(),
            "Open WebUI cannot hold `settings` of `workspaces/finance`".to_owned(),
            "Open WebUI cannot hold `branding` of `settings`".to_owned(),
            "Open WebUI cannot hold `workspaces/finance/member-quotas/ken.thompson@acme.example`"
                .to_owned(),
            "Open WebUI cannot hold `workspaces/finance/top-ups/spring`".to_owned(),
            "Open WebUI cannot hold `workspaces/finance/api-keys/ci`".to_owned(),
            "Open WebUI cannot hold `status` of `users/mary.jackson@acme.example`".to_owned(),
        ]
    }
    fn records_users(&self) -> bool {
        false
    }
}

/// Every target, each fresh, in its own temporary directory.
fn platforms(dir: &Path) -> Vec<Box<dyn Platform>> {
    let d = |n: &str| {
        let p = dir.join(n);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{e}"));
        p
    };
    vec![
        Box::new(Native::start(&d("sandbox"), true)),
        Box::new(Native::start(&d("http"), false)),
        Box::new(Scim::start(&d("scim"))),
        Box::new(OpenWebUi::start(&d("openwebui"))),
    ]
}

// ------------------------------------------------------------ running tenet

/// The config, copied so scenarios may edit it.
fn config(dir: &Path, p: &dyn Platform) -> PathBuf {
    let cfg = dir.join(format!("cfg-{}", p.name()));
    copy_tree(&support::example("directory"), &cfg);
    if p.profile() != "m3forge" {
        edit(
            &cfg.join("tenet.toml"),
            "profile = \"m3forge\"",
            &format!("profile = \"{}\"", p.profile()),
        );
    }
    cfg
}

fn tenet_on(p: &dyn Platform, args: &[&str]) -> Run {
    let mut cmd = tenet();
    cmd.args(args).arg("--endpoint").arg(p.endpoint());
    if let Some(t) = p.token() {
        cmd.env("TENET_TOKEN", t);
    }
    run(cmd)
}

fn plan(p: &dyn Platform, cfg: &Path) -> Run {
    tenet_on(p, &["plan", &cfg.display().to_string()])
}

fn apply(p: &dyn Platform, cfg: &Path) -> Run {
    tenet_on(p, &["apply", &cfg.display().to_string(), "--auto-approve"])
}

// ------------------------------------------------------------ scenarios

#[test]
fn apply_then_plan_is_empty_and_a_second_apply_writes_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for p in platforms(dir.path()) {
        let p = p.as_ref();
        let cfg = config(dir.path(), p);
        let first = plan(p, &cfg);
        first.code(2).stdout_has("Plan: 11 to create");
        for code in p.degraded() {
            first.stdout_has(&format!("[{code}]"));
        }
        apply(p, &cfg)
            .code(0)
            .stdout_has("11 applied, 0 failed, 0 skipped");
        plan(p, &cfg)
            .code(0)
            .stdout_has("No changes. The platform matches the configuration.");
        let mark = p.write_mark();
        apply(p, &cfg).code(0);
        assert_eq!(p.write_mark(), mark, "{}: a second apply wrote", p.name());
        // What the platform holds, read through its own API.
        assert_eq!(
            p.members("finance"),
            vec![
                (
                    "ada.lovelace@acme.example".to_owned(),
                    vec!["administrator".to_owned()]
                ),
                (
                    GRACE.to_owned(),
                    vec!["editor".to_owned(), "member".to_owned()]
                ),
                (KEN.to_owned(), vec!["member".to_owned()]),
            ],
            "{}",
            p.name()
        );
        assert_eq!(
            p.user_name(GRACE),
            Some(Some("Grace Hopper".to_owned())),
            "{}: the mixed-case email is stored lower-cased",
            p.name()
        );
        p.still_conforms();
    }
}

#[test]
fn an_out_of_band_change_is_drift_and_apply_reverts_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for p in platforms(dir.path()) {
        let p = p.as_ref();
        let cfg = config(dir.path(), p);
        apply(p, &cfg).code(0);
        p.rename_user(ALAN, "Someone Else");
        plan(p, &cfg)
            .code(2)
            .stdout_has(&format!("~ users/{ALAN}"))
            .stdout_has("\"Someone Else\" -> \"Alan Turing\"");
        let drift = tenet_on(p, &["drift", &cfg.display().to_string()]);
        drift.code(2).stdout_has(&format!("users/{ALAN}"));
        if !p.records_users() {
            // No audit log and no last-applied record: said, not guessed.
            drift
                .stdout_has("Differs: 1 object(s)")
                .stdout_has("has no audit log")
                .stdout_has("cannot tell who");
        } else {
            drift.stdout_has("Drift: 1 object(s) changed outside tenet");
        }
        apply(p, &cfg).code(0).stdout_has("1 applied");
        assert_eq!(p.user_name(ALAN), Some(Some("Alan Turing".to_owned())));
        plan(p, &cfg).code(0);
    }
}

#[test]
fn objects_made_by_hand_survive_and_are_listed_as_unmanaged() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for p in platforms(dir.path()) {
        let p = p.as_ref();
        let cfg = config(dir.path(), p);
        apply(p, &cfg).code(0);
        p.hand_made("hand@acme.example", "handmade");
        plan(p, &cfg)
            .code(0)
            .stdout_has("workspaces/handmade")
            .stdout_has("users/hand@acme.example");
        apply(p, &cfg).code(0);
        assert!(p.workspace_exists("handmade"), "{}", p.name());
        assert!(p.user_name("hand@acme.example").is_some(), "{}", p.name());
    }
}

#[test]
fn removing_a_member_touches_only_its_groups() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for p in platforms(dir.path()) {
        let p = p.as_ref();
        let cfg = config(dir.path(), p);
        apply(p, &cfg).code(0);
        let research = p.members("research");
        edit(
            &cfg.join("workspaces/finance.toml"),
            "\"ken.thompson@acme.example\" = [\"member\"]\n",
            "",
        );
        plan(p, &cfg)
            .code(2)
            .stdout_has("Plan: 0 to create, 0 to update, 0 to archive, 1 to delete.")
            .stdout_has(&format!("- workspaces/finance/memberships/{KEN}"));
        apply(p, &cfg).code(0).stdout_has("1 applied");
        let finance = p.members("finance");
        assert!(
            finance.iter().all(|(u, _)| u != KEN),
            "{}: {finance:?}",
            p.name()
        );
        assert_eq!(finance.len(), 2, "{}: {finance:?}", p.name());
        assert_eq!(p.members("research"), research, "{}", p.name());
        assert!(p.user_name(KEN).is_some(), "{}: the user stays", p.name());
        plan(p, &cfg).code(0);
    }
}

/// Removes a user's table from users.toml and its lines from the
/// workspaces.
fn drop_user(cfg: &Path, email: &str) {
    let users = cfg.join("users.toml");
    let text = std::fs::read_to_string(&users).unwrap_or_else(|e| panic!("{e}"));
    let start = text
        .find(&format!("[users.\"{email}\"]"))
        .unwrap_or_else(|| panic!("no {email} in users.toml"));
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |i| start + i + 2);
    let kept = format!("{}{}", &text[..start], &text[end..]);
    std::fs::write(&users, kept).unwrap_or_else(|e| panic!("{e}"));
    for ws in ["finance", "research"] {
        let f = cfg.join(format!("workspaces/{ws}.toml"));
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{e}"));
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains(email)).collect();
        std::fs::write(&f, kept.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_removed_user_is_suspended_or_deleted_with_its_memberships_and_plans_clean() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for p in platforms(dir.path()) {
        let p = p.as_ref();
        let name = p.name();
        let cfg = config(dir.path(), p);
        if let Some((email, full)) = p.own_account() {
            // Users are marked nowhere: they are removed only when
            // authoritative, and then the files must name tenet's own.
            edit(
                &cfg.join("tenet.toml"),
                "[policy]\n",
                "[policy]\nauthoritative = [\"users\"]\n",
            );
            // Undeclared, tenet's own account would be suspended: refused.
            let mark = p.write_mark();
            for r in [plan(p, &cfg), apply(p, &cfg)] {
                r.code(1)
                    .has(&format!("`{email}`, the account tenet signs in as"))
                    .has("[own-account]");
            }
            assert_eq!(p.write_mark(), mark, "{name}: a refused apply wrote");
            let users = cfg.join("users.toml");
            let text = std::fs::read_to_string(&users).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(
                &users,
                format!("{text}\n[users.\"{email}\"]\nname = \"{full}\"\n"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
        apply(p, &cfg).code(0);
        plan(p, &cfg).code(0);

        // suspend (the default): the user stays, suspended, with no access.
        drop_user(&cfg, ALAN);
        plan(p, &cfg)
            .code(2)
            .stdout_has(&format!(
                "  ~ users/{ALAN}\n      status: \"active\" -> \"suspended\"\n"
            ))
            .stdout_has(&format!("  - workspaces/research/memberships/{ALAN}\n"))
            .stdout_has("Plan: 0 to create, 1 to update, 0 to archive, 1 to delete.");
        apply(p, &cfg).code(0).stdout_has("2 applied, 0 failed");
        assert_eq!(p.user_suspended(ALAN), Some(true), "{name}");
        assert!(
            p.members("research").iter().all(|(u, _)| u != ALAN),
            "{name}: {:?}",
            p.members("research")
        );
        plan(p, &cfg)
            .code(0)
            .stdout_has("No changes. The platform matches the configuration.");
        let mark = p.write_mark();
        apply(p, &cfg).code(0);
        assert_eq!(p.write_mark(), mark, "{name}: a second apply wrote");

        // delete: the accounts go; the memberships with them, as cascades.
        edit(
            &cfg.join("tenet.toml"),
            "[policy]\n",
            "[policy]\nuser_removal = \"delete\"\n",
        );
        drop_user(&cfg, KEN);
        plan(p, &cfg)
            .code(2)
            .stdout_has(&format!("  - users/{ALAN}\n"))
            .stdout_has(&format!(
                "  - users/{KEN}\n      cascades: 1 object(s) removed with it by the platform, no writes of their own:\n        - workspaces/finance/memberships/{KEN}\n"
            ))
            .stdout_has("Plan: 0 to create, 0 to update, 0 to archive, 2 to delete.");
        apply(p, &cfg).code(0).stdout_has("2 applied, 0 failed");
        assert_eq!(p.user_name(ALAN), None, "{name}");
        assert_eq!(p.user_name(KEN), None, "{name}");
        assert!(
            p.members("finance").iter().all(|(u, _)| u != KEN),
            "{name}: {:?}",
            p.members("finance")
        );
        plan(p, &cfg)
            .code(0)
            .stdout_has("No changes. The platform matches the configuration.");
        p.still_conforms();
    }
}

#[test]
fn export_round_trips() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for p in platforms(dir.path()) {
        let p = p.as_ref();
        let cfg = config(dir.path(), p);
        apply(p, &cfg).code(0);
        let out = dir.path().join(format!("export-{}", p.name()));
        tenet_on(p, &["export", "--out", &out.display().to_string()]).code(0);
        tenet_on(p, &["validate", &out.display().to_string()]).code(0);
        plan(p, &out)
            .code(0)
            .stdout_has("No changes. The platform matches the configuration.");
    }
}

#[test]
fn content_a_target_cannot_hold_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for p in platforms(dir.path()) {
        let p = p.as_ref();
        let cfg = config(dir.path(), p);
        std::fs::write(
            cfg.join("extra.toml"),
            "[roles.auditor]\nname = \"Auditor\"\npermissions = [\"*\"]\n\n\
             [settings.branding]\ndisplay_name = \"Acme AI\"\n\n\
             [users.\"mary.jackson@acme.example\"]\nname = \"Mary Jackson\"\n\
             status = \"invited\"\ninvitation = { message = \"Welcome\" }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let finance = cfg.join("workspaces/finance.toml");
        let text = std::fs::read_to_string(&finance).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            &finance,
            text + "\n[workspaces.finance.quotas]\nstorage_gb = 10\n\n\
                    [workspaces.finance.settings]\ntimezone = \"Europe/Paris\"\n\n\
                    [workspaces.finance.member_quotas.\"ken.thompson@acme.example\"]\n\
                    tokens_per_day = 1000\n\n\
                    [workspaces.finance.top_ups.spring]\ntokens = 500\nexpires = \"2030-04-30\"\n\n\
                    [workspaces.finance.api_keys.ci]\nowner = \"ada.lovelace@acme.example\"\n\
                    permissions = [\"workflows.view\"]\nsink = \"stdout\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mark = p.write_mark();
        let refuses = p.refuses();
        let planned = plan(p, &cfg);
        let applied = apply(p, &cfg);
        let validated = tenet_on(p, &["validate", &cfg.display().to_string()]);
        if !refuses.is_empty() {
            for r in [&planned, &applied, &validated] {
                r.code(1).has("finance.toml:");
                for line in &refuses {
                    r.has(line);
                }
            }
            assert_eq!(p.write_mark(), mark, "apply wrote despite the refusal");
        } else {
            planned.code(2);
            applied.code(0);
            validated.code(0);
        }
    }
}

#[test]
fn the_token_never_appears_in_any_output() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for p in platforms(dir.path()) {
        let p = p.as_ref();
        let Some(token) = p.token() else { continue };
        let cfg = config(dir.path(), p);
        let c = cfg.display().to_string();
        let out = dir.path().join(format!("export-t-{}", p.name()));
        let plan_file = dir.path().join(format!("plan-{}.json", p.name()));
        let runs = [
            tenet_on(
                p,
                &[
                    "-vv",
                    "plan",
                    &c,
                    "--format",
                    "json",
                    "--out",
                    &plan_file.display().to_string(),
                ],
            ),
            tenet_on(p, &["-vv", "apply", &c, "--auto-approve"]),
            tenet_on(p, &["-vv", "drift", &c, "--format", "markdown"]),
            tenet_on(p, &["-vv", "export", "--out", &out.display().to_string()]),
        ];
        for r in &runs {
            assert!(!r.all().contains(&token), "{}: {}", p.name(), r.show());
        }
        let saved = std::fs::read_to_string(&plan_file).unwrap_or_default();
        assert!(!saved.is_empty() && !saved.contains(&token), "{}", p.name());
    }
}

#[test]
fn renaming_a_workspace_keeps_its_members_on_every_target() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for p in platforms(dir.path()) {
        let p = p.as_ref();
        let cfg = config(dir.path(), p);
        apply(p, &cfg).code(0);
        let before = p.members("finance");
        assert_eq!(before.len(), 3, "{}: {before:?}", p.name());
        edit(
            &cfg.join("workspaces/finance.toml"),
            "[workspaces.finance.members]",
            "[workspaces.accounting]\npreviously = [\"finance\"]\n\n[workspaces.accounting.members]",
        );
        plan(p, &cfg)
            .code(2)
            .stdout_has("> rename workspaces/finance -> workspaces/accounting\n")
            .stdout_has("Plan: 0 to create, 0 to update, 1 to rename, 0 to archive, 0 to delete.")
            .stdout_lacks("+ workspaces/accounting")
            .stdout_lacks("- workspaces/finance");
        // And a member's role in the same edit: written under the new name,
        // checked against what the member reads as once renamed.
        edit(
            &cfg.join("workspaces/finance.toml"),
            "\"ken.thompson@acme.example\" = [\"member\"]",
            "\"ken.thompson@acme.example\" = [\"editor\"]",
        );
        plan(p, &cfg)
            .code(2)
            .stdout_has(&format!("~ workspaces/accounting/memberships/{KEN}\n"))
            .stdout_has("Plan: 0 to create, 1 to update, 1 to rename, 0 to archive, 0 to delete.");
        apply(p, &cfg).code(0).stdout_has("2 applied, 0 failed");
        let after: Vec<(String, Vec<String>)> = before
            .into_iter()
            .map(|(u, r)| {
                let r = if u == KEN {
                    vec!["editor".to_owned()]
                } else {
                    r
                };
                (u, r)
            })
            .collect();
        assert_eq!(p.members("accounting"), after, "{}", p.name());
        assert!(!p.workspace_exists("finance"), "{}", p.name());
        assert!(p.workspace_exists("accounting"), "{}", p.name());
        plan(p, &cfg)
            .code(0)
            .stdout_has("No changes. The platform matches the configuration.");
        p.still_conforms();
    }
}

/// On Open WebUI a workspace, a custom role and a provider renamed at once
/// are three renames of groups and a connection in place: members, the role
/// group's permissions and the model grants stay.
#[test]
fn renames_keep_groups_grants_and_connections_on_open_webui() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let owui = OpenWebUi::start(dir.path());
    let cfg = dir.path().join("owui-renames");
    copy_tree(&support::example("openwebui"), &cfg);
    let c = cfg.display().to_string();
    let on = |args: &[&str]| {
        let mut cmd = tenet();
        cmd.args(args).arg("--endpoint").arg(owui.endpoint());
        cmd.env("ACME_GATEWAY_KEY", "sk-rename-test");
        if let Some(t) = owui.token() {
            cmd.env("TENET_TOKEN", t);
        }
        run(cmd)
    };
    on(&["apply", &c, "--auto-approve"]).code(0);
    let finance = owui.members("finance");
    let ws = cfg.join("workspaces/finance.toml");
    edit(
        &ws,
        "[workspaces.finance]",
        "[workspaces.accounting]\npreviously = [\"finance\"]",
    );
    edit(
        &ws,
        "[workspaces.finance.members]",
        "[workspaces.accounting.members]",
    );
    edit(
        &ws,
        "[workspaces.finance.providers.gateway]",
        "[workspaces.accounting.providers.llm-gateway]",
    );
    edit(&ws, "= [\"analyst\"]", "= [\"data-analyst\"]");
    edit(
        &cfg.join("roles.toml"),
        "[roles.analyst]",
        "[roles.data-analyst]\npreviously = [\"analyst\"]",
    );
    edit(
        &cfg.join("providers.toml"),
        "[providers.gateway]",
        "[providers.llm-gateway]\npreviously = [\"gateway\"]",
    );
    let planned = on(&["plan", &c]);
    planned
        .code(2)
        .stdout_has("> rename workspaces/finance -> workspaces/accounting\n")
        .stdout_has("> rename roles/analyst -> roles/data-analyst\n")
        .stdout_has("> rename providers/gateway -> providers/llm-gateway\n")
        .stdout_has("Plan: 0 to create, 0 to update, 3 to rename, 0 to archive, 0 to delete.");
    on(&["apply", &c, "--auto-approve"])
        .code(0)
        .stdout_has("3 applied, 0 failed, 0 skipped");
    on(&["plan", &c])
        .code(0)
        .stdout_has("No changes. The platform matches the configuration.");
    let renamed: Vec<(String, Vec<String>)> = finance
        .into_iter()
        .map(|(u, roles)| {
            let roles = roles
                .into_iter()
                .map(|r| {
                    if r == "analyst" {
                        "data-analyst".to_owned()
                    } else {
                        r
                    }
                })
                .collect();
            (u, roles)
        })
        .collect();
    assert_eq!(owui.members("accounting"), renamed);
    let groups = owui.groups();
    let names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
    for gone in ["finance", "finance:analyst", "role/analyst"] {
        assert!(!names.contains(&gone), "{gone} is still there: {names:?}");
    }
    let role = groups
        .iter()
        .find(|g| g["name"] == "accounting:data-analyst")
        .unwrap_or_else(|| panic!("no accounting:data-analyst group: {names:?}"));
    assert_eq!(role["permissions"]["chat"]["file_upload"], true);
    // The model grant followed the group: a member still sees the model.
    let users = owui.users();
    let grace = users
        .iter()
        .find(|u| u["email"] == GRACE)
        .and_then(|u| u["id"].as_str())
        .unwrap_or_else(|| panic!("no user {GRACE}"));
    let body = owui.get(&format!("/api/v1/users/{grace}/preview"));
    let models: Vec<&str> = body["models"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(models, vec!["acme-small"]);
}

/// The Open WebUI example (a custom role, a connection with two models, one
/// model granted to one workspace) on Open WebUI: what a
/// member may use, read from Open WebUI itself; the connection key (a
/// canary) never printed, saved or exported.
#[test]
fn models_are_granted_per_workspace_and_keys_never_leak() {
    const CANARY: &str = "sk-canary-7f3e9a1c5d";
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // (CI applies the same example to a fresh sandbox, too.)
    let owui = OpenWebUi::start(dir.path());
    for p in [&owui as &dyn Platform] {
        let cfg = dir.path().join(format!("owui-cfg-{}", p.name()));
        copy_tree(&support::example("openwebui"), &cfg);
        let c = cfg.display().to_string();
        let with_key = |args: &[&str]| {
            let mut cmd = tenet();
            cmd.args(args).arg("--endpoint").arg(p.endpoint());
            cmd.env("ACME_GATEWAY_KEY", CANARY);
            if let Some(t) = p.token() {
                cmd.env("TENET_TOKEN", t);
            }
            run(cmd)
        };
        let plan_file = dir.path().join(format!("owui-plan-{}.json", p.name()));
        let out = dir.path().join(format!("owui-export-{}", p.name()));
        let runs = vec![
            with_key(&["-vv", "plan", &c, "--out", &plan_file.display().to_string()]),
            with_key(&["-vv", "apply", &c, "--auto-approve"]),
            with_key(&["plan", &c]),
            with_key(&["plan", &c, "--format", "json"]),
            with_key(&["drift", &c]),
            with_key(&["export", "--out", &out.display().to_string()]),
        ];
        runs[1].code(0).stdout_has(", 0 failed, 0 skipped");
        runs[2]
            .code(0)
            .stdout_has("No changes. The platform matches the configuration.");
        runs[4].code(0);
        runs[5].code(0);
        for r in &runs {
            assert!(!r.all().contains(CANARY), "{}: {}", p.name(), r.show());
        }
        let mut files = vec![plan_file];
        for e in walk(&out) {
            files.push(e);
        }
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            assert!(
                !text.contains(CANARY),
                "{}: {} holds the key",
                p.name(),
                f.display()
            );
        }
        let providers = std::fs::read_to_string(out.join("providers.toml")).unwrap_or_default();
        assert!(providers.contains("env:"), "{}: {providers}", p.name());
        // The export plans clean (its env: placeholder is unset: keys are not compared).
        with_key(&["plan", &out.display().to_string()]).code(0);
    }
    // Who may use which model, as Open WebUI says.
    let users = owui.users();
    let id = |email: &str| {
        users
            .iter()
            .find(|u| u["email"] == email)
            .and_then(|u| u["id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no user {email}"))
    };
    let visible = |email: &str| -> Vec<String> {
        let body = owui.get(&format!("/api/v1/users/{}/preview", id(email)));
        body["models"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        visible(GRACE),
        vec!["acme-small".to_owned()],
        "a finance member"
    );
    assert!(
        visible(ALAN).is_empty(),
        "not in finance: {:?}",
        visible(ALAN)
    );
    // The suspended user is pending; the custom role's group carries its keys.
    assert!(
        users
            .iter()
            .any(|u| u["email"] == KEN && u["role"] == "pending")
    );
    let role = owui
        .groups()
        .into_iter()
        .find(|g| g["name"] == "finance:analyst")
        .unwrap_or_else(|| panic!("no finance:analyst group"));
    assert_eq!(role["permissions"]["chat"]["file_upload"], true);
    assert_eq!(role["permissions"]["features"]["web_search"], true);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
