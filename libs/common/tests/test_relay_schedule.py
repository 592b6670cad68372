"""Tests for the relay loop's decisions, as plain functions: no database, no broker."""

from __future__ import annotations

import pytest

from contact_common.bus.relay.schedule import (
    CLEANUP_EVERY,
    CONTENDED_RETRY,
    FIRST_BACKOFF,
    LONGEST_BACKOFF,
    Leftovers,
    cleanup_due,
    next_backoff,
    next_pass_after,
    vacuum_due,
)


def test_a_pass_that_left_nothing_behind_starts_no_other() -> None:
    # Rows committed in this process wake the relay themselves; an empty pass after every pass
    # was half the relay's CPU at a steady rate.
    assert next_pass_after(Leftovers(), others_running=False) == (None, Leftovers())
    assert next_pass_after(Leftovers(), others_running=True) == (None, Leftovers())


@pytest.mark.parametrize("others_running", [False, True])
def test_a_full_shard_starts_another_pass_at_once(others_running: bool) -> None:
    delay, left = next_pass_after(Leftovers(full=True), others_running=others_running)
    assert (delay, left) == (0.0, Leftovers())


def test_a_full_shard_goes_first_and_a_held_one_is_still_remembered() -> None:
    delay, left = next_pass_after(Leftovers(full=True, contended=True), others_running=False)
    assert (delay, left) == (0.0, Leftovers(contended=True))
    # The pass it started ends with nothing full: now the held shard is looked at again.
    assert next_pass_after(left, others_running=False) == (CONTENDED_RETRY, Leftovers())


def test_a_held_shard_waits_until_no_pass_of_this_relay_holds_anything() -> None:
    contended = Leftovers(contended=True)
    assert next_pass_after(contended, others_running=True) == (None, contended)
    # Shortly, not at once: the holder may be another relay's pass.
    assert next_pass_after(contended, others_running=False) == (CONTENDED_RETRY, Leftovers())
    assert 0 < CONTENDED_RETRY <= 0.05


def test_leftovers_gather_over_claims_until_a_pass_acts_on_them() -> None:
    left = Leftovers().noting(full=False, contended=True).noting(full=True, contended=False)
    assert left == Leftovers(full=True, contended=True)
    assert left.noting(full=False, contended=False) == left


def test_backoff_doubles_from_the_first_to_the_longest() -> None:
    waits = [FIRST_BACKOFF]
    for _ in range(7):
        waits.append(next_backoff(waits[-1]))
    assert waits == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    assert LONGEST_BACKOFF == 5.0


def test_old_rows_are_cleaned_at_the_start_then_every_minute() -> None:
    assert cleanup_due(12.0, None)
    assert not cleanup_due(12.0 + CLEANUP_EVERY, 12.0)
    assert cleanup_due(12.0 + CLEANUP_EVERY + 0.1, 12.0)


def test_a_vacuum_is_due_after_enough_marked_rows_unless_one_is_under_way() -> None:
    assert not vacuum_due(4999, vacuum_after=5000, vacuuming=False)
    assert vacuum_due(5000, vacuum_after=5000, vacuuming=False)
    assert not vacuum_due(9000, vacuum_after=5000, vacuuming=True)
