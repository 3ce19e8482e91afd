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
import collections
import contextlib
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# The protocol and handler hooks, and the TLS certificate, live in their own modules; Received
# is imported from here by the tests, so it stays importable under this module's name.
from .smtp_session import Connection, Fault, Received, ignore_client_errors
from .smtp_tls import client_context, server_context, tls_files

TLSMode = Literal["none", "starttls", "tls"]

# Room for the 1 MB messages the tests send, with plenty to spare.
DATA_SIZE_LIMIT = 32 * 1024 * 1024
_THREAD_TIMEOUT = 5.0


class SMTPTestServer:
    """An SMTP server on its own thread and event loop, recording messages and faking faults.

    ``tls``: "none"; "starttls" (offered, not required; AUTH is then only offered after
    STARTTLS, as on real servers); "tls" (implicit, like port 465). The certificate is
    issued by a throwaway test CA (``cert_path``): verify with ``ssl_context_for_clients()``
    or turn verification off.
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
        smtputf8: bool = True,
        pipelining: bool = True,
    ) -> None:
        if tls not in ("none", "starttls", "tls"):
            raise ValueError(f"tls must be 'none', 'starttls' or 'tls', not {tls!r}")
        self.tls: TLSMode = tls
        self.auth = auth
        self.host = hostname
        self.port = port
        self.record_dir = Path(record_dir) if record_dir is not None else None
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531), as most servers now do
        self.pipelining = pipelining  # offer PIPELINING (RFC 2920), as nearly all servers do
        # Each read from a client that held a MAIL command: how commands arrived together.
        self._mail_reads: list[bytes] = []
        self._mail_after_message = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._messages: list[Received] = []
        self._rcpt_attempts: collections.Counter[str] = collections.Counter()
        self._connections = 0
        self._fail: dict[str, Fault] = {}
        self._drop: dict[str, Fault] = {}
        self._hang: set[str] = set()
        self._hang_all = False
        self._live: set[Connection] = set()  # open sessions; touched only on the loop thread
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

        def factory() -> Connection:
            with self._lock:
                self._connections += 1
            return Connection(
                self,
                loop=loop,
                hostname="smtp.test",  # else aiosmtpd calls socket.getfqdn(): DNS, per session
                ident="digest test SMTP",
                data_size_limit=DATA_SIZE_LIMIT,
                # The SMTP class defaults it off (only Controller flips it).
                enable_SMTPUTF8=self.smtputf8,
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
            loop.set_exception_handler(ignore_client_errors)
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
        """PEM certificate of the CA that signed the server's certificate: the CA file to
        trust it (e.g. ``smtp_ca_file``)."""
        return tls_files().ca

    def ssl_context_for_clients(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (full verification on)."""
        return client_context()

    def _server_ssl_context(self) -> ssl.SSLContext:
        return server_context()

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

    @property
    def mail_reads(self) -> list[bytes]:
        """Every read from a client that held a MAIL command, from that command on (300
        bytes): a pipelining client's MAIL, RCPT and DATA arrive in one."""
        with self._lock:
            return list(self._mail_reads)

    @property
    def mail_after_message(self) -> int:
        """How many MAIL commands arrived in the same read as the end of a message."""
        with self._lock:
            return self._mail_after_message

    # -- faults ------------------------------------------------------------------------------

    def fail(self, address: str, reply: str, times: int | None = None) -> None:
        """Answer RCPT TO for `address` with `reply` ("550 5.1.1 No such user"), for the first
        `times` attempts (None: always). A 421 reply also closes the connection."""
        code = reply[:3]
        if not (code.isdigit() and code[0] in "45" and reply[3:4] in ("", " ")):
            raise ValueError(f"reply must be a 4xx/5xx SMTP reply like '451 4.3.0 ...': {reply!r}")
        with self._lock:
            self._fail[address.lower()] = Fault(reply, times)

    def drop_in_data(self, address: str, times: int | None = 1) -> None:
        """For a message to `address`, read all of DATA then drop the connection unanswered
        (nothing is recorded), for the next `times` messages (None: always)."""
        with self._lock:
            self._drop[address.lower()] = Fault("", times)

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
        smtputf8: bool = ...,
        pipelining: bool = ...,
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
def smtp_server_fixture(
    smtp_server_factory: SMTPServerFactory, request: pytest.FixtureRequest
) -> SMTPTestServer:
    """A started plain SMTP server (no TLS, no AUTH), stopped after the test; `both_ways`
    runs a test against one that offers PIPELINING and one that doesn't."""
    return smtp_server_factory(**getattr(request, "param", {}))


# A test marked so runs twice: commands pipelined (RFC 2920), and one at a time.
both_ways = pytest.mark.parametrize(
    "smtp_server",
    [{"pipelining": True}, {"pipelining": False}],
    ids=["pipelined", "one-at-a-time"],
    indirect=True,
)


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
