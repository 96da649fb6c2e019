//! Checks of `previously` (earlier slugs of a workspace, role or provider,
//! to rename it in place): an earlier slug is not the object's own, is not
//! declared as another object of its kind, is claimed by one object only,
//! and is never a built-in role. Each problem points at the slug in the list.

use std::collections::BTreeMap;

use super::Checker;
use crate::config::document::Declared;
use crate::diagnostic::{Diagnostic, FileId};

/// One earlier slug as written: by whom, where.
struct Claim<'a> {
    owner: &'a str,
    file: FileId,
    span: std::ops::Range<usize>,
}

impl<'a> Checker<'a> {
    pub(super) fn previously(&mut self) {
        let doc = &self.loaded.document;
        let workspaces = doc
            .workspaces
            .iter()
            .map(|(k, d)| (k, d, d.value.as_ref().map(|v| &v.previously)));
        self.previously_of("workspace", workspaces, &doc.workspaces);
        let roles = doc
            .roles
            .iter()
            .map(|(k, d)| (k, d, d.value.as_ref().map(|v| &v.previously)));
        self.previously_of("role", roles, &doc.roles);
        let providers = doc
            .providers
            .iter()
            .map(|(k, d)| (k, d, d.value.as_ref().map(|v| &v.previously)));
        self.previously_of("provider", providers, &doc.providers);
    }

    fn previously_of<T: 'a, U>(
        &mut self,
        what: &str,
        objects: impl Iterator<Item = (&'a String, &'a Declared<T>, Option<&'a Vec<String>>)>,
        declared: &'a BTreeMap<String, Declared<U>>,
    ) {
        let mut claims: BTreeMap<&'a str, Vec<Claim<'a>>> = BTreeMap::new();
        for (key, d, list) in objects {
            for (i, old) in list.into_iter().flatten().enumerate() {
                let (file, span) = self.at(d, &["previously", &i.to_string()], false);
                if old == key {
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::previously::itself",
                            format!("{what} `{key}` names itself in `previously`"),
                        )
                        .with_label(file, span, "its own slug")
                        .with_help("`previously` lists earlier slugs only: remove this one"),
                    );
                    continue;
                }
                if let Some(other) = declared.get(old) {
                    let (ofile, ospan) = self.at(other, &[], true);
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::previously::declared",
                            format!(
                                "`{old}`, an earlier slug of {what} `{key}`, is declared as a {what} too"
                            ),
                        )
                        .with_label(file, span.clone(), "earlier slug")
                        .with_label(ofile, ospan, format!("{what} `{old}` declared here"))
                        .with_help(format!(
                            "a slug is either an earlier name or a declared {what}: remove `{old}` from `previously`, or remove that {what}"
                        )),
                    );
                    continue;
                }
                if what == "role" && self.catalog.is_builtin_role(old) {
                    self.diags.push(
                        Diagnostic::error(
                            "tenet::previously::builtin",
                            format!(
                                "`{old}`, an earlier slug of role `{key}`, is a built-in role of the {} profile",
                                self.catalog.profile
                            ),
                        )
                        .with_label(file, span, "built-in role")
                        .with_help("built-in roles are never renamed: remove it from `previously`"),
                    );
                    continue;
                }
                claims.entry(old).or_default().push(Claim {
                    owner: key,
                    file,
                    span,
                });
            }
        }
        for (old, mut list) in claims {
            if list.len() < 2 {
                continue;
            }
            list.sort_by_key(|c| (c.file, c.span.start));
            let first = &list[0];
            for again in &list[1..] {
                self.diags.push(
                    Diagnostic::error(
                        "tenet::previously::claimed-twice",
                        format!(
                            "`{old}` is an earlier slug of both {what} `{}` and {what} `{}`",
                            first.owner, again.owner
                        ),
                    )
                    .with_label(again.file, again.span.clone(), "claimed again here")
                    .with_label(first.file, first.span.clone(), "first claimed here")
                    .with_help(format!(
                        "one {what} can be renamed into one {what} only: keep `{old}` in one `previously`"
                    )),
                );
            }
        }
    }
}
