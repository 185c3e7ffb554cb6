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
    shown = c.post(
        f"/workspace/org/users/{citizen.id}/personal",
        data={"reason": "核对联系方式", "csrf_token": csrf_from(page.text)},
    )
    assert shown.status_code == 200 and "13912345678" in shown.text


def test_dispatcher_sees_the_directory_masked(client, bearer, login_as, db):
    """``events.reporter.read`` (the dispatcher's, to call a reporter back) opens no user's phone or ID number."""
    citizen = db.query(User).filter_by(username="citizen").one()
    dispatcher = bearer("dispatcher")
    listed = client.get("/api/v1/org/users?q=citizen", headers=dispatcher)
    assert listed.status_code == 200
    assert all("phone" not in u and "id_number" not in u for u in listed.json()["items"])
    assert client.get(f"/api/v1/org/users/{citizen.id}", headers=dispatcher).json()["phone_masked"] == "139****5678"
    r = client.get(f"/api/v1/org/users/{citizen.id}/personal?reason=回访上报人核实位置", headers=dispatcher)
    assert r.status_code == 403 and "org.personal.read" in r.json()["detail"]
    web = login_as("dispatcher")
    page = web.get(f"/workspace/org/users/{citizen.id}")
    assert page.status_code == 200 and "139****5678" in page.text and "13912345678" not in page.text
    assert 'name="reason"' not in page.text  # no form to unmask
    shown = web.post(
        f"/workspace/org/users/{citizen.id}/personal",
        data={"reason": "回访上报人核实位置", "csrf_token": csrf_from(page.text)},
    )
    assert shown.status_code == 403 and "13912345678" not in shown.text


def test_own_personal_data_needs_no_directory_permission(client, bearer, db):
    citizen = db.query(User).filter_by(username="citizen").one()
    r = client.get(f"/api/v1/org/users/{citizen.id}/personal?reason=查看本人信息", headers=bearer("citizen"))
    assert r.status_code == 200 and r.json()["phone"] == "13912345678"
