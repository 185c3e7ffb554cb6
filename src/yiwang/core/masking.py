"""Masking of single values for display (the vectorised engine lives in governance)."""

from __future__ import annotations


def keep_ends(value: str | None, first: int, last: int, char: str = "*") -> str | None:
    """``keep_ends('13812345678', 3, 4) == '138****5678'``; short values are fully masked."""
    if value is None:
        return None
    if len(value) <= first + last:
        return char * len(value)
    return value[:first] + char * (len(value) - first - last) + (value[-last:] if last else "")


def mask_phone(value: str | None) -> str | None:
    return keep_ends(value, 3, 4)


def mask_id_number(value: str | None) -> str | None:
    return keep_ends(value, 6, 4)


def mask_name(value: str | None) -> str | None:
    """Keep the surname: 张三丰 → 张**."""
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1)
