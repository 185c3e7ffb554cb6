"""X-Forwarded-For counts only from YIWANG_TRUSTED_PROXIES (issue 14, item 4), for the app and the lean
intake front alike, and the audit ledger keeps the peer and the forwarded chain apart from the address."""

from __future__ import annotations

import ipaddress
import json

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from yiwang.app import create_app
from yiwang.core import audit
from yiwang.core.audit import AuditEntry, Origin
from yiwang.core.config import Settings
from yiwang.core.web import client_address


def _scope(peer: str | None, *forwarded: str) -> dict:
    return {
        "type": "http",
        "client": (peer, 4321) if peer else None,
        "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded],
    }


def _nets(*values: str):
    return tuple(ipaddress.ip_network(v) for v in values)


PROXIES = _nets("10.0.0.0/24", "::1/128")


def test_untrusted_peer_keeps_its_own_address():
    got = client_address(_scope("127.0.0.1", "6.6.6.6"), trusted=())
    assert got.ip == "127.0.0.1" and got.peer == "127.0.0.1" and got.forwarded == ("6.6.6.6",)
    got = client_address(_scope("192.0.2.7", "6.6.6.6"), trusted=PROXIES)  # a peer that is not a proxy
    assert got.ip == "192.0.2.7"


def test_chain_is_walked_right_to_left_past_trusted_hops():
    # the client forged "6.6.6.6"; our proxies 10.0.0.9 then 10.0.0.5 appended what they saw
    got = client_address(_scope("10.0.0.5", "6.6.6.6, 203.0.113.4", "10.0.0.9"), trusted=PROXIES)
    assert got.ip == "203.0.113.4" and got.peer == "10.0.0.5"
    assert got.forwarded == ("6.6.6.6", "203.0.113.4", "10.0.0.9")
    assert got.origin() == Origin(
        ip="203.0.113.4", peer="10.0.0.5", forwarded_for=("6.6.6.6", "203.0.113.4", "10.0.0.9")
    )


def test_all_trusted_gives_the_leftmost_and_garbage_stops_the_walk():
    assert client_address(_scope("10.0.0.5", "10.0.0.7, 10.0.0.8"), trusted=PROXIES).ip == "10.0.0.7"
    assert client_address(_scope("10.0.0.5", "not-an-ip, 10.0.0.8"), trusted=PROXIES).ip == "10.0.0.8"
    assert client_address(_scope("::1", "[2001:db8::1]:443"), trusted=PROXIES).ip == "2001:db8::1"
    assert client_address(_scope("::1", "198.51.100.2:5555"), trusted=PROXIES).ip == "198.51.100.2"
    assert client_address(_scope("10.0.0.5"), trusted=PROXIES).origin().forwarded_for == ()
    assert client_address(_scope(None, "6.6.6.6"), trusted=PROXIES).ip is None


def test_setting_parses_addresses_and_networks():
    s = Settings(trusted_proxies=" 10.0.0.5, 192.168.10.0/24 ,::1")
    assert s.trusted_networks == _nets("10.0.0.5/32", "192.168.10.0/24", "::1/128")
    assert Settings().trusted_networks == ()
    with pytest.raises(ValidationError, match="YIWANG_TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.0/8,proxy.example")


def _last_entry(db, action: str) -> AuditEntry:
    return db.execute(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc()).limit(1)
    ).scalar_one()


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_app_and_lean_front_use_the_same_rule_and_the_ledger_keeps_the_chain(settings, db_factory, db, trusted):
    app = create_app(settings.model_copy(update={"trusted_proxies": trusted}), session_factory=db_factory)
    expected = "6.6.6.6" if trusted else "127.0.0.1"
    with TestClient(app, client=("127.0.0.1", 5000)) as c:
        # the FastAPI app: an unauthenticated API call is denied and audited
        assert c.get("/api/v1/events/cases", headers={"x-forwarded-for": "6.6.6.6"}).status_code == 401
        entry = _last_entry(db, "access.denied")
        assert entry.ip == expected
        detail = json.loads(entry.detail)
        assert detail["peer"] == "127.0.0.1" and detail["forwarded_for"] == ["6.6.6.6"]
        # the lean front: an Open311 POST with a wrong key is refused and audited
        r = c.post(
            "/open311/v2/requests.json",
            data={"api_key": "wrong", "service_code": "200404", "lat": "31.39", "long": "120.95"},
            headers={"x-forwarded-for": "6.6.6.6"},
        )
        assert r.status_code == 403
        entry = _last_entry(db, "access.denied")
        assert entry.target_id == "POST /open311/v2/requests.json" and entry.ip == expected
        assert json.loads(entry.detail)["forwarded_for"] == ["6.6.6.6"]


def test_uvicorn_does_not_rewrite_the_client_address(monkeypatch):
    import uvicorn

    from yiwang.core import serve

    seen = {}

    class FakeServer:
        def __init__(self, config):
            pass

        def run(self, sockets=None):
            for s in sockets or ():
                s.close()

    monkeypatch.setattr(uvicorn, "Config", lambda *a, **kw: seen.update(kw))
    monkeypatch.setattr(uvicorn, "Server", FakeServer)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(run=kw))
    serve._worker("127.0.0.1", 0, "info", "x:y", True)
    assert seen["proxy_headers"] is False
    serve.serve("127.0.0.1", 0, 1, "info")
    assert seen["run"]["proxy_headers"] is False


def test_the_ledger_keeps_peer_and_chain_apart_from_the_client_address(db):
    got = client_address(_scope("10.0.0.5", "6.6.6.6, 203.0.113.4"), trusted=PROXIES)
    entry = audit.record(db, actor=None, action="test.forwarded", origin=got.origin(), detail={"k": 1})
    plain = audit.record(db, actor=None, action="test.direct", origin=Origin(ip="192.0.2.1"))
    db.commit()
    assert entry.ip == "203.0.113.4"
    assert json.loads(entry.detail) == {"k": 1, "peer": "10.0.0.5", "forwarded_for": ["6.6.6.6", "203.0.113.4"]}
    assert json.loads(plain.detail) == {}
    assert audit.verify(db).ok
