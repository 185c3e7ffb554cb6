"""Permissions of the resource catalog and the base roles that hold them.

Viewing published entries is open to every staff role; drafting is for department data
officers (their own department) and the big-data bureau; review and publication are the
bureau's alone (``catalog.review``). ``catalog.facts`` lets the lake and governance record
mounting and load facts.
"""

from yiwang import org
from yiwang.core.security import grant

VIEW = "catalog.view"
EDIT = "catalog.edit"
REVIEW = "catalog.review"
FACTS = "catalog.facts"


def grant_permissions() -> None:
    """Idempotent (grants are sets); called at import so services work outside the web app too."""
    for role in org.roles.STAFF_ROLES:
        grant(role, VIEW)
    grant(org.roles.DATA_OFFICER, EDIT, FACTS)
    grant(org.roles.ADMIN, EDIT, REVIEW, FACTS)
