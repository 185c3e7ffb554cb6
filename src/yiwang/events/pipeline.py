"""The triage worker: classify, locate, find duplicates and propose a department, in batches.

Accepted cases wait with ``triage_status = 'pending'``. A batch is claimed with
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (several processes share the work and
never take the same case); on SQLite it is read without the writer lock and only the cases
still pending when the lock is taken are written (and one process triages at a time, see
``timers.TriageTurn``). It is classified in one vectorised call and written back. A case
whose category is known (given by the reporter or predicted with enough confidence), whose
place is known and which is no probable duplicate is registered (立案) at once; the others
wait for a dispatcher (``needs_human``).
Probable duplicate = same minor class, within 50 m and 24 h of an earlier open case.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from sqlalchemy import Float, Integer, Row, String, and_, bindparam, column, func, insert, select, update, values
from sqlalchemy.orm import Session

from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.events.locate import locator
from yiwang.events.models import ACTION_TABLE, CASE_TABLE, Action, Case
from yiwang.events.queries import category, dispatch_rules, propose
from yiwang.events.settings import get_events_settings
from yiwang.events.triage import corpus
from yiwang.events.triage_versions import active_classifier

EARTH_M = 6_371_000.0
ORIGIN = Origin(ip="triage")


def _claim(session: Session, limit: int):
    stmt = (
        select(
            Case.id,
            Case.description,
            Case.category_code,
            Case.lng,
            Case.lat,
            Case.region_code,
            Case.town_code,
            Case.address,
            Case.created_at,
            Case.channel,
            Case.source,
            Case.client,
        )
        .where(Case.triage_status == "pending")
        .order_by(Case.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.execute(stmt).all()


def _duplicates(session: Session, ids, codes, lngs, lats, created) -> dict[int, int]:
    """Earlier open case of the same class within the distance and time window, per case id.

    One query joins the batch's search windows (a VALUES list: class, box around the point,
    time span) to the cases and keeps the nearest neighbour of each, so the database returns
    at most one row per new case; the exact great-circle distance is then checked in numpy.
    """
    s = get_events_settings()
    have = [i for i in range(len(ids)) if codes[i] and lngs[i] is not None]
    if not have:
        return {}
    window = dt.timedelta(hours=s.duplicate_hours)
    pad_lat = s.duplicate_metres / 111_000 * 1.2
    rows = [
        (
            ids[i],
            codes[i],
            lngs[i],
            lats[i],
            float(np.cos(np.radians(lats[i]))),
            _pad_lng(pad_lat, lats[i]),
            created[i] - window,
            created[i],
        )
        for i in have
    ]
    pairs: list[Row[int, int, float, float]] = []  # (new case, earlier case, its lng, lat)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        chunk += [chunk[-1]] * (_CHUNK - len(chunk))  # a fixed shape: the statement is compiled once
        params = {f"{name}{k}": v for k, row in enumerate(chunk) for name, v in zip(_WINDOW, row, strict=True)}
        params["pad_lat"] = pad_lat
        pairs += session.execute(_nearest_statement(), params).all()
    if not pairs:
        return {}
    where = {ids[i]: (lngs[i], lats[i]) for i in have}
    c_xy = np.radians(np.array([(p[2], p[3]) for p in pairs], dtype=float))
    b_xy = np.radians(np.array([where[p[0]] for p in pairs], dtype=float))
    dlat, dlng = c_xy[:, 1] - b_xy[:, 1], c_xy[:, 0] - b_xy[:, 0]
    a = np.sin(dlat / 2) ** 2 + np.cos(b_xy[:, 1]) * np.cos(c_xy[:, 1]) * np.sin(dlng / 2) ** 2
    dist = 2 * EARTH_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))  # the exact check, nearest candidates only
    return {int(p[0]): int(p[1]) for p, d in zip(pairs, dist.tolist(), strict=True) if d <= s.duplicate_metres}


_CHUNK = 100
_WINDOW = ("bid", "code", "lng", "lat", "kx", "pad_lng", "t_lo", "t_hi")


@cache
def _nearest_statement():
    """Nearest earlier open case of the same class inside each window (rank 1 per new case)."""
    when = Case.created_at.type
    types = {
        "bid": Integer,
        "code": String,
        "lng": Float,
        "lat": Float,
        "kx": Float,
        "pad_lng": Float,
        "t_lo": when,
        "t_hi": when,
    }
    boxes = (
        values(*(column(n, types[n]) for n in _WINDOW), name="windows")
        .data([tuple(bindparam(f"{n}{k}", type_=types[n]) for n in _WINDOW) for k in range(_CHUNK)])
        .cte("windows")
    )
    pad_lat = bindparam("pad_lat", type_=Float)
    # Squared equirectangular distance (degrees): orders neighbours exactly enough at 50 m.
    dx, dy = (Case.lng - boxes.c.lng) * boxes.c.kx, Case.lat - boxes.c.lat
    near = (
        select(
            boxes.c.bid,
            Case.id.label("cid"),
            Case.lng,
            Case.lat,
            func.row_number().over(partition_by=boxes.c.bid, order_by=(dx * dx + dy * dy, Case.id)).label("rank"),
        )
        .join(
            boxes,
            and_(
                Case.category_code == boxes.c.code,
                Case.created_at >= boxes.c.t_lo,
                Case.created_at <= boxes.c.t_hi,
                Case.id < boxes.c.bid,
                Case.lat.between(boxes.c.lat - pad_lat, boxes.c.lat + pad_lat),
                Case.lng.between(boxes.c.lng - boxes.c.pad_lng, boxes.c.lng + boxes.c.pad_lng),
            ),
        )
        .where(Case.status.not_in(("invalid", "merged")))
        .subquery()
    )
    return select(near.c.bid, near.c.cid, near.c.lng, near.c.lat).where(near.c.rank == 1).distinct()


def _pad_lng(pad_lat: float, lat: float) -> float:
    """Degrees of longitude spanning as far as ``pad_lat`` degrees of latitude, at this latitude."""
    return pad_lat / max(np.cos(np.radians(lat)), 0.01)


def _accept_entries(session: Session, rows) -> list[dict]:
    """The deferred audit entries of the cases' acceptance (actor and address kept on the timeline)."""
    accepts = {
        cid: (actor_id, json.loads(detail or "{}"))
        for cid, actor_id, detail in session.execute(
            select(Action.case_id, Action.actor_id, Action.detail).where(
                Action.case_id.in_([r.id for r in rows]), Action.action == "accept"
            )
        )
    }
    entries = []
    for r in rows:
        actor_id, detail = accepts.get(r.id, (None, {}))
        actor = SimpleNamespace(user_id=actor_id, username=detail.get("username"))
        entries.append(
            {
                "actor": actor,
                "origin": Origin(ip=detail.get("ip")),
                "action": "events.case.accept",
                "target_type": "event_case",
                "target_id": r.id,
                "detail": {"channel": r.channel, "source": r.source, "client": r.client, "category": r.category_code},
            }
        )
    return entries


def run_once(session: Session, *, home: Path, limit: int | None = None) -> int:
    """Triage one batch of pending cases; returns how many were triaged.

    Reading and classifying run in a deferred transaction: on SQLite they hold no writer lock, so
    intake commits of every process go on meanwhile (classifying, locating and the duplicate
    search of 500 cases held it for 0.2-0.8 s). The writer lock is taken only to write, after
    checking which cases are still pending — another process may have triaged some meanwhile.
    """
    with db.reading():
        return _triage_batch(session, home, limit)


def _triage_batch(session: Session, home: Path, limit: int | None) -> int:
    settings = get_events_settings()
    rows = _claim(session, limit or settings.triage_batch)
    if not rows:
        session.rollback()
        return 0
    clf = active_classifier(session, home)
    probs = clf.probabilities([r.description for r in rows])
    best = probs.argmax(axis=1)
    loc = locator(session)
    rules = dispatch_rules(session)
    now = db.utcnow()
    ids = [r.id for r in rows]
    finals, points, regions = [], [], []
    for r, b, p in zip(rows, best, probs, strict=True):
        code, conf = str(clf.codes[b]), float(p[b])
        predicted = code if code != corpus.OUT_OF_SCOPE and conf >= settings.min_confidence else None
        finals.append(r.category_code or predicted)
        lng, lat, region, town, how = r.lng, r.lat, r.region_code, r.town_code, None
        if region is None:
            geo = loc.geocode(f"{r.address or ''} {r.description}")
            if geo.precision != "none":
                lng, lat, region, town, how = geo.lng, geo.lat, geo.region_code, geo.town_code, "text"
        points.append((lng, lat))
        regions.append((region, town, how))
    dups = _duplicates(
        session, ids, finals, [p[0] for p in points], [p[1] for p in points], [r.created_at for r in rows]
    )
    updates, actions = [], []
    audits = _accept_entries(session, rows)
    for i, r in enumerate(rows):
        code, conf = str(clf.codes[best[i]]), float(probs[i, best[i]])
        final = finals[i]
        region, town, how = regions[i]
        dup = dups.get(r.id)
        needs_human = final is None or town is None or dup is not None
        cat = category(final)
        prop = propose(session, final, town, rules)
        status = "accepted" if needs_human else "registered"
        updates.append(
            {
                "b_id": r.id,
                "b_status": status,
                "b_code": final,
                "b_by": "reporter" if r.category_code else ("triage" if final else None),
                "b_tcode": code,
                "b_conf": round(conf, 4),
                "b_ver": clf.version,
                "b_human": needs_human,
                "b_dup": dup,
                "b_lng": points[i][0],
                "b_lat": points[i][1],
                "b_region": region,
                "b_town": town,
                "b_how": how or (None if region is None else "point" if r.lng is not None else "address"),
                "b_prop": prop.department_id,
                "b_prio": cat.priority if cat else 3,
                "b_reg": None if needs_human else now,
            }
        )
        detail = {"category": code, "confidence": round(conf, 3), "model": clf.version}
        if dup:
            detail["duplicate_of"] = dup
        actions.append(
            {
                "case_id": r.id,
                "at": now,
                "actor_id": None,
                "actor_name": "智能分拨",
                "action": "triage",
                "from_status": "accepted",
                "to_status": status,
                "department_id": prop.department_id,
                "note": None,
                "detail": json.dumps(detail, ensure_ascii=False),
            }
        )
        audits.append(
            {
                "actor": SYSTEM_ACTOR,
                "origin": ORIGIN,
                "action": "events.case.triage",
                "target_type": "event_case",
                "target_id": r.id,
                "detail": {**detail, "to": status},
            }
        )
    db.start_writing(session)
    pending = set(session.execute(select(Case.id).where(Case.id.in_(ids), Case.triage_status == "pending")).scalars())
    if len(pending) < len(ids):
        updates = [u for u in updates if u["b_id"] in pending]
        actions = [a for a in actions if a["case_id"] in pending]
        audits = [a for a in audits if a["target_id"] in pending]
    if not updates:
        session.rollback()
        return 0
    t = CASE_TABLE.c
    session.connection().execute(
        update(CASE_TABLE)
        .where(t.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            category_code=bindparam("b_code"),
            category_by=bindparam("b_by"),
            triage_code=bindparam("b_tcode"),
            triage_confidence=bindparam("b_conf"),
            triage_version=bindparam("b_ver"),
            needs_human=bindparam("b_human"),
            duplicate_of_id=bindparam("b_dup"),
            lng=bindparam("b_lng"),
            lat=bindparam("b_lat"),
            region_code=bindparam("b_region"),
            town_code=bindparam("b_town"),
            located_by=bindparam("b_how"),
            proposed_department_id=bindparam("b_prop"),
            priority=bindparam("b_prio"),
            registered_at=bindparam("b_reg"),
            triage_status="done",
            version=t.version + 1,
            updated_at=now,
        ),
        updates,
    )
    session.connection().execute(insert(ACTION_TABLE), actions)
    audit.record_many(session, audits)
    session.commit()
    return len(updates)


def run_all(session: Session, *, home: Path) -> int:
    total = 0
    while n := run_once(session, home=home):
        total += n
    return total
