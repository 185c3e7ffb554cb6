"""The comparison baseline: the population rules done the usual way, one Python call per value.

pandera validates with element-wise checks (``element_wise=True``: one Python call per cell),
normalisation and masks are ``Series.map`` calls, pseudonyms are per-row HMAC-SM3 calls. This
is only used by the benchmark to report a speed ratio; it is not part of the engine.
"""

from __future__ import annotations

import datetime as dt
import re

from cryptography.hazmat.primitives import hashes, hmac

from yiwang.governance.engine.refdata import ethnic_groups, kunshan_community_codes, region_codes

_FULL = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}
_GENDER = {"男": "男", "m": "男", "1": "男", "女": "女", "f": "女", "2": "女"}
_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _norm(value: str) -> str:
    return value.translate(_FULL).strip()


def _date(value: str) -> dt.date | None:
    value = re.sub(r"[/.年月]", "-", _norm(value)).removesuffix("日")
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    return None


def _phone(value: str) -> str:
    value = re.sub(r"[\s\-()]", "", _norm(value))
    return re.sub(r"^(?:\+86|0086)", "", value)


def _id_ok(value: str, regions: set[int], today: dt.date) -> bool:
    v = _norm(value).upper()
    if not re.fullmatch(r"\d{17}[\dX]", v):
        return False
    if "10X98765432"[sum(int(c) * w for c, w in zip(v, _W)) % 11] != v[17]:
        return False
    try:
        birth = dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= birth <= today and int(v[:6]) in regions


def govern_rows(frame, *, today: dt.date, key: bytes) -> tuple[int, int]:
    """Validate with pandera (element-wise), then mask accepted rows row by row."""
    import pandera.pandas as pa

    regions = set(region_codes().tolist())
    communities = set(kunshan_community_codes())
    nations = set(ethnic_groups())
    schema = pa.DataFrameSchema(
        {
            "姓名": pa.Column(
                str, pa.Check(lambda v: bool(re.fullmatch(r"[\u4e00-\u9fff·]{1,40}", _norm(v))), element_wise=True)
            ),
            "公民身份号码": pa.Column(str, pa.Check(lambda v: _id_ok(v, regions, today), element_wise=True)),
            "性别": pa.Column(str, pa.Check(lambda v: _norm(v).lower() in _GENDER, element_wise=True)),
            "出生日期": pa.Column(str, pa.Check(lambda v: _date(v) is not None, element_wise=True)),
            "民族": pa.Column(str, pa.Check(lambda v: _norm(v) in nations, element_wise=True)),
            "联系电话": pa.Column(
                str, pa.Check(lambda v: bool(re.fullmatch(r"1[3-9]\d{9}|0\d{9,11}", _phone(v))), element_wise=True)
            ),
            "所属社区代码": pa.Column(str, pa.Check(lambda v: _norm(v) in communities, element_wise=True)),
        }
    )
    try:
        schema.validate(frame, lazy=True)
        bad_index: set = set()
    except pa.errors.SchemaErrors as exc:
        bad_index = set(exc.failure_cases["index"].dropna().tolist())
    ids = frame["公民身份号码"].map(lambda v: _norm(v).upper())
    cross = frame.apply(
        lambda r: (
            _id_ok(r["公民身份号码"], regions, today)
            and (
                _date(r["出生日期"])
                != dt.date(int(ids[r.name][6:10]), int(ids[r.name][10:12]), int(ids[r.name][12:14]))
                or _GENDER.get(_norm(r["性别"]).lower()) != ("男" if int(ids[r.name][16]) % 2 else "女")
            )
        ),
        axis=1,
    )
    bad_index |= set(frame.index[cross])
    good = frame.loc[~frame.index.isin(bad_index)]
    dup = good.index[ids[good.index].duplicated()]
    accepted = good.drop(index=dup)
    base = hmac.HMAC(key, hashes.SM3())

    def birth_year(v: str) -> str:
        born = _date(v)
        assert born is not None  # the schema accepted parseable dates only
        return str(born.year)

    def pseudonym(v: str) -> str:
        h = base.copy()
        h.update(_norm(v).upper().encode())
        return h.finalize().hex()[:32]

    share = {
        "姓名": accepted["姓名"].map(lambda v: _norm(v)[:1] + "*" * (len(_norm(v)) - 1)),
        "公民身份号码": ids[accepted.index].map(lambda v: v[:6] + "*" * 8 + v[-4:]),
        "假名": accepted["公民身份号码"].map(pseudonym),
        "出生日期": accepted["出生日期"].map(birth_year),
        "联系电话": accepted["联系电话"].map(lambda v: (p := _phone(v))[:3] + "*" * (len(p) - 7) + p[-4:]),
        "现住址": accepted["现住址"].map(lambda v: (m := re.match(r"^(.*?(?:社区|居委会|村))", v)) and m.group(1)),
    }
    assert all(len(col) == len(accepted) for col in share.values())
    return len(accepted), len(frame) - len(accepted)
