"""The rules validator governance lends the catalog: ``ResourceRules`` plus key-id sanity."""

from __future__ import annotations

from typing import Any

from yiwang.governance.engine import ResourceRules
from yiwang.governance.keys import ROW_KEY_ID, key_conflicts, policies


def validate_rules(rules: dict[str, Any]) -> dict[str, Any]:
    """Normalised rules, or ``ValueError`` / ``ValidationError`` naming the field and the rule broken."""
    model = ResourceRules.model_validate(rules)
    clash = key_conflicts(model)
    if clash:
        raise ValueError(f"mask key_id {clash[0]!r} is used for both pseudonym and encrypt; give each its own key_id")
    for where, policy in policies(model):
        if getattr(policy, "key_id", None) == ROW_KEY_ID:
            raise ValueError(f"{where}: key_id {ROW_KEY_ID!r} is reserved")
    reserved = [c.name for c in model.columns if c.name.startswith("_")]
    if reserved:
        raise ValueError(f"columns: {reserved[0]!r}: names starting with '_' are reserved for the lake")
    return model.to_dict()
