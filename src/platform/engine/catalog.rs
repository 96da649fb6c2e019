//! The catalog a platform is created with, and the rules the engine reads
//! from it (docs/platform-api.md §7.1, §7.8, §8.1). The documents are the
//! JSON files `src/model/catalog/<profile>.json`, embedded as data and parsed
//! into the wire's own `Catalog`; no client code is involved, so the
//! platform stays an independent check of what clients believe.

use std::sync::OnceLock;

use crate::wire::{BuiltinRole, Catalog, Profile};

/// The catalog shipped for `profile`.
pub fn builtin(profile: Profile) -> &'static Catalog {
    static M3FORGE: OnceLock<Catalog> = OnceLock::new();
    static MAGONEAI: OnceLock<Catalog> = OnceLock::new();
    static OPENWEBUI: OnceLock<Catalog> = OnceLock::new();
    let (cell, text) = match profile {
        Profile::M3forge => (&M3FORGE, include_str!("../../model/catalog/m3forge.json")),
        Profile::Magoneai => (&MAGONEAI, include_str!("../../model/catalog/magoneai.json")),
        Profile::Openwebui => (
            &OPENWEBUI,
            include_str!("../../model/catalog/openwebui.json"),
        ),
    };
    // Both documents are checked by the tests below: a malformed one is a
    // build defect, not input.
    cell.get_or_init(|| {
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("the shipped {profile} catalog is malformed: {e}"))
    })
}

/// What the platform's rules ask of its catalog.
pub trait CatalogRules {
    /// The built-in role `id`.
    fn role(&self, id: &str) -> Option<&BuiltinRole>;

    fn is_builtin_role(&self, id: &str) -> bool {
        self.role(id).is_some()
    }

    /// A role whose active holders administer a workspace (§8.1).
    fn is_administrator_role(&self, id: &str) -> bool;

    /// True when a role may list `permission` (§7.8): a catalog permission
    /// id, or a wildcard `family.*`, `*.action`, `*` or `*.*` (families and
    /// actions `[a-z_]+`) matching at least one catalog permission.
    fn admits_permission(&self, permission: &str) -> bool;
}

impl CatalogRules for Catalog {
    fn role(&self, id: &str) -> Option<&BuiltinRole> {
        self.roles.iter().find(|r| r.id == id)
    }

    fn is_administrator_role(&self, id: &str) -> bool {
        self.administrator_roles.iter().any(|r| r == id)
    }

    fn admits_permission(&self, permission: &str) -> bool {
        if self.permissions.iter().any(|p| p.id == permission) {
            return true;
        }
        let (family, action) = if permission == "*" {
            ("*", "*")
        } else {
            match permission.split_once('.') {
                Some(parts) => parts,
                None => return false,
            }
        };
        let word = |w: &str| {
            w == "*" || (!w.is_empty() && w.bytes().all(|b| matches!(b, b'a'..=b'z' | b'_')))
        };
        if !word(family) || !word(action) {
            return false;
        }
        self.permissions.iter().any(|p| {
            let (f, a) = p.id.split_once('.').unwrap_or((p.id.as_str(), ""));
            (family == "*" || family == f) && (action == "*" || action == a)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalogs_hold_together() {
        for profile in Profile::ALL {
            let c = builtin(profile);
            assert_eq!(c.profile, profile);
            for r in &c.roles {
                for p in &r.permissions {
                    assert!(c.admits_permission(p), "{profile}: {} lists {p}", r.id);
                }
            }
            for a in &c.administrator_roles {
                assert!(c.is_builtin_role(a), "{profile}: {a} is not built in");
            }
            assert!(c.is_builtin_role(&c.default_role));
        }
    }

    #[test]
    fn permissions_and_wildcards() {
        let c = builtin(Profile::M3forge);
        for ok in ["prompts.test", "prompts.*", "*.view", "*", "*.*"] {
            assert!(c.admits_permission(ok), "{ok}");
        }
        for bad in [
            "prompts",
            "prompt.view",
            "Prompts.view",
            "prompts.",
            ".view",
            "prompts.te-st",
            "**",
            "prompts.view.x",
            "",
        ] {
            assert!(!c.admits_permission(bad), "{bad}");
        }
        let m = builtin(Profile::Magoneai);
        assert_eq!(m.administrator_roles, ["owner"]);
        assert!(m.is_administrator_role("owner") && !m.is_administrator_role("member"));
    }
}
