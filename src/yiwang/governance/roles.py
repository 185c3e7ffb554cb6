"""Permissions of governance. Loading uses the lake's ``lake.load``; these cover the rest.

``governance.quarantine`` — fix and resubmit quarantined rows (officers of the provider
department, the bureau); ``governance.decrypt`` — read SM4-encrypted share columns in clear
(an entitled, audited read, also needing ``personal.read``).
"""

from yiwang import org
from yiwang.core.security import grant

QUARANTINE = "governance.quarantine"
DECRYPT = "governance.decrypt"


def grant_permissions() -> None:
    grant(org.roles.ADMIN, QUARANTINE, DECRYPT)
    grant(org.roles.DATA_OFFICER, QUARANTINE, DECRYPT)
