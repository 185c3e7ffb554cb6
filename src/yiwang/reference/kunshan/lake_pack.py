"""A small demo load at first start, so the lake, quality and lineage pages have data.

3,000 synthetic residents for ``population`` and 400 synthetic enterprises for ``enterprise``
(``governance.demo_files``) are queued as uploads: the load worker of the first ``yiwang up``
runs them through the same path as any upload, seconds after the server starts. Seeding itself
never writes the lake, so a fresh installation's catalog reads "not mounted" until the loads
commit (and command-line or test installations without a worker stay that way).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from yiwang import governance
from yiwang.core.audit import Origin
from yiwang.core.config import Settings
from yiwang.core.security import SYSTEM_ACTOR

ORIGIN = Origin(ip="seed")


def queue_demo_loads(session: Session, settings: Settings) -> dict[str, int]:
    """Write the demo files under ``YIWANG_HOME/uploads`` and queue one replace load for each."""
    folder = settings.home_path / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    queued = 0
    for name, path in governance.demo_files(folder).items():
        governance.queue_file(
            session, actor=SYSTEM_ACTOR, name=name, path=path, mode="replace", origin=ORIGIN, origin_kind="reference"
        )
        queued += 1
    return {"queued_loads": queued}
