"""Permissions of the lake and the base roles that hold them (declared as data).

Seeing mounted tables and their history is for the department data officers (their own
department's resources), the big-data bureau and the city's leaders; loading data and lake SQL
are for officers and the bureau. Reading rows of the raw, clean and quarantine zones also needs
``lake.personal.read`` and a declared reason (see ``access``).
"""

from yiwang import org
from yiwang.core.security import Declaration, declare

VIEW = "lake.view"
LOAD = "lake.load"
SQL = "lake.sql"
PERSONAL_READ = "lake.personal.read"  # rows of the raw, clean and quarantine zones (residents as received)

DECLARATION = declare(
    Declaration(
        domain="lake",
        permissions={
            VIEW: "See mounted resources, snapshots and masked share rows in scope",
            LOAD: "Load data into a resource of one's department",
            SQL: "Run read-only SQL over the lake, with a reason (audited)",
            PERSONAL_READ: "Read raw, clean and quarantine rows (personal data as received), with a reason (audited)",
        },
        grants={
            org.roles.ADMIN: (VIEW, LOAD, SQL, PERSONAL_READ),
            org.roles.DATA_OFFICER: (VIEW, LOAD, SQL, PERSONAL_READ),
            org.roles.LEADER: (VIEW,),
            org.roles.AUDITOR: (VIEW,),
        },
    )
)
