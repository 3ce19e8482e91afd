"""/api/v1/subscribers: list, get, add, change, unsubscribe, remove and export subscribers.

A subscriber is named by their id or by their address. Adding an address already there
answers 200 with it as it is, and changes nothing; unsubscribing twice is the same as once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from ...errors import (
    ConfigError,
    DeliveryFailure,
    FieldError,
    HeaderError,
    PermanentFailure,
    TransportError,
)
from ...jobs import api as jobs
from ..pages import web
from .auth import Caller
from .models import (
    DeliveryOut,
    Error,
    NewSubscriberIn,
    SubscriberExport,
    SubscriberList,
    SubscriberOut,
    SubscriberPatch,
    answers,
)

router = APIRouter(tags=["subscribers"])
NOT_FOUND = answers(e404="No subscriber with this id or address")
INVALID = answers(e422="A field was refused: `field` names it")
Limit = Annotated[int, Query(ge=1, le=500, description="at most this many (1-500)")]
After = Annotated[str | None, Query(description="the `next` of the page before")]


@router.get("/subscribers", response_model=SubscriberList, responses=INVALID)
def list_subscribers(
    request: Request,
    _caller: Caller,
    status: Annotated[str | None, Query(description="only those in this state")] = None,
    section: Annotated[str | None, Query(description="only those who get this section")] = None,
    after: After = None,
    limit: Limit = 100,
) -> SubscriberList:
    """Subscribers in id order, a page at a time: pass a page's `next` as `after` for the
    next one. Rows added or removed meanwhile never shift the pages after them."""
    w = web(request)
    page = jobs.subscriber_page(w.store, w.config, status, section, after, limit)
    return SubscriberList(
        subscribers=[SubscriberOut.of(s) for s in page.subscribers],
        next=None if page.next_after is None else str(page.next_after),
    )


@router.post(
    "/subscribers",
    response_model=SubscriberOut,
    status_code=201,
    responses={
        200: {"model": SubscriberOut, "description": "The address was there already: unchanged"},
        **INVALID,
        429: {"model": Error, "description": "This mailbox had its share of confirmations"},
        503: {"model": Error, "description": "The confirmation email could not be sent"},
    },
)
def add_subscriber(
    request: Request, body: NewSubscriberIn, response: Response, _caller: Caller
) -> SubscriberOut | JSONResponse:
    """Add a subscriber: `active` with `confirmed: true`, else `pending`, mailed the
    confirmation link as the subscribe form does (429 past its limit per mailbox). 201 when
    added; an address already there answers 200 with the subscriber as they are, unchanged."""
    w = web(request)
    new = jobs.new_subscriber(w.config, body.email, body.name, body.sections)
    try:
        added = jobs.add_subscriber(w.store, w.config, w.secret, new, body.confirmed, w.base_url)
    except (PermanentFailure, HeaderError):
        raise FieldError("email", "the mail server cannot carry email to this address") from None
    except (DeliveryFailure, TransportError, ConfigError):
        return JSONResponse(
            {"error": "unavailable", "reason": "the confirmation email could not be sent"}, 503
        )
    if added.subscriber is None:
        return JSONResponse(
            {
                "error": "too_many_requests",
                "reason": "too many confirmation emails to this "
                "mailbox lately; nothing was added, try later",
            },
            429,
        )
    response.status_code = 201 if added.created else 200
    return SubscriberOut.of(added.subscriber)


@router.get("/subscribers/{ref}", response_model=SubscriberOut, responses=NOT_FOUND)
def get_subscriber(request: Request, ref: str, _caller: Caller) -> SubscriberOut:
    """One subscriber, by id or by address."""
    return SubscriberOut.of(jobs.find_subscriber(web(request).store, ref))


@router.patch(
    "/subscribers/{ref}", response_model=SubscriberOut, responses={**NOT_FOUND, **INVALID}
)
def update_subscriber(
    request: Request, ref: str, body: SubscriberPatch, _caller: Caller
) -> SubscriberOut:
    """Change the name and/or the sections; what the body leaves out stays as it is."""
    w = web(request)
    sub = jobs.find_subscriber(w.store, ref)
    changed = jobs.update_subscriber(
        w.store, w.config, sub, body.name, body.sections, set(body.model_fields_set)
    )
    return SubscriberOut.of(changed)


@router.post("/subscribers/{ref}/unsubscribe", response_model=SubscriberOut, responses=NOT_FOUND)
def unsubscribe(request: Request, ref: str, _caller: Caller) -> SubscriberOut:
    """Stop sending to the subscriber, keeping the record (so no import brings them back).
    Done again, it changes nothing and answers the same."""
    w = web(request)
    return SubscriberOut.of(jobs.unsubscribe(w.store, jobs.find_subscriber(w.store, ref)))


@router.delete("/subscribers/{ref}", status_code=204, responses=NOT_FOUND)
def remove_subscriber(request: Request, ref: str, _caller: Caller) -> Response:
    """Forget the subscriber and their delivery records (404 afterwards)."""
    w = web(request)
    jobs.remove(w.store, jobs.find_subscriber(w.store, ref))
    return Response(status_code=204)


@router.get("/subscribers/{ref}/export", response_model=SubscriberExport, responses=NOT_FOUND)
def export_subscriber(request: Request, ref: str, _caller: Caller) -> SubscriberExport:
    """Everything kept about one subscriber: the record and every delivery, newest first."""
    w = web(request)
    sub = jobs.find_subscriber(w.store, ref)
    return SubscriberExport(
        subscriber=SubscriberOut.of(sub),
        deliveries=[DeliveryOut.of(d) for d in jobs.history(w.store, sub)],
    )


__all__ = ["router"]
