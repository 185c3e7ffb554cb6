"""Masking of single values for display (the vectorised engine lives in governance)."""

from __future__ import annotations

import re
from typing import overload


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


# Free text ---------------------------------------------------------------------------
#
# ``redact(text)`` is THE redactor of personal data in free text shown to the public (Open311, the
# portal's status page): resident ID numbers (18 characters with any check character — a typo'd ID is
# still an ID — and the old 15-digit ones), mobile and landline numbers, bank card numbers (13 to 19
# digits passing Luhn), e-mail addresses and licence plates. Full-width characters count like ASCII
# ones (１３８… is a phone number) and numbers may touch Chinese characters (电话13812345678谢谢);
# a flat's door number (304室) is hidden too.
# Each match keeps a few characters at its ends, like the single-value masks above.

_FULLWIDTH = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}
_NUM = r"(?<![0-9])"  # not inside a longer run of digits (letters may touch: tel13912345678)
_END = r"(?![0-9])"
_SEP = r"[ \-]?"
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_RULES: list[tuple[re.Pattern[str], int, int, str | None]] = [
    # e-mail: keep the first character of the mailbox and the domain
    (re.compile(r"[A-Za-z0-9._%+\-]+(?=@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)"), 1, 0, None),
    # resident ID, 18 characters (6 region, 8 birth date, 3 sequence, 1 check), optionally grouped 6-8-4
    (re.compile(_NUM + r"[1-9][0-9]{5}" + _SEP + r"[0-9]{8}" + _SEP + r"[0-9]{3}[0-9Xx]" + _END), 6, 4, None),
    # bank card: 13 to 19 digits (groups of four allowed) that pass Luhn
    (re.compile(_NUM + r"[0-9]{4}(?:" + _SEP + r"[0-9]{1,4}){3,4}" + _END), 4, 4, "luhn"),
    # resident ID, old 15 digits (6 region, 6 birth date yymmdd, 3 sequence)
    (re.compile(_NUM + r"[1-9][0-9]{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}" + _END), 6, 3, None),
    # mobile, optionally +86 / 86 and grouped 3-4-4
    (
        re.compile(_NUM + r"(?:\+?86" + _SEP + r")?1[3-9][0-9]" + _SEP + r"[0-9]{4}" + _SEP + r"[0-9]{4}" + _END),
        3,
        4,
        None,
    ),
    # landline with its area code: 0512-57301234, (0512)57301234, 010 12345678
    (re.compile(_NUM + r"(?:\(0[0-9]{2,3}\)|0[0-9]{2,3})" + _SEP + r"[2-9][0-9]{6,7}" + _END), 4, 2, None),
    # landline without area code, after a word that says so: 电话57301234
    (
        re.compile(r"(?:(?<=电话)|(?<=座机)|(?<=固话)|(?<=联系)|(?<=[Tt]el)|(?<=TEL))[:：]?\s?[2-9][0-9]{6,7}" + _END),
        1,
        2,
        None,
    ),
    # a flat's door number (the building may stay: it says where the drain is): 304室, 1201户
    (re.compile(_NUM + r"[0-9]{2,5}(?=室|户)"), 0, 0, None),
    # licence plate: 苏E12345, 苏E·12345, new energy 苏ED12345 / 苏E12345D
    (
        re.compile(
            f"[{_PROVINCES}]" + r"[A-HJ-NP-Z][·\- ]?[A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警]" + r"(?![0-9A-Za-z])"
        ),
        2,
        0,
        None,
    ),
]


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@overload
def redact(text: str, char: str = "*") -> str: ...
@overload
def redact(text: None, char: str = "*") -> None: ...
@overload
def redact(text: str | None, char: str = "*") -> str | None: ...
def redact(text: str | None, char: str = "*") -> str | None:
    """``text`` with personal data masked: ``电话１３８１２３４５６７８`` → ``电话１３８****５６７８``."""
    if not text:
        return text
    work = text.translate(_FULLWIDTH)  # one character for one: positions stay those of ``text``
    hidden: set[int] = set()
    for pattern, first, last, check in _RULES:
        for m in pattern.finditer(work):
            if check == "luhn" and not _luhn(m.group(0)):
                continue
            inner = [i for i in range(*m.span()) if work[i].isalnum()]  # separators stay visible
            hidden.update(inner[first : len(inner) - last])
        work = "".join(char if i in hidden else c for i, c in enumerate(work))  # later rules skip masked spans
    return "".join(char if i in hidden else c for i, c in enumerate(text))


_DOOR = re.compile(
    r"[0-9０-９一二三四五六七八九十百零〇A-Za-zＡ-Ｚ#＃\-－—]+\s*"
    r"(?:号楼|号院|号|弄|栋|幢|座|单元|室|楼|层|户|排|支弄|门)"
)


def coarse_address(address: str | None) -> str | None:
    """A private address as the public may see it: down to the community or road, without the door.

    ``昆山市玉山镇朝阳新村12栋304室`` → ``昆山市玉山镇朝阳新村``; ``前进西路88号`` → ``前进西路``.
    """
    if not address:
        return address
    m = _DOOR.search(address)
    cut = address[: m.start()] if m else address
    cut = redact(cut).rstrip(" ,，、-－(（")
    return cut or None
