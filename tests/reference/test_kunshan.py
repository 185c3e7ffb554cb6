"""The Kunshan reference pack: real divisions, departments, grids, demo accounts; idempotent."""

import stdnum.cn.uscc
from sqlalchemy import func, select

from helpers import DEMO_ROLES, make_settings, new_database
from yiwang.core.security import verify_password
from yiwang.org.models import Department, Region, User
from yiwang.reference.kunshan import org_pack


def test_real_divisions_loaded(db):
    counts = dict(db.execute(select(Region.level, func.count()).group_by(Region.level)).all())
    assert counts["city"] == 1 and counts["town"] == 9 and counts["village"] == 355
    assert db.get(Region, "320583100").name == "玉山镇"
    assert db.get(Region, "320583401001").name == "淀山湖社区居委会"
    towns = {r.code for r in db.execute(select(Region).where(Region.level == "town")).scalars()}
    villages = db.execute(select(Region).where(Region.level == "village")).scalars().all()
    assert all(v.parent_code in towns and v.code.startswith(v.parent_code) for v in villages)


def test_grids_generated_inside_every_village(db):
    grids = db.execute(select(Region).where(Region.level == "grid")).scalars().all()
    per_village = {}
    for g in grids:
        assert g.code.startswith(g.parent_code) and len(g.code) == 14 and g.name.endswith("网格")
        per_village[g.parent_code] = per_village.get(g.parent_code, 0) + 1
    assert len(per_village) == 355 and min(per_village.values()) >= 2 and max(per_village.values()) <= 6
    assert org_pack.grids_for("320583100002", "亭林社区居委会")[0] == ("32058310000201", "亭林社区第1网格")


def test_departments_have_valid_credit_codes(db):
    depts = db.execute(select(Department)).scalars().all()
    assert 35 <= len(depts) <= 45
    assert all(stdnum.cn.uscc.is_valid(d.credit_code) for d in depts)
    names = {d.name for d in depts}
    assert {"昆山市公安局", "昆山市城市管理局", "昆山市大数据管理局", "昆山市水务局"} <= names
    police = next(d for d in depts if d.key == "public_security")
    assert any(d.parent_id == police.id for d in depts)  # 交警大队 under 公安局


def test_demo_account_per_role(db, settings):
    for role, username in DEMO_ROLES.items():
        user = db.execute(select(User).where(User.username == username)).scalar_one()
        assert role in user.role_keys and user.is_demo
        assert verify_password(user.password_hash, settings.demo_password)
    assert db.execute(select(User).where(User.username == "admin")).scalar_one().department.key == "bigdata"


def test_second_seed_is_a_no_op(fresh_install, yiwang_cli, engine_for):
    again = yiwang_cli(fresh_install, "seed")
    assert again.returncode == 0 and "nothing new" in again.stderr
    eng = engine_for(fresh_install)
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(User)).scalar_one() == len(org_pack.DEMO_ACCOUNTS)
        assert conn.execute(select(func.count()).select_from(Region)).scalar_one() == 1 + 9 + 355 + 1420
    eng.dispose()


def test_production_profile_has_no_demo_accounts(tmp_path, yiwang_cli):

    database = new_database(tmp_path)
    s = make_settings(tmp_path / "home", database.url)
    env_settings = s.model_copy(update={"profile": "production"})
    import os

    os.environ["YIWANG_SECRET_KEY"], os.environ["YIWANG_DATA_KEY"] = "p" * 40, "2a" * 16
    try:
        r = yiwang_cli(env_settings, "seed")
    finally:
        del os.environ["YIWANG_SECRET_KEY"], os.environ["YIWANG_DATA_KEY"]
    try:
        assert r.returncode == 0, r.stderr
        assert "org" in r.stderr and "demo_accounts" not in r.stderr
        from yiwang.core.db import make_engine

        eng = make_engine(s.db_url)
        with eng.connect() as conn:
            assert conn.execute(select(func.count()).select_from(User)).scalar_one() == 0
            assert conn.execute(select(func.count()).select_from(Region)).scalar_one() > 1000
        eng.dispose()
    finally:
        database.drop()
