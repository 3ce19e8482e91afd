"""The transport interface: what delivery needs from SMTP, an outbox folder or a test double.

The failures a transport raises live in errors.py with the rest; they are re-exported here
because every transport needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..errors import DeliveryFailure, PermanentFailure, TransientFailure, TransportError

# Messages under way per connection: with pipelining one is on the wire, the next one's
# commands right behind it, and a third ready to follow as soon as the first is answered
# (deliver/session.py). The Sender runs this many workers per connection to keep it fed.
PER_CONNECTION = 3


@dataclass(frozen=True)
class Envelope:
    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    subscriber_id: int


class Transport(Protocol):
    """Carries finished messages. `deliver` returns the accepting reply, or raises a
    DeliveryFailure; it must be safe to call from many tasks at once."""

    name: str

    async def deliver(self, envelope: Envelope, message: bytes) -> str: ...

    async def close(self) -> None: ...


__all__ = [
    "PER_CONNECTION",
    "DeliveryFailure",
    "Envelope",
    "PermanentFailure",
    "TransientFailure",
    "Transport",
    "TransportError",
]
