"""Idempotency-Key over real HTTP and PostgreSQL: retries, reuse, races, restarts and expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contact_common.db import create_engine, create_session_factory
from contact_common.idempotency import IdempotencyStore, KeyScope, fingerprint
from contact_devtools.testing import LiveServer, running_service
from enquiry_api.config import Settings
from enquiry_api.enquiries.models import Enquiry
from enquiry_api.feedback.models import Feedback
from enquiry_api.main import create_app
from enquiry_api.models import idempotency_key

Body = Callable[..., dict[str, Any]]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test's database, to look at what the service stored."""
    engine = create_engine(database_url, schema="enquiry")
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def enquiries_stored(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Enquiry))).scalar_one())


async def keys_stored(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        statement = select(func.count()).select_from(idempotency_key)
        return int((await session.execute(statement)).scalar_one())


def same_answer(first: httpx.Response, again: httpx.Response) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers.get("location") == first.headers.get("location")
    assert again.headers["content-type"] == first.headers["content-type"]


async def test_a_retry_with_the_same_key_answers_the_first_answer_and_opens_one_enquiry(
    admin: httpx.AsyncClient, body_of: Body, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key = {"Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}
    first = await admin.post("/v1/enquiries", json=body_of(), headers=key)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/v1/enquiries/{first.json()['id']}"
    # The same body, its keys in another order and spaced otherwise: the same request.
    reordered = dict(reversed(list(body_of().items())))
    for again in (
        await admin.post("/v1/enquiries", json=body_of(), headers=key),
        await admin.post("/v1/enquiries", json=reordered, headers=key),
    ):
        same_answer(first, again)
        assert again.headers["idempotent-replayed"] == "true"
    assert await enquiries_stored(sessions) == 1
    # Without a key every POST is a new enquiry, as before.
    assert (await admin.post("/v1/enquiries", json=body_of())).status_code == 201
    assert await enquiries_stored(sessions) == 2


async def test_the_same_key_with_another_body_is_a_422_problem(
    admin: httpx.AsyncClient, body_of: Body, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key = {"Idempotency-Key": "order-7"}
    assert (await admin.post("/v1/enquiries", json=body_of(), headers=key)).status_code == 201
    other = await admin.post("/v1/enquiries", json=body_of(channel="letter"), headers=key)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert "order-7" in other.json()["detail"]
    assert await enquiries_stored(sessions) == 1


async def test_keys_are_per_api_key_and_per_path(
    client_for: Callable[..., httpx.AsyncClient],
    body_of: Body,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = {"Idempotency-Key": "shared-key"}
    async with client_for("enquiries:write") as one, client_for("enquiries:write") as two:
        first = await one.post("/v1/enquiries", json=body_of(), headers=key)
        second = await two.post("/v1/enquiries", json=body_of(), headers=key)
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.json()["id"] != second.json()["id"]
        step = await one.post(f"/v1/enquiries/{first.json()['id']}/acknowledge", headers=key)
        assert step.status_code == 200, step.text
    assert await enquiries_stored(sessions) == 2


async def test_a_failed_request_keeps_nothing_so_the_key_can_be_used_again(
    admin: httpx.AsyncClient, body_of: Body, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key = {"Idempotency-Key": "fix-and-resend"}
    invalid = await admin.post("/v1/enquiries", json=body_of(channel="pigeon"), headers=key)
    assert invalid.status_code == 422
    assert invalid.json()["type"].endswith("/validation")
    unknown_area = await admin.post("/v1/enquiries", json=body_of(service_area="moon"), headers=key)
    assert unknown_area.status_code == 422
    assert await keys_stored(sessions) == 0
    fixed = await admin.post("/v1/enquiries", json=body_of(), headers=key)
    assert fixed.status_code == 201, fixed.text
    assert await enquiries_stored(sessions) == 1


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("x" * 256, "at most 255"),
        ('""', "empty"),
        ("caf\u00e9", "printable ASCII"),
    ],
)
async def test_a_key_that_is_not_1_to_255_printable_characters_is_a_400_problem(
    admin: httpx.AsyncClient, body_of: Body, header: str, problem: str
) -> None:
    response = await admin.post(
        "/v1/enquiries",
        json=body_of(),
        headers=[("Idempotency-Key", header.encode("utf-8"))],  # type: ignore[list-item]
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("/idempotency-key-invalid")
    assert problem in response.json()["detail"]


async def test_two_concurrent_requests_with_one_key_open_one_enquiry(
    admin: httpx.AsyncClient, body_of: Body, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for round_ in range(5):
        key = {"Idempotency-Key": f"race-{round_}"}
        answers = await asyncio.gather(
            admin.post("/v1/enquiries", json=body_of(), headers=key),
            admin.post("/v1/enquiries", json=body_of(), headers=key),
        )
        created = [a for a in answers if a.status_code == 201]
        assert created, [a.text for a in answers]
        for answer in answers:
            if answer.status_code == 409:
                assert answer.json()["type"].endswith("/idempotency-key-in-flight")
                assert answer.headers["retry-after"] == "1"
            else:
                same_answer(created[0], answer)
        assert await enquiries_stored(sessions) == round_ + 1


async def test_a_key_in_flight_is_409_until_its_lease_runs_out(
    admin: httpx.AsyncClient,
    body_of: Body,
    sessions: async_sessionmaker[AsyncSession],
    issue_api_key: Callable[..., str],
    enquiry_api: LiveServer,
) -> None:
    token = issue_api_key("enquiries:write", name="crashing-client")
    key_id = token.split("_")[1]
    store = IdempotencyStore(idempotency_key, lease=timedelta(seconds=60))
    now = datetime.now(UTC)
    body = body_of()
    # A request that claimed its key and is still being served (or whose process died).
    for name, claimed_at in (("served-now", now), ("died-long-ago", now - timedelta(minutes=5))):
        scope = KeyScope(key_id, "POST", "/v1/enquiries", name)
        await store.claim(sessions, scope=scope, fingerprint=fingerprint(body), now=claimed_at)

    async with httpx.AsyncClient(
        base_url=enquiry_api.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        busy = await client.post(
            "/v1/enquiries", json=body, headers={"Idempotency-Key": "served-now"}
        )
        assert busy.status_code == 409
        assert busy.json()["type"].endswith("/idempotency-key-in-flight")
        taken = await client.post(
            "/v1/enquiries", json=body, headers={"Idempotency-Key": "died-long-ago"}
        )
        assert taken.status_code == 201, taken.text
        again = await client.post(
            "/v1/enquiries", json=body, headers={"Idempotency-Key": "died-long-ago"}
        )
        same_answer(taken, again)
    assert await enquiries_stored(sessions) == 1


async def test_a_restart_between_a_request_and_its_retry_changes_nothing(
    database_url: str,
    kafka_bootstrap: str,
    api_keys_file: Path,
    issue_api_key: Callable[..., str],
    body_of: Body,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    auth = {"Authorization": f"Bearer {issue_api_key('enquiries:write', name='web')}"}
    key = {**auth, "Idempotency-Key": "before-the-restart"}
    answers = []
    for _ in range(2):  # two instances of the service, one after the other, on one database
        async with (
            running_service(
                create_app,
                Settings,
                service="enquiry-api",
                database_url=database_url,
                kafka_bootstrap=kafka_bootstrap,
                api_keys_file=api_keys_file,
            ) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        ):
            answers.append(await client.post("/v1/enquiries", json=body_of(), headers=key))
    assert answers[0].status_code == 201, answers[0].text
    same_answer(answers[0], answers[1])
    assert await enquiries_stored(sessions) == 1


async def test_keys_older_than_the_retention_are_purged_and_may_be_used_again(
    admin: httpx.AsyncClient, body_of: Body, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key = {"Idempotency-Key": "two-days"}
    first = await admin.post("/v1/enquiries", json=body_of(), headers=key)
    assert first.status_code == 201
    store = IdempotencyStore(idempotency_key, retention=timedelta(hours=48))
    now = datetime.now(UTC)
    # A day later the key is kept; two days and a second later it is gone.
    assert await store.purge(sessions, now=now + timedelta(hours=24)) == 0
    assert await keys_stored(sessions) == 1
    assert await store.purge(sessions, now=now + timedelta(hours=48, seconds=1)) == 1
    assert await keys_stored(sessions) == 0
    second = await admin.post("/v1/enquiries", json=body_of(), headers=key)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert await enquiries_stored(sessions) == 2


async def test_a_retried_step_answers_its_first_answer_instead_of_a_409(
    admin: httpx.AsyncClient, new_enquiry: Callable[..., Any]
) -> None:
    enquiry = await new_enquiry()
    url = f"/v1/enquiries/{enquiry['id']}"
    for action, body in (
        ("acknowledge", None),
        ("assign", {"service_area": "housing", "assignee_id": "officer-17"}),
        ("respond", {"officer_id": "officer-17"}),
        ("resolve", {"first_point": False}),
        ("reopen", {}),
    ):
        key = {"Idempotency-Key": f"{action}-1"}
        first = await admin.post(f"{url}/{action}", json=body, headers=key)
        assert first.status_code == 200, first.text
        again = await admin.post(f"{url}/{action}", json=body, headers=key)
        same_answer(first, again)
        # Without the key the retry is what it always was: a step not allowed twice.
        if action in ("acknowledge", "resolve", "reopen"):
            assert (await admin.post(f"{url}/{action}", json=body)).status_code == 409
    history = (await admin.get(url)).json()["history"]
    assert [h["action"] for h in history] == [
        "opened",
        "acknowledged",
        "assigned",
        "responded",
        "resolved",
        "reopened",
    ]


async def test_the_history_names_the_officer_of_each_step(
    admin: httpx.AsyncClient, body_of: Body
) -> None:
    created = await admin.post("/v1/enquiries", json=body_of(officer_id="cc-agent-4"))
    assert created.status_code == 201, created.text
    url = f"/v1/enquiries/{created.json()['id']}"
    assert (await admin.post(f"{url}/acknowledge", json={"officer_id": "cc-agent-4"})).is_success
    assigned = await admin.post(
        f"{url}/assign", json={"assignee_id": "o-9", "officer_id": "lead-2"}
    )
    assert assigned.is_success
    assert (await admin.post(f"{url}/respond", json={})).is_success
    refused = await admin.post(f"{url}/resolve", json={"officer_id": "not an id!"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.officer_id"
    history = (await admin.get(url)).json()["history"]
    assert [(h["action"], h["officer_id"], h["actor_name"]) for h in history] == [
        ("opened", "cc-agent-4", "contact-centre"),
        ("acknowledged", "cc-agent-4", "contact-centre"),
        ("assigned", "lead-2", "contact-centre"),
        ("responded", None, "contact-centre"),
    ]


def _service_request_id(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    element = ElementTree.fromstring(answer.text).find("request/service_request_id")
    assert element is not None and element.text
    return element.text


async def test_open311_resends_under_the_senders_report_id_open_one_enquiry(
    enquiry_api: LiveServer,
    issue_api_key: Callable[..., str],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = issue_api_key("enquiries:write", name="fixmystreet")
    form = {
        "api_key": key,
        "service_code": "missed_bin",
        "description": "Food bin not emptied",
        "lat": "51.5072",
        "long": "-0.1276",
        "email": "ada.lovelace@example.org",
        "attribute[bin_type]": "food",
        "attribute[external_id]": "4242",
    }
    async with httpx.AsyncClient(base_url=f"{enquiry_api.url}/open311/v2", timeout=30) as fms:
        first = _service_request_id(await fms.post("/requests.xml", data=form))
        assert _service_request_id(await fms.post("/requests.xml", data=form)) == first
        as_json = await fms.post("/requests.json", data=form)
        assert as_json.json()[0]["service_request_id"] == first
        # Another report under the same id: the spec's error format, 422.
        other = await fms.post("/requests.json", data={**form, "description": "Another"})
        assert other.status_code == 422
        assert "different request body" in other.json()[0]["description"]
        # The header wins over the report's id; a report without either is new every time.
        by_header = await fms.post(
            "/requests.xml", data={**form, "description": "x"}, headers={"Idempotency-Key": "k1"}
        )
        assert _service_request_id(by_header) != first
        bare = {k: v for k, v in form.items() if k != "attribute[external_id]"}
        assert _service_request_id(await fms.post("/requests.xml", data=bare)) != first
        bad = await fms.post("/requests.json", data=form, headers={"Idempotency-Key": '""'})
        assert bad.status_code == 400
    assert await enquiries_stored(sessions) == 3


async def test_a_retried_score_without_a_response_id_is_recorded_once(
    admin: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    score = {"score": 4, "channel": "web_form", "service_area": "waste"}
    key = {"Idempotency-Key": "survey-page-submit-1"}
    first = await admin.post("/v1/feedback", json=score, headers=key)
    assert first.status_code == 201, first.text
    same_answer(first, await admin.post("/v1/feedback", json=score, headers=key))
    other = await admin.post("/v1/feedback", json={**score, "score": 5}, headers=key)
    assert other.status_code == 422
    # Without the key, the same score is another score, as before.
    assert (await admin.post("/v1/feedback", json=score)).status_code == 201
    async with sessions() as session:
        stored = await session.execute(select(func.count()).select_from(Feedback))
        assert stored.scalar_one() == 2
