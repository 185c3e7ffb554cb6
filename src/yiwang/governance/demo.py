"""Synthetic demo files for the reference city: residents and enterprises, with some bad rows on purpose.

Synthetic: no real person or company. Residents come from the engine's generator (GB18030,
about 1 % bad rows); enterprises get valid GB 32100 credit codes except a few wrong check
characters and non-Kunshan division codes, so quarantine has something to show.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from yiwang.governance.bench import synth
from yiwang.governance.engine.idcodes import uscc_check_character
from yiwang.governance.engine.refdata import kunshan_divisions

_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
WORDS = ("华澄", "昆玉", "鹿城", "淀山", "阳澄", "锦溪", "周庄", "千灯", "亭林", "玉峰", "汇丰", "恒通", "润泽", "精工")
TRADES = ("精密机械", "电子科技", "智能制造", "新材料", "物流", "食品", "纺织", "软件", "医疗器械", "环保科技")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def _org_code(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(8))
    c9 = 11 - sum(_ORG_ALPHABET.index(c) * w for c, w in zip(body, _ORG_WEIGHTS)) % 11
    return body + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))


def write_enterprises(path: Path, rows: int, *, seed: int = 2021) -> None:
    rng = random.Random(seed)
    towns = [r["code"] for r in kunshan_divisions() if r["level"] == "town"] or ["320583100"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "企业名称",
                "统一社会信用代码",
                "法定代表人",
                "成立日期",
                "注册资本（万元）",
                "行业代码",
                "住所",
                "所属区镇代码",
            ]
        )
        for i in range(rows):
            first17 = "91320583" + _org_code(rng)
            code = first17 + uscc_check_character(first17)
            name = f"昆山{rng.choice(WORDS)}{rng.choice(TRADES)}有限公司"
            founded = dt.date(1995, 1, 1) + dt.timedelta(days=rng.randrange(30 * 365))
            row = [
                name if i % 97 else name + "（第二分公司）",
                code,
                rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                founded.strftime("%Y/%-m/%-d") if i % 3 else founded.isoformat(),
                f"{rng.randrange(10, 50000)}",
                rng.choice("CFGIM") + f"{rng.randrange(10, 99)}",
                f"江苏省苏州市昆山市{rng.choice(WORDS)}路{rng.randrange(1, 999)}号",
                rng.choice(towns),
            ]
            if i % 61 == 7:
                row[1] = code[:-1] + ("0" if code[-1] != "0" else "1")  # wrong check character
            if i % 89 == 11:
                row[7] = "999999999"  # not a Kunshan division
            out.writerow(row)


def demo_files(folder: Path, *, people: int = 3000, enterprises: int = 400) -> dict[str, Path]:
    """``{"population": path, "enterprise": path}`` written into ``folder``."""
    residents = Path(folder) / "人口基础信息-演示.csv"
    synth.write_population_csv(residents, people, seed=20261128)
    firms = Path(folder) / "法人基础信息-演示.csv"
    write_enterprises(firms, enterprises)
    return {"population": residents, "enterprise": firms}
