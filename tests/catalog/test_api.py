"""The JSON API: the workflow over HTTP, and precise 4xx answers to bad and hostile input."""

import yaml

from yiwang.core import audit


def _yaml(doc) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


def test_officer_registers_and_bureau_publishes_over_http(client, bearer, spec):
    officer, admin = bearer("officer"), bearer("admin")
    r = client.post("/api/v1/catalog/resources", json=spec(), headers=officer)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft" and r.json()["view"] == "working"
    assert client.get("/api/v1/catalog/resources/community_volunteers", headers=bearer("town")).status_code == 403
    r = client.put(
        "/api/v1/catalog/resources/community_volunteers?expected_revision=1",
        json=spec(title="社区志愿者服务登记信息"),
        headers=officer,
    )
    assert r.status_code == 200 and r.json()["revision"] == 2
    assert (
        client.post("/api/v1/catalog/resources/community_volunteers/submit", headers=officer).json()["status"]
        == "submitted"
    )
    assert client.post("/api/v1/catalog/resources/community_volunteers/publish", headers=officer).status_code == 403
    r = client.post("/api/v1/catalog/resources/community_volunteers/publish", json={"note": "同意发布"}, headers=admin)
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["code"].startswith("210001/")
    seen = client.get("/api/v1/catalog/resources/community_volunteers", headers=bearer("town")).json()
    assert seen["spec"]["title"] == "社区志愿者服务登记信息"
    assert [
        v["number"] for v in client.get("/api/v1/catalog/resources/community_volunteers/versions", headers=admin).json()
    ] == [1]
    assert client.get("/api/v1/catalog/resources/community_volunteers/rules", headers=admin).json()["version"] == 1


def test_search_over_http(client, bearer):
    r = client.get("/api/v1/catalog/resources", params={"q": "公积金"}, headers=bearer("town"))
    assert r.status_code == 200 and r.json()["items"][0]["name"] == "housing_fund"
    stats = client.get("/api/v1/catalog/stats", headers=bearer("leader")).json()
    assert stats["published"] >= 40
    assert {i["key"] for i in stats["indicators"]} == {"mount_rate", "cleaning_masking_rate"}


def test_apply_yaml_over_http(client, bearer, spec):
    officer = bearer("officer")
    headers = {**officer, "content-type": "application/yaml"}
    r = client.post("/api/v1/catalog/apply?filename=vol.yaml&submit=true", content=_yaml(spec()), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == [{"name": "community_volunteers", "action": "created", "status": "submitted", "revision": 1}]
    bad = spec(name="bad_entry", title="坏条目", update_cycle="hourlyish")
    text = _yaml(bad)
    r = client.post("/api/v1/catalog/apply?filename=bad.yaml", content=text, headers=headers)
    assert r.status_code == 422
    body = r.json()
    line = next(i for i, row in enumerate(text.decode().splitlines(), 1) if row.startswith("update_cycle:"))
    assert body["field"] == "update_cycle" and body["problems"][0]["line"] == line
    assert body["problems"][0]["source"] == "bad.yaml" and "hourlyish" in body["detail"]
    r = client.post("/api/v1/catalog/apply", content=b"name: [", headers=headers)
    assert r.status_code == 422 and r.json()["problems"][0]["line"] == 1


def test_hostile_input_gets_precise_answers(client, bearer, spec):
    officer = bearer("officer")
    assert client.get("/api/v1/catalog/resources/DROP%20TABLE", headers=officer).status_code == 422
    assert client.get("/api/v1/catalog/resources/" + "a" * 51, headers=officer).status_code == 422
    assert client.get("/api/v1/catalog/resources/no_such_entry", headers=officer).status_code == 404
    assert client.get("/api/v1/catalog/resources?q=" + "人" * 101, headers=officer).status_code == 422
    assert client.get("/api/v1/catalog/resources?status=lost", headers=officer).json()["field"] == "status"
    r = client.post("/api/v1/catalog/resources", json={**spec(), "owner": "me"}, headers=officer)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "owner"
    r = client.post("/api/v1/catalog/apply", content=b"name: x", headers={**officer, "content-type": "text/csv"})
    assert r.status_code == 400 and r.json()["field"] == "content-type"
    r = client.post(
        "/api/v1/catalog/apply", content=b"#" * 1_000_100, headers={**officer, "content-type": "application/yaml"}
    )
    assert r.status_code == 413
    assert client.get("/api/v1/catalog/resources").status_code == 401
    assert client.get("/api/v1/catalog/resources", headers=bearer("citizen")).status_code == 403


def test_another_departments_entry_is_refused_and_audited(client, bearer, db, spec):
    r = client.put(
        "/api/v1/catalog/resources/enterprise",
        headers=bearer("officer"),
        json=spec(name="enterprise", provider="market_regulation"),
    )
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    denied = audit.search(db, audit.AuditFilter(action="access.denied", actor="officer"), limit=1)[0]
    assert "enterprise" in denied.target_id
