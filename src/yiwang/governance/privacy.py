"""De-identification checks on the share zone: k-anonymity, and entitled SM4 decryption."""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy.orm import Session

from yiwang import catalog, lake
from yiwang.core.audit import Origin
from yiwang.core.config import Settings
from yiwang.core.errors import Invalid, NotFound
from yiwang.core.i18n import _
from yiwang.core.security import Actor
from yiwang.governance import keys as keymod
from yiwang.governance.engine import ResourceRules, k_anonymity, sm4_decrypt_column
from yiwang.governance.engine.rules import EncryptMask
from yiwang.governance.roles import DECRYPT
from yiwang.governance.schemas import KAnonymityPublic


def _share(session: Session, *, actor: Actor, settings: Settings, name: str):
    res = lake.resource(session, actor=actor, name=name)
    lake.require_zone(actor, res, "share", None)
    the_lake = lake.lake_for(settings)
    table = f"share.{name}"
    if not the_lake.exists(table):
        raise NotFound(_("%(table)s has no data yet: nothing was loaded.", table=table), field="name")
    return res, the_lake, table


def k_anonymity_report(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    name: str,
    quasi_identifiers: list[str],
    k: int = 5,
    as_of: str | None = None,
) -> KAnonymityPublic:
    """Smallest equivalence class of the (masked) share zone over the chosen columns, streamed."""
    _res, the_lake, table = _share(session, actor=actor, settings=settings, name=name)
    columns = [f.name for f in the_lake.schema(table)]
    unknown = [q for q in quasi_identifiers if q not in columns or q.startswith("_")]
    if unknown:
        raise Invalid(
            _("%(column)s is not a column of %(table)s.", column=unknown[0], table=table), field="quasi_identifiers"
        )
    if len(set(quasi_identifiers)) != len(quasi_identifiers):
        raise Invalid(_("Name each quasi-identifier once."), field="quasi_identifiers")
    snapshot = the_lake.snapshot_id(table, as_of=lake.parse_as_of(as_of))
    batches = the_lake.read_batches(table, snapshot_id=snapshot, columns=quasi_identifiers) if snapshot else []
    report = k_anonymity(batches, quasi_identifiers, k=k, show=20)
    return KAnonymityPublic(
        table=table,
        snapshot_id=snapshot,
        quasi_identifiers=quasi_identifiers,
        threshold=k,
        k=report.k,
        satisfied=report.satisfied,
        classes=report.classes,
        rows=report.rows,
        classes_below=report.classes_below,
        rows_below=report.rows_below,
        smallest=[lake.jsonable(r) for r in report.smallest],
    )


def decrypt(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    name: str,
    column: str,
    values: list[str],
    reason: str,
    origin: Origin,
) -> list[str | None]:
    """Clear text of SM4-encrypted share values, for staff entitled to it; audited with the reason."""
    actor.require(DECRYPT)
    res = lake.resource(session, actor=actor, name=name)
    checked = lake.require_zone(actor, res, "clean", reason)  # same bar as reading personal data as received
    assert checked is not None  # a personal zone always yields the checked reason
    rules = ResourceRules.from_dict(catalog.resource_rules(session, name).rules)
    policy = None
    for rule in rules.columns:
        if rule.name == column and isinstance(rule.mask, EncryptMask):
            policy = rule.mask
        for extra, p in rule.extra_masks.items():
            if extra == column and isinstance(p, EncryptMask):
                policy = p
    if policy is None:
        raise Invalid(
            _("%(column)s is not an SM4-encrypted column of %(name)s.", column=column, name=name), field="column"
        )
    try:  # the API and pages show ciphertext as hex (``lake.jsonable``)
        sealed = pa.array([bytes.fromhex(v) for v in values], pa.large_binary())
        clear = sm4_decrypt_column(sealed, keymod.sm4_key(settings, policy.key_id))
    except Exception:
        raise Invalid(
            _("A value is not ciphertext of this column (tampered or from another key)."),
            field="values",
            code="not_ciphertext",
        ) from None
    lake.record_personal_read(
        session,
        actor=actor,
        tables=[f"share.{name}"],
        reason=checked,
        origin=origin,
        detail={"decrypt": column, "values": len(values)},
    )
    session.commit()
    return clear.to_pylist()
