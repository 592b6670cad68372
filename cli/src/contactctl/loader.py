"""Sends demo contacts through the real APIs: batches where the API takes them, each contact's
lifecycle steps in order at their own times, a bounded number of requests in flight.

A 5xx answer or a broken connection is tried again a few times; a 4xx answer is a failure,
counted and reported with its problem detail. More than 1% failures stops the load.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import httpx

from contactctl.demo import Call, Complaint, Contact, Enquiry, StandbyCall, Step, Visit

VISIT_BATCH = 500
STANDBY_BATCH = 500


class LoadAborted(RuntimeError):
    """Too many requests failed; the load stopped early."""

    def __init__(self, report: LoadReport) -> None:
        super().__init__(f"stopped after {report.failures} failed requests of {report.requests}")
        self.report = report


@dataclass
class LoadReport:
    """What a load sent, what the APIs recorded, and how fast."""

    contacts: int = 0
    requests: int = 0
    failures: int = 0
    retries: int = 0
    calls_created: int = 0
    visits_created: int = 0
    standby_created: int = 0
    enquiries_created: int = 0
    complaints_created: int = 0
    feedback_created: int = 0
    steps_done: int = 0
    skipped_in_future: int = 0
    seconds: float = 0.0
    problems: Counter[str] = field(default_factory=Counter)

    @property
    def failure_rate(self) -> float:
        """Failed requests / requests sent."""
        return self.failures / self.requests if self.requests else 0.0

    @property
    def contacts_per_second(self) -> float:
        """Contacts loaded per second."""
        return self.contacts / self.seconds if self.seconds else 0.0

    @property
    def requests_per_second(self) -> float:
        """Requests sent per second."""
        return self.requests / self.seconds if self.seconds else 0.0


class Loader:
    """Loads contacts into enquiry-api and complaints-api."""

    def __init__(
        self,
        *,
        enquiry_url: str,
        complaints_url: str,
        api_key: str,
        concurrency: int = 16,
        call_batch: int = 1000,
        attempts: int = 4,
        retry_delay: float = 0.5,
        max_failure_rate: float = 0.01,
        now: datetime | None = None,
        on_progress: Callable[[int], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.transport = transport
        self.enquiry_url = enquiry_url.rstrip("/")
        self.complaints_url = complaints_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.concurrency = concurrency
        self.call_batch = call_batch
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.max_failure_rate = max_failure_rate
        self.now = now or datetime.now(UTC)
        self.on_progress = on_progress or (lambda _: None)
        self.report = LoadReport()
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        # (record body, whether the contact still needs counting once posted)
        self._calls: list[tuple[dict[str, Any], bool]] = []
        self._visits: list[tuple[dict[str, Any], bool]] = []
        self._standby: list[StandbyCall] = []

    # -- running --------------------------------------------------------------------------

    async def run(self, contacts: Iterable[Contact]) -> LoadReport:
        """Sends every contact; LoadAborted if more than the allowed share of requests fail."""
        started = time.monotonic()
        limits = httpx.Limits(max_connections=self.concurrency * 2)
        async with httpx.AsyncClient(
            timeout=60.0, limits=limits, transport=self.transport
        ) as client:
            self._client = client
            try:
                for contact in contacts:
                    if self._too_many_failures():
                        break
                    if contact.starts_at > self.now:
                        self.report.skipped_in_future += 1
                        continue
                    await self._dispatch(contact)
                    await self._flush(full_only=True)
                while self._tasks or self._calls or self._visits or self._standby:
                    if self._tasks:
                        await asyncio.wait(set(self._tasks))
                    await self._flush(full_only=False)
            finally:
                if self._tasks:
                    await asyncio.wait(set(self._tasks))
                self.report.seconds = time.monotonic() - started
        if self._too_many_failures() or self.report.failure_rate > self.max_failure_rate:
            raise LoadAborted(self.report)
        return self.report

    def _too_many_failures(self) -> bool:
        allowed = max(10.0, self.max_failure_rate * self.report.requests)
        return self.report.failures > allowed

    async def _spawn(self, work: Awaitable[None]) -> None:
        await self._slots.acquire()

        async def run() -> None:
            try:
                await work
            finally:
                self._slots.release()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _done(self, count: int = 1) -> None:
        self.report.contacts += count
        self.on_progress(count)

    async def _dispatch(self, contact: Contact) -> None:
        match contact:
            case Call(enquiry=None):
                self._calls.append((contact.body(), True))
            case Call():
                await self._spawn(self._call_with_enquiry(contact))
            case Visit(enquiry=None):
                self._visits.append((contact.body(), True))
            case Visit():
                await self._spawn(self._visit_with_enquiry(contact))
            case StandbyCall():
                self._standby.append(contact)
            case Enquiry():
                await self._spawn(self._enquiry_task(contact))
            case Complaint():
                await self._spawn(self._complaint(contact))

    async def _flush(self, *, full_only: bool) -> None:
        if self._calls and (not full_only or len(self._calls) >= self.call_batch):
            batch, self._calls = self._calls[: self.call_batch], self._calls[self.call_batch :]
            await self._spawn(self._post_batch("/v1/calls", batch, "calls_created"))
        if self._visits and (not full_only or len(self._visits) >= VISIT_BATCH):
            batch, self._visits = self._visits[:VISIT_BATCH], self._visits[VISIT_BATCH:]
            await self._spawn(self._post_batch("/v1/visits", batch, "visits_created"))
        if self._standby and (not full_only or len(self._standby) >= STANDBY_BATCH):
            records, self._standby = self._standby[:STANDBY_BATCH], self._standby[STANDBY_BATCH:]
            await self._spawn(self._standby_batch(records))

    # -- requests -------------------------------------------------------------------------

    async def _post(self, url: str, body: Any, what: str) -> dict[str, Any] | None:
        """POSTs, retrying 5xx and broken connections; None (a counted failure) otherwise."""
        assert self._client is not None
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                self.report.retries += 1
                await asyncio.sleep(self.retry_delay * 2 ** (attempt - 1))
            try:
                response = await self._client.post(url, json=body, headers=self.headers)
            except httpx.TransportError as exc:
                problem = f"connection: {exc!r}"
                continue
            self.report.requests += 1
            if response.status_code < 400:
                return cast(dict[str, Any], response.json())
            if response.status_code == 409 and attempt:
                return {}  # an earlier attempt landed before its answer was lost
            problem = f"{response.status_code} {_detail(response)}"
            if response.status_code < 500 and response.status_code != 429:
                break
        self.report.failures += 1
        self.report.problems[f"{what}: {problem}"] += 1
        return None

    async def _steps(self, base: str, steps: Iterable[Step], what: str) -> bool:
        """Each step in order; stops at the first that fails or lies in the future."""
        for step in steps:
            if step.at > self.now:
                self.report.skipped_in_future += 1
                return True
            answer = await self._post(f"{base}/{step.action}", step.body(), f"{what}/{step.action}")
            if answer is None:
                return False
            self.report.steps_done += 1
        return True

    async def _open_enquiry(self, enquiry: Enquiry) -> str | None:
        created = await self._post(
            f"{self.enquiry_url}/v1/enquiries", enquiry.body(), f"enquiry {enquiry.channel}"
        )
        if created is None:
            return None
        self.report.enquiries_created += 1
        enquiry_id = str(created["id"])
        base = f"{self.enquiry_url}/v1/enquiries/{enquiry_id}"
        if await self._steps(base, enquiry.steps, "enquiry") and enquiry.feedback:
            if enquiry.feedback.submitted_at > self.now:
                self.report.skipped_in_future += 1
            else:
                body = enquiry.feedback.body(enquiry_id)
                if await self._post(f"{self.enquiry_url}/v1/feedback", body, "feedback"):
                    self.report.feedback_created += 1
        return enquiry_id

    async def _enquiry_task(self, enquiry: Enquiry) -> None:
        await self._open_enquiry(enquiry)
        self._done()

    async def _call_with_enquiry(self, call: Call) -> None:
        assert call.enquiry is not None
        enquiry_id = await self._open_enquiry(call.enquiry)
        self._calls.append((call.body(enquiry_id), False))
        self._done()

    async def _visit_with_enquiry(self, visit: Visit) -> None:
        assert visit.enquiry is not None
        enquiry_id = await self._open_enquiry(visit.enquiry)
        self._visits.append((visit.body(enquiry_id), False))
        self._done()

    async def _post_batch(
        self, path: str, batch: list[tuple[dict[str, Any], bool]], counter: str
    ) -> None:
        result = await self._post(f"{self.enquiry_url}{path}", [body for body, _ in batch], path)
        if result is not None:
            created = sum(1 for r in result.get("results", []) if r["status"] != "duplicate")
            setattr(self.report, counter, getattr(self.report, counter) + created)
        self._done(sum(1 for _, count in batch if count))

    async def _standby_batch(self, records: list[StandbyCall]) -> None:
        result = await self._post(
            f"{self.enquiry_url}/v1/standby/call-records",
            [record.body() for record in records],
            "standby batch",
        )
        if result is not None:
            self.report.standby_created += result.get("created", 0)
            for record, outcome in zip(records, result["results"], strict=True):
                if outcome["status"] == "rejected":
                    self.report.failures += 1
                    self.report.problems[f"standby record: {outcome.get('errors')}"] += 1
                elif outcome.get("enquiry_id") and outcome["status"] == "created":
                    self.report.enquiries_created += 1
                    base = f"{self.enquiry_url}/v1/enquiries/{outcome['enquiry_id']}"
                    await self._steps(base, record.follow_up, "standby follow-up")
        self._done(len(records))

    async def _complaint(self, complaint: Complaint) -> None:
        created = await self._post(
            f"{self.complaints_url}/v1/complaints", complaint.body(), "complaint"
        )
        if created is not None:
            self.report.complaints_created += 1
            base = f"{self.complaints_url}/v1/complaints/{created['id']}"
            await self._steps(base, complaint.steps, "complaint")
        self._done()


def _detail(response: httpx.Response) -> str:
    """The problem's detail (and the fields it names), or the start of the body."""
    try:
        problem = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(problem, dict):
        return str(problem)[:200]
    detail = str(problem.get("detail") or problem.get("title") or "")
    errors = problem.get("errors")
    if errors:
        detail += " " + "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors[:3])
    return detail[:300]


async def load(
    contacts: Iterable[Contact],
    *,
    enquiry_url: str,
    complaints_url: str,
    api_key: str,
    concurrency: int = 16,
    call_batch: int = 1000,
    now: datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> LoadReport:
    """Sends `contacts` through the APIs; the report says what was recorded and how fast."""
    loader = Loader(
        enquiry_url=enquiry_url,
        complaints_url=complaints_url,
        api_key=api_key,
        concurrency=concurrency,
        call_batch=call_batch,
        now=now,
        on_progress=on_progress,
    )
    return await loader.run(contacts)
