"""What `digest status` shows of a day. Both ways of reading it return this: the store
(jobs/sending.py) and the quick reader of a SQLite file (jobs/quick.py), so the command prints
one value, alike whichever answered."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NotFoundError


@dataclass(frozen=True)
class DayStatus:
    """A day's deliveries by state, and each sending process's share."""

    counts: dict[str, int]  # queued, sent, failed, deferred, skipped: in that order
    workers: dict[str, dict[str, int]]  # "host:pid" -> sent, failed, ... and in hand
    begun: bool  # False: composed, but no send has started
    approval: str  # pending, approved or held

    def as_json(self) -> dict[str, int | str]:
        return {**self.counts, "approval": self.approval}


def no_digest(date: str) -> NotFoundError:
    return NotFoundError(f"no digest for {date}: nothing was composed or sent that day")


__all__ = ["DayStatus", "no_digest"]
