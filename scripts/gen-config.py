#!/usr/bin/env python3
"""Generate a large, valid tenet config tree for benchmarks.

Usage: scripts/gen-config.py OUT_DIR [USERS] [WORKSPACES] [--kdl] [--members-per-user=K]

Writes OUT_DIR/tenet.toml, users in files of 10,000, 5 custom roles,
3 providers, a team, and workspaces in files of 100 (TOML, or KDL with
--kdl). Every user is a member of K workspaces (default 1, spread with a
prime stride), every workspace has an administrator and a provider
assignment, so the tree validates cleanly and every check runs at full size.
"""

import os
import sys


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    kdl = "--kdl" in sys.argv
    per_user = 1
    for a in sys.argv[1:]:
        if a.startswith("--members-per-user="):
            per_user = int(a.split("=", 1)[1])
    if not args:
        sys.exit(__doc__)
    out = args[0]
    users = int(args[1]) if len(args) > 1 else 100_000
    workspaces = int(args[2]) if len(args) > 2 else 10_000
    os.makedirs(os.path.join(out, "users"), exist_ok=True)
    os.makedirs(os.path.join(out, "workspaces"), exist_ok=True)

    with open(os.path.join(out, "tenet.toml"), "w") as f:
        f.write(
            '[platform]\nendpoint = "sandbox:.tenet/bench.db"\nprofile = "m3forge"\n\n'
            "[defaults.quotas]\nstorage_gb = 100\nexecutions_per_month = 10000\n"
            "api_calls_per_month = 1000000\nmax_users = 1000\n\n"
            '[roles.prompt-engineer]\nname = "Prompt Engineer"\n'
            'permissions = ["prompts.*", "workflows.view", "workflows.execute", "monitoring.view"]\n'
            '[roles.qa-tester]\npermissions = ["workflows.view", "workflows.execute", "prompts.view", "agents.view", "monitoring.*"]\n'
            '[roles.pipeline-operator]\npermissions = ["workflows.view", "workflows.execute", "monitoring.view"]\n'
            '[roles.auditor]\npermissions = ["*.view"]\n'
            '[roles.key-keeper]\npermissions = ["credentials.*", "api_keys.*"]\n\n'
            '[providers.openai]\nkind = "openai"\nmodels = ["gpt-4o", "gpt-4o-mini", "gpt-4-turbo"]\n'
            'api_keys = ["env:OPENAI_API_KEY"]\n'
            '[providers.anthropic]\nkind = "anthropic"\nmodels = ["claude-3-5-sonnet", "claude-3-haiku"]\n'
            'api_keys = ["env:ANTHROPIC_API_KEY"]\n'
            '[providers.azure-openai]\nkind = "azure-openai"\nendpoint = "https://bench.openai.azure.com"\n'
            'models = ["gpt-4o", "gpt-4"]\napi_keys = ["env:AZURE_KEY_1", "env:AZURE_KEY_2"]\n\n'
            '[teams.oncall]\nmembers = ["user0@bench.example", "user1@bench.example", "user2@bench.example"]\n'
        )

    chunk = 10_000
    for start in range(0, users, chunk):
        with open(os.path.join(out, "users", f"users-{start // chunk:04}.toml"), "w") as f:
            for i in range(start, min(users, start + chunk)):
                f.write(f'[users."user{i}@bench.example"]\nname = "User {i}"\n')

    members = [[] for _ in range(workspaces)]
    for u in range(users):
        for j in range(per_user):
            members[(u + j * 1009) % workspaces].append(u)

    roles = ["editor", "member", "prompt-engineer", "qa-tester", "pipeline-operator", "auditor"]
    providers = ["openai", "anthropic", "azure-openai"]
    per_file = 100
    for start in range(0, workspaces, per_file):
        ext = "kdl" if kdl else "toml"
        with open(os.path.join(out, "workspaces", f"ws-{start // per_file:04}.{ext}"), "w") as f:
            for w in range(start, min(workspaces, start + per_file)):
                ws_members = sorted(set(members[w]))
                provider = providers[w % 3]
                if kdl:
                    f.write(f'workspace ws-{w} {{\n    name "Workspace {w}"\n')
                    f.write(f"    quotas storage_gb={50 + w % 200}\n")
                    for n, u in enumerate(ws_members):
                        role = "administrator" if n == 0 else roles[u % len(roles)]
                        f.write(f'    member "user{u}@bench.example" {role}\n')
                    f.write("    team oncall pipeline-operator\n")
                    f.write(f"    provider {provider} default=#true\n}}\n")
                else:
                    f.write(f'[workspaces.ws-{w}]\nname = "Workspace {w}"\n')
                    f.write(f"quotas = {{ storage_gb = {50 + w % 200} }}\n")
                    f.write(f"[workspaces.ws-{w}.members]\n")
                    for n, u in enumerate(ws_members):
                        role = "administrator" if n == 0 else roles[u % len(roles)]
                        f.write(f'"user{u}@bench.example" = ["{role}"]\n')
                    f.write(f'[workspaces.ws-{w}.teams]\noncall = ["pipeline-operator"]\n')
                    f.write(f"[workspaces.ws-{w}.providers.{provider}]\ndefault = true\n")


if __name__ == "__main__":
    main()
