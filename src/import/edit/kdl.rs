//! Additions to a KDL file: the `kdl` parser says where the nodes are, and
//! the new nodes are inserted as text there, so every byte of the file
//! stays as written. New users go after the last `user` node, a membership
//! after the workspace's last `member` node (or its last child, or in a new
//! `{ }` block), each on a line of its own with the indentation of the
//! node before it; a new workspace is appended at the end, with its
//! members. A trailing `// comment` stays with the line it was on, and
//! the new lines end as the file's do (`\r\n` or `\n`).

use kdl::{KdlDocument, KdlNode};

use super::{Additions, EditError, INVITED, MemberDecl};
use crate::export::{kdl_quoted, kdl_value};

const INDENT: &str = "    ";

pub fn apply(old: Option<&str>, adds: &Additions, comment: &str) -> Result<String, EditError> {
    let text = match old {
        Some(t) => t.to_owned(),
        None => format!("// {comment}\n"),
    };
    let doc = crate::config::kdl_source::parse_v2(&text)
        .map_err(|e| EditError::Parse(first_message(&e)))?;
    // (offset, order, text): applied from the end, so offsets stay valid.
    let mut inserts: Vec<(usize, usize, String)> = Vec::new();

    if !adds.users.is_empty() {
        let last = doc
            .nodes()
            .iter()
            .rev()
            .find(|n| n.name().value() == "user");
        // In the style of the user before: fields as children or as
        // properties.
        let children = last.is_some_and(|n| n.children().is_some());
        let lines: Vec<String> = adds
            .users
            .iter()
            .map(|u| {
                let mut fields = Vec::new();
                if let Some(name) = &u.name {
                    fields.push(("name", kdl_quoted(name)));
                }
                fields.push(("status", INVITED.to_owned()));
                let email = kdl_quoted(&u.email);
                if children {
                    let fields: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k} {v};")).collect();
                    format!("user {email} {{ {} }}", fields.join(" "))
                } else {
                    let fields: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("user {email} {}", fields.join(" "))
                }
            })
            .collect();
        inserts.push(match last {
            Some(node) => after(&text, node, &lines, ""),
            None => at_end(&text, &lines.join("\n")),
        });
    }

    let new: Vec<&str> = adds.workspaces.iter().map(|w| w.slug.as_str()).collect();
    let mut by_workspace: Vec<(&str, Vec<&MemberDecl>)> = Vec::new();
    for m in adds
        .members
        .iter()
        .filter(|m| !new.contains(&m.workspace.as_str()))
    {
        match by_workspace.iter_mut().find(|(w, _)| *w == m.workspace) {
            Some((_, ms)) => ms.push(m),
            None => by_workspace.push((&m.workspace, vec![m])),
        }
    }
    for (slug, members) in by_workspace {
        let node =
            workspace_node(&doc, slug).ok_or_else(|| EditError::NoWorkspace(slug.to_owned()))?;
        inserts.push(members_into(&text, node, &members));
    }

    for w in &adds.workspaces {
        let mut block = format!(
            "workspace {} {{\n{INDENT}name {}\n",
            kdl_value(&w.slug),
            kdl_quoted(&w.name)
        );
        for m in adds.members.iter().filter(|m| m.workspace == w.slug) {
            block.push_str(&format!("{INDENT}{}\n", member_line(m)));
        }
        block.push('}');
        inserts.push(at_end(&text, &block));
    }

    let mut out = text;
    for (i, insert) in inserts.iter_mut().enumerate() {
        insert.1 = i;
    }
    inserts.sort_by_key(|(at, order, _)| (std::cmp::Reverse(*at), std::cmp::Reverse(*order)));
    // The additions end their lines as the file does.
    let crlf = out.contains("\r\n");
    for (at, _, piece) in inserts {
        let piece = if crlf {
            piece.replace('\n', "\r\n")
        } else {
            piece
        };
        out.insert_str(at, &piece);
    }
    // What was added must parse (and so must the whole file).
    crate::config::kdl_source::parse_v2(&out).map_err(|e| EditError::Parse(first_message(&e)))?;
    Ok(out)
}

fn first_message(e: &kdl::KdlError) -> String {
    e.diagnostics
        .first()
        .and_then(|d| d.message.clone())
        .unwrap_or_else(|| e.to_string())
}

fn member_line(m: &MemberDecl) -> String {
    format!("member {} {}", kdl_quoted(&m.email), kdl_value(&m.role))
}

/// The top-level `workspace` node whose key is `slug`.
fn workspace_node<'a>(doc: &'a KdlDocument, slug: &str) -> Option<&'a KdlNode> {
    doc.nodes().iter().find(|n| {
        n.name().value() == "workspace"
            && n.entry(0).and_then(|e| e.value().as_string()) == Some(slug)
    })
}

/// The byte range of a node: from its name to its end (the closing `}` of
/// its children, if it has some).
fn range(node: &KdlNode) -> (usize, usize) {
    let span = node.span();
    (span.offset(), span.offset() + span.len())
}

/// The whitespace a node's line starts with, when the node starts its
/// line; else `None`.
fn indent_of(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let lead = &text[start..offset];
    lead.chars()
        .all(|c| c == ' ' || c == '\t')
        .then(|| lead.to_owned())
}

/// `lines` inserted after `node`, each on its own line with the node's
/// indentation (`fallback` when the node shares its line): after the end
/// of the node's line when the rest of it is only a `;` or a comment, else
/// right after the node.
fn after(text: &str, node: &KdlNode, lines: &[String], fallback: &str) -> (usize, usize, String) {
    let (start, end) = range(node);
    let indent = indent_of(text, start).unwrap_or_else(|| fallback.to_owned());
    let line_end = text[end..].find('\n').map(|i| end + i);
    let rest = &text[end..line_end.unwrap_or(text.len())];
    let tail = rest.trim_start_matches([' ', '\t', ';', '\r']);
    let quiet = !rest.contains(['{', '}']) && (tail.is_empty() || tail.starts_with("//"));
    let block: Vec<String> = lines.iter().map(|l| format!("{indent}{l}")).collect();
    match (quiet, line_end) {
        (true, Some(nl)) => (nl + 1, 0, format!("{}\n", block.join("\n"))),
        (true, None) => (text.len(), 0, format!("\n{}", block.join("\n"))),
        (false, _) => (end, 0, format!("\n{}", block.join("\n"))),
    }
}

/// `block` appended at the end of the file, after a blank line.
fn at_end(text: &str, block: &str) -> (usize, usize, String) {
    let sep = if text.is_empty() || text.ends_with("\n\n") {
        ""
    } else if text.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    (text.len(), 0, format!("{sep}{block}\n"))
}

/// `members` inserted into the workspace `node`: after its last `member`
/// node, else after its last child, else in a new block of children.
fn members_into(text: &str, node: &KdlNode, members: &[&MemberDecl]) -> (usize, usize, String) {
    let lines: Vec<String> = members.iter().map(|m| member_line(m)).collect();
    let (start, end) = range(node);
    let own = indent_of(text, start).unwrap_or_default();
    let inner = format!("{own}{INDENT}");
    let children = node.children().map(KdlDocument::nodes).unwrap_or_default();
    let anchor = children
        .iter()
        .rev()
        .find(|n| n.name().value() == "member")
        .or_else(|| children.last());
    match anchor {
        Some(child) => after(text, child, &lines, &inner),
        None if node.children().is_some() => {
            // An empty `{ }`: the members go before its closing brace, on
            // lines of their own.
            let close = text[..end].rfind('}').unwrap_or(end);
            let line_start = text[..close].rfind('\n').map_or(0, |i| i + 1);
            if line_start > start && text[line_start..close].trim().is_empty() {
                let block: String = lines.iter().map(|l| format!("{inner}{l}\n")).collect();
                (line_start, 0, block)
            } else {
                let block: String = lines.iter().map(|l| format!("\n{inner}{l}")).collect();
                (close, 0, format!("{block}\n{own}"))
            }
        }
        None => {
            let block: String = lines.iter().map(|l| format!("{inner}{l}\n")).collect();
            (end, 0, format!(" {{\n{block}{own}}}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{UserDecl, WorkspaceDecl};
    use super::*;

    fn member(w: &str, e: &str, r: &str) -> MemberDecl {
        MemberDecl {
            workspace: w.into(),
            email: e.into(),
            role: r.into(),
        }
    }

    fn members(ms: &[MemberDecl]) -> Additions {
        Additions {
            members: ms.to_vec(),
            ..Additions::default()
        }
    }

    #[test]
    fn users_after_the_last_user() {
        let old = "// People.\nuser \"a@x.example\" { name \"A\"; } // first\n\n// The end.\n";
        let adds = Additions {
            users: vec![
                UserDecl {
                    email: "b@x.example".into(),
                    name: Some("B \"b\"".into()),
                },
                UserDecl {
                    email: "c@x.example".into(),
                    name: None,
                },
            ],
            ..Additions::default()
        };
        assert_eq!(
            apply(Some(old), &adds, "").unwrap(),
            "// People.\nuser \"a@x.example\" { name \"A\"; } // first\nuser \"b@x.example\" { name \"B \\\"b\\\"\"; status invited; }\nuser \"c@x.example\" { status invited; }\n\n// The end.\n"
        );
    }

    #[test]
    fn members_after_the_last_member() {
        let old = "workspace a {\n    name \"A\"\n    member \"x@x.example\" owner\n\n    provider p default=#true\n}\n";
        assert_eq!(
            apply(
                Some(old),
                &members(&[member("a", "y@x.example", "member")]),
                ""
            )
            .unwrap(),
            "workspace a {\n    name \"A\"\n    member \"x@x.example\" owner\n    member \"y@x.example\" member\n\n    provider p default=#true\n}\n"
        );
    }

    #[test]
    fn members_into_other_shapes() {
        let ms = members(&[member("a", "y@x.example", "admin")]);
        assert_eq!(
            apply(Some("workspace a name=\"A\"\n"), &ms, "").unwrap(),
            "workspace a name=\"A\" {\n    member \"y@x.example\" admin\n}\n"
        );
        assert_eq!(
            apply(Some("workspace a { name \"A\"; }\n"), &ms, "").unwrap(),
            "workspace a { name \"A\"\n    member \"y@x.example\" admin; }\n"
        );
        assert_eq!(
            apply(Some("workspace a {\n}\n"), &ms, "").unwrap(),
            "workspace a {\n    member \"y@x.example\" admin\n}\n"
        );
        assert_eq!(
            apply(Some("workspace b\n"), &ms, "").unwrap_err(),
            EditError::NoWorkspace("a".into())
        );
    }

    #[test]
    fn a_file_with_crlf_lines_keeps_them() {
        let old = "workspace a {\r\n    member \"x@x.example\" owner\r\n}\r\n";
        assert_eq!(
            apply(
                Some(old),
                &members(&[member("a", "y@x.example", "member")]),
                ""
            )
            .unwrap(),
            "workspace a {\r\n    member \"x@x.example\" owner\r\n    member \"y@x.example\" member\r\n}\r\n"
        );
    }

    #[test]
    fn a_new_file() {
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
            "// Field Sales, from tenet import users.\n\nworkspace field-sales {\n    name \"Field Sales\"\n    member \"y@x.example\" owner\n}\n"
        );
    }
}
