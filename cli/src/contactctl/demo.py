"""A realistic demonstration year of a district council's contacts, generated lazily.

Volumes come from the Three Rivers customer experience strategy (seed 001: 117,643 calls,
10,653 emails, 9,971 online forms a year) and outcomes from its service delivery plan (seed 000:
90%+ first point resolution, a mean call wait of about 1m30s and never over 10 minutes, online
satisfaction 4.2, complaints fully upheld about 35%). Portal enquiries make up the plan's CX03
share (41% in 2025-26) of all enquiries. Calls and visits arrive in office hours on working days,
email and online forms at any hour, the standby contractor's calls only out of hours; council tax
bills bring calls in March and April, garden waste renewals in spring.

The same seed gives the same contacts. Nothing here is personal data: customers, where there is
one, are "Resident 123" at example.org.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from contact_common.calendar import WorkingCalendar
from contact_common.settings import DEFAULT_SERVICE_AREAS

_YEAR = re.compile(r"^(\d{4})-(\d{2})$")


def financial_year(label: str) -> tuple[date, date]:
    """The first and last day of a UK financial year written `2025-26` (April to March)."""
    match = _YEAR.match(label)
    if not match or (int(match[1]) + 1) % 100 != int(match[2]):
        raise ValueError(f"{label!r} is not a financial year like 2025-26")
    start = int(match[1])
    return date(start, 4, 1), date(start + 1, 3, 31)


@dataclass(frozen=True)
class Volumes:
    """A district's contacts in a year (scale 1.0) and the shares that shape them."""

    calls: float = 117_643  # seed 001: telephone calls received by the CSC
    emails: float = 10_653  # seed 001: emails received by the CSC
    web_forms: float = 9_971  # seed 001: online forms submitted
    letters: float = 1_400
    voicemails: float = 1_800
    social_media: float = 600
    visits: float = 9_000
    standby_calls: float = 2_600
    complaints: float = 350
    portal_share: float = 0.41  # seed 000: CX03 target 2025-26
    phone_enquiry_share: float = 0.20  # answered calls the agent logs as an enquiry
    visit_enquiry_share: float = 0.40
    standby_follow_up_share: float = 0.30
    stage_2_share: float = 0.15  # stage 1 complaints the customer escalates
    ombudsman_share: float = 0.20  # stage 2 complaints taken to the LGSCO
    feedback_share: float = 0.15  # online enquiries rated
    phone_feedback_share: float = 0.04


# First point resolution by channel: about 90% overall (seed 000, CX04 target 90%).
FIRST_POINT = {
    "phone": 0.935,
    "face_to_face": 0.93,
    "email": 0.89,
    "web_form": 0.88,
    "portal": 0.92,
    "letter": 0.75,
    "voicemail": 0.88,
    "social_media": 0.88,
}
REOPENED = 0.015
# Each commitment met this often (DESIGN.md defaults; roughly 85-95% met).
ON_TIME = {
    "email-acknowledge": 0.93,
    "email-respond": 0.90,
    "letter-respond": 0.88,
    "voicemail-respond": 0.87,
    "complaint-acknowledge": 0.93,
    "complaint-respond": 0.88,
    "complaint-respond-stage2": 0.88,
}
# Fully upheld, partly upheld, not upheld; CX06 targets 35% fully upheld (seed 000).
OUTCOMES = {
    "stage_1": (0.33, 0.27, 0.40),
    "stage_2": (0.30, 0.25, 0.45),
    "ombudsman": (0.28, 0.22, 0.50),
}
# Scores 1..5; mean 4.22 (CX02 target 4.2).
FEEDBACK_WEIGHTS = (0.04, 0.04, 0.10, 0.30, 0.52)

# Seasons: contact volume by month (calls and visits in full, online half as strongly).
_MONTH_VOLUME = {
    4: 1.25, 5: 1.05, 6: 0.95, 7: 0.95, 8: 0.85, 9: 0.95,
    10: 1.00, 11: 0.95, 12: 0.75, 1: 1.05, 2: 1.00, 3: 1.30,
}  # fmt: skip
_WEEKDAY_VOLUME = (1.25, 1.05, 1.0, 0.95, 0.85, 0.45, 0.40)
# Service areas by month: council tax bills go out in March, garden waste renews in spring,
# Christmas collections change, housing repairs peak in winter, parking and leisure in summer.
_AREA_WEIGHT = {
    "waste": 0.22,
    "council_tax": 0.20,
    "benefits": 0.10,
    "planning": 0.08,
    "housing": 0.10,
    "parking": 0.06,
    "environmental_health": 0.06,
    "licensing": 0.03,
    "leisure": 0.03,
    "general": 0.12,
}
_AREA_SEASON = {
    "council_tax": {3: 2.2, 4: 2.0, 5: 1.2},
    "waste": {2: 1.4, 3: 1.6, 4: 1.7, 5: 1.3, 12: 1.3, 1: 1.4},
    "housing": {11: 1.3, 12: 1.3, 1: 1.4, 2: 1.3},
    "parking": {6: 1.4, 7: 1.5, 8: 1.5},
    "leisure": {6: 1.5, 7: 1.6, 8: 1.6},
    "environmental_health": {6: 1.3, 7: 1.4, 8: 1.4},
    "benefits": {4: 1.2},
}
_SUBJECTS = {
    "waste": (
        "Missed bin collection",
        "Garden waste subscription renewal",
        "Request for a new recycling bin",
        "Bulky waste collection booking",
        "Christmas collection dates",
    ),
    "council_tax": (
        "Question about my council tax bill",
        "Moving home: council tax account",
        "Single person discount",
        "Setting up a direct debit for council tax",
        "Council tax reminder notice",
    ),
    "benefits": ("Housing benefit claim progress", "Council tax support application"),
    "planning": ("Planning application comment", "Pre-application advice", "Tree works query"),
    "housing": ("Housing register application", "Repair needed to council property"),
    "parking": ("Parking permit renewal", "Penalty charge notice appeal"),
    "environmental_health": ("Noise complaint", "Pest control visit", "Food hygiene concern"),
    "licensing": ("Taxi licence renewal", "Temporary event notice"),
    "leisure": ("Leisure centre booking", "Park facilities query"),
    "general": ("General enquiry", "Change of contact details", "Request for information"),
}
_STANDBY = (
    ("housing_repair", "housing", "Emergency plumber sent to the property"),
    ("dangerous_structure", "planning", "Building control officer called out"),
    ("stray_dog", "environmental_health", "Dog warden collected the dog"),
    ("noise_nuisance", "environmental_health", "Advice given; case passed to the noise team"),
    ("fly_tipping", "waste", "Hazard reported; street scene to clear"),
    ("homelessness", "housing", "Emergency accommodation arranged"),
    ("general", "general", "Advice given"),
)
_HOURS_CALLS = {9: 1.3, 10: 1.4, 11: 1.25, 12: 1.0, 13: 0.9, 14: 1.1, 15: 1.0, 16: 0.75}
_HOURS_VISITS = {9: 0.8, 10: 1.3, 11: 1.3, 12: 1.1, 13: 1.0, 14: 1.1, 15: 0.9, 16: 0.6}
_HOURS_ONLINE = {
    0: 0.2, 1: 0.1, 2: 0.07, 3: 0.05, 4: 0.05, 5: 0.1, 6: 0.3, 7: 0.6, 8: 0.9, 9: 1.2,
    10: 1.3, 11: 1.3, 12: 1.2, 13: 1.1, 14: 1.1, 15: 1.0, 16: 1.0, 17: 0.9, 18: 0.9,
    19: 1.0, 20: 1.0, 21: 0.8, 22: 0.5, 23: 0.3,
}  # fmt: skip
_HOURS_STANDBY = {
    0: 0.6, 1: 0.4, 2: 0.3, 3: 0.25, 4: 0.25, 5: 0.3, 6: 0.5, 7: 0.8, 8: 0.9, 9: 1.0,
    10: 1.0, 11: 1.0, 12: 1.0, 13: 1.0, 14: 1.0, 15: 1.0, 16: 1.0, 17: 1.3, 18: 1.4,
    19: 1.3, 20: 1.2, 21: 1.0, 22: 0.9, 23: 0.8,
}  # fmt: skip
_AGENTS = tuple(f"AG{n:03d}" for n in range(1, 26))
_OFFICERS = tuple(f"CO-{n:02d}" for n in range(1, 13))
_MANAGERS = tuple(f"CM-{n:02d}" for n in range(1, 5))  # stage 2 answers come from another officer


@dataclass(frozen=True, slots=True)
class Step:
    """One lifecycle step of an enquiry or a complaint: its path's last part and when."""

    action: str
    at: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The step's request body."""
        if self.action == "ombudsman-decision":
            return {"decided_at": self.at.isoformat(), **self.fields}
        return {"at": self.at.isoformat(), **self.fields}


@dataclass(frozen=True, slots=True)
class Feedback:
    """A resident's rating of an enquiry."""

    response_id: str
    score: int
    submitted_at: datetime

    def body(self, enquiry_id: str) -> dict[str, Any]:
        """The POST /v1/feedback body for the enquiry once created."""
        return {
            "response_id": self.response_id,
            "score": self.score,
            "enquiry_id": enquiry_id,
            "submitted_at": self.submitted_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class _Recorded:
    """A contact recorded with a description and lifecycle steps: an enquiry or a complaint."""

    channel: str
    service_area: str
    received_at: datetime
    description: str
    steps: tuple[Step, ...]
    customer: Mapping[str, str] | None = None

    @property
    def starts_at(self) -> datetime:
        """When the contact began."""
        return self.received_at

    def body(self) -> dict[str, Any]:
        """The body that records it: POST /v1/enquiries or POST /v1/complaints."""
        body: dict[str, Any] = {
            "channel": self.channel,
            "service_area": self.service_area,
            "received_at": self.received_at.isoformat(),
            "description": self.description,
        }
        if self.customer:
            body["customer"] = dict(self.customer)
        return body


@dataclass(frozen=True, slots=True)
class Enquiry(_Recorded):
    """An enquiry on any channel, with its lifecycle steps in order."""

    feedback: Feedback | None = None


def _raised(record: dict[str, Any], enquiry_id: str | None) -> dict[str, Any]:
    """A call's or visit's record, linked to the enquiry it raised (created first), if one."""
    return {**record, "enquiry_id": enquiry_id} if enquiry_id else record


@dataclass(frozen=True, slots=True)
class Call:
    """A telephony call record; an answered call may raise an enquiry (created first, linked)."""

    call_id: str
    offered_at: datetime
    answered_at: datetime | None
    abandoned_at: datetime | None
    ended_at: datetime
    service_area: str
    agent_id: str | None
    enquiry: Enquiry | None = None

    @property
    def starts_at(self) -> datetime:
        """When the contact began."""
        return self.offered_at

    @property
    def wait_seconds(self) -> float:
        """How long the caller waited, answered or not."""
        end = self.answered_at or self.abandoned_at
        assert end is not None
        return (end - self.offered_at).total_seconds()

    def body(self, enquiry_id: str | None = None) -> dict[str, Any]:
        """One record of a POST /v1/calls list."""
        body: dict[str, Any] = {
            "call_id": self.call_id,
            "offered_at": self.offered_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "queue": self.service_area.replace("_", "-"),
            "service_area": self.service_area,
        }
        if self.answered_at is not None:
            body["answered_at"] = self.answered_at.isoformat()
            body["agent_id"] = self.agent_id
        else:
            assert self.abandoned_at is not None
            body["abandoned_at"] = self.abandoned_at.isoformat()
        return _raised(body, enquiry_id)


@dataclass(frozen=True, slots=True)
class Visit:
    """A visitor at reception; some raise an enquiry (created first, linked)."""

    visit_id: str
    arrived_at: datetime
    attended_at: datetime
    service_area: str
    agent_id: str
    enquiry: Enquiry | None = None

    @property
    def starts_at(self) -> datetime:
        """When the contact began."""
        return self.arrived_at

    def body(self, enquiry_id: str | None = None) -> dict[str, Any]:
        """One record of a POST /v1/visits list."""
        body = {
            "visit_id": self.visit_id,
            "arrived_at": self.arrived_at.isoformat(),
            "attended_at": self.attended_at.isoformat(),
            "service_area": self.service_area,
            "agent_id": self.agent_id,
        }
        return _raised(body, enquiry_id)


@dataclass(frozen=True, slots=True)
class StandbyCall:
    """An out-of-hours call taken by the standby contractor; a follow-up opens an enquiry."""

    record_id: str
    call_started_at: datetime
    answered_at: datetime
    ended_at: datetime
    category: str
    service_area: str
    action_taken: str
    requires_follow_up: bool
    follow_up: tuple[Step, ...] = ()

    @property
    def starts_at(self) -> datetime:
        """When the contact began."""
        return self.call_started_at

    def body(self) -> dict[str, Any]:
        """One record of a POST /v1/standby/call-records list."""
        return {
            "record_id": self.record_id,
            "call_started_at": self.call_started_at.isoformat(),
            "answered_at": self.answered_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "category": self.category,
            "service_area": self.service_area,
            "action_taken": self.action_taken,
            "requires_follow_up": self.requires_follow_up,
        }


@dataclass(frozen=True, slots=True)
class Complaint(_Recorded):
    """A complaint with its steps through stage 1, stage 2 and the Ombudsman, in order."""

    @property
    def stages(self) -> int:
        """How many stages it reached: 1, 2 or 3 (the Ombudsman)."""
        return 1 + sum(1 for step in self.steps if step.action == "escalate")


Contact = Call | Visit | Enquiry | StandbyCall | Complaint


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (normal approximation for large means)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


_Choice = TypeVar("_Choice")


def _pick(rng: random.Random, weights: Mapping[_Choice, float]) -> _Choice:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class DemoYear:
    """A financial year of contacts at `scale` times a district; iterate it for the contacts."""

    def __init__(
        self,
        year: str = "2025-26",
        *,
        scale: float = 1.0,
        seed: int = 7,
        fraction: float = 1.0,
        calendar: WorkingCalendar | None = None,
        service_areas: Sequence[str] = DEFAULT_SERVICE_AREAS,
        volumes: Volumes = Volumes(),  # noqa: B008 - frozen
    ) -> None:
        if scale <= 0:
            raise ValueError("scale must be more than 0")
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be more than 0 and at most 1")
        self.year = year
        self.first_day, self.last_day = financial_year(year)
        self.scale = scale
        self.seed = seed
        self.fraction = fraction
        self.calendar = calendar or WorkingCalendar()
        self.zone = self.calendar.timezone
        self.service_areas = tuple(service_areas)
        self.volumes = volumes
        all_days = [
            self.first_day + timedelta(days=n)
            for n in range((self.last_day - self.first_day).days + 1)
        ]
        self.days = all_days[: max(1, math.ceil(len(all_days) * fraction))]
        self._means = self._daily_means(all_days)
        self._complaints_seen = 0
        # Telephony, kiosk, contractor and survey ids: the same seed and scale give the same
        # ids (a repeated load changes nothing there); another scale does not collide.
        self._prefix = f"demo{seed}x{scale:g}"

    # -- volumes --------------------------------------------------------------------------

    def _day_weights(self) -> dict[str, Callable[[date], float]]:
        working = self.calendar.is_working_day

        def after_holiday(day: date) -> float:
            before = day - timedelta(days=1)
            return 1.2 if day.weekday() == 1 and not working(before) else 1.0

        def office(day: date) -> float:
            if not working(day):
                return 0.0
            return _MONTH_VOLUME[day.month] * _WEEKDAY_VOLUME[day.weekday()] * after_holiday(day)

        def online(day: date) -> float:
            season = 1 + (_MONTH_VOLUME[day.month] - 1) * 0.5
            return season * (1.0 if day.weekday() < 5 else 0.5)

        def standby(day: date) -> float:
            winter = 1.3 if day.month in (11, 12, 1, 2) else 1.0
            return winter * (1.0 if working(day) else 2.2)

        def any_day(day: date) -> float:
            return 1.0 if working(day) else 0.3

        return {
            "calls": office,
            "visits": office,
            "letters": lambda day: 1.0 if working(day) else 0.0,
            "emails": online,
            "web_forms": online,
            "portal": online,
            "social_media": online,
            "voicemails": any_day,
            "standby_calls": standby,
            "complaints": any_day,
        }

    def annual_volumes(self) -> dict[str, float]:
        """Each stream's expected contacts in the whole year at this scale."""
        v = self.volumes
        others = (
            v.calls * 0.93 * v.phone_enquiry_share
            + v.emails
            + v.web_forms
            + v.letters
            + v.voicemails
            + v.social_media
            + v.visits * v.visit_enquiry_share
            + v.standby_calls * v.standby_follow_up_share
        )
        portal = others * v.portal_share / (1 - v.portal_share)
        return {
            name: volume * self.scale
            for name, volume in {
                "calls": v.calls,
                "visits": v.visits,
                "letters": v.letters,
                "emails": v.emails,
                "web_forms": v.web_forms,
                "portal": portal,
                "social_media": v.social_media,
                "voicemails": v.voicemails,
                "standby_calls": v.standby_calls,
                "complaints": v.complaints,
            }.items()
        }

    def _daily_means(self, days: Sequence[date]) -> dict[date, dict[str, float]]:
        weights = self._day_weights()
        means: dict[date, dict[str, float]] = {day: {} for day in days}
        for name, volume in self.annual_volumes().items():
            weight = weights[name]
            per_day = [weight(day) for day in days]
            total = sum(per_day)
            for day, w in zip(days, per_day, strict=True):
                means[day][name] = volume * w / total
        return means

    def expected_contacts(self) -> int:
        """How many contacts iterating is expected to yield (for a progress bar)."""
        return round(sum(sum(self._means[day].values()) for day in self.days))

    # -- the contacts ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[Contact]:
        self._complaints_seen = 0
        for day in self.days:
            yield from self.contacts_on(day)

    def contacts_on(self, day: date) -> list[Contact]:
        """One day's contacts in the order they began."""
        rng = random.Random(f"demo:{self.seed}:{day.isoformat()}")
        means = self._means[day]
        contacts: list[Contact] = []
        count = {name: _poisson(rng, mean) for name, mean in means.items()}
        # How busy the phones are today: the season, the weekday and the day's own luck.
        load = _MONTH_VOLUME[day.month] * _WEEKDAY_VOLUME[day.weekday()]
        load *= rng.lognormvariate(0, 0.12)
        contacts += (self._call(rng, day, n, load) for n in range(count["calls"]))
        contacts += (self._visit(rng, day, n) for n in range(count["visits"]))
        for channel, stream, hours in (
            ("email", "emails", _HOURS_ONLINE),
            ("web_form", "web_forms", _HOURS_ONLINE),
            ("portal", "portal", _HOURS_ONLINE),
            ("social_media", "social_media", _HOURS_ONLINE),
            ("letter", "letters", None),
            ("voicemail", "voicemails", None),
        ):
            for n in range(count[stream]):
                received_at = self._received(rng, day, channel, hours)
                contacts.append(self._enquiry(rng, channel, received_at, f"{day:%Y%m%d}-{n}"))
        contacts += (self._standby(rng, day, n) for n in range(count["standby_calls"]))
        for _ in range(count["complaints"]):
            self._complaints_seen += 1
            contacts.append(self._complaint(rng, day, self._complaints_seen))
        contacts.sort(key=lambda contact: contact.starts_at)
        return contacts

    # -- times ----------------------------------------------------------------------------

    def _local(self, day: date, hour: int, rng: random.Random) -> datetime:
        second = rng.randrange(3600)
        local = datetime.combine(day, time(hour, second // 60, second % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def _received(
        self, rng: random.Random, day: date, channel: str, hours: Mapping[int, float] | None
    ) -> datetime:
        if hours is not None:
            return self._local(day, _pick(rng, hours), rng)
        if channel == "letter":  # the post is opened in the morning
            return self._local(day, rng.choice((9, 9, 10, 10, 11)), rng)
        # Voicemail: left out of hours, or when the lines are busy.
        if not self.calendar.is_working_day(day) or rng.random() < 0.6:
            hours_out = {h: w for h, w in _HOURS_ONLINE.items() if not 9 <= h < 17}
            return self._local(day, _pick(rng, hours_out), rng)
        return self._local(day, _pick(rng, _HOURS_CALLS), rng)

    def _office_time(
        self, rng: random.Random, day: date, not_before: datetime, spread: float = 1.0
    ) -> datetime:
        """A moment in office hours on `day` (or the next working day) after `not_before`."""
        for _ in range(30):
            if self.calendar.is_working_day(day):
                opens = max(self.calendar.opening_time(day), not_before + timedelta(minutes=2))
                closes = self.calendar.closing_time(day) - timedelta(minutes=1)
                if opens < closes:
                    room = (closes - opens).total_seconds()
                    return opens + timedelta(seconds=room * rng.random() ** (1 / spread))
            day = self.calendar.next_working_day(day)
        raise AssertionError("no office hours within 30 working days")  # pragma: no cover

    def _within(
        self,
        rng: random.Random,
        start: datetime,
        working_days: int,
        not_before: datetime,
        *,
        on_time: float,
    ) -> datetime:
        """A step due `working_days` after `start`: on time with probability `on_time`."""
        receipt = self.calendar.receipt_day(start)
        if rng.random() < on_time:
            offset = min(working_days, int(rng.random() ** 1.8 * (working_days + 1)))
        else:
            offset = working_days + 1 + int(rng.expovariate(0.7))
        day = self.calendar.add_working_days(receipt, offset)
        return self._office_time(rng, day, not_before)

    # -- each kind of contact -------------------------------------------------------------

    def _area(self, rng: random.Random, month: int) -> str:
        weights = {
            area: _AREA_WEIGHT.get(area, 0.05) * _AREA_SEASON.get(area, {}).get(month, 1.0)
            for area in self.service_areas
        }
        return _pick(rng, weights)

    def _call(self, rng: random.Random, day: date, n: int, load: float) -> Call:
        hour = _pick(rng, _HOURS_CALLS)
        offered_at = self._local(day, hour, rng)
        busy = load * _HOURS_CALLS[hour]
        call_id = f"{self._prefix}-{day:%Y%m%d}-c{n}"
        area = self._area(rng, day.month)
        if rng.random() < 0.025:  # hung up at the recorded message: a short abandon
            abandoned_at = offered_at + timedelta(seconds=rng.uniform(2, 14))
            return Call(call_id, offered_at, None, abandoned_at, abandoned_at, area, None)
        if rng.random() < max(0.25, 0.78 - 0.33 * busy):
            wait = rng.uniform(1, 15)
        else:
            wait = 15 + rng.lognormvariate(math.log(108 * busy**0.6), 0.5)
        patience = 20 + rng.lognormvariate(math.log(380), 0.5)
        if wait > patience:
            abandoned_at = offered_at + timedelta(seconds=round(patience, 1))
            return Call(call_id, offered_at, None, abandoned_at, abandoned_at, area, None)
        answered_at = offered_at + timedelta(seconds=round(wait, 1))
        ended_at = answered_at + timedelta(seconds=30 + rng.lognormvariate(math.log(200), 0.6))
        enquiry = None
        if rng.random() < self.volumes.phone_enquiry_share:
            received_at = answered_at + timedelta(seconds=rng.uniform(20, 60))
            enquiry = self._enquiry(
                rng, "phone", received_at, call_id, area=area, ended_at=ended_at
            )
        return Call(
            call_id, offered_at, answered_at, None, ended_at, area, rng.choice(_AGENTS), enquiry
        )

    def _visit(self, rng: random.Random, day: date, n: int) -> Visit:
        arrived_at = self._local(day, _pick(rng, _HOURS_VISITS), rng)
        if rng.random() < 0.93:
            wait = rng.expovariate(1 / 110)
        else:
            wait = rng.lognormvariate(math.log(420), 0.5)
        attended_at = arrived_at + timedelta(seconds=round(wait))
        area = self._area(rng, day.month)
        enquiry = None
        visit_id = f"{self._prefix}-{day:%Y%m%d}-v{n}"
        if rng.random() < self.volumes.visit_enquiry_share:
            ended_at = attended_at + timedelta(minutes=rng.uniform(5, 25))
            enquiry = self._enquiry(
                rng, "face_to_face", attended_at, visit_id, area=area, ended_at=ended_at
            )
        return Visit(visit_id, arrived_at, attended_at, area, rng.choice(_AGENTS), enquiry)

    def _standby(self, rng: random.Random, day: date, n: int) -> StandbyCall:
        working = self.calendar.is_working_day(day)
        hours = {h: w for h, w in _HOURS_STANDBY.items() if not (working and 9 <= h < 17)}
        started_at = self._local(day, _pick(rng, hours), rng)
        while self.calendar.in_office_hours(started_at):  # a late opening or early closing
            started_at = self._local(day, _pick(rng, {h: 1.0 for h in range(0, 7)}), rng)
        answered_at = started_at + timedelta(seconds=round(rng.uniform(5, 40)))
        ended_at = answered_at + timedelta(seconds=round(rng.uniform(90, 720)))
        category, area, action = rng.choice(_STANDBY)
        if area not in self.service_areas:
            area = self.service_areas[-1]
        follow_up = rng.random() < self.volumes.standby_follow_up_share
        steps: tuple[Step, ...] = ()
        if follow_up:
            next_day = self.calendar.receipt_day(ended_at + timedelta(hours=1))
            if next_day == started_at.astimezone(self.zone).date():
                next_day = self.calendar.next_working_day(next_day)
            respond = self._office_time(rng, next_day, ended_at, spread=2.5)
            resolve_day = self.calendar.add_working_days(next_day, rng.choice((0, 0, 1, 2, 3)))
            resolve = self._office_time(rng, resolve_day, respond)
            steps = (
                Step("respond", respond),
                Step("resolve", resolve, {"first_point": False}),
            )
        return StandbyCall(
            f"{self._prefix}-{day:%Y%m%d}-s{n}",
            started_at,
            answered_at,
            ended_at,
            category,
            area,
            action,
            follow_up,
            steps,
        )

    def _enquiry(
        self,
        rng: random.Random,
        channel: str,
        received_at: datetime,
        key: str,
        *,
        area: str | None = None,
        ended_at: datetime | None = None,
    ) -> Enquiry:
        local_day = received_at.astimezone(self.zone).date()
        area = area or self._area(rng, local_day.month)
        first_point = rng.random() < FIRST_POINT.get(channel, 0.85)
        other_areas = [a for a in self.service_areas if a != area] or [area]
        hand_off = {"service_area": rng.choice(other_areas), "assignee_id": rng.choice(_AGENTS)}
        if channel in ("phone", "face_to_face"):
            assert ended_at is not None
            steps = self._in_person_steps(rng, received_at, ended_at, first_point, hand_off)
        else:
            steps = self._written_steps(rng, channel, received_at, first_point, hand_off)
        if rng.random() < REOPENED:
            steps += self._reopened_steps(rng, steps[-1].at)
        feedback = self._enquiry_feedback(rng, channel, steps[-1].at, key)
        customer = None
        if channel in ("email", "portal", "web_form") and rng.random() < 0.5:
            number = rng.randrange(1, 100_000)
            customer = {"name": f"Resident {number}", "email": f"resident{number}@example.org"}
        return Enquiry(
            channel,
            area,
            received_at,
            rng.choice(_SUBJECTS.get(area, _SUBJECTS["general"])),
            tuple(steps),
            customer,
            feedback,
        )

    def _in_person_steps(
        self,
        rng: random.Random,
        received_at: datetime,
        ended_at: datetime,
        first_point: bool,
        hand_off: dict[str, str],
    ) -> list[Step]:
        """A call or visit: resolved there and then, or handed off and answered later."""
        if first_point:
            return [Step("resolve", ended_at, {"first_point": True})]
        respond = self._within(rng, received_at, 5, ended_at, on_time=0.9)
        return [
            Step("assign", ended_at, hand_off),
            Step("respond", respond),
            Step("resolve", respond + timedelta(minutes=rng.uniform(1, 90)), {}),
        ]

    def _written_steps(
        self,
        rng: random.Random,
        channel: str,
        received_at: datetime,
        first_point: bool,
        hand_off: dict[str, str],
    ) -> list[Step]:
        """Email, forms, letters, voicemail: acknowledged as the channel's commitment says, then
        answered within its working days (mostly on time)."""
        steps: list[Step] = []
        last = received_at
        if channel == "email":
            last = self._within(
                rng, received_at, 1, received_at, on_time=ON_TIME["email-acknowledge"]
            )
            steps.append(Step("acknowledge", last))
        elif channel in ("web_form", "portal"):  # acknowledged automatically
            last = received_at + timedelta(seconds=rng.uniform(1, 30))
            steps.append(Step("acknowledge", last))
        elif channel == "letter" and rng.random() < 0.5:
            last = self._within(rng, received_at, 2, received_at, on_time=0.9)
            steps.append(Step("acknowledge", last))
        if not first_point:
            last = last + timedelta(minutes=rng.uniform(5, 120))
            steps.append(Step("assign", last, hand_off))
        respond_days, on_time = {
            "email": (3, ON_TIME["email-respond"]),
            "letter": (10, ON_TIME["letter-respond"]),
            "voicemail": (1, ON_TIME["voicemail-respond"]),
        }.get(channel, (4, 0.9))
        respond = self._within(rng, received_at, respond_days, last, on_time=on_time)
        steps.append(Step("respond", respond))
        resolve = respond + timedelta(minutes=rng.uniform(0, 240))
        steps.append(Step("resolve", resolve, {"first_point": first_point}))
        return steps

    def _reopened_steps(self, rng: random.Random, resolved_at: datetime) -> list[Step]:
        """The resident comes back three working days after the answer; answered again."""
        reopen = self._office_time(
            rng,
            self.calendar.add_working_days(resolved_at.astimezone(self.zone).date(), 3),
            resolved_at,
        )
        again = self._within(rng, reopen, 3, reopen, on_time=0.9)
        return [
            Step("reopen", reopen),
            Step("respond", again),
            Step("resolve", again + timedelta(minutes=30), {"first_point": False}),
        ]

    def _enquiry_feedback(
        self, rng: random.Random, channel: str, resolved_at: datetime, key: str
    ) -> Feedback | None:
        """A satisfaction score for some online and phone enquiries, after the last step."""
        share = (
            self.volumes.feedback_share
            if channel in ("web_form", "portal")
            else self.volumes.phone_feedback_share
        )
        if channel not in ("web_form", "portal", "phone") or rng.random() >= share:
            return None
        score = rng.choices(range(1, 6), weights=FEEDBACK_WEIGHTS)[0]
        submitted = resolved_at + timedelta(hours=rng.uniform(0.1, 48))
        return Feedback(f"{self._prefix}-fb-{channel}-{key}", score, submitted)

    def _complaint(self, rng: random.Random, day: date, number: int) -> Complaint:
        channel = _pick(
            rng, {"email": 0.4, "web_form": 0.3, "phone": 0.15, "letter": 0.1, "face_to_face": 0.05}
        )
        hours = _HOURS_CALLS if channel in ("phone", "face_to_face") else _HOURS_ONLINE
        if channel in ("phone", "face_to_face") and not self.calendar.is_working_day(day):
            channel = "email"
            hours = _HOURS_ONLINE
        received_at = self._local(day, _pick(rng, hours), rng)
        area = self._area(rng, day.month)
        # The year's first complaint reaches the Ombudsman and its second stage 2, so that even
        # a small scale shows every stage; the rest escalate at the usual rates.
        stage_2 = number in (1, 2) or rng.random() < self.volumes.stage_2_share
        ombudsman = number == 1 or (stage_2 and rng.random() < self.volumes.ombudsman_share)
        steps: list[Step] = []
        started = received_at
        officer = rng.choice(_OFFICERS)
        for stage, respond_days in (("stage_1", 10), ("stage_2", 20)):
            escalate = stage_2 if stage == "stage_1" else ombudsman
            stage_steps = self._complaint_stage(
                rng, stage, respond_days, started, officer, escalate=escalate
            )
            steps += stage_steps
            if not escalate:
                break
            started = stage_steps[-1].at
            officer = rng.choice(_MANAGERS)
        if ombudsman:
            decided = started + timedelta(days=rng.uniform(50, 110))
            outcome = rng.choices(
                ("upheld", "partly_upheld", "not_upheld"), weights=OUTCOMES["ombudsman"]
            )[0]
            steps.append(
                Step(
                    "ombudsman-decision",
                    decided,
                    {"outcome": outcome, "summary": "The Ombudsman's decision"},
                )
            )
        customer = {"name": f"Resident {number}", "email": f"complainant{number}@example.org"}
        return Complaint(
            channel,
            area,
            received_at,
            f"Complaint about {rng.choice(_SUBJECTS.get(area, _SUBJECTS['general'])).lower()}",
            tuple(steps),
            customer,
        )

    def _complaint_stage(
        self,
        rng: random.Random,
        stage: str,
        respond_days: int,
        started: datetime,
        officer: str,
        *,
        escalate: bool,
    ) -> list[Step]:
        """One stage: acknowledged, perhaps extended, answered, then closed or escalated (the
        escalation, the last step, starts the next stage)."""
        acknowledge = self._within(
            rng, started, 3, started, on_time=ON_TIME["complaint-acknowledge"]
        )
        steps = [Step("acknowledge", acknowledge, {"officer": officer})]
        last = acknowledge
        extension = 0
        if rng.random() < 0.08:
            extension = rng.choice((5, 10))
            last = self._office_time(rng, self.calendar.receipt_day(last), last)
            steps.append(
                Step(
                    "extend",
                    last,
                    {
                        "working_days": extension,
                        "reason": "Waiting for information from the service",
                        "officer": officer,
                    },
                )
            )
        key = "complaint-respond" if stage == "stage_1" else "complaint-respond-stage2"
        respond = self._within(rng, started, respond_days + extension, last, on_time=ON_TIME[key])
        outcome = rng.choices(("upheld", "partly_upheld", "not_upheld"), weights=OUTCOMES[stage])[0]
        steps.append(
            Step(
                "respond",
                respond,
                {"officer": officer, "outcome": outcome, "summary": f"Response at {stage}"},
            )
        )
        if not escalate:
            close = self._office_time(
                rng,
                self.calendar.add_working_days(self.calendar.receipt_day(respond), 3),
                respond,
            )
            steps.append(Step("close", close, {"officer": officer, "reason": "Answered"}))
            return steps
        wait_days = rng.randint(2, 12) if stage == "stage_1" else rng.randint(10, 40)
        ask_day = self.calendar.add_working_days(self.calendar.receipt_day(respond), wait_days)
        escalated = self._office_time(rng, ask_day, respond)
        steps.append(Step("escalate", escalated, {"reason": "The customer is not satisfied"}))
        return steps


@dataclass
class Summary:
    """What a demo year holds, counted as metrics-api would count it."""

    contacts: int = 0
    calls: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    wait_sum: float = 0.0
    wait_max: float = 0.0
    over_ten_minutes: int = 0
    visits: int = 0
    standby: int = 0
    complaints: int = 0
    complaint_stages: dict[int, int] = field(default_factory=dict)
    enquiries: dict[str, int] = field(default_factory=dict)
    first_point: dict[str, int] = field(default_factory=dict)
    feedback: int = 0
    feedback_sum: int = 0
    by_month: dict[str, int] = field(default_factory=dict)

    def add(self, contact: Contact, zone: Any) -> None:
        """Counts one contact."""
        self.contacts += 1
        month = contact.starts_at.astimezone(zone).strftime("%Y-%m")
        self.by_month[month] = self.by_month.get(month, 0) + 1
        enquiry: Enquiry | None = None
        if isinstance(contact, Call):
            self.calls += 1
            if contact.answered_at:
                self.answered += 1
                self.wait_sum += contact.wait_seconds
                self.wait_max = max(self.wait_max, contact.wait_seconds)
                self.over_ten_minutes += contact.wait_seconds >= 600
            else:
                self.abandoned += 1
                self.short_abandoned += contact.wait_seconds <= 15
            enquiry = contact.enquiry
        elif isinstance(contact, Visit):
            self.visits += 1
            enquiry = contact.enquiry
        elif isinstance(contact, StandbyCall):
            self.standby += 1
            if contact.requires_follow_up:
                self.enquiries["standby"] = self.enquiries.get("standby", 0) + 1
        elif isinstance(contact, Complaint):
            self.complaints += 1
            self.complaint_stages[contact.stages] = self.complaint_stages.get(contact.stages, 0) + 1
        else:
            enquiry = contact
        if enquiry is not None:
            channel = enquiry.channel
            self.enquiries[channel] = self.enquiries.get(channel, 0) + 1
            reopened = any(step.action == "reopen" for step in enquiry.steps)
            first = any(step.fields.get("first_point") for step in enquiry.steps)
            self.first_point[channel] = self.first_point.get(channel, 0) + (first and not reopened)
            if enquiry.feedback:
                self.feedback += 1
                self.feedback_sum += enquiry.feedback.score

    @property
    def mean_wait(self) -> float:
        """Mean wait of answered calls, in seconds."""
        return self.wait_sum / self.answered if self.answered else 0.0

    @property
    def feedback_mean(self) -> float:
        """Mean feedback score."""
        return self.feedback_sum / self.feedback if self.feedback else 0.0

    @property
    def first_point_rate(self) -> float:
        """Enquiries resolved at first point / enquiries, all channels."""
        total = sum(self.enquiries.values())
        return sum(self.first_point.values()) / total if total else 0.0

    @property
    def portal_share(self) -> float:
        """Portal enquiries / all enquiries."""
        total = sum(self.enquiries.values())
        return self.enquiries.get("portal", 0) / total if total else 0.0


def summarise(year: DemoYear) -> Summary:
    """Counts a demo year without keeping it in memory."""
    summary = Summary()
    for contact in year:
        summary.add(contact, year.zone)
    return summary
