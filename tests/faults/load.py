"""A steady stream of contacts through the public APIs, and a record of every answer.

The stream is open-loop: a contact is sent every 1/rate seconds whatever happened to the last,
so a stalled service piles up requests as real clients would. Calls and visits are keyed by
the telephony platform's and kiosk's own ids, so a record whose request failed is sent again
until the API accepts it, as those platforms do; enquiries and complaints are not idempotent,
so a failed one is counted as an unknown outcome (it may or may not have been recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
from stack import OFFICE_DAY, System

S = timedelta(seconds=1)

# Each kind with the sla-monitor clocks it must start (commitment → final status; "pending" for
# working-day targets that cannot fall due during the run). DESIGN.md, "The commitments".
KINDS: dict[str, dict[str, str]] = {
    "call-answered-in-time": {"phone-answer": "met", "phone-wait-max": "met"},
    "call-answered-late": {"phone-answer": "breached", "phone-wait-max": "met"},
    "call-abandoned-late": {"phone-answer": "breached", "phone-wait-max": "excluded"},
    "visit-never-seen": {"reception-attend": "breached"},
    "visit-seen-in-time": {"reception-attend": "met"},
    "email-enquiry": {"email-acknowledge": "pending", "email-respond": "pending"},
    "complaint": {"complaint-acknowledge": "pending", "complaint-respond": "pending"},
}
FIRST_EVENT = {
    "call": "call.offered",
    "visit": "visit.arrived",
    "email": "enquiry.opened",
    "complaint": "complaint.received",
}
READ_PROBES = {
    "enquiry-api": "/v1/enquiries?limit=1",
    "complaints-api": "/v1/complaints?limit=1",
    "sla-monitor": "/v1/breaches?limit=1",
    "metrics-api": f"/v1/sla/compliance?from={OFFICE_DAY}&to={OFFICE_DAY}",
}


@dataclass(eq=False)
class Contact:
    """One contact the stream sends, and what became of it."""

    kind: str
    service: str
    path: str
    body: dict[str, Any]
    idempotent: bool
    subject: UUID | None = None
    accepted: bool = False
    unknown_outcomes: int = 0
    refused: int = 0
    # The stream's own id of the contact: in a call's or visit's id, in an enquiry's or
    # complaint's description, so the services' tables can be searched for what it became.
    key: str = ""
    created: float = 0.0  # when the stream made it, on the event loop's clock

    @property
    def first_event(self) -> str:
        """The event type the contact's first step publishes."""
        return FIRST_EVENT[self.kind.split("-")[0]]

    @property
    def clocks(self) -> dict[str, str]:
        """Commitment → the status its clock must end in."""
        return KINDS[self.kind]


@dataclass(frozen=True)
class Attempt:
    """One HTTP request of the stream or of the read probes."""

    service: str
    sent: float
    done: float
    status: int | None
    error: str | None

    @property
    def failed(self) -> bool:
        """A 5xx, or no answer at all (refused, reset, timed out)."""
        return self.status is None or self.status >= 500


def new_contact(kind: str, system: System) -> Contact:
    """A contact of `kind` dated now on sla-monitor's clock (the office morning)."""
    now = system.office_now()
    key = uuid.uuid4().hex[:20]
    if kind.startswith("call"):
        # The platform posts a call once it is over: offered in the past, answered or abandoned.
        offered = now - 40 * S
        record: dict[str, Any] = {"call_id": f"call-{key}", "offered_at": offered.isoformat()}
        if kind == "call-answered-in-time":
            record["offered_at"] = (now - 20 * S).isoformat()
            record["answered_at"] = (now - 15 * S).isoformat()
        elif kind == "call-answered-late":
            record["answered_at"] = (offered + 30 * S).isoformat()
        else:
            record["abandoned_at"] = (offered + 25 * S).isoformat()
        record["ended_at"] = (now - 2 * S).isoformat()
        return Contact(kind, "enquiry-api", "/v1/calls", record, idempotent=True, key=key)
    if kind.startswith("visit"):
        # Checked in 297 s ago: the 5-minute commitment falls due 3 s from now, so sla-monitor's
        # timer, not an arriving event, must flag the ones never seen.
        arrived = now - 297 * S
        record = {"visit_id": f"visit-{key}", "arrived_at": arrived.isoformat()}
        if kind == "visit-seen-in-time":
            record["attended_at"] = (arrived + 60 * S).isoformat()
        return Contact(kind, "enquiry-api", "/v1/visits", record, idempotent=True, key=key)
    if kind == "email-enquiry":
        body = {
            "channel": "email",
            "service_area": "waste",
            "received_at": now.isoformat(),
            "description": f"The bin was not emptied on collection day. (stream {key})",
        }
        return Contact(kind, "enquiry-api", "/v1/enquiries", body, idempotent=False, key=key)
    body = {
        "channel": "web_form",
        "service_area": "housing",
        "received_at": now.isoformat(),
        "description": f"The repair was promised within a week and nobody came. (stream {key})",
    }
    return Contact(kind, "complaints-api", "/v1/complaints", body, idempotent=False, key=key)


def subject_of(contact: Contact, answer: dict[str, Any]) -> UUID:
    """The contact's id (its events' subject) from the API's answer."""
    if "results" in answer:
        return UUID(answer["results"][0]["id"])
    return UUID(answer["id"])


@dataclass
class Load:
    """The stream: start(), let it run through a fault, then finish()."""

    system: System
    rate: float = 10.0
    contacts: list[Contact] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    client_errors: list[str] = field(default_factory=list)
    _clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _runner: asyncio.Task[None] | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Load:
        """Starts sending."""
        self._clients = {name: self.system.client(name) for name in self.system.services}
        self._runner = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        kinds = itertools.cycle(KINDS)
        interval = 1.0 / self.rate
        next_at = loop.time()
        next_probe = loop.time()
        while not self._stopping.is_set():
            contact = new_contact(next(kinds), self.system)
            contact.created = loop.time()
            self.contacts.append(contact)
            self._spawn(self._send(contact))
            if loop.time() >= next_probe:
                next_probe += 1.0
                for service, path in READ_PROBES.items():
                    self._spawn(self._probe(service, path))
            next_at += interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(next_at - loop.time(), 0))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request(self, service: str, method: str, path: str, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        sent = loop.time()
        try:
            response = await self._clients[service].request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.attempts.append(Attempt(service, sent, loop.time(), None, type(exc).__name__))
            return None
        self.attempts.append(Attempt(service, sent, loop.time(), response.status_code, None))
        if 400 <= response.status_code < 500 and response.status_code != 429:
            self.client_errors.append(f"{service} {path}: {response.status_code} {response.text}")
        return response

    async def _send(self, contact: Contact) -> None:
        response = await self._request(contact.service, "POST", contact.path, json=contact.body)
        if response is None or response.status_code >= 500:
            if not contact.idempotent:
                contact.unknown_outcomes += 1
            return
        if response.status_code == 429:
            contact.refused += 1
            return
        if response.is_success:
            contact.accepted = True
            contact.subject = subject_of(contact, response.json())

    async def _probe(self, service: str, path: str) -> None:
        await self._request(service, "GET", path)

    async def finish(self, *, retry_for: float = 60.0) -> None:
        """Stops sending, waits for the answers, then resends the idempotent records that were
        not accepted until they are (a fault must not lose a call the platform keeps sending)."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + retry_for
        while True:
            waiting = [c for c in self.contacts if c.idempotent and not c.accepted]
            if not waiting or loop.time() > deadline:
                break
            for contact in waiting:
                await self._send(contact)
            await asyncio.sleep(0.5)
        for client in self._clients.values():
            await client.aclose()

    def failure_windows(self, service: str) -> list[tuple[float, float, int]]:
        """Runs of consecutive failed answers of one service: (first sent, last answered, n)."""
        windows: list[tuple[float, float, int]] = []
        run: list[Attempt] = []
        for attempt in sorted(
            (a for a in self.attempts if a.service == service), key=lambda a: a.done
        ):
            if attempt.failed:
                run.append(attempt)
            elif run:
                windows.append((min(a.sent for a in run), run[-1].done, len(run)))
                run = []
        if run:
            windows.append((min(a.sent for a in run), run[-1].done, len(run)))
        return windows
