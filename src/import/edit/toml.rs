//! Additions to a TOML file through `toml_edit`, which keeps everything it
//! does not touch as written. New users become `[users."EMAIL"]` tables
//! after the last user, a new workspace a `[workspaces.SLUG]` table with
//! its name, and a membership a `"EMAIL" = ["ROLE"]` line at the end of the
//! workspace's `members` (a `[workspaces.SLUG.members]` table made after
//! the workspace's last table when there is none). Inline tables get
//! inline additions, so a file in either style stays valid.

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

use super::{Additions, EditError, INVITED};

pub fn apply(old: Option<&str>, adds: &Additions, comment: &str) -> Result<String, EditError> {
    let mut doc: DocumentMut = old
        .unwrap_or("")
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Parse(e.message().to_owned()))?;
    let root = doc.as_item_mut();
    for u in &adds.users {
        let users = child(root, "users", "users")?;
        let mut fields = vec![];
        if let Some(name) = &u.name {
            fields.push(("name", Value::from(name.as_str())));
        }
        fields.push(("status", Value::from(INVITED)));
        insert_table(users, &u.email, fields, "users")?;
    }
    for w in &adds.workspaces {
        let workspaces = child(root, "workspaces", "workspaces")?;
        insert_table(
            workspaces,
            &w.slug,
            vec![("name", Value::from(w.name.as_str()))],
            "workspaces",
        )?;
    }
    for m in &adds.members {
        let path = format!("workspaces.{}", m.workspace);
        let workspace = root
            .get_mut("workspaces")
            .and_then(|w| w.get_mut(m.workspace.as_str()))
            .filter(|w| w.is_table_like())
            .ok_or_else(|| EditError::NoWorkspace(m.workspace.clone()))?;
        let fresh = workspace.get("members").is_none();
        let members = child(workspace, "members", &format!("{path}.members"))?;
        if fresh && let Some(t) = members.as_table_mut() {
            t.set_implicit(false);
            t.decor_mut().set_prefix("\n");
        }
        let roles = Value::Array(Array::from_iter([m.role.as_str()]));
        if let Some(inline) = members.as_inline_table_mut() {
            append_inline(inline, &m.email, roles);
            continue;
        }
        let table = members
            .as_table_like_mut()
            .ok_or_else(|| EditError::NotATable(format!("{path}.members")))?;
        table.insert(&m.email, Item::Value(roles));
    }
    Ok(match old {
        Some(_) => doc.to_string(),
        // The first table opens with a blank line.
        None => format!("# {comment}\n{doc}"),
    })
}

/// Adds `key = value` at the end of an inline table, taking over the
/// space before its `}` from the value that was last.
fn append_inline(table: &mut InlineTable, key: &str, value: Value) {
    let last = table.iter().last().map(|(k, _)| k.to_owned());
    table.insert(key, value);
    let Some(last) = last else { return };
    let suffix = table.get(&last).and_then(|v| v.decor().suffix()).cloned();
    if let Some(suffix) = suffix {
        if let Some(v) = table.get_mut(&last) {
            v.decor_mut().set_suffix("");
        }
        if let Some(v) = table.get_mut(key) {
            v.decor_mut().set_suffix(suffix);
        }
    }
}

/// The table-like item at `key` of `parent`, made when missing: an
/// implicit table (no header of its own), or an inline table inside an
/// inline one.
fn child<'a>(parent: &'a mut Item, key: &str, path: &str) -> Result<&'a mut Item, EditError> {
    let inline = parent.is_inline_table();
    let table = parent
        .as_table_like_mut()
        .ok_or_else(|| EditError::NotATable(path.to_owned()))?;
    if table.get(key).is_none() {
        let item = if inline {
            Item::Value(Value::InlineTable(InlineTable::new()))
        } else {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        };
        table.insert(key, item);
    }
    table
        .get_mut(key)
        .filter(|i| i.is_table_like())
        .ok_or_else(|| EditError::NotATable(path.to_owned()))
}

/// Adds `key` with `fields` to `parent`: a table with a header of its own
/// after a blank line, or an inline table inside an inline one or beside
/// inline ones.
fn insert_table(
    parent: &mut Item,
    key: &str,
    fields: Vec<(&str, Value)>,
    path: &str,
) -> Result<(), EditError> {
    // Entries written as `KEY = { ... }` lines get one more such line.
    let inline_entries = parent
        .as_table()
        .is_some_and(|t| !t.is_empty() && t.iter().all(|(_, i)| i.is_inline_table()));
    let item = if parent.is_inline_table() || inline_entries {
        let mut t = InlineTable::new();
        for (k, v) in fields {
            t.insert(k, v);
        }
        Item::Value(Value::InlineTable(t))
    } else {
        let mut t = Table::new();
        for (k, v) in fields {
            t.insert(k, Item::Value(v));
        }
        t.decor_mut().set_prefix("\n");
        Item::Table(t)
    };
    parent
        .as_table_like_mut()
        .ok_or_else(|| EditError::NotATable(path.to_owned()))?
        .insert(key, item);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{MemberDecl, UserDecl, WorkspaceDecl};
    use super::*;

    fn member(w: &str, e: &str, r: &str) -> MemberDecl {
        MemberDecl {
            workspace: w.into(),
            email: e.into(),
            role: r.into(),
        }
    }

    #[test]
    fn additions_keep_the_file_as_it_was() {
        let old =
            "# People.\n\n[users.\"ada@x.example\"]\nname = \"Ada\" # the first\n\n# The end.\n";
        let adds = Additions {
            users: vec![UserDecl {
                email: "bo@x.example".into(),
                name: Some("Bo \"B\"".into()),
            }],
            ..Additions::default()
        };
        let new = apply(Some(old), &adds, "unused").unwrap();
        assert_eq!(
            new,
            "# People.\n\n[users.\"ada@x.example\"]\nname = \"Ada\" # the first\n\n[users.\"bo@x.example\"]\nname = 'Bo \"B\"'\nstatus = \"invited\"\n\n# The end.\n"
        );
    }

    #[test]
    fn members_go_at_the_end_of_members_or_in_a_new_table() {
        let old = "[workspaces.a]\nname = \"A\"\n\n[workspaces.a.members]\n\"x@x.example\" = [\"owner\"] # boss\n\n[workspaces.a.providers.p]\ndefault = true\n\n[workspaces.b]\nname = \"B\"\n\n[workspaces.b.settings]\ntheme = \"dark\"\n";
        let adds = Additions {
            members: vec![
                member("a", "y@x.example", "member"),
                member("b", "y@x.example", "admin"),
            ],
            ..Additions::default()
        };
        let new = apply(Some(old), &adds, "unused").unwrap();
        assert_eq!(
            new,
            "[workspaces.a]\nname = \"A\"\n\n[workspaces.a.members]\n\"x@x.example\" = [\"owner\"] # boss\n\"y@x.example\" = [\"member\"]\n\n[workspaces.a.providers.p]\ndefault = true\n\n[workspaces.b]\nname = \"B\"\n\n[workspaces.b.settings]\ntheme = \"dark\"\n\n[workspaces.b.members]\n\"y@x.example\" = [\"admin\"]\n"
        );
    }

    #[test]
    fn a_new_file_and_inline_tables() {
        let adds = Additions {
            workspaces: vec![WorkspaceDecl {
                slug: "field-sales".into(),
                name: "Field Sales".into(),
            }],
            members: vec![member("field-sales", "y@x.example", "owner")],
            ..Additions::default()
        };
        assert_eq!(
            apply(None, &adds, "Field Sales, from tenet import users.").unwrap(),
            "# Field Sales, from tenet import users.\n\n[workspaces.field-sales]\nname = \"Field Sales\"\n\n[workspaces.field-sales.members]\n\"y@x.example\" = [\"owner\"]\n"
        );
        let old = "workspaces.a.members = { \"x@x.example\" = [\"owner\"] }\n";
        let adds = Additions {
            members: vec![member("a", "y@x.example", "member")],
            ..Additions::default()
        };
        assert_eq!(
            apply(Some(old), &adds, "").unwrap(),
            "workspaces.a.members = { \"x@x.example\" = [\"owner\"], \"y@x.example\" = [\"member\"] }\n"
        );
    }

    #[test]
    fn users_written_inline_get_an_inline_user() {
        let old = "[users]\n\"a@x.example\" = { name = \"A\" }\n";
        let adds = Additions {
            users: vec![UserDecl {
                email: "b@x.example".into(),
                name: None,
            }],
            ..Additions::default()
        };
        assert_eq!(
            apply(Some(old), &adds, "").unwrap(),
            "[users]\n\"a@x.example\" = { name = \"A\" }\n\"b@x.example\" = { status = \"invited\" }\n"
        );
    }

    #[test]
    fn a_workspace_that_is_not_a_table_is_an_error() {
        let adds = Additions {
            members: vec![member("a", "y@x.example", "member")],
            ..Additions::default()
        };
        assert_eq!(
            apply(Some("workspaces = 3\n"), &adds, "").unwrap_err(),
            EditError::NoWorkspace("a".into())
        );
    }
}
