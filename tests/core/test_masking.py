"""The one redactor of personal data in free text (``core.masking.redact``) and the coarse address."""

from __future__ import annotations

import pytest

from yiwang.core.masking import coarse_address, mask_phone, redact

ID_2005 = "320583200501011230"  # born 2005: the old phone-shaped mask let it through whole
ID_1990 = "32058319900101123X"
CARD = "6222020200112233446"  # 19 digits, passes Luhn
NOT_A_CARD = "6222020200112233447"  # fails Luhn (and is 19 digits: no ID either)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"我身份证{ID_2005}谢谢", "我身份证320583********1230谢谢"),
        (f"老人身份证{ID_1990}。", "老人身份证320583********123X。"),
        ("身份证32058319900101123x", "身份证320583********123x"),
        ("旧身份证320583900101123", "旧身份证320583******123"),
        ("身份证 320583 20050101 1230", "身份证 320583 ******** 1230"),
        ("电话13912345678谢谢", "电话139****5678谢谢"),
        ("电话１３９１２３４５６７８谢谢", "电话１３９****５６７８谢谢"),
        ("身份证３２０５８３２００５０１０１１２３０", "身份证３２０５８３********１２３０"),
        ("手机139-1234-5678或139 1234 5678", "手机139-****-5678或139 **** 5678"),
        ("tel13912345678", "tel139****5678"),
        ("座机0512-57301234", "座机0512-******34"),
        ("电话57301234", "电话5*****34"),
        (f"卡号{CARD}退款", "卡号6222***********3446退款"),
        ("卡号6222 0202 0011 2233 446", "卡号6222 **** **** ***3 446"),
        ("邮箱 zhangsan@example.com 联系", "邮箱 z*******@example.com 联系"),
        ("车牌苏E12345停在门口", "车牌苏E*****停在门口"),
        ("朝阳新村12栋304室门口", "朝阳新村12栋***室门口"),
        ("新能源苏ED12345堵门", "新能源苏E******堵门"),
        ("新能源苏E12345D堵门", "新能源苏E******堵门"),
    ],
)
def test_redact_masks_personal_data(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "3号楼门口下水道堵了，污水冒到路面上",
        "2025年3月5日下午3点，约100000元损失",
        f"卡号{NOT_A_CARD}",
        "编号123456",
        "苏州工业园区",
    ],
)
def test_redact_leaves_other_text_alone(text):
    assert redact(text) == text


def test_redact_keeps_length_and_handles_empty():
    text = f"身份证{ID_2005}电话13912345678"
    assert len(redact(text)) == len(text)
    assert redact(None) is None and redact("") == ""
    assert redact(text).count("*") == 8 + 4
    assert mask_phone("13912345678") == "139****5678"  # the single-value mask agrees


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("昆山市玉山镇朝阳新村12栋304室", "昆山市玉山镇朝阳新村"),
        ("前进西路88号", "前进西路"),
        ("花桥镇绿地大道２３１弄５号", "花桥镇绿地大道"),
        ("玉山镇人民路与前进路交叉口", "玉山镇人民路与前进路交叉口"),
        ("3号楼门口", None),
        (None, None),
    ],
)
def test_coarse_address_stops_before_the_door(address, expected):
    assert coarse_address(address) == expected
