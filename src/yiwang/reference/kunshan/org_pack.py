"""Kunshan's regions (real division codes), departments, generated grids and demo accounts."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from importlib import resources

from sqlalchemy.orm import Session

from yiwang import org
from yiwang.core.audit import Origin
from yiwang.core.security import SYSTEM_ACTOR

CITY_CODE = "320583"
DATA = resources.files("yiwang.reference.kunshan") / "data"


def read_csv(name: str) -> list[dict[str, str]]:
    # newline="" as csv wants it; Traversable.open takes no newline, so the text layer is put on here
    with (DATA / name).open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _short_village_name(name: str) -> str:
    for suffix in ("社区居委会", "居委会", "村委会"):
        if name.endswith(suffix):
            kind = "村" if suffix == "村委会" else "社区"
            base = name[: -len(suffix)]
            return base if base.endswith(kind) else base + kind
    return name


def grids_for(village_code: str, village_name: str) -> list[tuple[str, str]]:
    """A deterministic 2–6 grids per village/community (the real grid map is not public)."""
    seed = int(hashlib.sha256(village_code.encode()).hexdigest(), 16)
    community = "社区" in village_name
    n = (3 + seed % 4) if community else (2 + seed % 3)
    short = _short_village_name(village_name)
    return [(f"{village_code}{i:02d}", f"{short}第{i}网格") for i in range(1, n + 1)]


def load_regions(session: Session) -> dict[str, int]:
    """Divisions from divisions.csv; the city outline; approximate town areas and label points (org.geo)."""
    cells = {f["properties"]["code"]: f["geometry"] for f in org.geo.town_cells_geojson()["features"]}
    rows = []
    for i, r in enumerate(read_csv("divisions.csv")):
        level = {"county": "city"}.get(r["level"], r["level"])
        lng = lat = geometry = None
        if level == "town":
            lng, lat = org.geo.label_point(r["code"])
            geometry = json.dumps(cells[r["code"]], separators=(",", ":"))
        if level == "city":
            outline = json.loads((DATA / "boundary.geojson").read_text(encoding="utf-8"))["features"][0]
            lng, lat = outline["properties"]["cp"]
            geometry = json.dumps(outline["geometry"], separators=(",", ":"))
        rows.append(
            {
                "code": r["code"],
                "name": r["name"],
                "level": level,
                "parent_code": None if level == "city" else r["parent_code"],
                "sort": i,
                "lng": lng,
                "lat": lat,
                "geometry": geometry,
                "geometry_approximate": level == "town",
            }
        )
        if level == "village":
            for j, (code, name) in enumerate(grids_for(r["code"], r["name"])):
                rows.append(
                    {
                        "code": code,
                        "name": name,
                        "level": "grid",
                        "parent_code": r["code"],
                        "sort": j,
                        "lng": None,
                        "lat": None,
                        "geometry": None,
                        "geometry_approximate": False,
                    }
                )
    return org.import_regions(session, rows)


def load_departments(session: Session) -> int:
    return org.import_departments(session, [{**r, "region_code": CITY_CODE} for r in read_csv("departments.csv")])


# username, display name, kind, roles, department key, region code, phone, id number, credit code
DEMO_ACCOUNTS = [
    ("admin", "陈志远", "staff", [org.roles.ADMIN], "bigdata", CITY_CODE, "13862601001", None, None),
    ("auditor", "周敏", "staff", [org.roles.AUDITOR], "bigdata", CITY_CODE, "13862601002", None, None),
    ("officer", "李静", "staff", [org.roles.DATA_OFFICER], "public_security", CITY_CODE, "13862601003", None, None),
    ("handler", "王磊", "staff", [org.roles.CASE_HANDLER], "urban_management", CITY_CODE, "13862601004", None, None),
    ("town", "赵晓燕", "staff", [org.roles.TOWN_WORKER], None, "320583100", "13862601005", None, None),
    ("town2", "孙浩", "staff", [org.roles.TOWN_WORKER], None, "320583101", "13862601006", None, None),
    ("grid", "刘芳", "staff", [org.roles.GRID_WORKER], None, "32058310000201", "13862601007", None, None),
    ("leader", "吴国平", "staff", [org.roles.LEADER], "gov_office", CITY_CODE, "13862601008", None, None),
    ("dispatcher", "郑凯", "staff", ["dispatcher"], "command_center", CITY_CODE, "13862601009", None, None),
    ("supervisor", "冯丽", "staff", ["supervisor"], "command_center", CITY_CODE, "13862601010", None, None),
    ("waterhandler", "钱伟", "staff", [org.roles.CASE_HANDLER], "water", CITY_CODE, "13862601011", None, None),
    (
        "citizen",
        "张小明",
        "citizen",
        [org.roles.CITIZEN],
        None,
        "320583100002",
        "13912345678",
        "320583199003150017",
        None,
    ),
    (
        "enterprise",
        "昆山华澄精密机械有限公司",
        "enterprise",
        [org.roles.ENTERPRISE],
        None,
        "320583400",
        "13773301234",
        None,
        "91320583MA1N3B8P25",
    ),
]


def load_demo_accounts(session: Session, password: str) -> int:
    origin = Origin(ip="seed")
    for username, name, kind, role_keys, dept, region, phone, id_number, credit in DEMO_ACCOUNTS:
        org.create_user(
            session,
            actor=SYSTEM_ACTOR,
            origin=origin,
            is_demo=True,
            data=org.UserCreate(
                username=username,
                display_name=name,
                password=password,
                kind=kind,
                roles=role_keys,
                department_key=dept,
                region_code=region,
                phone=phone,
                id_number=id_number,
                credit_code=credit,
            ),
        )
    return len(DEMO_ACCOUNTS)
