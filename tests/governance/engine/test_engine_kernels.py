"""The engine against the test oracle (``engine_oracle``), on seeded random inputs.

Every kernel must give exactly what the reference (Polars / numpy / iconv + Arrow / the
platform's HMAC-SM3) gives: same batches, same quarantine rows and reasons, same share zone,
same errors. Inputs mix ordinary values with every variant the normalisation handles and with
values chosen to hit the kernels' "undecided" paths.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow as pa
import pytest
from engine_oracle import ReferenceGovernor

from yiwang.governance.engine.governor import Governor
from yiwang.governance.engine.rules import ResourceRules

TODAY = dt.date(2025, 6, 1)
KEYS = {"population": b"k" * 16, "long": bytes(range(80)), "enc": b"0123456789abcdef"}

HAN = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"  # noqa: E501
RARE = "㐀㐁䶵𠀀𠀁丂乚"  # extension A / B characters
ODD = ["·", "•", "・", "\u3000", "\u00a0", " ", "\t", "Ａ", "１", "٣", "x", "X", "-", "(", ")", "+", ",", "é", "ß"]
ADDRESS_PARTS = [
    "江苏省",
    "苏州市",
    "昆山市",
    "玉山镇",
    "城北社区",
    "居委会",
    "村委会",
    "张浦镇",
    "金华村",
    "人民路",
    "12号",
    "上海市",
    "浦东新区",
    "张江镇",
    "科苑路",
    "北京市",
    "朝阳区",
    "街道",
    "乡",
    "县",
    "旗",
    "社",
    "区",
    "村",
    "3组",
]


def _rng(seed: int) -> random.Random:
    return random.Random(seed)


def _rid(r: random.Random, *, valid: bool = True) -> str:
    from stdnum.cn import ric

    region = r.choice(["320583", "110101", "322726", "999999", "320500"])
    born = dt.date(1900, 1, 1) + dt.timedelta(days=r.randrange(0, 46000))
    body = f"{region}{born:%Y%m%d}{r.randrange(1000):03d}"
    check = ric.calc_check_digit(body + "0")
    if not valid:
        check = r.choice("0123456789X")
    return body + check


def _pick(r: random.Random, good: list, bad: list):
    return r.choice(good) if r.random() < 0.9 else r.choice(bad)


def _value(r: random.Random, kind: str, junk: float = 0.0) -> str | None:
    """A value for a column of ``kind``: usually ordinary or a variant; with ``junk``, often
    null, empty or junk."""
    roll = r.random() * junk * 8 if junk else 1.0
    if roll < 0.03:
        return None
    if roll < 0.06:
        return ""
    if roll < 0.12:  # junk from anywhere
        return "".join(r.choice(ODD + list(HAN[:10]) + list(RARE) + ["1", "a"]) for _ in range(r.randrange(1, 8)))
    if kind == "person_name":
        name = "".join(r.choice(HAN) for _ in range(r.randrange(1, 4)))
        v = r.random()
        if v < 0.05:
            name = r.choice(["欧阳", "司马", "诸葛", "上官"]) + name
        elif v < 0.1:
            name = name[:1] + r.choice(["·", "•", "・"]) + name[1:]
        elif v < 0.15:
            name = " " + name + "\u3000"
        elif v < 0.18:
            name = name + r.choice(RARE)
        elif v < 0.2:
            name = "John Smith"
        elif v < 0.22:
            name = HAN * 2
        return name
    if kind == "resident_id":
        rid = _rid(r, valid=r.random() < 0.9)
        v = r.random()
        if v < 0.05:
            rid = rid.lower()
        elif v < 0.1:
            rid = "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in rid)
        elif v < 0.13:
            rid = rid[:6] + " " + rid[6:]
        elif v < 0.15:
            rid = rid[:10] + "13" + rid[12:]
        elif v < 0.17:
            rid = rid[:17]
        return rid
    if kind in ("phone", "mobile", "landline"):
        mobile = "1" + r.choice("3456789") + "".join(r.choice("0123456789") for _ in range(9))
        land = "0512" + "".join(r.choice("0123456789") for _ in range(8))
        v = r.random()
        phone = mobile if v < 0.6 else land
        if v < 0.1:
            phone = "+86 " + mobile[:3] + "-" + mobile[3:7] + "-" + mobile[7:]
        elif v < 0.15:
            phone = "0086" + mobile
        elif v < 0.18:
            phone = "(0512)5" + land[5:]
        elif v < 0.2:
            phone = mobile[:3] + "٣" + mobile[4:]
        elif v < 0.22:
            phone = "12" + mobile[2:]
        elif v < 0.24:
            phone = "86" + mobile
        return phone
    if kind == "gender":
        return r.choice(["男", "女", "男", "女", "M", "f", "1", "2", "男性", "未知", " 女", "Male"])
    if kind == "date":
        born = dt.date(1900, 1, 1) + dt.timedelta(days=r.randrange(0, 46000))
        v = r.random()
        if v < 0.6:
            return born.isoformat()
        return r.choice(
            [
                f"{born.year}/{born.month}/{born.day}",
                f"{born.year}年{born.month}月{born.day}日",
                f"{born:%Y%m%d}",
                f"{born.year}.{born.month}.{born.day}",
                "2023-02-29",
                "1990-13-01",
                "0999-01-01",
                f"{born.isoformat()} 12:30",
                "45000",
                "不详",
                f"{born.year}-{born.month}-{born.day}",
            ]
        )
    if kind == "ethnic_group":
        return _pick(r, ["汉族", "回族", "满族", "汉", "蒙古", "其他", "壮族 "], ["火星族", "火星"])
    if kind == "address":
        v = r.random()
        parts = ADDRESS_PARTS if v < 0.8 else ADDRESS_PARTS + ["3", " ", "\t"]
        return "".join(r.choice(parts) for _ in range(r.randrange(1, 7)))
    if kind == "division_code":
        return _pick(
            r,
            ["320583100001", "320583100002", "３２０５８３１００００１", "320583 100001"],
            ["320583", "320583100", "32058310000", "3205831000019", "320583100003"],
        )
    if kind == "email":
        return _pick(r, ["a@b.cn", "A.B@Example.COM", "x.y@z.org", " m@n.org "], ["bad", "x@y"])
    if kind == "postal_code":
        return _pick(r, ["215300", "２１５３００", "215 300"], ["21530", "2153001"])
    if kind == "uscc":
        return _pick(
            r, ["91350100M000100Y43", "91350100m000100y43", None, ""], ["91350100M000100Y44", "A1350100M000100Y43"]
        )
    if kind == "number":
        return _pick(r, ["3", "10", "0", "1,0", " 7 ", "１０", None, ""], ["11", "-1", "三", "2.5"])
    if kind == "enum":
        return _pick(r, ["甲", "乙", " 甲"], ["丙"])
    if kind == "bool":
        return _pick(r, ["true", "False", "是", "否", "1"], ["maybe"])
    if kind == "text":
        return _pick(r, ["备注", "说明文字", "说明", " 备注 ", None, ""], ["好", "很长很长很长很长的备注", "备注1"])
    return "".join(r.choice(HAN + "abc123 ") for _ in range(r.randrange(0, 12)))


WIDE_RULES = {
    "resource": "测试",
    "columns": [
        {
            "name": "姓名",
            "kind": "person_name",
            "required": True,
            "mask": {"method": "surname"},
            "extra_masks": {
                "姓名2": {"method": "surname", "char": "某"},
                "姓名3": {"method": "keep_ends", "first": 1, "last": 1, "char": "×"},
            },
        },
        {
            "name": "身份证",
            "kind": "resident_id",
            "required": True,
            "mask": {"method": "keep_ends", "first": 6, "last": 4},
            "extra_masks": {
                "假名": {"method": "pseudonym", "key_id": "population", "length": 32},
                "假名64": {"method": "pseudonym", "key_id": "long"},
                "假名1": {"method": "pseudonym", "key_id": "population", "length": 1},
            },
        },
        {"name": "性别", "kind": "gender", "mask": {"method": "keep"}},
        {
            "name": "出生日期",
            "kind": "date",
            "mask": {"method": "generalise_date", "to": "year"},
            "extra_masks": {
                "年月": {"method": "generalise_date", "to": "year_month"},
                "年龄段": {"method": "age_band", "width": 10},
                "年龄段2": {"method": "age_band", "width": 7, "top": 85, "reference_date": "2020-02-29"},
            },
        },
        {"name": "民族", "kind": "ethnic_group", "mask": {"method": "keep"}},
        {
            "name": "电话",
            "kind": "phone",
            "mask": {"method": "keep_ends", "first": 3, "last": 4},
            "extra_masks": {"电话密文": {"method": "encrypt", "key_id": "enc"}},
        },
        {"name": "手机", "kind": "mobile", "mask": {"method": "suppress"}},
        {"name": "座机", "kind": "landline", "mask": {"method": "suppress", "drop": True}},
        {
            "name": "户籍地址",
            "kind": "address",
            "mask": {"method": "truncate_address", "level": "community", "fallback": "keep_county"},
            "extra_masks": {
                "户籍镇": {"method": "truncate_address", "level": "town", "fallback": "keep"},
                "户籍县": {"method": "truncate_address", "level": "county"},
                "户籍关键词": {
                    "method": "truncate_address",
                    "keywords": ["小区", "社区", "号"],
                    "fallback": "keep_town",
                },
            },
        },
        {"name": "现住址", "kind": "address", "mask": {"method": "truncate_address", "level": "community"}},
        {
            "name": "社区",
            "kind": "division_code",
            "code_levels": [12],
            "allowed_codes": ["320583100001", "320583100002"],
        },
        {"name": "邮箱", "kind": "email"},
        {"name": "邮编", "kind": "postal_code"},
        {"name": "信用代码", "kind": "uscc"},
        {"name": "人数", "dtype": "int", "kind": "number", "min": 0, "max": 10},
        {"name": "金额", "dtype": "decimal", "kind": "number"},
        {"name": "是否", "dtype": "bool"},
        {"name": "类别", "kind": "enum", "enum": ["甲", "乙"]},
        {"name": "备注", "kind": "text", "min_length": 2, "max_length": 8, "pattern": "[^0-9]*", "enum": None},
        {"name": "登记日期", "kind": "date", "min": "2000-01-01", "max": "2025-12-31"},
    ],
    "unique_keys": [["身份证"], ["姓名", "性别"]],
    "cross_field": [
        {"rule": "id_birthdate_match", "columns": ["身份证", "出生日期"]},
        {"rule": "id_gender_match", "columns": ["身份证", "性别"]},
        {"rule": "not_after", "columns": ["出生日期", "登记日期"]},
        {"rule": "required_with", "columns": ["邮箱", "邮编"]},
    ],
    "freshness_column": "登记日期",
    "quasi_identifiers": ["性别", "出生日期"],
}

KIND_OF = {
    c["name"]: (c.get("dtype") if c.get("dtype") in ("bool",) else c.get("kind", "text")) for c in WIDE_RULES["columns"]
}


def _coherent(r: random.Random) -> dict[str, str | None]:
    """One plausible person: ID, birth date and sex agree (in any accepted spelling)."""
    from stdnum.cn import ric

    region = r.choice(["320583", "110101", "322726"])
    born = dt.date(1930, 1, 1) + dt.timedelta(days=r.randrange(0, 25000))
    seq = r.randrange(1000)
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    rid = body + ric.calc_check_digit(body + "0")
    male = seq % 2 == 1
    row = {name: _value(r, kind) for name, kind in KIND_OF.items()}
    row["身份证"] = rid.lower() if r.random() < 0.05 else rid
    row["出生日期"] = r.choice(
        [born.isoformat()] * 6
        + [f"{born.year}/{born.month}/{born.day}", f"{born:%Y%m%d}", f"{born.year}年{born.month}月{born.day}日"]
    )
    row["性别"] = r.choice(["男"] * 5 + ["M", "1", "男性"]) if male else r.choice(["女"] * 5 + ["F", "2", "女性"])
    row["手机"] = "1" + r.choice("3456789") + "".join(r.choice("0123456789") for _ in range(9))
    row["座机"] = "0512" + "".join(r.choice("0123456789") for _ in range(r.choice([6, 7, 8])))
    row["登记日期"] = (dt.date(2000, 1, 1) + dt.timedelta(days=r.randrange(0, 9000))).isoformat()
    return row


def _batch(seed: int, n: int, start_line: int) -> pa.RecordBatch:
    """Mostly plausible rows (so many are accepted and masked); one row in three has one junk cell."""
    r = _rng(seed)
    rows = [_coherent(r) for _ in range(n)]
    names = list(KIND_OF)
    for k in range(n):
        if r.random() < 0.33:
            name = r.choice(names)
            rows[k][name] = _value(r, KIND_OF[name], junk=1.0)
        if r.random() < 0.05 and k:  # duplicates within the batch (and across, by the seeds' overlap)
            rows[k]["身份证"] = rows[r.randrange(k)]["身份证"]
    arrays = {name: pa.array([row[name] for row in rows], pa.string()) for name in names}
    arrays["_line"] = pa.array(range(start_line, start_line + n), pa.int64())
    return pa.RecordBatch.from_pydict(arrays)


def _without_ciphertext(batch: pa.RecordBatch) -> pa.RecordBatch:
    keep = [i for i, name in enumerate(batch.schema.names) if name != "电话密文"]
    return batch.select(keep)


@pytest.mark.parametrize("seed", range(6))
def test_governor_matches_reference_on_random_batches(seed):
    rules = ResourceRules.model_validate(WIDE_RULES)
    fast = Governor(rules, keys=KEYS, today=TODAY)
    ref = ReferenceGovernor(rules, keys=KEYS, today=TODAY)
    line = 2
    for step in range(3):
        batch = _batch(seed * 10 + step, 400, line)
        line += 400
        a, b = fast.process(batch), ref.process(batch)
        assert a.rows == b.rows
        assert a.clean.equals(b.clean), _diff(a.clean, b.clean)
        assert a.quarantine.equals(b.quarantine), _diff(a.quarantine, b.quarantine)
        assert _without_ciphertext(a.share).equals(_without_ciphertext(b.share)), _diff(a.share, b.share)
        assert a.by_rule == b.by_rule and a.by_first_rule == b.by_first_rule
        # the ciphertext differs (random nonces) but decrypts to the same phone numbers
        from yiwang.governance.engine import sm4_decrypt_column

        assert a.clean.num_rows > 50 and b.quarantine.num_rows > 50
        got = sm4_decrypt_column(a.share.column("电话密文"), KEYS["enc"])
        assert got.to_pylist() == a.clean.column("电话").to_pylist()
        # the deferred share (pipeline path) equals the immediate one
        assert _without_ciphertext(fast.mask(a.deferred())).equals(_without_ciphertext(a.share))
    qa, qb = (
        fast.quality.report(update_cycle="monthly", as_of=TODAY, has_unique=True, has_cross=True),
        ref.quality.report(update_cycle="monthly", as_of=TODAY, has_unique=True, has_cross=True),
    )
    assert qa == qb


def _diff(a: pa.RecordBatch, b: pa.RecordBatch) -> str:
    if a.schema != b.schema:
        return f"schema {a.schema} != {b.schema}"
    for name in a.schema.names:
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        if x != y:
            k = next(i for i, (p, q) in enumerate(zip(x, y)) if p != q) if len(x) == len(y) else -1
            return (
                f"column {name}: row {k}: {x[k]!r} != {y[k]!r}"
                if k >= 0
                else f"column {name}: {len(x)} vs {len(y)} rows"
            )
    return "equal?"


def test_population_rules_match_reference(population, rules):
    from yiwang.governance.engine.sources import CsvSource

    fast = Governor(rules, keys=KEYS, today=TODAY)
    ref = ReferenceGovernor(rules, keys=KEYS, today=TODAY)
    for batch in CsvSource(population.path, chunk_bytes=1 << 16).batches():
        a, b = fast.process(batch), ref.process(batch)
        assert a.clean.equals(b.clean) and a.quarantine.equals(b.quarantine) and a.share.equals(b.share)


# -- HMAC-SM3 -----------------------------------------------------------------------------------
def test_hmac_sm3_matches_platform_byte_for_byte():
    from yiwang.core.crypto import hmac_sm3
    from yiwang.governance.engine.kernels import sm3
    from yiwang.governance.engine.kernels.arrow import Strings

    r = _rng(3)
    for key in (b"k", b"k" * 16, b"x" * 64, bytes(range(100))):
        values = [
            bytes(
                r.randrange(256)
                for _ in range(r.choice([0, 1, 17, 18, 55, 56, 63, 64, 119, 120, 200, r.randrange(300)]))
            )
            for _ in range(300)
        ]
        view = Strings(pa.array(values, pa.binary()))
        istate, ostate = sm3.key_states(key)
        rows = np.arange(len(values), dtype=np.int64)
        offsets, data = sm3.hmac_hex(view.offsets, view.data, rows, istate, ostate, sm3.TJ, 64)
        for i, value in enumerate(values):
            assert data[offsets[i] : offsets[i + 1]].tobytes().decode() == hmac_sm3(key, value).hex()


def test_pseudonymise_matches_reference_column():
    from engine_oracle import pseudonymise

    from yiwang.governance.engine import smcrypto
    from yiwang.governance.engine.fastpath import Column, FastMasker
    from yiwang.governance.engine.kernels.arrow import Strings
    from yiwang.governance.engine.masking import Masker
    from yiwang.governance.engine.rules import PseudonymMask

    r = _rng(5)
    values = [
        None if r.random() < 0.1 else "".join(r.choice(HAN + "0123456789X") for _ in range(r.randrange(0, 30)))
        for _ in range(500)
    ]
    arr = pa.array(values, pa.string())
    rules = ResourceRules.model_validate({"resource": "t", "columns": [{"name": "a"}]})
    fm = FastMasker(Masker(rules, keys={"k": b"secret"}))
    col = Column(rules.columns[0], arr, Strings(arr), np.zeros(len(values), bool))
    for length in (64, 32, 1, 63):
        got = fm._pseudonyms(col, np.arange(len(values), dtype=np.int64), PseudonymMask(key_id="k", length=length))
        want = pseudonymise(arr, b"secret", length=length)
        assert got.to_pylist() == want.to_pylist()
        assert smcrypto.pseudonymise(arr, b"secret", length=length).to_pylist() == want.to_pylist()


# -- uniqueness ---------------------------------------------------------------------------------
def test_code_set_matches_reference_tracker():
    from engine_oracle import UniqueKeys

    from yiwang.governance.engine.kernels.unique import CodeSet

    r = np.random.default_rng(9)
    fast, ref = CodeSet(capacity_bits=4), UniqueKeys()
    for _ in range(8):
        n = int(r.integers(1, 3000))
        codes = r.integers(0, 2000, n).astype(np.uint64)  # many repeats, some "no key" (0)
        eligible = r.random(n) < 0.8
        got = fast.duplicates(codes, eligible)
        want = ref.duplicates([None if c == 0 else int(c) for c in codes], eligible)
        assert (got == want).all()


# -- sources ------------------------------------------------------------------------------------
FIELDS = ["张三", "", "a,b", 'say "hi"', "第一行\n第二行", "１２３", "€𠀀", " x ", "é", "320583199001011234", "a\r\nb"]


def _csv_text(r: random.Random, rows: int, cols: int, *, crlf: bool, blank: bool) -> str:
    header = ",".join(f"列{k}" for k in range(cols))
    out = [header]
    for _ in range(rows):
        cells = []
        for _ in range(cols):
            v = (
                r.choice(FIELDS)
                if r.random() < 0.5
                else "".join(r.choice(HAN + "0123456789-") for _ in range(r.randrange(0, 9)))
            )
            if any(c in v for c in ',"\n\r') or r.random() < 0.05:
                v = '"' + v.replace('"', '""') + '"'
            cells.append(v)
        out.append(",".join(cells))
        if blank and r.random() < 0.05:
            out.append("")
    nl = "\r\n" if crlf else "\n"
    return nl.join(out) + (nl if r.random() < 0.7 else "")


def _read(path, decoder, **options):
    from yiwang.governance.engine.errors import SourceError
    from yiwang.governance.engine.sources import CsvSource

    src = CsvSource(path, decoder=decoder, **options)
    try:
        batches = list(src.batches())
    except SourceError as exc:
        return ("error", exc.code, exc.line, exc.message)
    except Exception as exc:  # whatever the reference raises, the kernel path must raise too
        return ("exception", type(exc).__name__, str(exc))
    return pa.Table.from_batches(batches).combine_chunks() if batches else None


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "utf-8-sig"])
def test_csv_kernel_matches_reference(tmp_path, seed, encoding):
    r = _rng(seed)
    text = _csv_text(r, r.randrange(1, 300), r.randrange(1, 6), crlf=r.random() < 0.3, blank=r.random() < 0.3)
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode(encoding))
    chunk = r.choice([64, 257, 4096, 1 << 20])
    fast = _read(path, "kernel", chunk_bytes=chunk, encoding=encoding)
    ref = _read(path, "iconv" if encoding == "gb18030" else "python", chunk_bytes=chunk, encoding=encoding)
    assert fast.equals(ref) if isinstance(fast, pa.Table) else fast == ref, (fast, ref)


@pytest.mark.parametrize(
    "case",
    [
        "ragged",
        "truncated",
        "unterminated",
        "bad_bytes",
        "bare_cr",
        "stray_quote",
        "header_only",
        "empty",
        "extra_column",
        "no_newline",
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_csv_kernel_errors_match_reference(tmp_path, case, encoding):
    body = {
        "ragged": "a,b\n1,2\n3\n4,5\n",
        "truncated": "a,b\n1,2\n3",
        "unterminated": 'a,b\n1,2\n"3,4\n',
        "bad_bytes": None,
        "bare_cr": "a,b\r1,2\r3,4\r",
        "stray_quote": 'a,b\n1,x"y\n',
        "header_only": "a,b\n",
        "empty": "",
        "extra_column": "a,b\n1,2,3\n",
        "no_newline": "a,b\n1,张三",
    }[case]
    path = tmp_path / "t.csv"
    if body is None:
        raw = "a,b\n1,张三\n2,".encode(encoding) + (b"\xff\xfe" if encoding == "gb18030" else b"\xc3\x28") + b"\n"
    else:
        raw = body.encode(encoding)
    path.write_bytes(raw)
    for chunk in (4, 1 << 20):
        fast = _read(path, "kernel", chunk_bytes=chunk, encoding=encoding)
        ref = _read(path, "iconv" if encoding == "gb18030" else "python", chunk_bytes=chunk, encoding=encoding)
        assert fast.equals(ref) if isinstance(fast, pa.Table) else fast == ref, (case, chunk, fast, ref)


def test_csv_kernel_reads_population_without_fallback(population):
    from yiwang.governance.engine.sources import CsvSource
    from yiwang.governance.engine.sources.fastcsv import FastCsvReader

    seen = []
    original = FastCsvReader.read_file

    def spy(self, path):
        seen.append(self)
        yield from original(self, path)

    FastCsvReader.read_file = spy
    try:
        fast = pa.Table.from_batches(list(CsvSource(population.path, chunk_bytes=1 << 16).batches()))
    finally:
        FastCsvReader.read_file = original
    ref = pa.Table.from_batches(list(CsvSource(population.path, decoder="iconv", chunk_bytes=1 << 16).batches()))
    assert fast.equals(ref)
    assert seen and seen[0].declined == 0


def test_gb18030_four_byte_codes_match_reference(tmp_path):
    from yiwang.governance.engine.sources import libiconv

    r = _rng(11)
    chars = [chr(cp) for cp in r.sample(range(0x80, 0xD800), 3000) + r.sample(range(0x10000, 0x110000), 2000)]
    for name, pool in (("all", chars), ("decodable", [c for c in chars if _iconv_ok(libiconv, c)])):
        text = "a\n" + "\n".join("".join(pool[k : k + 7]) for k in range(0, len(pool), 7)) + "\n"
        path = tmp_path / f"{name}.csv"
        path.write_bytes(text.encode("gb18030"))
        fast = _read(path, "kernel", encoding="gb18030", delimiter="\t")
        ref = _read(path, "iconv", encoding="gb18030", delimiter="\t")
        assert fast.equals(ref) if isinstance(fast, pa.Table) else fast == ref, (fast, ref)
        if name == "decodable":
            assert isinstance(fast, pa.Table) and fast.num_rows > 600


def _iconv_ok(libiconv, char: str) -> bool:
    if not libiconv.available():
        return True
    try:
        libiconv.to_utf8(char.encode("gb18030"))
        return True
    except libiconv.IconvFailure:
        return False


def test_run_matches_reference_end_to_end(population, rules):
    """``run()`` (compiled CSV reader, Governor, KCounter, threads) against the oracle over Arrow's
    CSV reader, batch by batch."""
    from collections import Counter
    from dataclasses import asdict

    from yiwang.governance.engine import CollectSink, Sinks, run
    from yiwang.governance.engine.masking import KAnonymityCounter
    from yiwang.governance.engine.sources import CsvSource

    sinks = Sinks(raw=CollectSink(), clean=CollectSink(), share=CollectSink(), quarantine=CollectSink())
    summary = run(population.path, rules, sinks, keys=KEYS, today=TODAY)
    ref = ReferenceGovernor(rules, keys=KEYS, today=TODAY)
    zones = {"raw": [], "clean": [], "share": [], "quarantine": []}
    by_rule, counter = Counter(), KAnonymityCounter(rules.quasi_identifiers)
    for batch in CsvSource(population.path, decoder="iconv", expected_columns=rules.column_names).batches():
        got = ref.process(batch)
        for zone, out in (("raw", batch), ("clean", got.clean), ("share", got.share), ("quarantine", got.quarantine)):
            zones[zone].append(out)
        by_rule.update(got.by_rule)
        counter.add(got.share.select(rules.quasi_identifiers))
    for zone, batches in zones.items():
        want = pa.Table.from_batches(batches).combine_chunks()
        assert getattr(sinks, zone).table().combine_chunks().equals(want), zone
    assert summary.quarantine_by_rule == dict(by_rule.most_common())
    assert summary.k_anonymity == asdict(counter.report(rules.k_anonymity, show=10))
    quality = ref.quality.report(update_cycle=rules.update_cycle, as_of=TODAY, has_unique=True, has_cross=True)
    assert summary.quality == quality.to_dict()


TRICKY = [
    "",
    " ",
    "\u3000张三\u3000",
    "张 三",
    "张\u2003三",
    "欧阳•娜娜",
    "阿卜杜・热合曼",
    "ＡＢＣ１２３",
    "ｘ",
    "3205831990０1011234",
    "320583199001011234ｘ",
    "320583 19900101 123x",
    "(0512)-5123 4567",
    "+86 138-1234-5678",
    "0086 13812345678",
    "8613812345678",
    "+8613812345678",
    "+85212345678",
    "+86 ١٣٨١٢٣٤٥٦٧٨",
    "M",
    "f",
    "Male",
    "FEMALE",
    "男性",
    "女 ",
    "未知",
    "Straße",
    "ß",
    "İ",
    "A.B@EXAMPLE.COM",
    "Ä@b.cn",
    " 1,234 ",
    "1 000",
    "汉",
    "蒙古",
    "火星",
    "汉族 ",
    "\u1680x\u1680",
    "\u2028a\u2029",
    "a\u0085",
    "\u00a0b",
    "\u202fc\u205f",
    "江苏省 苏州市\t昆山市",
    "１２３，４５６",
    "\t\n",
    "𠀀𠀁",
    "é",
    "Ｍ",
    "ｆｅｍａｌｅ",
]


@pytest.mark.parametrize(
    ("kind", "dtype"),
    [
        ("person_name", "string"),
        ("resident_id", "string"),
        ("uscc", "string"),
        ("phone", "string"),
        ("mobile", "string"),
        ("landline", "string"),
        ("gender", "string"),
        ("email", "string"),
        ("address", "string"),
        ("ethnic_group", "string"),
        ("division_code", "string"),
        ("postal_code", "string"),
        ("text", "string"),
        ("number", "int"),
        ("number", "decimal"),
        ("enum", "string"),
    ],
)
def test_normalisation_kernel_matches_reference_per_value(kind, dtype):
    import polars as pl

    from yiwang.governance.engine.fastpath import FastPath
    from yiwang.governance.engine.normalise import normalised_text
    from yiwang.governance.engine.refdata import region_codes
    from yiwang.governance.engine.rules import ColumnRule

    rule = ColumnRule(name="c", kind=kind, dtype=dtype, enum=["甲"] if kind == "enum" else None)
    values = TRICKY + [None]
    fast = FastPath(ResourceRules(resource="t", columns=[rule]), today=TODAY, region_codes=region_codes())
    got = fast.column(rule, pa.array(values, pa.string())).text.to_pylist()
    whole = normalised_text(pl.Series("c", values, pl.String), rule).to_list()
    alone = [normalised_text(pl.Series("c", [v], pl.String), rule).to_list()[0] for v in values]
    assert got == whole == alone


def test_date_kernel_matches_reference():
    import polars as pl

    from yiwang.governance.engine.kernels import text as tk
    from yiwang.governance.engine.kernels.arrow import Strings
    from yiwang.governance.engine.normalise import parse_date_series

    r = _rng(21)
    values = [
        "2001-3-5",
        "1987/1/6",
        "1987-1-6",
        "1987年1月6日",
        "1987/1/6日",
        "2001/03/05",
        "2001.3.5",
        "2001年3月5日",
        "2001年3月5",
        "20010305",
        "2001-03-05日",
        "2001/3-5",
        "2001.3.5.",
        "2001-02-29",
        "2000-02-29",
        "1999-12-31",
        "0999-01-01",
        "999-1-1",
        "10000-01-01",
        "2001-001-01",
        "2001-1-001",
        "45000",
        "45000.5",
        "2001-03-05 12:30",
        "2001-03-05T12:30:01",
        "2001年13月1日",
        "20011301",
        "2001-3-",
        "2001--3",
        "2001-3-5 ",
        " 2001-3-5",
        "+2001-03-05",
        "２００１-03-05",
        "2001/3/5日日",
        "",
        None,
    ]
    for _ in range(400):
        born = dt.date(1000, 1, 1) + dt.timedelta(days=r.randrange(0, 3_000_000))
        sep = r.choice(["-", "/", ".", "年"]), r.choice(["-", "/", ".", "月"])
        m = f"{born.month:02d}" if r.random() < 0.5 else str(born.month)
        d = f"{born.day:02d}" if r.random() < 0.5 else str(born.day)
        values.append(f"{born.year}{sep[0]}{m}{sep[1]}{d}" + ("日" if r.random() < 0.3 else ""))
        values.append(f"{born:%Y%m%d}")
    arr = pa.array(values, pa.string())
    view = Strings(arr)
    days, decided = tk.iso_dates(view.offsets, view.data, view.valid)
    want = parse_date_series(pl.Series(values, dtype=pl.String)).cast(pl.Int32).to_list()
    for k, value in enumerate(values):
        if decided[k]:
            assert want[k] == int(days[k]), value
    assert decided.sum() > 700
    assert all(decided[values.index(v)] for v in ("1987/1/6", "1987-1-6", "1987年1月6日", "2001/03/05", "20010305"))


@pytest.mark.parametrize("unknown", ["ignore", "keep"])
def test_csv_kernel_column_selection_matches_reference(tmp_path, unknown):
    r = _rng(31)
    text = _csv_text(r, 200, 5, crlf=False, blank=False)
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("gb18030"))
    options = {
        "expected_columns": ["列3", "列1"],
        "unknown_columns": unknown,
        "encoding": "gb18030",
        "chunk_bytes": 512,
    }
    fast = _read(path, "kernel", **options)
    ref = _read(path, "iconv", **options)
    assert isinstance(fast, pa.Table) and fast.equals(ref)
    assert fast.column_names[:2] == ["列3", "列1"]


def test_csv_kernel_pipe_delimiter_with_gb18030_trail_bytes(tmp_path):
    """'|' (0x7C) is also a GB18030 trail byte: the kernel must not split inside a character."""
    trail = [c for c in map(chr, range(0x4E00, 0x9FA6)) if c.encode("gb18030")[1:2] == b"|"][:40]
    assert trail
    rows = ["名|码"] + [f"{''.join(trail[k : k + 3])}|{k}" for k in range(0, len(trail), 3)]
    path = tmp_path / "t.csv"
    path.write_bytes(("\n".join(rows) + "\n").encode("gb18030"))
    fast = _read(path, "kernel", encoding="gb18030")
    ref = _read(path, "iconv", encoding="gb18030")
    assert isinstance(fast, pa.Table) and fast.equals(ref) and fast.num_rows == len(rows) - 1
