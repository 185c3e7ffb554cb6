"""The cockpit's one permission, declared as data: the city on one screen, for leaders and the bureau."""

from yiwang import org
from yiwang.core.security import Declaration, declare

VIEW = "cockpit.view"

DECLARATION = declare(
    Declaration(
        domain="cockpit",
        permissions={VIEW: "See the city overview (the leaders' end)"},
        grants={org.roles.ADMIN: (VIEW,), org.roles.LEADER: (VIEW,)},
    )
)
