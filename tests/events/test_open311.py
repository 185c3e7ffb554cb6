"""Open311 GeoReport v2: discovery of services, creating and reading requests, errors as the spec says."""

from ev_helpers import OUTSIDE, POINT
from sqlalchemy import func, select

from yiwang.core.audit import AuditEntry
from yiwang.events.models import Case

DRAIN = "200404"


def _audit_count(db, action: str) -> int:
    return db.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)).scalar_one()


def test_services_list_follows_the_taxonomy(client):
    r = client.get("/open311/v2/services.json", params={"jurisdiction_id": "320583"})
    assert r.status_code == 200
    services = {s["service_code"]: s for s in r.json()}
    assert services[DRAIN]["service_name"] == "下水道堵塞"
    assert services[DRAIN]["group"] == "事件/突发事件" and services[DRAIN]["metadata"] is True
    assert {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"} <= set(
        services[DRAIN]
    )
    assert len(services) >= 39


def test_service_definition_and_unknown_code(client):
    r = client.get(f"/open311/v2/services/{DRAIN}.json")
    assert r.status_code == 200 and r.json()["service_code"] == DRAIN
    assert {a["code"] for a in r.json()["attributes"]} == {"hazard", "landmark"}
    r = client.get("/open311/v2/services/999999.json")
    assert r.status_code == 404
    assert r.json() == [{"code": 404, "description": "未知的 service_code 999999。"}]


def test_post_get_and_token(client, api_key, run_triage):
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": DRAIN,
            "description": "3号楼门口下水道堵了，污水冒到路面上",
            "first_name": "明",
            "last_name": "张",
            "phone": "13912345678",
            "attribute[hazard]": "yes",
            **POINT,
        },
    )
    assert r.status_code == 201, r.text
    [created] = r.json()
    number, token = created["service_request_id"], created["token"]
    assert len(number) == 16 and len(token) == 32
    assert client.get(f"/open311/v2/tokens/{token}.json").json() == [{"service_request_id": number, "token": token}]
    run_triage()
    [req] = client.get(f"/open311/v2/requests/{number}.json").json()
    assert req["service_code"] == DRAIN and req["status"] == "open"
    # a public answer: the point to 3 decimals (~100 m), never the exact one the reporter sent from the door
    exact = (POINT["lat"], POINT["long"])
    assert (req["lat"], req["long"]) == (round(POINT["lat"], 3), round(POINT["long"], 3)) != exact
    assert req["media_url"] is None and req["status_notes"] is None
    assert req["agency_responsible"] is None  # not dispatched yet
    assert "13912345678" not in r.text + str(req)  # the reporter's phone is never published
    listed = client.get("/open311/v2/requests.json", params={"service_code": DRAIN, "status": "open"}).json()
    assert number in {x["service_request_id"] for x in listed}
    assert all(x["service_code"] == DRAIN and x["status"] == "open" for x in listed)
    closed = client.get("/open311/v2/requests.json", params={"service_code": DRAIN, "status": "closed"}).json()
    assert number not in {x["service_request_id"] for x in closed}


def test_get_requests_filters_dates_and_caps_at_1000(client):
    r = client.get(
        "/open311/v2/requests.json", params={"start_date": "2020-01-01T00:00:00Z", "end_date": "2030-01-01T00:00:00Z"}
    )
    assert r.status_code == 200 and len(r.json()) == 1000  # the seeded history has more
    r = client.get("/open311/v2/requests.json", params={"start_date": "yesterday"})
    assert r.status_code == 400 and r.json()[0]["code"] == 400
    r = client.get("/open311/v2/requests.json", params={"start_date": "2026-02-01", "end_date": "2026-01-01"})
    assert r.status_code == 400
    r = client.get("/open311/v2/requests.json", params={"status": "pending"})
    assert r.status_code == 400


def test_address_instead_of_point_is_geocoded(client, api_key, run_triage, db):
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "100118",
            "description": "路灯晚上不亮",
            "address_string": "亭林社区北门",
        },
    )
    assert r.status_code == 201, r.text
    case = db.get(Case, int(r.json()[0]["service_request_id"][8:]))
    assert case.located_by == "address" and case.region_code == "320583100002" and case.lat is not None


def test_idempotent_retry_returns_the_same_case(client, api_key, db):
    form = {
        "api_key": api_key,
        "service_code": DRAIN,
        "description": "下水道堵了",
        "idempotency_key": "retry-1",
        **POINT,
    }
    first = client.post("/open311/v2/requests.json", data=form)
    again = client.post("/open311/v2/requests.json", data=form)
    header = client.post(
        "/open311/v2/requests.json",
        data={k: v for k, v in form.items() if k != "idempotency_key"},
        headers={"Idempotency-Key": "retry-1"},
    )
    assert (first.status_code, again.status_code, header.status_code) == (201, 200, 200)
    assert (
        first.json()[0]["service_request_id"]
        == again.json()[0]["service_request_id"]
        == header.json()[0]["service_request_id"]
    )
    assert (
        db.execute(select(func.count()).select_from(Case).where(Case.idem_key == "test-client:retry-1")).scalar() == 1
    )


def test_bad_requests_are_refused_precisely_and_audited(client, api_key, db):
    before = _audit_count(db, "events.open311.rejected")
    denied_before = _audit_count(db, "access.denied")
    base = {"api_key": api_key, "service_code": DRAIN, "description": "下水道堵了", **POINT}
    cases = [
        ({**base, "api_key": ""}, 403, "api_key"),
        ({**base, "api_key": "ek_not-a-key"}, 403, "api_key"),
        ({**base, "service_code": "123456"}, 404, "service_code"),
        ({k: v for k, v in base.items() if k not in ("lat", "long")}, 400, "位置"),
        ({**base, **OUTSIDE}, 400, "昆山"),
        ({**base, "lat": "north"}, 400, "lat"),
        ({**base, "description": "堵" * 6000}, 400, "5000"),
        ({**base, "description": "x" * (10 * 1024 * 1024)}, 400, "KB"),
        ({**base, "attribute[colour]": "red"}, 400, "colour"),
        ({**base, "jurisdiction_id": "shanghai"}, 404, "jurisdiction"),
    ]
    stored = db.execute(select(func.count()).select_from(Case)).scalar()
    for form, status, word in cases:
        r = client.post("/open311/v2/requests.json", data=form)
        assert r.status_code == status, (form.get("description", "")[:20], r.text[:200])
        body = r.json()
        assert isinstance(body, list) and body[0]["code"] == status and word in body[0]["description"]
    assert db.execute(select(func.count()).select_from(Case)).scalar() == stored  # nothing half-stored
    assert _audit_count(db, "events.open311.rejected") - before == 8
    assert _audit_count(db, "access.denied") - denied_before == 2


def test_unknown_request_and_token_are_404(client):
    assert client.get("/open311/v2/requests/2026010199999999.json").status_code == 404
    assert client.get("/open311/v2/requests/abc.json").status_code == 400
    assert client.get("/open311/v2/tokens/" + "0" * 32 + ".json").status_code == 404
