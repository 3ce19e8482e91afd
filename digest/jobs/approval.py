"""A day's approval before it goes out (issue #13): approve it, hold it, and what a send asks
of it. The CLI (`digest approve`, `digest hold`) and the editor's day page both call these.

With `approval = "auto"` a composed day is approved until an editor holds it; with
`"required"` it is pending until an editor approves it. Holding a day that is being sent stops
the send (every process, every machine: they read the state from the database).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from ..errors import ApprovalError, NotFoundError
from ..store import Store


@dataclass(frozen=True)
class Change:
    """What an approve or a hold did: the day's state before and after."""

    date: str
    before: str
    after: str


def state(store: Store, config: Config, date: str) -> str:
    """`pending`, `approved` or `held`."""
    return store.approval(date, config.approval_required)


def _decide(
    store: Store, config: Config, date: str, after: str, by: str, seen: str | None = None
) -> Change:
    if not store.has_digest(date):
        raise NotFoundError(
            f"no digest for {date}: compose it first (digest compose --date {date})"
        )
    before = state(store, config, date)
    store.set_approval(date, after, by, seen)
    return Change(date, before, after)


def approve(store: Store, config: Config, date: str, by: str, seen: str | None = None) -> Change:
    """Let the day go out: the next `digest run` or `digest send` sends it (or resumes it).
    `seen`: the digest_version the editor looked at (the day page's); ApprovalError when
    the digest has changed since. None approves the digest as it is (the command line)."""
    return _decide(store, config, date, "approved", by, seen)


def hold(store: Store, config: Config, date: str, by: str) -> Change:
    """Keep the day from going out; a send under way stops after the messages in flight."""
    return _decide(store, config, date, "held", by)


def waiting(date: str, day_state: str) -> str:
    """The cron job's line for a day it does not send."""
    if day_state == "held":
        return f"send: {date} is held (digest approve --date {date} releases it)"
    return f"send: {date} waits for approval (digest approve --date {date})"


def check_sendable(store: Store, config: Config, date: str) -> None:
    """ApprovalError unless the day is approved (a day with no digest is left to the send to
    report)."""
    if not store.has_digest(date):
        return
    day_state = state(store, config, date)
    if day_state == "held":
        raise ApprovalError(
            f"the digest for {date} is held: nothing is sent until 'digest approve --date {date}'"
        )
    if day_state != "approved":
        raise ApprovalError(
            f"the digest for {date} waits for approval (approval is required): "
            f"approve it first with 'digest approve --date {date}'"
        )


__all__ = ["Change", "approve", "check_sendable", "hold", "state", "waiting"]
