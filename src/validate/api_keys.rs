//! API keys: each one's owner is a member of its workspace, its
//! permissions are permissions of the catalog that the owner holds there
//! (a key never does more than its owner), its expiry is a real day, and
//! a key past its expiry or close to it is a warning. A key without a
//! sink is a warning too: the value of a new key would be lost.

use super::Checker;
use crate::config::document::{Declared, WorkspaceDoc, fold_email};
use crate::diagnostic::Diagnostic;
use crate::model::{Email, Slug};

/// A key expiring within this many days is a warning (the plan's too).
const EXPIRY_WARNING_DAYS: i64 = 14;

impl Checker<'_> {
    pub(super) fn api_keys(&mut self, slug: &str, d: &Declared<WorkspaceDoc>) {
        let Some(ws) = &d.value else { return };
        if ws.api_keys.is_empty() {
            return;
        }
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let today = now.get(..10).unwrap_or_default().to_owned();
        let members = self.members_of(slug);
        for (name, k) in &ws.api_keys {
            let what = format!("API key `{name}` of workspace `{slug}`");
            let owner = fold_email(&k.owner);
            if !self.known_users.contains(owner.as_str()) {
                self.unknown_user(d, &["api_keys", name, "owner"], &k.owner, false, &what);
                continue;
            }
            if self.complete && !members.contains(owner.as_str()) {
                let (file, span) = self.at(d, &["api_keys", name, "owner"], false);
                self.diags.push(
                    Diagnostic::error(
                        "tenet::api-key::not-a-member",
                        format!("the owner of {what}, `{owner}`, is no member of the workspace"),
                    )
                    .with_label(file, span, "not a member")
                    .with_help(format!(
                        "a key acts for a member of its workspace: add `{owner}` to [workspaces.{slug}.members], or choose another owner"
                    )),
                );
                continue;
            }
            self.key_permissions(d, slug, name, &owner, &k.permissions, &what);
            if let Some(expires) = &k.expires {
                match crate::model::days_between(&today, expires) {
                    None => {
                        let (file, span) = self.at(d, &["api_keys", name, "expires"], false);
                        self.diags.push(
                            Diagnostic::error(
                                "tenet::api-key::date",
                                format!(
                                    "{what} expires on `{expires}`, which is no day of the calendar"
                                ),
                            )
                            .with_label(file, span, "no such day")
                            .with_help("write a real day, YYYY-MM-DD"),
                        );
                    }
                    Some(left) if left < 0 => {
                        let (file, span) = self.at(d, &["api_keys", name, "expires"], false);
                        self.diags.push(
                            Diagnostic::warning(
                                "tenet::api-key::expired",
                                format!("{what} expired on {expires}: it no longer works"),
                            )
                            .with_label(file, span, "in the past")
                            .with_help("extend `expires` (a new day), or remove the key from the files to revoke it"),
                        );
                    }
                    Some(left) if left <= EXPIRY_WARNING_DAYS => {
                        let (file, span) = self.at(d, &["api_keys", name, "expires"], false);
                        self.diags.push(
                            Diagnostic::warning(
                                "tenet::api-key::expiring",
                                format!("{what} expires on {expires}, in {left} day(s)"),
                            )
                            .with_label(file, span, "soon")
                            .with_help(
                                "extend `expires` before the key stops working, and tell its users",
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
            if k.sink.is_none() {
                let (file, span) = self.at(d, &["api_keys", name], true);
                self.diags.push(
                    Diagnostic::warning(
                        "tenet::api-key::no-sink",
                        format!("{what} names no sink: the value of a new or rotated key would be lost"),
                    )
                    .with_label(file, span, "no sink")
                    .with_help("add sink = \"file:PATH\" (written with mode 0600) or sink = \"stdout\" (printed once by apply)"),
                );
            }
        }
    }

    /// Every permission of a key is in the catalog and held by its owner
    /// in the workspace.
    fn key_permissions(
        &mut self,
        d: &Declared<WorkspaceDoc>,
        slug: &str,
        name: &str,
        owner: &str,
        permissions: &[String],
        what: &str,
    ) {
        let (Ok(ws), Ok(user)) = (Slug::parse(slug), Email::parse(owner)) else {
            return;
        };
        let state = &self.config.state;
        let roles = state
            .memberships
            .get(&(ws, user))
            .map(|m| m.roles.iter().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        let mut held = std::collections::BTreeSet::new();
        for r in &roles {
            let patterns: Vec<&str> = match (self.catalog.role(r.as_str()), state.roles.get(r)) {
                (Some(b), _) => b.permissions.iter().map(String::as_str).collect(),
                (None, Some(c)) => c.permissions.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            };
            for p in patterns {
                held.extend(self.catalog.expand(p).unwrap_or_default());
            }
        }
        for (i, p) in permissions.iter().enumerate() {
            let granted = self.catalog.expand(p).unwrap_or_default();
            let (file, span) =
                self.at(d, &["api_keys", name, "permissions", &i.to_string()], false);
            if granted.is_empty() {
                let candidates: Vec<&str> = self
                    .catalog
                    .permissions
                    .iter()
                    .map(|x| x.id.as_str())
                    .collect();
                let help = self.hint(p, candidates).unwrap_or_else(|| {
                    "permissions are family.action, wildcards allowed".to_owned()
                });
                self.diags.push(
                    Diagnostic::error(
                        "tenet::role::unknown-permission",
                        format!(
                            "`{p}` is not a permission of the {} catalog ({what})",
                            self.catalog.profile
                        ),
                    )
                    .with_label(file, span, "unknown permission")
                    .with_help(help),
                );
                continue;
            }
            let beyond: Vec<&str> = granted
                .iter()
                .copied()
                .filter(|g| !held.contains(g))
                .collect();
            if !beyond.is_empty() {
                self.diags.push(
                    Diagnostic::error(
                        "tenet::api-key::beyond-owner",
                        format!(
                            "{what} would have {} (through `{p}`), which its owner `{owner}` does not have in the workspace",
                            beyond
                                .iter()
                                .map(|b| format!("`{b}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .with_label(file, span, "beyond the owner's permissions")
                    .with_help(format!(
                        "a key does at most what its owner does; the owner's roles here: {}",
                        if roles.is_empty() {
                            "none".to_owned()
                        } else {
                            roles.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                        }
                    )),
                );
            }
        }
    }
}
