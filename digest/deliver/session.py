"""One SMTP connection after the handshake, carrying message after message, pipelined where
the server offers it (RFC 2920).

aiosmtplib opens the connection, negotiates TLS and logs in; then this protocol takes the
transport over (`set_protocol`). aiosmtplib reads exactly one reply per command and drops
whatever arrives beyond it, so it cannot pipeline: here replies are parsed as they arrive and
read in order.

With PIPELINING a message costs one round trip: MAIL, RCPT and DATA go out in one write; once
DATA's 354 is in, the message goes out followed by the next message's MAIL, RCPT and DATA
(message content may open a group, RFC 2920 section 3.1; it never follows DATA in one), and
the replies come back in the same order. Every reply of a group is read, so a refusal never
puts the connection out of step. Without PIPELINING, one command at a time.

A 5xx refusal is about one message: RSET, and the connection goes on. After a 4xx the server
may be unwell: the connection finishes what it has written and ends, and what was waiting for
it goes back to the transport to go out on another. When a connection breaks, only a message
whose content went out has an unknown fate (it fails, to be retried); one whose commands alone
went out never reached anyone, and goes out on another connection (once: a server that
breaks every connection must still fail the message, not loop on it). Every reply is counted
against the commands written, so a reply nobody asked for ends the connection instead of
being paired with the wrong message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

# A reply line longer than this is garbage, not SMTP (RFC 5321 allows 512), and so is a reply
# of more lines than this.
MAX_LINE = 2048
MAX_LINES = 100
# The replies that mean yes to MAIL, RCPT and DATA, in that order.
ACCEPTED = ((250,), (250, 251), (354,))

log = logging.getLogger("digest.send")


class Reply(NamedTuple):
    code: int
    message: str


class Lost(Exception):
    """The connection broke, timed out or spoke garbage: it can carry nothing more."""


class Refused(Exception):
    """The server answered a step of the transaction with something other than success."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message


@dataclass(eq=False)
class Transaction:
    """One message for one recipient; `done` gets the final reply, Refused or Lost."""

    sender: str
    recipient: str
    message: bytes  # CRLF line ends throughout
    done: asyncio.Future[Reply]
    content_sent: bool = False  # from then on a broken connection leaves its fate unknown
    handed_back: bool = False  # went to another connection once already

    def finish(self, reply: Reply | BaseException) -> None:
        if self.done.done():  # its sender gave up waiting (the run is stopping)
            return
        if isinstance(reply, BaseException):
            self.done.set_exception(reply)
        else:
            self.done.set_result(reply)

    def commands(self, smtputf8: bool) -> tuple[bytes, bytes, bytes]:
        """MAIL, RCPT and DATA, each with its line end. An address with a non-ASCII local
        part travels only with SMTPUTF8 (RFC 6531): a server that doesn't offer it gets
        nothing, and the delivery fails for good."""
        utf8 = not (self.sender.isascii() and self.recipient.isascii())
        if utf8 and not smtputf8:
            raise Refused(
                553, f"5.6.7 the server does not offer SMTPUTF8, which {self.recipient} needs"
            )
        mail = b"MAIL FROM:<" + self.sender.encode() + b">" + (b" SMTPUTF8" if utf8 else b"")
        return mail + b"\r\n", b"RCPT TO:<" + self.recipient.encode() + b">\r\n", b"DATA\r\n"

    def content(self) -> bytes:
        return self.message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


class Session(asyncio.Protocol):
    """An SMTP connection whose greeting, EHLO, STARTTLS and AUTH are done. `submit` hands
    it a transaction; `ended` is called once, with what it did not get to."""

    def __init__(
        self,
        transport: asyncio.Transport,
        timeout: float,
        extensions: set[str],
        pending: bytes,
        ended: Callable[[Session, list[Transaction]], None],
    ) -> None:
        self.timeout = timeout
        self.pipelining = "pipelining" in extensions
        self.smtputf8 = "smtputf8" in extensions
        self.waiting: deque[Transaction] = deque()  # submitted, nothing written yet
        self.current: list[Transaction] = []  # taken on, not finished: oldest first
        self.accepting = True
        self._ended = ended
        self._more = asyncio.Event()
        self._quit = False
        self._transport = transport
        self._buffer = bytearray()
        self._lines: list[str] = []  # the lines of a multi-line reply so far
        self._replies: deque[Reply] = deque()
        self._owed = 0  # replies still to come for what was written
        self.settled = 0  # transactions that got their final reply here
        self._waiter: asyncio.Future[None] | None = None
        self._lost: str | None = None
        self._error: Exception | None = None  # a fault of ours that ended the session
        transport.set_protocol(self)
        if pending:  # the server said more than EHLO and AUTH asked for
            self._fail("the server sent a reply nobody asked for")
        self.task = asyncio.get_running_loop().create_task(self._drive())

    @property
    def load(self) -> int:
        return len(self.waiting) + len(self.current)

    def submit(self, transaction: Transaction) -> None:
        self.waiting.append(transaction)
        self._more.set()

    async def quit(self, timeout: float) -> None:
        """QUIT once what was submitted is done."""
        self.timeout = min(self.timeout, timeout)
        self._quit = True
        self._more.set()
        await asyncio.wait([self.task], timeout=timeout + self.timeout * 2)
        self.close()

    def close(self) -> None:
        if self._lost is None:
            self._lost = "closed"
        self._transport.close()
        self._wake()
        self._more.set()

    # ---- the protocol -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            code = line[:3]
            if end > MAX_LINE or not code.isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
                self._fail(f"not an SMTP reply: {line[:80]!r}")
                return
            self._lines.append(line[4:].strip().decode("utf-8", "replace"))
            if len(self._lines) > MAX_LINES:
                self._fail(f"a reply of more than {MAX_LINES} lines")
                return
            if line[3:4] == b"-":
                continue
            if self._owed <= 0:
                self._fail(f"the server sent a reply nobody asked for: {line[:80]!r}")
                return
            self._owed -= 1
            self._replies.append(Reply(int(code), "\n".join(self._lines)))
            self._lines = []
        if len(self._buffer) > MAX_LINE:
            self._fail("a reply line too long")
            return
        if self._replies:
            self._wake()

    def eof_received(self) -> bool:
        self._fail("connection closed by the server")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}" if exc else "connection lost")

    def _fail(self, why: str) -> None:
        if self._lost is None:
            self._lost = why
        if not self._transport.is_closing():
            self._transport.abort()
        self._wake()
        self._more.set()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # ---- reading and writing ----------------------------------------------------------------

    def write(self, data: bytes, replies: int) -> None:
        """Write `data`, which asks for that many replies."""
        if self._lost is not None or self._transport.is_closing():
            raise Lost(self._lost or "connection closed")
        self._owed += replies
        self._transport.write(data)

    async def read(self) -> Reply:
        """The next reply; Lost if the connection breaks or stays silent past the timeout.
        Replies already received are returned even after the connection is gone."""
        while not self._replies:
            if self._lost is not None:
                raise Lost(self._lost)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, self.timeout)
            except TimeoutError:
                self._fail("timed out waiting for the server")
                raise Lost("timed out waiting for the server") from None
            finally:
                self._waiter = None
        return self._replies.popleft()

    # ---- the transactions -------------------------------------------------------------------

    async def _next(self, wait: bool = True) -> Transaction | None:
        """The next transaction to take on; None when the session is to end (or, without
        `wait`, when none is waiting right now)."""
        while True:
            while self.accepting and self._lost is None and self.waiting:
                transaction = self.waiting.popleft()
                if not transaction.done.done():
                    return transaction
            if not wait or self._quit or not self.accepting or self._lost is not None:
                return None
            self._more.clear()
            await self._more.wait()

    async def _drive(self) -> None:
        try:
            if self.pipelining:
                await self._pipelined()
            else:
                await self._one_at_a_time()
            if self._quit and self._lost is None:
                with contextlib.suppress(Lost):
                    self.write(b"QUIT\r\n", 1)
                    await self.read()
        except Lost:
            pass  # what it had taken on is settled below
        except Exception as exc:  # a fault of ours: it must not leave anyone waiting
            log.exception("SMTP session failed")
            self._error = exc
        finally:
            self.accepting = False
            self.close()
            # What never reached anyone goes to another connection: what was only waiting
            # here, when this connection got somewhere, as often as it comes to that; the
            # rest once, so that a server which breaks every connection at once cannot keep
            # a message going round for ever.
            failure = self._error or Lost(self._lost or "connection lost")
            blameless = self.settled > 0 and self._error is None
            again: list[Transaction] = []
            for transaction, waited in [
                *((t, False) for t in self.current),
                *((t, True) for t in self.waiting),
            ]:
                if transaction.done.done():
                    continue
                if waited and blameless:
                    again.append(transaction)
                elif transaction.content_sent or transaction.handed_back or self._error:
                    transaction.finish(failure)
                else:
                    transaction.handed_back = True
                    again.append(transaction)
            self.current, self.waiting = [], deque()
            self._ended(self, again)

    def _settle(self, transaction: Transaction, reply: Reply) -> bool:
        """Give a transaction its final reply; whether the connection may carry the next
        (after a 5xx it may: the caller sends RSET; after a 4xx it ends)."""
        self.current.remove(transaction)
        self.settled += 1
        if reply.code == 250:
            transaction.finish(reply)
            return True
        transaction.finish(Refused(*reply))
        if reply.code == 421:
            self._fail("the server closed the connection (421)")
        if not 500 <= reply.code < 600:
            self.accepting = False
            return False
        return True

    def _send_content(self, transaction: Transaction, following: bytes = b"") -> None:
        """The message after DATA's 354, and the next transaction's commands if any. A
        transaction its sender gave up on while waiting for the 354 is never sent: there is
        no taking back DATA but hanging up, and the server then discards it."""
        if transaction.done.done():
            self._fail("a message was given up on after DATA")
            raise Lost("a message was given up on after DATA")
        self.write(transaction.content() + following, 1 + (3 if following else 0))
        transaction.content_sent = True

    async def _one_at_a_time(self) -> None:
        while (transaction := await self._next()) is not None:
            self.current.append(transaction)
            try:
                for command, ok in zip(transaction.commands(self.smtputf8), ACCEPTED, strict=True):
                    self.write(command, 1)
                    reply = await self.read()
                    if reply.code not in ok:
                        raise Refused(*reply)
                self._send_content(transaction)
                reply = await self.read()
            except Refused as refusal:
                reply = Reply(refusal.code, refusal.message)
            if not self._settle(transaction, reply):
                return
            if reply.code != 250:
                self.write(b"RSET\r\n", 1)
                if (await self.read()).code != 250:
                    raise Lost("RSET refused")

    async def _pipelined(self) -> None:
        transaction = await self._next()
        opening = b""  # RSET after a refusal, in the same write as the next commands
        while transaction is not None:
            if transaction not in self.current:  # its commands were not written yet
                self.current.append(transaction)
                try:
                    commands = b"".join(transaction.commands(self.smtputf8))
                except Refused as refusal:
                    self._settle(transaction, Reply(refusal.code, refusal.message))
                    transaction = await self._next()
                    continue
                self.write(opening + commands, 3 + (1 if opening else 0))
                if opening:
                    opening = b""
                    if (await self.read()).code != 250:
                        raise Lost("RSET refused")
            # Else they went out behind the message before it, whose reply comes first.
            elif not self._settle(self.current[0], await self.read()) and self._lost is not None:
                return  # a 421: no more replies will come
            try:
                await self._group()
            except Refused as refusal:
                if not self._settle(transaction, Reply(refusal.code, refusal.message)):
                    return
                opening = b"RSET\r\n"
                transaction = await self._next()
                continue
            # The sender whose reply came in with this 354 is about to hand over its next
            # message: let it, so that message's commands can follow this one's content.
            await asyncio.sleep(0)
            following = await self._next(wait=False)
            commands = b""
            if following is not None:
                try:
                    commands = b"".join(following.commands(self.smtputf8))
                except Refused as refusal:
                    following.finish(refusal)
                    following = None
            self._send_content(transaction, commands)
            if following is not None:
                self.current.append(following)
                transaction = following
                continue
            # After the reply to a message the server starts afresh, even after a 5xx: the
            # next commands need no RSET before them.
            if not self._settle(transaction, await self.read()):
                return
            transaction = await self._next()

    async def _group(self) -> None:
        """Read the replies to MAIL, RCPT and DATA, every one of them (RFC 2920 section
        3.1), so the next transaction pairs its replies with its own commands; raise the
        first refusal."""
        refused: Reply | None = None
        reply = Reply(0, "")
        for ok in ACCEPTED:
            try:
                reply = await self.read()
            except Lost:
                if refused is not None:  # the server hung up after refusing: say why
                    raise Refused(*refused) from None
                raise
            if reply.code not in ok and refused is None:
                refused = reply
            if reply.code == 421:  # the server is closing: no more replies will come
                self._fail("the server closed the connection (421)")
                break
        if refused is None:
            return
        if reply.code == 354:
            # DATA was accepted although MAIL or every RCPT was refused: an empty message
            # ends it, and the server discards it for want of recipients.
            with contextlib.suppress(Lost):
                self.write(b".\r\n", 1)
                await self.read()
        raise Refused(*refused)
