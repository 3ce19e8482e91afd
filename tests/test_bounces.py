"""Bounces and complaints: DSN (RFC 3464) and ARF (RFC 5965) samples in tests/fixtures/bounces/,
as a Maildir and as an mbox, map to the right subscriber and state after a real send (through
the aiosmtpd test server) with VERP return paths. See tests/fixtures/bounces/README.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from digest.bounces import parse_report, read_mailbox
from digest.cli import cli
from digest.config import Config
from digest.deliver.envelope import return_path_for
from digest.errors import ConfigError, TokenError
from digest.jobs import sending
from digest.jobs.bounces import process
from digest.model import Digest
from digest.store import Store
from digest.tokens import make_token, read_token

from .conftest import FIXTURES, SAMPLE_DAY
from .smtp_server import SMTPTestServer
from .test_send import SECRET, day, smtp_config, subscribe  # noqa: F401  (day is a fixture)

BOUNCES = FIXTURES / "bounces"
MAILDIR = BOUNCES / "maildir"
MBOX = BOUNCES / "bounces.mbox"
DOMAIN = "news.example.org"
# In this order they get ids 1 to 5, which the fixtures' tokens name.
PEOPLE = (
    "ana@example.com",
    "ben@example.net",
    "chen@contoso.com",
    "dana@mail.example",
    "eve@example.com",
)


def sample(name: str) -> bytes:
    [path] = MAILDIR.glob(f"*/*.{name}*")
    return path.read_bytes()


def send_day(store: Store, cfg: Config, date: str) -> None:
    result = sending.send(store, cfg, sending.SendRequest(date, transport="smtp"))
    assert result.complete, result.summary


@pytest.fixture
def sent(
    store: Store,
    config: Config,
    day: Digest,  # noqa: F811  (the fixture imported from test_send)
    smtp_server: SMTPTestServer,
) -> Config:
    """The sample day sent to the five subscribers, with VERP return paths."""
    cfg = smtp_config(config, smtp_server, bounce_address=f"bounces@{DOMAIN}")
    subscribe(store, cfg, *[(email, None, None) for email in PEOPLE])
    for n, email in enumerate(PEOPLE, 1):
        found = store.find_subscriber(email)
        assert found is not None and found.id == n
    send_day(store, cfg, SAMPLE_DAY)
    return cfg


def state(store: Store) -> dict[str, tuple[str, int, str, str]]:
    """email -> (subscriber status, hard_bounces, delivery state, delivery reply) on the day."""
    sql = text(
        "SELECT s.email, s.status, s.hard_bounces, d.state, d.last_reply FROM deliveries d "
        "JOIN subscribers s ON s.id = d.subscriber_id JOIN sends n ON n.id = d.send_id "
        "WHERE n.date = :date"
    )
    with store.engine.connect() as conn:
        rows = conn.execute(sql, {"date": SAMPLE_DAY}).all()
    return {r[0]: (r[1], r[2], r[3], (r[4] or "").split(":")[0]) for r in rows}


def test_the_envelope_sender_carries_a_signed_token_and_the_date(
    store: Store, sent: Config, smtp_server: SMTPTestServer
) -> None:
    for n, email in enumerate(PEOPLE, 1):
        [got] = smtp_server.received_by(email)
        assert got.mail_from == f"bounces+{make_token(SECRET, 'bounce', n)}.20261126@{DOMAIN}"
    # The fixtures carry exactly these addresses: they are what a real bounce would name.
    assert smtp_server.received_by(PEOPLE[0])[0].mail_from.encode() in sample("postfix-hard")


def test_without_bounce_address_the_return_path_is_one_address(config: Config) -> None:
    fixed = return_path_for(dataclasses.replace(config, return_path="Bounces <b@x.example>"), "k")
    assert fixed(1, "2026-11-26") == fixed(2, "2026-11-27") == "b@x.example"
    long = dataclasses.replace(config, bounce_address="a-very-long-bounce-mailbox-name@x.example")
    with pytest.raises(ConfigError, match="too long"):
        return_path_for(long, "k")


def test_a_bounce_token_is_no_other_token() -> None:
    token = make_token(SECRET, "bounce", 7)
    assert read_token(SECRET, token, "bounce") == 7
    with pytest.raises(TokenError):
        read_token(SECRET, token, "unsubscribe")
    with pytest.raises(TokenError):
        read_token(SECRET, make_token(SECRET, "unsubscribe", 7), "bounce")


def test_reports_are_read_as_hard_soft_complaint_or_neither() -> None:
    kinds = {
        name: parse_report(sample(name)).kind
        for name in (
            "postfix-hard",
            "postfix-soft",
            "exchange-hard",
            "arf-complaint",
            "postfix-delayed",
            "out-of-office",
        )
    }
    assert kinds == {
        "postfix-hard": "hard",
        "postfix-soft": "soft",
        "exchange-hard": "hard",
        "arf-complaint": "complaint",
        "postfix-delayed": "delayed",
        "out-of-office": "other",
    }
    exchange = parse_report(sample("exchange-hard"))
    assert exchange.recipient == "chen@contoso.com" and exchange.detail.startswith("5.1.10 ")
    assert exchange.verp == () and exchange.unsubscribe_tokens == ()


@pytest.mark.parametrize("mailbox", [MAILDIR, MBOX], ids=["maildir", "mbox"])
def test_each_report_maps_to_its_subscriber_and_state(
    store: Store, sent: Config, mailbox: Path
) -> None:
    report = process(store, sent, SECRET, read_mailbox(mailbox))
    assert len(report.outcomes) == 9
    results = sorted((o.kind, o.result, o.email or "") for o in report.outcomes)
    assert results == sorted(
        [
            ("hard", "recorded", "ana@example.com"),  # Postfix, by the VERP token
            ("soft", "recorded", "ben@example.net"),  # Postfix, 4.2.2 mailbox full
            ("hard", "recorded", "chen@contoso.com"),  # Exchange, by Message-ID and recipient
            ("complaint", "recorded", "dana@mail.example"),  # ARF abuse report
            ("hard", "forged", ""),  # a token that does not verify
            ("hard", "unmatched", ""),  # our Message-ID, someone else's recipient
            ("hard", "unmatched", ""),  # not about a digest at all
            ("delayed", "ignored", ""),
            ("other", "ignored", ""),
        ]
    )
    assert state(store) == {
        "ana@example.com": ("active", 1, "failed", "bounce"),
        "ben@example.net": ("active", 0, "sent", "soft bounce"),
        "chen@contoso.com": ("active", 1, "failed", "bounce"),
        "dana@mail.example": ("unsubscribed", 0, "sent", "complaint"),
        "eve@example.com": ("active", 0, "sent", "250 OK"),  # the forged ones changed nothing
    }
    assert sending.status(store, SAMPLE_DAY).failed == 2
    assert [o.result for o in report.problems] == ["forged", "unmatched", "unmatched"]


def test_reading_the_mailbox_again_changes_nothing(store: Store, sent: Config) -> None:
    process(store, sent, SECRET, read_mailbox(MAILDIR))
    before = state(store)
    again = process(store, sent, SECRET, read_mailbox(MBOX))  # the same reports, as an mbox
    assert state(store) == before
    assert {
        o.result for o in again.outcomes if o.kind in ("hard", "soft", "complaint") and o.email
    } == {"already recorded"}


def test_at_bounce_limit_a_hard_bounce_makes_the_subscriber_bounced(
    store: Store, sent: Config
) -> None:
    process(store, dataclasses.replace(sent, bounce_limit=1), SECRET, read_mailbox(MAILDIR))
    now = state(store)
    assert now["ana@example.com"][0] == now["chen@contoso.com"][0] == "bounced"
    assert now["ben@example.net"][0] == "active"  # one soft bounce is not enough


def for_day(data: bytes, date: str) -> bytes:
    """A report about the same subscriber's copy of another day's digest."""
    return data.replace(b"20261126", date.replace("-", "").encode()).replace(
        b"digest.2026-11-26.", f"digest.{date}.".encode()
    )


DAYS = ("2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29")


def send_another_day(store: Store, cfg: Config, day: Digest, date: str) -> None:  # noqa: F811
    store.save_digest(dataclasses.replace(day, date=date))
    send_day(store, cfg, date)


def status_of(store: Store, email: str) -> tuple[str, int]:
    found = store.find_subscriber(email)
    assert found is not None
    return found.status, found.hard_bounces


def test_consecutive_hard_bounces_reach_the_limit(
    store: Store,
    sent: Config,
    day: Digest,  # noqa: F811
) -> None:
    hard = sample("postfix-hard")
    process(store, sent, SECRET, [(DAYS[0], hard)])
    assert status_of(store, "ana@example.com") == ("active", 1)
    send_another_day(store, sent, day, DAYS[1])
    process(store, sent, SECRET, [(DAYS[1], for_day(hard, DAYS[1]))])
    assert status_of(store, "ana@example.com") == ("active", 2)
    # The third day's copy got through (no bounce yet), and the fourth bounced: the run
    # counts from the newest, so it starts again.
    send_another_day(store, sent, day, DAYS[2])
    send_another_day(store, sent, day, DAYS[3])
    process(store, sent, SECRET, [(DAYS[3], for_day(hard, DAYS[3]))])
    assert status_of(store, "ana@example.com") == ("active", 1)
    # The third day's bounce comes late after all: four in a row, past bounce_limit 3.
    process(store, sent, SECRET, [(DAYS[2], for_day(hard, DAYS[2]))])
    assert status_of(store, "ana@example.com") == ("bounced", 4)


def test_three_soft_bounces_in_a_row_count_as_one_hard(
    store: Store,
    sent: Config,
    day: Digest,  # noqa: F811
) -> None:
    cfg = dataclasses.replace(sent, bounce_limit=1)
    soft = sample("postfix-soft")
    for n, date in enumerate(DAYS[:3]):
        if n:
            send_another_day(store, cfg, day, date)
        assert status_of(store, "ben@example.net") == ("active", 0)
        process(store, cfg, SECRET, [(date, for_day(soft, date))])
    assert status_of(store, "ben@example.net") == ("bounced", 1)


def test_a_complaint_unsubscribes_at_once(store: Store, sent: Config) -> None:
    report = process(store, sent, SECRET, [("arf", sample("arf-complaint"))])
    assert [(o.result, o.status) for o in report.outcomes] == [("recorded", "unsubscribed")]
    assert status_of(store, "dana@mail.example") == ("unsubscribed", 0)
    assert "1 unsubscribed" in report.summary


def test_forged_or_unknown_reports_change_nothing(store: Store, sent: Config) -> None:
    before = state(store)
    # Both of ana's tokens altered: the return path's and the unsubscribe link's.
    tampered = (
        sample("postfix-hard")
        .replace(b"Llb_Q_Etxax93nPVocGrog", b"Llb_Q_Etxax93nPVocGroG")
        .replace(b"eFVCGw3dhhQ", b"eFVCGw3dhhq")
    )
    names = ("forged-token", "guessed-message-id", "unknown")
    report = process(
        store, sent, SECRET, [(n, sample(n)) for n in names] + [("tampered", tampered)]
    )
    assert [o.result for o in report.outcomes] == ["forged", "unmatched", "unmatched", "forged"]
    assert state(store) == before


def test_a_mangled_return_path_is_trusted_through_the_unsubscribe_link(
    store: Store, sent: Config
) -> None:
    # Some relays fold the local part to lower case, which breaks the VERP token; the signed
    # unsubscribe token in the returned headers still names the subscriber.
    lowered = sample("postfix-hard").replace(b"Llb_Q_Etxax93nPVocGrog", b"llb_q_etxax93npvocgrog")
    [outcome] = process(store, sent, SECRET, [("lowered", lowered)]).outcomes
    assert (outcome.result, outcome.email) == ("recorded", "ana@example.com")


def test_cli_prints_a_summary_and_the_reports_it_could_not_match(
    store: Store, sent: Config
) -> None:
    env = {
        "DIGEST_DATABASE_URL": sent.database_url,
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_FROM": f"Defence & Space Daily <digest@{DOMAIN}>",
    }
    r = CliRunner().invoke(cli, ["bounces", str(MAILDIR)], env=env)
    assert r.exit_code == 1  # some reports matched no one
    assert r.stdout.strip() == (
        "bounces: 9 messages: 2 hard, 1 soft, 1 complaints (0 seen before); 0 subscribers now "
        "bounced, 1 unsubscribed; 2 ignored, 3 not matched"
    )
    problems = r.stderr.splitlines()
    assert len(problems) == 3 and problems[0].startswith("forged: ")
    assert status_of(store, "dana@mail.example")[0] == "unsubscribed"  # committed
    missing = CliRunner().invoke(cli, ["bounces", str(BOUNCES / "nowhere")], env=env)
    assert missing.exit_code == 2 and "no such Maildir" in missing.output


def test_an_unsubscribe_mailed_to_the_list_unsubscribe_address_is_honoured(
    store: Store, sent: Config, smtp_server: SMTPTestServer
) -> None:
    """A mail client following the mailto: in List-Unsubscribe sends the subject we put there;
    `digest bounces` over that mailbox unsubscribes, and a forged token changes nothing."""
    [received] = smtp_server.received_by("ben@example.net")
    mailto = next(p for p in received.data.decode().split("<") if p.startswith("mailto:"))
    subject = mailto.split("?subject=", 1)[1].split(">", 1)[0].replace("%20", " ")
    request = (
        f"From: ben@example.net\r\nTo: unsubscribe@{DOMAIN}\r\nSubject: {subject}\r\n\r\n\r\n"
    ).encode()
    forged = request.replace(subject[-4:].encode(), b"AAAA")
    report = process(store, sent, SECRET, [("ben.eml", request), ("forged.eml", forged)])
    results = [(o.kind, o.result, o.email) for o in report.outcomes]
    assert results == [
        ("unsubscribe", "recorded", "ben@example.net"),
        ("unsubscribe", "forged", None),
    ]
    ben = store.find_subscriber("ben@example.net")
    assert ben is not None and ben.status == "unsubscribed"
    assert [s.status for s in store.list_subscribers() if s.email != "ben@example.net"] == [
        "active"
    ] * 4
    again = process(store, sent, SECRET, [("ben.eml", request)])
    assert again.outcomes[0].result == "already recorded"
