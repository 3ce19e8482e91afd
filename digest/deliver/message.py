"""Build the MIME message a subscriber receives: multipart/alternative, text then HTML."""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage

from ..errors import DigestError

# SMTP policy: CRLF line ends, headers folded within 78 characters, never longer than 998.
POLICY = email.policy.SMTP.clone(max_line_length=78)


class HeaderError(DigestError, ValueError):
    """A header value would have injected another header (CR or LF inside it)."""


@dataclass(frozen=True)
class Envelope:
    """Who the message is from and to, and the list headers that go with it."""

    from_addr: str
    to_addr: str
    to_name: str | None
    subject: str
    message_id: str
    list_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str | None = None


def single_line(value: str, field: str) -> str:
    """Refuse CR/LF in a header value: folding is the library's job, never the input's."""
    if "\r" in value or "\n" in value:
        raise HeaderError(f"{field}: line break in header value refused")
    return value


def domain_of(address: str) -> str:
    _, addr = email.utils.parseaddr(address)
    return addr.rpartition("@")[2] or "localhost"


def build_message(env: Envelope, text: str, html: str, date: str | None = None) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = single_line(env.from_addr, "From")
    to_name = single_line(env.to_name or "", "To")
    msg["To"] = Address(display_name=to_name, addr_spec=single_line(env.to_addr, "To"))
    msg["Subject"] = single_line(env.subject, "Subject")
    msg["Date"] = date or email.utils.formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = single_line(env.message_id, "Message-ID")
    msg["List-Id"] = single_line(env.list_id, "List-Id")
    unsubscribe = f"<{single_line(env.unsubscribe_url, 'List-Unsubscribe')}>"
    if env.unsubscribe_mailto:
        unsubscribe += f", <{single_line(env.unsubscribe_mailto, 'List-Unsubscribe')}>"
    msg["List-Unsubscribe"] = unsubscribe
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps every line under 78 characters whatever the template emits.
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
