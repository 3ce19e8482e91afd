"""The transport interface: what delivery needs from SMTP, an outbox folder or a test double."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..errors import DigestError


@dataclass(frozen=True)
class Envelope:
    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    subscriber_id: int


class DeliveryFailure(DigestError):
    """A message was not accepted. `reply` is the server's answer or what went wrong."""

    permanent = False

    def __init__(self, reply: str) -> None:
        self.reply = reply
        super().__init__(reply)


class TransientFailure(DeliveryFailure):
    """Worth another try later: a 4xx reply, a dropped connection, a timeout."""


class PermanentFailure(DeliveryFailure):
    """Will not work however often it is tried: a 5xx reply to this recipient."""

    permanent = True


class TransportError(DigestError):
    """The transport cannot work at all (say, the server refused our login): the run stops
    and what was not sent stays queued."""


class Transport(Protocol):
    """Carries finished messages. `deliver` returns the accepting reply, or raises a
    DeliveryFailure; it must be safe to call from many tasks at once."""

    name: str

    async def deliver(self, envelope: Envelope, message: bytes) -> str: ...

    async def close(self) -> None: ...
