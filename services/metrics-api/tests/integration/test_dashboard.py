"""The dashboard in headless Chromium (Debian's package): the page loads its own script and style
sheet, draws every chart with marks from the data, shows the score card with its status in
words, works from the keyboard, and is saved as a screenshot; financial year 2016-17 is this
test's own."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).parent))
from builders import Clock, Enquiry, abandoned_call, answered_call, feedback, utc, visit  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[4]
SCREENSHOT = REPOSITORY / "test-artifacts" / "dashboard.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _events(area: str) -> list:
    events = []
    for month in (4, 5, 6, 7):
        day = utc(f"2016-{month:02d}-14 10:00")
        for i, wait in enumerate((20, 45, 90 + 30 * month)):
            events += answered_call(day + timedelta(minutes=i), wait, area=area)
        events += abandoned_call(day + timedelta(minutes=9), 30, area=area)
        for channel, count in (("portal", 4 + month), ("email", 3), ("web_form", 2)):
            for i in range(count):
                enquiry = Enquiry(channel, area, day + timedelta(minutes=i))
                events += [
                    enquiry.opened(),
                    enquiry.resolved(day + timedelta(hours=1), first_point=i % 3 != 0),
                ]
        events.append(feedback("portal", 4, day, area=area))
        events += visit(day, 120, area=area)
        clocks = [Clock("email-acknowledge", area, day, day + timedelta(days=1)) for _ in range(4)]
        # April: none of four met, May one, June two, July three.
        events += [clock.met(day + timedelta(hours=3)) for clock in clocks[: month - 4]]
        events += [clock.breached() for clock in clocks[month - 4 :]]
    for month in (4, 5):  # the year before, for the channel shift
        enquiry = Enquiry("portal", area, utc(f"2015-{month:02d}-14 10:00"))
        events.append(enquiry.opened())
    return events


async def test_dashboard_draws_every_panel(metrics_service, unique_area: str) -> None:
    area = unique_area
    targets = {"CX03": {"2016-17": 42.0}, "call-wait-mean": {"2016-17": 90.0}}
    async with metrics_service(targets=targets, dashboard_refresh_seconds=5) as m:
        await m.feed(_events(area))
        async with httpx.AsyncClient(base_url=m.url) as anonymous:
            page_html = await anonymous.get("/dashboard")
            assert page_html.status_code == 200
            assert "http://" not in page_html.text.replace("http://www.w3.org", "")
            assert (
                await anonymous.get("/dashboard/data", params={"period": "2016-17"})
            ).status_code == 200
            data = (await anonymous.get("/dashboard/data", params={"service_area": area})).json()
            assert data["breaches_source"] == "metrics-api"
            assert data["breaches"] and all(b["reference"] is None for b in data["breaches"])
            assert (await anonymous.get("/dashboard/static/dashboard.js")).status_code == 200
            assert (await anonymous.get("/dashboard/static/secrets.py")).status_code == 404

        SCREENSHOT.parent.mkdir(exist_ok=True)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 1400})
                outside: list[str] = []
                page.on(
                    "request",
                    lambda request: (
                        outside.append(request.url) if not request.url.startswith(m.url) else None
                    ),
                )
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(f"{m.url}/dashboard#period=2016-17&service_area={area}")
                await page.wait_for_selector("body[data-loaded='2016-17']", timeout=30_000)

                # The score card: a row per KPI, status in words as well as colour.
                rows = page.locator("#scorecard tbody tr")
                assert await rows.count() == 10
                cx03 = page.locator("#scorecard tr[data-kpi='CX03']")
                # Portal 8+9+10+11 = 38 of 38 + 12 email + 8 web form = 58: 65.5%, target 42%.
                assert "65.5%" in await cx03.inner_text()
                assert await cx03.locator(".tag.green").inner_text() == "On target"
                wait_row = await page.locator(
                    "#scorecard tr[data-kpi='call-wait-mean']"
                ).inner_text()
                assert (
                    "Near target" in wait_row or "Off target" in wait_row or "On target" in wait_row
                )

                # Charts: SVG marks drawn from the data, each chart with a title, a description
                # and a table of the same figures.
                sla_bars = page.locator("#sla-chart svg rect.mark")
                assert await sla_bars.count() == 4  # April to July have deadlines
                # April: 0 met of 4; May 1 of 4 (25%); June 2 of 4; July 3 of 4.
                values = sorted(
                    [
                        float(v)
                        for v in await sla_bars.evaluate_all("els => els.map(e => e.dataset.value)")
                    ]
                )
                assert values == [0.0, 25.0, 50.0, 75.0]
                assert await page.locator("#wait-chart svg rect.mark").count() == 4
                assert await page.locator("#wait-chart svg line.target").count() == 1
                assert await page.locator("#channel-chart svg rect.mark").count() == 10
                for chart in ("sla", "wait", "channels"):
                    svg = page.locator(f"svg[aria-labelledby^='{chart}-t']")
                    assert await svg.get_attribute("role") == "img"
                    assert (await page.locator(f"#{chart}-d").text_content() or "").strip()
                assert await page.locator("figure details table").count() == 3
                # Breached with no stop: 4 + 3 + 2 + 1.
                assert await page.locator("#breaches tbody tr").count() == 10
                # No sla-monitor configured: metrics-api's own list, whose events carry no
                # reference or owner; the contact by its type and id, the owner not known.
                owners = await page.locator("#breaches tbody td.owner").all_inner_texts()
                assert owners == ["Not known"] * 10
                contacts = await page.locator("#breaches tbody td.contact").all_inner_texts()
                kinds = {"enquiry", "call", "complaint", "visit"}
                assert contacts and all(c.split()[0] in kinds for c in contacts)

                # The keyboard: the skip link first, then the period, refresh, and the tables.
                await page.keyboard.press("Tab")
                assert await page.evaluate("document.activeElement.className") == "skip"
                await page.keyboard.press("Tab")
                assert await page.evaluate("document.activeElement.id") == "period"
                outline = await page.evaluate(
                    "getComputedStyle(document.activeElement).outlineStyle"
                )
                assert outline == "solid"
                await page.keyboard.press("Tab")
                assert await page.evaluate("document.activeElement.id") == "refresh"
                await page.keyboard.press("Tab")
                assert await page.evaluate("document.activeElement.tagName") == "SUMMARY"
                await page.keyboard.press("Enter")
                assert await page.locator("#sla-chart details[open]").count() == 1

                await page.screenshot(path=str(SCREENSHOT), full_page=True)
                assert not errors, errors
                assert not outside, outside
            finally:
                await browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
