"""Permissions of the lake and the base roles that hold them.

Seeing mounted tables and their history is for the department data officers (their own
department's resources), the big-data bureau and the city's leaders; loading data and lake SQL
are for officers and the bureau. Reading rows of the raw, clean and quarantine zones also needs
``personal.read`` and a declared reason (see ``access``).
"""

from yiwang import org
from yiwang.core.security import grant

VIEW = "lake.view"
LOAD = "lake.load"
SQL = "lake.sql"


def grant_permissions() -> None:
    """Idempotent (grants are sets)."""
    grant(org.roles.ADMIN, VIEW, LOAD, SQL)
    grant(org.roles.DATA_OFFICER, VIEW, LOAD, SQL)
    grant(org.roles.LEADER, VIEW)
    grant(org.roles.AUDITOR, VIEW)
