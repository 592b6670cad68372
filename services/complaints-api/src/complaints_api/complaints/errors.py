"""What the complaint use cases refuse, as exceptions of the domain; `problem_of` is the one
place they become HTTP problems (the app answers every `ComplaintRefused` through it)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from complaints_api.complaints.domain import Action, Status
from contact_common.errors import (
    ProblemError,
    answer_as_problem,
    conflict,
    invalid_field,
    not_found,
)
from contact_common.events import ComplaintStage


class ComplaintRefused(Exception):
    """A request the complaints service does not carry out."""


class InvalidField(ComplaintRefused):
    """A value of the request that is not valid (422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ComplaintNotFound(ComplaintRefused):
    """There is no complaint with this id (404)."""

    def __init__(self, complaint_id: uuid.UUID) -> None:
        super().__init__(str(complaint_id))
        self.complaint_id = complaint_id


class ChangedConcurrently(ComplaintRefused):
    """Another writer changed the complaint at the same moment (409)."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        self.reference = reference


class StepNotAllowed(ComplaintRefused):
    """The policy (or a void) does not allow this step now (409), with what may come next."""

    def __init__(
        self,
        detail: str,
        *,
        problem: str,
        title: str,
        stage: ComplaintStage,
        status: Status,
        allowed_next: list[Action],
    ) -> None:
        super().__init__(detail)
        self.detail, self.problem, self.title = detail, problem, title
        self.stage, self.status, self.allowed_next = stage, status, allowed_next


def problem_of(refusal: ComplaintRefused) -> ProblemError:
    """The problem document a refusal is answered with."""
    match refusal:
        case InvalidField(field=field, message=message):
            detail = f"This field is not valid: {field}: {message}."
            return invalid_field(field, message, detail=detail)
        case ComplaintNotFound(complaint_id=complaint_id):
            return not_found(f"There is no complaint {complaint_id}.")
        case ChangedConcurrently(reference=reference):
            return conflict(
                f"Complaint {reference} was changed by someone else at the same moment; "
                "reload it to see where it is now, then try again if the step is still allowed.",
                problem="concurrent-change",
                title="Changed at the same time",
            )
        case StepNotAllowed():
            return conflict(
                refusal.detail,
                problem=refusal.problem,
                title=refusal.title,
                stage=refusal.stage.value,
                complaint_status=refusal.status.value,
                allowed_next=[a.value for a in refusal.allowed_next],
            )
    raise TypeError(f"no problem for {refusal!r}")  # pragma: no cover


def answer_refusals(app: FastAPI) -> None:
    """Lets `app` answer every refusal of the complaint use cases with its problem."""
    answer_as_problem(app, ComplaintRefused, problem_of)
