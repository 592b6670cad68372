"""The worklist page in headless Chromium (Debian's package), against a running sla-monitor: the
page shows sla-monitor's worklist row for row, with each contact's reference, owner, due time in
London time and status in words; its filters are a real form kept in the URL and work from the
keyboard; it refreshes itself; axe-core finds no serious or critical problem; a screenshot is
saved. sla-monitor runs in this process on a clock the test sets (Wednesday 3 June 2026, 10:00).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Page, async_playwright

from contact_common.bus.kafka import create_producer
from contact_common.events import Channel
from contact_devtools.testing import running_service
from sla_monitor.config import Settings as SlaSettings
from sla_monitor.main import create_app as create_sla_monitor
from sla_monitor.timekeeping import FakeClock

REPOSITORY = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPOSITORY / "services" / "sla-monitor" / "tests"))
from upstream_events import Complaint, Enquiry, london, publish, wait_until  # noqa: E402

BROWSER_TOOLS = Path(__file__).resolve().parents[1] / "browser"
AXE = BROWSER_TOOLS / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOT = REPOSITORY / "test-artifacts" / "worklist.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NOW = london(date(2026, 6, 3), time(10))
MON, TUE, WED = date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core from the lock file (`make test-tools` installs it; installed here if not)."""
    if not AXE.exists():
        subprocess.run(["npm", "ci", "--silent"], cwd=BROWSER_TOOLS, check=True, timeout=300)
    return AXE


def _events(area: str) -> tuple[list, Enquiry]:
    late = Enquiry(london(MON, time(10)), area=area, reference="ENQ-2026-000501")
    voicemail = Enquiry(
        london(TUE, time(16)), channel=Channel.voicemail, area=area, reference="ENQ-2026-000502"
    )
    fresh = Enquiry(london(WED, time(9)), area=area, reference="ENQ-2026-000503")
    complaint = Complaint(london(MON, time(11)), area=area, reference="CMP-2026-000077")
    events = [
        late.opened(),
        late.assigned(london(MON, time(11)), "jsmith"),
        voicemail.opened(),
        fresh.opened(),
        fresh.assigned(london(WED, time(9, 30)), "agency:77"),
        complaint.received(),
    ]
    return events, fresh


async def _table(page: Page) -> list[dict[str, str]]:
    return await page.locator("#worklist tbody tr[data-clock-id]").evaluate_all(
        """rows => rows.map(r => ({
            clock_id: r.dataset.clockId,
            status: r.dataset.status,
            contact: r.cells[0].innerText,
            owner: r.cells[3].innerText,
            due: r.cells[4].innerText,
            status_word: r.cells[5].innerText,
        }))"""
    )


async def test_the_worklist_page_shows_the_api_row_for_row(
    metrics_service,
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
    unique_area: str,
    axe_script: Path,
) -> None:
    area = unique_area
    reader = {"Authorization": f"Bearer {issue_api_key('sla:read')}"}
    admin = {"Authorization": f"Bearer {issue_api_key('admin')}"}
    sla_key = issue_api_key("sla:read", name="metrics-api")
    events, fresh = _events(area)
    producer: AIOKafkaProducer = create_producer(kafka_bootstrap, client_id="worklist-page")
    await producer.start()
    try:
        async with (
            running_service(
                lambda settings: create_sla_monitor(settings, clock=FakeClock(NOW)),
                SlaSettings,
                service="sla-monitor",
                database_url=database_url,
                kafka_bootstrap=kafka_bootstrap,
                api_keys_file=api_keys_file,
                consumer_group=f"worklist-page-{uuid.uuid4().hex[:10]}",
            ) as sla,
            httpx.AsyncClient(base_url=sla.url, timeout=30) as sla_client,
        ):
            added = await sla_client.post(
                "/v1/staff",
                headers=admin,
                json={
                    "staff_id": "jsmith",
                    "name": "Jo Smith",
                    "team": "Waste services",
                    "team_email": "waste@council.gov.uk",
                },
            )
            assert added.status_code == 201, added.text
            await publish(producer, events)

            async def api(**params: str) -> dict:
                response = await sla_client.get(
                    "/v1/worklist", params={"service_area": area, **params}, headers=reader
                )
                assert response.status_code == 200, response.text
                return response.json()

            async def arrived() -> bool:
                return (await api())["total"] == 7

            await wait_until(arrived, timeout=60, what="the clocks of the test's contacts")
            async with metrics_service(
                sla_monitor_url=sla.url,
                sla_monitor_api_key=sla_key,
                enquiry_api_url="http://enquiry-api.council.internal",
                dashboard_refresh_seconds=5,
            ) as m:
                await _browse(m.url, area, api, producer, fresh, axe_script)
            metrics_key = issue_api_key("metrics:read")
            async with metrics_service(
                sla_monitor_url=sla.url, sla_monitor_api_key=sla_key, dashboard_public=False
            ) as closed:
                await _closed(closed.url, area, api, metrics_key, reader)
    finally:
        await producer.stop()
    assert SCREENSHOT.stat().st_size > 10_000


async def _browse(url, area, api, producer, fresh, axe_script) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOT.parent.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1000})
            fetched: list[str] = []
            page.on("request", lambda request: fetched.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{url}/dashboard/worklist?service_area={area}")

            await _rows_match_the_api(page, api)
            await _accessible(page, axe_script)
            await _keyboard_and_filters(page, area, api)
            await _refreshes_itself(page, url, area, api, producer, fresh)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            await _dashboard_breaches(page, url, area, api)
            assert not errors, errors
            assert all(u.startswith(url) for u in fetched), fetched
        finally:
            await browser.close()


async def _rows_match_the_api(page: Page, api) -> None:  # type: ignore[no-untyped-def]
    # Row for row what the API answers, in its order.
    expected = (await api())["items"]
    rows = await _table(page)
    assert [r["clock_id"] for r in rows] == [i["clock_id"] for i in expected]
    assert [r["status"] for r in rows] == [i["status"] for i in expected]
    for row, item in zip(rows, expected, strict=True):
        assert row["contact"].startswith(item["reference"])
        due = datetime.fromisoformat(item["due_at"]).astimezone(ZoneInfo("Europe/London"))
        assert row["due"] == due.strftime("%a %-d %b %Y, %H:%M")
        assert row["owner"].startswith(item["assignee_name"] or item["assignee_id"] or "Unassigned")
    first = rows[0]
    assert first["contact"].startswith("ENQ-2026-000501")
    assert first["status_word"].endswith("Breached")
    assert first["owner"].startswith("Jo Smith") and "jsmith" in first["owner"]
    assert first["due"] == "Tue 2 Jun 2026, 17:00"  # the deadline, in London time
    words = {r["status"]: r["status_word"] for r in rows}
    assert words["open"].endswith("On track")
    owners = {r["contact"].split()[0]: r["owner"] for r in rows}
    assert owners["ENQ-2026-000502"] == "Unassigned"
    assert "not in the staff directory" in owners["ENQ-2026-000503"]
    link = page.locator("#worklist tbody a").first
    assert (await link.get_attribute("href")).startswith(
        "http://enquiry-api.council.internal/v1/enquiries/"
    )
    summary = await page.locator("#summary").inner_text()
    assert summary.startswith("7 open commitments") and "Wed 3 Jun 2026, 10:00" in summary


async def _dashboard_breaches(page: Page, url: str, area: str, api) -> None:  # type: ignore[no-untyped-def]
    # The dashboard's open breaches are the worklist's (status=breached), row for row: each
    # names its reference, links to it and names its owner.
    await page.goto(f"{url}/dashboard#service_area={area}")
    await page.wait_for_selector("body[data-loaded]", timeout=30_000)
    expected = (await api(status="breached"))["items"]
    assert expected, "the test's contacts have breaches"
    rows = await page.locator("#breaches tbody tr[data-clock-id]").evaluate_all(
        """rows => rows.map(r => ({
            clock_id: r.dataset.clockId,
            contact: r.cells[1].innerText,
            href: r.cells[1].querySelector("a")?.getAttribute("href") ?? null,
            owner: r.cells[2].innerText,
        }))"""
    )
    assert [r["clock_id"] for r in rows] == [i["clock_id"] for i in expected]
    for row, item in zip(rows, expected, strict=True):
        assert row["contact"] == item["reference"]
        assert row["owner"] == (item["assignee_name"] or item["assignee_id"] or "Unassigned")
        if item["subject_type"] == "enquiry":
            assert row["href"] == (
                f"http://enquiry-api.council.internal/v1/enquiries/{item['subject_id']}"
            )
    late = next(r for r in rows if r["contact"] == "ENQ-2026-000501")
    assert late["owner"] == "Jo Smith" and late["href"]
    async with httpx.AsyncClient(base_url=url) as client:
        data = (await client.get("/dashboard/data", params={"service_area": area})).json()
    assert data["breaches_source"] == "sla-monitor"


async def _accessible(page: Page, axe_script: Path) -> None:
    # axe-core: no serious or critical problem.
    await page.add_script_tag(path=str(axe_script))
    results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious


async def _keyboard_and_filters(page: Page, area: str, api) -> None:  # type: ignore[no-untyped-def]
    # The keyboard: skip link, then the form's fields in order; Enter on a choice sends
    # the form as a GET, so the filters are in the URL.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Dashboard"
    for field in ("service_area", "assignee", "commitment", "status"):
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == field
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    await page.select_option("#status", "breached")  # as the arrow keys would
    await page.focus("#apply")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    query = parse_qs(urlparse(page.url).query)
    assert query["service_area"] == [area] and query["status"] == ["breached"]
    breached = (await api(status="breached"))["items"]
    assert [r["clock_id"] for r in await _table(page)] == [i["clock_id"] for i in breached]
    assert await page.locator("#status").input_value() == "breached"


async def _refreshes_itself(page: Page, url, area, api, producer, fresh) -> None:  # type: ignore[no-untyped-def]
    # It refreshes itself: an acknowledgement arrives, the page drops its clock.
    await page.goto(f"{url}/dashboard/worklist?service_area={area}&due=week")
    before = await _table(page)
    await publish(producer, [fresh.acknowledged(london(WED, time(9, 45)))])
    await page.wait_for_function(
        f"document.querySelectorAll('#worklist tbody tr[data-clock-id]').length"
        f" === {len(before) - 1}",
        timeout=60_000,
    )
    after = await _table(page)
    assert [r["clock_id"] for r in after] == [
        i["clock_id"] for i in (await api(due="week"))["items"]
    ]
    assert "Updated at" in await page.locator("#status-line").inner_text()


async def _closed(url, area, api, metrics_key, reader) -> None:  # type: ignore[no-untyped-def]
    """A closed dashboard: the rows need a metrics:read key, which the page takes from #key=."""
    path = f"/dashboard/worklist?service_area={area}"
    async with httpx.AsyncClient(base_url=url) as client:
        shell = await client.get(path)
        assert shell.status_code == 200 and "needs a metrics:read key" in shell.text
        assert "data-clock-id" not in shell.text
        wrong = await client.get(path, headers={"Authorization": "Bearer cc_000000000000_no"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"] == "application/problem+json"
        assert (await client.get(path, headers=reader)).status_code == 403
        keyed = await client.get(path, headers={"Authorization": f"Bearer {metrics_key}"})
        assert keyed.status_code == 200 and "data-clock-id" in keyed.text
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.goto(f"{url}{path}#key={metrics_key}")
            await page.wait_for_selector("#worklist tbody tr[data-clock-id]", timeout=30_000)
            expected = [i["clock_id"] for i in (await api())["items"]]
            assert [r["clock_id"] for r in await _table(page)] == expected
            # The form keeps the key's fragment: the filtered rows come with it.
            await page.select_option("#status", "breached")
            async with page.expect_navigation():
                await page.click("#apply")
            assert page.url.endswith(f"#key={metrics_key}") and "status=breached" in page.url
            await page.wait_for_selector("#worklist tbody tr[data-clock-id]", timeout=30_000)
            breached = [i["clock_id"] for i in (await api(status="breached"))["items"]]
            assert [r["clock_id"] for r in await _table(page)] == breached
        finally:
            await browser.close()


async def test_the_worklist_page_says_what_is_wrong(metrics_service) -> None:
    async with metrics_service() as m, httpx.AsyncClient(base_url=m.url) as anonymous:
        unconfigured = await anonymous.get("/dashboard/worklist")
        assert unconfigured.status_code == 200
        assert "METRICS_SLA_MONITOR_URL" in unconfigured.text
        assert 'role="alert"' in unconfigured.text
        bad = await anonymous.get("/dashboard/worklist", params={"status": "late"})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert "query.status" in bad.text
    async with (
        metrics_service(sla_monitor_url="http://127.0.0.1:9", sla_monitor_api_key="cc_x_y") as m,
        httpx.AsyncClient(base_url=m.url) as anonymous,
    ):
        down = await anonymous.get("/dashboard/worklist", params={"service_area": "waste"})
        assert down.status_code == 503 and "sla-monitor did not answer" in down.text
        # The filters stay in the form, so a retry keeps them.
        assert '<option value="waste" selected>' in down.text
