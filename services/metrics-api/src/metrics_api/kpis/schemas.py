"""Responses of the KPI endpoints: the OpenAPI contract. Every table's rows are flat, so the same
rows are the CSV (`?format=csv`) that a spreadsheet opens as it is."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from metrics_api.kpis.domain import Breakdown, Direction, Interval, Rag

SliceStart = Annotated[date, Field(description="First local date of the slice.")]
SliceEnd = Annotated[date, Field(description="Last local date of the slice.")]


class Format(StrEnum):
    """How a table is returned."""

    json = "json"
    csv = "csv"


class PeriodOut(BaseModel):
    """The period the figures cover, in local dates (Europe/London), both ends included."""

    label: str = Field(description="2026-27, 2026-27-Q1, or from..to.")
    kind: str = Field(description="financial_year, quarter or range.")
    start: date = Field(description="First local date of the period.")
    end: date = Field(description="Last local date of the period (included).")
    financial_year: str = Field(description="The financial year whose targets apply.")


class ScorecardRow(BaseModel):
    """One KPI of the score card."""

    kpi: str = Field(description="The KPI's reference, e.g. CX03 or call-wait-mean.")
    title: str = Field(description="What the KPI measures, in the service plan's words.")
    unit: str = Field(description="percent, score (1-5) or seconds.")
    direction: Direction = Field(description="Whether higher or lower is better.")
    target: float | None = Field(description="The target for the period's financial year.")
    target_year: str | None = Field(description="The financial year the target was set for.")
    actual: float | None = Field(description="The figure for the period; null with no data.")
    numerator: float | None = Field(description="What the actual is made of: the count or sum.")
    denominator: float | None = Field(description="...divided by this count.")
    status: Rag = Field(description="green, amber, red, no_data or no_target.")
    status_text: str = Field(description="The status in words (never colour alone).")


class Scorecard(BaseModel):
    """The KPI score card for a period."""

    period: PeriodOut
    service_area: str | None = Field(description="The service area it is limited to, if any.")
    amber_band_percent: float = Field(
        description="A KPI missing its target by no more than this share of it is amber."
    )
    rows: list[ScorecardRow]


class KpiRow(BaseModel):
    """One figure of one KPI, for a channel or service area when broken down."""

    kpi: str = Field(description="The KPI's reference.")
    title: str = Field(description="What it measures.")
    unit: str = Field(description="percent, score, seconds or count.")
    channel: str | None = Field(description="The channel, when broken down by channel.")
    service_area: str | None = Field(description="The service area, when broken down by it.")
    numerator: float | None = Field(description="The count or sum the value is made of.")
    denominator: float | None = Field(description="The count it is divided by, for a rate.")
    value: float | None = Field(description="The figure; null with nothing to divide by.")


class KpiTable(BaseModel):
    """Every metric of the design for a period."""

    period: PeriodOut
    by: Breakdown
    rows: list[KpiRow]


class SlaRow(BaseModel):
    """Compliance with one commitment for deadlines falling in a slice of the period."""

    commitment: str = Field(description="The commitment's id, e.g. email-acknowledge; all = total.")
    start: SliceStart
    end: SliceEnd
    met: int = Field(description="Clocks met whose deadline fell in the slice.")
    breached: int = Field(description="Clocks breached whose deadline fell in the slice.")
    compliance_percent: float | None = Field(description="met / (met + breached), as a percent.")


class SlaCompliance(BaseModel):
    """SLA compliance per commitment."""

    period: PeriodOut
    interval: Interval
    rows: list[SlaRow]


class WaitRow(BaseModel):
    """Call figures for one channel over a slice of the period (calls by the day offered)."""

    channel: str = Field(description="phone (the contact centre) or standby (out of hours).")
    start: SliceStart
    end: SliceEnd
    offered: int = Field(description="Calls offered.")
    answered: int = Field(description="Calls answered.")
    abandoned: int = Field(description="Calls abandoned, short abandons included.")
    short_abandoned: int = Field(description="Calls abandoned within the answer target.")
    abandonment_rate_percent: float | None = Field(description="abandoned / offered.")
    service_level_calls: int = Field(
        description="Office-hours calls the service level is of: answered, plus abandoned "
        "after the target (short abandons excluded)."
    )
    answered_within_target: int = Field(description="Of those, answered within the target.")
    service_level_percent: float | None = Field(
        description="answered_within_target / service_level_calls (the phone-answer target)."
    )
    mean_wait_seconds: float | None = Field(description="Mean wait of answered calls.")
    median_wait_seconds: float | None = Field(description="Median wait of answered calls.")
    p90_wait_seconds: float | None = Field(description="90th percentile wait of answered calls.")
    max_wait_seconds: float | None = Field(description="Longest wait of an answered call.")
    mean_target_seconds: float | None = Field(description="The mean wait target for the year.")
    max_target_seconds: float | None = Field(description="The longest wait allowed.")


class WaitTimes(BaseModel):
    """Call wait times, service level and abandonment."""

    period: PeriodOut
    interval: Interval
    rows: list[WaitRow]


class ChannelRow(BaseModel):
    """Volume and cost of one channel, and its shift from the previous period."""

    channel: str = Field(description="The channel; all = every channel together.")
    contacts: int = Field(
        description="Contacts: calls offered (phone, standby), visits (face_to_face), "
        "enquiries (every other channel)."
    )
    share_percent: float | None = Field(description="This channel's share of all contacts.")
    enquiries: int = Field(description="Enquiries received by this channel.")
    unit_cost: float | None = Field(description="Cost of one contact, in pounds.")
    cost: float = Field(description="contacts x unit cost, in pounds.")
    previous_contacts: int = Field(description="Contacts in the previous period.")
    previous_cost: float = Field(description="Cost in the previous period, in pounds.")
    change_percent: float | None = Field(
        description="Channel shift: change in contacts from the previous period, in percent."
    )


class Channels(BaseModel):
    """Channel mix, cost and shift."""

    period: PeriodOut
    previous_period: PeriodOut
    rows: list[ChannelRow]


class BreachRow(BaseModel):
    """A breached commitment with no stop yet."""

    clock_id: UUID
    commitment: str
    contact_type: str = Field(description="enquiry, call, visit or complaint.")
    contact_id: UUID = Field(description="The contact to chase.")
    channel: str
    service_area: str | None
    started_at: datetime
    due_at: datetime
    breached_at: datetime
    overdue_seconds: float = Field(description="Seconds since the deadline, at the time of asking.")


class Breaches(BaseModel):
    """The open breaches to chase, the longest overdue first."""

    count: int = Field(
        description="How many open breaches match the filters in all, on every page (the rows "
        "here are at most `limit` of them)."
    )
    rows: list[BreachRow]
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` (with the same filters) for the next rows; null after the "
        "last.",
    )
