"""The SMTP transport: a pool of persistent connections, opened by aiosmtplib (connection,
TLS, login) and then driven by session.py, which pipelines where the server allows.

Connections are opened lazily and reused for message after message; one that failed in any
way other than a clean 5xx reply is thrown away, so a retry always gets a fresh connection.
Every step has a timeout, so a server that stops answering fails the attempt, never hangs it.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import aiosmtplib

from ..config import Config
from ..errors import ConfigError
from .session import Lost, Refused, Reply, Session, Transaction
from .transport import (
    PER_CONNECTION,
    Envelope,
    PermanentFailure,
    TransientFailure,
    TransportError,
)

DEFAULT_PORTS = {"tls": 465, "starttls": 587, "none": 25}


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    tls: str  # none, starttls, tls
    username: str | None
    password: str | None
    timeout: float
    verify: bool
    ca_file: Path | None

    @classmethod
    def from_config(cls, config: Config) -> SMTPSettings:
        if not config.smtp_host:
            raise ConfigError("smtp transport needs smtp_host (or DIGEST_SMTP_HOST)")
        if bool(config.smtp_username) != bool(config.smtp_password):
            raise ConfigError("smtp_username and smtp_password go together: set both or neither")
        return cls(
            host=config.smtp_host,
            port=config.smtp_port or DEFAULT_PORTS[config.smtp_tls],
            tls=config.smtp_tls,
            username=config.smtp_username,
            password=config.smtp_password,
            timeout=config.smtp_timeout,
            verify=config.smtp_verify,
            ca_file=config.smtp_ca_file,
        )

    def tls_context(self) -> ssl.SSLContext | None:
        if self.tls == "none":
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"[:500]


class SMTPTransport:
    """Up to `size` connections, each with up to PER_CONNECTION messages under way where the
    server pipelines: one whose content is on the wire, the next one's commands right behind
    it, and one ready to follow."""

    name = "smtp"

    def __init__(self, settings: SMTPSettings, size: int) -> None:
        self.settings = settings
        self.size = size
        self.sessions: list[Session] = []
        self._opening = 0
        self._changed = asyncio.Event()  # a session opened or ended
        self._slots = asyncio.Semaphore(size * PER_CONNECTION)
        self._context = settings.tls_context()
        self._handing_back: set[asyncio.Task[None]] = set()
        self._closed = False
        self.connections_opened = 0

    async def _connect(self) -> Session:
        """aiosmtplib's connection, TLS and login; then the connection is ours."""
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.tls == "tls",
            start_tls=s.tls == "starttls",
            timeout=s.timeout,
            tls_context=self._context,
            validate_certs=s.verify,
        )
        try:
            if self._closed:
                raise TransientFailure("the transport is closed", connection=True)
            await client.connect()
            if client.is_ehlo_or_helo_needed:  # sendmail would; our own transaction must
                await client.ehlo()
            if s.username and s.password:
                await client.login(s.username, s.password)
            protocol, transport = client.protocol, client.transport
            if protocol is None or transport is None:
                raise aiosmtplib.SMTPServerDisconnected("connection lost")
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            # The reply, never the password.
            raise TransportError(
                f"SMTP login as {s.username!r} refused: {_reply(exc.code, exc.message)}"
            ) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise TransientFailure(
                f"cannot connect to {s.host}:{s.port}: {_describe(exc)}", connection=True
            ) from None
        except BaseException:  # cancelled, or ours: never leave the socket open
            client.close()
            raise
        self.connections_opened += 1
        pending = bytes(protocol._buffer)  # normally empty: nothing is owed after EHLO/AUTH
        # (uvloop's transports are not asyncio.Transport subclasses, but they are the same.)
        writable = cast(asyncio.Transport, transport)
        extensions = set(client.esmtp_extensions)
        return Session(writable, s.timeout, extensions, pending, self._ended)

    async def deliver(self, envelope: Envelope, message: bytes) -> str:
        async with self._slots:
            done: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
            await self._dispatch(Transaction(envelope.sender, envelope.recipient, message, done))
            try:
                reply = await done
            except Refused as exc:
                raise _classify(exc.code, exc.message) from None
            except Lost as exc:
                raise TransientFailure(str(exc), connection=True) from None
            return _reply(*reply)

    async def _dispatch(self, transaction: Transaction) -> None:
        """Give the transaction to the least busy connection; open a new one while every
        open one is busy and there is room for more."""
        while not transaction.done.done():  # (its sender may have given up meanwhile)
            live = [s for s in self.sessions if s.accepting]
            if len(live) + self._opening < self.size and all(s.load for s in live):
                self._opening += 1
                try:
                    session = await self._connect()
                finally:
                    self._opening -= 1
                    self._changed.set()
                self.sessions.append(session)
                session.submit(transaction)
                return
            if live:
                min(live, key=lambda s: s.load).submit(transaction)
                return
            self._changed.clear()  # every connection is still opening: wait for one
            await self._changed.wait()

    def _ended(self, session: Session, leftovers: list[Transaction]) -> None:
        """A connection ended: what it never started goes out on another."""
        if session in self.sessions:
            self.sessions.remove(session)
        self._changed.set()
        for transaction in leftovers:
            task = asyncio.get_running_loop().create_task(self._hand_back(transaction))
            self._handing_back.add(task)
            task.add_done_callback(self._handing_back.discard)

    async def _hand_back(self, transaction: Transaction) -> None:
        try:
            await self._dispatch(transaction)
        except asyncio.CancelledError:  # the transport closed
            transaction.finish(Lost("the transport closed"))
            raise
        except Exception as exc:  # no connection to be had: its sender hears why
            transaction.finish(exc)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._handing_back):
            task.cancel()
        timeout = min(self.settings.timeout, 5)
        await asyncio.gather(*(session.quit(timeout) for session in list(self.sessions)))


def _classify(code: int, message: str) -> PermanentFailure | TransientFailure:
    """What a refusal means for the message: a 5xx is for good, anything else for now."""
    reply = _reply(code, message)
    if 500 <= code < 600:
        return PermanentFailure(reply)
    return TransientFailure(reply)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError | aiosmtplib.SMTPTimeoutError):
        return "timed out waiting for the server"
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
        return f"connection lost: {exc}" if str(exc) else "connection lost"
    return f"{type(exc).__name__}: {exc}"
