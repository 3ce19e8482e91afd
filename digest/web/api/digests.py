"""/api/v1/digests: the days, one day's digest, composing it, approving or holding it, and
its send status. Each calls the use case its command calls (`digest compose --json`,
`digest approve`, `digest hold`, `digest status --json`) and answers the same JSON."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...jobs import api as jobs
from ...jobs import approval, digests, sending
from ..pages import web
from .auth import Caller, Day
from .models import ApprovalOut, DayStatusOut, DigestDay, DigestJson, DigestList, answers

router = APIRouter(tags=["digests"])
NOT_FOUND = answers(e404="No digest for this day")
INVALID = answers(e422="Not a date (YYYY-MM-DD): `field` is date")
REFUSED = answers(e409="Refused as things stand (the reason says why)")


@router.get("/digests", response_model=DigestList)
def list_digests(request: Request, _caller: Caller) -> DigestList:
    """Every composed day, newest first, with its send's times and counts by state."""
    return DigestList(digests=[DigestDay.of(d) for d in jobs.digest_days(web(request).store)])


@router.get("/digests/{date}", responses={**NOT_FOUND, **INVALID})
def get_digest(request: Request, date: Day, _caller: Caller) -> DigestJson:
    """The day's digest as composed (and edited), as `digest compose --json` prints it."""
    w = web(request)
    return digests.with_urls(w.store.get_digest(date), w.config.base_url)


@router.post("/digests/{date}/compose", responses={**INVALID, **REFUSED})
def compose(request: Request, date: Day, _caller: Caller) -> DigestJson:
    """Compose (or compose again) the day's digest from its stories, keeping the editors'
    edits; this withdraws the day's approval. Refused (409) for a day without stories, and
    once the day's send has begun."""
    w = web(request)
    return digests.with_urls(digests.compose_day(w.store, w.config, date), w.config.base_url)


@router.post(
    "/digests/{date}/approve", response_model=ApprovalOut, responses={**NOT_FOUND, **INVALID}
)
def approve(request: Request, date: Day, caller: Caller) -> ApprovalOut:
    """Let the day go out, as `digest approve`: recorded as changed by `api:TOKEN-NAME`."""
    w = web(request)
    change = approval.approve(w.store, w.config, date, f"api:{caller}")
    return ApprovalOut(date=change.date, before=change.before, after=change.after)


@router.post("/digests/{date}/hold", response_model=ApprovalOut, responses={**NOT_FOUND, **INVALID})
def hold(request: Request, date: Day, caller: Caller) -> ApprovalOut:
    """Keep the day from going out (a send under way stops), as `digest hold`."""
    w = web(request)
    change = approval.hold(w.store, w.config, date, f"api:{caller}")
    return ApprovalOut(date=change.date, before=change.before, after=change.after)


@router.get(
    "/digests/{date}/status", response_model=DayStatusOut, responses={**NOT_FOUND, **INVALID}
)
def status(request: Request, date: Day, _caller: Caller) -> DayStatusOut:
    """The day's deliveries by state and its approval, as `digest status --json`."""
    w = web(request)
    return DayStatusOut.of(sending.day_status(w.store, date, w.config))


__all__ = ["router"]
