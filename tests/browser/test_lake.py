"""The data lake in a real browser: mounted resources, time travel, the SQL console."""

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


def wait_for_demo_loads(page, base):
    """The first start queues the demo loads; the server's load worker runs them in the background."""
    for _ in range(120):
        page.goto(base + "/workspace/lake")
        rows = page.locator("#lake-resources tr[data-name=population], #lake-resources tr[data-name=enterprise]")
        if all("已挂载" in rows.nth(i).inner_text() for i in range(rows.count())):
            return
        page.wait_for_timeout(500)
    raise AssertionError("the demo loads did not commit within a minute")


def test_lake_overview_time_travel_and_sql(page, live_server, screenshot):
    sign_in(page, live_server, "admin")
    wait_for_demo_loads(page, live_server)
    row = page.locator("#lake-resources tr[data-name=population]")
    assert "已挂载" in row.inner_text()  # the first start's demo load mounted it
    screenshot(page, "lake-overview")
    row.locator("a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#rows tbody tr").count() > 0
    assert "********" in page.locator("#rows tbody").inner_text()  # the share zone is masked
    screenshot(page, "lake-time-travel")
    page.select_option("#time-travel select[name=zone]", "clean")
    page.click("#time-travel button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#reason-needed").is_visible()
    page.fill("#time-travel input[name=reason]", "核对户籍人口演示数据")
    page.click("#time-travel button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "个人数据" in page.locator("#as-of-line").inner_text()
    page.goto(live_server + "/workspace/lake/sql")
    page.fill(
        "#sql",
        "SELECT 所属社区代码, 性别, count(*) AS 人数 FROM share.population GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 12",
    )
    page.click("#sql-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#sql-result tbody tr").count() == 12
    screenshot(page, "lake-sql-console")
    page.fill("#sql", "SELECT *\nFORM share.population")
    page.click("#sql-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "2" in page.locator("#sql-error").inner_text()  # names the line
