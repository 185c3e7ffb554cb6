"""Permissions of governance (declared as data). Loading uses the lake's ``lake.load``; these cover the rest.

``governance.quarantine`` — fix and resubmit quarantined rows (officers of the provider
department, the bureau); ``governance.decrypt`` — read SM4-encrypted share columns in clear
(an entitled, audited read, also needing ``lake.personal.read``).
"""

from yiwang import org
from yiwang.core.security import Declaration, declare

QUARANTINE = "governance.quarantine"
DECRYPT = "governance.decrypt"

DECLARATION = declare(
    Declaration(
        domain="governance",
        permissions={
            QUARANTINE: "Fix and resubmit quarantined rows of one's department",
            DECRYPT: "Decrypt SM4-encrypted share columns, with a reason (audited)",
        },
        grants={
            org.roles.ADMIN: (QUARANTINE, DECRYPT),
            org.roles.DATA_OFFICER: (QUARANTINE, DECRYPT),
        },
    )
)
