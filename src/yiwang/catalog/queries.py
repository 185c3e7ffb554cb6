"""Reading the catalog, filtered by who asks.

Published entries are visible to all staff (``catalog.view``). Who is in an entry's
department scope (its officers and handlers, or the city-wide roles) sees the working copy,
drafts included; everyone else sees the latest published version, and never an entry that
has none. ``visible(actor)`` expresses that as one SQL subquery that lists and search share.
"""

from __future__ import annotations

import json

from sqlalchemy import Select, and_, func, literal, not_, or_, select
from sqlalchemy.orm import Session

from yiwang import org
from yiwang.catalog import codes, search
from yiwang.catalog.models import (
    CatalogChange,
    CatalogEntry,
    CatalogLoad,
    CatalogRules,
    CatalogSearchTerm,
    CatalogVersion,
)
from yiwang.catalog.roles import REVIEW, VIEW
from yiwang.catalog.schemas import (
    ChangePublic,
    LoadFactPublic,
    MountPublic,
    ProviderPublic,
    ResourcePublic,
    ResourceSummary,
    RulesPublic,
    VersionPublic,
)
from yiwang.catalog.service import get_entry
from yiwang.core.errors import AccessDenied, Invalid, NotFound
from yiwang.core.i18n import _
from yiwang.core.security import Actor, in_scope, scope_filter

STATUSES = ("draft", "submitted", "rejected", "published")
SORTS = ("relevance", "code", "title", "updated")


def sees_working(actor: Actor, department_id: int) -> bool:
    return in_scope(actor, department_id=department_id)


def visible(actor: Actor):
    """One row per entry the actor may see, with the listed fields of the copy they may see."""
    mine = scope_filter(actor, department_col=CatalogEntry.department_id)
    E, V = CatalogEntry, CatalogVersion
    working = select(
        E.id.label("entry_id"),
        E.title,
        E.classification,
        E.share_type,
        E.open_type,
        E.update_cycle,
        E.items_count,
        E.status,
        literal("working").label("view"),
    ).where(mine)
    published = (
        select(
            E.id.label("entry_id"),
            V.title,
            V.classification,
            V.share_type,
            V.open_type,
            V.update_cycle,
            V.items_count,
            literal("published").label("status"),
            literal("published").label("view"),
        )
        .join(V, and_(V.entry_id == E.id, V.number == E.published_version))
        .where(not_(mine))
    )
    return working.union_all(published).subquery("visible")


def _ranked(actor: Actor, terms: list[str]):
    """Entry ids holding every term in the layer the actor sees, with their score."""
    mine = scope_filter(actor, department_col=CatalogEntry.department_id)
    T = CatalogSearchTerm
    layer = or_(and_(T.layer == "working", mine), and_(T.layer == "published", not_(mine)))
    return (
        select(T.entry_id, func.sum(T.weight).label("score"))
        .join(CatalogEntry, CatalogEntry.id == T.entry_id)
        .where(T.term.in_(terms), layer)
        .group_by(T.entry_id)
        .having(func.count(T.term) == len(terms))
    ).subquery("ranked")


def list_resources(
    session: Session,
    *,
    actor: Actor,
    q: str | None = None,
    status: str | None = None,
    department_id: int | None = None,
    share_type: str | None = None,
    open_type: str | None = None,
    classification: str | None = None,
    sort: str = "relevance",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ResourceSummary], int]:
    """Entries the actor may see, searched and filtered; ``(page, total)``."""
    actor.require(VIEW)
    if status and status not in STATUSES:
        raise Invalid(_("Unknown status %(value)s.", value=status), field="status")
    if sort not in SORTS:
        raise Invalid(_("Unknown sort order %(value)s.", value=sort), field="sort")
    vis = visible(actor)
    E = CatalogEntry
    stmt: Select = select(vis, E.name, E.code, E.department_id, E.published_version, E.updated_at).join(
        E, E.id == vis.c.entry_id
    )
    terms = search.query_terms(q) if q else []
    if q and not terms:
        return [], 0
    score = literal(None)
    if terms:
        ranked = _ranked(actor, terms)
        stmt = stmt.add_columns(ranked.c.score).join(ranked, ranked.c.entry_id == vis.c.entry_id)
        score = ranked.c.score
    for column, value in (
        (vis.c.status, status),
        (E.department_id, department_id),
        (vis.c.share_type, share_type),
        (vis.c.open_type, open_type),
    ):
        if value:
            stmt = stmt.where(column == value)
    if classification:
        stmt = stmt.where(vis.c.classification.startswith(classification, autoescape=True))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    order = {"code": (E.code.is_(None), E.code, E.name), "title": (vis.c.title,), "updated": (E.updated_at.desc(),)}
    if sort == "relevance":
        stmt = (
            stmt.order_by(score.desc(), E.code.is_(None), E.code, E.name)
            if terms
            else stmt.order_by(E.code.is_(None), E.code, E.name)
        )
    else:
        stmt = stmt.order_by(*order[sort], E.name)
    rows = session.execute(stmt.limit(min(limit, 500)).offset(offset)).all()
    departments, nodes = _names(session), codes.classes(session)
    return [_summary(r, departments, nodes) for r in rows], total


def _names(session: Session) -> dict[int, tuple[str, str]]:
    return {d.id: (d.name, d.short_name) for d in org.list_departments(session)}


def _summary(row, departments: dict[int, tuple[str, str]], nodes) -> ResourceSummary:
    name, short = departments.get(row.department_id, ("", ""))
    node = nodes.get(row.classification)
    return ResourceSummary(
        name=row.name,
        code=row.code,
        title=row.title,
        status=row.status,
        view=row.view,
        provider=name,
        provider_short=short,
        department_id=row.department_id,
        classification=row.classification,
        classification_name=node.name if node else row.classification,
        classification_label=codes.path_label(nodes, row.classification),
        share_type=row.share_type,
        open_type=row.open_type,
        update_cycle=row.update_cycle,
        items_count=row.items_count,
        published_version=row.published_version,
        updated_at=row.updated_at,
        score=getattr(row, "score", None),
    )


def get_visible_entry(session: Session, *, actor: Actor, name: str) -> CatalogEntry:
    """The entry row, if the actor may see some copy of it (403 for another department's draft)."""
    actor.require(VIEW)
    entry = get_entry(session, name)
    if entry.published_version is None and not sees_working(actor, entry.department_id):
        raise AccessDenied(
            _("%(name)s is a draft of another department.", name=name),
            code="out_of_scope",
            target=f"catalog_resource:{name}",
        )
    return entry


def get_resource(
    session: Session, *, actor: Actor, name: str, version: int | None = None, working: bool = False
) -> ResourcePublic:
    """An entry: its latest published version, version ``N``, or (``working=True``, for those in the
    department's scope) the working copy with its draft changes."""
    entry = get_visible_entry(session, actor=actor, name=name)
    mine = sees_working(actor, entry.department_id)
    if working and not mine:
        raise AccessDenied(
            _("Only %(name)s's department sees its working copy.", name=name),
            code="out_of_scope",
            target=f"catalog_resource:{name}",
        )
    row = None
    if not working:
        number = version or entry.published_version
        if number is None:
            raise NotFound(_("%(name)s has no published version yet.", name=name), field="version")
        row = session.execute(
            select(CatalogVersion).where(CatalogVersion.entry_id == entry.id, CatalogVersion.number == number)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(_("%(name)s has no version %(n)s.", name=name, n=number), field="version")
    spec = json.loads(entry.spec if row is None else row.spec)
    in_force = (
        row.rules_version
        if row is not None
        else (
            session.execute(
                select(CatalogVersion.rules_version).where(
                    CatalogVersion.entry_id == entry.id, CatalogVersion.number == entry.published_version
                )
            ).scalar_one_or_none()
            if entry.published_version
            else None
        )
    )
    dept = org.get_department(session, entry.department_id)
    latest = session.execute(
        select(CatalogLoad)
        .where(CatalogLoad.entry_id == entry.id)
        .order_by(CatalogLoad.loaded_at.desc(), CatalogLoad.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return ResourcePublic(
        name=entry.name,
        code=entry.code,
        status=entry.status if row is None else "published",
        view="working" if row is None else "published",
        version=entry.published_version if row is None else row.number,
        published_version=entry.published_version,
        revision=entry.revision,
        provider=ProviderPublic(id=dept.id, key=dept.key, name=dept.name, credit_code=dept.credit_code),
        classification_label=codes.path_label(codes.classes(session), spec["classification"]),
        spec=spec,
        rules_version=in_force,
        published_at=row.published_at if row is not None else None,
        review_note=entry.review_note if mine else None,
        updated_at=entry.updated_at,
        updated_by=entry.updated_by,
        mount=MountPublic(mounted=entry.mounted, tables=json.loads(entry.mount_tables), mounted_at=entry.mounted_at),
        latest_load=load_public(latest) if latest else None,
    )


def load_public(row: CatalogLoad) -> LoadFactPublic:
    return LoadFactPublic(
        loaded_at=row.loaded_at,
        recorded_by=row.recorded_by,
        rules_version=row.rules_version,
        rules_applied=row.rules_applied,
        masking_applied=row.masking_applied,
        rows_read=row.rows_read,
        rows_accepted=row.rows_accepted,
        rows_quarantined=row.rows_quarantined,
        detail=json.loads(row.detail),
    )


def titles(session: Session, *, actor: Actor, names: list[str]) -> dict[str, str]:
    """Titles of the named entries the actor may see (for links to related resources)."""
    if not names:
        return {}
    vis = visible(actor)
    rows = session.execute(
        select(CatalogEntry.name, vis.c.title)
        .join(vis, vis.c.entry_id == CatalogEntry.id)
        .where(CatalogEntry.name.in_(names))
    ).all()
    return dict(rows)


def list_versions(session: Session, *, actor: Actor, name: str) -> list[VersionPublic]:
    entry = get_visible_entry(session, actor=actor, name=name)
    rows = session.execute(
        select(CatalogVersion).where(CatalogVersion.entry_id == entry.id).order_by(CatalogVersion.number.desc())
    ).scalars()
    return [VersionPublic.model_validate(r) for r in rows]


def history(session: Session, *, actor: Actor, name: str, limit: int = 200) -> list[ChangePublic]:
    """The change history; people outside the department see only publications (drafts are theirs)."""
    entry = get_visible_entry(session, actor=actor, name=name)
    stmt = select(CatalogChange).where(CatalogChange.entry_id == entry.id)
    if not sees_working(actor, entry.department_id):
        stmt = stmt.where(CatalogChange.action.in_(("publish", "mount", "unmount", "load")))
    rows = session.execute(stmt.order_by(CatalogChange.id.desc()).limit(limit)).scalars()
    return [
        ChangePublic(at=r.at, actor=r.actor, action=r.action, version=r.version, note=r.note, diff=json.loads(r.diff))
        for r in rows
    ]


def review_queue(session: Session, *, actor: Actor) -> list[ResourceSummary]:
    """Submitted entries, oldest first, for the big-data bureau."""
    actor.require(REVIEW)
    rows, _total = list_resources(session, actor=actor, status="submitted", sort="updated", limit=500)
    return sorted(rows, key=lambda r: r.updated_at)


def resource_rules(session: Session, name: str, version: int | None = None) -> RulesPublic:
    """The governance rules of a published entry (latest rules version, or ``version``).

    For the lake and governance (no actor: they act as the platform). ``rules['version']`` is
    the rules version as text, so a load can cite it.
    """
    entry = get_entry(session, name)
    stmt = select(CatalogRules).where(CatalogRules.entry_id == entry.id)
    stmt = stmt.where(CatalogRules.version == version) if version else stmt.order_by(CatalogRules.version.desc())
    row = session.execute(stmt.limit(1)).scalar_one_or_none()
    if row is None:
        message = (
            _("%(name)s has no rules version %(n)s.", name=name, n=version)
            if version
            else _("%(name)s has no published governance rules.", name=name)
        )
        raise NotFound(message, field="version")
    rules = json.loads(row.rules)
    rules.update(resource=name, version=str(row.version))
    return RulesPublic(
        name=name, version=row.version, rules=rules, created_at=row.created_at, created_by=row.created_by
    )
