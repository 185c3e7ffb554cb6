"""The platform's base roles, their data scopes and the foundation's permissions.

Higher domains grant their own permissions to these roles in their ``register``.
Labels are English message ids, shown translated (zh_CN first).
"""

from yiwang.core.i18n import N_
from yiwang.core.security import ScopeKind, define_role, grant

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
COCKPIT = "cockpit.view"
ORG_VIEW = "org.view"
ORG_MANAGE = "org.manage"
PERSONAL_READ = "personal.read"
AUDIT_VIEW = "audit.view"
TOKENS_USE = "tokens.use"


def define_base_roles() -> None:
    define_role(ADMIN, N_("Big-data bureau administrator"), ScopeKind.ALL)
    define_role(AUDITOR, N_("Security auditor"), ScopeKind.ALL)
    define_role(DATA_OFFICER, N_("Department data officer"), ScopeKind.DEPARTMENT)
    define_role(CASE_HANDLER, N_("Department case handler"), ScopeKind.DEPARTMENT)
    define_role(TOWN_WORKER, N_("Town worker"), ScopeKind.REGION)
    define_role(GRID_WORKER, N_("Grid worker"), ScopeKind.REGION)
    define_role(LEADER, N_("City leader"), ScopeKind.ALL)
    define_role(CITIZEN, N_("Citizen"), ScopeKind.SELF, staff=False)
    define_role(ENTERPRISE, N_("Enterprise"), ScopeKind.SELF, staff=False)

    for role in STAFF_ROLES:
        grant(role, WORKSPACE, TOKENS_USE, ORG_VIEW)
    grant(ADMIN, ORG_MANAGE, PERSONAL_READ, AUDIT_VIEW, COCKPIT)
    grant(AUDITOR, AUDIT_VIEW)
    grant(LEADER, COCKPIT)
    grant(DATA_OFFICER, PERSONAL_READ)
    grant(TOWN_WORKER, PERSONAL_READ)
    for role in (CITIZEN, ENTERPRISE):
        grant(role, PORTAL, TOKENS_USE)
