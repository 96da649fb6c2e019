//! What a platform can hold and offer, as data: the kinds it holds, versions
//! for conditional writes, where ownership is recorded, an audit log, locks,
//! where its catalog comes from. Targets declare them; `plan` and `drift`
//! read them to degrade honestly (and say so) where one is missing. Also
//! [`Unholdable`]: one piece of the files a platform cannot hold, which
//! `validate` and `plan` report by name instead of dropping it.

use super::{Kind, ObjectId};

/// Where a target records that tenet manages an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Labels on the object: the managed flag and the last-applied digest.
    Labels,
    /// A marker in a field the protocol leaves to the client (SCIM
    /// `externalId`): the managed flag, but no last-applied digest.
    Marker,
    /// Nowhere: objects are matched by natural key, and deleted only when
    /// their kind is authoritative.
    Nowhere,
}

/// Where the permission catalog comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogSource {
    /// The platform serves it.
    Served,
    /// The platform has none; tenet uses the built-in profile the files
    /// name.
    Builtin,
}

/// What a target can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// What the platform is, for messages ("SCIM 2.0", "Open WebUI").
    pub platform: &'static str,
    /// Kinds it can hold.
    pub kinds: &'static [Kind],
    /// Versions for conditional writes; without them the engine re-reads
    /// and compares content right before each write.
    pub versions: bool,
    /// Where ownership is recorded, per kind; kinds not listed: nowhere.
    pub ownership: &'static [(Kind, Ownership)],
    /// An audit log that can be queried for attribution.
    pub audit: bool,
    /// Advisory locks that exclude concurrent applies.
    pub locks: bool,
    pub catalog: CatalogSource,
    /// Whether writes need real API key values (the sandbox never calls a
    /// provider, so it does without).
    pub keys_required: bool,
    /// Whether a workspace can be archived (kept, but closed); without it,
    /// removing a workspace from the files must be a deletion.
    pub archive: bool,
    /// Whether a user's permissions are global (the union of every group
    /// they are in) rather than per workspace.
    pub global_permissions: bool,
    /// Kinds whose objects it can rename in place (keeping what is attached
    /// to them); a rename of any other kind is refused by the plan.
    pub renames: &'static [Kind],
    /// At most this many writes sent together, committed at once (each
    /// still succeeding or failing on its own); 1: one write at a time.
    pub batch: usize,
}

impl Capabilities {
    pub fn ownership(&self, kind: Kind) -> Ownership {
        self.ownership
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(Ownership::Nowhere, |(_, o)| *o)
    }

    pub fn holds(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    pub fn renames(&self, kind: Kind) -> bool {
        self.renames.contains(&kind)
    }
}

/// Something in the files the platform cannot hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unholdable {
    pub object: ObjectId,
    /// The field as the files spell it (`name`, `quotas.storage_gb`), or
    /// empty for the whole object.
    pub field: String,
    /// Why, in the platform's terms, and what to do.
    pub reason: String,
}
