//! `tenet import users` end to end, through the real binary on temporary
//! directories: spreadsheets are made here with `rust_xlsxwriter` (the
//! MagOneAI template's `Users` and `Workspaces` sheets), CSV files written
//! as text. Covered: a fresh tree from an xlsx file that validates and
//! plans; merges into copies of `examples/magoneai` (TOML) and
//! `examples/magoneai-kdl` (KDL) that only add to the files (every old
//! line kept, in order) and still validate and plan; every reason a row is
//! refused, at its cell or its `file:line:column`, without stopping the
//! good rows; CSV with and without a reference list; a password canary
//! that must appear in no output and no file; a second run that changes
//! nothing; `--dry-run`; determinism; and refusals of the input itself.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::{Run, copy_tree, example, run, tenet};

/// A password no output or file may ever show.
const CANARY: &str = "Zq9!canary-PASSWORD-8fK2";

const HEADER: [&str; 5] = ["org_id", "email", "display_name", "role", "password"];

/// An xlsx workbook at `path` with a `Users` sheet (a header row and
/// `users`) and, if given, a `Workspaces` sheet (`org_id`, `name`).
fn xlsx(path: &Path, users: &[[&str; 5]], workspaces: Option<&[[&str; 2]]>) {
    use rust_xlsxwriter::Workbook;
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Users").expect("sheet name");
    for (row, cells) in std::iter::once(&HEADER).chain(users).enumerate() {
        for (col, text) in cells.iter().enumerate() {
            if !text.is_empty() {
                sheet
                    .write_string(row as u32, col as u16, *text)
                    .expect("write cell");
            }
        }
    }
    if let Some(orgs) = workspaces {
        let sheet = book.add_worksheet();
        sheet.set_name("Workspaces").expect("sheet name");
        for (row, cells) in std::iter::once(&["org_id", "name"]).chain(orgs).enumerate() {
            for (col, text) in cells.iter().enumerate() {
                sheet
                    .write_string(row as u32, col as u16, *text)
                    .expect("write cell");
            }
        }
    }
    book.save(path).expect("save workbook");
}

/// `tenet import users FILE --out DIR ARGS...`.
fn import(file: &Path, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = tenet();
    cmd.args(["import", "users"])
        .arg(file)
        .arg("--out")
        .arg(dir)
        .args(args);
    run(cmd)
}

fn validate(dir: &Path) -> Run {
    let mut cmd = tenet();
    cmd.arg("validate").arg(dir);
    run(cmd)
}

fn plan(dir: &Path) -> Run {
    let mut cmd = tenet();
    cmd.arg("plan").arg(dir);
    run(cmd)
}

/// Every file below `dir` (the sandbox's `.tenet/` left out), by relative
/// path, as bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if entry.file_name() != ".tenet" {
                    stack.push(path);
                }
            } else {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
                let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                out.insert(rel, bytes);
            }
        }
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Panics unless `new` is `old` with lines added: every line of `old`
/// kept, in order, byte for byte.
#[track_caller]
fn only_added(path: &Path, old: &str, new: &str) {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::from_lines(old, new);
    let removed: Vec<String> = diff
        .iter_all_changes()
        .filter(|c| c.tag() == ChangeTag::Delete)
        .map(|c| c.to_string())
        .collect();
    assert!(
        removed.is_empty(),
        "{} lost lines {removed:?}:\n{}",
        path.display(),
        diff.unified_diff()
    );
}

/// Every file of `before` is in `after` with only lines added.
#[track_caller]
fn kept(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) {
    for (path, old) in before {
        let new = after
            .get(path)
            .unwrap_or_else(|| panic!("{} is gone", path.display()));
        only_added(path, &text(old), &text(new));
    }
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

#[test]
fn a_fresh_tree_from_a_spreadsheet_validates_and_plans() {
    let tmp = temp();
    let sheet = tmp.path().join("people.xlsx");
    xlsx(
        &sheet,
        &[
            ["org-1", "ana.lima@example.com", "Ana Lima", "owner", ""],
            ["org-1", "Bo.Berg@example.com", "Bo Berg", "", ""],
            ["org-2", "cy@example.com", "Cy", "Owner", ""],
            ["org-2", "ana.lima@example.com", "Ana Lima", "admin", ""],
        ],
        Some(&[["org-1", "Field Sales"], ["org-2", "Société Générale"]]),
    );
    let dir = tmp.path().join("tree");
    let r = import(&sheet, &dir, &[]);
    r.code(0)
        .stdout_has("4 rows: 3 users created")
        .stdout_has("ana.lima@example.com (Ana Lima): owner in field-sales (new), admin in societe-generale (new)")
        .stdout_has("is valid");
    let written: Vec<PathBuf> = files(&dir).into_keys().collect();
    assert_eq!(
        written,
        [
            ".gitignore",
            "organizations/field-sales.toml",
            "organizations/societe-generale.toml",
            "tenet.toml",
            "users.toml"
        ]
        .map(PathBuf::from)
    );
    let root = text(&std::fs::read(dir.join("tenet.toml")).expect("tenet.toml"));
    assert!(root.contains("profile = \"magoneai\""), "{root}");
    assert!(
        root.contains("endpoint = \"sandbox:.tenet/platform.db\""),
        "{root}"
    );
    let users = text(&std::fs::read(dir.join("users.toml")).expect("users.toml"));
    assert!(
        users.contains(
            "[users.\"bo.berg@example.com\"]\nname = \"Bo Berg\"\nstatus = \"invited\"\n"
        ),
        "{users}"
    );
    let org = text(&std::fs::read(dir.join("organizations/field-sales.toml")).expect("org"));
    assert_eq!(
        org,
        "# The organisation Field Sales, added by `tenet import users`.\n\n\
         [workspaces.field-sales]\nname = \"Field Sales\"\n\n\
         [workspaces.field-sales.members]\n\"ana.lima@example.com\" = [\"owner\"]\n\"bo.berg@example.com\" = [\"member\"]\n"
    );
    validate(&dir).code(0);
    plan(&dir).code(2).stdout_has("bo.berg@example.com");
}

#[test]
fn a_fresh_tree_in_kdl() {
    let tmp = temp();
    let sheet = tmp.path().join("people.csv");
    std::fs::write(
        &sheet,
        "org_id,email,display_name,role\nops,ana@example.com,Ana,owner\n",
    )
    .expect("write");
    let refs = tmp.path().join("orgs.csv");
    std::fs::write(&refs, "id,name\nops,Operations\n").expect("write");
    let dir = tmp.path().join("tree");
    import(
        &sheet,
        &dir,
        &[
            "--format",
            "kdl",
            "--workspaces",
            refs.to_str().expect("utf-8"),
        ],
    )
    .code(0);
    let org = text(&std::fs::read(dir.join("organizations/operations.kdl")).expect("org"));
    assert_eq!(
        org,
        "// The organisation Operations, added by `tenet import users`.\n\n\
         workspace operations {\n    name \"Operations\"\n    member \"ana@example.com\" owner\n}\n"
    );
    let users = text(&std::fs::read(dir.join("users.kdl")).expect("users"));
    assert!(
        users.contains("user \"ana@example.com\" name=\"Ana\" status=invited\n"),
        "{users}"
    );
    validate(&dir).code(0);
}

/// A copy of `examples/NAME` in a temporary directory.
fn copy_of(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = temp();
    let dir = tmp.path().join(name);
    copy_tree(&example(name), &dir);
    (tmp, dir)
}

/// The rows merged into the Northwind examples: a new user into an
/// organisation named by slug and into one named by the Workspaces sheet,
/// an existing user into another organisation, an existing membership, and
/// a new organisation.
fn northwind_sheet(path: &Path) {
    xlsx(
        path,
        &[
            ["research", "ana.lima@example.com", "Ana Lima", "member", ""],
            ["org-ops", "ana.lima@example.com", "Ana Lima", "admin", ""],
            ["org-ops", "Marcus.Reed@northwind.example", "", "member", ""],
            [
                "research",
                "priya.nair@northwind.example",
                "Priya",
                "admin",
                "",
            ],
            ["org-new", "dan@example.com", "Dan", "owner", ""],
        ],
        Some(&[["org-ops", "Operations"], ["org-new", "Claims & Billing"]]),
    );
}

fn merge_keeps_the_files(example_name: &str, ext: &str) {
    let (tmp, dir) = copy_of(example_name);
    let before = files(&dir);
    let sheet = tmp.path().join("people.xlsx");
    northwind_sheet(&sheet);
    let r = import(&sheet, &dir, &[]);
    r.code(0)
        .stdout_has("5 rows: 2 users created, 1 membership of existing users added, 1 row unchanged, 0 rows refused")
        .stdout_has("row 4: marcus.reed@northwind.example member in operations")
        .stdout_has("row 5: priya.nair@northwind.example admin in research")
        .stdout_has(&format!("organizations/claims-billing.{ext} (new)"));
    let after = files(&dir);
    kept(&before, &after);
    let changed: Vec<String> = after
        .iter()
        .filter(|(p, b)| before.get(*p) != Some(b))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert_eq!(
        changed,
        [
            format!("organizations/claims-billing.{ext}"),
            format!("organizations/operations.{ext}"),
            format!("organizations/research.{ext}"),
            format!("users.{ext}"),
        ]
    );
    let ops = text(&after[&PathBuf::from(format!("organizations/operations.{ext}"))]);
    assert!(ops.contains("marcus.reed@northwind.example"), "{ops}");
    assert!(
        !ops.contains("Marcus.Reed"),
        "the tree's spelling is kept: {ops}"
    );
    validate(&dir).code(0);
    let p = plan(&dir);
    p.code(2)
        .stdout_has("users/ana.lima@example.com")
        .stdout_has("workspaces/claims-billing");

    // A second run of the same sheet changes nothing.
    let r = import(&sheet, &dir, &[]);
    r.code(0)
        .stdout_has("0 users created, 0 memberships of existing users added, 5 rows unchanged, 0 rows refused")
        .stdout_has("Nothing to write");
    assert_eq!(files(&dir), after, "a second run wrote something");
}

#[test]
fn merging_into_the_toml_example_only_adds() {
    merge_keeps_the_files("magoneai", "toml");
}

#[test]
fn merging_into_the_kdl_example_only_adds() {
    merge_keeps_the_files("magoneai-kdl", "kdl");
}

#[test]
fn every_bad_row_is_refused_with_its_reason_and_the_rest_is_written() {
    let (tmp, dir) = copy_of("magoneai");
    let sheet = tmp.path().join("people.xlsx");
    xlsx(
        &sheet,
        &[
            ["research", "good@example.com", "Good", "", ""],
            ["", "blank-org@example.com", "", "", ""],
            ["research", "", "No Email", "", ""],
            ["research", "not-an-email", "", "", ""],
            ["research", "role@example.com", "", "ownr", ""],
            ["research", "good@example.com", "Good", "member", ""],
            ["research", "priya.nair@northwind.example", "", "member", ""],
            ["research", "secret@example.com", "", "", "hunter2"],
            ["org-x", "lost@example.com", "", "", ""],
        ],
        Some(&[["org-1", "Research"]]),
    );
    let r = import(&sheet, &dir, &[]);
    r.code(1)
        .stderr_has("Users!A3 (blank-org@example.com): org_id is blank")
        .stderr_has("Users!B4: email is blank")
        .stderr_has("Users!B5: `not-an-email` is not a valid email address")
        .stderr_has("Users!D6 (role@example.com): unknown role `ownr`")
        .stderr_has("help: did you mean `owner`?")
        .stderr_has("Users!B7 (good@example.com): the same user and organisation as row 2")
        .stderr_has(
            "Users!D8 (priya.nair@northwind.example): already admin in research (organizations/research.toml); change it there",
        )
        .stderr_has("Users!E9 (secret@example.com): a password is set; tenet never stores passwords: leave the column blank, the user gets an invitation")
        .stderr_has("Users!A10 (lost@example.com): unknown organisation ID `org-x`; it is not in the Workspaces sheet and no workspace has that slug")
        .stdout_has("9 rows: 1 user created")
        .stdout_has("8 rows refused")
        .stdout_has("Errors (row, org, email, reason):")
        .stdout_has("  3   -         blank-org@example.com")
        .stdout_lacks("hunter2");
    // The good row is written all the same, and the tree validates.
    let users = text(&std::fs::read(dir.join("users.toml")).expect("users"));
    assert!(users.contains("good@example.com"), "{users}");
    assert!(!users.contains("secret@example.com"), "{users}");
    validate(&dir).code(0);
}

#[test]
fn csv_rows_are_shown_at_their_line_and_column() {
    let (tmp, dir) = copy_of("magoneai");
    let sheet = tmp.path().join("people.csv");
    std::fs::write(
        &sheet,
        "email,org_id,role\nok@example.com,operations,admin\nbad@example.com,operations,boss\n",
    )
    .expect("write");
    let r = import(&sheet, &dir, &[]);
    r.code(1)
        .stderr_has("row 3 (bad@example.com): unknown role `boss`")
        .stderr_has("people.csv:3:28]")
        .stdout_has("ok@example.com: admin in operations");
    let ops = text(&std::fs::read(dir.join("organizations/operations.toml")).expect("ops"));
    assert!(ops.contains("\"ok@example.com\" = [\"admin\"]"), "{ops}");
}

#[test]
fn a_csv_org_id_must_be_a_workspace_slug() {
    let (tmp, dir) = copy_of("magoneai");
    let sheet = tmp.path().join("people.csv");
    std::fs::write(
        &sheet,
        "org_id,email\norg-1,a@example.com\nreserch,b@example.com\n",
    )
    .expect("write");
    import(&sheet, &dir, &[])
        .code(1)
        .stderr_has("unknown organisation ID `org-1`")
        .stderr_has("did you mean `research`?");
}

/// Every output and every file of `dir` lacks the canary.
#[track_caller]
fn no_canary(r: &Run, dir: &Path) {
    assert!(
        !r.all().contains(CANARY),
        "the password is in the output: {}",
        r.show()
    );
    for (path, bytes) in files(dir) {
        assert!(
            !text(&bytes).contains(CANARY),
            "the password is in {}",
            path.display()
        );
    }
}

#[test]
fn a_password_is_never_shown_nor_written() {
    let (tmp, dir) = copy_of("magoneai");
    let sheet = tmp.path().join("people.xlsx");
    xlsx(
        &sheet,
        &[
            ["research", "pw@example.com", "Pat", "member", CANARY],
            ["research", "fine@example.com", "Fine", "", ""],
        ],
        None,
    );
    for args in [&["--dry-run"][..], &[], &["-vv"]] {
        let r = import(&sheet, &dir, args);
        r.code(1).stderr_has("a password is set");
        no_canary(&r, &dir);
    }
    let csv = tmp.path().join("people.csv");
    std::fs::write(
        &csv,
        format!("org_id,email,password\nresearch,pw@example.com,\"{CANARY}\"\nresearch,x@example.com,{CANARY}\n"),
    )
    .expect("write");
    let r = import(&csv, &dir, &[]);
    r.code(1).stderr_has("people.csv:2:");
    no_canary(&r, &dir);
    // Nor in the JSON of a later validate of the tree.
    let mut cmd = tenet();
    cmd.args(["validate", "--format", "json"]).arg(&dir);
    let v = run(cmd);
    assert!(!v.all().contains(CANARY));
}

#[test]
fn a_dry_run_writes_nothing() {
    let (tmp, dir) = copy_of("magoneai");
    let before = files(&dir);
    let sheet = tmp.path().join("people.xlsx");
    northwind_sheet(&sheet);
    import(&sheet, &dir, &["--dry-run"])
        .code(0)
        .stdout_has("Would write organizations/claims-billing.toml (new), organizations/operations.toml, organizations/research.toml, users.toml (--dry-run: nothing was written).")
        .stdout_has("would be valid");
    assert_eq!(files(&dir), before);
    // (`research` is no workspace of an empty tree: that row is refused.)
    let fresh = tmp.path().join("fresh");
    import(&sheet, &fresh, &["--dry-run"]).code(1);
    assert!(!fresh.exists(), "a dry run made the directory");
}

#[test]
fn the_same_sheet_gives_the_same_bytes() {
    let tmp = temp();
    let sheet = tmp.path().join("people.xlsx");
    northwind_sheet(&sheet);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    import(&sheet, &a, &[]);
    import(&sheet, &b, &[]);
    assert!(!files(&a).is_empty());
    assert_eq!(files(&a), files(&b));
}

#[test]
fn what_is_not_a_sheet_is_refused_and_nothing_is_written() {
    let tmp = temp();
    let dir = tmp.path().join("tree");
    let fake = tmp.path().join("people.xlsx");
    std::fs::write(&fake, b"PK\x03\x04 not really a zip").expect("write");
    import(&fake, &dir, &[])
        .code(1)
        .stderr_has("cannot read `")
        .stderr_has("nothing was written");
    let binary = tmp.path().join("old.xls");
    std::fs::write(&binary, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0").expect("write");
    import(&binary, &dir, &[])
        .code(1)
        .stderr_has("not an xlsx spreadsheet or a CSV file");
    let no_columns = tmp.path().join("people.csv");
    std::fs::write(&no_columns, "organisation,mail\nresearch,a@example.com\n").expect("write");
    import(&no_columns, &dir, &[])
        .code(1)
        .stderr_has("the sheet `")
        .stderr_has("has no `org_id` column")
        .stderr_has("has no `email` column");
    assert!(!dir.exists(), "something was written");
    // Into a tree of another profile.
    let (_keep, acme) = copy_of("acme");
    let sheet = tmp.path().join("ok.csv");
    std::fs::write(&sheet, "org_id,email\nfinance,a@example.com\n").expect("write");
    import(&sheet, &acme, &[])
        .code(1)
        .stderr_has("the bulk-import sheet is MagOneAI's");
}

#[test]
fn a_workbook_without_a_users_sheet_is_refused() {
    use rust_xlsxwriter::Workbook;
    let tmp = temp();
    let path = tmp.path().join("book.xlsx");
    let mut book = Workbook::new();
    for name in ["People", "Orgs"] {
        let sheet = book.add_worksheet();
        sheet.set_name(name).expect("sheet name");
        sheet.write_string(0, 0, "org_id").expect("write cell");
    }
    book.save(&path).expect("save workbook");
    import(&path, &tmp.path().join("tree"), &[])
        .code(1)
        .stderr_has("no sheet named `Users` (the sheets are: People, Orgs)");
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_files_written() {
    let (tmp, dir) = copy_of("magoneai");
    let sheet = tmp.path().join("people.xlsx");
    northwind_sheet(&sheet);
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut cmd = tenet();
    cmd.args(["import", "users"])
        .arg(&sheet)
        .arg("--out")
        .arg(&dir)
        .stdout(std::process::Stdio::from(writer));
    let r = run(cmd);
    assert!(!r.stderr.contains("panicked"), "{}", r.show());
    r.code(0);
    let users = text(&std::fs::read(dir.join("users.toml")).expect("users"));
    assert!(users.contains("dan@example.com"), "{users}");
}
