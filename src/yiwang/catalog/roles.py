"""Permissions of the resource catalog and the base roles that hold them (declared as data).

Viewing published entries is open to every staff role; drafting is for department data
officers (their own department) and the big-data bureau; review and publication are the
bureau's alone (``catalog.review``). ``catalog.facts`` lets the lake and governance record
mounting and load facts.
"""

from yiwang import org
from yiwang.core.security import Declaration, declare

VIEW = "catalog.view"
EDIT = "catalog.edit"
REVIEW = "catalog.review"
FACTS = "catalog.facts"

DECLARATION = declare(
    Declaration(
        domain="catalog",
        permissions={
            VIEW: "Search and read published catalog entries",
            EDIT: "Draft, change, submit and withdraw entries of one's department",
            REVIEW: "Publish or reject submitted entries",
            FACTS: "Record mount state and load facts of entries",
        },
        grants={
            **dict.fromkeys(org.roles.STAFF_ROLES, (VIEW,)),
            org.roles.DATA_OFFICER: (VIEW, EDIT, FACTS),
            org.roles.ADMIN: (VIEW, EDIT, REVIEW, FACTS),
        },
    )
)
