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
    submitted_at = (body.submitted_at or now).astimezone(UTC)
    if submitted_at > now + timedelta(seconds=settings.clock_skew_seconds):
        raise invalid("body.submitted_at", "submitted_at is in the future")
    row: dict[str, Any] = {
        "id": uuid4(),
        "response_id": body.response_id,
        "score": body.score,
        "channel": channel.value,
        "service_area": service_area,
        "enquiry_id": body.enquiry_id,
        "submitted_at": submitted_at,
        "recorded_at": now,
        "recorded_by": actor.key_id,
    }
    if body.response_id is not None and not await repository.insert_if_new(session, row):
        known = await repository.by_response_id(session, body.response_id)
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
    if body.response_id is None:
        await repository.insert_if_new(session, row)
    await outbox.add(
        session,
        FeedbackSubmitted.from_data(
            FeedbackSubmittedData(
                feedback_id=row["id"],
                score=body.score,
                channel=channel,
                service_area=service_area,
                submitted_at=submitted_at,
                enquiry_id=body.enquiry_id,
            ),
            source=SOURCE,
        ),
    )
    return FeedbackOut(
        id=row["id"],
        status="created",
        score=body.score,
        channel=channel,
        service_area=service_area,
        enquiry_id=body.enquiry_id,
        submitted_at=submitted_at,
        response_id=body.response_id,
    )
