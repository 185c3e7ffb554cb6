"""Load (or, on a machine without numba's cache, compile) every engine kernel ahead of a load.

They compile once per machine (the cache then lives in ``__pycache__`` beside
``yiwang.governance.engine.kernels``) and load from the cache in every process. The benchmark
calls ``warm_up()`` before its timed load and reports the cost apart.
"""

from __future__ import annotations


def _sample(variants: bool) -> str:
    """Population rows that pass every rule; with ``variants``, every column in a spelling that
    normalisation rewrites (so the kernels also see the rewritten, large_string columns)."""
    import numpy as np

    from yiwang.governance.engine.idcodes import resident_id_check_digits

    header = "姓名,公民身份号码,性别,出生日期,民族,联系电话,户籍地址,现住址,所属社区代码"
    rows = []
    for k in range(8):
        body = f"32058319900101{k:02d}{k % 10}"
        rid = body + chr(resident_id_check_digits(np.array([[int(c) for c in body]]))[0])
        male = k % 2 == 1
        name = ("欧阳娜娜" if k % 3 == 0 else "张三") + ("" if not variants else "\u3000")
        gender = ("男" if male else "女") if not variants else ("M" if male else "F")
        date = "1990-01-01" if not variants else "1990/1/1"
        nation = "汉族" if not variants else "汉"
        phone = "13812345678" if not variants else "+86 138-1234-5678"
        if variants:
            rid = "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in rid)
        hukou = "上海市浦东新区科苑路1号" if k % 2 else "江苏省苏州市昆山市张浦镇金华村3组5号"
        home = "江苏省苏州市昆山市玉山镇城北社区居委会1号" + (" " if variants else "")
        rows.append(",".join([name, rid, gender, date, nation, phone, hukou, home, "320583100001"]))
    return "\n".join([header, *rows]) + "\n"


def warm_up() -> float:
    """Load (or compile) every kernel by governing small samples; returns the seconds taken."""
    import datetime as dt
    import tempfile
    import time
    from pathlib import Path

    import numpy as np

    from yiwang.governance.engine.kernels.unique import CodeSet
    from yiwang.governance.engine.pipeline import run
    from yiwang.governance.engine.sinks import CollectSink, Sinks

    from .synth import population_rules

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="yiwang-warmup-") as tmp:
        for encoding in ("gb18030", "utf-8"):
            for variants in (False, True):
                path = Path(tmp) / f"sample-{encoding}-{variants}.csv"
                path.write_bytes(_sample(variants).encode(encoding))
                sinks = Sinks(raw=CollectSink(), clean=CollectSink(), share=CollectSink(), quarantine=CollectSink())
                run(
                    path,
                    population_rules(communities=["320583100001"]),
                    sinks,
                    keys={"population": b"warm-up-key"},
                    today=dt.date(2025, 1, 1),
                )
    # the resize paths, which a sample this small never reaches
    CodeSet(capacity_bits=1).duplicates(np.arange(1, 5, dtype=np.uint64), np.ones(4, np.bool_))
    return time.perf_counter() - started
