"""The event center in a real browser: the dispatcher's map, a case, the citizen's report and status
pages (on a phone-sized screen), the grid worker's mobile report, statistics and the overdue view."""

import re

import pytest

pytestmark = pytest.mark.browser
PASSWORD = "Kunshan@2026"


def sign_in(page, base, username):
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_dispatcher_workbench_map_and_case(page, live_server, screenshot):
    sign_in(page, live_server, "dispatcher")
    seen = []
    page.on("response", lambda r: seen.append(f"{r.status} {r.url}") if "/api/" in r.url else None)
    page.goto(live_server + "/workspace/events")
    try:
        page.wait_for_selector("#case-map[data-ready='1']", timeout=45000)
    except Exception as exc:
        state = page.evaluate("() => JSON.stringify(document.getElementById('case-map').dataset)")
        raise AssertionError(f"map not drawn: {state} {seen}") from exc
    assert int(page.locator("#case-map").get_attribute("data-points")) > 10
    assert page.locator("#counters .stat").count() == 6
    assert page.locator("#cases tbody tr").count() >= 10
    screenshot(page, "events-dispatcher")
    page.locator("#cases tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#case-number").inner_text().isdigit()
    assert page.locator("#timeline li").count() >= 2
    screenshot(page, "events-case")


def test_citizen_reports_on_a_phone_and_follows_the_case(browser, live_server, screenshot):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = ctx.new_page()
    try:
        page.goto(live_server + "/portal/events/report")
        page.wait_for_selector("#pick-map[data-ready='1']", timeout=45000)
        page.fill("#description", "亭林社区3号楼门口下水道堵了，污水都漫到路面上了，味道很大")
        page.fill("#address", "亭林社区3号楼")
        page.fill("#phone", "13912345678")
        screenshot(page, "events-portal-report-mobile")
        page.click("#report-submit")
        page.wait_for_selector("#new-number")
        number = page.locator("#new-number").inner_text()
        assert re.fullmatch(r"\d{16}", number)
        page.click("text=查询办理进度")
        page.fill("#phone", "13912345678")
        page.click("#status-form button[type=submit]")
        page.wait_for_selector("#public-timeline li")
        assert page.locator("#public-status").inner_text() in ("已受理", "立案")
        screenshot(page, "events-status-mobile")
    finally:
        ctx.close()


def test_grid_worker_mobile_report_page(browser, live_server, screenshot):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = ctx.new_page()
    try:
        sign_in(page, live_server, "grid")
        page.goto(live_server + "/workspace/events/report")
        page.wait_for_selector("#pick-map[data-ready='1']", timeout=45000)
        box = page.locator("#pick-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert page.locator("#lat").input_value() != ""
        screenshot(page, "events-grid-report-mobile")
    finally:
        ctx.close()


def test_statistics_and_overdue_views(page, live_server, screenshot):
    sign_in(page, live_server, "supervisor")
    page.goto(live_server + "/workspace/events/stats")
    for chart in ("chart-month", "chart-category", "chart-town", "chart-source"):
        page.wait_for_selector(f"#{chart}[data-ready='1']", timeout=45000)
    assert "%" in page.locator("#kpis").inner_text()
    screenshot(page, "events-stats")
    page.goto(live_server + "/workspace/events/overdue")
    assert int(page.locator("#overdue-count").inner_text()) >= 0
    screenshot(page, "events-overdue")
