"""The loader's handling of answers: retries a 5xx, counts a 4xx with its problem, stops early."""

from __future__ import annotations

import json
from itertools import count

import httpx
import pytest

from contactctl.demo import DemoYear, Enquiry
from contactctl.loader import LoadAborted, Loader


def _enquiries(n: int) -> list[Enquiry]:
    found = [c for c in DemoYear(scale=0.2, seed=1, fraction=0.05) if isinstance(c, Enquiry)]
    assert len(found) >= n
    return found[:n]


async def test_a_5xx_is_tried_again_and_steps_follow_in_order() -> None:
    calls = count()
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/v1/enquiries" and next(calls) == 0:
            return httpx.Response(503, json={"detail": "database busy"})
        if request.url.path == "/v1/enquiries":
            return httpx.Response(201, json={"id": "e1"})
        return httpx.Response(200, json={})

    [enquiry] = _enquiries(1)
    loader = Loader(
        enquiry_url="http://enquiry",
        complaints_url="http://complaints",
        api_key="k",
        retry_delay=0.001,
        transport=httpx.MockTransport(answer),
    )
    report = await loader.run([enquiry])
    assert report.retries == 1 and report.failures == 0
    assert report.enquiries_created == 1
    assert seen[:2] == ["/v1/enquiries", "/v1/enquiries"]
    assert seen[2:] == [f"/v1/enquiries/e1/{step.action}" for step in enquiry.steps] + (
        ["/v1/feedback"] if enquiry.feedback else []
    )


async def test_4xx_answers_are_counted_with_their_problem_and_stop_the_load() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["received_at"]
        return httpx.Response(
            422,
            json={
                "detail": "These fields are not valid: service_area",
                "errors": [{"field": "service_area", "message": "not a service area here"}],
            },
        )

    loader = Loader(
        enquiry_url="http://enquiry",
        complaints_url="http://complaints",
        api_key="k",
        concurrency=2,
        transport=httpx.MockTransport(answer),
    )
    with pytest.raises(LoadAborted) as stopped:
        await loader.run(_enquiries(40))
    report = stopped.value.report
    assert 10 < report.failures < 40  # stopped early, not after every contact
    assert report.retries == 0
    assert sum(report.problems.values()) == report.failures
    for problem in report.problems:
        assert "422" in problem and "service_area: not a service area here" in problem
