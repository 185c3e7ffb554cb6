"""Governance in a real browser: upload with progress, quality trend, quarantine fixes, lineage, k-anonymity."""

import pytest

from yiwang.governance.bench import synth

pytestmark = pytest.mark.browser
PASSWORD = "Kunshan@2026"


def wait_for_demo_loads(page, base):
    """The first start queues the demo loads; the server's load worker runs them in the background."""
    for _ in range(120):
        page.goto(base + "/workspace/lake")
        rows = page.locator("#lake-resources tr[data-name=population], #lake-resources tr[data-name=enterprise]")
        if all("已挂载" in rows.nth(i).inner_text() for i in range(rows.count())):
            return
        page.wait_for_timeout(500)
    raise AssertionError("the demo loads did not commit within a minute")


def sign_in(page, base, username):
    page.context.clear_cookies()
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_upload_quality_and_quarantine(page, live_server, screenshot, tmp_path):
    upload = synth.write_population_csv(tmp_path / "户籍人口-2026年11月.csv", 20_000, seed=77).path
    sign_in(page, live_server, "officer")
    wait_for_demo_loads(page, live_server)
    page.goto(live_server + "/workspace/governance?resource=population")
    page.select_option("#upload-resource", "population")
    page.set_input_files("#upload-file", str(upload))
    page.select_option("#upload-mode", "upsert")
    page.click("#upload-submit")
    page.wait_for_selector("#load-result", timeout=90_000)
    assert "隔离" in page.locator("#load-result").inner_text()
    screenshot(page, "governance-upload-done")
    page.goto(live_server + "/workspace/governance/population")
    page.wait_for_selector("#quality-trend canvas")
    assert page.locator("#loads tbody tr").count() >= 2
    screenshot(page, "governance-quality-trend")
    page.locator("#loads tbody tr").first.locator("a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#by-rule tbody tr").count() >= 3
    screenshot(page, "governance-load-detail")
    page.locator("#by-rule tbody tr").first.locator("a").click()
    page.wait_for_load_state("networkidle")
    page.fill("#quarantine-filter input[name=reason]", "修正11月户籍数据")
    page.click("#quarantine-filter button[type=submit]")
    page.wait_for_load_state("networkidle")
    first = page.locator("#quarantine tbody tr").first
    assert first.locator("input.fix").count() >= 1
    first.locator("input.fix").first.fill("13912345678")
    first.locator("button[value=fix]").click()
    page.wait_for_selector("#quarantine tbody tr >> nth=0 >> [data-fix]")
    screenshot(page, "governance-quarantine")
    page.click("#resubmit")
    page.wait_for_load_state("networkidle")
    assert "/workspace/governance/loads/" in page.url
    page.wait_for_selector("[data-status=committed], [data-status=failed]", timeout=60_000)


def test_lineage_graph_and_k_anonymity(page, live_server, screenshot):
    sign_in(page, live_server, "admin")
    wait_for_demo_loads(page, live_server)
    page.goto(live_server + "/workspace/governance/lineage?resource=population")
    page.wait_for_selector("#lineage-graph canvas")
    assert page.locator("#lineage-events tbody tr").count() >= 2
    screenshot(page, "governance-lineage")
    page.goto(live_server + "/workspace/governance/population/privacy")
    page.click("#kanon-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert int(page.locator("#kanon-k").inner_text()) >= 1
    screenshot(page, "governance-k-anonymity")
