"""``datapackage.json``: a Frictionless Data Package with a Table Schema, valid for ``frictionless``."""

import copy

from frictionless import Package, validate

from yiwang import catalog
from yiwang.core.security import SYSTEM_ACTOR


def _package(db, name):
    return catalog.data_package(catalog.get_resource(db, actor=SYSTEM_ACTOR, name=name))


def test_every_published_entry_is_a_valid_data_package(db):
    rows, total = catalog.list_resources(db, actor=SYSTEM_ACTOR, status="published", limit=500)
    assert total >= 40
    for row in rows:
        report = Package.validate_descriptor(_package(db, row.name))
        assert report.valid, (row.name, report.flatten(["type", "note"]))


def test_population_schema_carries_the_rules(db):
    pkg = _package(db, "population")
    assert pkg["profile"] == "data-package" and pkg["name"] == "population" and pkg["title"] == "人口基础信息"
    schema = pkg["resources"][0]["schema"]
    fields = {f["name"]: f for f in schema["fields"]}
    assert list(fields) == [
        "姓名",
        "公民身份号码",
        "性别",
        "出生日期",
        "民族",
        "联系电话",
        "户籍地址",
        "现住址",
        "所属社区代码",
    ]
    assert fields["出生日期"]["type"] == "date"
    assert fields["公民身份号码"]["constraints"]["required"] is True
    assert fields["公民身份号码"]["constraints"]["unique"] is True
    assert "pattern" in fields["公民身份号码"]["constraints"] and "pattern" in fields["联系电话"]["constraints"]
    assert fields["出生日期"]["constraints"]["minimum"] == "1900-01-01"
    assert fields["公民身份号码"]["x-sensitivity"] == "L4" and fields["公民身份号码"]["x-mask"] == "keep_ends"
    assert schema["primaryKey"] == ["公民身份号码"]
    assert pkg["x-catalog"]["code"].startswith("101001/") and pkg["x-catalog"]["share"]["type"] == "conditional"


def test_the_schema_accepts_good_rows_and_rejects_bad_ones(db):
    pkg = _package(db, "enterprise")
    resource = pkg["resources"][0]
    for key in ("path", "format", "mediatype", "encoding"):  # inline rows instead of the share file
        resource.pop(key)
    header = [f["name"] for f in resource["schema"]["fields"]]
    good = [
        "昆山华澄精密机械有限公司",
        "91320583MA1N3B8P25",
        "王华",
        "2016-05-12",
        "500",
        "C3484",
        "昆山开发区前进东路1号",
        "320583400",
    ]
    data = copy.deepcopy(pkg)
    data["resources"][0]["data"] = [header, good]
    assert validate(data).valid
    bad = list(good)
    bad[1] = "91320583MA1N3B8P2"  # 17 characters
    bad[5] = "c34"  # not a GB/T 4754 code
    data["resources"][0]["data"] = [header, good, bad]
    errors = validate(data).flatten(["fieldName", "type"])
    assert ["统一社会信用代码", "constraint-error"] in errors and ["行业代码", "constraint-error"] in errors


def test_the_api_serves_it_to_staff_only(client, bearer):
    r = client.get("/api/v1/catalog/resources/population/datapackage.json", headers=bearer("town"))
    assert r.status_code == 200 and r.json()["resources"][0]["schema"]["primaryKey"] == ["公民身份号码"]
    assert Package.validate_descriptor(r.json()).valid
    assert client.get("/api/v1/catalog/resources/population/datapackage.json").status_code == 401
    assert (
        client.get("/api/v1/catalog/resources/population/datapackage.json", headers=bearer("citizen")).status_code
        == 403
    )
    assert (
        client.get(
            "/api/v1/catalog/resources/population/datapackage.json?version=9", headers=bearer("town")
        ).status_code
        == 404
    )
