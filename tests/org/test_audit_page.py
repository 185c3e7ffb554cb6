"""Staff with the right role browse, filter and verify the ledger in the UI."""

from helpers import csrf_from


def test_auditor_filters_ledger(as_role, bearer, client):
    client.post("/api/v1/auth/token", data={"username": "town", "password": "wrong"})
    page = as_role["auditor"].get("/workspace/audit?action=auth.login_failed")
    assert page.status_code == 200
    assert "auth.login_failed" in page.text and "auth.token_issued" not in page.text
    denied = as_role["auditor"].get("/workspace/audit?outcome=denied&who=nobody").text
    assert "没有符合条件的记录" in denied


def test_auditor_verifies_chain_from_the_page(as_role):
    c = as_role["auditor"]
    page = c.get("/workspace/audit")
    r = c.post("/workspace/audit/verify", data={"csrf_token": csrf_from(page.text)})
    assert r.status_code == 200 and "哈希链校验通过" in r.text


def test_other_roles_cannot_open_ledger(as_role, bearer, client):
    assert as_role["town_worker"].get("/workspace/audit").status_code == 403
    assert client.get("/api/v1/audit/entries", headers=bearer("leader")).status_code == 403
    entries = client.get("/api/v1/audit/entries?limit=5", headers=bearer("auditor")).json()
    assert len(entries) == 5 and entries[0]["id"] > entries[-1]["id"]
