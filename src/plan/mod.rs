//! Plans as data: the changes of a diff put in a safe order, with the
//! warnings a reviewer needs and the refusals that stop an apply. A plan can
//! be saved (`tenet plan --out`) and applied later exactly as reviewed; it
//! never holds a secret value. Depends on `model` and `diff` only; rendering
//! lives in `render`, execution in `apply`.

pub mod access;
mod degrade;
pub mod integrity;
pub mod lifecycle;
mod order;
mod rename;
mod safety;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::diff::{Change, Diff};
use crate::model::capabilities::Capabilities;
use crate::model::{Catalog, Config, Kind, Live, ObjectId, Profile, Slug, Stamp, UnmanagedGrant};

pub use order::phase;

/// Version of the plan file format; readers refuse other versions.
/// 2: typed object ids, stamps (versions or content digests).
/// 4: workspaces carry `settings`, the settings singleton `branding`.
/// 5: projects (with token quotas), member token quotas and top-ups.
pub const FORMAT_VERSION: u32 = 6;

/// Where the config came from in git, when it is in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    pub commit: String,
    /// The git tree id of the config root at that commit: the same config,
    /// even in another commit (a merge of the reviewed change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_tree: Option<String>,
    pub dirty: bool,
}

/// Something a reviewer should see before approving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectId>,
}

/// Something that stops `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectId>,
    /// The flag that lifts it, if any (`--allow-destroy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_by: Option<String>,
}

/// A difference the files acknowledge (`[drift.acknowledged]`, not yet
/// expired): drift tenet leaves alone, shown but not planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    #[serde(flatten)]
    pub change: Change,
    pub acknowledgement: crate::model::Acknowledgement,
    /// Held because this object's parent is acknowledged (a membership of
    /// an acknowledged user), not by an acknowledgement of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<ObjectId>,
}

/// A change in its place in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// Position in the plan; `depends_on` refers to these.
    pub id: usize,
    /// Changes of one phase may run concurrently; phases run in order.
    pub phase: u8,
    /// Changes that must succeed first; if one fails, this one is skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<usize>,
    #[serde(flatten)]
    pub change: Change,
}

/// A plan: everything needed to review it and to apply it later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub tool_version: String,
    /// The endpoint the plan was made against; it applies only there.
    pub endpoint: String,
    /// The config root the plan was made from, as it was given.
    pub config_root: String,
    pub profile: Profile,
    /// Digest of the config tree's files.
    pub config_digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitInfo>,
    /// How many live objects the plan read.
    pub live_objects: usize,
    /// A digest of the stamps (versions, or content digests where the
    /// target has no versions) of every live object read that no change
    /// writes: one string, whatever the platform's size. The objects the
    /// changes write carry their own stamp (`version`). Together they
    /// detect exactly whether anything moved since the plan was made.
    pub others_digest: String,
    pub changes: Vec<PlannedChange>,
    /// Live objects tenet does not manage, left alone.
    pub unmanaged: Vec<ObjectId>,
    /// The unmanaged memberships of declared workspaces, with their roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmanaged_access: Vec<UnmanagedGrant>,
    /// Declared objects that exist but are not tenet's; `--adopt` takes them.
    pub not_adopted: Vec<ObjectId>,
    /// Kinds the target cannot hold: reported, never silently skipped.
    pub unsupported: Vec<Kind>,
    pub warnings: Vec<Warning>,
    pub refusals: Vec<Refusal>,
    /// Effective permission changes, per user and workspace.
    #[serde(default)]
    pub access: Vec<access::AccessChange>,
    /// What the members of IdP groups gain and lose through identity
    /// providers' group mappings (who is in a group only the IdP knows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_access: Vec<access::GroupAccessChange>,
    /// Acknowledged drift, left alone until the acknowledgement expires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledged: Vec<Held>,
    /// Fingerprints (never values) of the secrets the plan sends, per
    /// object: apply refuses a secret that resolves to another value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_fingerprints: BTreeMap<ObjectId, Vec<String>>,
    /// How the plan was made, so that it can be made again alike.
    #[serde(default)]
    pub options: PlanFlags,
}

/// The options a plan was made with that change what it plans.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlanFlags {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_acknowledged: bool,
    /// The `--only` selectors, sorted; none: the whole platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Refusals still in force with the given overrides.
    pub fn blocking(&self, allow_destroy: bool) -> Vec<&Refusal> {
        self.refusals
            .iter()
            .filter(|r| !(allow_destroy && r.lifted_by.as_deref() == Some("--allow-destroy")))
            .collect()
    }

    /// Counts of changes per kind and action, for summaries.
    pub fn counts(&self) -> BTreeMap<(Kind, crate::diff::Action), usize> {
        let mut out = BTreeMap::new();
        for c in &self.changes {
            *out.entry((c.change.kind, c.change.action)).or_insert(0) += 1;
        }
        out
    }
}

/// Everything a plan is made from.
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub catalog: &'a Catalog,
    pub live: &'a Live,
    pub diff: Diff,
    pub endpoint: String,
    pub config_root: String,
    pub config_digest: String,
    pub git: Option<GitInfo>,
    pub unsupported: Vec<Kind>,
    /// Warnings found before diffing (unresolved secrets, ...).
    pub warnings: Vec<Warning>,
    /// What the target can do: the plan says where it degrades.
    pub capabilities: &'a Capabilities,
    /// Acknowledged drift taken out of `diff` (see [`Held`]).
    pub held: Vec<Held>,
    /// The part of the platform the plan covers (`--only`): nothing
    /// outside it is changed, counted or reported.
    pub scope: crate::model::shard::Shard,
}

/// Orders the changes, checks safety and gathers warnings.
pub fn build(inputs: Inputs<'_>) -> Plan {
    let Inputs {
        config,
        catalog,
        live,
        diff,
        endpoint,
        config_root,
        config_digest,
        git,
        unsupported,
        mut warnings,
        capabilities,
        held,
        scope,
    } = inputs;
    // A shard sees only its own objects: outside it nothing is changed,
    // counted as a removal, or reported.
    let mut diff = diff;
    if !scope.is_whole() {
        diff.changes.retain(|c| scope.contains(&c.object));
        diff.unmanaged.retain(|id| scope.contains(id));
        diff.not_adopted.retain(|id| scope.contains(id));
    }
    // Live state as the renames leave it, so that ordering, safety and
    // access compare what is attached to a renamed object under its new
    // name; the versions recorded are those read.
    let view = diff.renames.live(live);
    let changes = order::order(diff.changes, &view, catalog);
    warnings.extend(safety::warnings(&changes, config, catalog, &view));
    warnings.extend(lifecycle::warnings(&changes, &view));
    if !capabilities.holds(Kind::Assignments) {
        warnings.retain(|w| w.code != "no-model");
    }
    warnings.extend(degrade::warnings(&changes, &view, config, capabilities));
    warnings.extend(rename::warnings(&changes, config, live));
    warnings.retain(|w| w.object.as_ref().is_none_or(|o| scope.contains(o)));
    let mut refusals = safety::refusals(&changes, config, &view, &scope);
    refusals.extend(degrade::refusals(&changes, capabilities));
    refusals.extend(rename::refusals(&changes, capabilities));
    let access = access::impact(&changes, config, &view, catalog);
    let group_access = access::group_impact(&changes, config, &view, catalog);
    for g in group_access.iter().filter(|g| g.becomes_administrator) {
        warnings.push(Warning {
            code: "idp-group-administrator".to_owned(),
            message: format!(
                "every member of IdP group `{}` becomes an administrator of workspace `{}` at sign-in (identity provider `{}`); tenet cannot see who is in the group",
                g.group, g.workspace, g.provider
            ),
            object: Some(ObjectId::IdentityProvider(g.provider.clone())),
        });
    }
    let unmanaged_access = access::unmanaged(&diff.unmanaged, config, &view, catalog);
    for g in unmanaged_access.iter().filter(|g| g.privileged()) {
        warnings.push(Warning {
            code: "unmanaged-privileged-access".to_owned(),
            message: format!(
                "`{}` holds {} in workspace `{}` ({}) outside the files; tenet leaves it alone: declare it, or make memberships authoritative to remove it",
                g.user,
                g.what().unwrap_or("access"),
                g.workspace,
                g.roles.iter().map(Slug::as_str).collect::<Vec<_>>().join(", ")
            ),
            object: Some(g.object.clone()),
        });
    }
    Plan {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        endpoint,
        config_root,
        profile: catalog.profile,
        config_digest,
        git,
        live_objects: live.meta.len(),
        others_digest: others_digest(live, &changes),
        changes,
        unmanaged: diff.unmanaged,
        unmanaged_access,
        not_adopted: diff.not_adopted,
        unsupported,
        warnings,
        refusals,
        access,
        group_access,
        acknowledged: held,
        secret_fingerprints: BTreeMap::new(),
        options: PlanFlags::default(),
    }
}

/// The digest of the stamps of every live object that none of `changes`
/// writes (under its name or, for a rename, its former one), in key order.
pub fn others_digest(live: &Live, changes: &[PlannedChange]) -> String {
    use sha2::{Digest, Sha256};
    let written: std::collections::BTreeSet<&ObjectId> = changes
        .iter()
        .flat_map(|c| std::iter::once(&c.change.object).chain(c.change.from.as_ref()))
        .collect();
    /// Feeds text written with `write!` straight into the hash.
    struct Feed<'h>(&'h mut Sha256);
    impl std::fmt::Write for Feed<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.update(s.as_bytes());
            Ok(())
        }
    }
    let mut h = Sha256::new();
    for (id, m) in live.meta.iter().filter(|(id, _)| !written.contains(id)) {
        // The id's text, as `to_string` makes it, without the copy.
        let _ = std::fmt::Write::write_fmt(&mut Feed(&mut h), format_args!("{id}"));
        h.update([0]);
        match &m.stamp {
            Stamp::Version(v) => h.update(v.to_le_bytes()),
            Stamp::Digest(d) => h.update(d.as_bytes()),
        }
        h.update([0]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
