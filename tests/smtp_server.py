"""A real SMTP server for tests: it records every message and injects faults on demand.

It is aiosmtpd underneath, so the client under test talks to a genuine SMTP implementation
(pipelining, dot-stuffing, SMTPUTF8, STARTTLS, AUTH) while the test decides what goes wrong.

In-process use: the ``smtp_server`` / ``smtp_server_factory`` fixtures, or ``SMTPTestServer``
as a context manager. For a client that runs (and gets killed) as a subprocess, the server can
also run on its own::

    python -m tests.smtp_server --port 0 --record DIR   # prints "READY <port>", writes DIR/<n>.eml
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import collections
import contextlib
import email.parser
import email.policy
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, AnyStr, Literal, Protocol

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

TLSMode = Literal["none", "starttls", "tls"]

# Room for the 1 MB messages the tests send, with plenty to spare.
DATA_SIZE_LIMIT = 32 * 1024 * 1024
_THREAD_TIMEOUT = 5.0


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it (after DATA's final 250)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # as on the wire (CRLF line ends), with SMTP dot-stuffing undone
    message_id: str | None  # raw Message-ID header value, angle brackets kept
    tls: bool = False  # the session was encrypted (STARTTLS or implicit TLS)
    auth_user: str | None = None  # the login the session authenticated as, if any


class _Fault:
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


def _ignore_client_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Clients that vanish mid-handshake are a test's business, not a server error to log;
    nor is stop() cancelling a TLS handshake still in progress."""
    if isinstance(context.get("exception"), (OSError, asyncio.CancelledError)):  # incl. SSLError
        return
    loop.default_exception_handler(context)


class _Connection(SMTP):
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
        server: _Connection,
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
        return responses

    async def handle_MAIL(
        self,
        server: _Connection,
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
        server: _Connection,
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

    async def handle_DATA(self, server: _Connection, session: Session, envelope: Envelope) -> str:
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


_cert_lock = threading.Lock()
_cert_files: tuple[Path, Path] | None = None


def self_signed_cert() -> tuple[Path, Path]:
    """(cert, key) PEM files, made once per process with openssl, deleted at exit.

    The certificate is its own CA and names localhost, 127.0.0.1 and ::1, so a client that
    trusts it can verify hostnames too. Generated at runtime so no private key is committed.
    """
    global _cert_files
    with _cert_lock:
        if _cert_files is None:
            folder = Path(tempfile.mkdtemp(prefix="smtp-test-cert-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            cert, key = folder / "cert.pem", folder / "key.pem"
            try:
                subprocess.run(
                    [
                        "openssl",
                        "req",
                        "-x509",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:prime256v1",
                        "-nodes",
                        "-keyout",
                        str(key),
                        "-out",
                        str(cert),
                        "-days",
                        "7",
                        "-subj",
                        "/CN=localhost",
                        "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
                        "-addext",
                        "basicConstraints=critical,CA:TRUE",
                        "-addext",
                        "keyUsage=critical,digitalSignature,keyCertSign",
                        "-addext",
                        "extendedKeyUsage=serverAuth",
                    ],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            except (OSError, subprocess.CalledProcessError) as exc:
                detail = getattr(exc, "stderr", b"") or b""
                raise RuntimeError(
                    f"cannot make a test TLS certificate with openssl: {exc} {detail.decode()}"
                ) from exc
            _cert_files = (cert, key)
        return _cert_files


class SMTPTestServer:
    """An SMTP server on its own thread and event loop, recording messages and faking faults.

    ``tls``: "none"; "starttls" (offered, not required; AUTH is then only offered after
    STARTTLS, as on real servers); "tls" (implicit, like port 465). The certificate is
    self-signed: verify with ``ssl_context_for_clients()`` or turn verification off.
    ``auth=(user, password)``: AUTH PLAIN/LOGIN with exactly those credentials, MAIL FROM
    refused with 530 until then. ``port`` 0 picks a free port. ``record_dir`` also writes each
    message there as ``<n>.eml`` (n from 1, atomically), before the final 250 is sent.
    """

    def __init__(
        self,
        *,
        tls: TLSMode = "none",
        auth: tuple[str, str] | None = None,
        hostname: str = "127.0.0.1",
        port: int = 0,
        record_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if tls not in ("none", "starttls", "tls"):
            raise ValueError(f"tls must be 'none', 'starttls' or 'tls', not {tls!r}")
        self.tls: TLSMode = tls
        self.auth = auth
        self.host = hostname
        self.port = port
        self.record_dir = Path(record_dir) if record_dir is not None else None
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._messages: list[Received] = []
        self._rcpt_attempts: collections.Counter[str] = collections.Counter()
        self._connections = 0
        self._fail: dict[str, _Fault] = {}
        self._drop: dict[str, _Fault] = {}
        self._hang: set[str] = set()
        self._hang_all = False
        self._live: set[_Connection] = set()  # open sessions; touched only on the loop thread
        self._lifecycle = threading.RLock()  # start/stop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Bind, then serve on a daemon thread; returns once connections are being accepted."""
        with self._lifecycle:
            self._start()

    def _start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("SMTPTestServer already started")
        if self.record_dir is not None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
        server_tls = self._server_ssl_context() if self.tls != "none" else None
        # Bind here rather than letting asyncio do it: errors surface in the caller, the port
        # is known at once, and a name like "localhost" can't yield two sockets on two ports.
        family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((self.host, self.port), family=family, backlog=128)
        self.port = sock.getsockname()[1]

        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def factory() -> _Connection:
            with self._lock:
                self._connections += 1
            return _Connection(
                self,
                loop=loop,
                hostname="smtp.test",  # else aiosmtpd calls socket.getfqdn(): DNS, per session
                ident="digest test SMTP",
                data_size_limit=DATA_SIZE_LIMIT,
                enable_SMTPUTF8=True,  # the SMTP class defaults it off (only Controller flips it)
                decode_data=False,  # keeps 8BITMIME and gives us the raw bytes
                tls_context=server_tls if self.tls == "starttls" else None,
                require_starttls=False,
                # aiosmtpd only counts STARTTLS as encryption, so implicit TLS would refuse
                # AUTH with 538 unless this is off; a plain server needs it off too.
                auth_require_tls=self.tls == "starttls",
                authenticator=self._authenticate,
            )

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.set_exception_handler(_ignore_client_errors)
            try:
                server = loop.run_until_complete(
                    loop.create_server(
                        factory,
                        sock=sock,
                        ssl=server_tls if self.tls == "tls" else None,
                    )
                )
            except BaseException as exc:
                failure.append(exc)
                sock.close()
                loop.close()
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown(server))
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"smtp-test-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(_THREAD_TIMEOUT)
        if failure or not ready.is_set():
            self.stop()
            raise RuntimeError("SMTP test server failed to start") from (
                failure[0] if failure else None
            )

    def stop(self) -> None:
        """Close the listener and every open connection (hung ones too); idempotent and
        safe to call from any thread, e.g. a timer while the test thread is blocked."""
        with self._lifecycle:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None:
                return
            with contextlib.suppress(RuntimeError):  # the loop already ended (failed start)
                loop.call_soon_threadsafe(loop.stop)
            thread.join(_THREAD_TIMEOUT)
            self._thread = self._loop = None
            if thread.is_alive():
                raise RuntimeError(f"SMTP test server did not stop within {_THREAD_TIMEOUT} s")

    async def _shutdown(self, server: asyncio.AbstractServer) -> None:
        server.close()
        for session in list(self._live):
            session.drop()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
        await asyncio.sleep(0)  # let the aborted transports run connection_lost

    def __enter__(self) -> SMTPTestServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- TLS ---------------------------------------------------------------------------------

    @property
    def cert_path(self) -> Path:
        """PEM certificate the server presents; also the CA file to trust it."""
        return self_signed_cert()[0]

    def ssl_context_for_clients(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (full verification on)."""
        return ssl.create_default_context(cafile=str(self.cert_path))

    def _server_ssl_context(self) -> ssl.SSLContext:
        cert, key = self_signed_cert()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        data: Any,
    ) -> AuthResult:
        ok = (
            self.auth is not None
            and isinstance(data, LoginPassword)
            and (data.login, data.password) == (self.auth[0].encode(), self.auth[1].encode())
        )
        # handled=False: aiosmtpd then replies 235 on success and 535 on failure.
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    # -- what arrived ------------------------------------------------------------------------

    def _record(self, message: Received) -> None:
        with self._arrived:
            self._messages.append(message)
            number = len(self._messages)
            if self.record_dir is not None:  # under the lock: files appear in arrival order
                final = self.record_dir / f"{number}.eml"
                partial = self.record_dir / f".{number}.eml.part"
                partial.write_bytes(message.data)
                os.replace(partial, final)
            self._arrived.notify_all()

    @property
    def messages(self) -> list[Received]:
        """Snapshot of every accepted message, in arrival order."""
        with self._lock:
            return list(self._messages)

    def received_by(self, address: str) -> list[Received]:
        """Messages whose accepted recipients include `address` (case-insensitive)."""
        key = address.lower()
        return [m for m in self.messages if any(r.lower() == key for r in m.rcpt_tos)]

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Block until at least `count` messages are recorded, else AssertionError."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._messages) >= count, timeout):
                raise AssertionError(
                    f"expected at least {count} message(s) within {timeout} s, "
                    f"got {len(self._messages)}"
                )

    def rcpt_attempts(self, address: str) -> int:
        """How many RCPT TO commands named `address` (case-insensitive), refused ones too."""
        with self._lock:
            return self._rcpt_attempts[address.lower()]

    @property
    def connections(self) -> int:
        """How many TCP connections were accepted so far (to check connection reuse)."""
        with self._lock:
            return self._connections

    # -- faults ------------------------------------------------------------------------------

    def fail(self, address: str, reply: str, times: int | None = None) -> None:
        """Answer RCPT TO for `address` with `reply` ("550 5.1.1 No such user"), for the first
        `times` attempts (None: always). A 421 reply also closes the connection."""
        code = reply[:3]
        if not (code.isdigit() and code[0] in "45" and reply[3:4] in ("", " ")):
            raise ValueError(f"reply must be a 4xx/5xx SMTP reply like '451 4.3.0 ...': {reply!r}")
        with self._lock:
            self._fail[address.lower()] = _Fault(reply, times)

    def drop_in_data(self, address: str, times: int | None = 1) -> None:
        """For a message to `address`, read all of DATA then drop the connection unanswered
        (nothing is recorded), for the next `times` messages (None: always)."""
        with self._lock:
            self._drop[address.lower()] = _Fault("", times)

    def hang(self, address: str | None = None) -> None:
        """Never answer RCPT TO for `address`; with None, never answer anything any more
        (greetings included). Connections stay open until the client gives up or stop()."""
        with self._lock:
            if address is None:
                self._hang_all = True
            else:
                self._hang.add(address.lower())

    def clear_faults(self) -> None:
        """Forget every fault; connections already hanging stay hung."""
        with self._lock:
            self._fail.clear()
            self._drop.clear()
            self._hang.clear()
            self._hang_all = False


# -- pytest fixtures -------------------------------------------------------------------------


class SMTPServerFactory(Protocol):
    """Type of the ``smtp_server_factory`` fixture."""

    def __call__(
        self,
        *,
        tls: TLSMode = ...,
        auth: tuple[str, str] | None = ...,
        hostname: str = ...,
        record_dir: str | os.PathLike[str] | None = ...,
    ) -> SMTPTestServer: ...


# Fixtures carry a name= so importing them (into conftest) doesn't shadow test arguments.
@pytest.fixture(name="smtp_server_factory")
def smtp_server_factory_fixture() -> Iterator[SMTPServerFactory]:
    """Start servers with any options; every one is stopped at teardown."""
    started: list[SMTPTestServer] = []

    def make(**kwargs: Any) -> SMTPTestServer:
        server = SMTPTestServer(**kwargs)
        server.start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture(name="smtp_server")
def smtp_server_fixture(smtp_server_factory: SMTPServerFactory) -> SMTPTestServer:
    """A started plain SMTP server (no TLS, no AUTH), stopped after the test."""
    return smtp_server_factory()


# -- standalone process ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT, for tests whose SMTP client is a subprocess."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.smtp_server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--record", metavar="DIR", type=Path, help="write each message to DIR/<n>.eml"
    )
    args = parser.parse_args(argv)

    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Block before the server thread exists so it inherits the mask and sigwait() below
    # is the only receiver: no handler racing a half-started server.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    server = SMTPTestServer(hostname=args.host, port=args.port, record_dir=args.record)
    server.start()
    started = time.monotonic()
    try:
        print(f"READY {server.port}", flush=True)
        signal.sigwait(stop_signals)
    finally:
        server.stop()
    print(
        f"STOPPED after {time.monotonic() - started:.1f} s, {len(server.messages)} message(s)",
        file=sys.stderr,
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
