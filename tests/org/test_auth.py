"""Sign-in, sessions, CSRF, OAuth2 and named tokens, the failed-login throttle — and their audit trail."""

import datetime as dt

from sqlalchemy import select, update

from helpers import csrf_from
from yiwang.core import audit
from yiwang.core.db import utcnow
from yiwang.org.models import ApiToken


def _last(db, action):
    rows = audit.search(db, audit.AuditFilter(action=action), limit=1)
    return rows[0] if rows else None


def test_password_flow_and_me(client, settings):
    r = client.post(
        "/api/v1/auth/token", data={"username": "handler", "password": settings.demo_password, "grant_type": "password"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("yw_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert me["username"] == "handler" and me["display_name"] == "王磊"
    assert me["roles"] == ["case_handler"] and me["department"]["key"] == "urban_management"
    assert me["region"]["code"] == "320583" and me["auth_method"] == "access_token"


def test_wrong_password_is_401_and_audited(client, db):
    r = client.post("/api/v1/auth/token", data={"username": "handler", "password": "nope"})
    assert r.status_code == 401 and r.json()["detail"] == "用户名或密码错误。"
    entry = _last(db, "auth.login_failed")
    assert entry.target_id == "handler" and entry.outcome == "failed"


def test_unknown_user_same_answer(client):
    r = client.post("/api/v1/auth/token", data={"username": "ghost", "password": "whatever1"})
    assert r.status_code == 401 and r.json()["code"] == "bad_credentials"


def test_throttle_after_repeated_failures(client, settings, db):
    for _ in range(settings.login_max_failures):
        assert client.post("/api/v1/auth/token", data={"username": "leader", "password": "bad"}).status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": "leader", "password": settings.demo_password})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert _last(db, "auth.login_throttled").target_id == "leader"
    # Another account from the same address is not locked out yet.
    ok = client.post("/api/v1/auth/token", data={"username": "auditor", "password": settings.demo_password})
    assert ok.status_code == 200


def test_missing_and_malformed_credentials(client, db):
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    assert _last(db, "access.denied").outcome == "denied"


def test_expired_and_revoked_tokens(client, bearer, db):
    headers = bearer("town")
    token = headers["Authorization"].split()[1]
    from yiwang.core.security import token_digest

    db.execute(
        update(ApiToken)
        .where(ApiToken.token_digest == token_digest(token))
        .values(expires_at=utcnow() - dt.timedelta(seconds=1))
    )
    db.commit()
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "token_expired"

    admin = bearer("admin")
    created = client.post(
        "/api/v1/me/tokens", json={"name": "nightly export", "expires_in_days": 30}, headers=admin
    ).json()
    named = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/v1/me", headers=named).status_code == 200
    assert client.delete(f"/api/v1/me/tokens/{created['id']}", headers=admin).status_code == 200
    r = client.get("/api/v1/me", headers=named)
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer yw_forged"}).json()["code"] == "invalid_token"


def test_named_tokens_are_hashed_scoped_and_cannot_mint_tokens(client, bearer, db):
    admin = bearer("admin")
    created = client.post("/api/v1/me/tokens", json={"name": "read users", "scopes": ["org.view"]}, headers=admin)
    assert created.status_code == 201
    value = created.json()["token"]
    row = db.execute(select(ApiToken).where(ApiToken.id == created.json()["id"])).scalar_one()
    assert value not in (row.token_digest, row.prefix) and len(row.token_digest) == 64
    scoped = {"Authorization": f"Bearer {value}"}
    assert client.get("/api/v1/me", headers=scoped).json()["permissions"] == ["org.view"]
    assert client.get("/api/v1/org/users", headers=scoped).status_code == 200
    assert client.get("/api/v1/audit/entries", headers=scoped).status_code == 403  # admin could; token may not
    assert client.post("/api/v1/me/tokens", json={"name": "x"}, headers=scoped).status_code == 403
    # A scope the user lacks is refused with the field named.
    r = client.post("/api/v1/me/tokens", json={"name": "y", "scopes": ["no.such"]}, headers=bearer("town"))
    assert r.status_code == 422 and r.json()["field"] == "scopes"
    listed = client.get("/api/v1/me/tokens", headers=admin).json()
    assert [t["name"] for t in listed][:1] == ["read users"] and "token" not in listed[0]


def test_browser_login_sets_safe_cookie_and_logout(client, settings, db):
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": "handler", "password": settings.demo_password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/workspace"
    cookie = r.headers["set-cookie"]
    assert "yiwang_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = client.get("/workspace")
    assert "王磊" in home.text and "昆山市城市管理局" in home.text
    out = client.post("/logout", data={"csrf_token": csrf_from(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/workspace", follow_redirects=False).status_code == 303  # back to sign-in
    assert _last(db, "auth.logout").actor_username == "handler"


def test_login_form_without_csrf_is_refused_and_audited(client, settings, db):
    client.get("/login")
    r = client.post("/login", data={"username": "handler", "password": settings.demo_password})
    assert r.status_code == 403 and "CSRF" in r.text
    entry = _last(db, "access.denied")
    assert '"code":"csrf_failed"' in entry.detail


def test_wrong_password_page_is_chinese(client):
    page = client.get("/login")
    r = client.post("/login", data={"username": "handler", "password": "bad", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 401 and "用户名或密码错误" in r.text


def test_cookie_session_api_write_needs_csrf_header(as_role):
    c = as_role["admin"]
    r = c.post("/api/v1/me/tokens", json={"name": "from browser"})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    token = csrf_from(c.get("/workspace").text)
    r = c.post("/api/v1/me/tokens", json={"name": "from browser"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 201


def test_resolving_a_browser_session_ends_the_transaction_before_awaiting(as_role, db):
    """A session cookie is checked in a transaction that is over before the CSRF check awaits the body:
    on SQLite an open write transaction across an await would hold the writer lock for every process."""
    from starlette.requests import Request

    from helpers import run_async
    from yiwang.core.web import SESSION_COOKIE
    from yiwang.org.deps import _resolve_actor

    cookie = as_role["case_handler"].cookies.get(SESSION_COOKIE)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/workspace",
        "query_string": b"",
        "headers": [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())],
    }
    request = Request(scope)
    actor = run_async(_resolve_actor(request, db))
    assert actor is not None and actor.username == "handler"
    assert not db.in_transaction()
