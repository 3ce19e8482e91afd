"""The JSON the API takes and gives, as pydantic models, so that its OpenAPI schema
documents every body."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ...jobs.status import DayStatus
from ...model import Subscriber
from ...store.digests import DigestInfo
from ...store.directory import DeliveryEntry

# The `responses` of a route: the answers besides its usual one, for the schema.
Responses = dict[int | str, dict[str, Any]]


class Error(BaseModel):
    """Every error: `error` is a short code; `field` names the refused field (422 only)."""

    error: str
    reason: str
    field: str | None = None


class SubscriberOut(BaseModel):
    id: int
    email: str
    name: str | None
    sections: list[str] | None = Field(description="null: every section, those added later too")
    status: str = Field(description="active, pending, paused, unsubscribed or bounced")

    @classmethod
    def of(cls, sub: Subscriber) -> SubscriberOut:
        sections = list(sub.sections) if sub.sections is not None else None
        return cls(id=sub.id, email=sub.email, name=sub.name, sections=sections, status=sub.status)


class SubscriberList(BaseModel):
    subscribers: list[SubscriberOut]
    next: str | None = Field(description="the `after` of the next page; null on the last page")


class NewSubscriberIn(BaseModel):
    """A subscriber to add. Without `confirmed: true` they are added `pending` and mailed
    the confirmation link, as the subscribe form does."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    name: str | None = Field(default=None, max_length=1000)
    sections: list[str] | None = Field(default=None, description="none or empty: every section")
    confirmed: StrictBool = Field(
        default=False, description="true: the subscriber already consented; added `active`"
    )


class SubscriberPatch(BaseModel):
    """The fields to change; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=1000)
    sections: list[str] | None = Field(default=None, description="null or empty: every section")


class DeliveryOut(BaseModel):
    id: int
    date: str
    subscriber_id: int
    email: str
    state: str = Field(description="queued (sending ones too), sent, failed, deferred, skipped")
    attempts: int
    reply: str | None
    message_id: str | None
    updated_at: dt.datetime

    @classmethod
    def of(cls, entry: DeliveryEntry) -> DeliveryOut:
        return cls(
            id=entry.id,
            date=entry.date,
            subscriber_id=entry.subscriber_id,
            email=entry.email,
            state=entry.state,
            attempts=entry.attempts,
            reply=entry.reply,
            message_id=entry.message_id,
            updated_at=entry.updated_at,
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    next: str | None = Field(
        default=None, description="the `after` of the next page; null on the last page"
    )


class SubscriberExport(BaseModel):
    """Everything kept about one subscriber."""

    subscriber: SubscriberOut
    deliveries: list[DeliveryOut]


class DigestDay(BaseModel):
    date: str
    subject: str
    preheader: str
    composed_at: dt.datetime
    started: dt.datetime | None = Field(description="when the send began; null: not sent yet")
    finished: dt.datetime | None
    counts: dict[str, int]

    @classmethod
    def of(cls, info: DigestInfo) -> DigestDay:
        return cls(
            date=info.date,
            subject=info.subject,
            preheader=info.preheader,
            composed_at=info.composed_at,
            started=info.started,
            finished=info.finished,
            counts=info.counts.as_dict(),
        )


class DigestList(BaseModel):
    digests: list[DigestDay]


# The day's digest is `digest compose --json`: documented in the README, passed on as it is.
DigestJson = dict[str, Any]


class DayStatusOut(BaseModel):
    """As `digest status --json`."""

    queued: int
    sent: int
    failed: int
    deferred: int
    skipped: int
    approval: str = Field(description="pending, approved or held")

    @classmethod
    def of(cls, day: DayStatus) -> DayStatusOut:
        return cls.model_validate(day.as_json())


class ApprovalOut(BaseModel):
    date: str
    before: str
    after: str


def answers(**described: str) -> Responses:
    """Error answers for the schema: answers(e404="No such day") (each an Error body)."""
    return {int(k[1:]): {"model": Error, "description": v} for k, v in described.items()}


__all__ = [
    "ApprovalOut",
    "DayStatusOut",
    "DeliveryList",
    "DeliveryOut",
    "DigestDay",
    "DigestJson",
    "DigestList",
    "Error",
    "NewSubscriberIn",
    "Responses",
    "SubscriberExport",
    "SubscriberList",
    "SubscriberOut",
    "SubscriberPatch",
    "answers",
]
