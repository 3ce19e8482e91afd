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
                f"cannot connect to {s.host}:{s.port}: {_describe(exc)}"
            ) from None
        self.connections_opened += 1
        return client

    async def deliver(self, envelope: Envelope, message: bytes) -> str:
        async with self._slots:
            client = self._idle.pop() if self._idle else await self._connect()
            keep = False
            try:
                # An outer limit as well, in case a server trickles bytes forever.
                _, reply = await asyncio.wait_for(
                    client.sendmail(envelope.sender, [envelope.recipient], message),
                    timeout=self.settings.timeout * 4,
                )
                keep = True
                return f"250 {' '.join(reply.split())}"[:500]
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0]
                keep, failure = _classify(refused.code, refused.message)
                raise failure from None
            except aiosmtplib.SMTPResponseException as exc:
                keep, failure = _classify(exc.code, exc.message)
                raise failure from None
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                raise TransientFailure(_describe(exc)) from None
            finally:
                if keep and client.is_connected:
                    self._idle.append(client)
                else:
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

    A 5xx is a clean refusal of this message (aiosmtplib has sent RSET), so the connection is
    kept; after a 4xx the next try gets a fresh connection, as the server may be unwell.
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
