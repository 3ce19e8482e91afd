"""The SMTP side of the test server: one aiosmtpd protocol object per connection, and the
handler hooks that authorise, inject the faults an ``SMTPTestServer`` was told to, and record
what arrives.

Split from ``tests/smtp_server.py`` (which owns the state these hooks read and write, under its
lock); import the server and ``Received`` from there.
"""

from __future__ import annotations

import asyncio
import collections
import email.parser
import email.policy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AnyStr

from aiosmtpd.smtp import SMTP, Envelope, LoginPassword, Session

if TYPE_CHECKING:
    from .smtp_server import SMTPTestServer


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it (after DATA's final 250)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # as on the wire (CRLF line ends), with SMTP dot-stuffing undone
    message_id: str | None  # raw Message-ID header value, angle brackets kept
    tls: bool = False  # the session was encrypted (STARTTLS or implicit TLS)
    auth_user: str | None = None  # the login the session authenticated as, if any


class Fault:
    """A fault that fires for `remaining` more attempts (None: every attempt)."""

    def __init__(self, reply: str, remaining: int | None) -> None:
        self.reply = reply
        self.remaining = remaining

    def fire(self) -> bool:
        """Use up one attempt; False once the fault is spent."""
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


async def _forever() -> None:
    """Block until cancelled; the connection's task is cancelled when it closes or at stop."""
    await asyncio.get_running_loop().create_future()


class _QuietSession(Session):
    """Upstream's login_data property logs a deprecation warning on every successful AUTH
    (aiosmtpd sets it itself); a plain attribute keeps the test log readable."""

    login_data: Any = None


def ignore_client_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Clients that vanish mid-handshake are a test's business, not a server error to log;
    nor is stop() cancelling a TLS handshake still in progress."""
    if isinstance(context.get("exception"), (OSError, asyncio.CancelledError)):  # incl. SSLError
        return
    loop.default_exception_handler(context)


class Connection(SMTP):
    """aiosmtpd's protocol (one per connection), with hooks the fault injection needs."""

    def __init__(self, owner: SMTPTestServer, **kwargs: Any) -> None:
        # Upstream keeps command_size_limits in a class-level dict that every new connection
        # clear()s and every EHLO grows, so concurrent sessions corrupt each other's limits.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        super().__init__(_Handler(owner), **kwargs)
        # Named without smtp_/auth_/handle_ prefixes: aiosmtpd treats those as commands/hooks.
        self.owner = owner
        self.close_after_reply = False

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.owner._live.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.owner._live.discard(self)
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        start = 0 if data.startswith(b"MAIL") else data.find(b"\nMAIL FROM:") + 1
        if start > 0 or data.startswith(b"MAIL"):
            with self.owner._lock:
                self.owner._mail_reads.append(data[start : start + 300])
                # One message's end and the next one's MAIL in one read: pipelined behind it.
                self.owner._mail_after_message += data[start - 5 : start] == b"\r\n.\r\n"
        super().data_received(data)

    async def push(self, status: AnyStr) -> None:
        """Send a reply, unless the server hangs; close afterwards if a 421 asked for it."""
        if self.owner._hang_all:
            await _forever()
        await super().push(status)
        if self.close_after_reply and self.transport is not None:
            self.transport.close()  # flushes the reply first, like a real server's 421

    def drop(self) -> None:
        """Abort the TCP connection at once (for TLS this aborts the socket underneath)."""
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()


class _Handler:
    """aiosmtpd handler hooks: authorisation, fault injection and recording."""

    def __init__(self, owner: SMTPTestServer) -> None:
        self.owner = owner

    async def handle_EHLO(
        self,
        server: Connection,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # With this hook present aiosmtpd no longer records the HELO name itself, and without
        # it every later command gets "503 send HELO first".
        session.host_name = hostname
        if self.owner.auth is None:  # don't invite clients to log in where no login works
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        if self.owner.pipelining:  # aiosmtpd reads commands in turn, so it can; it just never says
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self,
        server: Connection,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        # A hook that returns a status takes over: aiosmtpd no longer fills the envelope.
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: Connection,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        owner, key = self.owner, address.lower()
        with owner._lock:
            owner._rcpt_attempts[key] += 1
            hang = key in owner._hang
            fault = owner._fail.get(key)
            fires = fault is not None and fault.fire()
        if hang:
            await _forever()
        if fires:
            assert fault is not None
            if fault.reply.startswith("421"):
                server.close_after_reply = True
            return fault.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Connection, session: Session, envelope: Envelope) -> str:
        owner = self.owner
        with owner._lock:
            faults = [owner._drop.get(r.lower()) for r in envelope.rcpt_tos]
            fired = [f.fire() for f in faults if f is not None]  # spend every matching fault
        if any(fired):
            server.drop()
            await _forever()
        data = envelope.original_content or b""
        transport = server.transport
        auth = session.auth_data if session.authenticated else None
        owner._record(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=data,
                message_id=_message_id(data),
                tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
                auth_user=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            )
        )
        return "250 OK"


def _message_id(data: bytes) -> str | None:
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
    value = headers.get("Message-ID")
    if value is None:
        return None
    return " ".join(str(value).split()) or None  # unfolded
