"""/v1/webhooks: subscriptions to sla.* events, their delivery log and redelivery (admin)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from contact_common.auth import require_scope
from contact_common.errors import PROBLEM_RESPONSES, ProblemError
from contact_common.service import SessionDep
from sla_monitor.webhooks import service
from sla_monitor.webhooks.domain import InvalidSecret, UnsafeUrl, WebhookNotFound
from sla_monitor.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryPage,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
)

router = APIRouter(
    prefix="/v1/webhooks", tags=["webhooks"], dependencies=[Depends(require_scope("admin"))]
)
_ERRORS: dict[int | str, dict[str, Any]] = {s: PROBLEM_RESPONSES[s] for s in (401, 403, 422)}
_FOUND_ERRORS: dict[int | str, dict[str, Any]] = {
    s: PROBLEM_RESPONSES[s] for s in (401, 403, 404, 422)
}


@contextmanager
def _problems() -> Iterator[None]:
    """The webhook domain's refusals as problem documents."""
    try:
        yield
    except WebhookNotFound as exc:
        raise ProblemError(404, str(exc), problem="not-found") from exc
    except UnsafeUrl as exc:
        raise ProblemError(
            422,
            f"url: {exc}",
            problem="unsafe-webhook-url",
            errors=[{"field": "body.url", "message": str(exc)}],
        ) from exc
    except InvalidSecret as exc:
        raise ProblemError(
            422,
            f"secret: {exc}",
            problem="invalid-webhook-secret",
            errors=[{"field": "body.secret", "message": str(exc)}],
        ) from exc


def _delivery(row: Any, attempts: list[Any]) -> DeliveryOut:
    return DeliveryOut(
        **{name: getattr(row, name) for name in DeliveryOut.model_fields if name != "attempt_log"},
        attempt_log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
    )


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionCreated,
    summary="Subscribe a URL to sla.* events",
    description="Deliveries follow the Standard Webhooks specification: headers `webhook-id` "
    "(the same on every attempt of a delivery: dedupe on it), `webhook-timestamp` and "
    "`webhook-signature` (`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` under the secret). "
    "The body is `{type, timestamp, data}` with ids, the commitment, service area and times: no "
    "personal data. The secret is shown in this response only. A 2xx is success; anything else "
    "is retried with exponential backoff and jitter for SLA_WEBHOOK_MAX_AGE_SECONDS (24 h).",
    responses=_ERRORS,
)
async def create_subscription(
    request: Request, session: SessionDep, body: SubscriptionIn
) -> SubscriptionCreated:
    with _problems():
        row = await service.create_subscription(
            session,
            url=body.url,
            event_types=body.event_types,
            service_areas=body.service_areas,
            description=body.description,
            secret=body.secret,
            allow_private=request.app.state.webhook_allow_private,
            now=datetime.now(UTC),
        )
    return SubscriptionCreated(**row)


@router.get(
    "",
    response_model=list[SubscriptionOut],
    summary="The webhook subscriptions",
    description="Every subscription, oldest first; secrets are never shown.",
    responses=_ERRORS,
)
async def list_subscriptions(session: SessionDep) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(row) for row in await service.list_subscriptions(session)]


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    summary="One webhook subscription",
    description="The subscription, without its secret.",
    responses=_FOUND_ERRORS,
)
async def get_subscription(session: SessionDep, subscription_id: UUID) -> SubscriptionOut:
    with _problems():
        return SubscriptionOut.of(
            await service.get_subscription(session, subscription_id=subscription_id)
        )


@router.delete(
    "/{subscription_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a webhook subscription",
    description="Removes the subscription and its delivery log; pending deliveries are not sent.",
    responses=_FOUND_ERRORS,
)
async def remove_subscription(session: SessionDep, subscription_id: UUID) -> Response:
    with _problems():
        await service.remove_subscription(session, subscription_id=subscription_id)
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=DeliveryPage,
    summary="A subscription's delivery log",
    description="Its latest deliveries: status, attempts (time, status code, duration, outcome) "
    "and when the next attempt is due.",
    responses=_FOUND_ERRORS,
)
async def list_deliveries(
    session: SessionDep,
    subscription_id: UUID,
    status: Annotated[
        Literal["pending", "delivered", "failed"] | None,
        Query(description="Only deliveries in this state."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Deliveries, latest first.")] = 50,
) -> DeliveryPage:
    with _problems():
        found = await service.list_deliveries(
            session, subscription_id=subscription_id, status=status, limit=limit
        )
    return DeliveryPage(items=[_delivery(row, attempts) for row, attempts in found])


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send a delivery again",
    description="Sends it again now, with the same webhook-id (a receiver that had it drops "
    "it), and retries it for a new window if it fails. For a delivery that failed, or that a "
    "receiver lost.",
    responses=_FOUND_ERRORS,
)
async def redeliver(session: SessionDep, subscription_id: UUID, delivery_id: UUID) -> DeliveryOut:
    with _problems():
        row, attempts = await service.redeliver(
            session,
            subscription_id=subscription_id,
            delivery_id=delivery_id,
            now=datetime.now(UTC),
        )
    return _delivery(row, attempts)
