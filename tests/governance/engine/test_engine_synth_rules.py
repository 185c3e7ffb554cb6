"""The synthetic generator, the rules model, the unique-key table and the quality maths."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from yiwang.governance.bench.synth import BAD_KINDS, COLUMNS
from yiwang.governance.engine.quality import QualityAccumulator, _timeliness
from yiwang.governance.engine.refdata import ethnic_groups, kunshan_community_codes
from yiwang.governance.engine.rules import ResourceRules
from yiwang.governance.engine.unique import UniqueKeyTracker, _Table


def test_generator_file_and_manifest(population):
    raw = population.path.read_bytes()
    text = raw.decode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    lines = text.splitlines()
    assert lines[0].split(",") == COLUMNS
    assert len(lines) == population.rows + 1
    assert set(population.kinds) == set(BAD_KINDS)
    assert 0.005 < len(population.bad) / population.rows < 0.02
    assert population.mixed > 0.01 * population.rows
    frame = pl.read_csv(raw.decode("gb18030").encode(), infer_schema=False)
    assert set(frame["民族"].unique()) <= set(ethnic_groups())
    good = frame.filter(~pl.int_range(2, frame.height + 2).is_in(list(population.bad)))
    assert set(good["所属社区代码"].unique()) <= set(kunshan_community_codes())
    assert good["现住址"].str.starts_with("江苏省苏州市昆山市").all()
    assert good["公民身份号码"].str.slice(0, 6).is_in(["320583", "322726", "320523", "329012"]).mean() > 0.5


def test_rules_round_trip_and_refuse_unknown_columns(rules):
    assert ResourceRules.from_yaml(rules.to_yaml()) == rules
    assert ResourceRules.from_dict(rules.to_dict()) == rules
    with pytest.raises(ValidationError):
        ResourceRules.model_validate({"resource": "r", "columns": [{"name": "a"}], "unique_keys": [["b"]]})
    with pytest.raises(ValidationError):
        ResourceRules.model_validate({"resource": "r", "columns": [{"name": "a", "kind": "enum"}]})
    with pytest.raises(ValidationError):
        ResourceRules.model_validate({"resource": "r", "columns": [{"name": "a", "mask": {"method": "rot13"}}]})


def test_unique_tracker_grows_and_stays_exact():
    tracker = UniqueKeyTracker(["k"])
    ids = [f"3205831990{i:07d}X" for i in range(200_000)]  # forces several table doublings
    first = tracker.duplicates(pl.DataFrame({"k": ids}), np.ones(len(ids), bool))
    assert not first.any() and tracker.table.count == len(ids)
    again = tracker.duplicates(pl.DataFrame({"k": ids[::1000] + ["32058319990000001X"]}), np.ones(201, bool))
    assert again[:-1].all() and not again[-1]
    tracker.close()


def test_code_set_grows_and_stays_exact():
    from yiwang.governance.engine.kernels.unique import CodeSet

    codes = np.arange(1, 200_001, dtype=np.uint64) * np.uint64(7919)  # forces several table doublings
    table = CodeSet()
    assert not table.duplicates(codes, np.ones(len(codes), bool)).any()
    again = table.duplicates(np.append(codes[::1000], np.uint64(3)), np.ones(201, bool))
    assert again[:-1].all() and not again[-1]


def test_hash_table_handles_equal_hashes():
    table = _Table(capacity=8, with_refs=True)
    table.insert(np.array([5, 5, 13], np.uint64), np.array([0, 1, 2], np.int32))
    found = table.lookup(np.array([5, 13, 7], np.uint64), lambda rows, refs: refs == np.array([1, 2, 9])[rows])
    assert (found >= 0).tolist() == [True, True, False]
    assert table.refs[found[0]] == 1


def test_quality_weights_and_timeliness():
    acc = QualityAccumulator()
    acc.rows = 10
    report = acc.report(
        update_cycle="monthly",
        as_of=dt.date(2025, 6, 1),
        data_date=dt.date(2025, 5, 20),
        has_unique=False,
        has_cross=False,
    )
    assert report.timeliness == 1.0 and report.uniqueness is None
    assert _timeliness(46, 31) == pytest.approx(1 - 15 / 31)
    assert _timeliness(70, 31) == 0.0
    assert _timeliness(5, None) is None
