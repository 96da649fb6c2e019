//! Live state -> a config tree: the other direction of `plan`. Given what a
//! target read ([`Live`]), [`export`] writes the files (`tenet.toml`, users,
//! custom roles, providers, one file per workspace) that describe exactly
//! that platform, so that `tenet plan` on them reports no changes. Pure: no
//! IO and no clock; the same live state gives the same bytes. Writing the
//! files to disk is [`write`]'s job.
//!
//! What cannot be recovered is said plainly in the files: key values (the
//! platform only answers fingerprints, so keys become `env:` placeholders),
//! and teams (the platform sees the memberships they expand into, so
//! memberships are exported per user). tenet's own labels (`tenet.dev/…`)
//! are never written, except that `tenet.dev/prevent-destroy=true` becomes
//! `prevent_destroy = true`.

mod kdl;
mod toml;

/// How a string is written in KDL: bare when plainly an identifier
/// (`kdl_value`), else quoted with every character that needs it escaped
/// (`kdl_quoted`). Shared with the editors of `tenet import`.
pub use kdl::{quoted as kdl_quoted, value as kdl_value};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::{
    Assignment, Email, Labels, Live, Profile, Provider, ProviderKind, Quotas, Role, RoleSet,
    Security, Slug, User, UserStatus, Workspace,
};

/// The language of every file but `tenet.toml` (always TOML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Toml,
    Kdl,
}

impl Format {
    /// The file extension, without the dot.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Kdl => "kdl",
        }
    }
}

/// How to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    /// What `[platform] endpoint` says.
    pub endpoint: String,
    /// Whether the platform can archive a workspace (else the exported
    /// policy deletes removed workspaces).
    pub archive: bool,
    /// The platform's catalog: `[platform] profile`.
    pub profile: Profile,
    /// The branding images the platform answered, by digest: written as
    /// files of the tree (an image missing here is named in a comment).
    pub images: BTreeMap<String, Vec<u8>>,
}

/// How many objects of each kind were exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub workspaces: usize,
    pub users: usize,
    pub roles: usize,
    pub providers: usize,
    pub memberships: usize,
    pub assignments: usize,
    /// Projects written (a default project left as the platform made it
    /// is not).
    pub projects: usize,
    /// Single sign-on identity providers written.
    pub identity_providers: usize,
    /// Whether `[settings.security]` was written.
    pub settings: bool,
    /// Whether `[settings.branding]` was written.
    pub branding: bool,
}

impl Counts {
    /// `5 workspaces, 20 users, … and 6 assignments` for the summary line.
    pub fn summary(&self) -> String {
        fn n(count: usize, one: &str, many: &str) -> String {
            format!("{count} {}", if count == 1 { one } else { many })
        }
        let mut parts = vec![
            n(self.workspaces, "workspace", "workspaces"),
            n(self.users, "user", "users"),
            n(self.roles, "custom role", "custom roles"),
            n(self.providers, "provider", "providers"),
            n(self.memberships, "membership", "memberships"),
            n(self.assignments, "assignment", "assignments"),
        ];
        if self.projects > 0 {
            parts.push(n(self.projects, "project", "projects"));
        }
        if self.identity_providers > 0 {
            parts.push(n(
                self.identity_providers,
                "identity provider",
                "identity providers",
            ));
        }
        if self.settings {
            parts.push("the security settings".to_owned());
        }
        if self.branding {
            parts.push("the branding".to_owned());
        }
        and_list(&parts)
    }
}

/// `a, b and c`.
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The files of an exported config tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exported {
    /// Contents by path relative to the config root, in sorted order.
    pub files: BTreeMap<PathBuf, String>,
    pub counts: Counts,
    /// The environment variables the providers' `api_keys` name, in order:
    /// they must hold the key values before `tenet plan` against a real
    /// platform.
    pub key_vars: Vec<String>,
    /// Binary files (branding images) by path relative to the config root.
    pub images: BTreeMap<PathBuf, Vec<u8>>,
}

/// An environment variable name made from a slug: upper-case, `_` for
/// `-`, and a leading `_` before a digit (a name starts with a letter or
/// `_`).
fn env_stem(slug: &Slug) -> String {
    let mut name: String = slug
        .as_str()
        .chars()
        .map(|c| match c {
            '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// The environment variable an identity provider's client secret is
/// exported as: `entra` -> `ENTRA_CLIENT_SECRET`.
pub fn secret_var(idp: &Slug) -> String {
    format!("{}_CLIENT_SECRET", env_stem(idp))
}

/// The environment variable holding key `n` (from 1) of a provider:
/// `azure-openai` -> `AZURE_OPENAI_KEY_1`.
pub fn key_var(provider: &Slug, n: usize) -> String {
    format!("{}_KEY_{n}", env_stem(provider))
}

/// The name of a provider kind as the files write it.
pub(crate) fn kind_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Openai => "openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::AzureOpenai => "azure-openai",
        ProviderKind::Vertex => "vertex",
        ProviderKind::Bedrock => "bedrock",
        ProviderKind::Qwen => "qwen",
        ProviderKind::Custom => "custom",
    }
}

impl UserOut<'_> {
    /// The comment on a pending invitation.
    pub fn invitation_note(&self) -> String {
        let sent = self.user.invitation.as_ref().and_then(|i| i.sent.as_ref());
        match sent {
            Some(s) if s.expired => format!(
                "Invited: the invitation expired at {} unaccepted; set invitation.resend_expired = true to re-send it.",
                s.expires_at
            ),
            Some(s) => format!(
                "Invited: the platform sent an invitation, not yet accepted, that expires at {}.",
                s.expires_at
            ),
            None => "Invited: the platform has sent an invitation not yet accepted.".to_owned(),
        }
    }

    /// The custom message of the pending invitation.
    pub fn invitation_message(&self) -> Option<&String> {
        self.user
            .invitation
            .as_ref()
            .and_then(|i| i.message.as_ref())
    }
}

/// One user as the files will say it.
pub(crate) struct UserOut<'a> {
    pub user: &'a User,
    /// Written as `status = "suspended"`; everything else is active.
    pub suspended: bool,
    /// An invitation is pending: written as `status = "invited"` (with its
    /// message), and a comment on when it expires.
    pub invited: bool,
    pub prevent_destroy: bool,
}

pub(crate) struct RoleOut<'a> {
    pub role: &'a Role,
    pub prevent_destroy: bool,
}

pub(crate) struct ProviderOut<'a> {
    pub provider: &'a Provider,
    /// `env:` placeholders, one per live key.
    pub key_vars: Vec<String>,
    pub prevent_destroy: bool,
}

pub(crate) struct WorkspaceOut<'a> {
    pub workspace: &'a Workspace,
    pub prevent_destroy: bool,
    /// The live limits; unlimited ones (`None`) are left out.
    pub quotas: Quotas,
    pub members: Vec<(&'a Email, &'a RoleSet)>,
    pub providers: Vec<&'a Assignment>,
    /// Its projects; the default project only when it differs from the one
    /// the platform makes (a name of its own, members with roles, labels).
    pub projects: Vec<ProjectOut<'a>>,
    /// Members' token budgets with a limit set.
    pub member_quotas: Vec<(&'a Email, &'a crate::model::TokenQuotas)>,
    /// Top-ups still counting (past ones are history, not config).
    pub top_ups: Vec<&'a crate::model::TopUp>,
    /// API keys (their sinks are not on the platform: none is written).
    pub api_keys: Vec<&'a crate::model::ApiKey>,
}

pub(crate) struct ProjectOut<'a> {
    pub project: &'a crate::model::Project,
    /// The name to write: none for a default project named as the
    /// platform names it.
    pub name: Option<&'a String>,
    pub prevent_destroy: bool,
}

pub(crate) struct IdentityProviderOut<'a> {
    pub idp: &'a crate::model::IdentityProvider,
    /// The `env:` placeholder of its client secret, when it has one.
    pub secret_var: Option<String>,
    /// Where its SAML metadata document is written, when it has one.
    pub metadata_file: Option<String>,
    pub prevent_destroy: bool,
}

/// The live state arranged the way the files are laid out.
pub(crate) struct Tree<'a> {
    pub endpoint: &'a str,
    pub archive: bool,
    pub profile: Profile,
    pub users: Vec<UserOut<'a>>,
    pub roles: Vec<RoleOut<'a>>,
    pub providers: Vec<ProviderOut<'a>>,
    pub workspaces: Vec<WorkspaceOut<'a>>,
    /// Written only when some field is set.
    pub security: Option<&'a Security>,
    /// Written only when some field is set.
    pub branding: Option<&'a crate::model::Branding>,
    /// The branding images written as files: field, path and bytes.
    pub branding_images: Vec<(&'static str, String, &'a [u8])>,
    pub identity_providers: Vec<IdentityProviderOut<'a>>,
}

fn prevent_destroy(live: &Live, path: &crate::model::ObjectId) -> bool {
    live.meta.get(path).is_some_and(|m| m.prevent_destroy)
}

/// Whether any security setting is set (an empty allowlist is set: it
/// means "no restriction", which is not the same as unmanaged).
fn any_security(s: &Security) -> bool {
    let p = &s.password_policy;
    s.session_timeout_minutes.is_some()
        || s.require_2fa.is_some()
        || s.email_verification.is_some()
        || s.ip_allowlist.is_some()
        || p.min_length.is_some()
        || p.require_uppercase.is_some()
        || p.require_lowercase.is_some()
        || p.require_digit.is_some()
        || p.require_symbol.is_some()
        || p.max_age_days.is_some()
}

fn tree<'a>(live: &'a Live, opts: &'a Options) -> Tree<'a> {
    use crate::model::ObjectId;
    let state = &live.state;
    let users = state
        .users
        .values()
        .map(|u| UserOut {
            user: u,
            suspended: u.status == UserStatus::Suspended,
            invited: u.status == UserStatus::Invited,
            prevent_destroy: prevent_destroy(live, &ObjectId::User(u.email.clone())),
        })
        .collect();
    let roles = state
        .roles
        .values()
        .map(|r| RoleOut {
            role: r,
            prevent_destroy: prevent_destroy(live, &ObjectId::Role(r.id.clone())),
        })
        .collect();
    let providers = state
        .providers
        .values()
        .map(|p| {
            let n = live
                .secret_fingerprints
                .get(&ObjectId::Provider(p.id.clone()))
                .map_or(0, Vec::len);
            ProviderOut {
                provider: p,
                key_vars: (1..=n).map(|i| key_var(&p.id, i)).collect(),
                prevent_destroy: prevent_destroy(live, &ObjectId::Provider(p.id.clone())),
            }
        })
        .collect();
    let mut members: BTreeMap<&Slug, Vec<(&Email, &RoleSet)>> = BTreeMap::new();
    for ((ws, user), m) in &state.memberships {
        members.entry(ws).or_default().push((user, &m.roles));
    }
    let mut assigned: BTreeMap<&Slug, Vec<&Assignment>> = BTreeMap::new();
    for ((ws, _), a) in &state.assignments {
        assigned.entry(ws).or_default().push(a);
    }
    let made = crate::model::Catalog::builtin(opts.profile)
        .projects
        .as_ref();
    let mut projects: BTreeMap<&Slug, Vec<ProjectOut>> = BTreeMap::new();
    for ((ws, slug), p) in &state.projects {
        let default_name = made.is_some_and(|r| {
            r.default_project == slug.as_str()
                && p.name.as_deref() == Some(r.default_project_name.as_str())
        });
        if default_name && p.description.is_none() && p.members.is_empty() && p.labels.is_empty() {
            continue;
        }
        projects.entry(ws).or_default().push(ProjectOut {
            project: p,
            name: p.name.as_ref().filter(|_| !default_name),
            prevent_destroy: prevent_destroy(live, &ObjectId::Project(ws.clone(), slug.clone())),
        });
    }
    let mut member_quotas: BTreeMap<&Slug, Vec<(&Email, &crate::model::TokenQuotas)>> =
        BTreeMap::new();
    for ((ws, user), q) in state.member_quotas.iter().filter(|(_, q)| !q.is_empty()) {
        member_quotas.entry(ws).or_default().push((user, q));
    }
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let today = now.get(..10).unwrap_or_default();
    let mut top_ups: BTreeMap<&Slug, Vec<&crate::model::TopUp>> = BTreeMap::new();
    for ((ws, _), t) in state.top_ups.iter().filter(|(_, t)| !t.expired(today)) {
        top_ups.entry(ws).or_default().push(t);
    }
    let mut api_keys: BTreeMap<&Slug, Vec<&crate::model::ApiKey>> = BTreeMap::new();
    for ((ws, _), k) in &state.api_keys {
        api_keys.entry(ws).or_default().push(k);
    }
    let workspaces = state
        .workspaces
        .values()
        .map(|w| WorkspaceOut {
            api_keys: api_keys.remove(&w.slug).unwrap_or_default(),
            member_quotas: member_quotas.remove(&w.slug).unwrap_or_default(),
            top_ups: top_ups.remove(&w.slug).unwrap_or_default(),
            projects: projects.remove(&w.slug).unwrap_or_default(),
            workspace: w,
            prevent_destroy: prevent_destroy(live, &ObjectId::Workspace(w.slug.clone())),
            quotas: w.quotas,
            members: members.remove(&w.slug).unwrap_or_default(),
            providers: assigned.remove(&w.slug).unwrap_or_default(),
        })
        .collect();
    let security = state
        .settings
        .as_ref()
        .map(|s| &s.security)
        .filter(|s| any_security(s));
    let branding = state
        .settings
        .as_ref()
        .map(|s| &s.branding)
        .filter(|b| !b.is_empty());
    let identity_providers = state
        .identity_providers
        .values()
        .map(|i| {
            let id = ObjectId::IdentityProvider(i.id.clone());
            // An OIDC provider's files need a client secret reference, set
            // on the platform or not (it keeps at most a fingerprint).
            let oidc = i.protocol == crate::model::SsoProtocol::Oidc;
            let has_secret = live
                .secret_fingerprints
                .get(&id)
                .is_some_and(|f| !f.is_empty());
            IdentityProviderOut {
                idp: i,
                secret_var: (oidc || has_secret).then(|| secret_var(&i.id)),
                metadata_file: i.metadata_xml.as_ref().map(|_| format!("sso/{}.xml", i.id)),
                prevent_destroy: prevent_destroy(live, &id),
            }
        })
        .collect();
    let branding_images = branding
        .map(|b| {
            use crate::model::image::{ImageFormat, ImageSlot};
            ImageSlot::ALL
                .iter()
                .filter_map(|slot| {
                    let bytes = opts.images.get(b.image(*slot)?)?;
                    let ext = match ImageFormat::sniff(bytes)? {
                        ImageFormat::Png => "png",
                        ImageFormat::Jpeg => "jpg",
                        ImageFormat::Ico => "ico",
                    };
                    let name = slot.field().replace('_', "-");
                    Some((
                        slot.field(),
                        format!("branding/{name}.{ext}"),
                        bytes.as_slice(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Tree {
        branding_images,
        identity_providers,
        endpoint: &opts.endpoint,
        archive: opts.archive,
        profile: opts.profile,
        users,
        roles,
        providers,
        workspaces,
        security,
        branding,
    }
}

/// The config tree describing `live`.
pub fn export(live: &Live, opts: &Options) -> Exported {
    let tree = tree(live, opts);
    let ext = opts.format.ext();
    let mut files = BTreeMap::new();
    files.insert(PathBuf::from("tenet.toml"), toml::root(&tree));
    let (users, roles, providers) = match opts.format {
        Format::Toml => (
            toml::users(&tree.users),
            toml::roles(&tree.roles),
            toml::providers(&tree.providers),
        ),
        Format::Kdl => (
            kdl::users(&tree.users),
            kdl::roles(&tree.roles),
            kdl::providers(&tree.providers),
        ),
    };
    if !tree.users.is_empty() {
        files.insert(PathBuf::from(format!("users.{ext}")), users);
    }
    if !tree.roles.is_empty() {
        files.insert(PathBuf::from(format!("roles.{ext}")), roles);
    }
    if !tree.providers.is_empty() {
        files.insert(PathBuf::from(format!("providers.{ext}")), providers);
    }
    for w in &tree.workspaces {
        let text = match opts.format {
            Format::Toml => toml::workspace(w),
            Format::Kdl => kdl::workspace(w),
        };
        files.insert(
            Path::new("workspaces").join(format!("{}.{ext}", w.workspace.slug)),
            text,
        );
    }
    for i in &tree.identity_providers {
        if let (Some(path), Some(xml)) = (&i.metadata_file, &i.idp.metadata_xml) {
            files.insert(PathBuf::from(path), xml.clone());
        }
    }
    let images = tree
        .branding_images
        .iter()
        .map(|(_, path, bytes)| (PathBuf::from(path), bytes.to_vec()))
        .collect();
    let state = &live.state;
    Exported {
        images,
        files,
        counts: Counts {
            workspaces: state.workspaces.len(),
            users: state.users.len(),
            roles: state.roles.len(),
            providers: state.providers.len(),
            memberships: state.memberships.len(),
            assignments: state.assignments.len(),
            projects: tree.workspaces.iter().map(|w| w.projects.len()).sum(),
            identity_providers: tree.identity_providers.len(),
            settings: tree.security.is_some(),
            branding: tree.branding.is_some(),
        },
        key_vars: tree
            .providers
            .iter()
            .flat_map(|p| p.key_vars.iter().cloned())
            .chain(
                tree.identity_providers
                    .iter()
                    .filter_map(|i| i.secret_var.clone()),
            )
            .collect(),
    }
}

/// Labels a user may write: tenet's own (`tenet.dev/…`) left out. Live
/// state already holds only these; this keeps the promise local.
pub(crate) fn user_labels(labels: &Labels) -> impl Iterator<Item = (&String, &String)> {
    labels
        .iter()
        .filter(|(k, _)| !k.starts_with(crate::model::live::LABEL_PREFIX))
}

/// Why the files could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WriteError {
    pub message: String,
    pub hint: Option<String>,
}

/// The config files (what `tenet validate` would load: `*.toml` and `*.kdl`
/// outside hidden directories) already under `dir`, sorted.
pub fn existing_config_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("toml" | "kdl")))
        .collect();
    out.sort();
    out
}

/// Whether `dir` exists and holds anything at all.
pub fn is_non_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// Writes the files under `dir` (created if missing). With `replace`, config
/// files already there that the export does not write are removed first, so
/// the tree is exactly the export; other files (a README, `.git`) stay.
/// Returns the paths removed.
pub fn write(dir: &Path, exported: &Exported, replace: bool) -> Result<Vec<PathBuf>, WriteError> {
    let fail = |what: String, e: std::io::Error| WriteError {
        message: format!("{what}: {e}"),
        hint: None,
    };
    let mut removed = Vec::new();
    if replace {
        for path in existing_config_files(dir) {
            let rel = path.strip_prefix(dir).unwrap_or(&path);
            if !exported.files.contains_key(rel) {
                std::fs::remove_file(&path)
                    .map_err(|e| fail(format!("cannot remove {}", path.display()), e))?;
                removed.push(path);
            }
        }
    }
    for (rel, text) in &exported.files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail(format!("cannot create {}", parent.display()), e))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| fail(format!("cannot write {}", path.display()), e))?;
    }
    for (rel, bytes) in &exported.images {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| fail(format!("cannot create {}", parent.display()), e))?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| fail(format!("cannot write {}", path.display()), e))?;
    }
    Ok(removed)
}

/// `path` relative to the directory `base`, both absolute and free of `.`
/// and `..` (see [`absolute`]); `None` when they share no root.
pub fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    if p.first() != b.first() {
        return None;
    }
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

/// `path` made absolute against the current directory and with `.` and `..`
/// resolved lexically (no file system access, links are not followed).
pub fn absolute(path: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// What `[platform] endpoint` should say so that it names the same platform
/// from the config root `out`: a relative sandbox path on the command line
/// is relative to the current directory, in `tenet.toml` to the config
/// root, so it is rewritten; everything else is kept as given.
pub fn endpoint_for_files(given: &str, out: &Path) -> String {
    let Some(p) = given.strip_prefix("sandbox:") else {
        return given.to_owned();
    };
    let p = Path::new(p);
    if p.is_absolute() {
        return given.to_owned();
    }
    match relative_to(&absolute(p), &absolute(out)) {
        Some(rel) => format!("sandbox:{}", rel.display()),
        None => format!("sandbox:{}", absolute(p).display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_vars_are_upper_snake() {
        let s = |x: &str| Slug::parse(x).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(key_var(&s("azure-openai"), 2), "AZURE_OPENAI_KEY_2");
        assert_eq!(key_var(&s("1password"), 1), "_1PASSWORD_KEY_1");
    }

    #[test]
    fn relative_sandbox_paths_follow_the_config_root() {
        assert_eq!(
            relative_to(Path::new("/a/b/p.db"), Path::new("/a/c/d")),
            Some(PathBuf::from("../../b/p.db"))
        );
        assert_eq!(
            relative_to(Path::new("/a/p.db"), Path::new("/a")),
            Some(PathBuf::from("p.db"))
        );
        assert_eq!(absolute(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(
            endpoint_for_files("https://x.example", Path::new("out")),
            "https://x.example"
        );
        assert_eq!(
            endpoint_for_files("sandbox:/tmp/p.db", Path::new("out")),
            "sandbox:/tmp/p.db"
        );
        assert_eq!(
            endpoint_for_files("sandbox:.tenet/p.db", Path::new("out")),
            "sandbox:../.tenet/p.db"
        );
    }
}
