"""Append-only, SM3 hash-chained audit ledger.

Every write and every read of personal data is recorded: who, what, target, when, from
where, and the declared reason. Entry *n* stores ``hash = SM3(canonical(n) || prev_hash)``
and a one-row head table holds the last id and hash, so editing, deleting (even the last
row) or reordering any entry breaks verification. Database triggers refuse UPDATE and
DELETE on the ledger; the chain catches anyone who drops them first.

Appends serialise on the head row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
append takes the writer lock before it reads the head), so the chain never forks.

Whoever owns the database can still rewrite the tail and recompute every hash. So the head
is also signed with SM2 and exported outside the database as *anchors* (a JSON-lines file
and a log line); ``verify`` with anchors checks that the chain still holds each anchored
entry with the anchored hash, which detects a rewrite or a truncation up to the last anchor.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from sqlalchemy import BigInteger, Connection, Index, String, Table, Text, func, insert, select, tuple_, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from yiwang.core import crypto
from yiwang.core.crypto import sm3_hex
from yiwang.core.db import Base, reading, start_writing, utcnow
from yiwang.core.errors import Invalid
from yiwang.core.i18n import _

if TYPE_CHECKING:
    from fastapi import FastAPI

    from yiwang.core.config import Settings

GENESIS_HASH = "0" * 64
ANCHOR_FORMAT = "yiwang.audit.anchor/1"
log = structlog.get_logger("yiwang.core.audit")


class LedgerError(RuntimeError):
    """The ledger cannot be appended to or anchored; stopping beats forking or blessing the chain."""


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
        Index("ix_audit_entries_ts_id", "ts", "id"),  # time-range searches, newest first, without a sort
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
    @property
    def user_id(self) -> int | None: ...

    @property
    def username(self) -> str | None: ...


@dataclass(frozen=True)
class Origin:
    """Where a request came from (filled by the web layer; CLI uses ``Origin('cli')``).

    ``ip`` is the client as far as trusted proxies vouch for it; when an ``X-Forwarded-For`` chain
    came with the request, the entry's detail also keeps the connecting ``peer`` and the chain as
    received, apart from ``ip``: a claim is recorded, never mistaken for the address.
    """

    ip: str | None = None
    peer: str | None = None
    forwarded_for: tuple[str, ...] = ()


def _canonical(
    entry_id: int,
    ts: dt.datetime,
    actor_id: int | None,
    actor_username: str | None,
    action: str,
    target_type: str | None,
    target_id: str | None,
    outcome: str,
    ip: str | None,
    reason: str | None,
    detail: str,
) -> str:
    return json.dumps(
        [
            entry_id,
            ts.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            actor_id,
            actor_username,
            action,
            target_type,
            target_id,
            outcome,
            ip,
            reason,
            detail,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def compute_hash(entry: AuditEntry | Any, prev_hash: str) -> str:
    body = _canonical(
        entry.id,
        entry.ts,
        entry.actor_id,
        entry.actor_username,
        entry.action,
        entry.target_type,
        entry.target_id,
        entry.outcome,
        entry.ip,
        entry.reason,
        entry.detail,
    )
    return sm3_hex(body + prev_hash)


def _lock_head(session: Session) -> tuple[int, str]:
    """The last entry's id and hash, with the head row locked until the transaction ends.

    Takes the writer's place first: on SQLite a deferred (GET) transaction that read the head and
    only then upgraded could chain onto a head another writer has since moved.
    """
    start_writing(session)
    stmt = select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    if row is None:  # seeded by migration 0002: its absence is damage, not a fresh start
        raise LedgerError(
            "the audit ledger has no head row (audit_head id 1): run `yiwang db upgrade`; "
            "if it still fails the head was deleted - run `yiwang audit verify`"
        )
    return row[0], row[1]


# The entry's short text columns and their lengths, read from the table: ``record`` fits every value to its
# column, so no caller can overflow one with what a request brought (a 5,000-character path in
# ``target_id``, a pasted username): PostgreSQL refuses an over-long value and the request would end in a
# 500 with nothing recorded; SQLite would store it whole.
_LENGTHS = {
    c.name: c.type.length
    for c in AuditEntry.__table__.columns
    if isinstance(c.type, String) and c.type.length and c.name not in ("prev_hash", "hash")
}
CUT_MARK = "…"  # ends a value that was cut to its column


def fit(value: Any, limit: int | None = None) -> str | None:
    """``value`` as the ledger stores it: text, NUL characters replaced (PostgreSQL refuses them in text) and,
    beyond ``limit`` characters, cut to ``limit`` with ``CUT_MARK`` last — recorded, never refused."""
    if value is None:
        return None
    text = str(value).replace("\x00", "\ufffd")
    if limit is not None and len(text) > limit:
        text = text[: limit - len(CUT_MARK)] + CUT_MARK
    return text


def _chained_row(
    entry_id: int,
    prev_hash: str,
    ts: dt.datetime,
    *,
    actor: ActorLike | None,
    action: str,
    target_type: str | None = None,
    target_id: Any = None,
    outcome: str = "ok",
    origin: Origin | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    row = {
        "id": entry_id,
        "ts": ts,
        "actor_id": getattr(actor, "user_id", None),
        "actor_username": fit(getattr(actor, "username", None), _LENGTHS["actor_username"]),
        "action": fit(action, _LENGTHS["action"]),
        "target_type": fit(target_type, _LENGTHS["target_type"]),
        "target_id": fit(target_id, _LENGTHS["target_id"]),
        "outcome": fit(outcome, _LENGTHS["outcome"]),
        "ip": fit(origin.ip if origin else None, _LENGTHS["ip"]),
        "reason": fit(reason),
        "detail": json.dumps(
            _with_forwarding(detail, origin), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
        ),
        "prev_hash": prev_hash,
    }
    row["hash"] = compute_hash(SimpleNamespace(**row), prev_hash)
    return row


def _with_forwarding(detail: dict[str, Any] | None, origin: Origin | None) -> dict[str, Any]:
    if origin is None or not origin.forwarded_for:
        return detail or {}
    return {**(detail or {}), "peer": origin.peer, "forwarded_for": list(origin.forwarded_for)}


def _move_head(session: Session, last_id: int, last_hash: str) -> None:
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=last_id, last_hash=last_hash))


MIN_REASON, MAX_REASON = 4, 500  # characters of the reason stated for reading personal data


def personal_read_reason(reason: str | None) -> str:
    """The reason stated for a read of personal data, checked once for every kind of record."""
    text = (reason or "").strip()
    if not MIN_REASON <= len(text) <= MAX_REASON:
        raise Invalid(
            _(
                "State the reason for reading personal data (%(min)s to %(max)s characters).",
                min=MIN_REASON,
                max=MAX_REASON,
            ),
            field="reason",
            code="reason_required",
        )
    return text


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
    entry = AuditEntry(
        **_chained_row(
            last_id + 1,
            last_hash,
            utcnow(),
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            origin=origin,
            reason=reason,
            detail=detail,
        )
    )
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
    table = AuditEntry.__table__
    assert isinstance(table, Table)  # declared with columns, so a Table (typed as any FromClause)
    session.connection().execute(insert(table), rows)
    _move_head(session, last_id, last_hash)
    return len(rows)


# Verification ----------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_id: int | None = None
    problem: str | None = None
    head: tuple[int, str] | None = None  # (last_id, last_hash) as read before the chain
    anchors: int = 0  # anchors checked


@dataclass(frozen=True)
class Anchor:
    """A signed statement that the ledger's head was ``last_id``/``last_hash`` at time ``at``."""

    last_id: int
    last_hash: str
    at: str  # ISO 8601, UTC
    signature: str  # hex of the DER SM2 signature over ``message()``

    def message(self) -> bytes:
        return json.dumps([ANCHOR_FORMAT, self.last_id, self.last_hash, self.at], separators=(",", ":")).encode()

    def signed_by(self, public_key: bytes | str) -> bool:
        try:
            signature = bytes.fromhex(self.signature)
        except ValueError:
            return False
        return crypto.sm2_verify(public_key, self.message(), signature)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": ANCHOR_FORMAT,
                "last_id": self.last_id,
                "last_hash": self.last_hash,
                "at": self.at,
                "signature": self.signature,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str) -> Anchor:
        data = json.loads(line)
        if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
            raise ValueError("not an audit anchor")
        last_id, last_hash, at, signature = data["last_id"], data["last_hash"], data["at"], data["signature"]
        if not (
            isinstance(last_id, int)
            and last_id >= 0
            and isinstance(last_hash, str)
            and isinstance(at, str)
            and isinstance(signature, str)
        ):
            raise ValueError("malformed audit anchor")
        return cls(last_id, last_hash, at, signature)

    @classmethod
    def sign(cls, keypair: crypto.SM2KeyPair, last_id: int, last_hash: str, at: dt.datetime | None = None) -> Anchor:
        stamp = (at or utcnow()).astimezone(dt.UTC).isoformat(timespec="seconds")
        unsigned = cls(last_id, last_hash, stamp, "")
        return cls(last_id, last_hash, stamp, crypto.sm2_sign(keypair, unsigned.message()).hex())


def read_anchors(path: Path) -> list[Anchor]:
    """Every anchor in a JSON-lines file, in order; a line that is not one raises ``ValueError`` naming it."""
    anchors = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                anchors.append(Anchor.from_json(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not an audit anchor ({exc})") from None
    return anchors


def _iter_entries(session: Session, after: int = 0, batch: int = 5000) -> Iterator[AuditEntry]:
    last = after
    while True:
        rows = (
            session.execute(select(AuditEntry).where(AuditEntry.id > last).order_by(AuditEntry.id).limit(batch))
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


def verify(
    session: Session,
    anchors: Iterable[Anchor] = (),
    *,
    public_key: bytes | str | None = None,
    since: Anchor | None = None,
    consistent: bool = False,
) -> VerifyResult:
    """Walk the chain and name the first entry that was edited, deleted or moved.

    The head is read first and the chain must reach it: entries appended meanwhile (visible outside
    a snapshot) extend the chain and are checked like the rest. ``anchors`` (signatures checked
    with ``public_key``) must each still be in the chain with their hash. ``since`` (an anchor
    already checked) starts the walk at its entry instead of the first one. ``consistent``: the session
    is one snapshot, so entries past the head mean the head was moved back.
    """
    head_row = session.execute(select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)).first()
    expected: dict[int, Anchor] = {}
    checked = 0
    for anchor in anchors:
        if public_key is None or not anchor.signed_by(public_key):
            return VerifyResult(
                False,
                0,
                None,
                f"the anchor of {anchor.at} (#{anchor.last_id}) does not carry a "
                "valid signature of the anchor key: forged or altered",
            )
        known = expected.get(anchor.last_id)
        if known is not None and known.last_hash != anchor.last_hash:
            return VerifyResult(
                False,
                0,
                anchor.last_id,
                f"anchors of {known.at} and {anchor.at} disagree on entry #{anchor.last_id}: the ledger was rewritten",
            )
        expected.setdefault(anchor.last_id, anchor)
        checked += 1
    if head_row is None:
        return VerifyResult(False, 0, None, "the ledger head row (audit_head) is missing: deleted", anchors=checked)
    head = (head_row[0], head_row[1])
    count, expected_id, prev_hash = 0, 1, GENESIS_HASH

    def broken(bad_id: int | None, problem: str) -> VerifyResult:
        return VerifyResult(False, count, bad_id, problem, head, checked)

    if since is not None and since.last_id > 0:
        expected.setdefault(since.last_id, since)
        resume = session.get(AuditEntry, since.last_id)
        if resume is None or resume.hash != since.last_hash:
            return broken(
                since.last_id,
                f"entry #{since.last_id}, anchored on {since.at}, is "
                f"{'missing: deleted' if resume is None else 'not the one anchored: rewritten'}",
            )
        expected_id, prev_hash = resume.id + 1, resume.hash
    head_hash = prev_hash if head[0] == expected_id - 1 else None
    for entry in _iter_entries(session, after=expected_id - 1):
        if entry.id != expected_id:
            return broken(entry.id, f"entry #{expected_id} is missing (found #{entry.id} next): deleted or renumbered")
        if entry.prev_hash != prev_hash:
            return broken(
                entry.id, f"entry #{entry.id} does not link to entry #{entry.id - 1}: deleted, inserted or reordered"
            )
        if compute_hash(entry, prev_hash) != entry.hash:
            return broken(entry.id, f"entry #{entry.id} content does not match its hash: edited")
        anchored = expected.get(entry.id)
        if anchored is not None and anchored.last_hash != entry.hash:
            return broken(
                entry.id, f"entry #{entry.id} is not the one anchored on {anchored.at}: rewritten (hashes recomputed)"
            )
        if entry.id == head[0]:
            head_hash = entry.hash
        prev_hash, expected_id, count = entry.hash, entry.id + 1, count + 1
    last = expected_id - 1
    top = max(expected, default=0)
    if top > last:
        return broken(
            last + 1, f"the chain ends at #{last} but the anchor of {expected[top].at} saw #{top}: entries deleted"
        )
    if 0 in expected and expected[0].last_hash != GENESIS_HASH:
        return broken(None, f"the anchor of {expected[0].at} has a wrong hash for the empty ledger")
    if head[0] > last:
        return broken(
            last + 1, f"ledger head says #{head[0]} is last but the chain ends at #{last}: entries deleted at the end"
        )
    if head_hash != head[1]:
        return broken(head[0], f"ledger head does not match entry #{head[0]}: the head or the entry was rewritten")
    if consistent and last > head[0]:
        return broken(
            head[0] + 1,
            f"ledger head says #{head[0]} is last but the chain goes on to #{last}: the head was moved back",
        )
    return VerifyResult(True, count, head=head, anchors=checked)


@contextmanager
def snapshot(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only session on one consistent state of the database that no writer waits for.

    PostgreSQL: REPEATABLE READ, READ ONLY. SQLite: a deferred transaction (no writer lock), whose
    WAL snapshot is fixed by its first read.
    """
    with reading(), factory() as session:
        try:
            bind = session.get_bind()
            joined = isinstance(bind, Connection) and bind.in_transaction()  # a session inside a caller's
            if bind.dialect.name == "postgresql" and not joined:  # transaction sees what it sees
                session.connection(
                    execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                )
            yield session
        finally:
            session.rollback()


def verify_snapshot(
    factory: sessionmaker[Session], anchors: Iterable[Anchor] = (), *, public_key: bytes | str | None = None
) -> VerifyResult:
    """``verify`` in one snapshot: the head and the chain as of one moment, writers never blocked."""
    anchors = list(anchors)  # read before the snapshot starts, so it reaches every anchored entry
    with snapshot(factory) as session:
        return verify(session, anchors, public_key=public_key, consistent=True)


# Anchors: the signed head, exported outside the database ----------------------

KEY_FILE = "audit-anchor.key"


def anchor_keypair(settings: Settings, *, create: bool = True) -> crypto.SM2KeyPair:
    """The SM2 key pair that signs anchors: ``YIWANG_AUDIT_ANCHOR_KEY``, else a key kept in the home
    folder (made on first use), so anchors are signed from the first start on."""
    if settings.audit_anchor_key:
        return crypto.sm2_keypair_from_hex(settings.audit_anchor_key)
    path = settings.home_path / KEY_FILE
    if not path.exists():
        if not create:
            raise LedgerError(
                f"no anchor key: set YIWANG_AUDIT_ANCHOR_KEY or pass the public key ({path} does not exist)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(crypto.sm2_keypair_hex(crypto.sm2_generate_keypair()) + "\n")
        try:
            os.link(draft, path)  # appears whole or not at all; another process's key wins if it was first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return crypto.sm2_keypair_from_hex(path.read_text(encoding="ascii").strip())


def _last_anchor(path: Path, public_key: bytes) -> Anchor | None:
    """The newest anchor of the file signed by this key (the point the next one is checked from)."""
    if not path.exists():
        return None
    try:
        anchors = read_anchors(path)
    except ValueError:
        return None  # a damaged file: check the whole chain instead
    return max((a for a in anchors if a.signed_by(public_key)), key=lambda a: a.last_id, default=None)


def write_anchor(factory: sessionmaker[Session], path: Path, keypair: crypto.SM2KeyPair) -> Anchor:
    """Check the chain since the last anchor, sign the head as one snapshot sees it, append it to ``path``
    and log it; a broken chain is never signed (``LedgerError``)."""
    since = _last_anchor(path, keypair.public_key)
    with snapshot(factory) as session:
        result = verify(session, since=since, consistent=True)
    if not result.ok or result.head is None:
        log.error("audit.anchor.refused", first_bad_id=result.first_bad_id, problem=result.problem)
        raise LedgerError(f"audit ledger broken at entry #{result.first_bad_id}: {result.problem}; no anchor written")
    anchor = Anchor.sign(keypair, *result.head)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (anchor.to_json() + "\n").encode())  # one write: lines of several processes never interleave
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info(
        "audit.anchor",
        last_id=anchor.last_id,
        last_hash=anchor.last_hash,
        at=anchor.at,
        signature=anchor.signature,
        key=keypair.public_hex,
    )
    return anchor


class AnchorJob:
    """A daemon thread that writes an anchor at start and then every ``minutes``."""

    def __init__(self, factory: sessionmaker[Session], path: Path, keypair: crypto.SM2KeyPair, minutes: float) -> None:
        self.factory, self.path, self.keypair, self.seconds = factory, path, keypair, minutes * 60
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                write_anchor(self.factory, self.path, self.keypair)
            except Exception as exc:
                log.error("audit.anchor.failed", error=f"{type(exc).__name__}: {exc}"[:300])
            self.stop.wait(self.seconds)

    def start(self) -> AnchorJob:
        self.thread = threading.Thread(target=self._loop, name="audit-anchor", daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)


def anchor_in_background(app: FastAPI) -> None:
    """Web processes anchor the head every ``YIWANG_AUDIT_ANCHOR_MINUTES`` (apps handed a session
    factory, as in tests, own no engine and anchor nothing)."""
    from yiwang.core import web

    settings: Settings = app.state.settings
    if app.state.engine is None or not settings.audit_anchor_minutes:
        return

    def start(a: FastAPI) -> Callable[[], None]:
        job = AnchorJob(
            a.state.sessionmaker, settings.audit_anchor_path, anchor_keypair(settings), settings.audit_anchor_minutes
        )
        return job.start().close

    web.run_with_app(app, start)


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
    """Newest first; keyset pagination with ``before_id``. Permission checks are the caller's.

    A time range is read newest first by ``(ts, id)`` from its index, so a range of millions of entries
    is never sorted to show a page; otherwise by id (the primary key).
    """
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
    by_time = bool(flt.since or flt.until)
    if before_id:
        before_ts = (
            session.execute(select(AuditEntry.ts).where(AuditEntry.id == before_id)).scalar() if by_time else None
        )
        if before_ts is not None:
            stmt = stmt.where(tuple_(AuditEntry.ts, AuditEntry.id) < tuple_(before_ts, before_id))
        else:
            stmt = stmt.where(AuditEntry.id < before_id)
    order = (AuditEntry.ts.desc(), AuditEntry.id.desc()) if by_time else (AuditEntry.id.desc(),)
    return list(session.execute(stmt.order_by(*order).limit(limit)).scalars())


def count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
