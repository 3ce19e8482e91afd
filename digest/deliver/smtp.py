"""The SMTP transport: a pool of persistent aiosmtplib connections.

Connections are opened lazily and reused for message after message; one that failed in any
way other than a clean 5xx reply is thrown away, so a retry always gets a fresh connection.
Every step has a timeout, so a server that stops answering fails the attempt, never hangs it.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib

from ..config import Config
from ..errors import ConfigError
from .transport import Envelope, PermanentFailure, TransientFailure, TransportError

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


class _Refused(Exception):
    """The server answered a step of the transaction with something other than success."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"[:500]


class SMTPTransport:
    name = "smtp"

    def __init__(self, settings: SMTPSettings, size: int) -> None:
        self.settings = settings
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(size)
        self._context = settings.tls_context()
        self.connections_opened = 0

    async def _connect(self) -> aiosmtplib.SMTP:
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
            await client.connect()
            if client.is_ehlo_or_helo_needed:  # sendmail would; our own transaction must
                await client.ehlo()
            if s.username and s.password:
                await client.login(s.username, s.password)
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
        self.connections_opened += 1
        return client

    async def deliver(self, envelope: Envelope, message: bytes) -> str:
        async with self._slots:
            client = self._idle.pop() if self._idle else await self._connect()
            keep = False
            try:
                reply = await self._transaction(client, envelope, message)
                keep = True
                return reply
            except _Refused as exc:
                keep, failure = _classify(exc.code, exc.message)
                if keep:
                    await self._reset(client)
                raise failure from None
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                raise TransientFailure(_describe(exc), connection=True) from None
            finally:
                if keep and client.is_connected:
                    self._idle.append(client)
                else:
                    client.close()

    async def _transaction(
        self, client: aiosmtplib.SMTP, envelope: Envelope, message: bytes
    ) -> str:
        """MAIL, RCPT, DATA and the message, as aiosmtplib's sendmail would, without its
        per-message address parsing and regular-expression passes over the whole message:
        ours is already CRLF throughout, and the dot-stuffing is one bytes.replace.

        An address with a non-ASCII local part travels only with SMTPUTF8 (RFC 6531); a
        server that does not offer it gets nothing, and that delivery fails for good."""
        utf8 = not (envelope.sender.isascii() and envelope.recipient.isascii())
        if utf8 and not client.supports_extension("smtputf8"):
            raise _Refused(
                553, f"5.6.7 the server does not offer SMTPUTF8, which {envelope.recipient} needs"
            )
        mail = b"FROM:<" + envelope.sender.encode("utf-8") + b">" + (b" SMTPUTF8" if utf8 else b"")
        for command, arg, ok in (
            (b"MAIL", mail, (250,)),
            (b"RCPT", b"TO:<" + envelope.recipient.encode("utf-8") + b">", (250, 251)),
            (b"DATA", None, (354,)),
        ):
            response = await client.execute_command(*((command, arg) if arg else (command,)))
            if response.code not in ok:
                raise _Refused(response.code, response.message)
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost")
        protocol.write(message.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        try:
            response = await protocol.read_response(timeout=self.settings.timeout)
        except aiosmtplib.SMTPException:
            client.close()  # a half-read reply must never pair with the next command
            raise
        if response.code != 250:
            raise _Refused(response.code, response.message)
        return _reply(response.code, response.message)

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        """RSET after a refusal, so the connection can carry the next message."""
        try:
            response = await client.execute_command(b"RSET")
            if response.code != 250:
                client.close()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            client.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await asyncio.wait_for(client.quit(), timeout=min(self.settings.timeout, 5))
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                client.close()


def _classify(code: int, message: str) -> tuple[bool, PermanentFailure | TransientFailure]:
    """Whether the connection may be reused, and what the reply means for the message.

    A 5xx is a clean refusal of this message (we send RSET), so the connection is kept;
    after a 4xx the next try gets a fresh connection, as the server may be unwell.
    """
    reply = _reply(code, message)
    if 500 <= code < 600:
        return True, PermanentFailure(reply)
    return False, TransientFailure(reply)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError | aiosmtplib.SMTPTimeoutError):
        return "timed out waiting for the server"
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
        return f"connection lost: {exc}" if str(exc) else "connection lost"
    return f"{type(exc).__name__}: {exc}"
