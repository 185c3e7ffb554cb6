"""12345 hotline records imported in batches (CSV or XLSX) or posted through the API.

Columns are matched by their usual Chinese or English headers. Each record's 工单编号
becomes the idempotency key ``hotline:<no>``, so importing the same export twice adds
nothing. Bad rows are not silently dropped: the result lists each with its row number
and reason, and the import is audited with its counts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from openpyxl import load_workbook
from sqlalchemy.orm import Session

from yiwang.core import audit, db
from yiwang.core.audit import Origin
from yiwang.core.errors import Invalid, PayloadTooLarge, YiwangError
from yiwang.core.i18n import _
from yiwang.core.security import Actor
from yiwang.core.web import LOCAL_TZ
from yiwang.events import roles
from yiwang.events.intake import accept_many, build
from yiwang.events.triage import load_taxonomy

MAX_ROWS = 20000
MAX_BYTES = 20 * 1024 * 1024
HEADERS = {
    "record_no": ("工单编号", "工单号", "record_no", "id"),
    "called_at": ("来电时间", "受理时间", "called_at", "time"),
    "name": ("来电人", "姓名", "name"),
    "phone": ("联系电话", "电话", "phone"),
    "content": ("诉求内容", "来电内容", "内容", "content", "description"),
    "address": ("地址", "事发地址", "address"),
    "category": ("诉求类别", "小类", "category"),
    "lat": ("纬度", "lat"),
    "long": ("经度", "long", "lng"),
}


@dataclass
class ImportResult:
    received: int = 0
    accepted: int = 0
    already: int = 0
    rejected: list[dict] = field(default_factory=list)
    case_ids: list[int] = field(default_factory=list)


def _rows_from_file(data: bytes, filename: str) -> list[dict]:
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(_("The file is larger than %(mb)s MB.", mb=MAX_BYTES // 1024 // 1024), field="file")
    name = (filename or "").lower()
    if name.endswith(".xlsx") or data[:2] == b"PK":
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:
            raise Invalid(_("The file is not a readable XLSX workbook."), field="file") from None
        it = wb.active.iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(it, [])]
        rows = [dict(zip(header, row, strict=False)) for row in it if any(v not in (None, "") for v in row)]
    else:
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise Invalid(_("The CSV file is neither UTF-8 nor GB18030 text."), field="file")
        rows = list(csv.DictReader(io.StringIO(text)))
    if len(rows) > MAX_ROWS:
        raise PayloadTooLarge(_("At most %(n)s records per import.", n=MAX_ROWS), field="file")
    return rows


def _pick(row: dict, key: str):
    for h in HEADERS[key]:
        if h in row and row[h] not in (None, ""):
            return row[h]
    return None


def _time(value) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=LOCAL_TZ) if value.tzinfo is None else value
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("/", "-"))
    except ValueError:
        raise Invalid(_("Unreadable call time %(v)s.", v=str(value)[:30]), field="called_at") from None
    return parsed.replace(tzinfo=LOCAL_TZ) if parsed.tzinfo is None else parsed


def import_records(
    session: Session, *, actor: Actor, records: list[dict], origin: Origin, source_name: str = "api"
) -> ImportResult:
    """Validate and accept hotline records; bad ones are listed, not lost."""
    if not (actor.can(roles.DISPATCH) or actor.can(roles.INTAKE)):
        actor.require(roles.DISPATCH)
    if len(records) > MAX_ROWS:
        raise PayloadTooLarge(_("At most %(n)s records per import.", n=MAX_ROWS), field="records")
    result = ImportResult(received=len(records))
    reports, index = [], []
    tax = load_taxonomy()
    now = db.utcnow()
    for i, row in enumerate(records, start=2 if source_name != "api" else 1):
        try:
            no = str(_pick(row, "record_no") or "").strip()
            if not no:
                raise Invalid(_("The record has no 工单编号."), field="record_no")
            cat_name = _pick(row, "category")
            code = None
            if cat_name:
                try:
                    code = tax.by_name(str(cat_name).strip()).code
                except KeyError:
                    code = None  # the hotline's own category names differ; triage decides
            called = _time(_pick(row, "called_at"))
            if called and called > now + dt.timedelta(minutes=5):
                raise Invalid(_("The call time is in the future."), field="called_at")
            reports.append(
                build(
                    session,
                    channel="hotline",
                    description=str(_pick(row, "content") or ""),
                    category_code=code,
                    address=str(_pick(row, "address") or "") or None,
                    lat=_pick(row, "lat"),
                    lng=_pick(row, "long"),
                    require_location=False,
                    reporter_name=str(_pick(row, "name") or "") or None,
                    reporter_phone=str(_pick(row, "phone") or "") or None,
                    client=source_name[:100],
                    external_id=no[:100],
                    idem_key=f"hotline:{no[:180]}",
                    created_at=called.astimezone(dt.UTC) if called else None,
                )
            )
            index.append(i)
        except YiwangError as exc:
            result.rejected.append(
                {
                    "row": i,
                    "record_no": str(_pick(row, "record_no") or "")[:100],
                    "field": exc.detail.get("field"),
                    "message": exc.message,
                }
            )
    if reports:
        accepted = accept_many(session, reports, [actor] * len(reports), [origin] * len(reports))
        result.accepted = sum(a.created for a in accepted)
        result.already = len(accepted) - result.accepted
        result.case_ids = [a.id for a in accepted]
    audit.record(
        session,
        actor=actor,
        action="events.hotline.import",
        target_type="events_import",
        target_id=source_name[:100],
        origin=origin,
        detail={
            "received": result.received,
            "accepted": result.accepted,
            "already": result.already,
            "rejected": len(result.rejected),
        },
    )
    db.commit(session)
    return result


def import_file(session: Session, *, actor: Actor, data: bytes, filename: str, origin: Origin) -> ImportResult:
    rows = _rows_from_file(data, filename)
    return import_records(session, actor=actor, records=rows, origin=origin, source_name=(filename or "file")[:100])
