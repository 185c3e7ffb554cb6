"""Address masks cut multi-byte text at the right character, whatever the libraries count in.

Polars 2 changed ``str.find`` from byte to character offsets and a byte cut landed inside a
character. Here every cut point is surrounded by text of one to four UTF-8 bytes per
character (Chinese, full-width digits, emoji, accented Latin, extension-B characters), and both
the Polars masks and the compiled kernels must equal a plain-Python oracle written in
characters.
"""

from __future__ import annotations

import random
import re

import polars as pl
import pyarrow as pa
import pytest
from engine_oracle import ReferenceGovernor, truncate_address

from yiwang.governance.engine.governor import Governor
from yiwang.governance.engine.masking import _LEVEL_MARKERS
from yiwang.governance.engine.rules import AddressMask, ResourceRules

# one to four UTF-8 bytes per character, and the characters the masks cut at
FILLERS = ["a", "é", "ß", "玉", "１２", "３号", "🏠", "👩‍👩‍👧", "𠀀", "Ａbc", "ｘ", " ", "·", "ℝ", "٣"]
MARKERS = ["社区", "居委会", "村委会", "村", "镇", "街道", "乡", "县", "区", "市", "旗", "路", "小区", "号", "3", "0"]

POLICIES = [
    AddressMask(),
    AddressMask(fallback="keep_county"),
    AddressMask(fallback="keep_town"),
    AddressMask(fallback="keep"),
    AddressMask(level="town"),
    AddressMask(level="town", fallback="keep_county"),
    AddressMask(level="county"),
    AddressMask(keywords=["小区", "社区", "号"], fallback="keep_town"),
    AddressMask(keywords=["🏠", "Ａbc", "é"], fallback="keep"),
]


def _prefix(text: str, markers: list[str]) -> str | None:
    """Up to and including the earliest marker (the longest one on a tie), in characters."""
    hits = [(text.find(m), -len(m), m) for m in markers if m in text]
    if not hits:
        return None
    at, _, m = min(hits)
    return text[: at + len(m)]


def _county(text: str) -> str | None:
    head = re.split(r"[0-9路街巷道镇乡村]|社区", text, maxsplit=1)[0]
    last = max(head.rfind(c) for c in "县区市旗")
    return head[: last + 1] if last >= 0 else None


def oracle(text: str | None, policy: AddressMask) -> str | None:
    if text is None:
        return None
    if policy.keywords:
        cut = _prefix(text, policy.keywords)
    elif policy.level in ("community", "town"):
        cut = _prefix(text, _LEVEL_MARKERS[policy.level])
    else:
        cut = _county(text)
    if cut is not None or policy.fallback == "suppress" or policy.level == "county":
        return cut
    if policy.fallback == "keep":
        return text
    town = _prefix(text, _LEVEL_MARKERS["town"]) if policy.level != "town" else None
    if policy.fallback == "keep_town":
        return town
    return town if town is not None else _county(text)


def _addresses(seed: int, n: int) -> list[str | None]:
    r = random.Random(seed)
    out: list[str | None] = [None, "", "🏠", "镇", "社区🏠", "𠀀县", "é市ß", "１２３号"]
    for _ in range(n):
        pieces = [r.choice(FILLERS + MARKERS) for _ in range(r.randrange(1, 9))]
        out.append("".join(pieces))
    return out


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"{p.level}-{p.fallback}-{len(p.keywords or [])}")
def test_polars_masks_cut_at_characters(policy):
    values = _addresses(1, 3000)
    got = truncate_address(pl.Series("a", values, pl.String), policy).to_list()
    want = [oracle(v, policy) for v in values]
    bad = [(v, g, w) for v, g, w in zip(values, got, want, strict=True) if g != w]
    assert not bad, bad[:5]


def test_every_cut_point_has_multibyte_neighbours():
    """The generated data really puts 2-, 3- and 4-byte characters on both sides of cuts."""
    values = [v for v in _addresses(1, 3000) if v]
    cuts = [oracle(v, AddressMask(fallback="keep_county")) for v in values]
    sides = {
        (len(c[-1].encode()), len(v[len(c)].encode()))
        for v, c in zip(values, cuts, strict=True)
        if c and len(c) < len(v)
    }
    assert {(3, 1), (3, 2), (3, 3), (3, 4)} <= sides


@pytest.mark.parametrize("seed", range(3))
def test_compiled_kernels_cut_at_characters(seed):
    masks = {f"m{i}": p.model_dump(exclude_none=True) for i, p in enumerate(POLICIES)}
    rules = ResourceRules.model_validate(
        {
            "resource": "multibyte",
            "columns": [{"name": "地址", "kind": "address", "mask": {"method": "keep"}, "extra_masks": masks}],
        }
    )
    values = _addresses(seed + 10, 2000)
    batch = pa.RecordBatch.from_pydict(
        {"地址": pa.array(values, pa.string()), "_line": pa.array(range(2, 2 + len(values)), pa.int64())}
    )
    fast = Governor(rules, today=None).process(batch)
    slow = ReferenceGovernor(rules, today=None).process(batch)
    assert fast.share.equals(slow.share)
    clean = fast.share.column("地址").to_pylist()
    assert len(clean) > len(values) * 0.9
    for i, policy in enumerate(POLICIES):
        got = fast.share.column(f"m{i}").to_pylist()
        want = [oracle(v, policy) for v in clean]
        assert got == want, (policy, next((c, g, w) for c, g, w in zip(clean, got, want, strict=True) if g != w))
