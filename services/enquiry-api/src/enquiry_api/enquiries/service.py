"""What can be done with enquiries: open, read, list, and move through the lifecycle.

Every change writes its audit history entry and its event (through the outbox) in the caller's
transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NotRequired, Protocol, TypedDict, Unpack
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal
from contact_common.errors import ProblemError
from contact_common.events import (
    Channel,
    CloudEvent,
    EnquiryAcknowledged,
    EnquiryAcknowledgedData,
    EnquiryAssigned,
    EnquiryAssignedData,
    EnquiryOpened,
    EnquiryOpenedData,
    EnquiryReopened,
    EnquiryReopenedData,
    EnquiryResolved,
    EnquiryResolvedData,
    EnquiryResponded,
    EnquiryRespondedData,
    EnquiryUpdateReceived,
    EnquiryUpdateReceivedData,
    EventData,
    UpdateStatus,
)
from enquiry_api.common import SOURCE, invalid, record_field, utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries import repository
from enquiry_api.enquiries.domain import (
    RECORDED_AS,
    Action,
    EnquiryState,
    EnquiryStatus,
    TransitionRefused,
    decode_cursor,
    encode_cursor,
    first_point_refusal,
    format_reference,
    is_hand_off,
    next_status,
    phone_digits,
    received_at_problem,
    step_time_problem,
)
from enquiry_api.enquiries.models import Enquiry, EnquiryHistory
from enquiry_api.models import outbox
from enquiry_api.open311 import repository as resident_updates
from enquiry_api.open311.models import ResidentUpdate


@dataclass(slots=True)
class EnquiryDraft:
    """An enquiry to open, from whichever door it came in by."""

    channel: Channel
    service_area: str
    received_at: datetime
    description: str | None
    source: str = "api"
    customer_name: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    customer_address: str | None = None
    customer_uprn: str | None = None
    location_address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    service_code: str | None = None
    media_url: str | None = None
    attributes: dict[str, Any] | None = None
    call_id: UUID | None = None
    # A standby follow-up is handed to its service area as it is opened (enquiry.assigned).
    assigned_at: datetime | None = None
    field_prefix: str = "body."
    details: dict[str, Any] = field(default_factory=dict)
    # The officer who recorded it, besides the API key (a contact centre's shared key).
    officer_id: str | None = None


def state_of(enquiry: Enquiry) -> EnquiryState:
    """The facts the lifecycle rules need."""
    return EnquiryState(
        status=EnquiryStatus(enquiry.status),
        # A response acknowledges; a reopened enquiry was answered before.
        acknowledged=(
            enquiry.acknowledged_at is not None
            or enquiry.responded_at is not None
            or enquiry.reopen_count > 0
        ),
        handed_off=enquiry.handed_off,
        reopen_count=enquiry.reopen_count,
    )


def check_service_area(settings: Settings, service_area: str, field_name: str) -> None:
    """Refuses a service area the council has not configured."""
    if service_area not in settings.service_areas:
        raise invalid(
            field_name,
            f"'{service_area}' is not a service area here; one of: "
            + ", ".join(settings.service_areas),
        )


class ContactRecord(Protocol):
    """A posted record of a contact (a call, a visit) that may name a service area and an
    enquiry."""

    @property
    def service_area(self) -> str | None: ...

    @property
    def enquiry_id(self) -> UUID | None: ...


async def check_contact_records(
    session: AsyncSession,
    *,
    records: Sequence[ContactRecord],
    single: bool,
    settings: Settings,
) -> None:
    """Refuses records naming a service area not configured here or an enquiry there is not."""
    for position, record in enumerate(records):
        if record.service_area and record.service_area not in settings.service_areas:
            raise invalid(
                record_field(position, "service_area", single=single), "not a service area here"
            )
    known = await repository.existing_ids(session, [r.enquiry_id for r in records if r.enquiry_id])
    for position, record in enumerate(records):
        if record.enquiry_id and record.enquiry_id not in known:
            raise invalid(
                record_field(position, "enquiry_id", single=single),
                f"there is no enquiry {record.enquiry_id}",
            )


def history_entry(
    enquiry: Enquiry,
    action: str,
    from_status: str | None,
    *,
    now: datetime,
    actor: Principal,
    occurred_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    officer_id: str | None = None,
) -> EnquiryHistory:
    """An entry of the enquiry's audit history: the step (taken at `occurred_at`, else now), who
    took it, and the enquiry's status after."""
    return EnquiryHistory(
        enquiry_id=enquiry.id,
        action=action,
        from_status=from_status,
        to_status=enquiry.status,
        occurred_at=occurred_at or now,
        recorded_at=now,
        actor_key_id=actor.key_id,
        actor_name=actor.name,
        officer_id=officer_id,
        details=details or None,
    )


def event_facts(enquiry: Enquiry) -> dict[str, Any]:
    """What every enquiry event says of its enquiry."""
    return {
        "enquiry_id": enquiry.id,
        "channel": Channel(enquiry.channel),
        "service_area": enquiry.service_area,
        "received_at": enquiry.received_at,
    }


async def open_enquiries(
    session: AsyncSession,
    *,
    drafts: Sequence[EnquiryDraft],
    actor: Principal,
    settings: Settings,
    now: datetime | None = None,
) -> list[Enquiry]:
    """Opens enquiries with ascending references, each with its history and events."""
    if not drafts:
        return []
    now = now or utc_now()
    _check_drafts(drafts, settings=settings, now=now)
    # The reference's year is the year it was issued, in the council's own time zone.
    year = now.astimezone(ZoneInfo(settings.office_timezone)).year
    numbers = await repository.reserve_reference_numbers(session, year=year, count=len(drafts))
    enquiries: list[Enquiry] = []
    histories: list[EnquiryHistory] = []
    events: list[CloudEvent] = []
    for number, draft in zip(numbers, drafts, strict=True):
        draft.received_at = draft.received_at.astimezone(UTC)
        reference = format_reference(settings.reference_prefix, year, number)
        enquiry = _new_enquiry(draft, reference=reference, actor=actor, now=now)
        enquiries.append(enquiry)
        events.append(
            EnquiryOpened.from_data(
                EnquiryOpenedData(
                    **event_facts(enquiry), reference=enquiry.reference, call_id=draft.call_id
                ),
                source=SOURCE,
            )
        )
        histories.append(
            history_entry(
                enquiry,
                "opened",
                None,
                occurred_at=draft.received_at,
                now=now,
                actor=actor,
                details={
                    "channel": enquiry.channel,
                    "service_area": enquiry.service_area,
                    **draft.details,
                },
                officer_id=draft.officer_id,
            )
        )
        if draft.assigned_at is not None:
            event, entry = _assign_on_opening(enquiry, draft, actor=actor, now=now)
            events.append(event)
            histories.append(entry)
    await repository.insert_opened(session, enquiries=enquiries, history=histories, events=events)
    return enquiries


def _check_drafts(drafts: Sequence[EnquiryDraft], *, settings: Settings, now: datetime) -> None:
    """Refuses a draft in a service area not configured here or received at an impossible time."""
    skew = timedelta(seconds=settings.clock_skew_seconds)
    for draft in drafts:
        check_service_area(settings, draft.service_area, f"{draft.field_prefix}service_area")
        problem = received_at_problem(draft.received_at, now=now, skew=skew)
        if problem:
            raise invalid(f"{draft.field_prefix}received_at", f"received_at {problem}")


def _new_enquiry(
    draft: EnquiryDraft, *, reference: str, actor: Principal, now: datetime
) -> Enquiry:
    """The enquiry a draft opens, open, under its reference."""
    return Enquiry(
        id=uuid4(),
        reference=reference,
        channel=draft.channel.value,
        service_area=draft.service_area,
        received_at=draft.received_at,
        status=EnquiryStatus.open.value,
        description=draft.description,
        source=draft.source,
        call_id=draft.call_id,
        customer_name=draft.customer_name,
        customer_email=draft.customer_email,
        customer_phone=draft.customer_phone,
        customer_phone_digits=phone_digits(draft.customer_phone),
        customer_address=draft.customer_address,
        customer_uprn=draft.customer_uprn,
        location_address=draft.location_address,
        latitude=draft.latitude,
        longitude=draft.longitude,
        service_code=draft.service_code,
        media_url=draft.media_url,
        attributes=draft.attributes,
        handed_off=False,
        reopen_count=0,
        correction_count=0,
        last_step_at=draft.received_at,
        created_at=now,
        updated_at=now,
        created_by=actor.key_id,
    )


def _assign_on_opening(
    enquiry: Enquiry, draft: EnquiryDraft, *, actor: Principal, now: datetime
) -> tuple[CloudEvent, EnquiryHistory]:
    """Hands a just-opened enquiry to its service area: enquiry.assigned and its history."""
    assert draft.assigned_at is not None
    assigned_at = max(draft.assigned_at.astimezone(UTC), draft.received_at)
    enquiry.status = EnquiryStatus.assigned.value
    enquiry.assigned_at = assigned_at
    enquiry.last_step_at = assigned_at
    event = EnquiryAssigned.from_data(
        EnquiryAssignedData(**event_facts(enquiry), assigned_at=assigned_at), source=SOURCE
    )
    entry = history_entry(
        enquiry,
        "assigned",
        EnquiryStatus.open.value,
        occurred_at=assigned_at,
        now=now,
        actor=actor,
        details={"service_area": enquiry.service_area},
        officer_id=draft.officer_id,
    )
    return event, entry


async def open_enquiry(
    session: AsyncSession, *, draft: EnquiryDraft, actor: Principal, settings: Settings
) -> Enquiry:
    """Opens one enquiry: its reference, its history and enquiry.opened."""
    (enquiry,) = await open_enquiries(session, drafts=[draft], actor=actor, settings=settings)
    return enquiry


async def get_enquiry(
    session: AsyncSession, *, enquiry_id: UUID
) -> tuple[Enquiry, Sequence[EnquiryHistory], Mapping[int, ResidentUpdate]]:
    """The enquiry, its audit history and the updates posted on it (by history id), or 404."""
    enquiry = await repository.get(session, enquiry_id)
    if enquiry is None:
        raise not_found(enquiry_id)
    history = await repository.history(session, enquiry_id)
    received = [entry.id for entry in history if entry.action == "update_received"]
    return enquiry, history, await resident_updates.by_history(session, received)


def not_found(enquiry_id: UUID) -> ProblemError:
    """The 404 problem of an enquiry id there is no enquiry with."""
    return ProblemError(404, f"There is no enquiry {enquiry_id}.", problem="enquiry-not-found")


async def list_enquiries(
    session: AsyncSession,
    *,
    where: repository.EnquiryFilter,
    cursor: str | None,
    limit: int,
    with_total: bool = False,
) -> tuple[Sequence[Enquiry], str | None, int | None]:
    """A page of enquiries, newest received first, the cursor of the next page, and how many
    match in all if asked (`with_total`)."""
    after = None
    if cursor:
        decoded = decode_cursor(cursor)
        if decoded is None:
            raise invalid("query.cursor", "not a cursor this API gave out; start without one")
        try:
            after = (decoded[0], UUID(decoded[1]))
        except ValueError:
            raise invalid("query.cursor", "not a cursor this API gave out") from None
    if where.received_from and where.received_to and where.received_to < where.received_from:
        raise invalid("query.received_to", "received_to is before received_from")
    rows = await repository.list_page(session, where=where, after=after, limit=limit + 1)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last.received_at, str(last.id))
    total = await repository.count(session, where=where) if with_total else None
    return page, next_cursor, total


async def _begin_step(
    session: AsyncSession,
    *,
    enquiry_id: UUID,
    action: Action,
    at: datetime | None,
    settings: Settings,
    now: datetime,
) -> tuple[Enquiry, EnquiryStatus, datetime]:
    """Locks the enquiry and checks the step: returns it, the status after, and the step time."""
    enquiry = await repository.get(session, enquiry_id, for_update=True)
    if enquiry is None:
        raise not_found(enquiry_id)
    state = state_of(enquiry)
    try:
        after = next_status(state, action)
    except TransitionRefused as refused:
        raise ProblemError(
            409,
            refused.message,
            problem="transition-not-allowed",
            title="Not allowed in this status",
            current_status=refused.status.value,
            allowed_actions=[a.value for a in refused.allowed],
        ) from None
    occurred_at = (at or now).astimezone(UTC)
    problem = step_time_problem(
        occurred_at,
        received_at=enquiry.received_at,
        last_step_at=enquiry.last_step_at,
        now=now,
        skew=timedelta(seconds=settings.clock_skew_seconds),
    )
    if problem:
        raise invalid("body.at", f"at {problem}")
    return enquiry, after, occurred_at


async def record_change(session: AsyncSession, entry: EnquiryHistory, event: CloudEvent) -> None:
    """Writes a change of an enquiry's: its history entry and its event."""
    repository.add_history(session, entry)
    await outbox.add(session, event)
    await session.flush()


# What a step does to the locked enquiry, given the step's time: its event, its history details.
StepChange = Callable[[Enquiry, datetime], tuple[CloudEvent, dict[str, Any] | None]]


class Step(TypedDict):
    """Who takes a step on which enquiry, and when (now if `at` is None): every step's arguments."""

    enquiry_id: UUID
    at: datetime | None
    actor: Principal
    settings: Settings
    officer_id: NotRequired[str | None]


async def _take_step(
    session: AsyncSession, step: Step, *, action: Action, change: StepChange
) -> Enquiry:
    """Locks the enquiry, checks the step, changes it and records the change (history, event)."""
    now = utc_now()
    enquiry, after, occurred_at = await _begin_step(
        session,
        enquiry_id=step["enquiry_id"],
        action=action,
        at=step["at"],
        settings=step["settings"],
        now=now,
    )
    before = enquiry.status
    event, details = change(enquiry, occurred_at)
    enquiry.status = after.value
    enquiry.last_step_at = occurred_at
    enquiry.updated_at = now
    entry = history_entry(
        enquiry,
        RECORDED_AS[action],
        before,
        now=now,
        actor=step["actor"],
        occurred_at=occurred_at,
        details=details,
        officer_id=step.get("officer_id"),
    )
    await record_change(session, entry, event)
    return enquiry


def _stamp(field: str, event: type[CloudEvent], data: type[EventData]) -> StepChange:
    """A step that only records when it was taken: in the enquiry's `field` and in its event."""

    def change(enquiry: Enquiry, occurred_at: datetime) -> tuple[CloudEvent, None]:
        setattr(enquiry, field, occurred_at)
        facts = data(**event_facts(enquiry), **{field: occurred_at})
        return event.from_data(facts, source=SOURCE), None

    return change


async def acknowledge(session: AsyncSession, **step: Unpack[Step]) -> Enquiry:
    """Acknowledges an enquiry (enquiry.acknowledged)."""
    change = _stamp("acknowledged_at", EnquiryAcknowledged, EnquiryAcknowledgedData)
    return await _take_step(session, step, action=Action.acknowledge, change=change)


async def assign(
    session: AsyncSession,
    *,
    service_area: str | None,
    assignee_id: str | None,
    **step: Unpack[Step],
) -> Enquiry:
    """Hands an enquiry to a service area and/or an officer (enquiry.assigned)."""
    if service_area is not None:
        check_service_area(step["settings"], service_area, "body.service_area")

    def change(enquiry: Enquiry, occurred_at: datetime) -> tuple[CloudEvent, dict[str, Any]]:
        target_area = service_area or enquiry.service_area
        if is_hand_off(enquiry.service_area, target_area):
            enquiry.handed_off = True
        details: dict[str, Any] = {"service_area": target_area}
        if target_area != enquiry.service_area:
            details["from_service_area"] = enquiry.service_area
        if assignee_id:
            details["assignee_id"] = assignee_id
        enquiry.service_area = target_area
        enquiry.assignee_id = assignee_id
        enquiry.assigned_at = occurred_at
        data = EnquiryAssignedData(
            **event_facts(enquiry), assigned_at=occurred_at, assignee_id=assignee_id
        )
        return EnquiryAssigned.from_data(data, source=SOURCE), details

    return await _take_step(session, step, action=Action.assign, change=change)


async def respond(session: AsyncSession, **step: Unpack[Step]) -> Enquiry:
    """Records that a substantive response was sent (enquiry.responded)."""
    change = _stamp("responded_at", EnquiryResponded, EnquiryRespondedData)
    return await _take_step(session, step, action=Action.respond, change=change)


async def resolve(session: AsyncSession, *, first_point: bool, **step: Unpack[Step]) -> Enquiry:
    """Resolves an enquiry, at first point or not (enquiry.resolved)."""

    def change(enquiry: Enquiry, occurred_at: datetime) -> tuple[CloudEvent, dict[str, Any]]:
        refusal = first_point_refusal(state_of(enquiry)) if first_point else None
        if refusal:
            raise ProblemError(
                409,
                refusal,
                problem="first-point-not-possible",
                title="Not resolvable at first point",
                current_status=enquiry.status,
            )
        enquiry.resolved_at = occurred_at
        enquiry.first_point = first_point
        data = EnquiryResolvedData(
            **event_facts(enquiry), resolved_at=occurred_at, first_point=first_point
        )
        return EnquiryResolved.from_data(data, source=SOURCE), {"first_point": first_point}

    return await _take_step(session, step, action=Action.resolve, change=change)


async def reopen(
    session: AsyncSession, *, cause: str | None = None, **step: Unpack[Step]
) -> Enquiry:
    """Reopens a resolved enquiry: a new response clock (enquiry.reopened).

    `cause` names the history action that made it reopen (e.g. update_received), if not staff.
    """

    def change(enquiry: Enquiry, occurred_at: datetime) -> tuple[CloudEvent, dict[str, Any]]:
        enquiry.reopen_count += 1
        enquiry.reopened_at = occurred_at
        # The next response and resolution belong to the new clock.
        enquiry.responded_at = None
        enquiry.resolved_at = None
        enquiry.first_point = None
        data = EnquiryReopenedData(
            **event_facts(enquiry), reopened_at=occurred_at, reopen_count=enquiry.reopen_count
        )
        details = {"reopen_count": enquiry.reopen_count, **({"cause": cause} if cause else {})}
        return EnquiryReopened.from_data(data, source=SOURCE), details

    return await _take_step(session, step, action=Action.reopen, change=change)


async def receive_update(
    session: AsyncSession,
    *,
    enquiry: Enquiry,
    status: UpdateStatus,
    updated_at: datetime,
    reopens: bool,
    sender_update_id: str,
    actor: Principal,
    settings: Settings,
) -> EnquiryHistory:
    """Records an update from outside the council on the enquiry's history and publishes it.

    If it `reopens` the (resolved) enquiry, the reopening goes first through the lifecycle
    (enquiry.reopened, a new response clock), then the update (enquiry.update_received). The
    entry's details hold the sender's update_id and status, never what the resident wrote.
    """
    now = utc_now()
    if reopens:
        enquiry = await reopen(
            session,
            enquiry_id=enquiry.id,
            at=updated_at,
            actor=actor,
            settings=settings,
            cause="update_received",
        )
    enquiry.updated_at = now
    entry = history_entry(
        enquiry,
        "update_received",
        # Not a step of the lifecycle: a reopening it caused is the entry before.
        enquiry.status,
        occurred_at=updated_at,
        now=now,
        actor=actor,
        details={"update_id": sender_update_id, "status": status.value, "reopened": reopens},
    )
    repository.add_history(session, entry)
    await session.flush()
    event = EnquiryUpdateReceived.from_data(
        EnquiryUpdateReceivedData(
            **event_facts(enquiry),
            updated_at=updated_at,
            update_id=entry.id,
            status=status,
            reopened=reopens,
        ),
        source=SOURCE,
    )
    await outbox.add(session, event)
    return entry
