//! The floors `scripts/bench-plan.sh` prints next to `tenet plan`: what the
//! work cannot go below, measured on the same data in the same run.
//!
//! - `floor parse DIR`: parsing every `*.toml` and `*.kdl` file of a config
//!   tree with the parsers tenet uses (`toml`'s spanned `DeTable`, `kdl`),
//!   one file after another, and nothing else (no schema, no model).
//! - `floor rows DB`: reading every row of the platform's tables from its
//!   SQLite file into owned strings, and nothing else.
//! - `floor fetch URL`: a raw paginated fetch of the whole platform over
//!   HTTP (every page of every collection, `TENET_TOKEN` as the bearer),
//!   bodies parsed as JSON only to follow the cursor.
//!
//! Each prints one line, `floor <what>: <ms> ms (<n> items)`, that the
//! script reads. Not a criterion benchmark: a single timed pass, like the
//! `tenet` runs it is compared with.

use std::path::Path;
use std::time::Instant;

fn main() {
    // `cargo bench` passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["parse", dir] => parse(Path::new(dir)),
        ["rows", db] => rows(Path::new(db)),
        ["fetch", url] => fetch(url),
        _ => Err("usage: floor parse DIR | floor rows DB | floor fetch URL".to_owned()),
    };
    match result {
        Ok((what, ms, n)) => println!("floor {what}: {ms} ms ({n} items)"),
        Err(e) => {
            eprintln!("floor: {e}");
            std::process::exit(1);
        }
    }
}

type Figure = Result<(&'static str, u128, usize), String>;

fn parse(dir: &Path) -> Figure {
    let mut files: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_type().is_file()
                && matches!(
                    e.path().extension().and_then(|x| x.to_str()),
                    Some("toml" | "kdl")
                )
        })
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let started = Instant::now();
    let mut items = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        if f.extension().is_some_and(|x| x == "kdl") {
            let doc = kdl::KdlDocument::parse_v2(&text).map_err(|e| format!("{e}"))?;
            items += doc.nodes().len();
        } else {
            let (table, errors) = toml::de::DeTable::parse_recoverable(&text);
            if !errors.is_empty() {
                return Err(format!("{}: not TOML", f.display()));
            }
            items += table.get_ref().len();
        }
    }
    Ok(("parse", started.elapsed().as_millis(), items))
}

fn rows(db: &Path) -> Figure {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut items = 0;
    let queries = [
        "SELECT slug, spec, version FROM workspaces",
        "SELECT email, spec, version FROM users",
        "SELECT id, spec, version FROM roles",
        "SELECT name, spec, version FROM providers",
        "SELECT w.slug, m.user_email, m.spec, m.version FROM memberships m JOIN workspaces w ON w.id = m.workspace_id",
        "SELECT w.slug, a.provider, a.spec, a.version FROM assignments a JOIN workspaces w ON w.id = a.workspace_id",
        "SELECT w.slug, q.spec, q.version FROM quotas q JOIN workspaces w ON w.id = q.workspace_id",
        "SELECT w.slug, u.spec FROM usage u JOIN workspaces w ON w.id = u.workspace_id",
    ];
    for sql in queries {
        let mut stmt = c.prepare(sql).map_err(|e| e.to_string())?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i).map_err(|e| e.to_string())?;
                row.push(v);
            }
            std::hint::black_box(row);
            items += 1;
        }
    }
    Ok(("rows", started.elapsed().as_millis(), items))
}

fn fetch(base: &str) -> Figure {
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = reqwest::Client::new();
        let token = std::env::var("TENET_TOKEN").unwrap_or_default();
        let started = Instant::now();
        // Every collection at once, as a client that reads a platform would;
        // the pages of one collection follow each other's cursor.
        let counts = futures::future::try_join_all(
            [
                "workspaces",
                "users",
                "roles",
                "providers",
                "memberships",
                "assignments",
                "quotas",
                "usage",
            ]
            .map(|collection| fetch_all(&client, &token, base, collection)),
        )
        .await?;
        Ok(("fetch", started.elapsed().as_millis(), counts.iter().sum()))
    })
}

async fn fetch_all(
    client: &reqwest::Client,
    token: &str,
    base: &str,
    collection: &str,
) -> Result<usize, String> {
    let mut items = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/{collection}?limit=1000");
        if let Some(c) = &cursor {
            url.push_str("&cursor=");
            url.extend(url::form_urlencoded::byte_serialize(c.as_bytes()));
        }
        let body = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("{collection}: {e}"))?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        let page: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        items += page["items"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(items),
        }
    }
}
