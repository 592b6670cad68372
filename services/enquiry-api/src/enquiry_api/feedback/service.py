"""Recording feedback scores, with feedback.submitted."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from contact_common.auth import Principal
from contact_common.events import Channel, FeedbackSubmitted, FeedbackSubmittedData
from enquiry_api.common import SOURCE, invalid, utc_now
from enquiry_api.config import Settings
from enquiry_api.enquiries import repository as enquiries
from enquiry_api.feedback import repository
from enquiry_api.feedback.schemas import FeedbackIn, FeedbackOut
from enquiry_api.models import outbox


async def record_feedback(
    session: AsyncSession, *, body: FeedbackIn, actor: Principal, settings: Settings
) -> FeedbackOut:
    """Records a score (once per response_id) and publishes feedback.submitted."""
    now = utc_now()
    channel, service_area = await _rated_contact(session, body=body, settings=settings)
    submitted_at = (body.submitted_at or now).astimezone(UTC)
    if submitted_at > now + timedelta(seconds=settings.clock_skew_seconds):
        raise invalid("body.submitted_at", "submitted_at is in the future")
    feedback_id = uuid4()
    row: dict[str, Any] = {
        "id": feedback_id,
        "response_id": body.response_id,
        "score": body.score,
        "channel": channel.value,
        "service_area": service_area,
        "enquiry_id": body.enquiry_id,
        "submitted_at": submitted_at,
        "recorded_at": now,
        "recorded_by": actor.key_id,
    }
    # Without a response_id nothing conflicts: the row is always new.
    if not await repository.insert_if_new(session, row):
        assert body.response_id is not None
        return await _recorded_before(session, body.response_id)
    data = FeedbackSubmittedData(
        feedback_id=feedback_id,
        score=body.score,
        channel=channel,
        service_area=service_area,
        submitted_at=submitted_at,
        enquiry_id=body.enquiry_id,
    )
    await outbox.add(session, FeedbackSubmitted.from_data(data, source=SOURCE))
    return FeedbackOut(
        id=feedback_id,
        status="created",
        score=body.score,
        channel=channel,
        service_area=service_area,
        enquiry_id=body.enquiry_id,
        submitted_at=submitted_at,
        response_id=body.response_id,
    )


async def _rated_contact(
    session: AsyncSession, *, body: FeedbackIn, settings: Settings
) -> tuple[Channel, str]:
    """The channel and service area rated: as given, else the enquiry's."""
    channel, service_area = body.channel, body.service_area
    if body.enquiry_id is not None:
        enquiry = await enquiries.get(session, body.enquiry_id)
        if enquiry is None:
            raise invalid("body.enquiry_id", f"there is no enquiry {body.enquiry_id}")
        channel = channel or Channel(enquiry.channel)
        service_area = service_area or enquiry.service_area
    if channel is None:
        raise invalid("body.channel", "give the channel, or the enquiry_id of the contact rated")
    if service_area is None:
        raise invalid("body.service_area", "give the service area, or the enquiry_id")
    if service_area not in settings.service_areas:
        raise invalid("body.service_area", "not a service area here")
    return channel, service_area


async def _recorded_before(session: AsyncSession, response_id: str) -> FeedbackOut:
    """The answer to a response_id recorded before: what was recorded then."""
    known = await repository.by_response_id(session, response_id)
    assert known is not None
    return FeedbackOut(
        id=known.id,
        status="duplicate",
        score=known.score,
        channel=Channel(known.channel),
        service_area=known.service_area,
        enquiry_id=known.enquiry_id,
        submitted_at=known.submitted_at,
        response_id=known.response_id,
    )
