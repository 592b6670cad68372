"""Commitments as data: the policy file a council edits, validated when a service starts.

A policy is YAML: a name, a description and a list of commitments (DESIGN.md, "The
commitments"). Each commitment says which contacts it applies to, which events start and stop
its clock, which withdraw the contact (a short abandon) or extend the deadline, and its target.
A policy may `extend` another (a shipped one by name, or a file beside it) and replace or add
commitments by id, so each commitment's target is written in one file.

This is the only place the commitments are read from: sla-monitor's clocks, complaints-api's
due dates, metrics-api's thresholds and contactctl all load the policy through `load_policy`.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contact_common.events import EVENT_TYPES, Channel, CommitmentId, ComplaintStage, ContactType

SHIPPED_POLICIES = ("default", "complaint-handling-code-2024")
# A policy may extend one that extends another; more than this is a loop or a mistake.
_MAX_EXTENDS = 5

# The contact type each event family belongs to: a commitment only listens to its own family.
_FAMILY = {
    "enquiry": ContactType.enquiry,
    "call": ContactType.call,
    "visit": ContactType.visit,
    "complaint": ContactType.complaint,
}


class PolicyError(ValueError):
    """The policy file is missing or invalid; the message names the bad entry."""


class Anchor(StrEnum):
    """What a clock counts from: receipt (the published defaults) or acknowledgement."""

    received = "received"
    acknowledged = "acknowledged"


class AppliesTo(BaseModel):
    """Which contacts a commitment covers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: list[Channel] | None = Field(
        default=None, description="The channels it covers; absent means every channel."
    )
    office_hours_only: bool = Field(
        default=False, description="Only contacts whose clock starts in office hours."
    )
    stages: list[ComplaintStage] | None = Field(
        default=None, description="Complaint stages it covers (complaints only); absent: all."
    )


class Target(BaseModel):
    """How long the council allows: elapsed seconds or working days, exactly one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seconds: int | None = Field(default=None, gt=0, description="Elapsed seconds.")
    working_days: int | None = Field(
        default=None, gt=0, description="Working days, ending at closing time."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.seconds is None) == (self.working_days is None):
            raise ValueError("give exactly one of seconds or working_days")
        return self

    def describe(self) -> str:
        """The target in words, e.g. '15 seconds' or '3 working days'."""
        if self.seconds is not None:
            return f"{self.seconds} seconds"
        return f"{self.working_days} working day{'s' if self.working_days != 1 else ''}"


class Commitment(BaseModel):
    """One published service commitment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: CommitmentId
    description: str = Field(min_length=1, max_length=300)
    contact_type: ContactType
    applies_to: AppliesTo = AppliesTo()
    start_events: list[str] = Field(min_length=1)
    anchor: Anchor = Anchor.received
    stop_events: list[str] = Field(min_length=1)
    abandon_events: list[str] = Field(
        default_factory=list,
        description="The contact was withdrawn (a call abandoned, a complaint closed "
        "unanswered): within the target the clock is excluded, after it a breach.",
    )
    extend_events: list[str] = Field(
        default_factory=list, description="Events that extend the deadline, once."
    )
    max_extension_working_days: int | None = Field(
        default=None,
        gt=0,
        description="The longest extension the policy allows, in working days (needed with "
        "extend_events): the new deadline is closing time on that many working days after "
        "the old one.",
    )
    target: Target
    at_risk_share: float = Field(default=0.75, gt=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        lists = {
            "start_events": self.start_events,
            "stop_events": self.stop_events,
            "abandon_events": self.abandon_events,
            "extend_events": self.extend_events,
        }
        for name, types in lists.items():
            for event_type in types:
                if event_type not in EVENT_TYPES:
                    raise ValueError(f"{name}: unknown event type {event_type!r}")
                family = _FAMILY.get(event_type.split(".", 1)[0])
                if family is not self.contact_type:
                    raise ValueError(f"{name}: {event_type} is not a {self.contact_type} event")
        starts = set(self.start_events)
        for name in ("stop_events", "abandon_events", "extend_events"):
            both = starts.intersection(lists[name])
            if both:
                raise ValueError(f"{name}: {sorted(both)} also start the clock")
        acknowledging = [t.endswith(".acknowledged") for t in self.start_events]
        if self.anchor is Anchor.acknowledged and not all(acknowledging):
            raise ValueError("anchor acknowledged: every start event must be an acknowledgement")
        if self.anchor is Anchor.received and any(acknowledging):
            raise ValueError("anchor received: an acknowledgement cannot start the clock")
        if self.applies_to.stages is not None and self.contact_type is not ContactType.complaint:
            raise ValueError("applies_to.stages is for complaints only")
        if self.extend_events and self.target.working_days is None:
            raise ValueError("extend_events need a working_days target")
        if bool(self.extend_events) != (self.max_extension_working_days is not None):
            raise ValueError(
                "extend_events and max_extension_working_days go together: give both or neither"
            )
        return self


class Policy(BaseModel):
    """The commitments in force."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    commitments: list[Commitment] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for commitment in self.commitments:
            if commitment.id in seen:
                raise ValueError(f"commitment id {commitment.id!r} appears twice")
            seen.add(commitment.id)
        return self

    @cached_property
    def by_id(self) -> dict[str, Commitment]:
        """Commitments by id."""
        return {c.id: c for c in self.commitments}

    def elapsed_seconds(self, commitment_id: str) -> int:
        """The seconds target of a commitment (a call's or a visit's); PolicyError without one."""
        commitment = self.by_id.get(commitment_id)
        if commitment is None or commitment.target.seconds is None:
            raise PolicyError(
                f"policy {self.name!r} has no commitment {commitment_id!r} with a seconds target"
            )
        return commitment.target.seconds

    @cached_property
    def listening(self) -> dict[str, list[Commitment]]:
        """For each event type, the commitments it starts, stops, withdraws or extends."""
        found: dict[str, list[Commitment]] = {}
        for commitment in self.commitments:
            for event_type in dict.fromkeys(
                commitment.start_events
                + commitment.stop_events
                + commitment.abandon_events
                + commitment.extend_events
            ):
                found.setdefault(event_type, []).append(commitment)
        return found


def _describe_errors(error: ValidationError, raw: Any, source: str) -> str:
    lines = []
    for item in error.errors():
        location = list(item["loc"])
        where: list[str] = []
        for index, part in enumerate(location):
            if isinstance(part, int):
                where[-1] = f"{where[-1]}[{part}]"
                parent = location[index - 1]
                try:
                    entry = raw[parent][part] if isinstance(raw, dict) else None
                except (KeyError, IndexError, TypeError):
                    entry = None
                if parent == "commitments" and isinstance(entry, dict) and "id" in entry:
                    where[-1] += f" ({entry['id']})"
            else:
                where.append(str(part))
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {'.'.join(where) or '(top)'}: {message}")
    return f"policy {source} is not valid:\n" + "\n".join(lines)


def _parse_raw(text: str, source: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {source} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"policy {source} must be a mapping with name and commitments")
    return raw


def _merged(base: dict[str, Any], raw: dict[str, Any], source: str) -> dict[str, Any]:
    """`raw`'s commitments replace the base's of the same id, in place; new ones are added."""
    extending = raw.get("commitments") or []
    if not isinstance(extending, list):
        raise PolicyError(f"policy {source}: commitments must be a list")
    replaced = {c["id"]: c for c in extending if isinstance(c, dict) and "id" in c}
    commitments = [replaced.pop(c.get("id"), c) for c in base["commitments"]]
    commitments += [c for c in extending if not isinstance(c, dict) or c.get("id") in replaced]
    merged = {key: value for key, value in raw.items() if key != "extends"}
    merged["commitments"] = commitments
    merged.setdefault("description", base.get("description", ""))
    return merged


def _resolved(
    raw: dict[str, Any], source: str, directory: Path | None, depth: int
) -> dict[str, Any]:
    """The policy's raw mapping with the policy it extends folded in."""
    parent = raw.get("extends")
    if parent is None:
        return raw
    if depth >= _MAX_EXTENDS:
        raise PolicyError(f"policy {source}: extends goes deeper than {_MAX_EXTENDS} policies")
    if not isinstance(parent, str):
        raise PolicyError(f"policy {source}: extends must name a policy")
    text, parent_source, parent_directory = _read(parent, directory)
    base = _resolved(_parse_raw(text, parent_source), parent_source, parent_directory, depth + 1)
    return _merged(base, raw, source)


def _read(name_or_path: str, directory: Path | None = None) -> tuple[str, str, Path | None]:
    """(text, source, directory) of a shipped policy by name or a policy file by path.

    A policy file that extends a shipped policy by name takes the copy beside it if there is
    one (a deployment mounts the shipped files together), else the one shipped in the package.
    """
    beside = directory / f"{name_or_path}.yaml" if directory is not None else None
    if name_or_path in SHIPPED_POLICIES and beside is not None and beside.is_file():
        return beside.read_text(), str(beside), directory
    if name_or_path in SHIPPED_POLICIES:
        shipped = resources.files("contact_common.commitments.policies")
        return shipped.joinpath(f"{name_or_path}.yaml").read_text(), f"{name_or_path}.yaml", None
    path = Path(name_or_path)
    if directory is not None and not path.is_absolute():
        path = directory / path
    if not path.is_file():
        raise PolicyError(
            f"policy {name_or_path!r} is neither a shipped policy "
            f"({', '.join(SHIPPED_POLICIES)}) nor a file"
        )
    return path.read_text(), str(path), path.parent


def parse_policy(text: str, *, source: str = "<text>", directory: Path | None = None) -> Policy:
    """A policy from YAML text (and what it extends); PolicyError names each bad entry."""
    raw = _resolved(_parse_raw(text, source), source, directory, 0)
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(_describe_errors(exc, raw, source)) from exc


def load_policy(name_or_path: str) -> Policy:
    """A shipped policy by name, or a policy file by path."""
    text, source, directory = _read(name_or_path)
    return parse_policy(text, source=source, directory=directory)
