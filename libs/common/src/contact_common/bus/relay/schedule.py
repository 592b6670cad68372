"""The relay loop's decisions, as functions of plain values: when a pass starts another, how
long to back off, when to clean up and vacuum. No I/O here; the loop (loop.py) acts on them."""

from __future__ import annotations

from dataclasses import dataclass

# Seconds before a pass looks again at a shard another pass held.
CONTENDED_RETRY = 0.01
# Seconds between tries while the broker or the database is away: doubling from the first.
FIRST_BACKOFF = 0.2
LONGEST_BACKOFF = 5.0
# Seconds between deletions of rows published longer ago than the retention.
CLEANUP_EVERY = 60.0


@dataclass(frozen=True)
class Leftovers:
    """What passes found that may have left rows behind, until a pass's end acts on it."""

    # A shard gave all a pass allowed it: more rows wait behind.
    full: bool = False
    # A waiting shard was held by another pass: rows committed after that pass read it wait.
    contended: bool = False

    def noting(self, *, full: bool, contended: bool) -> Leftovers:
        """These leftovers and those of one more claim."""
        return Leftovers(full=self.full or full, contended=self.contended or contended)


def next_pass_after(
    leftovers: Leftovers, *, others_running: bool
) -> tuple[float | None, Leftovers]:
    """In how many seconds a pass that ended starts another (None: it does not), and what is
    still left to act on.

    Not after every pass that sent rows: an empty pass after each was five round trips and
    half the relay's CPU at a steady rate. Rows committed in this process wake the relay
    themselves; what no wake covers is a full shard (at once), and a shard a pass found held
    by another, which is looked at again once no pass of this relay holds anything. The
    holder may be another relay's pass, so shortly rather than in a tight loop.
    """
    if leftovers.full:
        return 0.0, Leftovers(contended=leftovers.contended)
    if leftovers.contended and not others_running:
        return CONTENDED_RETRY, Leftovers()
    return None, leftovers


def next_backoff(seconds: float) -> float:
    """The wait after another failure, following one of `seconds`."""
    return min(seconds * 2, LONGEST_BACKOFF)


def cleanup_due(now: float, last_cleanup: float | None) -> bool:
    """Whether to delete old published rows now (monotonic seconds; None: not yet cleaned)."""
    return last_cleanup is None or now - last_cleanup > CLEANUP_EVERY


def vacuum_due(marked_since_vacuum: int, *, vacuum_after: int, vacuuming: bool) -> bool:
    """Whether to vacuum the outbox: enough rows marked since the last vacuum, none under way.

    Autovacuum waits for a fifth of the table by default, a day of rows here; this keeps the
    index of waiting rows to the rows that wait.
    """
    return marked_since_vacuum >= vacuum_after and not vacuuming
