//! The `/v1` routes: each handler reads the request, calls one engine method
//! and answers. No platform rule lives here.

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;

use super::AppState;
use super::http::{Body, ListQuery, body, if_match, json, object, segment, typed};
use crate::platform::ApiError;
use crate::platform::engine::{Actor, AuditQuery, CatalogRules};
use crate::wire::{
    ApiKeySpec, AssignmentSpec, IdentityProviderSpec, LockRenew, LockRequest, MemberQuotasSpec,
    MembershipSpec, ProjectSpec, ProviderSpec, QuotasSpec, RoleSpec, SettingsSpec, TopUpSpec,
    UsageSpec, WorkspaceSpec, split_key,
};

type S = State<Arc<AppState>>;
type R = Result<Response, ApiError>;

/// Path parameters, with problems instead of axum's plain-text rejections.
pub struct P<T>(pub T);

impl<T: DeserializeOwned + Send, St: Send + Sync> FromRequestParts<St> for P<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| P(p.0))
            .map_err(|e| ApiError::new(404, "not-found", e.body_text()))
    }
}

/// Query parameters, with problems instead of plain-text rejections.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned + Send + Default, St: Send + Sync> FromRequestParts<St> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, ApiError> {
        // Lenient on purpose: the first value of a repeated parameter wins,
        // unknown parameters are ignored; values are checked where used.
        let pairs: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
            .unwrap_or_default();
        let mut first = serde_json::Map::new();
        for (k, v) in pairs {
            first.entry(k).or_insert(serde_json::Value::String(v));
        }
        Ok(Q(
            serde_json::from_value(serde_json::Value::Object(first)).unwrap_or_default()
        ))
    }
}

pub async fn healthz() -> Response {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        404,
        "not-found",
        "no such resource in the platform API (see /v1)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        405,
        "method-not-allowed",
        "this resource does not support that method",
    )
}

fn created(location: String, version: u64, value: &impl serde::Serialize) -> Response {
    object(StatusCode::CREATED, version, value, Some(location))
}

fn ok(version: u64, value: &impl serde::Serialize) -> Response {
    object(StatusCode::OK, version, value, None)
}

/// A `PATCH` answer: the object, and where it lives now when the patch
/// renamed it.
fn patched(
    before: &str,
    collection: &str,
    key: &str,
    version: u64,
    value: &impl serde::Serialize,
) -> Response {
    let location = (key != before).then(|| format!("/v1/{collection}/{key}"));
    object(StatusCode::OK, version, value, location)
}

fn deleted() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/catalog", get(catalog))
        .route(
            "/v1/workspaces",
            get(list_workspaces).post(create_workspace),
        )
        .route(
            "/v1/workspaces/{slug}",
            get(get_workspace)
                .patch(update_workspace)
                .delete(delete_workspace),
        )
        .route(
            "/v1/workspaces/{slug}/quotas",
            get(get_quotas).put(put_quotas),
        )
        .route("/v1/workspaces/{slug}/usage", get(get_usage).put(put_usage))
        .route(
            "/v1/workspaces/{slug}/memberships",
            get(list_memberships).post(create_membership),
        )
        .route(
            "/v1/workspaces/{slug}/memberships/{email}",
            get(get_membership)
                .patch(update_membership)
                .delete(delete_membership),
        )
        .route(
            "/v1/workspaces/{slug}/assignments",
            get(list_assignments).post(create_assignment),
        )
        .route(
            "/v1/workspaces/{slug}/assignments/{provider}",
            get(get_assignment)
                .patch(update_assignment)
                .delete(delete_assignment),
        )
        .route(
            "/v1/workspaces/{slug}/projects",
            get(list_projects).post(create_project),
        )
        .route(
            "/v1/workspaces/{slug}/projects/{project}",
            get(get_project)
                .patch(update_project)
                .delete(delete_project),
        )
        .route("/v1/projects", get(list_all_projects))
        .route(
            "/v1/workspaces/{slug}/member-quotas/{email}",
            get(get_member_quotas).put(put_member_quotas),
        )
        .route("/v1/member-quotas", get(list_all_member_quotas))
        .route(
            "/v1/workspaces/{slug}/top-ups",
            get(list_top_ups).post(create_top_up),
        )
        .route(
            "/v1/workspaces/{slug}/top-ups/{id}",
            get(get_top_up).patch(update_top_up).delete(delete_top_up),
        )
        .route("/v1/top-ups", get(list_all_top_ups))
        .route(
            "/v1/workspaces/{slug}/api-keys",
            get(list_api_keys).post(create_api_key),
        )
        .route(
            "/v1/workspaces/{slug}/api-keys/{id}",
            get(get_api_key)
                .patch(update_api_key)
                .delete(delete_api_key),
        )
        .route(
            "/v1/workspaces/{slug}/api-keys/{id}/rotate",
            axum::routing::post(rotate_api_key),
        )
        .route("/v1/api-keys", get(list_all_api_keys))
        .route("/v1/memberships", get(list_all_memberships))
        .route("/v1/assignments", get(list_all_assignments))
        .route("/v1/quotas", get(list_all_quotas))
        .route("/v1/usage", get(list_all_usage))
        .route("/v1/users", get(list_users).post(create_user))
        .route(
            "/v1/users/{email}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route(
            "/v1/users/{email}/invitation",
            axum::routing::post(resend_invitation),
        )
        .route(
            "/v1/users/{email}/invitation/accept",
            axum::routing::post(accept_invitation),
        )
        .route("/v1/roles", get(list_roles).post(create_role))
        .route(
            "/v1/roles/{id}",
            get(get_role).patch(update_role).delete(delete_role),
        )
        .route("/v1/providers", get(list_providers).post(create_provider))
        .route(
            "/v1/providers/{name}",
            get(get_provider)
                .patch(update_provider)
                .delete(delete_provider),
        )
        .route(
            "/v1/identity-providers",
            get(list_identity_providers).post(create_identity_provider),
        )
        .route(
            "/v1/identity-providers/{name}",
            get(get_identity_provider)
                .patch(update_identity_provider)
                .delete(delete_identity_provider),
        )
        .route("/v1/settings", get(get_settings).put(put_settings))
        .route(
            "/v1/settings/images",
            axum::routing::post(post_image).layer(axum::extract::DefaultBodyLimit::max(
                crate::wire::MAX_IMAGE_BYTES + 1,
            )),
        )
        .route("/v1/settings/images/{digest}", get(get_image))
        .route("/v1/audit", get(list_audit))
        .route("/v1/locks", axum::routing::post(acquire_lock))
        .route(
            "/v1/locks/{name}",
            get(get_lock).put(renew_lock).delete(release_lock),
        )
        .method_not_allowed_fallback(method_not_allowed)
}

async fn catalog(State(s): S) -> R {
    Ok(json(StatusCode::OK, s.engine.catalog()))
}

// ---------------------------------------------------------------- workspaces

async fn list_workspaces(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(StatusCode::OK, &s.engine.list_workspaces(&q.page()?)?))
}

async fn create_workspace(
    State(s): S,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (slug, rest) = split_key(&body(&headers, &b)?, "slug")
        .map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let w = s
        .engine
        .create_workspace(&actor, &slug, typed::<WorkspaceSpec>(&rest)?)?;
    Ok(created(format!("/v1/workspaces/{slug}"), w.version, &w))
}

async fn get_workspace(State(s): S, P(slug): P<String>) -> R {
    let w = s.engine.get_workspace(&slug)?;
    Ok(ok(w.version, &w))
}

async fn update_workspace(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(slug): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let w = s
        .engine
        .update_workspace(&actor, &slug, v, &body(&headers, &b)?)?;
    Ok(patched(&slug, "workspaces", &w.slug, w.version, &w))
}

async fn delete_workspace(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(slug): P<String>,
    headers: HeaderMap,
) -> R {
    s.engine
        .delete_workspace(&actor, &slug, if_match(&headers)?)?;
    Ok(deleted())
}

async fn get_quotas(State(s): S, P(slug): P<String>) -> R {
    let q = s.engine.get_quotas(&slug)?;
    Ok(ok(q.version, &q))
}

async fn put_quotas(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(slug): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let q = s
        .engine
        .put_quotas(&actor, &slug, v, typed::<QuotasSpec>(&body(&headers, &b)?)?)?;
    Ok(ok(q.version, &q))
}

async fn get_usage(State(s): S, P(slug): P<String>) -> R {
    Ok(json(StatusCode::OK, &s.engine.get_usage(&slug)?))
}

async fn put_usage(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(slug): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let u = s
        .engine
        .put_usage(&actor, &slug, typed::<UsageSpec>(&body(&headers, &b)?)?)?;
    Ok(json(StatusCode::OK, &u))
}

// --------------------------------------------------------------- memberships

async fn list_all_memberships(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_all_memberships(&q.page()?)?,
    ))
}

async fn list_all_assignments(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_all_assignments(&q.page()?)?,
    ))
}

async fn list_all_quotas(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(StatusCode::OK, &s.engine.list_all_quotas(&q.page()?)?))
}

async fn list_all_usage(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(StatusCode::OK, &s.engine.list_all_usage(&q.page()?)?))
}

async fn list_memberships(State(s): S, P(slug): P<String>, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_memberships(&slug, &q.page()?)?,
    ))
}

async fn create_membership(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(slug): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (user, rest) = split_key(&body(&headers, &b)?, "user")
        .map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let m = s
        .engine
        .create_membership(&actor, &slug, &user, typed::<MembershipSpec>(&rest)?)?;
    Ok(created(
        format!("/v1/workspaces/{slug}/memberships/{}", segment(&m.user)),
        m.version,
        &m,
    ))
}

async fn get_membership(State(s): S, P((slug, email)): P<(String, String)>) -> R {
    let m = s.engine.get_membership(&slug, &email)?;
    Ok(ok(m.version, &m))
}

async fn update_membership(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, email)): P<(String, String)>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let m = s
        .engine
        .update_membership(&actor, &slug, &email, v, &body(&headers, &b)?)?;
    Ok(ok(m.version, &m))
}

async fn delete_membership(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, email)): P<(String, String)>,
    headers: HeaderMap,
) -> R {
    s.engine
        .delete_membership(&actor, &slug, &email, if_match(&headers)?)?;
    Ok(deleted())
}

// --------------------------------------------------------------- assignments

async fn list_assignments(State(s): S, P(slug): P<String>, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_assignments(&slug, &q.page()?)?,
    ))
}

async fn create_assignment(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(slug): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (provider, rest) = split_key(&body(&headers, &b)?, "provider")
        .map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let a =
        s.engine
            .create_assignment(&actor, &slug, &provider, typed::<AssignmentSpec>(&rest)?)?;
    Ok(created(
        format!("/v1/workspaces/{slug}/assignments/{provider}"),
        a.version,
        &a,
    ))
}

async fn get_assignment(State(s): S, P((slug, provider)): P<(String, String)>) -> R {
    let a = s.engine.get_assignment(&slug, &provider)?;
    Ok(ok(a.version, &a))
}

async fn update_assignment(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, provider)): P<(String, String)>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let a = s
        .engine
        .update_assignment(&actor, &slug, &provider, v, &body(&headers, &b)?)?;
    Ok(ok(a.version, &a))
}

async fn delete_assignment(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, provider)): P<(String, String)>,
    headers: HeaderMap,
) -> R {
    s.engine
        .delete_assignment(&actor, &slug, &provider, if_match(&headers)?)?;
    Ok(deleted())
}

// ------------------------------------------------------------------ projects

async fn list_all_projects(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_all_projects(&q.page()?)?,
    ))
}

async fn list_projects(State(s): S, P(slug): P<String>, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_projects(&slug, &q.page()?)?,
    ))
}

async fn create_project(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(slug): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (project, rest) = split_key(&body(&headers, &b)?, "slug")
        .map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let p = s
        .engine
        .create_project(&actor, &slug, &project, typed::<ProjectSpec>(&rest)?)?;
    Ok(created(
        format!("/v1/workspaces/{slug}/projects/{}", p.slug),
        p.version,
        &p,
    ))
}

async fn get_project(State(s): S, P((slug, project)): P<(String, String)>) -> R {
    let p = s.engine.get_project(&slug, &project)?;
    Ok(ok(p.version, &p))
}

async fn update_project(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, project)): P<(String, String)>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let p = s
        .engine
        .update_project(&actor, &slug, &project, v, &body(&headers, &b)?)?;
    Ok(ok(p.version, &p))
}

async fn delete_project(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, project)): P<(String, String)>,
    headers: HeaderMap,
) -> R {
    s.engine
        .delete_project(&actor, &slug, &project, if_match(&headers)?)?;
    Ok(deleted())
}

// ------------------------------------------------------- budgets, top-ups

async fn list_all_member_quotas(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_all_member_quotas(&q.page()?)?,
    ))
}

async fn get_member_quotas(State(s): S, P((slug, email)): P<(String, String)>) -> R {
    let q = s.engine.get_member_quotas(&slug, &email)?;
    Ok(ok(q.version, &q))
}

async fn put_member_quotas(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, email)): P<(String, String)>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let q = s.engine.put_member_quotas(
        &actor,
        &slug,
        &email,
        v,
        typed::<MemberQuotasSpec>(&body(&headers, &b)?)?,
    )?;
    Ok(ok(q.version, &q))
}

async fn list_all_top_ups(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_all_top_ups(&q.page()?)?,
    ))
}

async fn list_top_ups(State(s): S, P(slug): P<String>, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_top_ups(&slug, &q.page()?)?,
    ))
}

async fn create_top_up(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(slug): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (id, rest) =
        split_key(&body(&headers, &b)?, "id").map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let t = s
        .engine
        .create_top_up(&actor, &slug, &id, typed::<TopUpSpec>(&rest)?)?;
    Ok(created(
        format!("/v1/workspaces/{slug}/top-ups/{}", t.id),
        t.version,
        &t,
    ))
}

async fn get_top_up(State(s): S, P((slug, id)): P<(String, String)>) -> R {
    let t = s.engine.get_top_up(&slug, &id)?;
    Ok(ok(t.version, &t))
}

async fn update_top_up(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, id)): P<(String, String)>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let t = s
        .engine
        .update_top_up(&actor, &slug, &id, v, &body(&headers, &b)?)?;
    Ok(ok(t.version, &t))
}

async fn delete_top_up(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, id)): P<(String, String)>,
    headers: HeaderMap,
) -> R {
    s.engine
        .delete_top_up(&actor, &slug, &id, if_match(&headers)?)?;
    Ok(deleted())
}

// ------------------------------------------------------------------ api keys

async fn list_all_api_keys(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_all_api_keys(&q.page()?)?,
    ))
}

async fn list_api_keys(State(s): S, P(slug): P<String>, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_api_keys(&slug, &q.page()?)?,
    ))
}

/// An answer that carries a key's value: never cached.
fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

async fn create_api_key(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(slug): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (id, rest) =
        split_key(&body(&headers, &b)?, "id").map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let k = s
        .engine
        .create_api_key(&actor, &slug, &id, typed::<ApiKeySpec>(&rest)?)?;
    Ok(no_store(created(
        format!("/v1/workspaces/{slug}/api-keys/{}", k.id),
        k.version,
        &k,
    )))
}

async fn get_api_key(State(s): S, P((slug, id)): P<(String, String)>) -> R {
    let k = s.engine.get_api_key(&slug, &id)?;
    Ok(ok(k.version, &k))
}

async fn update_api_key(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, id)): P<(String, String)>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let k = s
        .engine
        .update_api_key(&actor, &slug, &id, v, &body(&headers, &b)?)?;
    Ok(ok(k.version, &k))
}

async fn rotate_api_key(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, id)): P<(String, String)>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    // The body, a merge patch applied with the rotation, may be empty.
    let patch = if b.is_empty() {
        serde_json::json!({})
    } else {
        body(&headers, &b)?
    };
    let k = s.engine.rotate_api_key(&actor, &slug, &id, v, &patch)?;
    Ok(no_store(ok(k.version, &k)))
}

async fn delete_api_key(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P((slug, id)): P<(String, String)>,
    headers: HeaderMap,
) -> R {
    s.engine
        .delete_api_key(&actor, &slug, &id, if_match(&headers)?)?;
    Ok(deleted())
}

// --------------------------------------------------------------------- users

async fn list_users(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(StatusCode::OK, &s.engine.list_users(&q.page()?)?))
}

async fn create_user(
    State(s): S,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (email, rest) = split_key(&body(&headers, &b)?, "email")
        .map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let c = typed::<crate::wire::CreateUser>(&rest)?;
    let u = s.engine.create_user(&actor, &email, c.spec, c.invitation)?;
    Ok(created(
        format!("/v1/users/{}", segment(&u.email)),
        u.version,
        &u,
    ))
}

async fn get_user(State(s): S, P(email): P<String>) -> R {
    let u = s.engine.get_user(&email)?;
    Ok(ok(u.version, &u))
}

async fn update_user(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(email): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let u = s
        .engine
        .update_user(&actor, &email, v, &body(&headers, &b)?)?;
    Ok(ok(u.version, &u))
}

async fn resend_invitation(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(email): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let u = s
        .engine
        .resend_invitation(&actor, &email, v, &body(&headers, &b)?)?;
    Ok(ok(u.version, &u))
}

async fn accept_invitation(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(email): P<String>,
) -> R {
    let u = s.engine.accept_invitation(&actor, &email)?;
    Ok(ok(u.version, &u))
}

async fn delete_user(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(email): P<String>,
    headers: HeaderMap,
) -> R {
    s.engine.delete_user(&actor, &email, if_match(&headers)?)?;
    Ok(deleted())
}

// --------------------------------------------------------------------- roles

async fn list_roles(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(StatusCode::OK, &s.engine.list_roles(&q.page()?)?))
}

async fn create_role(
    State(s): S,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (id, rest) =
        split_key(&body(&headers, &b)?, "id").map_err(|e| ApiError::invalid_body(e.to_string()))?;
    // A built-in id is refused whatever else is wrong with the request.
    if s.engine.catalog().is_builtin_role(&id) {
        return Err(ApiError::conflict(
            "builtin-role",
            format!("`{id}` is a built-in role: built-in roles cannot be changed or deleted"),
        ));
    }
    let r = s
        .engine
        .create_role(&actor, &id, typed::<RoleSpec>(&rest)?)?;
    Ok(created(format!("/v1/roles/{id}"), r.version, &r))
}

async fn get_role(State(s): S, P(id): P<String>) -> R {
    let r = s.engine.get_role(&id)?;
    Ok(ok(r.version, &r))
}

async fn update_role(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(id): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let r = s.engine.update_role(&actor, &id, v, &body(&headers, &b)?)?;
    Ok(patched(&id, "roles", &r.id, r.version, &r))
}

async fn delete_role(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(id): P<String>,
    headers: HeaderMap,
) -> R {
    s.engine.delete_role(&actor, &id, if_match(&headers)?)?;
    Ok(deleted())
}

// ----------------------------------------------------------------- providers

async fn list_providers(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(StatusCode::OK, &s.engine.list_providers(&q.page()?)?))
}

async fn create_provider(
    State(s): S,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (name, mut rest) = split_key(&body(&headers, &b)?, "name")
        .map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let keys: Vec<String> = match rest.as_object_mut().and_then(|m| m.remove("api_keys")) {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v)
            .map_err(|_| ApiError::invalid_body("`api_keys` must be an array of strings"))?,
    };
    let p = s
        .engine
        .create_provider(&actor, &name, typed::<ProviderSpec>(&rest)?, &keys)?;
    Ok(created(format!("/v1/providers/{name}"), p.version, &p))
}

async fn get_provider(State(s): S, P(name): P<String>) -> R {
    let p = s.engine.get_provider(&name)?;
    Ok(ok(p.version, &p))
}

async fn update_provider(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(name): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let p = s
        .engine
        .update_provider(&actor, &name, v, &body(&headers, &b)?)?;
    Ok(patched(&name, "providers", &p.name, p.version, &p))
}

async fn delete_provider(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(name): P<String>,
    headers: HeaderMap,
) -> R {
    s.engine
        .delete_provider(&actor, &name, if_match(&headers)?)?;
    Ok(deleted())
}

// -------------------------------------------------------- identity providers

async fn list_identity_providers(State(s): S, Q(q): Q<ListQuery>) -> R {
    Ok(json(
        StatusCode::OK,
        &s.engine.list_identity_providers(&q.page()?)?,
    ))
}

async fn create_identity_provider(
    State(s): S,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let (name, mut rest) = split_key(&body(&headers, &b)?, "name")
        .map_err(|e| ApiError::invalid_body(e.to_string()))?;
    let secret = match rest.as_object_mut().and_then(|m| m.remove("client_secret")) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(v)) => Some(v),
        Some(_) => return Err(ApiError::invalid_body("`client_secret` must be a string")),
    };
    let p = s.engine.create_identity_provider(
        &actor,
        &name,
        typed::<IdentityProviderSpec>(&rest)?,
        secret.as_deref(),
    )?;
    Ok(created(
        format!("/v1/identity-providers/{name}"),
        p.version,
        &p,
    ))
}

async fn get_identity_provider(State(s): S, P(name): P<String>) -> R {
    let p = s.engine.get_identity_provider(&name)?;
    Ok(ok(p.version, &p))
}

async fn update_identity_provider(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(name): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let p = s
        .engine
        .update_identity_provider(&actor, &name, v, &body(&headers, &b)?)?;
    Ok(ok(p.version, &p))
}

async fn delete_identity_provider(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(name): P<String>,
    headers: HeaderMap,
) -> R {
    s.engine
        .delete_identity_provider(&actor, &name, if_match(&headers)?)?;
    Ok(deleted())
}

// ------------------------------------------------------------------ settings

async fn get_settings(State(s): S) -> R {
    let st = s.engine.get_settings()?;
    Ok(ok(st.version, &st))
}

async fn put_settings(
    State(s): S,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let v = if_match(&headers)?;
    let st = s
        .engine
        .put_settings(&actor, v, typed::<SettingsSpec>(&body(&headers, &b)?)?)?;
    Ok(ok(st.version, &st))
}

/// An image upload: the raw bytes, declared as an image; the platform tells
/// the format by the content.
async fn post_image(
    State(s): S,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let declared = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !declared.trim().to_ascii_lowercase().starts_with("image/") {
        return Err(ApiError::new(
            415,
            "unsupported-media-type",
            "send the image's bytes with Content-Type: image/png, image/jpeg or image/vnd.microsoft.icon",
        ));
    }
    let (img, new) = s.engine.put_image(&actor, &b)?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = json(status, &img);
    if let Ok(v) = format!("/v1/settings/images/{}", img.digest).parse() {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

async fn get_image(State(s): S, P(digest): P<String>) -> R {
    let (img, bytes) = s.engine.get_image(&digest)?;
    Ok((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, img.media_type)],
        bytes,
    )
        .into_response())
}

// --------------------------------------------------------------------- audit

#[derive(Debug, Default, serde::Deserialize)]
struct AuditParams {
    limit: Option<String>,
    cursor: Option<String>,
    resource: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

async fn list_audit(State(s): S, Q(q): Q<AuditParams>) -> R {
    let page = ListQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let query = AuditQuery {
        resource: q.resource,
        actor: q.actor,
        since: q.since,
        until: q.until,
    };
    Ok(json(StatusCode::OK, &s.engine.list_audit(&query, &page)?))
}

// --------------------------------------------------------------------- locks

async fn acquire_lock(
    State(s): S,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let req: LockRequest = typed(&body(&headers, &b)?)?;
    let (lock, fresh) = s
        .engine
        .acquire_lock(&actor, &req.name, &req.holder, req.ttl_seconds)?;
    let status = if fresh {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut r = json(status, &lock);
    if fresh
        && let Ok(v) =
            axum::http::HeaderValue::from_str(&format!("/v1/locks/{}", segment(&lock.name)))
    {
        r.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(r)
}

async fn get_lock(State(s): S, P(name): P<String>) -> R {
    Ok(json(StatusCode::OK, &s.engine.get_lock(&name)?))
}

async fn renew_lock(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(name): P<String>,
    headers: HeaderMap,
    Body(b): Body,
) -> R {
    let req: LockRenew = typed(&body(&headers, &b)?)?;
    Ok(json(
        StatusCode::OK,
        &s.engine
            .renew_lock(&actor, &name, &req.holder, req.ttl_seconds)?,
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
struct HolderParam {
    holder: Option<String>,
}

async fn release_lock(
    State(s): S,
    Extension(actor): Extension<Actor>,
    P(name): P<String>,
    Q(q): Q<HolderParam>,
) -> R {
    let holder = q
        .holder
        .ok_or_else(|| ApiError::invalid_value("say who releases the lock: ?holder=NAME"))?;
    s.engine.release_lock(&actor, &name, &holder)?;
    Ok(deleted())
}
