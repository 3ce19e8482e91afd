"""The delivery ledger: one day's copies a page at a time, and one subscriber's history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ...jobs import api as jobs
from ..pages import web
from .auth import Caller, Day
from .models import DeliveryList, DeliveryOut, Error

router = APIRouter(tags=["deliveries"])
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many (1-500)")]
After = Annotated[str | None, Query(description="the `next` of the page before")]


@router.get(
    "/digests/{date}/deliveries",
    response_model=DeliveryList,
    responses={
        404: {"model": Error, "description": "No digest for this day"},
        422: {"model": Error, "description": "A field was refused: `field` names it"},
    },
)
def day_deliveries(
    request: Request,
    date: Day,
    _caller: Caller,
    state: Annotated[
        str | None, Query(description="queued (sending ones too), sent, failed, deferred, skipped")
    ] = None,
    after: After = None,
    limit: Limit = 100,
) -> DeliveryList:
    """The day's copies in id order, a page at a time (`next` is the `after` of the next
    page); none for a day composed but not sent yet."""
    page = jobs.delivery_page(web(request).store, date, state, after, limit)
    return DeliveryList(
        deliveries=[DeliveryOut.of(d) for d in page.deliveries],
        next=None if page.next_after is None else str(page.next_after),
    )


@router.get(
    "/subscribers/{ref}/deliveries",
    response_model=DeliveryList,
    responses={404: {"model": Error, "description": "No subscriber with this id or address"}},
)
def subscriber_deliveries(request: Request, ref: str, _caller: Caller) -> DeliveryList:
    """One subscriber's copies across the days, newest day first (all of them: `next` is
    always null)."""
    store = web(request).store
    entries = jobs.history(store, jobs.find_subscriber(store, ref))
    return DeliveryList(deliveries=[DeliveryOut.of(d) for d in entries], next=None)


__all__ = ["router"]
