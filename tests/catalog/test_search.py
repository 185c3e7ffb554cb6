"""Chinese full-text search over the reference catalog: two-character words, ranking, scope."""

import pytest

from yiwang import catalog
from yiwang.catalog.search import document_terms, query_terms
from yiwang.core.audit import Origin
from yiwang.core.security import SYSTEM_ACTOR


def _titles(db, q, actor=SYSTEM_ACTOR):
    rows, total = catalog.list_resources(db, actor=actor, q=q, limit=100)
    assert total == len(rows)
    return [r.title for r in rows]


@pytest.mark.parametrize(
    ("q", "first", "also"),
    [
        ("人口", "人口基础信息", {"户籍迁移登记信息"}),
        ("企业", "企业登记信息", {"法人基础信息", "高新技术企业名录", "外商投资企业信息"}),
        ("社保", "社保参保信息", set()),
        ("不动产", "不动产登记信息", set()),
        ("公积金", "住房公积金缴存信息", set()),
        ("医保", "医保结算信息", set()),
        ("空气质量", "环境空气质量监测信息", set()),
    ],
)
def test_real_queries_find_and_rank(db, q, first, also):
    titles = _titles(db, q)
    assert titles[0] == first
    assert also <= set(titles)
    assert "城市公园绿地信息" not in titles  # nothing about parks mentions any of these words


def test_every_term_must_match_and_words_in_the_title_rank_first(db):
    titles = _titles(db, "人口 社区")
    assert titles[0] == "人口基础信息" and "户籍迁移登记信息" not in titles  # that one never says 社区
    assert _titles(db, "不动产")[0] == "不动产登记信息"
    assert _titles(db, "火星基地") == []


def test_codes_names_departments_and_single_characters(db):
    population = catalog.get_resource(db, actor=SYSTEM_ACTOR, name="population")
    assert _titles(db, population.code) == ["人口基础信息"]
    assert _titles(db, "population") == ["人口基础信息"]
    assert _titles(db, "HOUSING_FUND") == ["住房公积金缴存信息"]  # case and underscores do not matter
    assert "出生医学证明信息" in _titles(db, "市卫健委")
    assert "重要民生商品价格监测信息" in _titles(db, "价")  # a one-character query uses single characters
    assert _titles(db, "ｐｏｐｕｌａｔｉｏｎ") == ["人口基础信息"]  # full-width letters are normalised


def test_filters_combine_with_search(db):
    rows, _n = catalog.list_resources(db, actor=SYSTEM_ACTOR, q="信息", share_type="none")
    assert [r.name for r in rows] == ["petition_cases"]
    rows, _n = catalog.list_resources(db, actor=SYSTEM_ACTOR, classification="1")
    assert {r.classification[:3] for r in rows} == {"101", "102", "103", "104", "105"}


def test_tokeniser():
    assert query_terms("人口") == ["人口"]
    assert query_terms("不动产登记") == ["不动", "动产", "产登", "登记"]
    assert query_terms("社保 API2.0") == ["社保", "api2", "0"]
    terms = document_terms({"title": ["人口基础信息"], "abstract": ["人口"]})
    assert terms["人口"] == 12 + 2 and terms["人"] == 12 + 2 and "口基" in terms


def test_a_draft_is_found_only_by_its_department(db, officer, spec):
    police, market = officer("public_security"), officer("market_regulation")
    catalog.create_resource(db, actor=police, data=spec(title="社区志愿者登记信息"), origin=Origin(ip="t"))
    assert "社区志愿者登记信息" in _titles(db, "志愿者", police)
    assert "社区志愿者登记信息" not in _titles(db, "志愿者", market)
