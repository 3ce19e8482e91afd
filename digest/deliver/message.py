"""Build the MIME message a subscriber receives: multipart/alternative, text then HTML.

A MessageTemplate is built once per distinct choice of sections: headers that are the same for
everyone are encoded once, and the bodies carry placeholders where each subscriber's link
tokens go. `build()` then only substitutes, quoted-printable encodes (in C) and joins bytes,
so a large list does not pay for an email.message object per recipient.

Why hand-built MIME rather than the `email` package for every message: building and
serialising an EmailMessage per recipient with a 40 KB body is what kept the first sender at
about 480 messages a second; encoding each variant once and joining bytes is most of what took
it to thousands (see the README's performance section). The output is held to the `email`
package's reading of it: tests/test_message.py parses every shape of message back with it
(headers, folding, encoded names, both parts), and proves the encode-once bodies give the same
bytes as encoding each message afresh. One-off messages (confirmations) still use EmailMessage.
"""

from __future__ import annotations

import binascii
import email.policy
import email.utils
import re
import secrets
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage

from ..addresses import domain_of, org_domain
from ..errors import HeaderError
from ..tokens import TOKEN_LENGTH

# Placeholders for per-subscriber tokens: plain letters, so escaping, MJML and quoted-printable
# leave them alone, and exactly as long as a real token, so a body encoded once with them keeps
# its line breaks when each subscriber's tokens take their place.
UNSUBSCRIBE_TOKEN = ("DIGESTxUNSUBSCRIBExTOKENx" * 2)[:TOKEN_LENGTH]
PREFERENCES_TOKEN = ("DIGESTxPREFERENCESxTOKENx" * 2)[:TOKEN_LENGTH]
_SOFT_BREAK = b"=\r\n"
# C0 controls, DEL, C1 controls and the Unicode line separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Characters that make a display name need quoting (those email.utils.formataddr quotes for).
_PHRASE_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
# Headers folded at 78 characters with CRLF, as SMTP wants them.
LINE = 78  # RFC 5322 2.1.1: lines SHOULD be no longer, CRLF aside
POLICY = email.policy.SMTP.clone(max_line_length=LINE)


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str | None
    unsubscribe_token: str
    preferences_token: str


def single_line(value: str, field: str) -> str:
    """Refuse CR/LF (and other controls) in a header value: folding is ours to do, never the
    input's, so no value can start a header of its own."""
    if _CONTROL.search(value):
        raise HeaderError(f"{field}: line break or control character in header value refused")
    return value


def _header(name: str, value: str) -> bytes:
    """One header, folded and RFC 2047-encoded as needed, ending in CRLF."""
    msg = EmailMessage(policy=POLICY)
    msg[name] = value
    return msg.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"


def fold(name: str, items: list[str]) -> bytes:
    """A header whose value is a list (List-Unsubscribe's <URI>s, joined by commas) or one
    item that cannot be split (a msg-id), folded only between items, before one that would
    carry the line past 78 characters. An item longer than that stays whole on its line
    (RFC 5322 allows 998). Never right after the colon: the `email` package would then read
    the value with a leading space."""
    lines: list[str] = []
    line = name + ":"
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if i > 0 and len(line) + 1 + len(piece) > LINE:
            lines.append(line)
            line = ""
        line += " " + piece
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def feedback_id(date: str, list_key: str, from_domain: str) -> str:
    """Gmail's feedback loop header value, campaign:mail type:list:sender (a:b:c:SenderId).

    The same for every subscriber of a day (complaints are counted per value, never per
    reader); the SenderId, rightmost and required, is the sender's organizational domain,
    the same on every message. No field holds a colon: list keys and domains cannot."""
    fields = (date, "digest", list_key, org_domain(from_domain))
    return ":".join(f.replace(":", "-") for f in fields)


def fill_tokens(body: str, unsubscribe: str, preferences: str) -> str:
    """A rendered body with a subscriber's link tokens in place of the placeholders."""
    return body.replace(UNSUBSCRIBE_TOKEN, unsubscribe).replace(PREFERENCES_TOKEN, preferences)


def format_to(name: str | None, address: str) -> bytes:
    """The To header, the name taken as plain text.

    A short plain ASCII name is written as a phrase (quoted where needed); any other name is
    RFC 2047-encoded here, whole, so nothing inside it, not even text that looks like an
    encoded word, is ever read as header syntax. A non-ASCII address can only travel with
    SMTPUTF8, and is then written as UTF-8 (RFC 6532).
    """
    single_line(address, "To")
    addr = address.encode("utf-8")
    if not name:
        return b"To: " + addr + b"\r\n"
    single_line(name, "To")
    if name.isascii() and "=?" not in name:
        quote = '"' if _PHRASE_SPECIALS.search(name) else ""
        phrase = f"{quote}{email.utils.quote(name)}{quote}".encode("ascii")
        line = b"To: " + phrase + b" <" + addr + b">\r\n"
        if len(line) <= 78:
            return line
        return b"To:\r\n " + phrase + b"\r\n <" + addr + b">\r\n"  # names are at most 200
    words = Header(name, "utf-8", maxlinelen=76, header_name="To").encode(linesep="\r\n")
    return b"To: " + words.encode("ascii") + b"\r\n <" + addr + b">\r\n"


def message_id(date: str, subscriber_id: int, list_key: str, domain: str) -> str:
    """The same for the same digest and subscriber, so a repeat is recognisable."""
    return f"<digest.{date}.{subscriber_id}.{list_key}@{domain}>"


Piece = bytes | tuple[int, tuple[int, ...]]  # literal bytes, or (slot, soft-break offsets)


def _encode_once(text: str, placeholders: tuple[str, ...]) -> list[Piece]:
    """The body quoted-printable encoded once, cut around each placeholder.

    Quoted-printable may fold a long line inside a placeholder ("=\\r\\n"); the offsets of
    such soft breaks are kept, so a token of the same length is folded at the same places.
    """
    encoded = _qp(text)
    alternatives = []
    for p in placeholders:
        chars = [re.escape(c.encode()) for c in p]
        alternatives.append(chars[0] + b"".join(b"(?:=\r\n)?" + c for c in chars[1:]))
    pattern = re.compile(b"|".join(b"(" + a + b")" for a in alternatives))
    pieces: list[Piece] = []
    at = 0
    for m in pattern.finditer(encoded):
        slot = m.lastindex - 1 if m.lastindex else 0
        pieces.append(encoded[at : m.start()])
        found, breaks, offset = m.group(0), [], 0
        while (i := found.find(_SOFT_BREAK)) >= 0:
            offset += i
            breaks.append(offset)
            found = found[i + len(_SOFT_BREAK) :]
        pieces.append((slot, tuple(breaks)))
        at = m.end()
    pieces.append(encoded[at:])
    return pieces


def _fill(pieces: list[Piece], tokens: tuple[str, ...]) -> bytes:
    out: list[bytes] = []
    for piece in pieces:
        if isinstance(piece, bytes):
            out.append(piece)
            continue
        slot, breaks = piece
        token = tokens[slot].encode("ascii")
        start = 0
        for cut in breaks:
            out += (token[start:cut], _SOFT_BREAK)
            start = cut
        out.append(token[start:])
    return b"".join(out)


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends: every line stays under 78 characters."""
    body = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return binascii.b2a_qp(body, istext=True)


class MessageTemplate:
    """Everything about one variant of a digest's email except who it is for."""

    def __init__(
        self,
        *,
        from_addr: str,
        subject: str,
        list_id: str,
        date: str,
        text: str,
        html: str,
        base_url: str,
        unsubscribe_mailto: str,
        list_key: str,
        sent_date: str | None = None,
    ) -> None:
        self.date = date
        self.subject = subject
        self.list_key = list_key
        self.domain = domain_of(from_addr)
        self.base_url = base_url.rstrip("/")
        self.unsubscribe_mailto = single_line(unsubscribe_mailto, "List-Unsubscribe")
        self.text = text
        self.html = html
        slots = (UNSUBSCRIBE_TOKEN, PREFERENCES_TOKEN)
        self._text = _encode_once(text, slots)
        self._html = _encode_once(html, slots)
        self.boundary = "=_digest_" + secrets.token_hex(12)
        self.head = b"".join(
            [
                _header("From", single_line(from_addr, "From")),
                _header("Subject", single_line(subject, "Subject")),
                _header("Date", sent_date or email.utils.formatdate(usegmt=True)),
                _header("List-Id", single_line(list_id, "List-Id")),
                b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                fold("Feedback-ID", [feedback_id(date, list_key, self.domain)]),
                b"MIME-Version: 1.0\r\n",
                f'Content-Type: multipart/alternative;\r\n boundary="{self.boundary}"\r\n'.encode(),
            ]
        )

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.base_url}/u/{token}"

    def build(self, r: Recipient) -> bytes:
        """The whole message for one subscriber, CRLF line ends, ready for SMTP DATA."""
        unsubscribe = self.unsubscribe_url(r.unsubscribe_token)
        mailto = f"mailto:{self.unsubscribe_mailto}?subject=unsubscribe%20{r.unsubscribe_token}"

        tokens = (r.unsubscribe_token, r.preferences_token)
        if all(len(t) == TOKEN_LENGTH for t in tokens):
            text, html = _fill(self._text, tokens), _fill(self._html, tokens)
        else:  # a token of another length (a huge id, a test): encode this one afresh
            text, html = _qp(fill_tokens(self.text, *tokens)), _qp(fill_tokens(self.html, *tokens))
        b = self.boundary.encode()
        return b"".join(
            [
                format_to(r.name, r.email),
                fold(
                    "Message-ID",
                    [message_id(self.date, r.subscriber_id, self.list_key, self.domain)],
                ),
                fold("List-Unsubscribe", [f"<{unsubscribe}>", f"<{mailto}>"]),
                self.head,
                b"\r\n--",
                b,
                b"\r\n",
                b'Content-Type: text/plain; charset="utf-8"\r\n',
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                text,
                b"--",
                b,
                b"\r\n",
                b'Content-Type: text/html; charset="utf-8"\r\n',
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                html,
                b"--",
                b,
                b"--\r\n",
            ]
        )
