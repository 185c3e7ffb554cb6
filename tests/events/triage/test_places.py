"""Location hints: division names, aliases, roads, ambiguity."""

from yiwang.events.triage import corpus
from yiwang.events.triage.places import (
    extract_location,
    load_gazetteer,
    short_village_name,
)


def test_gazetteer_holds_the_official_divisions():
    gaz = load_gazetteer()
    assert len(gaz.towns) == 9 and len(gaz.villages) == 355
    assert set(gaz.towns) >= {r.town_code for r in gaz.roads}
    assert set(gaz.towns) >= {a.town_code for a in gaz.aliases}


def test_short_village_names():
    assert short_village_name("里厍社区居委会") == "里厍社区"
    assert short_village_name("金家庄村委会") == "金家庄村"
    assert short_village_name("昆山综合保税区社区") == "昆山综合保税区社区"


def test_village_gives_town_and_code():
    hint = extract_location("市民反映周庄贞丰里社区门口垃圾很多")
    assert hint.found
    assert hint.town_name == "昆山旅游度假区"
    assert hint.village_name == "贞丰里社区居委会" and hint.village_code.startswith(hint.town_code)


def test_alias_and_road():
    hint = extract_location("锦溪那边邵甸路与长寿路交叉口路灯不亮")
    assert hint.town_code == "320583401" and hint.road == "邵甸路"
    assert extract_location("前进西路123号井盖丢了").town_name == "玉山镇"


def test_ambiguous_name_is_resolved_by_context():
    # 花园社区 exists in both 玉山镇 and 张浦镇
    assert extract_location("张浦镇花园社区有人乱停车").town_name == "张浦镇"
    assert extract_location("玉山花园社区有人乱停车").town_name == "玉山镇"


def test_no_place_no_hint():
    hint = extract_location("楼下油烟太大了")
    assert not hint.found and hint.matched == ()


def test_hint_recovers_the_town_of_generated_reports():
    reports = [r for r in corpus.generate("heldout", 20) if r.town_code]
    hits = [extract_location(r.text).town_code == r.town_code for r in reports]
    # typos can break a name, and a noise clause never names a place, so most must match
    assert sum(hits) / len(hits) > 0.9
