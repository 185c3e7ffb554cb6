"""Append-only, SM3 hash-chained audit ledger.

Every write and every read of personal data is recorded: who, what, target, when, from
where, and the declared reason. Entry *n* stores ``hash = SM3(canonical(n) || prev_hash)``
and a one-row head table holds the last id and hash, so editing, deleting (even the last
row) or reordering any entry breaks verification. Database triggers refuse UPDATE and
DELETE on the ledger; the chain catches anyone who drops them first.

Appends serialise on the head row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
transactions already hold the write lock), so the chain never forks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import BigInteger, Index, String, Text, func, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from yiwang.core.crypto import sm3_hex
from yiwang.core.db import Base, utcnow

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[dt.datetime]
    actor_id: Mapped[int | None]
    actor_username: Mapped[str | None] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(100))
    target_id: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))  # ok | denied | failed
    ip: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_entries_ts", "ts"),
        Index("ix_audit_entries_actor_username", "actor_username"),
        Index("ix_audit_entries_action", "action"),
        Index("ix_audit_entries_target", "target_type", "target_id"),
    )


class AuditHead(Base):
    """The ledger's single head row: the last entry's id and hash (anchors tail deletions)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


def append_only_ddl(dialect: str) -> list[str]:
    """Triggers that refuse UPDATE and DELETE on the ledger (created by the first migration)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER audit_entries_no_{op.lower()} BEFORE {op} ON audit_entries "
            f"BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only'); END"
            for op in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit ledger is append-only'; END $$",
            "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()",
            "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()",
        ]
    return []


class ActorLike(Protocol):
    user_id: int | None
    username: str | None


@dataclass(frozen=True)
class Origin:
    """Where a request came from (filled by the web layer; CLI uses ``Origin('cli')``)."""

    ip: str | None = None


def _canonical(entry_id: int, ts: dt.datetime, actor_id: int | None, actor_username: str | None,
               action: str, target_type: str | None, target_id: str | None, outcome: str,
               ip: str | None, reason: str | None, detail: str) -> str:
    return json.dumps(
        [entry_id, ts.astimezone(dt.UTC).isoformat(timespec="microseconds"), actor_id, actor_username,
         action, target_type, target_id, outcome, ip, reason, detail],
        ensure_ascii=False, separators=(",", ":"),
    )


def compute_hash(entry: AuditEntry | Any, prev_hash: str) -> str:
    body = _canonical(entry.id, entry.ts, entry.actor_id, entry.actor_username, entry.action,
                      entry.target_type, entry.target_id, entry.outcome, entry.ip, entry.reason, entry.detail)
    return sm3_hex(body + prev_hash)


def _lock_head(session: Session) -> tuple[int, str]:
    """The last entry's id and hash, with the head row locked until the transaction ends."""
    stmt = select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    if row is None:
        session.add(AuditHead(id=1, last_id=0, last_hash=GENESIS_HASH))
        session.flush()
        return 0, GENESIS_HASH
    return row[0], row[1]


def _chained_row(entry_id: int, prev_hash: str, ts: dt.datetime, *, actor: ActorLike | None, action: str,
                 target_type: str | None = None, target_id: Any = None, outcome: str = "ok",
                 origin: Origin | None = None, reason: str | None = None,
                 detail: dict[str, Any] | None = None) -> dict[str, Any]:
    row = {
        "id": entry_id, "ts": ts, "actor_id": getattr(actor, "user_id", None),
        "actor_username": getattr(actor, "username", None), "action": action, "target_type": target_type,
        "target_id": None if target_id is None else str(target_id), "outcome": outcome,
        "ip": origin.ip if origin else None, "reason": reason,
        "detail": json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str),
        "prev_hash": prev_hash,
    }
    row["hash"] = compute_hash(SimpleNamespace(**row), prev_hash)
    return row


def _move_head(session: Session, last_id: int, last_hash: str) -> None:
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=last_id, last_hash=last_hash))


def record(
    session: Session,
    *,
    actor: ActorLike | None,
    action: str,
    target_type: str | None = None,
    target_id: Any = None,
    outcome: str = "ok",
    origin: Origin | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (it commits or rolls back with the write)."""
    last_id, last_hash = _lock_head(session)
    entry = AuditEntry(**_chained_row(last_id + 1, last_hash, utcnow(), actor=actor, action=action,
                                      target_type=target_type, target_id=target_id, outcome=outcome,
                                      origin=origin, reason=reason, detail=detail))
    session.add(entry)
    session.flush()
    _move_head(session, entry.id, entry.hash)
    return entry


def record_many(session: Session, entries: list[dict[str, Any]]) -> int:
    """Append several entries with one INSERT (group commit paths); each dict takes ``record``'s keywords."""
    if not entries:
        return 0
    last_id, last_hash = _lock_head(session)
    now, rows = utcnow(), []
    for fields in entries:
        row = _chained_row(last_id + 1, last_hash, now, **fields)
        rows.append(row)
        last_id, last_hash = row["id"], row["hash"]
    session.connection().execute(insert(AuditEntry.__table__), rows)
    _move_head(session, last_id, last_hash)
    return len(rows)


# Verification ----------------------------------------------------------------

@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_id: int | None = None
    problem: str | None = None


def _iter_entries(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain; report the first entry that was edited, deleted or moved."""
    expected_id, prev_hash, count = 1, GENESIS_HASH, 0
    for entry in _iter_entries(session):
        if entry.id != expected_id:
            return VerifyResult(False, count, entry.id,
                                f"entry #{expected_id} is missing (found #{entry.id} next): deleted or renumbered")
        if entry.prev_hash != prev_hash:
            return VerifyResult(False, count, entry.id,
                                f"entry #{entry.id} does not link to entry #{entry.id - 1}: deleted, inserted or reordered")
        if compute_hash(entry, prev_hash) != entry.hash:
            return VerifyResult(False, count, entry.id, f"entry #{entry.id} content does not match its hash: edited")
        prev_hash, expected_id, count = entry.hash, entry.id + 1, count + 1
    head = session.get(AuditHead, 1)
    last_id = head.last_id if head else 0
    last_hash = head.last_hash if head else GENESIS_HASH
    if last_id != count or last_hash != prev_hash:
        return VerifyResult(False, count, count + 1 if last_id > count else last_id,
                            f"ledger head says #{last_id} is last but the chain ends at #{count}: entries deleted at the end")
    return VerifyResult(True, count)


# Browsing --------------------------------------------------------------------

@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def search(session: Session, flt: AuditFilter, *, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
    """Newest first; keyset pagination with ``before_id``. Permission checks are the caller's."""
    stmt = select(AuditEntry)
    if flt.actor:
        stmt = stmt.where(AuditEntry.actor_username == flt.actor)
    if flt.action:
        stmt = stmt.where(AuditEntry.action.startswith(flt.action))
    if flt.target_type:
        stmt = stmt.where(AuditEntry.target_type == flt.target_type)
    if flt.target_id:
        stmt = stmt.where(AuditEntry.target_id == flt.target_id)
    if flt.outcome:
        stmt = stmt.where(AuditEntry.outcome == flt.outcome)
    if flt.since:
        stmt = stmt.where(AuditEntry.ts >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditEntry.ts < flt.until)
    if before_id:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(session.execute(stmt.order_by(AuditEntry.id.desc()).limit(limit)).scalars())


def count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
