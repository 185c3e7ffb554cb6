"""The resource catalog in a real browser: search, register with HTMX rows, review, dashboard."""

import pytest

pytestmark = pytest.mark.browser
PASSWORD = "Kunshan@2026"


def sign_in(page, base, username):
    page.context.clear_cookies()
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_search_finds_two_character_words(page, live_server, screenshot):
    sign_in(page, live_server, "town")
    page.goto(live_server + "/workspace/catalog")
    page.fill("input[name=q]", "人口")
    page.click("#catalog-search button[type=submit] >> nth=0")
    page.wait_for_load_state("networkidle")
    first = page.locator("#resources tbody tr").first
    assert first.get_attribute("data-name") == "population"
    assert "人口基础信息" in first.inner_text()
    screenshot(page, "catalog-search")
    first.locator("td.title a").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#entry-title").inner_text() == "人口基础信息"
    assert page.locator("#entry-code").inner_text().startswith("101001/")
    screenshot(page, "catalog-entry")


def test_officer_registers_and_bureau_publishes(page, live_server, screenshot):
    sign_in(page, live_server, "officer")
    page.goto(live_server + "/workspace/catalog/new")
    page.fill("#title", "社区警务室信息")
    page.fill("#name", "police_stations")
    page.select_option("#classification", "307007")
    page.fill("#abstract", "全市社区警务室的名称、地址、责任民警和服务时间，用于便民服务和网格联动。")
    page.select_option("#update_cycle", "quarterly")
    rows = page.locator("#items tbody tr")
    rows.nth(0).locator("input[name$='-name']").fill("警务室名称")
    for name in ("地址", "责任民警"):
        before = rows.count()
        page.click("#add-item")  # HTMX fetches a new row
        page.wait_for_function(f"document.querySelectorAll('#items tbody tr').length > {before}")
        rows.last.locator("input[name$='-name']").fill(name)
    rows.last.locator("select[name$='-sensitivity']").select_option("L2")
    rows.last.locator("input[type=checkbox]").check()
    page.fill("#share_conditions", "向公安、民政和属地区镇共享。")
    page.check("input[name=share_methods][value=api]")
    screenshot(page, "catalog-register-form")
    page.click("#save")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/workspace/catalog/resources/police_stations")
    assert page.locator("#entry-title").inner_text() == "社区警务室信息"
    assert page.locator("#items tbody tr").count() == 3
    page.click("#submit")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-status=submitted]").count() >= 1

    sign_in(page, live_server, "admin")
    page.goto(live_server + "/workspace/catalog/review")
    card = page.locator(".review-card[data-name=police_stations]")
    assert "社区警务室信息" in card.inner_text()
    screenshot(page, "catalog-review")
    card.locator("input[name=note]").first.fill("同意发布")
    card.locator("button.publish").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".review-card[data-name=police_stations]").count() == 0
    page.goto(live_server + "/workspace/catalog/resources/police_stations")
    assert page.locator("#entry-code").inner_text().startswith("307007/")


def test_dashboard_draws_its_charts(page, live_server, screenshot):
    sign_in(page, live_server, "leader")
    page.goto(live_server + "/workspace/catalog/dashboard")
    for chart in ("departments", "classes", "share", "open", "cycle"):
        page.wait_for_selector(f"#chart-{chart}[data-ready='1'] canvas", timeout=15000)
    assert "已挂载数据资源与信息资源目录比率" in page.locator("#indicator-mount_rate").inner_text()
    screenshot(page, "catalog-dashboard")
