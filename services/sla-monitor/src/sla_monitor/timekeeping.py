"""What time it is: the wall clock in production, a clock a test can move.

Every decision about an event uses the event's own times; only the timers ask for "now".
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the time and sleeps."""

    def now(self) -> datetime:
        """The current instant, UTC-aware."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Returns once `seconds` have passed on this clock."""
        ...


class SystemClock:
    """The wall clock, optionally shifted by a fixed offset (which runs at real speed)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        """The wall-clock instant plus the offset."""
        return datetime.now(UTC) + self.offset

    async def sleep(self, seconds: float) -> None:
        """An ordinary asyncio sleep."""
        await asyncio.sleep(max(seconds, 0.0))


class FakeClock:
    """A clock that stands still until a test moves it; sleepers wake when it passes them."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = now.astimezone(UTC)
        self._moved = asyncio.Condition()

    def now(self) -> datetime:
        """The instant the test last set."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Waits until the clock is moved to or past now + seconds."""
        until = self._now + timedelta(seconds=max(seconds, 0.0))
        async with self._moved:
            await self._moved.wait_for(lambda: self._now >= until)

    async def set(self, now: datetime) -> None:
        """Moves the clock to `now` (never backwards) and wakes the sleepers it passes."""
        now = now.astimezone(UTC)
        if now < self._now:
            raise ValueError("a FakeClock does not go backwards")
        async with self._moved:
            self._now = now
            self._moved.notify_all()

    async def advance(self, by: timedelta) -> None:
        """Moves the clock forward by `by`."""
        await self.set(self._now + by)
