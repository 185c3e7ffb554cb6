"""Managing accounts: only administrators, every field checked, every write audited."""

from yiwang.core import audit


def test_admin_creates_user_with_validated_fields(client, bearer, db):
    admin = bearer("admin")
    body = {
        "username": "wang.wu",
        "display_name": "王五",
        "password": "S3cure-pass",
        "roles": ["town_worker"],
        "region_code": "320583102",
        "phone": "138 6260 9999",
        "id_number": "320583199003150017",
    }
    r = client.post("/api/v1/org/users", json=body, headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["phone_masked"] == "138****9999" and created["region"] == "周市镇"
    entry = audit.search(db, audit.AuditFilter(action="user.create"), limit=1)[0]
    assert entry.actor_username == "admin" and entry.target_id == str(created["id"])
    # The new account can sign in.
    assert client.post("/api/v1/auth/token", data={"username": "wang.wu", "password": "S3cure-pass"}).status_code == 200


def test_bad_fields_are_named(client, bearer):
    admin = bearer("admin")
    base = {"username": "zhao.liu", "display_name": "赵六", "password": "S3cure-pass"}
    cases = [
        ({"phone": "12345"}, "phone"),
        ({"id_number": "320583199003150018"}, "id_number"),
        ({"roles": ["emperor"]}, "roles"),
        ({"username": "admin"}, "username"),
    ]
    for extra, field in cases:
        r = client.post("/api/v1/org/users", json={**base, **extra}, headers=admin)
        assert r.status_code == 422 and r.json()["field"] == field, (extra, r.text)
    r = client.post("/api/v1/org/users", json={**base, "region_code": "999"}, headers=admin)
    assert r.status_code == 404
    r = client.post("/api/v1/org/users", json={**base, "password": "short"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "password"
    r = client.post("/api/v1/org/users", json={**base, "is_superuser": True}, headers=admin)
    assert r.status_code == 422


def test_only_admin_manages_users(client, bearer, db):
    r = client.post(
        "/api/v1/org/users",
        json={"username": "x.y", "display_name": "某", "password": "S3cure-pass"},
        headers=bearer("town"),
    )
    assert r.status_code == 403
    denied = audit.search(db, audit.AuditFilter(action="access.denied", actor="town"), limit=1)[0]
    assert '"permission":"org.manage"' in denied.detail


def test_disable_and_edit(client, bearer):
    admin = bearer("admin")
    users = client.get("/api/v1/org/users?q=town2", headers=admin).json()["items"]
    uid = users[0]["id"]
    r = client.patch(f"/api/v1/org/users/{uid}", json={"is_active": False}, headers=admin)
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert client.post("/api/v1/auth/token", data={"username": "town2", "password": "Kunshan@2026"}).status_code == 401
