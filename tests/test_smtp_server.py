"""Tests of the SMTP test server itself, driven by the standard library's smtplib.

Every later delivery test trusts this server to record faithfully and to fail on cue, so each
fault is checked from the client's side of the wire.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from .smtp_server import (  # the fixtures, until conftest imports them
    SMTPServerFactory,
    SMTPTestServer,
    smtp_server_factory_fixture,  # noqa: F401
    smtp_server_fixture,  # noqa: F401
)

ROOT = Path(__file__).resolve().parent.parent
SENDER = "digest@example.org"


def message(to: str = "reader@example.net", subject: str = "Today", n: int = 0) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<msg-{n}@digest.test>"
    msg.set_content(f"Story number {n}.\n")
    return msg


def connect(server: SMTPTestServer, timeout: float = 5) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, timeout=timeout)


def unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# -- recording -------------------------------------------------------------------------------


def test_records_envelope_data_and_message_id(smtp_server: SMTPTestServer) -> None:
    with connect(smtp_server) as client:
        client.send_message(
            message(to="Reader@Example.net", n=7),
            to_addrs=["Reader@Example.net", "other@example.net"],
        )

    [got] = smtp_server.messages
    assert got.mail_from == SENDER
    assert got.rcpt_tos == ["Reader@Example.net", "other@example.net"]
    assert got.message_id == "<msg-7@digest.test>"
    assert got.data.startswith(b"From: digest@example.org\r\n")
    assert b"\r\n\r\nStory number 7.\r\n" in got.data
    assert (got.tls, got.auth_user) == (False, None)
    assert smtp_server.received_by("reader@EXAMPLE.NET") == [got]
    assert smtp_server.received_by("nobody@example.net") == []
    assert smtp_server.rcpt_attempts("READER@example.net") == 1


def test_wait_for_raises_when_too_few_arrive(smtp_server: SMTPTestServer) -> None:
    smtp_server.wait_for(0, timeout=0.1)
    started = time.monotonic()
    with pytest.raises(AssertionError, match="at least 1"):
        smtp_server.wait_for(1, timeout=0.2)
    assert time.monotonic() - started < 1


def test_many_messages_over_one_connection(smtp_server: SMTPTestServer) -> None:
    with connect(smtp_server) as client:
        for n in range(20):
            client.send_message(message(to=f"r{n}@example.net", n=n))
            client.rset()  # what a pooled client sends between messages

    assert [m.message_id for m in smtp_server.messages] == [
        f"<msg-{n}@digest.test>" for n in range(20)
    ]
    assert smtp_server.connections == 1


def test_concurrent_connections(smtp_server: SMTPTestServer) -> None:
    def send(n: int) -> None:
        with connect(smtp_server) as client:
            client.send_message(message(to=f"r{n}@example.net", n=n))

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(send, range(20)))

    smtp_server.wait_for(20, timeout=5)
    assert sorted(m.message_id or "" for m in smtp_server.messages) == sorted(
        f"<msg-{n}@digest.test>" for n in range(20)
    )
    assert smtp_server.connections == 20


def test_large_message_with_leading_dots(smtp_server: SMTPTestServer) -> None:
    line = b"." + b"x" * 75 + b"\r\n"  # a leading dot on every line exercises dot-stuffing
    body = line * (1024 * 1024 // len(line) + 1)
    head = b"From: digest@example.org\r\nSubject: big\r\nMessage-ID: <big@digest.test>\r\n\r\n"
    raw = head + body
    with connect(smtp_server) as client:
        client.sendmail(SENDER, ["reader@example.net"], raw)

    [got] = smtp_server.messages
    assert len(got.data) > 1024 * 1024
    assert got.data == raw
    assert got.message_id == "<big@digest.test>"


def test_smtputf8_and_8bitmime(smtp_server: SMTPTestServer) -> None:
    msg = EmailMessage()
    msg["From"] = "Zoë <zoë@exämple.org>"
    msg["To"] = "ñandú@exämple.net"
    msg["Subject"] = "Grüße"
    msg["Message-ID"] = "<utf8@digest.test>"
    msg.set_content("Ça va — très bien.\n", cte="8bit")
    with connect(smtp_server) as client:
        client.send_message(msg)  # smtplib adds SMTPUTF8 and BODY=8BITMIME for these addresses

    [got] = smtp_server.messages
    assert got.mail_from == "zoë@exämple.org"
    assert got.rcpt_tos == ["ñandú@exämple.net"]
    assert "Ça va — très bien.".encode() in got.data
    assert smtp_server.received_by("ÑANDÚ@EXÄMPLE.NET") == [got]


# -- faults ----------------------------------------------------------------------------------


def test_fail_550_refuses_only_that_recipient(smtp_server: SMTPTestServer) -> None:
    smtp_server.fail("Gone@example.net", "550 5.1.1 No such user")
    with connect(smtp_server) as client:
        for _ in range(2):  # times=None: every attempt
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail(SENDER, ["gone@example.net"], message().as_bytes())
            assert refused.value.recipients == {"gone@example.net": (550, b"5.1.1 No such user")}
        client.rset()
        rejected = client.sendmail(
            SENDER, ["gone@example.net", "ok@example.net"], message().as_bytes()
        )

    assert rejected == {"gone@example.net": (550, b"5.1.1 No such user")}
    [got] = smtp_server.messages
    assert got.rcpt_tos == ["ok@example.net"]
    assert smtp_server.rcpt_attempts("gone@example.net") == 3


def test_fail_451_twice_then_accept(smtp_server: SMTPTestServer) -> None:
    smtp_server.fail("slow@example.net", "451 4.3.0 Temporary failure", times=2)
    codes = []
    with connect(smtp_server) as client:
        client.ehlo()
        for _ in range(3):
            client.mail(SENDER)
            codes.append(client.rcpt("slow@example.net")[0])
            client.rset()
        client.sendmail(SENDER, ["slow@example.net"], message().as_bytes())

    assert codes == [451, 451, 250]
    assert smtp_server.rcpt_attempts("slow@example.net") == 4
    assert len(smtp_server.received_by("slow@example.net")) == 1


def test_421_replies_then_closes_the_connection(smtp_server: SMTPTestServer) -> None:
    smtp_server.fail("busy@example.net", "421 4.7.0 Try again later", times=1)
    with connect(smtp_server, timeout=2) as client:
        client.ehlo()
        client.mail(SENDER)
        assert client.rcpt("busy@example.net") == (421, b"4.7.0 Try again later")
        assert client.file is not None
        assert client.file.readline() == b""  # EOF: the server hung up (a timeout fails this)

    with connect(smtp_server) as client:  # only once: the next connection is accepted
        client.sendmail(SENDER, ["busy@example.net"], message().as_bytes())
    assert smtp_server.connections == 2
    assert len(smtp_server.messages) == 1


def test_drop_in_data_records_nothing_then_recovers(smtp_server: SMTPTestServer) -> None:
    smtp_server.drop_in_data("Flaky@example.net")
    client = connect(smtp_server, timeout=2)
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
        client.sendmail(SENDER, ["flaky@example.net"], message().as_bytes())
    client.close()
    assert smtp_server.messages == []

    with connect(smtp_server) as client:  # times=1: the retry goes through
        client.sendmail(SENDER, ["flaky@example.net"], message().as_bytes())
    assert len(smtp_server.received_by("flaky@example.net")) == 1


def test_hang_times_the_client_out_and_stop_stays_fast(
    smtp_server_factory: SMTPServerFactory,
) -> None:
    server = smtp_server_factory()
    server.hang("stuck@example.net")
    started = time.monotonic()
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        connect(server, timeout=1).sendmail(SENDER, ["stuck@example.net"], b"Subject: x\r\n\r\n")
    assert 0.9 < time.monotonic() - started < 3

    # A second client stays connected inside the hung RCPT while the server stops.
    with socket.create_connection((server.host, server.port), timeout=2) as raw:
        raw.sendall(b"EHLO t\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<stuck@example.net>\r\n")
        deadline = time.monotonic() + 2
        while server.rcpt_attempts("stuck@example.net") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.rcpt_attempts("stuck@example.net") == 2
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1
        replies = b""
        while chunk := raw.recv(4096):  # the server closed it: EOF, not a timeout
            replies += chunk
    assert replies.endswith(b"250 OK\r\n")  # MAIL FROM answered, RCPT TO never was


def test_hang_all_withholds_the_greeting_until_cleared(smtp_server: SMTPTestServer) -> None:
    smtp_server.hang()
    with pytest.raises((smtplib.SMTPServerDisconnected, TimeoutError)):
        connect(smtp_server, timeout=0.5)
    smtp_server.clear_faults()
    with connect(smtp_server) as client:
        client.sendmail(SENDER, ["reader@example.net"], message().as_bytes())
    assert len(smtp_server.messages) == 1


# -- TLS and AUTH ----------------------------------------------------------------------------


def test_starttls(smtp_server_factory: SMTPServerFactory) -> None:
    server = smtp_server_factory(tls="starttls")
    with connect(server) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=unverified())
        client.send_message(message(n=1))
    with connect(server) as client:  # the offered certificate verifies against cert_path
        client.starttls(context=server.ssl_context_for_clients())
        client.send_message(message(n=2))
    with connect(server) as client:  # STARTTLS is offered, not required
        client.send_message(message(n=3))

    assert [(m.message_id, m.tls) for m in server.messages] == [
        ("<msg-1@digest.test>", True),
        ("<msg-2@digest.test>", True),
        ("<msg-3@digest.test>", False),
    ]


def test_implicit_tls(smtp_server_factory: SMTPServerFactory) -> None:
    server = smtp_server_factory(tls="tls")
    with smtplib.SMTP_SSL(server.host, server.port, context=unverified(), timeout=5) as client:
        assert not client.has_extn("starttls")
        client.send_message(message(n=1))
    with pytest.raises(smtplib.SMTPServerDisconnected):  # plain SMTP gets no greeting
        connect(server, timeout=0.3)

    [got] = server.messages
    assert (got.message_id, got.tls) == ("<msg-1@digest.test>", True)


def test_aiosmtplib_implicit_tls_with_auth_and_verification(
    smtp_server_factory: SMTPServerFactory,
) -> None:
    server = smtp_server_factory(tls="tls", auth=("digest", "s3cret"))

    async def send() -> None:
        await aiosmtplib.send(
            message(n=1),
            hostname=server.host,
            port=server.port,
            use_tls=True,
            tls_context=server.ssl_context_for_clients(),
            username="digest",
            password="s3cret",
            timeout=5,
        )

    asyncio.run(send())
    [got] = server.messages
    assert (got.tls, got.auth_user) == (True, "digest")


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_accepts_right_credentials(
    smtp_server_factory: SMTPServerFactory,
    mechanism: str,
) -> None:
    server = smtp_server_factory(auth=("digest", "s3cret"))
    with connect(server) as client:
        client.ehlo()
        client.user, client.password = "digest", "s3cret"
        authobject = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        assert client.auth(mechanism, authobject)[0] == 235
        client.send_message(message())
    assert [m.auth_user for m in server.messages] == ["digest"]


def test_auth_refuses_wrong_or_missing_credentials(
    smtp_server_factory: SMTPServerFactory,
) -> None:
    server = smtp_server_factory(auth=("digest", "s3cret"))
    with connect(server) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
            client.login("digest", "guess")
        assert wrong.value.smtp_code == 535
        with pytest.raises(smtplib.SMTPSenderRefused) as anonymous:
            client.sendmail(SENDER, ["reader@example.net"], message().as_bytes())
        assert anonymous.value.smtp_code == 530
    assert server.messages == []


def test_no_auth_offered_without_credentials(smtp_server: SMTPTestServer) -> None:
    with connect(smtp_server) as client:
        client.ehlo()
        assert not client.has_extn("auth")


# -- lifecycle -------------------------------------------------------------------------------


def test_start_stop_is_fast_and_ports_differ() -> None:
    started = time.monotonic()
    servers = [SMTPTestServer(tls="starttls") for _ in range(10)]
    for server in servers:
        server.start()
    assert len({s.port for s in servers}) == 10
    for server in servers:
        server.stop()
        server.stop()  # idempotent
    assert time.monotonic() - started < 1
    with pytest.raises(OSError):
        connect(servers[0], timeout=1)


def test_standalone_process_records_eml_files(tmp_path: Path) -> None:
    record = tmp_path / "mail"
    with subprocess.Popen(
        [sys.executable, "-m", "tests.smtp_server", "--port", "0", "--record", str(record)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            ready = proc.stdout.readline().split()
            assert ready[:1] == ["READY"], (ready, proc.stderr and proc.stderr.read())
            with smtplib.SMTP("127.0.0.1", int(ready[1]), timeout=5) as client:
                client.send_message(message(n=1))
                client.send_message(message(n=2))
            # Each file is complete once the client has its 250, and no temp files remain.
            assert sorted(p.name for p in record.iterdir()) == ["1.eml", "2.eml"]
            assert b"<msg-2@digest.test>" in (record / "2.eml").read_bytes()
            proc.terminate()
            _, err = proc.communicate(timeout=5)
            assert proc.returncode == 0, err
        finally:
            if proc.poll() is None:
                proc.kill()
