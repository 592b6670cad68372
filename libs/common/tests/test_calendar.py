"""Tests for the working-day calendar (DESIGN.md, "The commitments")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact_common.calendar import CalendarError, OfficeHours, WorkingCalendar

LONDON = ZoneInfo("Europe/London")
ENG = WorkingCalendar()
SCT = WorkingCalendar(subdivision="SCT")
WLS = WorkingCalendar(subdivision="WLS")
NIR = WorkingCalendar(subdivision="NIR")


def london(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=LONDON)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


def local_date(instant: datetime, cal: WorkingCalendar = ENG) -> date:
    return instant.astimezone(cal.timezone).date()


# -- bank holidays ------------------------------------------------------------------------


class TestEnglandBankHolidays:
    @pytest.mark.parametrize(
        ("day", "name"),
        [
            (date(2026, 4, 3), "Good Friday"),
            (date(2026, 4, 6), "Easter Monday"),
            (date(2026, 5, 4), "May Day"),
            (date(2026, 5, 25), "Spring Bank Holiday"),
            (date(2026, 8, 31), "Late Summer Bank Holiday"),
            (date(2026, 12, 25), "Christmas Day"),
            (date(2026, 12, 28), "Boxing Day (observed)"),
            (date(2022, 12, 27), "Christmas Day (observed)"),
            (date(2022, 1, 3), "New Year's Day (observed)"),
            (date(2022, 6, 2), "Spring Bank Holiday"),
            (date(2022, 6, 3), "Platinum Jubilee of Elizabeth II"),
            (date(2022, 9, 19), "State Funeral of Queen Elizabeth II"),
            (date(2023, 5, 8), "Coronation of Charles III"),
        ],
    )
    def test_bank_holiday_is_not_a_working_day(self, day: date, name: str) -> None:
        assert day.weekday() < 5
        assert not ENG.is_working_day(day)
        assert ENG.holiday_name(day) == name

    def test_easter_monday_and_august_bank_holiday(self) -> None:
        assert not ENG.is_working_day(date(2026, 4, 6))
        assert not ENG.is_working_day(date(2026, 8, 31))
        assert ENG.is_working_day(date(2026, 4, 7))
        assert ENG.is_working_day(date(2026, 8, 28))

    def test_christmas_2022_on_sunday_substitutes_tuesday(self) -> None:
        assert date(2022, 12, 25).weekday() == 6
        assert not ENG.is_working_day(date(2022, 12, 26))
        assert not ENG.is_working_day(date(2022, 12, 27))
        assert ENG.is_working_day(date(2022, 12, 28))

    def test_new_year_2022_on_saturday_substitutes_monday(self) -> None:
        assert date(2022, 1, 1).weekday() == 5
        assert not ENG.is_working_day(date(2022, 1, 3))
        assert ENG.is_working_day(date(2022, 1, 4))

    def test_2022_spring_bank_holiday_moved_for_the_jubilee(self) -> None:
        # The last Monday of May 2022 was an ordinary day: the holiday moved to 2 June.
        assert ENG.is_working_day(date(2022, 5, 30))
        assert not ENG.is_working_day(date(2022, 6, 2))
        assert not ENG.is_working_day(date(2022, 6, 3))

    def test_one_off_2022_and_2023_holidays(self) -> None:
        assert not ENG.is_working_day(date(2022, 9, 19))
        assert not ENG.is_working_day(date(2023, 5, 8))
        assert ENG.holiday_name(date(2023, 5, 9)) is None

    def test_weekend_is_not_working_but_has_no_holiday_name(self) -> None:
        assert not ENG.is_working_day(date(2026, 6, 6))
        assert not ENG.is_working_day(date(2026, 6, 7))
        assert ENG.holiday_name(date(2026, 6, 6)) is None
        assert ENG.is_working_day(date(2026, 6, 8))

    def test_no_subdivision_omits_easter_monday_and_august_bank_holiday(self) -> None:
        gb = WorkingCalendar(subdivision=None)
        assert gb.is_working_day(date(2026, 4, 6))
        assert gb.is_working_day(date(2026, 8, 31))
        assert not gb.is_working_day(date(2026, 4, 3))


class TestOtherNations:
    def test_scotland_second_of_january(self) -> None:
        assert not SCT.is_working_day(date(2026, 1, 2))
        assert ENG.is_working_day(date(2026, 1, 2))

    def test_scotland_st_andrews_day_substitute(self) -> None:
        # 30 Nov 2025 is a Sunday, so Scotland takes Monday 1 December.
        assert date(2025, 11, 30).weekday() == 6
        assert not SCT.is_working_day(date(2025, 12, 1))
        assert ENG.is_working_day(date(2025, 12, 1))
        assert not SCT.is_working_day(date(2026, 11, 30))
        assert ENG.is_working_day(date(2026, 11, 30))

    def test_scotland_august_bank_holiday_is_first_monday(self) -> None:
        assert not SCT.is_working_day(date(2026, 8, 3))
        assert SCT.is_working_day(date(2026, 8, 31))
        assert ENG.is_working_day(date(2026, 8, 3))
        assert not ENG.is_working_day(date(2026, 8, 31))

    def test_scotland_has_no_easter_monday(self) -> None:
        assert SCT.is_working_day(date(2026, 4, 6))
        assert not SCT.is_working_day(date(2026, 4, 3))

    def test_wales_matches_england(self) -> None:
        day = date(2020, 1, 1)
        while day <= date(2030, 12, 31):
            assert WLS.is_working_day(day) == ENG.is_working_day(day), day
            day += timedelta(days=1)

    def test_northern_ireland_st_patricks_day(self) -> None:
        assert not NIR.is_working_day(date(2026, 3, 17))
        assert NIR.holiday_name(date(2026, 3, 17)) == "Saint Patrick's Day"
        assert ENG.is_working_day(date(2026, 3, 17))
        # 12 July 2026 is a Sunday: the Battle of the Boyne holiday moves to Monday.
        assert not NIR.is_working_day(date(2026, 7, 13))
        assert ENG.is_working_day(date(2026, 7, 13))

    def test_subdivision_alias_accepted(self) -> None:
        assert not WorkingCalendar(subdivision="Scotland").is_working_day(date(2026, 1, 2))


# -- receipt and deadlines ----------------------------------------------------------------


class TestFridayBeforeBankHolidayMonday:
    """DESIGN.md: Friday 16:00 -> Tuesday 17:00; Friday 17:30 -> Wednesday 17:00."""

    @pytest.mark.parametrize(
        ("friday", "tuesday", "wednesday"),
        [
            (date(2026, 5, 22), date(2026, 5, 26), date(2026, 5, 27)),
            (date(2026, 8, 28), date(2026, 9, 1), date(2026, 9, 2)),
        ],
    )
    @pytest.mark.parametrize(
        ("received", "due_on"),
        [
            (time(16, 0), "tuesday"),
            (time(16, 59, 59, 999999), "tuesday"),
            (time(17, 0), "wednesday"),
            (time(17, 30), "wednesday"),
        ],
    )
    def test_one_working_day(
        self, friday: date, tuesday: date, wednesday: date, received: time, due_on: str
    ) -> None:
        assert friday.weekday() == 4
        assert not ENG.is_working_day(friday + timedelta(days=3))
        expected_day = tuesday if due_on == "tuesday" else wednesday
        due = ENG.deadline(datetime.combine(friday, received, tzinfo=LONDON), 1)
        assert due.tzinfo is UTC
        assert due.astimezone(LONDON) == datetime.combine(expected_day, time(17), tzinfo=LONDON)
        # Both dates are in British Summer Time, so 17:00 London is 16:00 UTC.
        assert due == datetime.combine(expected_day, time(16), tzinfo=UTC)

    def test_may_examples_to_the_minute(self) -> None:
        assert ENG.deadline(london(2026, 5, 22, 16, 0), 1) == utc(2026, 5, 26, 16, 0)
        assert ENG.deadline(london(2026, 5, 22, 17, 30), 1) == utc(2026, 5, 27, 16, 0)
        assert ENG.deadline(london(2026, 5, 22, 17, 0), 1) == utc(2026, 5, 27, 16, 0)


class TestReceiptDay:
    def test_before_opening_counts_that_day(self) -> None:
        assert ENG.receipt_day(london(2026, 6, 8, 7, 0)) == date(2026, 6, 8)
        assert ENG.receipt_day(london(2026, 6, 8, 0, 0)) == date(2026, 6, 8)
        assert ENG.deadline(london(2026, 6, 8, 7, 0), 1) == utc(2026, 6, 9, 16, 0)

    def test_during_hours_counts_that_day(self) -> None:
        assert ENG.receipt_day(london(2026, 6, 8, 12, 0)) == date(2026, 6, 8)

    def test_at_or_after_closing_counts_next_working_day(self) -> None:
        assert ENG.receipt_day(london(2026, 6, 8, 17, 0)) == date(2026, 6, 9)
        assert ENG.receipt_day(london(2026, 6, 8, 23, 59)) == date(2026, 6, 9)
        assert ENG.deadline(london(2026, 6, 8, 17, 0), 1) == utc(2026, 6, 10, 16, 0)

    def test_friday_after_closing_counts_monday(self) -> None:
        assert ENG.receipt_day(london(2026, 6, 5, 18, 0)) == date(2026, 6, 8)

    @pytest.mark.parametrize("weekend_day", [date(2026, 6, 6), date(2026, 6, 7)])
    def test_weekend_counts_monday(self, weekend_day: date) -> None:
        received = datetime.combine(weekend_day, time(10), tzinfo=LONDON)
        assert ENG.receipt_day(received) == date(2026, 6, 8)
        assert ENG.deadline(received, 0) == utc(2026, 6, 8, 16, 0)
        assert ENG.deadline(received, 1) == utc(2026, 6, 9, 16, 0)

    @pytest.mark.parametrize("weekend_day", [date(2026, 5, 23), date(2026, 5, 24)])
    def test_weekend_before_bank_holiday_counts_tuesday(self, weekend_day: date) -> None:
        received = datetime.combine(weekend_day, time(10), tzinfo=LONDON)
        assert ENG.receipt_day(received) == date(2026, 5, 26)
        assert ENG.deadline(received, 1) == utc(2026, 5, 27, 16, 0)

    def test_bank_holiday_counts_next_working_day(self) -> None:
        assert ENG.receipt_day(london(2026, 5, 25, 10, 0)) == date(2026, 5, 26)

    def test_zero_working_days_is_closing_on_receipt_day(self) -> None:
        assert ENG.deadline(london(2026, 6, 8, 10, 0), 0) == utc(2026, 6, 8, 16, 0)


class TestClockChanges:
    def test_deadline_across_march_change_is_17_bst(self) -> None:
        # Received Friday 27 March 2026 in GMT; the clocks go forward on Sunday 29 March.
        received = utc(2026, 3, 27, 10, 0)
        assert received.astimezone(LONDON).utcoffset() == timedelta(0)
        due = ENG.deadline(received, 1)
        assert due == utc(2026, 3, 30, 16, 0)
        assert due.astimezone(LONDON) == london(2026, 3, 30, 17, 0)
        assert due.astimezone(LONDON).utcoffset() == timedelta(hours=1)

    def test_deadline_across_october_change_is_17_gmt(self) -> None:
        # Received Friday 23 October 2026 in BST; the clocks go back on Sunday 25 October.
        received = london(2026, 10, 23, 10, 0)
        assert received.utcoffset() == timedelta(hours=1)
        due = ENG.deadline(received, 1)
        assert due == utc(2026, 10, 26, 17, 0)
        assert due.astimezone(LONDON) == london(2026, 10, 26, 17, 0)

    def test_deadline_received_on_change_sundays(self) -> None:
        assert ENG.deadline(utc(2026, 3, 29, 12, 0), 0) == utc(2026, 3, 30, 16, 0)
        assert ENG.deadline(utc(2026, 10, 25, 12, 0), 0) == utc(2026, 10, 26, 17, 0)

    def test_closing_times_either_side_of_the_changes(self) -> None:
        assert ENG.closing_time(date(2026, 3, 27)) == utc(2026, 3, 27, 17, 0)
        assert ENG.closing_time(date(2026, 3, 30)) == utc(2026, 3, 30, 16, 0)
        assert ENG.opening_time(date(2026, 3, 30)) == utc(2026, 3, 30, 8, 0)
        assert ENG.closing_time(date(2026, 10, 23)) == utc(2026, 10, 23, 16, 0)
        assert ENG.closing_time(date(2026, 10, 26)) == utc(2026, 10, 26, 17, 0)
        assert ENG.opening_time(date(2026, 10, 26)) == utc(2026, 10, 26, 9, 0)
        assert ENG.closing_time(date(2026, 3, 30)).tzinfo is UTC

    def test_1630_utc_in_summer_is_after_closing(self) -> None:
        received = utc(2026, 6, 10, 16, 30)  # 17:30 BST on a Wednesday
        assert ENG.receipt_day(received) == date(2026, 6, 11)
        assert ENG.deadline(received, 1) == utc(2026, 6, 12, 16, 0)

    def test_1630_utc_in_winter_is_before_closing(self) -> None:
        received = utc(2026, 12, 9, 16, 30)  # 16:30 GMT on a Wednesday
        assert ENG.receipt_day(received) == date(2026, 12, 9)
        assert ENG.deadline(received, 1) == utc(2026, 12, 10, 17, 0)

    @pytest.mark.parametrize(
        ("at", "expected"),
        [
            # Friday 27 March 2026, GMT.
            (utc(2026, 3, 27, 8, 59), False),
            (utc(2026, 3, 27, 9, 0), True),
            (utc(2026, 3, 27, 16, 59), True),
            (utc(2026, 3, 27, 17, 0), False),
            # Sunday 29 March 2026, the change itself: not a working day.
            (utc(2026, 3, 29, 10, 0), False),
            # Monday 30 March 2026, BST.
            (utc(2026, 3, 30, 7, 59), False),
            (utc(2026, 3, 30, 8, 0), True),
            (utc(2026, 3, 30, 15, 59), True),
            (utc(2026, 3, 30, 16, 0), False),
            (utc(2026, 3, 30, 16, 30), False),
            # Friday 23 October 2026, BST.
            (utc(2026, 10, 23, 8, 0), True),
            (utc(2026, 10, 23, 16, 0), False),
            # Monday 26 October 2026, GMT.
            (utc(2026, 10, 26, 8, 0), False),
            (utc(2026, 10, 26, 9, 0), True),
            (utc(2026, 10, 26, 16, 30), True),
            (utc(2026, 10, 26, 17, 0), False),
        ],
    )
    def test_in_office_hours_either_side_of_the_changes(self, at: datetime, expected: bool) -> None:
        assert ENG.in_office_hours(at) is expected

    def test_in_office_hours_accepts_any_aware_zone(self) -> None:
        new_york = ZoneInfo("America/New_York")
        # 10:00 New York on 10 June 2026 is 15:00 BST.
        assert ENG.in_office_hours(datetime(2026, 6, 10, 10, 0, tzinfo=new_york))
        assert not ENG.in_office_hours(datetime(2026, 6, 10, 12, 0, tzinfo=new_york))

    def test_in_office_hours_false_on_bank_holiday(self) -> None:
        assert not ENG.in_office_hours(london(2026, 5, 25, 10, 0))


class TestConfiguration:
    def test_closure_day_is_skipped(self) -> None:
        cal = WorkingCalendar(closure_days=[date(2026, 12, 24)])
        assert not cal.is_working_day(date(2026, 12, 24))
        assert cal.holiday_name(date(2026, 12, 24)) == "council closure"
        assert ENG.is_working_day(date(2026, 12, 24))
        received = london(2026, 12, 23, 10, 0)
        assert ENG.deadline(received, 1) == utc(2026, 12, 24, 17, 0)
        assert cal.deadline(received, 1) == utc(2026, 12, 29, 17, 0)
        assert cal.receipt_day(london(2026, 12, 24, 10, 0)) == date(2026, 12, 29)
        assert not cal.in_office_hours(london(2026, 12, 24, 10, 0))

    def test_closure_on_bank_holiday_keeps_bank_holiday_name(self) -> None:
        cal = WorkingCalendar(closure_days=[date(2026, 12, 25)])
        assert cal.holiday_name(date(2026, 12, 25)) == "Christmas Day"

    def test_custom_office_hours(self) -> None:
        cal = WorkingCalendar(office_hours=OfficeHours(opens=time(8, 30), closes=time(17, 30)))
        assert cal.office_hours == OfficeHours(time(8, 30), time(17, 30))
        assert cal.receipt_day(london(2026, 6, 8, 17, 15)) == date(2026, 6, 8)
        assert cal.receipt_day(london(2026, 6, 8, 17, 30)) == date(2026, 6, 9)
        assert cal.deadline(london(2026, 6, 8, 17, 15), 1) == utc(2026, 6, 9, 16, 30)
        assert cal.in_office_hours(london(2026, 6, 8, 8, 30))
        assert not cal.in_office_hours(london(2026, 6, 8, 8, 29))
        assert cal.in_office_hours(london(2026, 6, 8, 17, 29))
        assert not cal.in_office_hours(london(2026, 6, 8, 17, 30))
        assert cal.opening_time(date(2026, 12, 8)) == utc(2026, 12, 8, 8, 30)

    def test_custom_timezone(self) -> None:
        cal = WorkingCalendar(timezone="America/New_York")
        assert cal.timezone == ZoneInfo("America/New_York")
        # 17:00 EDT is 21:00 UTC.
        assert cal.closing_time(date(2026, 6, 10)) == utc(2026, 6, 10, 21, 0)
        assert cal.receipt_day(utc(2026, 6, 10, 20, 30)) == date(2026, 6, 10)

    def test_defaults(self) -> None:
        assert ENG.office_hours == OfficeHours(time(9), time(17))
        assert ENG.timezone == LONDON

    def test_invalid_subdivision_raises(self) -> None:
        with pytest.raises(CalendarError, match="XXX"):
            WorkingCalendar(subdivision="XXX")

    def test_invalid_country_raises(self) -> None:
        with pytest.raises(CalendarError):
            WorkingCalendar(country="ZZ")

    def test_invalid_timezone_raises(self) -> None:
        with pytest.raises(CalendarError, match="Mars/Olympus"):
            WorkingCalendar(timezone="Mars/Olympus")

    @pytest.mark.parametrize(
        ("opens", "closes"), [(time(17), time(9)), (time(9), time(9)), (time(17), time(17))]
    )
    def test_opens_not_before_closes_raises(self, opens: time, closes: time) -> None:
        with pytest.raises(CalendarError):
            OfficeHours(opens=opens, closes=closes)

    def test_aware_office_hours_raise(self) -> None:
        with pytest.raises(CalendarError):
            OfficeHours(opens=time(9, tzinfo=UTC))

    def test_calendar_error_is_value_error(self) -> None:
        assert issubclass(CalendarError, ValueError)

    def test_closure_days_must_be_dates(self) -> None:
        with pytest.raises(CalendarError):
            WorkingCalendar(closure_days=[datetime(2026, 12, 24, tzinfo=UTC)])


class TestArgumentChecks:
    @pytest.mark.parametrize(
        ("call", "name"),
        [
            (lambda: ENG.deadline(datetime(2026, 6, 8, 10), 1), "received_at"),
            (lambda: ENG.receipt_day(datetime(2026, 6, 8, 10)), "received_at"),
            (lambda: ENG.extend(datetime(2026, 6, 8, 17), 1), "due_at"),
            (lambda: ENG.in_office_hours(datetime(2026, 6, 8, 10)), "at"),
            (lambda: ENG.working_days_elapsed(datetime(2026, 6, 8), utc(2026, 6, 9)), "start"),
            (lambda: ENG.working_days_elapsed(utc(2026, 6, 8), datetime(2026, 6, 9)), "end"),
        ],
    )
    def test_naive_datetime_refused_naming_argument(self, call, name: str) -> None:
        with pytest.raises(CalendarError, match=rf"\b{name} must be timezone-aware"):
            call()

    @pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
    def test_bad_working_days_refused(self, bad) -> None:
        with pytest.raises(CalendarError, match="working_days"):
            ENG.deadline(utc(2026, 6, 8, 10), bad)
        with pytest.raises(CalendarError, match="working_days"):
            ENG.extend(utc(2026, 6, 8, 16), bad)
        with pytest.raises(CalendarError, match="working_days"):
            ENG.add_working_days(date(2026, 6, 8), bad)

    def test_datetime_refused_where_date_expected(self) -> None:
        with pytest.raises(CalendarError, match="day"):
            ENG.is_working_day(datetime(2026, 6, 8, tzinfo=UTC))
        with pytest.raises(CalendarError, match="day"):
            ENG.closing_time(datetime(2026, 6, 8, tzinfo=UTC))


class TestDayArithmetic:
    def test_next_working_day_is_strictly_after(self) -> None:
        assert ENG.next_working_day(date(2026, 6, 8)) == date(2026, 6, 9)
        assert ENG.next_working_day(date(2026, 6, 5)) == date(2026, 6, 8)
        assert ENG.next_working_day(date(2026, 5, 22)) == date(2026, 5, 26)
        assert ENG.next_working_day(date(2026, 5, 23)) == date(2026, 5, 26)

    def test_add_working_days(self) -> None:
        assert ENG.add_working_days(date(2026, 6, 8), 0) == date(2026, 6, 8)
        assert ENG.add_working_days(date(2026, 6, 6), 0) == date(2026, 6, 6)
        assert ENG.add_working_days(date(2026, 6, 8), 5) == date(2026, 6, 15)
        assert ENG.add_working_days(date(2026, 5, 22), 1) == date(2026, 5, 26)

    def test_working_days_between(self) -> None:
        assert ENG.working_days_between(date(2026, 5, 21), date(2026, 5, 27)) == [
            date(2026, 5, 21),
            date(2026, 5, 22),
            date(2026, 5, 26),
            date(2026, 5, 27),
        ]
        assert ENG.working_days_between(date(2026, 6, 8), date(2026, 6, 8)) == [date(2026, 6, 8)]
        assert ENG.working_days_between(date(2026, 6, 6), date(2026, 6, 7)) == []
        assert ENG.working_days_between(date(2026, 6, 9), date(2026, 6, 8)) == []

    def test_ten_working_days_over_christmas_2026(self) -> None:
        received = london(2026, 12, 21, 10, 0)  # Monday
        # By hand: Fri 25 Dec and Mon 28 Dec (Boxing Day observed) and Fri 1 Jan are
        # bank holidays in England; weekends skipped.
        expected_days = [
            date(2026, 12, 22),
            date(2026, 12, 23),
            date(2026, 12, 24),
            date(2026, 12, 29),
            date(2026, 12, 30),
            date(2026, 12, 31),
            date(2027, 1, 4),
            date(2027, 1, 5),
            date(2027, 1, 6),
            date(2027, 1, 7),
        ]
        assert ENG.working_days_between(date(2026, 12, 22), date(2027, 1, 7)) == expected_days
        assert ENG.deadline(received, 10) == utc(2027, 1, 7, 17, 0)
        for n, day in enumerate(expected_days, start=1):
            assert ENG.deadline(received, n) == datetime.combine(day, time(17), tzinfo=UTC)

    def test_ten_working_days_over_christmas_2026_with_closure(self) -> None:
        cal = WorkingCalendar(closure_days=[date(2026, 12, 24)])
        assert cal.deadline(london(2026, 12, 21, 10, 0), 10) == utc(2027, 1, 8, 17, 0)

    def test_ten_working_days_over_christmas_2026_in_scotland(self) -> None:
        # Scotland also loses Mon 4 Jan 2027 (2 January, a Saturday, observed).
        expected_days = [
            date(2026, 12, 22),
            date(2026, 12, 23),
            date(2026, 12, 24),
            date(2026, 12, 29),
            date(2026, 12, 30),
            date(2026, 12, 31),
            date(2027, 1, 5),
            date(2027, 1, 6),
            date(2027, 1, 7),
            date(2027, 1, 8),
        ]
        assert SCT.working_days_between(date(2026, 12, 22), date(2027, 1, 8)) == expected_days
        assert SCT.deadline(london(2026, 12, 21, 10, 0), 10) == utc(2027, 1, 8, 17, 0)

    def test_extend_complaint_deadline(self) -> None:
        due = ENG.deadline(london(2026, 5, 22, 16, 0), 1)  # Tue 26 May 17:00 BST
        assert ENG.extend(due, 5) == utc(2026, 6, 2, 16, 0)
        assert ENG.extend(due, 0) == due

    def test_working_days_elapsed(self) -> None:
        start = london(2026, 5, 22, 16, 0)  # receipt Fri 22 May
        assert ENG.working_days_elapsed(start, london(2026, 5, 22, 18, 0)) == 0
        assert ENG.working_days_elapsed(start, london(2026, 5, 26, 16, 59)) == 0
        assert ENG.working_days_elapsed(start, london(2026, 5, 26, 17, 0)) == 1
        assert ENG.working_days_elapsed(start, london(2026, 5, 27, 9, 0)) == 1
        assert ENG.working_days_elapsed(start, london(2026, 5, 28, 17, 0)) == 3
        assert ENG.working_days_elapsed(start, london(2026, 5, 20, 9, 0)) == 0


# -- properties ---------------------------------------------------------------------------

ZONES = st.sampled_from(
    [
        UTC,
        LONDON,
        ZoneInfo("America/New_York"),
        ZoneInfo("Australia/Sydney"),
        timezone(timedelta(hours=5, minutes=30)),
    ]
)
AWARE = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2030, 12, 31, 23, 59, 59),
    timezones=ZONES,
    allow_imaginary=False,
)
WORKING_DAYS = st.integers(min_value=0, max_value=30)
DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
CALENDARS = st.sampled_from(
    [
        ENG,
        SCT,
        NIR,
        WorkingCalendar(
            closure_days=[date(2026, 12, 24), date(2026, 12, 31)],
            office_hours=OfficeHours(time(8, 30), time(17, 30)),
        ),
    ]
)
PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(cal=CALENDARS, received=AWARE, n=WORKING_DAYS)
def test_property_deadline_is_closing_time_on_a_working_day(
    cal: WorkingCalendar, received: datetime, n: int
) -> None:
    due = cal.deadline(received, n)
    assert due.tzinfo is UTC
    local = due.astimezone(cal.timezone)
    assert cal.is_working_day(local.date())
    assert local.time() == cal.office_hours.closes
    assert due == cal.closing_time(local.date())


@PROPERTY
@given(cal=CALENDARS, received=AWARE, n=WORKING_DAYS)
def test_property_deadline_after_receipt(cal: WorkingCalendar, received: datetime, n: int) -> None:
    # Required for n >= 1; it also holds for n == 0 because receipt is before closing.
    assert cal.deadline(received, n) > received


@PROPERTY
@given(cal=CALENDARS, first=AWARE, second=AWARE, n=WORKING_DAYS)
def test_property_deadline_monotonic(
    cal: WorkingCalendar, first: datetime, second: datetime, n: int
) -> None:
    early, late = sorted([first, second])
    assert cal.deadline(early, n) <= cal.deadline(late, n)
    assert cal.receipt_day(early) <= cal.receipt_day(late)


@PROPERTY
@given(cal=CALENDARS, received=AWARE, n=WORKING_DAYS)
def test_property_next_deadline_is_next_working_day(
    cal: WorkingCalendar, received: datetime, n: int
) -> None:
    due = cal.deadline(received, n)
    expected = cal.closing_time(cal.next_working_day(local_date(due, cal)))
    assert cal.deadline(received, n + 1) == expected


@PROPERTY
@given(cal=CALENDARS, received=AWARE, n=WORKING_DAYS)
def test_property_exactly_n_working_days_after_receipt(
    cal: WorkingCalendar, received: datetime, n: int
) -> None:
    receipt = cal.receipt_day(received)
    due_day = local_date(cal.deadline(received, n), cal)
    assert cal.is_working_day(receipt)
    assert receipt >= local_date(received, cal)
    counted = cal.working_days_between(receipt + timedelta(days=1), due_day)
    assert len(counted) == n
    assert due_day == cal.add_working_days(receipt, n)


@PROPERTY
@given(cal=CALENDARS, received=AWARE, n=WORKING_DAYS, k=WORKING_DAYS)
def test_property_extend_adds_working_days(
    cal: WorkingCalendar, received: datetime, n: int, k: int
) -> None:
    assert cal.extend(cal.deadline(received, n), k) == cal.deadline(received, n + k)


@PROPERTY
@given(cal=CALENDARS, received=AWARE)
def test_property_receipt_day_rule(cal: WorkingCalendar, received: datetime) -> None:
    local = received.astimezone(cal.timezone)
    receipt = cal.receipt_day(received)
    if cal.is_working_day(local.date()) and local.time() < cal.office_hours.closes:
        assert receipt == local.date()
    else:
        assert receipt == cal.next_working_day(local.date())
    if cal.in_office_hours(received):
        assert receipt == local.date()


@PROPERTY
@given(cal=CALENDARS, at=AWARE)
def test_property_in_office_hours_matches_local_clock(cal: WorkingCalendar, at: datetime) -> None:
    local = at.astimezone(cal.timezone)
    hours = cal.office_hours
    expected = cal.is_working_day(local.date()) and hours.opens <= local.time() < hours.closes
    assert cal.in_office_hours(at) is expected


@PROPERTY
@given(received=AWARE, n=st.integers(min_value=1, max_value=30))
def test_property_working_days_elapsed_inverts_deadline(received: datetime, n: int) -> None:
    due = ENG.deadline(received, n)
    assert ENG.working_days_elapsed(received, due) == n
    assert ENG.working_days_elapsed(received, due - timedelta(microseconds=1)) == n - 1


@PROPERTY
@given(day=DAYS)
def test_property_working_day_matches_holidays_package(day: date) -> None:
    bank = holidays.country_holidays("GB", subdiv="ENG", years=day.year)
    assert ENG.is_working_day(day) == (day.weekday() < 5 and day not in bank)
