"""The three ends in a real browser."""

import pytest

pytestmark = pytest.mark.browser
PASSWORD = "Kunshan@2026"  # README's default YIWANG_DEMO_PASSWORD


def sign_in(page, base, username):
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_case_handler_sees_staff_workspace(page, live_server, screenshot):
    sign_in(page, live_server, "handler")
    assert page.url.endswith("/workspace")
    assert page.locator("#greeting").inner_text() == "您好，王磊"
    assert page.locator("#my-department").inner_text() == "昆山市城市管理局"
    page.click(".user-menu summary")
    assert "部门案件处置员" in page.locator(".uc-roles").inner_text()
    assert page.locator(".uc-scope").inner_text() == "昆山市城市管理局"
    screenshot(page, "workspace-handler")


def test_wrong_password_stays_on_login_with_message(page, live_server):
    page.goto(live_server + "/login")
    page.fill("#username", "handler")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator(".alert.error").inner_text() == "用户名或密码错误。"


def test_leader_cockpit_draws_map(page, live_server, screenshot):
    sign_in(page, live_server, "leader")
    assert page.url.endswith("/cockpit")
    page.wait_for_selector("#city-map[data-ready='1']", timeout=15000)
    assert page.locator("#city-map canvas").count() >= 1
    screenshot(page, "cockpit-leader")


def test_language_switch_to_english(page, live_server, screenshot):
    sign_in(page, live_server, "citizen")
    page.click("text=English")
    page.wait_for_load_state("networkidle")
    assert "Welcome, 张小明" in page.content()
    screenshot(page, "portal-citizen-en")
