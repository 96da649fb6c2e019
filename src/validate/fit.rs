//! Whether the files fit the platform they are for: every piece of content
//! the target says it cannot hold (a custom role's permissions on SCIM,
//! quotas on Open WebUI, ...) becomes an error at the place it is declared,
//! naming the object, the field and the platform. Nothing is dropped in
//! silence: `validate` and `plan` exit 1 on these, and `apply` writes
//! nothing.

use crate::config::Loaded;
use crate::config::document::Declared;
use crate::config::spans::push;
use crate::diagnostic::Diagnostic;
use crate::model::ObjectId;
use crate::model::capabilities::Unholdable;

/// A declaration and the pointer below it where the field is written.
struct Place {
    file: usize,
    object: String,
    field: Vec<String>,
}

fn of<T>(d: &Declared<T>, field: Vec<String>) -> Place {
    Place {
        file: d.file,
        object: d.pointer.clone(),
        field,
    }
}

fn place(loaded: &Loaded, id: &ObjectId, field: &str) -> Option<Place> {
    let doc = &loaded.document;
    let path: Vec<String> = field
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let under = |mut pre: Vec<String>| {
        pre.extend(path.iter().cloned());
        pre
    };
    match id {
        ObjectId::Workspace(w) => doc.workspaces.get(w.as_str()).map(|d| of(d, path.clone())),
        ObjectId::Quotas(w) => {
            let declared = doc.workspaces.get(w.as_str())?;
            let here = of(declared, path.clone());
            // A limit from [defaults.quotas] is written there.
            let written = loaded.value_span(here.file, &pointer(&here.object, &here.field));
            match (&doc.defaults, written.is_empty()) {
                (Some(d), true) => Some(of(d, path.clone())),
                _ => Some(here),
            }
        }
        ObjectId::User(u) => doc.users.get(u.as_str()).map(|d| of(d, path.clone())),
        ObjectId::Role(r) => doc.roles.get(r.as_str()).map(|d| of(d, path.clone())),
        ObjectId::Provider(p) => doc.providers.get(p.as_str()).map(|d| of(d, path.clone())),
        ObjectId::Assignment(w, p) => doc
            .workspaces
            .get(w.as_str())
            .map(|d| of(d, under(vec!["providers".to_owned(), p.to_string()]))),
        ObjectId::Membership(w, _) => doc.workspaces.get(w.as_str()).map(|d| of(d, path.clone())),
        ObjectId::Project(w, p) => doc
            .workspaces
            .get(w.as_str())
            .map(|d| of(d, under(vec!["projects".to_owned(), p.to_string()]))),
        ObjectId::MemberQuotas(w, u) => doc
            .workspaces
            .get(w.as_str())
            .map(|d| of(d, under(vec!["member_quotas".to_owned(), u.to_string()]))),
        ObjectId::TopUp(w, t) => doc
            .workspaces
            .get(w.as_str())
            .map(|d| of(d, under(vec!["top_ups".to_owned(), t.to_string()]))),
        ObjectId::ApiKey(w, k) => doc
            .workspaces
            .get(w.as_str())
            .map(|d| of(d, under(vec!["api_keys".to_owned(), k.to_string()]))),
        ObjectId::IdentityProvider(i) => doc.settings.as_ref().map(|d| {
            of(
                d,
                under(vec![
                    "sso".to_owned(),
                    "providers".to_owned(),
                    i.to_string(),
                ]),
            )
        }),
        ObjectId::Settings => doc.settings.as_ref().map(|d| of(d, path.clone())),
    }
}

fn pointer(object: &str, field: &[String]) -> String {
    field.iter().fold(object.to_owned(), |p, t| push(&p, t))
}

/// One error per piece the platform cannot hold.
pub fn unholdable(loaded: &Loaded, platform: &str, items: &[Unholdable]) -> Vec<Diagnostic> {
    items
        .iter()
        .map(|u| {
            let what = if u.field.is_empty() {
                format!("{platform} cannot hold `{}`", u.object)
            } else {
                format!("{platform} cannot hold `{}` of `{}`", u.field, u.object)
            };
            let d = Diagnostic::error("tenet::target::unholdable", what).with_help(format!(
                "{}; remove it from the files, or manage this platform with a target that holds it",
                u.reason
            ));
            match place(loaded, &u.object, &u.field) {
                Some(p) => {
                    let value = loaded.value_span(p.file, &pointer(&p.object, &p.field));
                    let span = if value.is_empty() {
                        loaded.key_span(p.file, &p.object)
                    } else {
                        value
                    };
                    d.with_label(p.file, span, format!("not held by {platform}"))
                }
                None => d,
            }
        })
        .collect()
}
