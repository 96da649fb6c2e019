//! A small client for the admin API of Open WebUI 0.12.4: users, groups and
//! their members, model access grants, the OpenAI connections, the admin
//! (security) config and the default permissions. It speaks the wire shapes
//! described in `shared/openwebui-api.md` and nothing more: it keeps no
//! state, decides nothing and retries nothing, so the caller (the target
//! adapter) chooses what to retry from [`OwuiErrorKind`]. Open WebUI answers
//! most failures with a 400 and a `detail` text, even "not found" for users;
//! the client maps the known texts to [`OwuiErrorKind::NotFound`] and
//! [`OwuiErrorKind::Conflict`]. The bearer token and the OpenAI API keys
//! never appear in an error message or in `Debug` output: they are scrubbed
//! from every message and redacted by hand-written `Debug` impls. The module
//! uses reqwest, serde, serde_json and getrandom only; its methods are async,
//! for a tokio runtime.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Open WebUI's `ERROR_MESSAGES.NOT_FOUND` and `USER_NOT_FOUND` (the same
/// text), sent with a 400 by most user routes.
const DETAIL_NOT_FOUND: &str = "We could not find what you're looking for :/";
/// Other not-found texts of 0.12.4 (`GroupHierarchyError`, session revoke).
const DETAILS_NOT_FOUND: &[&str] = &[DETAIL_NOT_FOUND, "Group not found.", "User not found."];
/// `ERROR_MESSAGES.ACCESS_PROHIBITED`, sent with a 400 by some routes (for
/// example a model access update without write access).
const DETAIL_ACCESS_PROHIBITED: &str = "You do not have permission to access this resource.";
/// The longest body text kept in a message when the answer is not JSON.
const MAX_BODY_IN_MESSAGE: usize = 300;

/// What went wrong, coarsely, for the caller to decide about retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwuiErrorKind {
    /// 404, or a 400 whose `detail` is one of the known not-found texts.
    NotFound,
    /// 409, or a 400 saying the email (or id) is already registered.
    Conflict,
    /// 401: the token is missing, invalid, expired or revoked.
    Unauthorized,
    /// 403, or a 400/401 "You do not have permission…": the token is valid
    /// but not allowed, for example a non-admin's, an API key while API keys
    /// are disabled, touching the primary admin, or self-deletion.
    Forbidden,
    /// 429 (Open WebUI limits sign-in only).
    RateLimited { retry_after: Option<Duration> },
    /// The server could not be reached, timed out, answered 5xx, or answered
    /// something that is not the expected shape.
    Unavailable,
    /// Any other 4xx; the message is the server's `detail`.
    Rejected,
}

/// An error from [`OwuiClient`]. The message never holds the token or an
/// OpenAI API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwuiError {
    pub kind: OwuiErrorKind,
    pub message: String,
}

impl OwuiError {
    fn new(kind: OwuiErrorKind, message: impl Into<String>) -> OwuiError {
        OwuiError {
            kind,
            message: message.into(),
        }
    }

    /// Whether the error says the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == OwuiErrorKind::NotFound
    }
}

impl fmt::Display for OwuiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OwuiError {}

/// A user as listed by `GET /api/v1/users/all` (other fields are ignored).
/// `email` is stored lower-cased by Open WebUI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwuiUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
}

/// The fields of `POST /api/v1/users/{id}/update` that tenet changes. Only
/// the fields that are `Some` are sent, and only those change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A group (`GroupResponse`). `permissions` and `data` are free JSON, `Null`
/// when the server has none.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OwuiGroup {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub permissions: Value,
    #[serde(default)]
    pub data: Value,
    #[serde(default)]
    pub member_count: Option<u64>,
}

/// One access grant on a model: `principal_type` is `group`, `user` or
/// `anyone` (with `principal_id` `*`), `permission` is `read` or `write`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    pub principal_type: String,
    pub principal_id: String,
    pub permission: String,
}

/// A model's DB row as far as access goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelAccess {
    pub id: String,
    pub name: Option<String>,
    pub grants: Vec<Grant>,
}

/// The OpenAI connections (`/openai/config`): parallel lists of base URLs
/// and keys, and per-connection configs keyed by the index as a string.
/// `Debug` shows the number of keys, never the keys.
#[derive(Clone, PartialEq, Default)]
pub struct OpenAiConfig {
    pub enable: bool,
    pub base_urls: Vec<String>,
    pub keys: Vec<String>,
    pub configs: Map<String, Value>,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("enable", &self.enable)
            .field("base_urls", &self.base_urls)
            .field("keys", &Redacted(self.keys.len()))
            .field("configs", &self.configs)
            .finish()
    }
}

/// Prints `<N redacted>` in place of secrets.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} redacted>", self.0)
    }
}

impl OpenAiConfig {
    fn to_wire(&self) -> Value {
        json!({
            "ENABLE_OPENAI_API": self.enable,
            "OPENAI_API_BASE_URLS": self.base_urls,
            "OPENAI_API_KEYS": self.keys,
            "OPENAI_API_CONFIGS": self.configs,
        })
    }

    /// Parses `GET /openai/config` by hand: a serde error would quote the
    /// offending value, which may be a key.
    fn from_wire(v: &Value) -> Result<OpenAiConfig, String> {
        let obj = v.as_object().ok_or("the OpenAI config is not an object")?;
        let strings = |field: &str| -> Result<Vec<String>, String> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| match s {
                        Value::String(s) => Ok(s.clone()),
                        Value::Null => Ok(String::new()),
                        _ => Err(format!("{field}[{i}] is not a string")),
                    })
                    .collect(),
                Some(_) => Err(format!("{field} is not a list")),
            }
        };
        let enable = match obj.get("ENABLE_OPENAI_API") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("ENABLE_OPENAI_API is not a boolean".into()),
        };
        let configs = match obj.get("OPENAI_API_CONFIGS") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err("OPENAI_API_CONFIGS is not an object".into()),
        };
        Ok(OpenAiConfig {
            enable,
            base_urls: strings("OPENAI_API_BASE_URLS")?,
            keys: strings("OPENAI_API_KEYS")?,
            configs,
        })
    }
}

/// A client for one Open WebUI instance, authenticated as an admin by a JWT
/// or an `sk-` API key. `Debug` never shows the token.
#[derive(Clone)]
pub struct OwuiClient {
    base: Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl fmt::Debug for OwuiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwuiClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| Redacted(1)))
            .finish()
    }
}

impl OwuiClient {
    /// A client for the instance at `base` (for example
    /// `http://127.0.0.1:8080`, a path prefix is kept).
    pub fn new(base: &str, token: Option<String>) -> Result<OwuiClient, OwuiError> {
        let base = Url::parse(base.trim_end_matches('/')).map_err(|e| {
            OwuiError::new(
                OwuiErrorKind::Rejected,
                format!("invalid Open WebUI URL: {e}"),
            )
        })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(OwuiError::new(
                OwuiErrorKind::Rejected,
                "invalid Open WebUI URL: it must be http(s)://host[:port][/path]",
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tenet/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                OwuiError::new(
                    OwuiErrorKind::Unavailable,
                    format!("cannot build the HTTP client: {}", chain(&e)),
                )
            })?;
        Ok(OwuiClient { base, http, token })
    }

    // ---- users ----

    /// Every user, in one call (`GET /api/v1/users/all`).
    pub async fn list_users(&self) -> Result<Vec<OwuiUser>, OwuiError> {
        let v = self.get(&["api", "v1", "users", "all"], &[]).await?;
        parse_field(v, "users", "GET /api/v1/users/all")
    }

    /// One user, `None` if there is none with this id.
    pub async fn get_user(&self, id: &str) -> Result<Option<OwuiUser>, OwuiError> {
        match self.get(&["api", "v1", "users", id], &[]).await {
            Ok(v) => parse(v, "GET /api/v1/users/{id}").map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a user (`POST /api/v1/auths/add`). Open WebUI lower-cases the
    /// email; a taken email (in any case) is a `Conflict`. `password` must be
    /// at most 72 bytes (bcrypt); use [`random_password`].
    pub async fn add_user(
        &self,
        name: &str,
        email: &str,
        password: &str,
        role: &str,
    ) -> Result<OwuiUser, OwuiError> {
        let body = json!({"name": name, "email": email, "password": password, "role": role});
        let mut v = self
            .send(
                Method::POST,
                &["api", "v1", "auths", "add"],
                &[],
                Some(&body),
                &[password],
            )
            .await?;
        // The answer carries a session token of the new user: drop it at once.
        if let Some(o) = v.as_object_mut() {
            o.remove("token");
        }
        parse(v, "POST /api/v1/auths/add")
    }

    /// Changes the fields of `update` that are `Some`
    /// (`POST /api/v1/users/{id}/update`). A taken email is a `Conflict`; the
    /// primary admin is `Forbidden` to others, and to itself for a role change.
    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<OwuiUser, OwuiError> {
        let body = serde_json::to_value(update).map_err(|e| {
            OwuiError::new(
                OwuiErrorKind::Rejected,
                format!("cannot encode the user update: {e}"),
            )
        })?;
        let v = self
            .post(&["api", "v1", "users", id, "update"], &body)
            .await?;
        if v.is_null() {
            return Err(not_found(format!("user {id}")));
        }
        parse(v, "POST /api/v1/users/{id}/update")
    }

    /// Deletes a user and its auth row (`DELETE /api/v1/users/{id}`). The
    /// server answers `true` for an unknown id too, so this is idempotent.
    pub async fn delete_user(&self, id: &str) -> Result<(), OwuiError> {
        let v = self.delete(&["api", "v1", "users", id]).await?;
        expect_true(v, "DELETE /api/v1/users/{id}")
    }

    // ---- groups ----

    /// Every group, with `member_count` (`GET /api/v1/groups/`).
    pub async fn list_groups(&self) -> Result<Vec<OwuiGroup>, OwuiError> {
        let v = self.get(&["api", "v1", "groups", ""], &[]).await?;
        parse(v, "GET /api/v1/groups/")
    }

    /// The ids of the direct members (`GET /api/v1/groups/id/{id}/export`).
    pub async fn group_members(&self, id: &str) -> Result<Vec<String>, OwuiError> {
        let v = self
            .get(&["api", "v1", "groups", "id", id, "export"], &[])
            .await?;
        if v.is_null() {
            return Err(not_found(format!("group {id}")));
        }
        parse_field(v, "user_ids", "GET /api/v1/groups/id/{id}/export")
    }

    /// Creates a group. `permissions` and `data` may be `Value::Null` for
    /// none. The server adds `data.config.share = "members"`.
    pub async fn create_group(
        &self,
        name: &str,
        description: &str,
        permissions: &Value,
        data: &Value,
    ) -> Result<OwuiGroup, OwuiError> {
        let body = json!({"name": name, "description": description,
            "permissions": permissions, "data": data});
        let v = self.post(&["api", "v1", "groups", "create"], &body).await?;
        parse(v, "POST /api/v1/groups/create")
    }

    /// Updates a group. `permissions` replaces the old ones; `data` is
    /// shallow-merged into the old data by the server (a key cannot be
    /// removed, only set to null). `Value::Null` leaves either unchanged.
    /// The parent group is never sent, so it stays as it is.
    pub async fn update_group(
        &self,
        id: &str,
        name: &str,
        description: &str,
        permissions: &Value,
        data: &Value,
    ) -> Result<OwuiGroup, OwuiError> {
        let body = json!({"name": name, "description": description,
            "permissions": permissions, "data": data});
        let v = self
            .post(&["api", "v1", "groups", "id", id, "update"], &body)
            .await?;
        parse(v, "POST /api/v1/groups/id/{id}/update")
    }

    /// Adds members (idempotent; unknown user ids are silently dropped by the
    /// server).
    pub async fn add_group_users(
        &self,
        id: &str,
        user_ids: &[String],
    ) -> Result<OwuiGroup, OwuiError> {
        let body = json!({ "user_ids": user_ids });
        let path = ["api", "v1", "groups", "id", id, "users", "add"];
        let v = self.post(&path, &body).await?;
        parse(v, "POST /api/v1/groups/id/{id}/users/add")
    }

    /// Removes members.
    pub async fn remove_group_users(
        &self,
        id: &str,
        user_ids: &[String],
    ) -> Result<OwuiGroup, OwuiError> {
        let body = json!({ "user_ids": user_ids });
        let path = ["api", "v1", "groups", "id", id, "users", "remove"];
        let v = self.post(&path, &body).await?;
        parse(v, "POST /api/v1/groups/id/{id}/users/remove")
    }

    /// Deletes a group; its memberships and the grants to it go with it.
    pub async fn delete_group(&self, id: &str) -> Result<(), OwuiError> {
        let path = ["api", "v1", "groups", "id", id, "delete"];
        let v = self.delete(&path).await?;
        expect_true(v, "DELETE /api/v1/groups/id/{id}/delete")
    }

    // ---- models ----

    /// The grants of a model, `None` while the model has no DB row (nobody
    /// granted or edited it yet, so only admins see it).
    pub async fn get_model_access(&self, model_id: &str) -> Result<Option<ModelAccess>, OwuiError> {
        match self
            .get(&["api", "v1", "models", "model"], &[("id", model_id)])
            .await
        {
            Ok(Value::Null) => Ok(None),
            Ok(v) => parse_model_access(v, "GET /api/v1/models/model").map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the whole grant list of a model, creating its DB row if it
    /// has none. The server silently drops invalid grants, so the answer
    /// (the grants as stored) may hold fewer than were sent.
    pub async fn set_model_access(
        &self,
        model_id: &str,
        name: Option<&str>,
        grants: &[Grant],
    ) -> Result<ModelAccess, OwuiError> {
        let body = json!({"id": model_id, "name": name, "access_grants": grants});
        let path = ["api", "v1", "models", "model", "access", "update"];
        let v = self.post(&path, &body).await?;
        if v.is_null() {
            return Err(not_found(format!("model {model_id}")));
        }
        parse_model_access(v, "POST /api/v1/models/model/access/update")
    }

    // ---- OpenAI connections ----

    /// The OpenAI connections, keys in clear (never print them).
    pub async fn openai_config(&self) -> Result<OpenAiConfig, OwuiError> {
        let v = self.get(&["openai", "config"], &[]).await?;
        OpenAiConfig::from_wire(&v).map_err(|e| unexpected("GET /openai/config", &e))
    }

    /// Replaces every OpenAI connection. The server pads or truncates the
    /// keys to the number of URLs and drops configs whose index is out of
    /// range; the answer is the config as stored. `ENABLE_OPENAI_API` is
    /// always sent (the server would store `null` if it were left out).
    pub async fn set_openai_config(
        &self,
        config: &OpenAiConfig,
    ) -> Result<OpenAiConfig, OwuiError> {
        let body = config.to_wire();
        let keys: Vec<&str> = config.keys.iter().map(String::as_str).collect();
        let v = self
            .send(
                Method::POST,
                &["openai", "config", "update"],
                &[],
                Some(&body),
                &keys,
            )
            .await?;
        OpenAiConfig::from_wire(&v).map_err(|e| unexpected("POST /openai/config/update", &e))
    }

    /// The email of the account the token belongs to (`GET /api/v1/auths/`,
    /// the session user).
    pub async fn session_email(&self) -> Result<String, OwuiError> {
        let v = self.get(&["api", "v1", "auths", ""], &[]).await?;
        v.get("email")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| unexpected("GET /api/v1/auths/", "no email in the session user"))
    }

    // ---- settings ----

    /// The admin config (`GET /api/v1/auths/admin/config`), for
    /// read-modify-write with [`OwuiClient::set_admin_config`].
    pub async fn admin_config(&self) -> Result<Map<String, Value>, OwuiError> {
        let v = self
            .get(&["api", "v1", "auths", "admin", "config"], &[])
            .await?;
        as_object(v, "GET /api/v1/auths/admin/config")
    }

    /// Writes the admin config. It must be the full object as read (the
    /// server requires most fields). Some invalid values are silently
    /// ignored by the server (`DEFAULT_USER_ROLE` outside
    /// pending/user/admin, a malformed `JWT_EXPIRES_IN`), so compare the
    /// answer, which is the config as stored, with what was sent. The
    /// answer's extra `sessions_revoked` flag is removed.
    ///
    /// The MFA keys (`ENABLE_MFA`, `MFA_ALLOW_OAUTH_BYPASS`,
    /// `MFA_ALLOW_TRUSTED_HEADER_BYPASS`) are special: with an `sk-` API key
    /// as the token, sending any of them, even unchanged, is `Forbidden`
    /// ("A human administrator session is required…"), so leave them out of
    /// the map (absent ones keep their value). And a real change of any of
    /// them revokes every session, this client's JWT included: the next call
    /// is `Unauthorized`.
    pub async fn set_admin_config(
        &self,
        config: &Map<String, Value>,
    ) -> Result<Map<String, Value>, OwuiError> {
        let body = Value::Object(config.clone());
        let path = ["api", "v1", "auths", "admin", "config"];
        let v = self.post(&path, &body).await?;
        let mut m = as_object(v, "POST /api/v1/auths/admin/config")?;
        m.remove("sessions_revoked");
        Ok(m)
    }

    /// The default user permissions in force (`family -> key -> bool`).
    pub async fn default_permissions(&self) -> Result<Map<String, Value>, OwuiError> {
        let path = ["api", "v1", "users", "default", "permissions"];
        let v = self.get(&path, &[]).await?;
        as_object(v, "GET /api/v1/users/default/permissions")
    }

    /// The ids of the models (with a DB row) that a user can read, by their
    /// own rows and by grants, as the admin preview shows
    /// (`GET /api/v1/users/{id}/preview`). It ignores the role: an admin
    /// sees every model in `/api/models` regardless, and a `pending` user
    /// none. An unknown user is `NotFound`.
    pub async fn user_visible_models(&self, user_id: &str) -> Result<Vec<String>, OwuiError> {
        let v = self
            .get(&["api", "v1", "users", user_id, "preview"], &[])
            .await?;
        parse_preview_models(&v).map_err(|e| unexpected("GET /api/v1/users/{id}/preview", &e))
    }

    // ---- plumbing ----

    async fn get(&self, path: &[&str], query: &[(&str, &str)]) -> Result<Value, OwuiError> {
        self.send(Method::GET, path, query, None, &[]).await
    }

    async fn post(&self, path: &[&str], body: &Value) -> Result<Value, OwuiError> {
        self.send(Method::POST, path, &[], Some(body), &[]).await
    }

    async fn delete(&self, path: &[&str]) -> Result<Value, OwuiError> {
        self.send(Method::DELETE, path, &[], None, &[]).await
    }

    /// Sends one request and returns the JSON answer (`Null` for an empty
    /// body). `secrets` are scrubbed from any error message, besides the
    /// token.
    async fn send(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        secrets: &[&str],
    ) -> Result<Value, OwuiError> {
        let url = self.url(path, query);
        let what = format!("{method} {}", url.path());
        let mut req = self.http.request(method, url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let result = async {
            let resp = req.send().await.map_err(|e| {
                OwuiError::new(
                    OwuiErrorKind::Unavailable,
                    format!(
                        "{what}: Open WebUI is unreachable: {}",
                        chain(&e.without_url())
                    ),
                )
            })?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let text = resp.text().await.map_err(|e| {
                OwuiError::new(
                    OwuiErrorKind::Unavailable,
                    format!(
                        "{what}: the answer was cut off: {}",
                        chain(&e.without_url())
                    ),
                )
            })?;
            if !status.is_success() {
                return Err(error_from_response(&what, status, &headers, &text));
            }
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(&text).map_err(|_| {
                unexpected(
                    &what,
                    &format!("not JSON ({})", clip(&text, MAX_BODY_IN_MESSAGE)),
                )
            })
        }
        .await;
        result.map_err(|mut e| {
            let mut all: Vec<&str> = secrets.to_vec();
            if let Some(t) = &self.token {
                all.push(t);
            }
            e.message = scrub(&e.message, &all);
            e
        })
    }

    fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().extend(path);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }
}

/// A password for users that tenet creates: 48 characters from the OS
/// random source, with at least one lower-case letter, upper-case letter,
/// digit and symbol, so it passes Open WebUI's optional password validation
/// and stays under bcrypt's 72 bytes. Never log it.
pub fn random_password() -> Result<String, OwuiError> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.";
    for _ in 0..100 {
        let mut buf = [0u8; 48];
        getrandom::fill(&mut buf).map_err(|e| {
            OwuiError::new(
                OwuiErrorKind::Unavailable,
                format!("the OS random source failed: {e}"),
            )
        })?;
        let pw: String = buf
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 63)]))
            .collect();
        if has_every_class(&pw) {
            return Ok(pw);
        }
    }
    Err(OwuiError::new(
        OwuiErrorKind::Unavailable,
        "the OS random source gave no usable password in 100 tries",
    ))
}

fn has_every_class(pw: &str) -> bool {
    pw.chars().any(|c| c.is_ascii_lowercase())
        && pw.chars().any(|c| c.is_ascii_uppercase())
        && pw.chars().any(|c| c.is_ascii_digit())
        && pw.chars().any(|c| !c.is_ascii_alphanumeric())
}

/// Maps a non-2xx answer to an error. Open WebUI's errors are
/// `{"detail": "..."}`, or FastAPI's validation list
/// `{"detail": [{"loc": [...], "msg": "..."}]}` (whose `input` is left out:
/// it echoes the request, secrets included).
fn error_from_response(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> OwuiError {
    let detail = detail_of(body);
    let kind = match status.as_u16() {
        // A valid token of a non-admin on an admin route is a 401 too.
        401 if detail.starts_with(DETAIL_ACCESS_PROHIBITED) => OwuiErrorKind::Forbidden,
        401 => OwuiErrorKind::Unauthorized,
        403 => OwuiErrorKind::Forbidden,
        404 => OwuiErrorKind::NotFound,
        409 => OwuiErrorKind::Conflict,
        429 => OwuiErrorKind::RateLimited {
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        500..=599 => OwuiErrorKind::Unavailable,
        _ => kind_of_detail(&detail),
    };
    let detail = if detail.is_empty() {
        status.canonical_reason().unwrap_or("no detail").to_owned()
    } else {
        detail
    };
    OwuiError::new(kind, format!("{what}: HTTP {}: {detail}", status.as_u16()))
}

/// The kind of a 400 (or other plain 4xx) from its `detail`.
fn kind_of_detail(detail: &str) -> OwuiErrorKind {
    if DETAILS_NOT_FOUND.contains(&detail) {
        OwuiErrorKind::NotFound
    } else if detail.contains("is already registered") {
        OwuiErrorKind::Conflict
    } else if detail.starts_with(DETAIL_ACCESS_PROHIBITED) {
        OwuiErrorKind::Forbidden
    } else {
        OwuiErrorKind::Rejected
    }
}

fn detail_of(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return clip(body.trim(), MAX_BODY_IN_MESSAGE);
    };
    match v.get("detail") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let loc = item
                    .get("loc")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .map(|p| match p {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .unwrap_or_default();
                let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                if loc.is_empty() {
                    msg.to_owned()
                } else {
                    format!("{loc}: {msg}")
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        Some(other) => clip(&other.to_string(), MAX_BODY_IN_MESSAGE),
        None => clip(&v.to_string(), MAX_BODY_IN_MESSAGE),
    }
}

/// Replaces every occurrence of a (non-trivial) secret by `<redacted>`.
fn scrub(message: &str, secrets: &[&str]) -> String {
    let mut out = message.to_owned();
    for s in secrets {
        if s.len() >= 4 {
            out = out.replace(s, "<redacted>");
        }
    }
    out
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The error and its sources, joined: reqwest's own text ("error sending
/// request") hides the cause.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = s.source();
    }
    out
}

fn unexpected(what: &str, why: &str) -> OwuiError {
    OwuiError::new(
        OwuiErrorKind::Unavailable,
        format!("{what}: unexpected answer: {why}"),
    )
}

fn not_found(what: String) -> OwuiError {
    OwuiError::new(OwuiErrorKind::NotFound, format!("{what} not found"))
}

fn parse<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T, OwuiError> {
    serde_json::from_value(v).map_err(|e| unexpected(what, &e.to_string()))
}

fn parse_field<T: serde::de::DeserializeOwned>(
    mut v: Value,
    field: &str,
    what: &str,
) -> Result<T, OwuiError> {
    match v.get_mut(field) {
        Some(f) => parse(f.take(), what),
        None => Err(unexpected(what, &format!("no `{field}`"))),
    }
}

fn as_object(v: Value, what: &str) -> Result<Map<String, Value>, OwuiError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(unexpected(what, "not an object")),
    }
}

fn expect_true(v: Value, what: &str) -> Result<(), OwuiError> {
    match v {
        Value::Bool(true) => Ok(()),
        other => Err(unexpected(what, &format!("{other} instead of true"))),
    }
}

fn parse_model_access(v: Value, what: &str) -> Result<ModelAccess, OwuiError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        access_grants: Vec<Grant>,
    }
    let row: Row = parse(v, what)?;
    Ok(ModelAccess {
        id: row.id,
        name: row.name,
        grants: row.access_grants,
    })
}

fn parse_preview_models(v: &Value) -> Result<Vec<String>, String> {
    let items = v
        .get("models")
        .and_then(|m| m.get("items"))
        .and_then(Value::as_array)
        .ok_or("no models.items")?;
    items
        .iter()
        .map(|item| {
            item.get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| "a model without an id".to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> OwuiError {
        let status = StatusCode::from_u16(status).expect("a valid status in the test");
        error_from_response("GET /x", status, &HeaderMap::new(), body)
    }

    #[test]
    fn user_not_found_is_a_400_with_a_known_detail() {
        let e = err(
            400,
            r#"{"detail":"We could not find what you're looking for :/"}"#,
        );
        assert_eq!(e.kind, OwuiErrorKind::NotFound);
        assert!(e.message.contains("HTTP 400"), "{}", e.message);
        assert_eq!(
            err(404, r#"{"detail":"Group not found."}"#).kind,
            OwuiErrorKind::NotFound
        );
        assert_eq!(
            err(404, r#"{"detail":"Not Found"}"#).kind,
            OwuiErrorKind::NotFound
        );
    }

    #[test]
    fn taken_email_is_a_conflict() {
        let e = err(
            400,
            r#"{"detail":"Uh-oh! This email is already registered. Sign in with your existing account or choose another email to start anew."}"#,
        );
        assert_eq!(e.kind, OwuiErrorKind::Conflict);
        assert!(e.message.contains("already registered"));
    }

    #[test]
    fn other_statuses() {
        assert_eq!(
            err(401, r#"{"detail":"401 Unauthorized"}"#).kind,
            OwuiErrorKind::Unauthorized
        );
        let prohibited =
            r#"{"detail":"The requested action has been restricted as a security measure."}"#;
        assert_eq!(err(403, prohibited).kind, OwuiErrorKind::Forbidden);
        let no_access = r#"{"detail":"You do not have permission to access this resource. Please contact your administrator for assistance."}"#;
        assert_eq!(err(400, no_access).kind, OwuiErrorKind::Forbidden);
        assert_eq!(err(401, no_access).kind, OwuiErrorKind::Forbidden);
        let no_auth = r#"{"detail":"Not authenticated"}"#;
        assert_eq!(err(401, no_auth).kind, OwuiErrorKind::Unauthorized);
        assert_eq!(
            err(502, "<html>bad gateway</html>").kind,
            OwuiErrorKind::Unavailable
        );
        let e = err(400, r#"{"detail":"[ERROR: Error updating group]"}"#);
        assert_eq!(e.kind, OwuiErrorKind::Rejected);
        assert!(
            e.message.ends_with("[ERROR: Error updating group]"),
            "{}",
            e.message
        );
        assert_eq!(err(409, "").kind, OwuiErrorKind::Conflict);
        assert!(err(418, "").message.contains("I'm a teapot"));
    }

    #[test]
    fn rate_limit_reads_retry_after() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().expect("a header value"));
        let e = error_from_response("POST /x", StatusCode::TOO_MANY_REQUESTS, &h, "{}");
        assert_eq!(
            e.kind,
            OwuiErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        let e = error_from_response(
            "POST /x",
            StatusCode::TOO_MANY_REQUESTS,
            &HeaderMap::new(),
            "",
        );
        assert_eq!(e.kind, OwuiErrorKind::RateLimited { retry_after: None });
    }

    #[test]
    fn validation_errors_leave_out_the_input() {
        let body = r#"{"detail":[{"type":"missing","loc":["body","OPENAI_API_KEYS",0],"msg":"Input should be a valid string","input":"sk-canary-123"}]}"#;
        let e = err(422, body);
        assert_eq!(e.kind, OwuiErrorKind::Rejected);
        assert!(
            e.message
                .contains("body.OPENAI_API_KEYS.0: Input should be a valid string"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("sk-canary"), "{}", e.message);
    }

    #[test]
    fn secrets_are_scrubbed() {
        let m = scrub(
            "token abc.def.ghi and key sk-canary-123",
            &["abc.def.ghi", "sk-canary-123", ""],
        );
        assert_eq!(m, "token <redacted> and key <redacted>");
    }

    #[test]
    fn debug_redacts_the_token_and_the_keys() {
        let c = OwuiClient::new("http://127.0.0.1:1/", Some("eyJ-secret-token".into()))
            .expect("a valid URL");
        let d = format!("{c:?}");
        assert!(!d.contains("eyJ-secret-token"), "{d}");
        assert!(d.contains("<1 redacted>"), "{d}");
        let cfg = OpenAiConfig {
            enable: true,
            base_urls: vec!["http://a".into(), "http://b".into()],
            keys: vec!["sk-canary-123".into(), "sk-other".into()],
            configs: Map::new(),
        };
        let d = format!("{cfg:?}");
        assert!(!d.contains("sk-"), "{d}");
        assert!(d.contains("<2 redacted>") && d.contains("http://b"), "{d}");
    }

    #[test]
    fn urls_encode_segments_and_keep_a_prefix() {
        let c = OwuiClient::new("http://h:1/owui/", None).expect("a valid URL");
        assert_eq!(
            c.url(&["api", "v1", "users", "a/b c"], &[]).as_str(),
            "http://h:1/owui/api/v1/users/a%2Fb%20c"
        );
        assert_eq!(
            c.url(&["api", "v1", "groups", ""], &[]).as_str(),
            "http://h:1/owui/api/v1/groups/"
        );
        assert_eq!(
            c.url(&["api", "v1", "models", "model"], &[("id", "org/m:1&x")])
                .as_str(),
            "http://h:1/owui/api/v1/models/model?id=org%2Fm%3A1%26x"
        );
        assert!(OwuiClient::new("not a url", None).is_err());
        assert!(OwuiClient::new("mailto:x@y", None).is_err());
    }

    #[test]
    fn parses_the_user_list() {
        let v: Value = serde_json::from_str(
            r#"{"users":[{"id":"u1","name":"Ann","email":"ann@x.test","role":"user","bio":null,"groups":[],"is_active":false}],"total":1}"#,
        )
        .expect("JSON");
        let users: Vec<OwuiUser> = parse_field(v, "users", "GET").expect("users");
        assert_eq!(
            users,
            vec![OwuiUser {
                id: "u1".into(),
                email: "ann@x.test".into(),
                name: "Ann".into(),
                role: "user".into()
            }]
        );
        let e = parse_field::<Vec<OwuiUser>>(json!({"total":0}), "users", "GET /u")
            .expect_err("no users");
        assert_eq!(e.kind, OwuiErrorKind::Unavailable);
    }

    #[test]
    fn parses_groups_with_missing_optionals() {
        let v = json!([{"id":"g1","user_id":"u","name":"finance","description":"","data":null,
            "permissions":{"chat":{"stt":true}},"created_at":1,"updated_at":1,"member_count":2},
            {"id":"g2","user_id":"u","name":"x","description":"d","created_at":1,"updated_at":1}]);
        let gs: Vec<OwuiGroup> = parse(v, "GET").expect("groups");
        assert_eq!(gs[0].member_count, Some(2));
        assert_eq!(gs[0].permissions["chat"]["stt"], json!(true));
        assert_eq!(gs[1].data, Value::Null);
        assert_eq!(gs[1].member_count, None);
    }

    #[test]
    fn parses_the_openai_config_without_quoting_keys() {
        let v = json!({"ENABLE_OPENAI_API":true,"OPENAI_API_BASE_URLS":["http://a"],
            "OPENAI_API_KEYS":["sk-1"],"OPENAI_API_CONFIGS":{"0":{"model_ids":["m"],"tenet":{"p":1}}}});
        let c = OpenAiConfig::from_wire(&v).expect("config");
        assert_eq!(c.keys, vec!["sk-1".to_owned()]);
        assert_eq!(c.configs["0"]["tenet"]["p"], json!(1));
        assert_eq!(
            OpenAiConfig::from_wire(&c.to_wire()).expect("round trip"),
            c
        );
        let bad = json!({"OPENAI_API_KEYS":["sk-1", 5]});
        let e = OpenAiConfig::from_wire(&bad).expect_err("a number");
        assert_eq!(e, "OPENAI_API_KEYS[1] is not a string");
        let empty = OpenAiConfig::from_wire(&json!({"ENABLE_OPENAI_API":null})).expect("empty");
        assert_eq!(empty, OpenAiConfig::default());
    }

    #[test]
    fn parses_model_access_and_preview() {
        let v = json!({"id":"model-a","name":"model-a","user_id":"u","access_grants":[
            {"id":"x","resource_type":"model","resource_id":"model-a","principal_type":"group",
             "principal_id":"g1","permission":"read","created_at":1}]});
        let m = parse_model_access(v, "GET").expect("model");
        assert_eq!(
            m.grants,
            vec![Grant {
                principal_type: "group".into(),
                principal_id: "g1".into(),
                permission: "read".into()
            }]
        );
        let p = json!({"user":{"id":"u","name":"n"},"groups":[],"models":{"items":[{"id":"model-a","name":"A"}],"total":2}});
        assert_eq!(
            parse_preview_models(&p).expect("preview"),
            vec!["model-a".to_owned()]
        );
        assert!(parse_preview_models(&json!({})).is_err());
    }

    #[test]
    fn user_update_sends_only_what_changes() {
        let u = UserUpdate {
            role: Some("user".into()),
            ..UserUpdate::default()
        };
        assert_eq!(
            serde_json::to_value(&u).expect("JSON"),
            json!({"role":"user"})
        );
        assert_eq!(
            serde_json::to_value(UserUpdate::default()).expect("JSON"),
            json!({})
        );
    }

    #[test]
    fn passwords_are_long_random_and_mixed() {
        let a = random_password().expect("random");
        let b = random_password().expect("random");
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
        assert!(has_every_class(&a));
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        );
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("ééé", 3), "é…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
