"""SMTP PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write where the server offers it,
one at a time where it doesn't, and every reply of a group handled.

Whole sends go to the aiosmtpd test server; the replies no real server gives on demand (split
byte by byte, DATA accepted after a refused RCPT, garbage) come from a small scripted server
on a real socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from digest.config import Config
from digest.deliver.smtp import SMTPSettings, SMTPTransport
from digest.deliver.transport import Envelope, PermanentFailure, TransientFailure
from digest.store import Store

from .smtp_server import SMTPTestServer, both_ways
from .test_send import day, send, smtp_config, subscribe  # noqa: F401  (day is a fixture)

MESSAGE = b"Subject: test\r\n\r\nline one\r\n.starts with a dot\r\n"


# ---- whole sends --------------------------------------------------------------------------


@both_ways
@pytest.mark.usefixtures("day")
def test_commands_go_together_only_where_the_server_offers_pipelining(
    store: Store, config: Config, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, *[(f"r{i}@example.com", None, None) for i in range(6)])
    result = send(store, cfg, concurrency=2)
    assert result.complete and result.counts.sent == 6
    reads = smtp_server.mail_reads
    assert len(reads) == 6
    together = [b"RCPT TO:" in r and b"DATA\r\n" in r for r in reads]
    assert all(together) if smtp_server.pipelining else not any(together)


@both_ways
@pytest.mark.usefixtures("day")
def test_the_next_message_follows_the_last_one_on_the_wire(
    store: Store, config: Config, smtp_server: SMTPTestServer
) -> None:
    """With pipelining one connection carries a message a round trip: its commands go out
    right behind the content of the one before."""
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, *[(f"r{i}@example.com", None, None) for i in range(8)])
    result = send(store, cfg, concurrency=1)
    assert result.complete and result.counts.sent == 8
    assert smtp_server.connections == 1
    if smtp_server.pipelining:
        assert smtp_server.mail_after_message >= 5  # of 7 that could
    else:
        assert smtp_server.mail_after_message == 0


@both_ways
@pytest.mark.usefixtures("day")
def test_a_refused_recipient_keeps_the_connection_for_the_next_message(
    store: Store, config: Config, smtp_server: SMTPTestServer
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, *[(f"r{i}@example.com", None, None) for i in range(5)])
    smtp_server.fail("r2@example.com", "550 5.1.1 No such user")
    result = send(store, cfg, concurrency=1)
    assert (result.counts.sent, result.counts.failed) == (4, 1)
    assert smtp_server.received_by("r2@example.com") == []
    assert len(smtp_server.messages) == 4  # no empty message for the refused one
    assert smtp_server.connections == 1


# ---- a scripted server ----------------------------------------------------------------------

Answer = Callable[[bytes], bytes | None]  # a command line -> the reply, or None: hang up


def normal(line: bytes) -> bytes | None:
    verb = line[:4].upper()
    return {b"DATA": b"354 go ahead\r\n", b"QUIT": b"221 bye\r\n"}.get(verb, b"250 ok\r\n")


class Scripted:
    """An SMTP server on a free port that answers each command as `answer` says and writes
    its replies `chunk` bytes at a time."""

    def __init__(
        self,
        answer: Answer,
        chunk: int = 4096,
        pipelining: bool = True,
        stray: bytes = b"",
        slow: tuple[bytes, float] = (b"", 0.0),
    ) -> None:
        self.answer = answer
        self.chunk = chunk
        self.ehlo = b"250-scripted\r\n" + (b"250-PIPELINING\r\n" if pipelining else b"")
        self.ehlo += b"250 8BITMIME\r\n" + stray  # stray: replies nobody asked for
        self.slow = slow  # (a command's start, seconds to wait before answering it)
        self.commands: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0
        self.port = 0
        self.handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def reply(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        for i in range(0, len(data), self.chunk):
            writer.write(data[i : i + self.chunk])
            await writer.drain()
            await asyncio.sleep(0.001)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await self.reply(writer, b"220 scripted ESMTP\r\n")
            while line := await reader.readline():
                self.commands.append(line.strip())
                if line[:4].upper() == b"EHLO":
                    await self.reply(writer, self.ehlo)
                    continue
                answer = self.answer(line.strip())
                if answer is None:
                    return
                if self.slow[0] and line.startswith(self.slow[0]):
                    await asyncio.sleep(self.slow[1])
                await self.reply(writer, answer)
                if answer.startswith(b"354"):
                    body = b""
                    while (part := await reader.readline()) != b".\r\n":
                        if not part:
                            return  # the client hung up: no message
                        body += part
                    self.bodies.append(body + b".\r\n")
                    self.commands.append(b"<body>")
                    answer = self.answer(b"<body>")
                    if answer is None:
                        return
                    await self.reply(writer, answer)
                if answer.startswith(b"421") or line[:4].upper() == b"QUIT":
                    return
        except ConnectionError:
            pass
        finally:
            writer.close()


def deliver_all(
    scripted: Scripted, recipients: list[str], timeout: float = 2.0, together: bool = False
) -> list[str | BaseException]:
    """Deliver MESSAGE to each recipient over one connection at a time: in turn, or all at
    once (the second's commands then follow the first's content); the replies or failures.
    A delivery that never ends fails the test instead of hanging it."""

    async def one(transport: SMTPTransport, i: int, rcpt: str) -> str | BaseException:
        try:
            return await transport.deliver(Envelope("from@x.org", rcpt, i), MESSAGE)
        except (TransientFailure, PermanentFailure) as exc:
            return exc

    async def run() -> list[str | BaseException]:
        server = await scripted.start()
        settings = SMTPSettings("127.0.0.1", scripted.port, "none", None, None, timeout, True, None)
        transport = SMTPTransport(settings, 1)
        if together:
            jobs = [one(transport, i, rcpt) for i, rcpt in enumerate(recipients)]
            results = list(await asyncio.gather(*jobs))
        else:
            results = [await one(transport, i, rcpt) for i, rcpt in enumerate(recipients)]
        await transport.close()
        if scripted.handlers:  # let each connection's handler end on its own
            await asyncio.wait(scripted.handlers, timeout=timeout)
        server.close()
        await server.wait_closed()
        return results

    return asyncio.run(asyncio.wait_for(run(), 30))


def test_replies_split_byte_by_byte_and_over_several_lines_are_read_whole() -> None:
    def answer(line: bytes) -> bytes | None:
        if line.startswith(b"RCPT"):
            return b"250-recipient\r\n250-is\r\n250 fine\r\n"
        return normal(line)

    scripted = Scripted(answer, chunk=1)
    results = deliver_all(scripted, ["a@y.org", "b@y.org"])
    assert results == ["250 ok", "250 ok"]
    assert scripted.connections == 1
    assert [b.count(b"\r\n..starts with a dot") for b in scripted.bodies] == [1, 1]


def test_data_accepted_after_a_refused_recipient_gets_an_empty_message_and_a_reset() -> None:
    """RFC 2920 3.1: the client may not assume DATA is refused when no RCPT was accepted; if
    the server says 354, a lone dot ends it. The next message then goes on the same line."""

    def answer(line: bytes) -> bytes | None:
        if line.startswith(b"RCPT TO:<gone@"):
            return b"550 5.1.1 no such user\r\n"
        return normal(line)

    scripted = Scripted(answer)
    first, second = deliver_all(scripted, ["gone@y.org", "ok@y.org"])
    assert isinstance(first, PermanentFailure) and first.reply == "550 5.1.1 no such user"
    assert second == "250 ok"
    assert scripted.bodies[0] == b".\r\n"  # the empty message, not MESSAGE
    assert scripted.commands.count(b"RSET") == 1
    assert scripted.connections == 1


def test_a_421_inside_a_group_fails_the_message_for_now_and_the_next_gets_a_new_connection() -> (
    None
):
    def answer(line: bytes) -> bytes | None:
        if line.startswith(b"RCPT TO:<busy@"):
            return b"421 4.7.0 busy, closing\r\n"
        return normal(line)

    scripted = Scripted(answer)
    first, second = deliver_all(scripted, ["busy@y.org", "ok@y.org"])
    assert isinstance(first, TransientFailure) and first.reply.startswith("421 4.7.0")
    assert not first.connection  # a reply about this message, not a dead server
    assert second == "250 ok"
    assert scripted.connections == 2


def test_a_connection_dropped_after_the_message_is_a_connection_failure() -> None:
    dropped: list[bool] = []

    def answer(line: bytes) -> bytes | None:
        if line == b"<body>" and not dropped:
            dropped.append(True)
            return None  # hang up without a reply
        return normal(line)

    scripted = Scripted(answer)
    first, second = deliver_all(scripted, ["a@y.org", "b@y.org"])
    assert isinstance(first, TransientFailure) and first.connection
    assert second == "250 ok"
    assert scripted.connections == 2


@pytest.mark.parametrize("garbage", [b"hello there\r\n", b"2x0 ok\r\n", b"250" + b"x" * 5000])
def test_a_reply_that_is_not_smtp_breaks_the_connection_not_the_run(garbage: bytes) -> None:
    def answer(line: bytes) -> bytes | None:
        return garbage if line.startswith(b"MAIL") else normal(line)

    [result] = deliver_all(Scripted(answer), ["a@y.org"])
    assert isinstance(result, TransientFailure) and result.connection


# ---- what the review of the pipelined path found --------------------------------------------


def test_a_connection_lost_on_the_reset_after_a_refusal_hands_the_next_message_on() -> None:
    def answer(line: bytes) -> bytes | None:
        if line.startswith(b"RCPT TO:<gone@"):
            return b"550 5.1.1 no such user\r\n"
        return None if line == b"RSET" else normal(line)

    scripted = Scripted(answer)
    first, second = deliver_all(scripted, ["gone@y.org", "ok@y.org"])
    assert isinstance(first, PermanentFailure)
    assert second == "250 ok"  # on a second connection: nothing of it had reached anyone
    assert scripted.connections == 2 and len(scripted.bodies) == 2


def test_a_message_given_up_on_before_its_354_is_never_sent() -> None:
    scripted = Scripted(normal, slow=(b"MAIL", 0.5))

    async def run() -> None:
        server = await scripted.start()
        settings = SMTPSettings("127.0.0.1", scripted.port, "none", None, None, 2.0, True, None)
        transport = SMTPTransport(settings, 1)
        task = asyncio.create_task(transport.deliver(Envelope("f@x.org", "a@y.org", 1), MESSAGE))
        await asyncio.sleep(0.2)
        task.cancel()  # as the Sender does once a stop's grace period is over
        await asyncio.sleep(0.8)  # the 354 arrives meanwhile
        await transport.close()
        server.close()
        await server.wait_closed()

    asyncio.run(asyncio.wait_for(run(), 30))
    assert scripted.bodies == []


def test_a_reply_nobody_asked_for_ends_the_connection_instead_of_shifting_the_replies() -> None:
    scripted = Scripted(normal, stray=b"250 stray\r\n")
    [result] = deliver_all(scripted, ["a@y.org"])
    assert isinstance(result, TransientFailure) and result.connection
    assert "nobody asked for" in result.reply
    assert scripted.bodies == []


def test_a_drop_after_a_message_fails_only_that_one_not_the_one_queued_behind_it() -> None:
    dropped: list[bool] = []

    def answer(line: bytes) -> bytes | None:
        if line == b"<body>" and not dropped:
            dropped.append(True)
            return None
        return normal(line)

    scripted = Scripted(answer)
    first, second = deliver_all(scripted, ["a@y.org", "b@y.org"], together=True)
    assert isinstance(first, TransientFailure) and first.connection
    assert second == "250 ok"
    assert scripted.connections == 2


def test_a_421_after_a_message_sends_the_next_one_on_another_connection() -> None:
    def answer(line: bytes) -> bytes | None:
        return b"421 4.3.2 shutting down\r\n" if line == b"<body>" else normal(line)

    scripted = Scripted(answer)
    first, second = deliver_all(scripted, ["a@y.org", "b@y.org"], together=True)
    assert isinstance(first, TransientFailure) and not first.connection
    assert isinstance(second, TransientFailure) and not second.connection
    assert scripted.connections == 2
