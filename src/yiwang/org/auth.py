"""Sign-in, browser sessions, bearer tokens and the throttle on failed logins.

Secrets (session cookies, tokens) are random; only their SM3 digests are stored, so a
copy of the database does not let anyone sign in. Every sign-in, failure, token issue
and revocation is written to the audit ledger in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.config import Settings
from yiwang.core.db import utcnow
from yiwang.core.errors import AccessDenied, Invalid, NotAuthenticated, NotFound, TooManyRequests
from yiwang.core.i18n import _
from yiwang.core.security import (
    Actor,
    burn_password_check,
    hash_password,
    new_token,
    password_needs_rehash,
    permissions_for,
    scopes_for,
    token_digest,
    verify_password,
)
from yiwang.org.models import ApiToken, LoginFailure, User, WebSession
from yiwang.org.queries import department_subtree_ids, region_label

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


# Throttle ---------------------------------------------------------------------


def _throttle_keys(username: str, origin: Origin) -> list[str]:
    keys = [f"user:{username.lower()}"]
    if origin.ip:
        keys.append(f"ip:{origin.ip}")
    return keys


def _check_throttle(session: Session, keys: list[str], settings: Settings) -> None:
    window = dt.timedelta(minutes=settings.login_lockout_minutes)
    since = utcnow() - window
    for key in keys:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.key == key, LoginFailure.at >= since)
        ).one()
        # The address limit is looser: several people may share one office NAT.
        limit = settings.login_max_failures * (4 if key.startswith("ip:") else 1)
        if count >= limit:
            retry = max(1, int((oldest + window - utcnow()).total_seconds()))
            raise TooManyRequests(
                _("Too many failed sign-ins. Try again in %(minutes)s minutes.", minutes=max(1, retry // 60)),
                retry_after=retry,
                code="login_throttled",
            )


# Sign-in -------------------------------------------------------------------


def authenticate(session: Session, *, username: str, password: str, origin: Origin, settings: Settings) -> User:
    """Check a username and password; failures are counted, audited and committed before raising."""
    username = (username or "").strip()
    keys = _throttle_keys(username, origin)
    try:
        _check_throttle(session, keys, settings)
    except TooManyRequests as exc:
        audit.record(
            session,
            actor=None,
            action="auth.login_throttled",
            outcome="denied",
            target_type="user",
            target_id=username,
            origin=origin,
        )
        db.commit(session)
        exc.detail["audited"] = True
        raise
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    ok = False
    if user is None:
        burn_password_check(password)
    else:
        ok = verify_password(user.password_hash, password) and user.is_active
    if not ok:
        for key in keys:
            session.add(LoginFailure(key=key))
        audit.record(
            session,
            actor=None,
            action="auth.login_failed",
            outcome="failed",
            target_type="user",
            target_id=username,
            origin=origin,
            detail={"reason": "inactive" if user is not None and not user.is_active else "bad_credentials"},
        )
        db.commit(session)
        raise NotAuthenticated(_("Wrong username or password."), code="bad_credentials", audited=True)
    assert user is not None  # ok only for a user found
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.execute(delete(LoginFailure).where(LoginFailure.key == keys[0]))
    user.last_login_at = utcnow()
    return user


def open_web_session(
    session: Session, *, user: User, origin: Origin, user_agent: str | None, settings: Settings
) -> str:
    token = new_token("ys")
    session.add(
        WebSession(
            token_digest=token_digest(token),
            user_id=user.id,
            ip=origin.ip,
            user_agent=(user_agent or "")[:300],
            expires_at=utcnow() + dt.timedelta(hours=settings.session_hours),
        )
    )
    audit.record(
        session,
        actor=_plain_actor(user),
        action="auth.login",
        target_type="user",
        target_id=user.id,
        origin=origin,
        detail={"method": "password", "channel": "browser"},
    )
    db.commit(session)
    return token


def close_web_session(session: Session, *, token: str, actor: Actor, origin: Origin) -> None:
    row = session.execute(select(WebSession).where(WebSession.token_digest == token_digest(token))).scalar_one_or_none()
    if row and row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session, actor=actor, action="auth.logout", target_type="user", target_id=actor.user_id, origin=origin
        )
    db.commit(session)


def actor_for_session(session: Session, token: str) -> Actor | None:
    row = session.execute(select(WebSession).where(WebSession.token_digest == token_digest(token))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return build_actor(session, user, auth_method="session")


# Bearer tokens ----------------------------------------------------------------


def issue_access_token(session: Session, *, user: User, origin: Origin, settings: Settings) -> tuple[str, int]:
    """OAuth2 password flow: a short-lived token carrying all of the user's permissions."""
    token = new_token("yw")
    lifetime = settings.access_token_minutes * 60
    session.add(
        ApiToken(
            user_id=user.id,
            kind="access",
            token_digest=token_digest(token),
            prefix=token[:10],
            scopes="*",
            expires_at=utcnow() + dt.timedelta(seconds=lifetime),
        )
    )
    audit.record(
        session,
        actor=_plain_actor(user),
        action="auth.token_issued",
        target_type="user",
        target_id=user.id,
        origin=origin,
        detail={"kind": "access", "expires_in": lifetime},
    )
    db.commit(session)
    return token, lifetime


def create_named_token(
    session: Session, *, actor: Actor, name: str, scopes: list[str], expires_in_days: int | None, origin: Origin
) -> tuple[ApiToken, str]:
    actor.require("tokens.use")
    if actor.user_id is None:
        raise AccessDenied(_("Only a signed-in user can hold tokens."))
    if actor.auth_method == "named_token":
        raise AccessDenied(_("A token cannot create further tokens; sign in with a password."))
    scopes = sorted(set(scopes or ["*"]))
    unknown = [s for s in scopes if s != "*" and s not in actor.permissions]
    if unknown:
        raise Invalid(
            _("You cannot give a token permissions you do not have: %(perms)s", perms=", ".join(unknown)),
            field="scopes",
        )
    token = new_token("yw")
    row = ApiToken(
        user_id=actor.user_id,
        kind="named",
        name=name.strip(),
        token_digest=token_digest(token),
        prefix=token[:10],
        scopes=" ".join(scopes),
        expires_at=utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="auth.token_created",
        target_type="api_token",
        target_id=row.id,
        origin=origin,
        detail={"name": row.name, "scopes": row.scopes, "expires_at": row.expires_at},
    )
    db.commit(session)
    return row, token


def list_named_tokens(session: Session, *, actor: Actor) -> list[ApiToken]:
    return list(
        session.execute(
            select(ApiToken)
            .where(ApiToken.user_id == actor.user_id, ApiToken.kind == "named")
            .order_by(ApiToken.id.desc())
        ).scalars()
    )


def revoke_token(session: Session, *, actor: Actor, token_id: int, origin: Origin) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.kind != "named":
        raise NotFound(_("No such token."))
    if row.user_id != actor.user_id and not actor.can("org.manage"):
        raise AccessDenied(_("This token belongs to someone else."))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="auth.token_revoked",
            target_type="api_token",
            target_id=row.id,
            origin=origin,
            detail={"name": row.name},
        )
    db.commit(session)
    return row


def actor_for_bearer(session: Session, token: str) -> Actor:
    row = session.execute(select(ApiToken).where(ApiToken.token_digest == token_digest(token))).scalar_one_or_none()
    if row is None:
        raise NotAuthenticated(_("The access token is not valid."), code="invalid_token")
    now = utcnow()
    if row.revoked_at is not None:
        raise NotAuthenticated(_("The access token has been revoked."), code="token_revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise NotAuthenticated(_("The access token has expired."), code="token_expired")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated(_("The account of this token is disabled."), code="account_disabled")
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    scopes = None if row.scope_list == ["*"] else frozenset(row.scope_list)
    method = "named_token" if row.kind == "named" else "access_token"
    return build_actor(session, user, auth_method=method, token_scopes=scopes)


# Actor ----------------------------------------------------------------------


def actor_for_username(session: Session, username: str) -> Actor | None:
    """The Actor of an active account, for commands and background jobs run on someone's behalf."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.is_active:
        return None
    return build_actor(session, user, auth_method="system")


def _plain_actor(user: User) -> Actor:
    return Actor(user_id=user.id, username=user.username, display_name=user.display_name, kind=user.kind)


def build_actor(session: Session, user: User, *, auth_method: str, token_scopes: frozenset[str] | None = None) -> Actor:
    role_keys = frozenset(user.role_keys)
    perms = permissions_for(role_keys)
    if token_scopes is not None:
        perms = perms & token_scopes
    dept = user.department
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=role_keys,
        permissions=perms,
        scopes=scopes_for(role_keys),
        kind=user.kind,
        department_id=dept.id if dept else None,
        department_name=dept.name if dept else None,
        department_ids=department_subtree_ids(session, dept.id) if dept else frozenset(),
        region_code=user.region_code,
        region_name=region_label(session, user.region_code) if user.region_code else None,
        auth_method=auth_method,
    )
