"""Issue 14, the inbox: the Feedback-ID header, and header lines folded under 78 characters
where the URI allows, parsing back intact and still meeting RFC 8058."""

from __future__ import annotations

import email
import email.policy
import re

import dkim as dkimpy  # type: ignore[import-untyped]
import pytest

from digest.check import check_message
from digest.config import Config
from digest.deliver import dkim
from digest.deliver.message import MessageTemplate, Recipient, feedback_id, fold
from digest.model import Digest
from digest.store import Store

from .smtp_server import SMTPTestServer
from .test_send import day, send, smtp_config, subscribe  # noqa: F401  (day is a fixture)

DOMAIN = "news.example.org"
FEEDBACK_ID = re.compile(r"\d{4}-\d\d-\d\d:digest:[a-z0-9-]+:[a-z0-9.-]{5,15}")


def headers_of(data: bytes) -> list[bytes]:
    """The header section's lines, as sent."""
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def too_long(data: bytes) -> list[bytes]:
    """Header lines past 78 characters that could have been folded: a line holding one item
    (a URI, a msg-id) longer than that on its own is allowed, up to 998."""
    found = []
    for line in headers_of(data):
        assert len(line) <= 998
        if len(line) <= 78:
            continue
        folded = line[:1] in (b" ", b"\t")
        item = (line if folded else line.partition(b":")[2]).strip().rstrip(b",")
        if b" " not in item:
            continue  # one item (a URI, a msg-id): there is nowhere to fold it
        found.append(line)
    return found


def template(base_url: str = f"https://{DOMAIN}", name: str = "daily") -> MessageTemplate:
    return MessageTemplate(
        from_addr=f"Defence & Space Daily <digest@{DOMAIN}>",
        subject="Defence & Space Daily, 26 November: Japan and NATO pledge closer ties",
        list_id=f'"Defence & Space Daily" <{name}.{DOMAIN}>',
        date="2026-11-26",
        text="Hello\n",
        html="<p>Hello</p>\n",
        base_url=base_url,
        unsubscribe_mailto=f"unsubscribe@{DOMAIN}",
        list_key=name,
    )


TOKEN = "u7.AAAAAAAA.1.BBBBBBBBBBBBBBBBBBBBBB"  # as long as a real token (34)


def build(t: MessageTemplate, subscriber_id: int = 7) -> bytes:
    return t.build(Recipient(subscriber_id, "ana@example.com", "Ana Ruiz", TOKEN, "p7.0.PREFS"))


# ---- Feedback-ID ---------------------------------------------------------------------------


def test_feedback_id_is_campaign_type_list_sender() -> None:
    assert feedback_id("2026-11-26", "defence-space-daily", DOMAIN) == (
        "2026-11-26:digest:defence-space-daily:example.org"
    )
    # The SenderId (rightmost, required) is the organizational domain: the same for every
    # stream from the sender, and within Gmail's 5 to 15 characters for usual domains.
    assert feedback_id("2026-11-26", "daily", "mail.example.co.uk").endswith(":example.co.uk")


def test_sent_messages_carry_one_feedback_id_per_list_not_per_subscriber(
    store: Store,
    config: Config,
    day: Digest,  # noqa: F811
    smtp_server: SMTPTestServer,
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(
        store,
        cfg,
        ("ana@example.com", "Ana Ruiz", None),
        ("zoe@example.com", "Zoë Lefèvre", "Space;Nuclear"),
    )
    assert send(store, cfg).complete
    values = set()
    for received in smtp_server.messages:
        msg = email.message_from_bytes(received.data, policy=email.policy.default)
        [value] = msg.get_all("Feedback-ID")  # Gmail wants exactly one
        assert FEEDBACK_ID.fullmatch(value), value
        fields = value.split(":")
        assert len(fields) == 4 and all(fields)
        assert len(set(fields)) == 4  # no identifier repeated across fields
        values.add(value)
        assert ana_or_zoe_not_in(value)
    assert values == {f"{day.date}:digest:defence-space-daily:example.org"}


def ana_or_zoe_not_in(value: str) -> bool:
    return "ana" not in value and "zoe" not in value and "@" not in value


# ---- folding -------------------------------------------------------------------------------


def test_fold_breaks_between_uris_only() -> None:
    """Never after the colon: `email` (policy.default and compat32 alike) would read the
    value back with a leading space, though unfolding gives the very same header."""
    short = fold("List-Unsubscribe", ["<https://a.example/u/1>", "<mailto:u@a.example>"])
    assert short == b"List-Unsubscribe: <https://a.example/u/1>, <mailto:u@a.example>\r\n"
    https = "<https://news.example.org/unsubscribe/" + "t" * 30 + ">"  # 70 characters
    folded = fold("List-Unsubscribe", [https, "<mailto:u@a.example>"])
    assert folded == f"List-Unsubscribe: {https},\r\n <mailto:u@a.example>\r\n".encode()
    huge = "<https://news.example.org/u/" + "x" * 200 + ">"
    assert fold("List-Unsubscribe", [huge]) == f"List-Unsubscribe: {huge}\r\n".encode()
    assert fold("List-Unsubscribe", ["<a:b>", huge, "<c:d>"]) == (
        f"List-Unsubscribe: <a:b>,\r\n {huge},\r\n <c:d>\r\n".encode()
    )


@pytest.mark.parametrize(
    "base_url",
    [
        f"https://{DOMAIN}",
        "https://www.news.example.org/defence-and-space-daily",
        "https://x.example",
    ],
)
def test_folded_headers_parse_back_intact(base_url: str) -> None:
    t = template(base_url, name="defence-and-space-daily-weekend-edition")
    raw = build(t, subscriber_id=123456789)
    assert too_long(raw) == []
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert not msg.defects
    https = f"{base_url}/u/{TOKEN}"
    mailto = f"mailto:unsubscribe@{DOMAIN}?subject=unsubscribe%20{TOKEN}"
    assert msg["List-Unsubscribe"] == f"<{https}>, <{mailto}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Message-ID"] == (
        f"<digest.2026-11-26.123456789.defence-and-space-daily-weekend-edition@{DOMAIN}>"
    )
    assert msg["Feedback-ID"] == (
        "2026-11-26:digest:defence-and-space-daily-weekend-edition:example.org"
    )
    # The checker, which reads List-Unsubscribe as RFC 8058 wants, finds nothing wrong.
    found = check_message(raw, spam=False)
    assert not [f for f in found if f.code.startswith("list_")], found


@pytest.fixture(scope="module")
def rsa_pair(tmp_path_factory: pytest.TempPathFactory) -> dkim.KeyPair:
    return dkim.keygen("r2026", DOMAIN, tmp_path_factory.mktemp("keys"), "rsa")


def test_one_click_headers_are_signed_and_survive_the_folding(rsa_pair: dkim.KeyPair) -> None:
    """RFC 8058 3.3: the signature must cover List-Unsubscribe and List-Unsubscribe-Post."""
    raw = build(template("https://www.news.example.org/defence-and-space-daily"))
    signed = dkim.Signer(dkim.load_key(rsa_pair.private), "r2026", DOMAIN).sign(raw)
    assert too_long(signed) == []
    lookup = {f"r2026._domainkey.{DOMAIN}.": rsa_pair.record.encode()}
    assert dkimpy.verify(signed, dnsfunc=lambda name, timeout=5: lookup[name.decode()])
    msg = email.message_from_bytes(signed, policy=email.policy.compat32)
    h = "".join(str(msg["DKIM-Signature"]).split()).split("h=")[1].split(";")[0].split(":")
    for name in ("list-unsubscribe", "list-unsubscribe-post", "feedback-id"):
        assert h.count(name) == 2  # signed, and oversigned against a second one added
    tampered = signed.replace(b"List-Unsubscribe: <https://", b"List-Unsubscribe: <http://")
    assert tampered != signed
    assert not dkimpy.verify(tampered, dnsfunc=lambda name, timeout=5: lookup[name.decode()])


def test_sent_messages_have_no_header_line_over_78_that_could_fold(
    store: Store,
    config: Config,
    day: Digest,  # noqa: F811
    smtp_server: SMTPTestServer,
) -> None:
    cfg = smtp_config(config, smtp_server)
    subscribe(store, cfg, ("chidi.okafor@example.com", "Okafor, Chidi Emeka Jr.", None))
    assert send(store, cfg).complete
    [received] = smtp_server.messages
    assert too_long(received.data) == []
    msg = email.message_from_bytes(received.data, policy=email.policy.default)
    assert not msg.defects
    https, mailto = [p.strip().strip("<>") for p in msg["List-Unsubscribe"].split(",")]
    assert https.startswith("https://news.example.org/u/") and mailto.startswith("mailto:")
