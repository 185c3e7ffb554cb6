"""Data scope: a town worker cannot read another town's records through any route."""

from yiwang.core import audit
from yiwang.org.models import User


def _id(db, username):
    return db.query(User).filter_by(username=username).one().id


def test_town_worker_cannot_read_other_town_by_api_page_or_export(db, as_role, bearer, client):
    other = _id(db, "town2")  # 巴城镇
    mine = _id(db, "grid")  # a grid in 玉山镇
    headers = bearer("town")  # 玉山镇

    r = client.get(f"/api/v1/org/users/{other}", headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    assert client.get(f"/api/v1/org/users/{mine}", headers=headers).status_code == 200

    listing = client.get("/api/v1/org/users", headers=headers).json()
    names = {u["username"] for u in listing["items"]}
    assert "town2" not in names and {"town", "grid", "citizen"} <= names
    assert all(u["region_code"].startswith("320583100") for u in listing["items"])
    assert client.get("/api/v1/org/users?region=320583101", headers=headers).json()["total"] == 0
    assert client.get(f"/api/v1/org/users/{other}/personal?reason=核实身份信息", headers=headers).status_code == 403

    page = as_role["town_worker"].get(f"/workspace/org/users/{other}")
    assert page.status_code == 403 and "超出您的数据范围" in page.text
    listing_page = as_role["town_worker"].get("/workspace/org/users").text
    assert "孙浩" not in listing_page and "刘芳" in listing_page

    for export in (
        client.get("/api/v1/org/users/export.csv", headers=headers),
        as_role["town_worker"].get("/workspace/org/users/export.csv"),
    ):
        assert export.status_code == 200
        assert "town2" not in export.text and "孙浩" not in export.text and "grid" in export.text

    denied = audit.search(db, audit.AuditFilter(action="access.denied", actor="town"), limit=10)
    assert any(str(other) in (e.detail or "") or e.target_id.endswith(f"/{other}") for e in denied)


def test_department_scope(bearer, client, db):
    handler = bearer("handler")  # 城管局 — sees its own department (and sub-departments)
    names = {u["username"] for u in client.get("/api/v1/org/users", headers=handler).json()["items"]}
    assert names == {"handler"}
    assert client.get(f"/api/v1/org/users/{_id(db, 'officer')}", headers=handler).status_code == 403


def test_grid_worker_sees_only_own_grid(bearer, client, db):
    grid = bearer("grid")
    assert client.get(f"/api/v1/org/users/{_id(db, 'town')}", headers=grid).status_code == 403
    assert client.get(f"/api/v1/org/users/{_id(db, 'grid')}", headers=grid).status_code == 200


def test_citizen_sees_only_self(bearer, client, db):
    me = bearer("citizen")
    assert client.get("/api/v1/org/users", headers=me).status_code == 403  # no directory for the public
    assert client.get(f"/api/v1/org/users/{_id(db, 'citizen')}", headers=me).status_code == 200
    assert client.get(f"/api/v1/org/users/{_id(db, 'enterprise')}", headers=me).status_code == 403


def test_city_wide_roles_see_all(bearer, client):
    assert client.get("/api/v1/org/users", headers=bearer("admin")).json()["total"] >= 10
    assert client.get("/api/v1/org/users", headers=bearer("leader")).json()["total"] >= 10
