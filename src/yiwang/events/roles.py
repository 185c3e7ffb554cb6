"""Permissions of the event center and the roles that hold them.

Two roles are new: the command center's dispatcher (指挥中心调度员), who sees the whole
city, registers and dispatches; and the supervisor (督查员), who watches deadlines and
presses departments (督办). The foundation's roles get the event permissions they need.
Declared as data (``core.security.Declaration``).
"""

from yiwang import org
from yiwang.core.i18n import N_
from yiwang.core.security import Declaration, RoleInfo, ScopeKind, declare

DISPATCHER = "dispatcher"
SUPERVISOR = "supervisor"

VIEW = "events.view"  # read cases in one's data scope
REPORT = "events.report"  # staff report (inspectors, grid workers)
REPORT_GRID = "events.report_grid"  # staff report as a grid patrol: source "grid", inside one's own region
REPORT_PUBLIC = "events.report_public"  # citizens and enterprises report
DISPATCH = "events.dispatch"  # register, dispatch, return handling, approve extensions, close
HANDLE = "events.handle"  # department handler: take, return, complete, ask for more time
VERIFY = "events.verify"  # on-site verification
SUPERVISE = "events.supervise"  # 督办 and the overdue view
STATS = "events.stats"  # statistics and exports
MANAGE = "events.manage"  # API keys, model retraining
INTAKE = "events.intake"  # held by API-key actors (machines, partners), never by a role
REPORTER_READ = "events.reporter.read"  # a case reporter's name and phone, with a reason (audited)

ALL = (VIEW, REPORT, DISPATCH, HANDLE, VERIFY, SUPERVISE, STATS)

STEP_PERMISSIONS = {  # workflow step (API and pages) → the permission its route declares
    **dict.fromkeys(
        ("register", "reclassify", "dispatch", "extend-decision", "close", "backlog", "invalidate", "merge"), DISPATCH
    ),
    **dict.fromkeys(("take", "return", "extend", "complete"), HANDLE),
    "verify": VERIFY,
    "supervise": SUPERVISE,
    **dict.fromkeys(("rate", "reopen"), (REPORT_PUBLIC, REPORT)),  # the case's own reporter (checked by the step)
}

_r = org.roles
_STAFF = (_r.WORKSPACE, _r.TOKENS_USE, _r.ORG_VIEW)

DECLARATION = declare(
    Declaration(
        domain="events",
        permissions={
            VIEW: "Read cases in scope (reporter masked)",
            REPORT: "Report a case as staff (source: inspector)",
            REPORT_GRID: "Report as a grid patrol (source: grid, inside one's own region)",
            REPORT_PUBLIC: "Report a case and follow one's own reports",
            DISPATCH: "Register, dispatch, decide extensions, close, merge, invalidate; hotline imports",
            HANDLE: "Take, return, complete one's department's tasks; ask for more time",
            VERIFY: "Verify handled cases on site",
            SUPERVISE: "Overdue view and supervision notes (督办)",
            STATS: "Case statistics and XLSX export",
            MANAGE: "API keys of machine sources, model retraining",
            INTAKE: "Machine and partner intake (held by API keys, not by roles)",
            REPORTER_READ: "Read a case reporter's name and phone, with a reason (audited)",
        },
        roles=(
            RoleInfo(DISPATCHER, N_("Command center dispatcher"), ScopeKind.ALL),
            RoleInfo(SUPERVISOR, N_("Case supervisor"), ScopeKind.ALL),
        ),
        grants={
            DISPATCHER: (*_STAFF, VIEW, REPORT, DISPATCH, VERIFY, SUPERVISE, STATS, REPORTER_READ),
            SUPERVISOR: (*_STAFF, VIEW, SUPERVISE, STATS),
            _r.ADMIN: (*ALL, MANAGE, REPORTER_READ),
            _r.CASE_HANDLER: (VIEW, HANDLE),
            _r.TOWN_WORKER: (VIEW, REPORT, VERIFY, STATS, REPORTER_READ),  # calls the reporter when verifying
            _r.GRID_WORKER: (VIEW, REPORT, REPORT_GRID, VERIFY),
            _r.LEADER: (VIEW, SUPERVISE, STATS),
            _r.AUDITOR: (VIEW,),
            _r.CITIZEN: (REPORT_PUBLIC,),
            _r.ENTERPRISE: (REPORT_PUBLIC,),
        },
    )
)
