-- The reference platform's storage. Workspace-scoped tables are keyed by the
-- workspace's id and cascade on delete, as the platform docs describe.
PRAGMA foreign_keys = ON;

CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS workspaces (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    email TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The pending invitation of each user whose status is `invited`.
CREATE TABLE IF NOT EXISTS invitations (
    email TEXT PRIMARY KEY REFERENCES users(email) ON DELETE CASCADE,
    message TEXT,
    sent_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    expires_micros INTEGER NOT NULL,
    sends INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS roles (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS identity_providers (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    -- The client secret's fingerprint; the value is never stored.
    secret TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS providers (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    -- JSON array of key fingerprints; key values are never stored.
    keys TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS memberships (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_email TEXT NOT NULL REFERENCES users(email) ON DELETE CASCADE,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_email)
);
CREATE INDEX IF NOT EXISTS memberships_by_user ON memberships(user_email);

-- One row per role held, for the administrator and role-in-use rules.
CREATE TABLE IF NOT EXISTS membership_roles (
    workspace_id INTEGER NOT NULL,
    user_email TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_email, role),
    FOREIGN KEY (workspace_id, user_email)
        REFERENCES memberships(workspace_id, user_email) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS membership_roles_by_role ON membership_roles(role);

CREATE TABLE IF NOT EXISTS assignments (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    provider TEXT NOT NULL REFERENCES providers(name),
    is_default INTEGER NOT NULL,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, provider)
);
CREATE INDEX IF NOT EXISTS assignments_by_provider ON assignments(provider);

CREATE TABLE IF NOT EXISTS quotas (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS usage (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    spec TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    at_micros INTEGER NOT NULL,
    actor TEXT NOT NULL,
    channel TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    version INTEGER NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_resource ON audit(resource);
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit(actor);

CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    expires_micros INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    -- SHA-256 of the token, hex; the token itself is never stored.
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- Projects inside workspaces (catalogs with projects). Members live in the
-- spec; project_members indexes them by user, for removing a member who
-- leaves the workspace or the platform.
CREATE TABLE IF NOT EXISTS projects (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, slug)
);

CREATE TABLE IF NOT EXISTS project_members (
    workspace_id INTEGER NOT NULL,
    project TEXT NOT NULL,
    user_email TEXT NOT NULL,
    PRIMARY KEY (workspace_id, project, user_email),
    FOREIGN KEY (workspace_id, project)
        REFERENCES projects(workspace_id, slug) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS project_members_by_user ON project_members(user_email);

-- Token budgets of single members; gone with the membership.
-- API keys: the spec column holds the spec, the value's prefix and hash
-- (never the value), and the hash of the value before the last rotation.
CREATE TABLE IF NOT EXISTS api_keys (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE IF NOT EXISTS member_quotas (
    workspace_id INTEGER NOT NULL,
    user_email TEXT NOT NULL,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_email),
    FOREIGN KEY (workspace_id, user_email)
        REFERENCES memberships(workspace_id, user_email) ON DELETE CASCADE
);

-- Top-ups: extra tokens until a day, for a workspace, a project or a member.
CREATE TABLE IF NOT EXISTS top_ups (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- Branding images, by the digest of their bytes (content-addressed: the
-- settings name them by digest).
CREATE TABLE IF NOT EXISTS images (
    digest TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    created_at TEXT NOT NULL
);
