"""Kunshan's reference catalog: the classification and about fifty published resource entries.

The entries are read from ``catalog_resources.yaml`` through the same path as
``yiwang catalog apply`` (so the file is checked like any officer's file), then submitted and
published by the platform, the way the big-data bureau would. One entry is left awaiting
review, so the review queue of a fresh installation is not empty.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from yiwang import catalog, org
from yiwang.core.audit import Origin
from yiwang.core.config import Settings
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.reference.kunshan.org_pack import DATA, read_csv

ORIGIN = Origin(ip="seed")
AWAITING_REVIEW = ("gas_accounts",)


def seed_classification(session: Session, settings: Settings) -> dict[str, int]:
    keys = {d.key: d.id for d in org.list_departments(session)}
    rows = [
        {
            "code": r["code"],
            "name": r["name"],
            "level": int(r["level"]),
            "parent_code": r["parent_code"] or None,
            "department_id": keys[r["department_key"]] if r["department_key"] else None,
            "sort": i,
        }
        for i, r in enumerate(read_csv("catalog_classification.csv"))
    ]
    return {"classes": catalog.import_classes(session, rows)}


def seed_resources(session: Session, settings: Settings) -> dict[str, int]:
    text = (DATA / "catalog_resources.yaml").read_text(encoding="utf-8")
    docs = catalog.load_entry_file(text, source="catalog_resources.yaml")
    results = catalog.apply_documents(session, actor=SYSTEM_ACTOR, docs=docs, origin=ORIGIN, submit=True)
    published = 0
    for result in results:
        if result.name not in AWAITING_REVIEW:
            catalog.publish_resource(
                session, actor=SYSTEM_ACTOR, name=result.name, origin=ORIGIN, note="昆山市政务信息资源目录（参考数据）"
            )
            published += 1
    return {"entries": len(results), "published": published}
