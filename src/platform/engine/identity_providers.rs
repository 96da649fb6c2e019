//! Single sign-on identity providers (OIDC and SAML), platform-wide or for
//! one workspace, with just-in-time provisioning and IdP group mappings:
//! group -> workspace roles (auto-join) and project roles. The client
//! secret is write-only: only its fingerprint is stored and returned (a
//! public OIDC client, using PKCE, has none). A
//! mapping names existing workspaces, projects and roles; a workspace,
//! project or custom role still mapped cannot be deleted.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::keys::is_slug;
use super::{
    Actor, Cached, Engine, PageRequest, Tx, check_labels, check_text, check_version, json, page,
    parse, patched, take_key, to_u64,
};
use crate::platform::ApiError;
use crate::wire::{
    IdentityProvider, IdentityProviderSpec, KeyFingerprint, Page, RoleScope, SsoProtocol,
};

/// SAML metadata is a document of a few kilobytes; this is generous.
const MAX_METADATA_BYTES: usize = 256 * 1024;

fn resource(name: &str) -> String {
    format!("identity-providers/{name}")
}

type Row = (String, String, Option<String>, i64, String, String);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn object(
    (name, spec, secret, version, created_at, updated_at): Row,
) -> Result<IdentityProvider, ApiError> {
    Ok(IdentityProvider {
        name,
        spec: parse(&spec)?,
        client_secret: secret.map(|fingerprint| KeyFingerprint { fingerprint }),
        version: to_u64(version),
        created_at,
        updated_at,
    })
}

const COLUMNS: &str = "name, spec, secret, version, created_at, updated_at";

fn get(conn: &Connection, name: &str) -> Result<IdentityProvider, ApiError> {
    let r = conn
        .one(
            &format!("SELECT {COLUMNS} FROM identity_providers WHERE name = ?1"),
            params![name],
            row,
        )
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("identity provider `{name}`")))?;
    object(r)
}

fn url(field: &str, v: &Option<String>) -> Result<(), ApiError> {
    check_text(field, v, 2000)?;
    match v {
        Some(u) if !u.starts_with("https://") => Err(ApiError::invalid_value(format!(
            "`{field}` must be an https:// URL"
        ))),
        _ => Ok(()),
    }
}

/// The secret's fingerprint (the contract's, as for provider keys).
fn secret_print(secret: &str) -> Result<String, ApiError> {
    if secret.is_empty() {
        return Err(ApiError::invalid_value("a client secret cannot be empty"));
    }
    Ok(super::providers::fingerprint(secret))
}

fn audit_view(spec: &IdentityProviderSpec, secret: &Option<String>) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(spec)?;
    if let Some(m) = v.as_object_mut() {
        // A digest of the metadata, not the document, in the log.
        if let Some(xml) = &spec.metadata_xml {
            m.insert(
                "metadata_xml".to_owned(),
                Value::String(super::providers::fingerprint(xml)),
            );
        }
        m.insert("client_secret".to_owned(), serde_json::to_value(secret)?);
    }
    Ok(v)
}

impl Tx<'_> {
    fn check_identity_provider(
        &self,
        spec: &IdentityProviderSpec,
        secret: &Option<String>,
    ) -> Result<(), ApiError> {
        check_text("display_name", &spec.display_name, 200)?;
        check_text("client_id", &spec.client_id, 500)?;
        check_labels(&spec.labels)?;
        url("issuer", &spec.issuer)?;
        url("metadata_url", &spec.metadata_url)?;
        match spec.protocol {
            SsoProtocol::Oidc => {
                if spec.issuer.is_none() || spec.client_id.is_none() {
                    return Err(ApiError::invalid_value(
                        "an OIDC identity provider needs `issuer` and `client_id`",
                    ));
                }
                if spec.metadata_url.is_some() || spec.metadata_xml.is_some() {
                    return Err(ApiError::invalid_value(
                        "SAML metadata is for SAML identity providers",
                    ));
                }
            }
            SsoProtocol::Saml => {
                if spec.metadata_url.is_some() == spec.metadata_xml.is_some() {
                    return Err(ApiError::invalid_value(
                        "a SAML identity provider needs one of `metadata_url` and `metadata_xml`",
                    ));
                }
                if spec.issuer.is_some() || spec.client_id.is_some() || secret.is_some() {
                    return Err(ApiError::invalid_value(
                        "`issuer`, `client_id` and `client_secret` are for OIDC identity providers",
                    ));
                }
                if let Some(x) = &spec.metadata_xml
                    && (x.len() > MAX_METADATA_BYTES || !x.trim_start().starts_with('<'))
                {
                    return Err(ApiError::invalid_value(
                        "`metadata_xml` must be an XML document of at most 256 KiB",
                    ));
                }
            }
        }
        let mut scopes = BTreeSet::new();
        for s in &spec.scopes {
            if s.is_empty() || s.len() > 100 || s.contains(char::is_whitespace) {
                return Err(ApiError::invalid_value(
                    "a scope is 1-100 characters without spaces",
                ));
            }
            if !scopes.insert(s) {
                return Err(ApiError::invalid_value(format!(
                    "scope `{s}` is listed twice"
                )));
            }
        }
        if let Some(w) = &spec.workspace {
            self.workspace_id(w).map_err(|_| {
                ApiError::invalid_reference(format!("workspace `{w}` does not exist"))
            })?;
        }
        let mut seen = BTreeSet::new();
        for m in &spec.group_mappings {
            if m.group.is_empty() || m.group.len() > 256 {
                return Err(ApiError::invalid_value("a group name is 1-256 characters"));
            }
            if !seen.insert((&m.group, &m.workspace)) {
                return Err(ApiError::invalid_value(format!(
                    "group `{}` is mapped to workspace `{}` twice",
                    m.group, m.workspace
                )));
            }
            if let Some(w) = &spec.workspace
                && *w != m.workspace
            {
                return Err(ApiError::invalid_reference(format!(
                    "this identity provider serves workspace `{w}` only; group `{}` cannot map to `{}`",
                    m.group, m.workspace
                )));
            }
            let ws = self.workspace_id(&m.workspace).map_err(|_| {
                ApiError::invalid_reference(format!("workspace `{}` does not exist", m.workspace))
            })?;
            if m.roles.is_empty() && m.projects.is_empty() {
                return Err(ApiError::invalid_value(format!(
                    "group `{}` maps to nothing in `{}`: give roles or project roles",
                    m.group, m.workspace
                )));
            }
            for r in &m.roles {
                let project_role = self
                    .catalog
                    .roles
                    .iter()
                    .any(|b| b.id == *r && b.scope == RoleScope::Project);
                if project_role || !super::roles::exists(self.tx, self.catalog, r)? {
                    return Err(ApiError::invalid_reference(format!(
                        "workspace role `{r}` does not exist"
                    )));
                }
            }
            for (p, roles) in &m.projects {
                let found: Option<i64> = self
                    .tx
                    .one(
                        "SELECT 1 FROM projects WHERE workspace_id = ?1 AND slug = ?2",
                        params![ws, p],
                        |r| r.get(0),
                    )
                    .optional()?;
                if found.is_none() {
                    return Err(ApiError::invalid_reference(format!(
                        "project `{p}` does not exist in workspace `{}`",
                        m.workspace
                    )));
                }
                if roles.is_empty() {
                    return Err(ApiError::invalid_value(format!(
                        "project `{p}` of group `{}` needs at least one role",
                        m.group
                    )));
                }
                for r in roles {
                    if !self
                        .catalog
                        .roles
                        .iter()
                        .any(|b| b.id == *r && b.scope == RoleScope::Project)
                    {
                        return Err(ApiError::invalid_reference(format!(
                            "project role `{r}` does not exist"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Refuses to delete what a group mapping still names: `what` reads
    /// "workspace `x`", and `named` says whether a mapping names it.
    pub(crate) fn guard_mapped(
        &self,
        what: &str,
        named: impl Fn(&crate::wire::GroupMapping) -> bool,
    ) -> Result<(), ApiError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT name, spec FROM identity_providers ORDER BY name")?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (name, spec) in rows {
            let spec: IdentityProviderSpec = parse(&spec)?;
            if spec.group_mappings.iter().any(&named) {
                return Err(ApiError::conflict(
                    "identity-provider-in-use",
                    format!(
                        "{what} is named by a group mapping of identity provider `{name}`; change the mapping first"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Engine {
    pub fn list_identity_providers(
        &self,
        req: &PageRequest,
    ) -> Result<Page<IdentityProvider>, ApiError> {
        let after = req.after()?;
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM identity_providers WHERE name > ?1 ORDER BY name LIMIT ?2"
            ))?;
            let mut items = Vec::new();
            for r in stmt.query_map(params![after, (req.limit + 1) as i64], row)? {
                let p = object(r?)?;
                items.push((p.name.clone(), p));
            }
            Ok(page(items, req.limit))
        })
    }

    pub fn get_identity_provider(&self, name: &str) -> Result<IdentityProvider, ApiError> {
        self.read(|c| get(c, name))
    }

    /// Creates an identity provider; `client_secret` is a secret value,
    /// kept only as its fingerprint.
    pub fn create_identity_provider(
        &self,
        actor: &Actor,
        name: &str,
        spec: IdentityProviderSpec,
        client_secret: Option<&str>,
    ) -> Result<IdentityProvider, ApiError> {
        if !is_slug(name) {
            return Err(ApiError::invalid_value(format!(
                "`{name}` is not a valid identity provider name: 1-63 lower-case letters, digits and hyphens"
            )));
        }
        let secret = client_secret.map(secret_print).transpose()?;
        self.write(actor, |t| {
            if get(t.tx, name).is_ok() {
                return Err(ApiError::already_exists(format!("identity provider `{name}`")));
            }
            t.check_identity_provider(&spec, &secret)?;
            t.tx.run(
                "INSERT INTO identity_providers (name, spec, secret, version, created_at, updated_at) VALUES (?1, ?2, ?3, 1, ?4, ?4)",
                params![name, json(&spec)?, secret, t.now.text],
            )?;
            t.audit("create", &resource(name), 1, &Value::Null, &audit_view(&spec, &secret)?)?;
            get(t.tx, name)
        })
    }

    /// Applies a merge patch; a `client_secret` in the patch (a secret
    /// value) replaces the stored one.
    pub fn update_identity_provider(
        &self,
        actor: &Actor,
        name: &str,
        if_match: Option<u64>,
        patch: &Value,
    ) -> Result<IdentityProvider, ApiError> {
        let (new_name, mut patch) = take_key(patch, "name", "identity provider name")?;
        if new_name.as_deref().is_some_and(|n| n != name) {
            return Err(ApiError::invalid_value(
                "an identity provider cannot be renamed: its name is in the IdP's redirect URI",
            ));
        }
        let new_secret = match patch
            .as_object_mut()
            .and_then(|m| m.remove("client_secret"))
        {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(secret_print(&s)?)),
            Some(_) => {
                return Err(ApiError::invalid_body("`client_secret` must be a string"));
            }
        };
        self.write(actor, |t| {
            let current = get(t.tx, name)?;
            check_version(&format!("identity provider `{name}`"), if_match, current.version)?;
            let spec: IdentityProviderSpec = patched(&current.spec, &patch)?;
            let old = current.client_secret.map(|k| k.fingerprint);
            let secret = new_secret.clone().unwrap_or_else(|| old.clone());
            t.check_identity_provider(&spec, &secret)?;
            let version = current.version + 1;
            t.tx.run(
                "UPDATE identity_providers SET spec = ?1, secret = ?2, version = ?3, updated_at = ?4 WHERE name = ?5",
                params![json(&spec)?, secret, version as i64, t.now.text, name],
            )?;
            t.audit(
                "update",
                &resource(name),
                version,
                &audit_view(&current.spec, &old)?,
                &audit_view(&spec, &secret)?,
            )?;
            get(t.tx, name)
        })
    }

    pub fn delete_identity_provider(
        &self,
        actor: &Actor,
        name: &str,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        self.write(actor, |t| {
            let current = get(t.tx, name)?;
            check_version(
                &format!("identity provider `{name}`"),
                if_match,
                current.version,
            )?;
            t.tx.run(
                "DELETE FROM identity_providers WHERE name = ?1",
                params![name],
            )?;
            let old = current.client_secret.map(|k| k.fingerprint);
            t.audit(
                "delete",
                &resource(name),
                0,
                &audit_view(&current.spec, &old)?,
                &Value::Null,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wire::{GroupMapping, Profile};

    fn actor() -> Actor {
        Actor::local()
    }

    fn oidc() -> IdentityProviderSpec {
        serde_json::from_value(json!({
            "protocol": "oidc",
            "issuer": "https://login.example/v2.0",
            "client_id": "tenet",
            "scopes": ["openid", "email"],
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn secrets_are_kept_as_fingerprints_and_mappings_name_what_exists() {
        let e = Engine::open_in_memory(Profile::Magoneai).unwrap_or_else(|e| panic!("{e}"));
        let a = actor();
        // OIDC needs an issuer (a public client needs no secret).
        let mut bare = oidc();
        bare.issuer = None;
        assert!(
            e.create_identity_provider(&a, "entra", bare, Some("s3cret"))
                .is_err()
        );
        let mut spec = oidc();
        spec.group_mappings.push(GroupMapping {
            group: "research".to_owned(),
            workspace: "research".to_owned(),
            roles: vec!["member".to_owned()],
            projects: Default::default(),
        });
        // The workspace does not exist yet.
        let err = e
            .create_identity_provider(&a, "entra", spec.clone(), Some("s3cret"))
            .err()
            .unwrap_or_else(|| panic!("a mapping to a missing workspace was accepted"));
        assert!(err.to_string().contains("research"), "{err}");
        e.create_workspace(
            &a,
            "research",
            serde_json::from_value(json!({})).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let idp = e
            .create_identity_provider(&a, "entra", spec, Some("s3cret"))
            .unwrap_or_else(|e| panic!("{e}"));
        let print = idp.client_secret.map(|k| k.fingerprint).unwrap_or_default();
        assert!(print.starts_with("sha256:") && !print.contains("s3cret"));
        // A mapped workspace cannot go.
        let err = e
            .delete_workspace(&a, "research", None)
            .err()
            .unwrap_or_else(|| panic!("a mapped workspace was deleted"));
        assert!(err.to_string().contains("entra"), "{err}");
        // A project role is no workspace role.
        let patch = json!({"group_mappings": [{"group": "g", "workspace": "research", "roles": ["builder"]}]});
        assert!(
            e.update_identity_provider(&a, "entra", None, &patch)
                .is_err()
        );
        let patch = json!({"group_mappings": [], "client_secret": "other"});
        let idp = e
            .update_identity_provider(&a, "entra", Some(1), &patch)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(idp.client_secret.map(|k| k.fingerprint), Some(print));
        e.delete_workspace(&a, "research", None)
            .unwrap_or_else(|e| panic!("{e}"));
        e.delete_identity_provider(&a, "entra", Some(2))
            .unwrap_or_else(|e| panic!("{e}"));
        let log = serde_json::to_string(
            &e.list_audit(&Default::default(), &Default::default())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_default();
        assert!(
            !log.contains("s3cret") && !log.contains("\"other\""),
            "a secret in the audit log"
        );
    }
}
