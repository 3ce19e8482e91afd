"""The emails sent one at a time, never to the list: a subscription confirmation, and an
editor's test copy of a digest. Both go out as the list send does (the same transport, the
same envelope sender, the same DKIM signer), through `deliver.outgoing.Outgoing`.
"""

from __future__ import annotations

import email.utils
import re
from email.message import EmailMessage

from ..addresses import domain_of
from ..config import Config
from ..deliver import loop
from ..deliver.message import POLICY, Recipient, format_to, single_line
from ..deliver.outgoing import Outgoing
from ..deliver.transport import Envelope
from ..errors import NotFoundError
from ..store import Store

CONFIRM_TTL = 3 * 24 * 3600  # seconds a confirmation link stays valid
# Test copies carry no working personal links: they belong to no subscriber.
TEST_TOKEN = "test-copy"
_MESSAGE_ID = re.compile(rb"^Message-ID: [^\r\n]*\r\n", re.MULTILINE)


def deliver_one(outgoing: Outgoing, folder: str, recipient: str, message: bytes) -> str:
    """Send one message now (SMTP, or outbox/<folder>/) and return the accepting reply;
    DeliveryFailure or TransportError otherwise.

    Called from a worker thread of the web server, so it runs its own short event loop.
    """

    async def go() -> str:
        transport = outgoing.transport(folder)
        try:
            return await transport.deliver(Envelope(outgoing.fixed_sender, recipient, 0), message)
        finally:
            await transport.close()

    return loop.run(go())


def plain_message(
    config: Config, to: str, name: str | None, kind: str, subject: str, body: str
) -> bytes:
    """A short plain-text email from the newsletter (a confirmation, a notice to editors),
    automatic, with a Message-ID naming its `kind`.

    The To header is written by `format_to`, as a digest's is: the name as plain text (never
    read as encoded words), and an address with a non-ASCII local part as UTF-8, which only
    an SMTPUTF8 server takes (the transport refuses the others)."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = single_line(config.from_addr, "From")
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = email.utils.make_msgid(kind, domain_of(config.from_addr))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    return format_to(name, to) + msg.as_bytes()


def confirmation_message(config: Config, to: str, name: str | None, link: str) -> bytes:
    """A short plain-text email with the signed confirmation link."""
    days = CONFIRM_TTL // 86400
    return plain_message(
        config,
        to,
        name,
        "confirm",
        f"Confirm your subscription to {config.name}",
        f"Someone, we hope you, asked to receive {config.name} at this address.\n\n"
        f"To confirm, open this link within {days} days and press the button:\n\n"
        f"{link}\n\n"
        "If it was not you, ignore this email: nothing will be sent to you.\n",
    )


def build_test_copy(
    store: Store, outgoing: Outgoing, date: str, sections: tuple[str, ...] | None, to: str
) -> bytes:
    """The digest for `date` exactly as a subscriber with `sections` gets it, addressed to
    `to`, with a fresh Message-ID so mail clients do not fold repeated test copies into one."""
    template = outgoing.variants(store.get_digest(date)).get(sections)
    if template is None:
        raise NotFoundError(f"the digest for {date} has none of the chosen sections")
    data = template.build(Recipient(0, to, None, TEST_TOKEN, TEST_TOKEN))
    fresh = email.utils.make_msgid("test", domain_of(outgoing.config.from_addr))
    data = _MESSAGE_ID.sub(lambda _: f"Message-ID: {fresh}\r\n".encode(), data, count=1)
    return outgoing.sign(data)  # signed as the real send signs


def send_test_copy(
    store: Store, config: Config, date: str, sections: tuple[str, ...] | None, to: str
) -> str:
    """Render and send one test copy of a day's digest; returns the server's reply."""
    outgoing = Outgoing(config)
    message = build_test_copy(store, outgoing, date, sections, to)
    return deliver_one(outgoing, f"{date}/test-copies", to, message)


__all__ = [
    "CONFIRM_TTL",
    "build_test_copy",
    "confirmation_message",
    "deliver_one",
    "plain_message",
    "send_test_copy",
]
