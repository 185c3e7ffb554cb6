"""Intake from the three sources into one queue: validate, locate, accept durably.

A report is checked (text length, category, location inside Kunshan, phone), located
(point → grid; address → reference places) and written with status ``accepted`` and
triage ``pending``: classification, duplicate detection and the department proposal run
afterwards in the triage worker, so acceptance stays fast and a 201 means the case is
stored. ``accept_many`` writes a whole batch in one transaction — one multi-row INSERT of
cases (``ON CONFLICT (idem_key) DO NOTHING``, so a retried idempotency key returns the
first case) and one of timeline rows, both straight through the driver (``core.bulk``) —
which is how the intake API keeps up with bursts (see ``batcher``).

The acceptance's audit entry (who, from which address, which channel — kept on the
``accept`` timeline row) is chained by the triage worker, in the same transaction that
triages the case: a case stays ``pending`` until its acceptance is in the ledger, so no
entry can be lost, and the ledger's single head row (every audited write serialises on it)
is locked once per triage batch instead of once per intake commit.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from yiwang.core import bulk, db
from yiwang.core.audit import Origin
from yiwang.core.crypto import blind_index
from yiwang.core.errors import Invalid, PayloadTooLarge
from yiwang.core.i18n import _
from yiwang.events import sla
from yiwang.events.locate import inside_city, locator
from yiwang.events.models import ACTION_TABLE, CASE_TABLE, Case
from yiwang.events.queries import CHANNELS, SOURCES, number, require_category
from yiwang.events.settings import get_events_settings

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
CHANNEL_SOURCE = {
    "portal": "passive",
    "hotline": "passive",
    "open311": "passive",
    "app": "passive",
    "grid": "active",
    "inspector": "active",
    "iot": "automatic",
    "video": "automatic",
    "indicator": "automatic",
    "api": "automatic",
}


@dataclass
class Report:
    """A validated report, ready to be accepted."""

    channel: str
    description: str
    category_code: str | None = None
    lng: float | None = None
    lat: float | None = None
    address: str | None = None
    region_code: str | None = None
    town_code: str | None = None
    located_by: str | None = None
    reporter_user_id: int | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    client: str | None = None
    external_id: str | None = None
    source_ref: str | None = None
    idem_key: str | None = None
    created_at: dt.datetime | None = None  # hotline records keep their call time
    attributes: dict | None = None  # Open311 service attributes, kept on the timeline
    source: str = field(init=False)

    def __post_init__(self) -> None:
        self.source = CHANNEL_SOURCE[self.channel]


@dataclass(frozen=True)
class Accepted:
    id: int
    number: str
    token: str
    created: bool  # False: an earlier request with the same idempotency key made it


def clean_text(value: str | None, *, field_name: str = "description", required: bool = True) -> str:
    text = (value or "").strip()
    limit = get_events_settings().max_text_chars
    if len(text) > limit:
        raise PayloadTooLarge(
            _("The description is too long: %(n)s characters (limit %(limit)s).", n=len(text), limit=limit),
            field=field_name,
        )
    if required and len(text) < 4:
        raise Invalid(_("Describe the problem in at least 4 characters."), field=field_name)
    return text


def clean_phone(value: str | None) -> str | None:
    phone = re.sub(r"[\s-]", "", value or "")
    if not phone:
        return None
    if not MOBILE_RE.match(phone):
        raise Invalid(_("%(value)s is not a mainland mobile number.", value=phone[:20]), field="phone")
    return phone


def parse_coordinate(value, name: str, low: float, high: float) -> float | None:
    if value is None or value == "":
        return None
    try:
        number_ = float(value)
    except (TypeError, ValueError):
        raise Invalid(_("%(name)s must be a number.", name=name), field=name) from None
    if not low <= number_ <= high or number_ != number_:
        raise Invalid(_("%(name)s is out of range.", name=name), field=name)
    return number_


def build(
    session: Session,
    *,
    channel: str,
    description: str | None,
    category_code: str | None = None,
    lng=None,
    lat=None,
    address: str | None = None,
    require_location: bool = True,
    within_region: str | None = None,
    defer_locate: bool = False,
    **extra,
) -> Report:
    """Check and locate one report; raises ``Invalid`` with the field at fault."""
    if channel not in CHANNELS:
        raise Invalid(_("Unknown channel %(c)s.", c=str(channel)[:20]), field="channel")
    text = clean_text(description)
    code = require_category(category_code).code if category_code else None
    lng = parse_coordinate(lng, "long", -180, 180)
    lat = parse_coordinate(lat, "lat", -90, 90)
    address = (address or "").strip()[:300] or None
    if (lng is None) != (lat is None):
        raise Invalid(_("Give both latitude and longitude, or an address."), field="lat")
    report = Report(channel=channel, description=text, category_code=code, address=address, **extra)
    report.reporter_phone = clean_phone(report.reporter_phone)
    if report.reporter_name:
        report.reporter_name = report.reporter_name.strip()[:50] or None
    if lng is not None:
        if not inside_city(lng, lat):
            raise Invalid(
                _("The point (%(lat)s, %(lng)s) is outside Kunshan.", lat=round(lat, 5), lng=round(lng, 5)),
                field="lat",
                code="outside_city",
            )
        report.lng, report.lat, report.located_by = lng, lat, "point"
        if not defer_locate:  # else accept_many locates the whole batch at once
            place = locator(session).locate(lng, lat)
            report.region_code, report.town_code = place.region_code, place.town_code
    elif address:
        geo = locator(session).geocode(address)
        report.lng, report.lat, report.region_code, report.town_code = geo.lng, geo.lat, geo.region_code, geo.town_code
        report.located_by = "address" if geo.precision != "none" else None
    elif require_location:
        raise Invalid(
            _("Give the location: a point on the map (lat/long) or an address."),
            field="location",
            code="missing_location",
        )
    if within_region and not (report.region_code or "").startswith(within_region):
        raise Invalid(_("The point is outside your grid or region."), field="lat", code="outside_region")
    return report


class _Numbered(NamedTuple):
    """What ``number`` reads of a case, for cases written without the ORM."""

    id: int
    created_at: dt.datetime


def accept_many(session: Session, reports: list[Report], actors: list, origins: list[Origin]) -> list[Accepted]:
    """Write a batch of reports atomically; idempotency keys already used return the earlier case."""
    now = db.utcnow()
    step = sla.dispatch_step(now)
    unlocated = [r for r in reports if r.lng is not None and r.region_code is None]
    if unlocated:
        towns, villages, grids = locator(session).locate_many([r.lng for r in unlocated], [r.lat for r in unlocated])
        for r, t, v, g in zip(unlocated, towns, villages, grids, strict=True):
            r.region_code, r.town_code = (g or v or t or None), (t or None)
    first_of_key: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    row_index: list[int] = []
    for i, r in enumerate(reports):
        if r.idem_key and r.idem_key in first_of_key:
            continue
        if r.idem_key:
            first_of_key[r.idem_key] = i
        cat = require_category(r.category_code) if r.category_code else None
        created = r.created_at or now
        rows.append(
            {
                "token": secrets.token_hex(16),
                "idem_key": r.idem_key,
                "source": r.source,
                "channel": r.channel,
                "client": r.client,
                "external_id": r.external_id,
                "source_ref": r.source_ref,
                "status": "accepted",
                "category_code": r.category_code,
                "category_by": "reporter" if r.category_code else None,
                "description": r.description,
                "address": r.address,
                "lng": r.lng,
                "lat": r.lat,
                "region_code": r.region_code,
                "town_code": r.town_code,
                "located_by": r.located_by,
                "priority": cat.priority if cat else 3,
                "triage_status": "pending",
                "needs_human": False,
                "reporter_user_id": r.reporter_user_id,
                "reporter_name": r.reporter_name,
                "reporter_phone": r.reporter_phone,
                "reporter_phone_index": blind_index(r.reporter_phone) if r.reporter_phone else None,
                "photos": 0,
                "is_joint": False,
                "created_at": created,
                "updated_at": now,
                "step": "dispatch",
                "step_started_at": step.started_at,
                "yellow_at": step.yellow_at,
                "due_at": step.due_at,
                "next_check_at": step.yellow_at,
                "warn_level": "green",
                "escalation_level": 0,
                "reopen_count": 0,
                "return_count": 0,
                "supervise_count": 0,
                "version": 1,
            }
        )
        row_index.append(i)
    dialect = session.get_bind().dialect
    cases = bulk.prepare(dialect, CASE_TABLE, rows, returning=("id", "token"), conflict_do_nothing=("idem_key",))
    actions = [_accept_action(reports[i], actors[i], origins[i], now) for i in row_index]
    timeline = bulk.prepare(dialect, ACTION_TABLE, actions)
    # everything above is Python work done before the transaction; from here SQLite's writer lock is held
    conn = session.connection()
    ids_by_token = {token: cid for cid, token in bulk.run(conn, cases)}
    results: dict[int, Accepted] = {}
    new_rows = []
    for row, i in zip(rows, row_index, strict=True):
        cid = ids_by_token.get(row["token"])
        if cid is not None:
            results[i] = Accepted(cid, number(_Numbered(cid, row["created_at"])), row["token"], True)
            new_rows.append((i, cid))
    missing = [reports[i].idem_key for i in row_index if i not in results]
    if missing:
        for case in session.execute(select(Case).where(Case.idem_key.in_(missing))).scalars():
            assert case.idem_key is not None  # found by it
            i = first_of_key[case.idem_key]
            results[i] = Accepted(case.id, number(case), case.token, False)
    for i, r in enumerate(reports):
        if i not in results:  # a repeated idempotency key in the batch: the first report's case
            assert r.idem_key is not None  # reports without a key are all written
            first = results[first_of_key[r.idem_key]]
            results[i] = Accepted(first.id, first.number, first.token, False)
    if len(new_rows) != len(row_index):  # some keys were taken by earlier requests: time line rows for the new only
        new = {i for i, _cid in new_rows}
        timeline = bulk.prepare(dialect, ACTION_TABLE, [a for i, a in zip(row_index, actions, strict=True) if i in new])
    if new_rows:
        timeline.set_column("case_id", [cid for _i, cid in new_rows])
        bulk.run(conn, timeline)
    db.commit(session)
    return [results[i] for i in range(len(reports))]


def _accept_action(report: Report, actor, origin: Origin, now: dt.datetime) -> dict:
    """The ``accept`` time line row of a new case (its ``case_id`` is filled in once the case is written)."""
    detail = {"channel": report.channel, "username": getattr(actor, "username", None), "ip": origin.ip}
    if report.attributes:
        detail["attributes"] = report.attributes
    return {
        "case_id": None,
        "at": now,
        "actor_id": getattr(actor, "user_id", None),
        "actor_name": getattr(actor, "display_name", None) or getattr(actor, "username", None),
        "action": "accept",
        "from_status": None,
        "to_status": "accepted",
        "note": None,
        "detail": json.dumps(detail, ensure_ascii=False),
    }


def accept(session: Session, report: Report, *, actor, origin: Origin) -> Accepted:
    return accept_many(session, [report], [actor], [origin])[0]


def valid_source(value: str) -> str:
    if value not in SOURCES:
        raise Invalid(_("Unknown source %(s)s.", s=value[:20]), field="source")
    return value
