"""The catalog in numbers, and the two plan indicators computed from catalog state.

Table 1 of the Kunshan 14th Five-Year plan sets, for 2025 (both binding, 约束性):

- 已挂载数据资源与信息资源目录比率 ≥ 95 %: published entries with data mounted / published entries;
- 数据清洗、脱敏率 = 100 %: published entries whose latest load applied their governance rules
  and masking / published entries.

Both stay at zero until the lake reports mounts and loads (``facts``): the numbers say what is
true, not what is hoped.
"""

from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from yiwang import org
from yiwang.catalog import codes
from yiwang.catalog.models import CatalogEntry, CatalogLoad, CatalogVersion
from yiwang.catalog.queries import visible
from yiwang.catalog.roles import VIEW
from yiwang.catalog.schemas import IndicatorPublic, StatsPublic
from yiwang.core.i18n import N_, _
from yiwang.core.security import Actor

MOUNT_RATE = "mount_rate"
CLEAN_MASK_RATE = "cleaning_masking_rate"
INDICATOR_LABELS = {
    MOUNT_RATE: N_("Mounted data resources to catalog entries"),
    CLEAN_MASK_RATE: N_("Data cleaning and masking rate"),
}
TARGETS = {MOUNT_RATE: 95.0, CLEAN_MASK_RATE: 100.0}


def _percent(numerator: int, denominator: int) -> float:
    return round(100.0 * numerator / denominator, 1) if denominator else 0.0


def indicators(session: Session) -> list[IndicatorPublic]:
    """The two plan indicators over the whole published catalog (public facts, no actor needed)."""
    E = CatalogEntry
    published = session.execute(select(func.count()).where(E.published_version.is_not(None))).scalar_one()
    mounted = session.execute(select(func.count()).where(E.published_version.is_not(None), E.mounted)).scalar_one()
    L = CatalogLoad
    rank = func.row_number().over(partition_by=L.entry_id, order_by=(L.loaded_at.desc(), L.id.desc())).label("rank")
    latest = select(L.entry_id, L.rules_applied, L.masking_applied, rank).subquery()
    governed = session.execute(
        select(func.count())
        .select_from(latest)
        .join(E, E.id == latest.c.entry_id)
        .where(latest.c.rank == 1, latest.c.rules_applied, latest.c.masking_applied, E.published_version.is_not(None))
    ).scalar_one()
    out = []
    for key, numerator in ((MOUNT_RATE, mounted), (CLEAN_MASK_RATE, governed)):
        out.append(
            IndicatorPublic(
                key=key,
                label=_(INDICATOR_LABELS[key]),
                numerator=numerator,
                denominator=published,
                value=_percent(numerator, published),
                target=TARGETS[key],
                binding=True,
            )
        )
    return out


def _class_label(nodes: dict, code: str) -> str:
    """``101 人口基础信息资源``; department classes read as their 类 (部门信息资源), which says more."""
    node = nodes.get(code)
    if node is None:
        return code
    if code.startswith("3") and code[0] in nodes:
        return nodes[code[0]].name
    return node.name


def stats(session: Session, *, actor: Actor) -> StatsPublic:
    """Counts of the published catalog, workflow counts of what the actor sees, and the indicators."""
    actor.require(VIEW)
    E, V = CatalogEntry, CatalogVersion
    rows = session.execute(
        select(E.department_id, V.spec).join(V, and_(V.entry_id == E.id, V.number == E.published_version))
    ).all()
    by_share: Counter[str] = Counter()
    by_open: Counter[str] = Counter()
    by_cycle: Counter[str] = Counter()
    by_dept: Counter[int] = Counter()
    by_class: Counter[str] = Counter()
    items = personal = sensitive = 0
    for department_id, text in rows:
        spec = json.loads(text)
        by_share[spec["share"]["type"]] += 1
        by_open[spec.get("open", {}).get("type", "closed")] += 1
        by_cycle[spec["update_cycle"]] += 1
        by_dept[department_id] += 1
        by_class[spec["classification"][:3]] += 1
        items += len(spec["items"])
        personal += sum(1 for i in spec["items"] if i.get("personal"))
        sensitive += sum(1 for i in spec["items"] if i.get("sensitivity") in ("L3", "L4"))
    vis = visible(actor)
    by_status: dict[str, int] = dict(session.execute(select(vis.c.status, func.count()).group_by(vis.c.status)).all())
    names = {d.id: d.short_name for d in org.list_departments(session)}
    nodes = codes.classes(session)
    return StatsPublic(
        published=len(rows),
        items=items,
        personal_items=personal,
        sensitive_items=sensitive,
        departments=len(by_dept),
        by_status=by_status,
        by_share_type=dict(by_share),
        by_open_type=dict(by_open),
        by_update_cycle=dict(by_cycle),
        by_department=[{"id": d, "name": names.get(d, str(d)), "count": n} for d, n in by_dept.most_common()],
        by_class=[
            {
                "code": c,
                "name": nodes[c].name if c in nodes else c,
                "category": nodes[c[0]].name if c[0] in nodes else c[0],
                "label": _class_label(nodes, c),
                "count": n,
            }
            for c, n in sorted(by_class.items())
        ],
        indicators=indicators(session),
    )
