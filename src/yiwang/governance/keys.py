"""Keys for pseudonyms and SM4 encryption, derived from the platform's secrets, never stored.

A mask names a ``key_id``; the key is HMAC-SM3(secret, purpose ‖ key_id). Pseudonyms use
``YIWANG_SECRET_KEY`` (32 bytes), encryption ``YIWANG_DATA_KEY`` (16 bytes, SM4). The key
depends on the key_id alone, not on the resource: resources that pseudonymise the same
people under one key_id (e.g. ``population``) can still be joined on their pseudonyms, and a
resource that must not be linkable picks its own key_id. Rotating a secret changes every
pseudonym, so it is a planned migration, not a setting to flip.
"""

from __future__ import annotations

from yiwang.core.config import Settings
from yiwang.core.crypto import hmac_sm3
from yiwang.governance.engine.rules import EncryptMask, PseudonymMask, ResourceRules

ROW_KEY_ID = "__rowkey__"  # pseudonymous key column of the share zone (upserts by key)


def pseudonym_key(settings: Settings, key_id: str) -> bytes:
    return hmac_sm3(settings.secret_key.encode(), b"yiwang/pseudonym/" + key_id.encode())


def sm4_key(settings: Settings, key_id: str) -> bytes:
    return hmac_sm3(settings.data_key_bytes, b"yiwang/sm4/" + key_id.encode())[:16]


def policies(rules: ResourceRules):
    for column in rules.columns:
        if column.mask is not None:
            yield column.name, column.mask
        yield from ((f"{column.name}→{name}", policy) for name, policy in column.extra_masks.items())


def key_conflicts(rules: ResourceRules) -> list[str]:
    """key_ids used for both pseudonyms and encryption (they need different keys)."""
    pseudo = {p.key_id for _, p in policies(rules) if isinstance(p, PseudonymMask)}
    crypt = {p.key_id for _, p in policies(rules) if isinstance(p, EncryptMask)}
    return sorted(pseudo & crypt)


def keys_for(settings: Settings, rules: ResourceRules) -> dict[str, bytes]:
    """Every key the rules' masks name, plus the share zone's row-key pseudonym key."""
    keys = {ROW_KEY_ID: pseudonym_key(settings, ROW_KEY_ID + rules.resource)}
    for _, policy in policies(rules):
        if isinstance(policy, PseudonymMask):
            keys[policy.key_id] = pseudonym_key(settings, policy.key_id)
        elif isinstance(policy, EncryptMask):
            keys[policy.key_id] = sm4_key(settings, policy.key_id)
    return keys
