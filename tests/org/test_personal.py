"""Personal data is masked unless the caller is entitled and states a reason; every read is audited."""

from helpers import csrf_from

from yiwang.core import audit
from yiwang.org.models import User


def test_masked_by_default(client, bearer, db):
    citizen = db.query(User).filter_by(username="citizen").one()
    body = client.get(f"/api/v1/org/users/{citizen.id}", headers=bearer("admin")).json()
    assert body["phone_masked"] == "139****5678" and "phone" not in body and "id_number" not in body


def test_entitled_read_needs_reason_and_is_audited(client, bearer, db):
    citizen = db.query(User).filter_by(username="citizen").one()
    admin = bearer("admin")
    r = client.get(f"/api/v1/org/users/{citizen.id}/personal?reason=", headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.get(f"/api/v1/org/users/{citizen.id}/personal?reason=核实低保申请材料", headers=admin)
    assert r.status_code == 200
    assert r.json()["phone"] == "13912345678" and r.json()["id_number"] == "320583199003150017"
    entry = audit.search(db, audit.AuditFilter(action="personal.read"), limit=1)[0]
    assert entry.actor_username == "admin" and entry.reason == "核实低保申请材料"
    assert entry.target_id == str(citizen.id)


def test_not_entitled_role_refused(client, bearer, db):
    citizen = db.query(User).filter_by(username="citizen").one()
    r = client.get(f"/api/v1/org/users/{citizen.id}/personal?reason=随便看看看", headers=bearer("leader"))
    assert r.status_code == 403


def test_personal_read_from_page(as_role, db):
    citizen = db.query(User).filter_by(username="citizen").one()
    c = as_role["admin"]
    page = c.get(f"/workspace/org/users/{citizen.id}")
    assert "139****5678" in page.text and "13912345678" not in page.text
    shown = c.post(f"/workspace/org/users/{citizen.id}/personal",
                   data={"reason": "核对联系方式", "csrf_token": csrf_from(page.text)})
    assert shown.status_code == 200 and "13912345678" in shown.text
