"""Permissions of the event center and the roles that hold them.

Two roles are new: the command center's dispatcher (指挥中心调度员), who sees the whole
city, registers and dispatches; and the supervisor (督查员), who watches deadlines and
presses departments (督办). The foundation's roles get the event permissions they need.
"""

from yiwang import org
from yiwang.core.i18n import N_
from yiwang.core.security import ScopeKind, define_role, grant

DISPATCHER = "dispatcher"
SUPERVISOR = "supervisor"

VIEW = "events.view"            # read cases in one's data scope
REPORT = "events.report"        # staff report (inspectors, grid workers)
REPORT_PUBLIC = "events.report_public"  # citizens and enterprises report
DISPATCH = "events.dispatch"    # register, dispatch, return handling, approve extensions, close
HANDLE = "events.handle"        # department handler: take, return, complete, ask for more time
VERIFY = "events.verify"        # on-site verification
SUPERVISE = "events.supervise"  # 督办 and the overdue view
STATS = "events.stats"          # statistics and exports
MANAGE = "events.manage"        # API keys, model retraining

ALL = (VIEW, REPORT, DISPATCH, HANDLE, VERIFY, SUPERVISE, STATS)


def define() -> None:
    define_role(DISPATCHER, N_("Command center dispatcher"), ScopeKind.ALL)
    define_role(SUPERVISOR, N_("Case supervisor"), ScopeKind.ALL)
    r = org.roles
    for role in (DISPATCHER, SUPERVISOR):
        grant(role, r.WORKSPACE, r.TOKENS_USE, r.ORG_VIEW)
    grant(DISPATCHER, VIEW, REPORT, DISPATCH, VERIFY, SUPERVISE, STATS, r.PERSONAL_READ)
    grant(SUPERVISOR, VIEW, SUPERVISE, STATS)
    grant(r.ADMIN, *ALL, MANAGE)
    grant(r.CASE_HANDLER, VIEW, HANDLE)
    grant(r.TOWN_WORKER, VIEW, REPORT, VERIFY, STATS)
    grant(r.GRID_WORKER, VIEW, REPORT, VERIFY)
    grant(r.LEADER, VIEW, SUPERVISE, STATS)
    grant(r.AUDITOR, VIEW)
    for role in (r.CITIZEN, r.ENTERPRISE):
        grant(role, REPORT_PUBLIC)
