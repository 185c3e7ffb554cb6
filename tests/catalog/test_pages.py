"""Staff pages: search, entry, register/edit form (with its errors), review queue, dashboard."""

import re

from helpers import csrf_from


def _form(spec: dict) -> dict:
    """The entry as the register form posts it."""
    data = {
        "name": spec["name"],
        "title": spec["title"],
        "classification": spec["classification"],
        "provider": spec["provider"],
        "abstract": spec["abstract"],
        "format_type": spec["format"]["type"],
        "format_detail": spec["format"]["detail"],
        "share_type": spec["share"]["type"],
        "share_conditions": spec["share"]["conditions"],
        "share_methods": spec["share"]["methods"],
        "open_type": "closed",
        "open_conditions": "",
        "update_cycle": spec["update_cycle"],
        "related": "population",
        "rules_yaml": "columns:\n  - {name: 姓名, kind: person_name, mask: {method: surname}}\n"
        "  - {name: 公民身份号码, kind: resident_id}\n  - {name: 服务时长（小时）, dtype: decimal}\n",
    }
    for i, item in enumerate(spec["items"]):
        data[f"items-{i * 7}-name"] = item["name"]
        data[f"items-{i * 7}-type"] = item["type"]
        data[f"items-{i * 7}-description"] = ""
        data[f"items-{i * 7}-sensitivity"] = item["sensitivity"]
        if item.get("personal"):
            data[f"items-{i * 7}-personal"] = "on"
    data["items-99-name"] = ""  # a blank row the officer added and left empty
    return data


def test_list_and_search_pages_are_chinese(as_role):
    page = as_role["town_worker"].get("/workspace/catalog", params={"q": "不动产"})
    assert page.status_code == 200
    assert "政务信息资源目录" in page.text and "不动产登记信息" in page.text
    assert "与“不动产”相关" in page.text
    rows = re.findall(r'<tr data-name="([a-z_]+)"', page.text)
    assert rows[0] == "real_estate"
    assert "登记资源" not in page.text  # town workers do not register resources
    every_filter_empty = {
        "q": "社保",
        "classification": "",
        "department_id": "",
        "share_type": "",
        "open_type": "",
        "status": "",
    }  # what the filter form sends when nothing is chosen
    page = as_role["town_worker"].get("/workspace/catalog", params=every_filter_empty)
    assert page.status_code == 200 and "社保参保信息" in page.text
    assert as_role["town_worker"].get("/workspace/catalog?department_id=abc").status_code == 422


def test_entry_page_shows_items_rules_versions(as_role):
    page = as_role["town_worker"].get("/workspace/catalog/resources/population")
    assert page.status_code == 200
    for text in ("人口基础信息", "公民身份号码", "L4 高度敏感", "keep_ends", "唯一键", "第 1 版", "变更记录", "未挂载"):
        assert text in page.text, text
    assert 'href="/workspace/catalog/resources/population/edit"' not in page.text  # not their department


def test_officer_registers_through_the_form(as_role, spec):
    officer = as_role["data_officer"]
    form = officer.get("/workspace/catalog/new")
    assert form.status_code == 200 and "登记资源" in form.text
    data = _form(spec())
    data["csrf_token"] = csrf_from(form.text)
    r = officer.post("/workspace/catalog/new", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    page = officer.get(r.headers["location"])
    assert "社区志愿者登记信息" in page.text and "草稿" in page.text and "服务时长（小时）" in page.text
    r = officer.post(
        "/workspace/catalog/resources/community_volunteers/submit",
        data={"csrf_token": csrf_from(page.text)},
        follow_redirects=True,
    )
    assert "已提交审核" in r.text


def test_form_errors_are_named_and_nothing_is_saved(as_role, spec, validator):
    officer = as_role["data_officer"]
    token = csrf_from(officer.get("/workspace/catalog/new").text)
    data = _form(spec(title="X"))  # field problems first
    data["items-7-sensitivity"] = "L9"
    r = officer.post("/workspace/catalog/new", data={**data, "csrf_token": token})
    assert r.status_code == 422 and "发现 2 个问题，未保存" in r.text
    assert 'data-field="title"' in r.text and 'data-field="items[1].sensitivity"' in r.text
    assert re.search(r'name="items-1-sensitivity"[^>]*class="invalid"', r.text)
    assert 'value="社区志愿者登记信息"' not in r.text and 'value="X"' in r.text  # what was typed is kept

    data = _form(spec())  # then the rules across fields, and the governance rules
    data["share_conditions"] = ""
    data["rules_yaml"] = "columns:\n  - name: 姓名\n    mask: {method: blur}\n"
    r = officer.post("/workspace/catalog/new", data={**data, "csrf_token": token})
    assert r.status_code == 422
    assert 'data-field="share.conditions"' in r.text
    problem = re.search(r'data-field="rules.columns\[0\].mask.method">([^<]*)<', r.text).group(1)
    assert problem.startswith("rules:3: ") and "blur" in problem  # the line inside the rules textarea
    assert re.search(r'class="code invalid" name="rules_yaml"', r.text)
    assert officer.get("/workspace/catalog/resources/community_volunteers").status_code == 404


def test_htmx_adds_an_item_row(as_role):
    r = as_role["data_officer"].get("/workspace/catalog/_item-row?i=1700000000000", headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'name="items-1700000000000-name"' in r.text and "<html" not in r.text
    assert as_role["town_worker"].get("/workspace/catalog/_item-row?i=1").status_code == 403


def test_review_queue_publishes_and_returns(as_role, spec):
    officer, admin = as_role["data_officer"], as_role["admin"]
    token = csrf_from(officer.get("/workspace/catalog/new").text)
    for name, title in (("volunteers_a", "志愿者甲"), ("volunteers_b", "志愿者乙")):
        data = _form(spec(name=name, title=title))
        data["csrf_token"] = token
        assert officer.post("/workspace/catalog/new", data=data, follow_redirects=False).status_code == 303
        officer.post(f"/workspace/catalog/resources/{name}/submit", data={"csrf_token": token})
    queue = admin.get("/workspace/catalog/review")
    assert "志愿者甲" in queue.text and "志愿者乙" in queue.text and "管道燃气用户信息" in queue.text
    admin_token = csrf_from(queue.text)
    r = admin.post(
        "/workspace/catalog/resources/volunteers_a/publish?from=review",
        data={"csrf_token": admin_token, "note": "同意"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/workspace/catalog/review"
    r = admin.post(
        "/workspace/catalog/resources/volunteers_b/reject?from=review",
        data={"csrf_token": admin_token, "note": "请补充共享依据"},
        follow_redirects=True,
    )
    assert "志愿者甲" not in r.text and "志愿者乙" not in r.text
    page = officer.get("/workspace/catalog/resources/volunteers_b")
    assert "已退回" in page.text and "请补充共享依据" in page.text
    assert officer.get("/workspace/catalog/review").status_code == 403
    assert admin.post("/workspace/catalog/resources/volunteers_a/publish", data={}).status_code == 403  # no CSRF


def test_dashboard_shows_the_plan_indicators(as_role):
    page = as_role["leader"].get("/workspace/catalog/dashboard")
    assert page.status_code == 200
    assert "已挂载数据资源与信息资源目录比率" in page.text and "数据清洗、脱敏率" in page.text
    assert "目标 95%" in page.text and "目标 100%" in page.text
    assert re.search(r'id="stat-published">(\d+)<', page.text).group(1) == "49"
