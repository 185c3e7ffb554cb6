"""The platform's base roles, their data scopes and the foundation's permissions, declared as data.

Every domain's ``roles.py`` fills one ``core.security.Declaration`` (the permissions it owns with a
label, the roles it defines, its grants) and passes it to ``declare`` once, at import. Higher domains
grant their own permissions to these roles in their declaration. Labels are English message ids,
shown translated (zh_CN first).
"""

from yiwang.core.i18n import N_
from yiwang.core.security import Declaration, RoleInfo, ScopeKind, declare

ADMIN = "admin"
AUDITOR = "auditor"
DATA_OFFICER = "data_officer"
CASE_HANDLER = "case_handler"
TOWN_WORKER = "town_worker"
GRID_WORKER = "grid_worker"
LEADER = "leader"
CITIZEN = "citizen"
ENTERPRISE = "enterprise"

STAFF_ROLES = (ADMIN, AUDITOR, DATA_OFFICER, CASE_HANDLER, TOWN_WORKER, GRID_WORKER, LEADER)

# Permissions of the foundation
WORKSPACE = "workspace.use"
PORTAL = "portal.use"
ORG_VIEW = "org.view"
ORG_MANAGE = "org.manage"
PERSONAL_READ = "org.personal.read"  # users' phone, ID number and e-mail in the directory (not cases, not the lake)
AUDIT_VIEW = "audit.view"
TOKENS_USE = "tokens.use"

PERSONAL_AUDIT_ACTION = "personal.read"
"""The audit action of every personal-data read, whatever the permission (target_type tells which record)."""

DECLARATION = declare(
    Declaration(
        domain="org",
        permissions={
            WORKSPACE: "Use the staff workspace",
            PORTAL: "Use the public portal signed in",
            ORG_VIEW: "See users (masked), departments and regions in scope",
            ORG_MANAGE: "Create and change user accounts",
            PERSONAL_READ: "Read a user's phone, ID number and e-mail, with a reason (audited)",
            AUDIT_VIEW: "Browse and verify the audit ledger",
            TOKENS_USE: "Create and revoke one's own API tokens",
        },
        roles=(
            RoleInfo(ADMIN, N_("Big-data bureau administrator"), ScopeKind.ALL),
            RoleInfo(AUDITOR, N_("Security auditor"), ScopeKind.ALL),
            RoleInfo(DATA_OFFICER, N_("Department data officer"), ScopeKind.DEPARTMENT),
            RoleInfo(CASE_HANDLER, N_("Department case handler"), ScopeKind.DEPARTMENT),
            RoleInfo(TOWN_WORKER, N_("Town worker"), ScopeKind.REGION),
            RoleInfo(GRID_WORKER, N_("Grid worker"), ScopeKind.REGION),
            RoleInfo(LEADER, N_("City leader"), ScopeKind.ALL),
            RoleInfo(CITIZEN, N_("Citizen"), ScopeKind.SELF, staff=False),
            RoleInfo(ENTERPRISE, N_("Enterprise"), ScopeKind.SELF, staff=False),
        ),
        grants={
            ADMIN: (WORKSPACE, TOKENS_USE, ORG_VIEW, ORG_MANAGE, PERSONAL_READ, AUDIT_VIEW),
            AUDITOR: (WORKSPACE, TOKENS_USE, ORG_VIEW, AUDIT_VIEW),
            DATA_OFFICER: (WORKSPACE, TOKENS_USE, ORG_VIEW),
            CASE_HANDLER: (WORKSPACE, TOKENS_USE, ORG_VIEW),
            TOWN_WORKER: (WORKSPACE, TOKENS_USE, ORG_VIEW, PERSONAL_READ),  # residents of the town (e.g. 低保 checks)
            GRID_WORKER: (WORKSPACE, TOKENS_USE, ORG_VIEW),
            LEADER: (WORKSPACE, TOKENS_USE, ORG_VIEW),
            CITIZEN: (PORTAL, TOKENS_USE),
            ENTERPRISE: (PORTAL, TOKENS_USE),
        },
    )
)
