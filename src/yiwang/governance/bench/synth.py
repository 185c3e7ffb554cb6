"""Synthetic Kunshan population file (GB18030 CSV) with a manifest of injected bad rows.

Realistic enough to exercise every rule: valid resident IDs for people born in Kunshan (with
the county's historical codes for older people) and elsewhere in China, consistent birth dates
and sexes, real ethnic group names, real Kunshan town and community names. About 1 % of rows
carry exactly one known defect; about 2 % use harmless variant formats that normalisation must
accept. Generation is numpy/Polars-vectorised per chunk; Faker only builds the name pools.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from yiwang.governance.engine.idcodes import resident_id_check_digits
from yiwang.governance.engine.refdata import current_county_codes, ethnic_groups, kunshan_divisions, region_names
from yiwang.governance.engine.rules import ResourceRules
from yiwang.governance.engine.unique import _Table

COLUMNS = ["姓名", "公民身份号码", "性别", "出生日期", "民族", "联系电话", "户籍地址", "现住址", "所属社区代码"]
BAD_KINDS = (
    "bad_check_digit",
    "impossible_birth_date",
    "gender_mismatch",
    "birthdate_mismatch",
    "bad_phone",
    "missing_name",
    "duplicate_id",
    "unknown_community",
)
EXPECTED_RULE = {
    "bad_check_digit": "resident_id",
    "impossible_birth_date": "resident_id",
    "gender_mismatch": "id_gender_match",
    "birthdate_mismatch": "id_birthdate_match",
    "bad_phone": "phone",
    "missing_name": "required",
    "duplicate_id": "unique",
    "unknown_community": "division_code",
}
KUNSHAN = 320583
# Codes carried by IDs first issued in Kunshan before 1995 (see data/README.md).
KUNSHAN_HISTORICAL = (322726, 320523, 329012)
_MOBILE_PREFIXES = np.array(
    [
        130,
        131,
        132,
        133,
        134,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        153,
        155,
        156,
        157,
        158,
        159,
        166,
        173,
        175,
        176,
        177,
        178,
        180,
        181,
        182,
        183,
        184,
        185,
        186,
        187,
        188,
        189,
        191,
        198,
        199,
    ]
)
_MINORITY_WEIGHTS = {
    "回族": 5,
    "满族": 5,
    "壮族": 6,
    "苗族": 5,
    "土家族": 4,
    "蒙古族": 3,
    "维吾尔族": 2,
    "彝族": 4,
    "布依族": 2,
    "侗族": 2,
    "瑶族": 1,
    "朝鲜族": 1,
    "白族": 1,
    "畲族": 1,
}
_FULLWIDTH_DIGITS = [chr(0xFF10 + d) for d in range(10)]


@dataclass
class SynthManifest:
    path: Path
    rows: int
    bad: dict[int, str]  # source line → defect kind
    mixed: int  # rows written in variant formats that must be accepted
    seconds: float
    encoding: str
    kinds: Counter = field(default_factory=Counter)

    def expected_rule(self, line: int) -> str:
        return EXPECTED_RULE[self.bad[line]]


def population_rules(*, communities: list[str] | None = None, version: str = "1") -> ResourceRules:
    """The governance rules of the population resource this generator writes."""
    allowed = (
        communities if communities is not None else [r["code"] for r in kunshan_divisions() if r["level"] == "village"]
    )
    return ResourceRules.model_validate(
        {
            "resource": "人口基础信息",
            "version": version,
            "update_cycle": "monthly",
            "columns": [
                {"name": "姓名", "kind": "person_name", "required": True, "mask": {"method": "surname"}},
                {
                    "name": "公民身份号码",
                    "kind": "resident_id",
                    "required": True,
                    "mask": {"method": "keep_ends", "first": 6, "last": 4},
                    "extra_masks": {"公民身份号码_假名": {"method": "pseudonym", "key_id": "population", "length": 32}},
                },
                {"name": "性别", "kind": "gender", "required": True, "mask": {"method": "keep"}},
                {
                    "name": "出生日期",
                    "kind": "date",
                    "dtype": "date",
                    "required": True,
                    "mask": {"method": "generalise_date", "to": "year"},
                    "extra_masks": {"年龄段": {"method": "age_band", "width": 10}},
                },
                {"name": "民族", "kind": "ethnic_group", "required": True, "mask": {"method": "keep"}},
                {
                    "name": "联系电话",
                    "kind": "phone",
                    "required": True,
                    "mask": {"method": "keep_ends", "first": 3, "last": 4},
                },
                {
                    "name": "户籍地址",
                    "kind": "address",
                    "mask": {"method": "truncate_address", "level": "community", "fallback": "keep_county"},
                },
                {"name": "现住址", "kind": "address", "mask": {"method": "truncate_address", "level": "community"}},
                {
                    "name": "所属社区代码",
                    "kind": "division_code",
                    "required": True,
                    "allowed_codes": allowed,
                    "mask": {"method": "keep"},
                },
            ],
            "unique_keys": [["公民身份号码"]],
            "cross_field": [
                {"rule": "id_birthdate_match", "columns": ["公民身份号码", "出生日期"]},
                {"rule": "id_gender_match", "columns": ["公民身份号码", "性别"]},
            ],
            "quasi_identifiers": ["性别", "出生日期", "所属社区代码"],
        }
    )


class _Pools:
    """Everything drawn from, built once."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        person = fake.provider("faker.providers.person")
        surnames = dict(person.last_names)
        for compound in ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "司徒", "慕容"):
            surnames.setdefault(compound, 0.05)
        self.surnames = pl.Series(list(surnames))
        w = np.array(list(surnames.values()), float)
        self.surname_p = w / w.sum()
        self.male_given = pl.Series(sorted(set(person.first_names_male)))
        self.female_given = pl.Series(sorted(set(person.first_names_female)))
        streets = sorted({fake.street_name() for _ in range(600)})
        self.streets = pl.Series([s for s in streets if s.endswith(("路", "街"))] or ["人民路"])
        villages = [r for r in kunshan_divisions() if r["level"] == "village"]
        towns = {r["code"]: r["name"] for r in kunshan_divisions() if r["level"] == "town"}
        self.community_codes = pl.Series([r["code"] for r in villages])
        self.community_is_village = np.array([r["name"].endswith("村委会") for r in villages])
        self.community_prefix = pl.Series(
            [
                "江苏省苏州市昆山市"
                + towns.get(r["parent_code"], "")
                + r["name"].removesuffix("居委会").removesuffix("委会")
                for r in villages
            ]
        )
        names = region_names()
        counties = [
            c
            for c in current_county_codes()
            if c[:2] not in ("71", "81", "82") and int(c[4:]) < 70 and not c.startswith("3205")
        ]
        self.counties = np.array([int(c) for c in counties])
        self.county_prefix = pl.Series([_county_address(c, names) for c in counties])
        nations = ethnic_groups()[:56]
        weights = np.array([_MINORITY_WEIGHTS.get(n, 0.3) for n in nations], float)
        weights[0] = 0
        weights = weights / weights.sum() * 0.025
        weights[0] = 0.975
        self.nations = pl.Series(nations)
        self.nation_p = weights / weights.sum()


def _county_address(code: str, names: dict[str, str]) -> str:
    province = names.get(code[:2] + "0000", "")
    city = names.get(code[:4] + "00", "")
    if city in ("市辖区", "县") or "直辖" in city or city == province:
        city = ""
    return province + city + names.get(code, "")


def write_population_csv(
    path: str | Path,
    rows: int,
    *,
    seed: int = 20240601,
    bad_fraction: float = 0.01,
    mixed_fraction: float = 0.02,
    encoding: str = "gb18030",
    chunk_rows: int = 500_000,
    today: dt.date | None = None,
) -> SynthManifest:
    """Write ``rows`` people to ``path`` and return which lines were made bad on purpose."""
    started = time.perf_counter()
    path = Path(path)
    today = today or dt.date.today()
    rng = np.random.default_rng(seed)
    pools = _Pools(seed)
    ids_seen = _Table(capacity=1 << max(16, int(np.ceil(np.log2(max(rows, 1) / 0.6)))))
    bad: dict[int, str] = {}
    kinds: Counter = Counter()
    mixed = 0
    encode = _encoder(encoding)
    with open(path, "wb") as fh, ThreadPoolExecutor(max_workers=1) as writer:
        fh.write(encode((",".join(COLUMNS) + "\n").encode()))
        pending = None
        for start in range(0, rows, chunk_rows):
            n = min(chunk_rows, rows - start)
            frame, chunk_bad, chunk_mixed = _chunk(rng, pools, n, start, ids_seen, today, bad_fraction, mixed_fraction)
            mixed += chunk_mixed
            for line, kind in chunk_bad.items():
                bad[line] = kind
                kinds[kind] += 1
            if pending is not None:
                fh.write(pending.result())
            pending = writer.submit(_csv_bytes, frame, encode)
        if pending is not None:
            fh.write(pending.result())
    return SynthManifest(
        path=path,
        rows=rows,
        bad=bad,
        mixed=mixed,
        seconds=time.perf_counter() - started,
        encoding=encoding,
        kinds=kinds,
    )


def _csv_bytes(frame: pl.DataFrame, encode: Callable[[bytes], bytes]) -> bytes:
    return encode(frame.write_csv(include_header=False, quote_style="necessary").encode())


def _encoder(encoding: str) -> Callable[[bytes], bytes]:
    from yiwang.governance.engine.sources import libiconv

    if encoding.lower() in ("utf-8", "utf8"):
        return lambda data: data
    if libiconv.available():
        return lambda data: libiconv.convert(data, "UTF-8", encoding.upper())
    return lambda data: data.decode("utf-8").encode(encoding)


def _chunk(
    rng: np.random.Generator,
    pools: _Pools,
    n: int,
    start: int,
    ids_seen: _Table,
    today: dt.date,
    bad_fraction: float,
    mixed_fraction: float,
) -> tuple[pl.DataFrame, dict[int, str], int]:
    today_days = (today - dt.date(1970, 1, 1)).days
    male = rng.random(n) < 0.5
    age_years = rng.gamma(4.0, 10.0, n)
    age_years = np.where(age_years < 99.0, age_years, rng.uniform(85.0, 99.0, n))  # no pile-up on one day
    birth = (today_days - age_years * 365.25 - 1).astype(np.int64)
    birth_dates = birth.astype("datetime64[D]")
    year = birth_dates.astype("datetime64[Y]").astype(np.int64) + 1970
    local = rng.random(n) < 0.65
    region = pools.counties[rng.integers(0, len(pools.counties), n)]
    old = year < 1980
    historical = np.array(KUNSHAN_HISTORICAL)[rng.integers(0, 3, n)]
    region = np.where(local, np.where(old & (rng.random(n) < 0.4), historical, KUNSHAN), region)
    ymd = (
        year * 10000
        + (birth_dates.astype("datetime64[M]").astype(np.int64) % 12 + 1) * 100
        + (birth_dates - birth_dates.astype("datetime64[M]")).astype(np.int64)
        + 1
    )
    seq = _unique_sequences(rng, region, ymd, male, ids_seen)
    first17 = region.astype(np.int64) * 10**11 + ymd * 1000 + seq
    check = _check_chars(region, ymd, seq)

    community = rng.integers(0, len(pools.community_codes), n)
    surname = pools.surnames.gather(rng.choice(len(pools.surnames), n, p=pools.surname_p))
    male_given = pools.male_given.gather(rng.integers(0, len(pools.male_given), n))
    female_given = pools.female_given.gather(rng.integers(0, len(pools.female_given), n))
    second = pools.male_given.gather(rng.integers(0, len(pools.male_given), n))
    two_char = rng.random(n) < 0.45
    street = pools.streets.gather(rng.integers(0, len(pools.streets), n))
    house = rng.integers(1, 400, n)
    group = rng.integers(1, 15, n)
    mobile = rng.random(n) < 0.95
    phone_body = rng.integers(0, 10**8, n)
    landline_body = rng.integers(0, 10**7, n)
    nation = pools.nations.gather(rng.choice(len(pools.nations), n, p=pools.nation_p))
    same_hukou = rng.random(n) < 0.7
    other_community = rng.integers(0, len(pools.community_codes), n)
    county_idx = np.searchsorted(pools.counties, region)
    is_village = pools.community_is_village[community]

    df = pl.DataFrame(
        {
            "male": male,
            "two": two_char,
            "mobile": mobile,
            "local": local,
            "same": same_hukou,
            "village": is_village,
            "first17": first17,
            "check": check.view("S1").astype(str),
            "ymd": ymd,
            "prefix": _mobile_prefix(rng, n),
            "body": phone_body,
            "land": landline_body,
            "house": house,
            "group": group,
        }
    ).with_columns(
        surname=surname,
        mg=male_given,
        fg=female_given,
        g2=second,
        street=street,
        nation=nation,
        community=pools.community_prefix.gather(community),
        code=pools.community_codes.gather(community),
        hukou_local=pools.community_prefix.gather(other_community),
        hukou_other=pools.county_prefix.gather(np.minimum(county_idx, len(pools.county_prefix) - 1)),
    )
    s = pl.col
    address_tail = (
        pl.when(s("village"))
        .then(pl.format("{}组{}号", s("group"), s("house")))
        .otherwise(pl.format("{}{}号", s("street"), s("house")))
    )
    out = df.select(
        pl.concat_str(
            s("surname"),
            pl.when(s("male")).then(s("mg")).otherwise(s("fg")),
            pl.when(s("two")).then(s("g2")).otherwise(pl.lit("")),
        ).alias("姓名"),
        pl.concat_str(s("first17").cast(pl.String).str.zfill(17), s("check")).alias("公民身份号码"),
        pl.when(s("male")).then(pl.lit("男")).otherwise(pl.lit("女")).alias("性别"),
        pl.concat_str(
            s("ymd") // 10000,
            pl.lit("-"),
            (s("ymd") // 100 % 100).cast(pl.String).str.zfill(2),
            pl.lit("-"),
            (s("ymd") % 100).cast(pl.String).str.zfill(2),
        ).alias("出生日期"),
        s("nation").alias("民族"),
        pl.when(s("mobile"))
        .then(pl.concat_str(s("prefix").cast(pl.String), s("body").cast(pl.String).str.zfill(8)))
        .otherwise(pl.concat_str(pl.lit("0512-5"), s("land").cast(pl.String).str.zfill(7)))
        .alias("联系电话"),
        pl.when(~s("local"))
        .then(pl.concat_str(s("hukou_other"), s("street"), pl.format("{}号", s("house"))))
        .when(s("same"))
        .then(pl.concat_str(s("community"), address_tail))
        .otherwise(pl.concat_str(s("hukou_local"), pl.format("{}号", s("house"))))
        .alias("户籍地址"),
        pl.concat_str(s("community"), address_tail).alias("现住址"),
        s("code").alias("所属社区代码"),
    )
    out, bad = _inject_bad(rng, out, start, bad_fraction, first17)
    out, mixed = _inject_mixed(rng, out, set(bad), start, mixed_fraction)
    return out, bad, mixed


def _mobile_prefix(rng: np.random.Generator, n: int) -> np.ndarray:
    return _MOBILE_PREFIXES[rng.integers(0, len(_MOBILE_PREFIXES), n)]


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _check_chars(region: np.ndarray, ymd: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """GB 11643 check characters, digit by digit over three small integer columns."""
    total = np.zeros(len(region), np.int32)
    for part, width, offset in ((region, 6, 0), (ymd, 8, 6), (seq, 3, 14)):
        part = part.astype(np.int32)
        for k in range(width):
            total += _ID_WEIGHTS[offset + k] * ((part // 10 ** (width - 1 - k)) % 10)
    return np.frombuffer(b"10X98765432", np.uint8)[total % 11]


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers[None, :]) % 10


def _unique_sequences(
    rng: np.random.Generator, region: np.ndarray, ymd: np.ndarray, male: np.ndarray, seen: _Table
) -> np.ndarray:
    """3-digit sequence numbers (odd for men) that make every ID unique across the whole file."""
    n = len(region)
    seq = rng.integers(0, 500, n) * 2 + male
    todo = np.arange(n)
    for _ in range(200):
        key = (
            region[todo].astype(np.uint64) * np.uint64(10**11)
            + ymd[todo].astype(np.uint64) * np.uint64(1000)
            + seq[todo].astype(np.uint64)
            + np.uint64(1)
        )
        clash = ~pl.Series(key).is_first_distinct().to_numpy()
        clash |= seen.lookup(key) >= 0
        ok = ~clash
        seen.grow_for(int(ok.sum()))
        seen.insert(key[ok], None)
        todo = todo[clash]
        if todo.size == 0:
            return seq
        seq[todo] = rng.integers(0, 500, todo.size) * 2 + male[todo]
    raise RuntimeError("could not find unique ID sequence numbers (too many people per birth day)")


def _inject_bad(
    rng: np.random.Generator, out: pl.DataFrame, start: int, fraction: float, first17: np.ndarray
) -> tuple[pl.DataFrame, dict[int, str]]:
    """Give ~``fraction`` of the rows exactly one defect each (only those rows are touched)."""
    n = out.height
    if fraction <= 0 or n < 50:
        return out, {}
    chosen = rng.random(n) < fraction
    chosen[:20] = False  # so every duplicate has earlier good rows to copy
    rows = np.flatnonzero(chosen)
    kinds = np.array(BAD_KINDS)[rng.integers(0, len(BAD_KINDS), rows.size)]
    good = np.flatnonzero(~chosen)
    columns = {c: out[c].clone() for c in COLUMNS}

    def put(column: str, at: np.ndarray, values) -> None:
        columns[column] = columns[column].scatter(at, pl.Series(values, dtype=pl.String))

    for kind in BAD_KINDS:
        r = rows[kinds == kind]
        if r.size == 0:
            continue
        ids = columns["公民身份号码"].gather(r)
        if kind == "bad_check_digit":
            last = ids.str.slice(17, 1).replace_strict(list("0123456789X"), list("123456789X0"))
            put("公民身份号码", r, ids.str.slice(0, 17) + last)
        elif kind == "impossible_birth_date":
            digits = _digits(first17[r], 17)
            digits[:, 10:12] = [1, 3]  # month 13, with a correct check digit
            check = resident_id_check_digits(digits).view("S1").astype(str)
            body = (digits * 10 ** np.arange(16, -1, -1, dtype=np.int64)).sum(axis=1)
            put("公民身份号码", r, pl.Series(body).cast(pl.String).str.zfill(17) + pl.Series(check))
        elif kind == "gender_mismatch":
            put("性别", r, columns["性别"].gather(r).replace_strict(["男", "女"], ["女", "男"]))
        elif kind == "birthdate_mismatch":
            date = columns["出生日期"].gather(r).str.strptime(pl.Date, "%Y-%m-%d")
            shifted = date - pl.Series(rng.integers(1, 30, r.size)).cast(pl.Duration("ms")) * 86_400_000
            put("出生日期", r, shifted.dt.strftime("%Y-%m-%d"))
        elif kind == "bad_phone":
            phone = columns["联系电话"].gather(r)
            put(
                "联系电话",
                r,
                pl.select(
                    pl.when(phone.str.starts_with("1")).then("12" + phone.str.slice(2)).otherwise(phone.str.slice(0, 7))
                ).to_series(),
            )
        elif kind == "missing_name":
            put("姓名", r, [""] * r.size)
        elif kind == "duplicate_id":
            before = np.searchsorted(good, r)  # good rows earlier in the chunk (>= 1 since rows start at 20)
            source = good[(rng.random(r.size) * before).astype(np.int64)]
            for c in ("公民身份号码", "性别", "出生日期"):
                put(c, r, columns[c].gather(source))
        elif kind == "unknown_community":
            put(
                "所属社区代码",
                r,
                np.array(["320583100999", "320583999001", "320584100001"])[rng.integers(0, 3, r.size)],
            )
    return pl.DataFrame(list(columns.values())), {int(start + i + 2): str(k) for i, k in zip(rows, kinds)}


def _inject_mixed(
    rng: np.random.Generator, out: pl.DataFrame, bad_lines: set[int], start: int, fraction: float
) -> tuple[pl.DataFrame, int]:
    """Variant spellings of valid values, which normalisation must turn back into the canonical form."""
    n = out.height
    if fraction <= 0:
        return out, 0
    chosen = rng.random(n) < fraction
    chosen[np.fromiter(bad_lines, np.int64, len(bad_lines)) - start - 2] = False
    rows = np.flatnonzero(chosen)
    variant = np.full(n, -1, np.int8)
    variant[rows] = rng.integers(0, 7, rows.size)
    v = pl.Series("v", variant)
    s = pl.col
    full_id = s("公民身份号码").str.replace_many([str(d) for d in range(10)], _FULLWIDTH_DIGITS)
    date = s("出生日期").str.strptime(pl.Date, "%Y-%m-%d")
    phone = s("联系电话")
    out = (
        out.with_columns(v)
        .with_columns(
            pl.when(s("v") == 0)
            .then(full_id)
            .when(s("v") == 1)
            .then(s("公民身份号码").str.to_lowercase())
            .otherwise(s("公民身份号码"))
            .alias("公民身份号码"),
            pl.when(s("v") == 2)
            .then(pl.format("{}/{}/{}", date.dt.year(), date.dt.month(), date.dt.day()))
            .when(s("v") == 3)
            .then(pl.format("{}年{}月{}日", date.dt.year(), date.dt.month(), date.dt.day()))
            .when(s("v") == 4)
            .then(date.dt.strftime("%Y%m%d"))
            .otherwise(s("出生日期"))
            .alias("出生日期"),
            pl.when((s("v") == 5) & phone.str.starts_with("1"))
            .then(pl.format("+86 {}-{}-{}", phone.str.slice(0, 3), phone.str.slice(3, 4), phone.str.slice(7, 4)))
            .when((s("v") == 6) & phone.str.starts_with("1"))
            .then(pl.concat_str(pl.lit("0086 "), phone))
            .otherwise(phone)
            .alias("联系电话"),
            pl.when(s("v") == 5)
            .then(pl.when(s("性别") == "男").then(pl.lit("M")).otherwise(pl.lit("F")))
            .when(s("v") == 6)
            .then(pl.when(s("性别") == "男").then(pl.lit("1")).otherwise(pl.lit("2")))
            .otherwise(s("性别"))
            .alias("性别"),
            pl.when(s("v") == 4)
            .then(pl.concat_str(pl.lit(" "), s("姓名"), pl.lit("\u3000")))
            .otherwise(s("姓名"))
            .alias("姓名"),
        )
        .drop("v")
    )
    return out, int(rows.size)
