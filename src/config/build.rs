//! The merged document -> the normalized model: defaults applied, teams
//! expanded into memberships, emails case-folded, sets sorted. Tolerant by
//! design: anything invalid has already been reported, so it is skipped here
//! and the rest still builds, for validation to look at.

use std::collections::{BTreeMap, BTreeSet};

use super::document::{Document, QuotasDoc, TokenQuotasDoc};
use crate::model::{
    ApiKey, Assignment, Branding, Catalog, Config, Email, GroupGrant, IdentityProvider, Interner,
    KeySink, Kind, Membership, PasswordPolicy, Platform, Policy, Profile, Project, Provider,
    ProviderKind, ProviderScope, Quotas, RateLimits, Role, SecretRef, Security, Settings, Slug,
    SsoProtocol, State, Team, Theme, TokenQuotas, TopUp, User, UserRemoval, UserStatus, Workspace,
    WorkspaceRemoval, WorkspaceSettings, WorkspaceStatus,
};

impl From<TokenQuotasDoc> for TokenQuotas {
    fn from(q: TokenQuotasDoc) -> TokenQuotas {
        TokenQuotas {
            tokens_per_day: q.tokens_per_day,
            tokens_per_week: q.tokens_per_week,
            tokens_per_month: q.tokens_per_month,
        }
    }
}

impl From<QuotasDoc> for Quotas {
    fn from(q: QuotasDoc) -> Quotas {
        Quotas {
            storage_gb: q.storage_gb,
            executions_per_month: q.executions_per_month,
            api_calls_per_month: q.api_calls_per_month,
            max_users: q.max_users,
            tokens_per_day: q.tokens_per_day,
            tokens_per_week: q.tokens_per_week,
            tokens_per_month: q.tokens_per_month,
        }
    }
}

fn provider_kind(s: &str) -> Option<ProviderKind> {
    Some(match s {
        "openai" => ProviderKind::Openai,
        "anthropic" => ProviderKind::Anthropic,
        "azure-openai" => ProviderKind::AzureOpenai,
        "vertex" => ProviderKind::Vertex,
        "bedrock" => ProviderKind::Bedrock,
        "qwen" => ProviderKind::Qwen,
        "custom" => ProviderKind::Custom,
        _ => return None,
    })
}

/// The profile the document asks for, if it names a known one.
pub fn profile(doc: &Document) -> Option<Profile> {
    doc.platform
        .as_ref()
        .and_then(|d| d.value.as_ref())
        .and_then(|p| p.profile.as_deref())
        .and_then(Profile::parse)
}

/// Builds the model. `profile` is the catalog chosen (by the file or the
/// command line).
/// The digest of the image file at `path`, when it could be read
/// (validation reports one that could not, or that is no image).
fn image(assets: &super::assets::Assets, path: Option<&String>) -> Option<String> {
    let bytes = assets.get(path?)?.as_ref().ok()?;
    Some(crate::model::image::digest(bytes))
}

pub fn build(doc: &Document, assets: &super::assets::Assets, profile: Profile) -> Config {
    let platform = Platform {
        endpoint: doc
            .platform
            .as_ref()
            .and_then(|d| d.value.as_ref())
            .and_then(|p| p.endpoint.clone()),
        profile,
    };
    let policy = doc
        .policy
        .as_ref()
        .and_then(|d| d.value.as_ref())
        .map(|p| {
            let d = Policy::default();
            Policy {
                authoritative: p
                    .authoritative
                    .iter()
                    .flatten()
                    .filter_map(|k| Kind::parse(k))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                workspace_removal: match p.workspace_removal.as_deref() {
                    Some("delete") => WorkspaceRemoval::Delete,
                    _ => WorkspaceRemoval::Archive,
                },
                project_removal: match p.project_removal.as_deref() {
                    Some("delete") => WorkspaceRemoval::Delete,
                    _ => WorkspaceRemoval::Archive,
                },
                user_removal: match p.user_removal.as_deref() {
                    Some("delete") => UserRemoval::Delete,
                    _ => UserRemoval::Suspend,
                },
                destroy_threshold_percent: p
                    .destroy_threshold_percent
                    .unwrap_or(d.destroy_threshold_percent),
                destroy_threshold_min_objects: p
                    .destroy_threshold_min_objects
                    .unwrap_or(d.destroy_threshold_min_objects),
                adopt: p.adopt.unwrap_or(d.adopt),
            }
        })
        .unwrap_or_default();
    let default_quotas: Quotas = doc
        .defaults
        .as_ref()
        .and_then(|d| d.value.as_ref())
        .and_then(|d| d.quotas)
        .map(Quotas::from)
        .unwrap_or_default();

    let mut state = State::default();
    let mut previously: BTreeMap<crate::model::ObjectId, Vec<Slug>> = BTreeMap::new();
    let mut earlier = |id: crate::model::ObjectId, slugs: &[String]| {
        let slugs: Vec<Slug> = slugs.iter().filter_map(|s| Slug::parse(s).ok()).collect();
        if !slugs.is_empty() {
            previously.insert(id, slugs);
        }
    };

    // One allocation per distinct key and role set, however many
    // memberships name them.
    let mut keys = Interner::default();
    for (key, d) in &doc.users {
        let (Some(u), Ok(email)) = (&d.value, keys.email(key)) else {
            continue;
        };
        state.users.insert(
            email.clone(),
            User {
                email,
                name: u.name.clone(),
                status: match u.status.as_deref() {
                    Some("suspended") => UserStatus::Suspended,
                    Some("invited") => UserStatus::Invited,
                    _ => UserStatus::Active,
                },
                labels: u.labels.clone(),
                prevent_destroy: u.prevent_destroy,
                invitation: u.invitation.as_ref().map(|i| crate::model::Invitation {
                    message: i.message.clone(),
                    resend_expired: i.resend_expired,
                    sent: None,
                }),
            },
        );
    }

    for (key, d) in &doc.roles {
        let (Some(r), Ok(id)) = (&d.value, Slug::parse(key)) else {
            continue;
        };
        earlier(crate::model::ObjectId::Role(id.clone()), &r.previously);
        state.roles.insert(
            id.clone(),
            Role {
                id,
                name: r.name.clone(),
                description: r.description.clone(),
                permissions: r.permissions.iter().cloned().collect(),
                labels: r.labels.clone(),
                prevent_destroy: r.prevent_destroy,
            },
        );
    }

    for (key, d) in &doc.providers {
        let (Some(p), Ok(id)) = (&d.value, Slug::parse(key)) else {
            continue;
        };
        let Some(kind) = provider_kind(&p.kind) else {
            continue;
        };
        earlier(crate::model::ObjectId::Provider(id.clone()), &p.previously);
        state.providers.insert(
            id.clone(),
            Provider {
                id,
                name: p.name.clone(),
                kind,
                endpoint: p.endpoint.clone(),
                region: p.region.clone(),
                models: p.models.iter().cloned().collect(),
                api_keys: p
                    .api_keys
                    .iter()
                    .filter_map(|k| SecretRef::parse(k))
                    .collect(),
                rate_limits: RateLimits {
                    requests_per_minute: p.rate_limits.requests_per_minute,
                    tokens_per_minute: p.rate_limits.tokens_per_minute,
                },
                scope: match p.scope.as_deref() {
                    Some("global") => ProviderScope::Global,
                    _ => ProviderScope::Assigned,
                },
                labels: p.labels.clone(),
                prevent_destroy: p.prevent_destroy,
            },
        );
    }

    let mut teams = BTreeMap::new();
    for (key, d) in &doc.teams {
        let (Some(t), Ok(id)) = (&d.value, Slug::parse(key)) else {
            continue;
        };
        teams.insert(
            id.clone(),
            Team {
                id,
                name: t.name.clone(),
                description: t.description.clone(),
                members: t
                    .members
                    .iter()
                    .filter_map(|m| Email::parse(m).ok())
                    .collect(),
                grants: BTreeMap::new(),
            },
        );
    }

    // Grants through teams; merged with the direct ones at the end (a
    // bulk build, not a tree insert per grant).
    let mut grants: Vec<Membership> = Vec::new();
    for (key, d) in &doc.workspaces {
        let (Some(w), Ok(slug)) = (&d.value, Slug::parse(key)) else {
            continue;
        };
        earlier(
            crate::model::ObjectId::Workspace(slug.clone()),
            &w.previously,
        );
        let own: Quotas = w.quotas.map(Quotas::from).unwrap_or_default();
        state.workspaces.insert(
            slug.clone(),
            Workspace {
                slug: slug.clone(),
                name: w.name.clone(),
                description: w.description.clone(),
                status: match w.status.as_deref() {
                    Some("archived") => WorkspaceStatus::Archived,
                    _ => WorkspaceStatus::Active,
                },
                labels: w.labels.clone(),
                prevent_destroy: w.prevent_destroy,
                quotas: own.or(default_quotas),
                settings: w
                    .settings
                    .as_ref()
                    .map(|s| WorkspaceSettings {
                        theme: s.theme.as_deref().and_then(Theme::parse),
                        language: s.language.clone(),
                        timezone: s.timezone.clone(),
                    })
                    .unwrap_or_default(),
            },
        );
        let slug = keys.intern_slug(&slug);
        for (team, roles) in &w.teams {
            let Ok(team_id) = Slug::parse(team) else {
                continue;
            };
            let roles = keys.roles_named(roles);
            if let Some(t) = teams.get_mut(&team_id) {
                t.grants
                    .insert(slug.clone(), roles.iter().cloned().collect());
                for user in &t.members {
                    grants.push(Membership {
                        workspace: slug.clone(),
                        user: keys.intern_email(user),
                        roles: roles.clone(),
                    });
                }
            }
        }
        let default_project = Catalog::builtin(profile).projects.as_ref();
        for (key, p) in &w.projects {
            let Ok(project) = Slug::parse(key) else {
                continue;
            };
            let is_default = default_project.is_some_and(|r| r.default_project == key.as_str());
            let members = p
                .members
                .iter()
                .filter_map(|(email, roles)| {
                    Some((keys.email(email).ok()?, keys.roles_named(roles)))
                })
                .collect();
            state.projects.insert(
                (slug.clone(), project.clone()),
                Project {
                    workspace: slug.clone(),
                    slug: project,
                    // The default project keeps the platform's name unless
                    // the files give one.
                    name: p.name.clone().or_else(|| {
                        default_project
                            .filter(|_| is_default)
                            .map(|r| r.default_project_name.clone())
                    }),
                    description: p.description.clone(),
                    status: match p.status.as_deref() {
                        Some("archived") => WorkspaceStatus::Archived,
                        _ => WorkspaceStatus::Active,
                    },
                    labels: p.labels.clone(),
                    prevent_destroy: p.prevent_destroy,
                    members,
                    quotas: p.quotas.map(TokenQuotas::from).unwrap_or_default(),
                },
            );
        }
        for (email, q) in &w.member_quotas {
            if let Ok(user) = keys.email(email) {
                state
                    .member_quotas
                    .insert((slug.clone(), user), TokenQuotas::from(*q));
            }
        }
        for (key, t) in &w.top_ups {
            let Ok(id) = Slug::parse(key) else { continue };
            state.top_ups.insert(
                (slug.clone(), id.clone()),
                TopUp {
                    workspace: slug.clone(),
                    id,
                    tokens: t.tokens,
                    expires: t.expires.clone(),
                    project: t.project.as_deref().and_then(|p| Slug::parse(p).ok()),
                    user: t.user.as_deref().and_then(|u| keys.email(u).ok()),
                    reason: t.reason.clone(),
                    labels: t.labels.clone(),
                },
            );
        }
        for (key, k) in &w.api_keys {
            let (Ok(id), Ok(owner)) = (Slug::parse(key), keys.email(&k.owner)) else {
                continue;
            };
            state.api_keys.insert(
                (slug.clone(), id.clone()),
                ApiKey {
                    workspace: slug.clone(),
                    id,
                    name: k.name.clone(),
                    owner,
                    permissions: k.permissions.iter().cloned().collect(),
                    expires: k.expires.clone(),
                    rotate_every_days: k.rotate_every_days,
                    sink: k.sink.as_deref().and_then(KeySink::parse),
                    issued: None,
                    labels: k.labels.clone(),
                },
            );
        }
        for (provider, a) in &w.providers {
            let Ok(provider) = Slug::parse(provider) else {
                continue;
            };
            state.assignments.insert(
                (slug.clone(), provider.clone()),
                Assignment {
                    workspace: slug.clone(),
                    provider,
                    models: a.models.as_ref().map(|m| m.iter().cloned().collect()),
                    default: a.default,
                },
            );
        }
    }

    // Direct grants, by far the most, are made a range of workspaces per
    // core; each range comes out sorted, and the ranges are in order.
    let mut all = direct_grants(doc);
    if !grants.is_empty() {
        all.append(&mut grants);
        sort_and_merge(&mut all, &mut keys);
    }
    // Sorted and distinct: the map is built in one pass.
    state.memberships = all
        .into_iter()
        .map(|m| ((m.workspace.clone(), m.user.clone()), m))
        .collect();

    state.settings = doc
        .settings
        .as_ref()
        .and_then(|d| d.value.as_ref())
        .map(|s| {
            let sec = s.security.clone().unwrap_or_default();
            let pp = sec.password_policy.unwrap_or_default();
            Settings {
                security: Security {
                    session_timeout_minutes: sec.session_timeout_minutes,
                    require_2fa: sec.require_2fa,
                    email_verification: sec.email_verification,
                    ip_allowlist: sec.ip_allowlist.map(|l| {
                        l.iter()
                            .map(|c| crate::model::normalize_cidr(c).unwrap_or_else(|_| c.clone()))
                            .collect()
                    }),
                    password_policy: PasswordPolicy {
                        min_length: pp.min_length,
                        require_uppercase: pp.require_uppercase,
                        require_lowercase: pp.require_lowercase,
                        require_digit: pp.require_digit,
                        require_symbol: pp.require_symbol,
                        max_age_days: pp.max_age_days,
                    },
                },
                branding: s
                    .branding
                    .as_ref()
                    .map(|b| Branding {
                        display_name: b.display_name.clone(),
                        accent_color: b.accent_color.as_deref().map(str::to_ascii_lowercase),
                        login_headline: b.login_headline.clone(),
                        login_tagline: b.login_tagline.clone(),
                        support_email: b
                            .support_email
                            .as_deref()
                            .and_then(|e| Email::parse(e).ok()),
                        logo_light: image(assets, b.logo_light.as_ref()),
                        logo_inverse: image(assets, b.logo_inverse.as_ref()),
                        favicon: image(assets, b.favicon.as_ref()),
                    })
                    .unwrap_or_default(),
            }
        });

    if let Some(sso) = doc
        .settings
        .as_ref()
        .and_then(|d| d.value.as_ref())
        .and_then(|s| s.sso.as_ref())
    {
        for (key, i) in sso.providers() {
            let (Some(i), Ok(id)) = (i, Slug::parse(key)) else {
                continue;
            };
            let Some(protocol) = SsoProtocol::parse(&i.protocol) else {
                continue;
            };
            let slugs = |v: &[String]| v.iter().filter_map(|r| Slug::parse(r).ok()).collect();
            let groups = i
                .groups
                .iter()
                .map(|(group, grants)| {
                    let grants = grants
                        .iter()
                        .filter_map(|(ws, g)| {
                            let grant = GroupGrant {
                                roles: slugs(&g.roles),
                                projects: g
                                    .projects
                                    .iter()
                                    .filter_map(|(p, r)| Some((Slug::parse(p).ok()?, slugs(r))))
                                    .collect(),
                            };
                            Some((Slug::parse(ws).ok()?, grant))
                        })
                        .collect();
                    (group.clone(), grants)
                })
                .collect();
            // The document's text; unreadable metadata was reported.
            let metadata_xml = i
                .metadata_file
                .as_ref()
                .and_then(|f| assets.get(f)?.as_ref().ok())
                .map(|b| String::from_utf8_lossy(b).into_owned());
            state.identity_providers.insert(
                id.clone(),
                IdentityProvider {
                    id,
                    name: i.name.clone(),
                    protocol,
                    enabled: i.enabled.unwrap_or(true),
                    workspace: i.workspace.as_deref().and_then(|w| Slug::parse(w).ok()),
                    issuer: i.issuer.clone(),
                    client_id: i.client_id.clone(),
                    client_secret: i.client_secret.as_deref().and_then(SecretRef::parse),
                    scopes: i.scopes.iter().cloned().collect(),
                    metadata_url: i.metadata_url.clone(),
                    metadata_xml,
                    jit_provisioning: i.jit_provisioning,
                    groups,
                    labels: i.labels.clone(),
                    prevent_destroy: i.prevent_destroy,
                },
            );
        }
    }

    let acknowledged = doc
        .drift
        .as_ref()
        .and_then(|d| d.value.as_ref())
        .map(|d| {
            d.acknowledged
                .iter()
                .filter_map(|(k, a)| {
                    // An unreadable id is refused by the schema's key pattern.
                    Some((
                        crate::model::ObjectId::parse(k)?,
                        crate::model::Acknowledgement {
                            until: a.until.clone(),
                            reason: a.reason.clone(),
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Config {
        platform,
        policy,
        default_quotas,
        teams,
        acknowledged,
        previously,
        state,
    }
}

/// The grants the workspaces' `members` tables make, sorted by workspace
/// and user, a user granted roles twice (under two spellings of one email)
/// once with all of them. Made in parallel over ranges of workspaces, each
/// with its own interner (a key is then allocated once per range).
fn direct_grants(doc: &Document) -> Vec<Membership> {
    use rayon::prelude::*;
    let workspaces: Vec<_> = doc
        .workspaces
        .iter()
        .filter_map(|(key, d)| Some((Slug::parse(key).ok()?, d.value.as_ref()?)))
        .collect();
    let ranges = rayon::current_num_threads().max(1);
    let per_range = workspaces.len().div_ceil(ranges).max(1);
    let parts: Vec<Vec<Membership>> = workspaces
        .par_chunks(per_range)
        .map(|range| {
            let mut keys = Interner::default();
            let mut grants = Vec::with_capacity(range.iter().map(|(_, w)| w.members.len()).sum());
            for (slug, w) in range {
                let slug = keys.intern_slug(slug);
                for (email, roles) in &w.members {
                    let Ok(user) = keys.email(&crate::model::keys::fold(email)) else {
                        continue;
                    };
                    grants.push(Membership {
                        workspace: slug.clone(),
                        user,
                        roles: keys.roles_named(roles),
                    });
                }
            }
            sort_and_merge(&mut grants, &mut keys);
            grants
        })
        .collect();
    parts.concat()
}

/// Sorts grants by workspace and user and merges those of one user in one
/// workspace into one holding all their roles.
fn sort_and_merge(grants: &mut Vec<Membership>, keys: &mut Interner) {
    // Stable, and the files already list most grants in order: close to
    // one pass.
    grants.sort_by(|a, b| (&a.workspace, &a.user).cmp(&(&b.workspace, &b.user)));
    grants.dedup_by(|later, kept| {
        let same = later.workspace == kept.workspace && later.user == kept.user;
        if same {
            kept.roles = keys.roles(kept.roles.iter().chain(&later.roles).cloned());
        }
        same
    });
}
