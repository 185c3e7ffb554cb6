"""The event center's part of the Kunshan pack: dispatch rules, the first triage model, and a
year of case history so that statistics mean something on the first start.

History is generated, vectorised with numpy and written with bulk INSERTs (no per-case
service calls, one audit entry for the whole part): tens of thousands of cases weighted by
town (roughly by population), category (with seasons: 梅雨 and typhoons bring 积水 and fallen
trees, summer brings 烧烤 and 油烟, harvest brings 秸秆焚烧), source (12345 hotline, portal,
grid workers, inspectors, sensors), realistic response and handling times (about nine in
ten on time), joint cases with assisting departments, and ratings. Texts come from the
triage corpus generator. The volume is ``YIWANG_EVENTS_HISTORY_CASES`` (36,000 by default).
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

import numpy as np
from sqlalchemy.orm import Session

from yiwang import events, org
from yiwang.core.config import Settings
from yiwang.core.crypto import blind_index
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.reference.kunshan.org_pack import read_csv

TOWN_WEIGHTS = {
    "320583100": 0.27,
    "320583400": 0.19,
    "320583104": 0.10,
    "320583102": 0.09,
    "320583106": 0.08,
    "320583103": 0.06,
    "320583108": 0.07,
    "320583101": 0.08,
    "320583401": 0.06,
}
CHANNELS = [
    ("hotline", 0.34),
    ("portal", 0.10),
    ("open311", 0.04),
    ("app", 0.10),
    ("grid", 0.20),
    ("inspector", 0.14),
    ("iot", 0.05),
    ("video", 0.03),
]
COMMON = {
    "机动车乱停放": 9,
    "暴露垃圾": 8,
    "店外经营": 7,
    "非法小广告": 7,
    "非机动车乱停放": 6,
    "噪声扰民": 6,
    "乱堆物堆料": 5,
    "道路不洁": 5,
    "无照经营游商": 5,
    "垃圾箱满溢破损": 4,
    "路灯故障": 4,
    "施工扰民": 3,
    "餐饮油烟": 3,
    "道路破损": 3,
    "私搭乱建": 3,
    "积存垃圾渣土": 3,
    "下水道堵塞": 3,
    "违规户外广告": 2,
    "露天烧烤": 2,
    "绿地脏乱": 2,
    "工地扬尘": 2,
    "道路遗撒": 2,
    "乱吊挂晾晒": 2,
    "井盖破损丢失": 2,
}
SEASONS: dict[str, dict[int, float]] = {  # category → month (1-12) → factor
    "道路积水": {6: 4, 7: 4, 8: 3, 9: 2.5},
    "下水道堵塞": {6: 2, 7: 2, 8: 1.8},
    "行道树倒伏": {7: 3, 8: 4, 9: 3},
    "露天焚烧": {6: 3, 10: 3, 11: 2},
    "露天烧烤": {5: 2, 6: 3, 7: 3.5, 8: 3.5, 9: 2},
    "餐饮油烟": {6: 1.6, 7: 1.8, 8: 1.8},
    "路灯故障": {11: 1.6, 12: 1.8, 1: 1.8, 2: 1.5},
    "施工扰民": {3: 1.5, 4: 1.6, 10: 1.5, 11: 1.4},
    "工地扬尘": {3: 1.8, 4: 1.8, 11: 1.5, 12: 1.5},
    "自来水管破裂": {1: 2.5, 2: 2},
    "噪声扰民": {7: 1.5, 8: 1.5},
}
UNIT_HOURS = {"natural_hours": 1.0, "working_hours": 2.6, "working_days": 34.0}  # rough wall-clock equivalents


def load_rules(session: Session) -> int:
    tax = events.triage_taxonomy()
    dept = {d.key: d.id for d in org.list_departments(session)}
    rows = []
    for r in read_csv("event_dispatch_rules.csv"):
        rows.append(
            {
                "category_code": tax.by_name(r["category"]).code,
                "town_code": r["town_code"] or None,
                "department_id": dept[r["department_key"]],
                "assist_department_ids": " ".join(str(dept[k]) for k in r["assist_keys"].split()) or None,
            }
        )
    events.add_dispatch_rules(session, rows)
    return len(rows)


def _hours(duration) -> float:
    return duration.value * UNIT_HOURS[duration.unit.value]


def load_history(session: Session, settings: Settings, n: int | None = None, *, seed: int = 320583) -> dict:
    """Bulk-insert ``n`` historical cases with their tasks and timelines."""
    n = events.history_size() if n is None else n
    if n <= 0:
        return {"cases": 0}
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    tax = list(events.triage_taxonomy())
    dept = {d.key: d.id for d in org.list_departments(session)}
    rules = events.dispatch_rules(session)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now - dt.timedelta(days=365)

    # When: a day (weekday-heavy), then an hour (daytime-heavy).
    days = rng.integers(0, 365, n)
    day_dates = [start + dt.timedelta(days=int(d)) for d in days]
    months = np.array([d.month for d in day_dates])
    # What: category weights × the season of the month.
    base = np.array([COMMON.get(c.name, 1.0) for c in tax])
    cats = np.empty(n, dtype=int)
    for m in range(1, 13):
        idx = np.nonzero(months == m)[0]
        w = base * np.array([SEASONS.get(c.name, {}).get(m, 1.0) for c in tax])
        cats[idx] = rng.choice(len(tax), size=len(idx), p=w / w.sum())
    hours = rng.choice(24, n, p=_hour_weights())
    created = [
        d + dt.timedelta(hours=int(h), minutes=int(mi))
        for d, h, mi in zip(day_dates, hours, rng.integers(0, 60, n), strict=True)
    ]
    created = [min(c, now - dt.timedelta(minutes=5)) for c in created]
    # Where: town by weight, a random point inside it, then its village and grid.
    town_codes = np.array(list(TOWN_WEIGHTS))
    towns = rng.choice(town_codes, n, p=np.array(list(TOWN_WEIGHTS.values())) / sum(TOWN_WEIGHTS.values()))
    lngs, lats = np.zeros(n), np.zeros(n)
    for t in town_codes:
        idx = np.nonzero(towns == t)[0]
        pts = org.geo.random_points(t, len(idx), rng)
        lngs[idx], lats[idx] = pts[:, 0], pts[:, 1]
    loc = events.locator(session)
    _t, _v, grids = loc.locate_many(lngs, lats)
    channels = rng.choice([c for c, _ in CHANNELS], n, p=[w for _, w in CHANNELS])

    case_rows, plans = [], []
    for i in range(n):
        cat = tax[cats[i]]
        c0 = created[i]
        ch = str(channels[i])
        source = {"grid": "active", "inspector": "active", "iot": "automatic", "video": "automatic"}.get(ch, "passive")
        report = events.synthetic_report(prng, cat.code)
        prop = events.propose(session, cat.code, str(towns[i]), rules)
        lead = prop.department_id or dept.get(cat.department_key)
        assists = list(prop.assist_ids)
        if not assists and rng.random() < 0.03:
            assists = [dept["urban_management"] if lead != dept["urban_management"] else dept["law_enforcement"]]
        reg = c0 + dt.timedelta(minutes=float(rng.exponential(25)))
        disp = reg + dt.timedelta(minutes=float(rng.exponential(20)))
        respond_h = _hours(cat.response)
        handle_h = _hours(cat.handling)
        resp = disp + dt.timedelta(hours=float(respond_h * rng.lognormal(-0.9, 0.5)))
        late = rng.random() < 0.09
        handled = disp + dt.timedelta(
            hours=float(handle_h * (rng.uniform(1.05, 1.8) if late else rng.uniform(0.15, 0.95)))
        )
        verified = handled + dt.timedelta(hours=float(rng.exponential(2.5)))
        closed = verified + dt.timedelta(hours=float(rng.exponential(1)))
        due = disp + dt.timedelta(hours=handle_h)
        status, stages = "rated", 8
        if closed >= now:
            # Still running: stop at the stage reached by now.
            stages = sum(t < now for t in (c0, reg, disp, resp, handled, verified, closed))
            status = [
                "accepted",
                "accepted",
                "registered",
                "dispatched",
                "handling",
                "verifying",
                "verified",
                "closed",
            ][stages]
        rating = None
        if status == "rated":
            if source == "passive" and rng.random() < 0.55:
                rating = int(rng.choice([5, 4, 3, 2, 1], p=[0.62, 0.22, 0.09, 0.04, 0.03]))
            else:
                status = "closed"
        phone = f"1{prng.choice('3589')}{prng.randrange(10**9):09d}" if source == "passive" else None
        step, s_start, s_due = None, None, None
        if status in ("dispatched",):
            step, s_start, s_due = "respond", disp, disp + dt.timedelta(hours=respond_h)
        elif status == "handling":
            step, s_start, s_due = "handle", disp, due
        elif status in ("accepted", "registered"):
            step, s_start, s_due = "dispatch", c0, c0 + dt.timedelta(hours=5)
        elif status == "verifying":
            step, s_start, s_due = "verify", handled, handled + dt.timedelta(hours=8)
        warn = "green"
        if s_due is not None and now > s_due:
            warn = "red"
        case_rows.append(
            {
                "token": secrets.token_hex(16),
                "idem_key": None,
                "source": source,
                "channel": ch,
                "client": None,
                "external_id": f"12345-{c0:%Y%m%d}-{i:05d}" if ch == "hotline" else None,
                "source_ref": f"{ch}-{i}" if source == "automatic" else None,
                "status": status,
                "category_code": cat.code,
                "category_by": "triage",
                "description": report,
                "address": None,
                "lng": round(float(lngs[i]), 6),
                "lat": round(float(lats[i]), 6),
                "region_code": grids[i] or None,
                "town_code": str(towns[i]),
                "located_by": "point",
                "department_id": lead if stages >= 3 else None,
                "proposed_department_id": lead,
                "priority": cat.priority,
                "triage_status": "done",
                "triage_code": cat.code,
                "triage_confidence": round(float(rng.uniform(0.55, 0.99)), 3),
                "triage_version": "history",
                "needs_human": False,
                "duplicate_of_id": None,
                "reporter_user_id": None,
                "reporter_name": None,
                "reporter_phone": phone,
                "reporter_phone_index": blind_index(phone) if phone else None,
                "photos": 0,
                "is_joint": bool(assists) and stages >= 3,
                "created_at": c0,
                "registered_at": reg if stages >= 2 else None,
                "dispatched_at": disp if stages >= 3 else None,
                "first_response_at": resp if stages >= 4 else None,
                "handled_at": handled if stages >= 5 else None,
                "verified_at": verified if stages >= 6 else None,
                "closed_at": closed if stages >= 7 else None,
                "step": step,
                "step_started_at": s_start,
                "yellow_at": s_start + (s_due - s_start) * 0.8 if s_start and s_due else None,
                "due_at": s_due,
                "handle_due_at": due if stages >= 3 else None,
                "warn_level": warn,
                "escalation_level": 1 if warn == "red" else 0,
                "next_check_at": s_due if s_due and s_due > now else (now if s_due else None),
                "closed_on_time": (handled <= due) if stages >= 7 else None,
                "backlog_reason": None,
                "reopen_count": 0,
                "return_count": 0,
                "supervise_count": 0,
                "rating": rating,
                "rating_comment": None,
                "rated_at": closed + dt.timedelta(hours=3) if rating else None,
                "updated_at": now,
                "version": 1,
            }
        )
        plans.append((stages, lead, assists, c0, reg, disp, resp, handled, verified, closed, rating))
    ids = events.bulk_insert_cases(session, case_rows)
    tasks, actions = [], []
    for cid, (stages, lead, assists, c0, reg, disp, resp, handled, verified, closed, rating) in zip(
        ids, plans, strict=True
    ):
        actions.append(_action(cid, c0, "accept", None, "accepted", None))
        if stages >= 2:
            actions.append(_action(cid, reg, "triage", "accepted", "registered", None))
        if stages < 3:
            continue
        actions.append(_action(cid, disp, "dispatch", "registered", "dispatched", lead))
        for d, role in [(lead, "lead")] + [(a, "assist") for a in assists]:
            joint_resp = disp + dt.timedelta(hours=float(rng.lognormal(1.3, 0.6))) if role == "assist" else resp
            tasks.append(
                {
                    "case_id": cid,
                    "department_id": d,
                    "role": role,
                    "status": "done" if stages >= 5 else "accepted" if stages >= 4 else "pending",
                    "created_at": disp,
                    "due_at": resp + dt.timedelta(hours=1),
                    "accepted_at": (joint_resp if role == "assist" else resp) if stages >= 4 else None,
                    "done_at": handled if stages >= 5 else None,
                    "note": None,
                    "ext_status": None,
                    "ext_until": None,
                    "ext_reason": None,
                    "version": 1,
                }
            )
        if stages >= 4:
            actions.append(_action(cid, resp, "take", "dispatched", "handling", lead))
        if stages >= 5:
            actions.append(_action(cid, handled, "complete", "handling", "verifying", lead, "已处置完毕。"))
        if stages >= 6:
            actions.append(_action(cid, verified, "verify_pass", "verifying", "verified", None, "现场核查已整改。"))
        if stages >= 7:
            actions.append(_action(cid, closed, "close", "verified", "closed", None))
        if rating:
            actions.append(_action(cid, closed + dt.timedelta(hours=3), "rate", "closed", "rated", None))
    events.bulk_insert_timeline(session, tasks, actions)
    return {"cases": len(ids), "tasks": len(tasks), "actions": len(actions)}


def _action(case_id, at, action, before, after, dept, note=None) -> dict:
    return {
        "case_id": case_id,
        "at": at,
        "actor_id": None,
        "actor_name": "历史数据",
        "action": action,
        "from_status": before,
        "to_status": after,
        "department_id": dept,
        "note": note,
        "detail": None,
    }


def _hour_weights() -> np.ndarray:
    w = np.array(
        [0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 1.8, 3, 3.5, 3.5, 3, 2, 2.5, 3, 3, 2.8, 2.5, 2, 1.8, 1.6, 1.2, 0.8, 0.4]
    )
    return w / w.sum()


def load_model(session: Session, settings: Settings) -> dict:
    row = events.train_model(session, settings.home_path, actor=SYSTEM_ACTOR)
    return {"model_version": row.version}


def seed_events(session: Session, settings: Settings) -> dict:
    counts = {"dispatch_rules": load_rules(session)}
    counts.update(load_model(session, settings))
    return counts


def seed_history(session: Session, settings: Settings) -> dict:
    return load_history(session, settings)
