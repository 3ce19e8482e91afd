"""The MIME message: structure, headers, and no way to inject a header."""

from __future__ import annotations

import email
import email.policy

import pytest

from digest.deliver.message import (
    PREFERENCES_TOKEN,
    UNSUBSCRIBE_TOKEN,
    MessageTemplate,
    Recipient,
)
from digest.errors import HeaderError


def template(**changes: str) -> MessageTemplate:
    args = dict(
        from_addr="Daily <news@example.org>",
        subject="Daily, 26 November: Rockets & drones — ünïcode",
        list_id='"Daily" <daily.example.org>',
        date="2026-11-26",
        text=f"Hello\nUnsubscribe: https://x.example/u/{UNSUBSCRIBE_TOKEN}\n"
        f"Prefs: https://x.example/p/{PREFERENCES_TOKEN}\n" + "long " * 400,
        html=f'<p>Hi</p><a href="https://x.example/u/{UNSUBSCRIBE_TOKEN}">u</a>' + "é" * 3000,
        base_url="https://x.example",
        unsubscribe_mailto="unsub@example.org",
        list_key="daily",
    )
    args.update(changes)
    return MessageTemplate(**args)  # type: ignore[arg-type]


def recipient(name: str | None = "Zoë Lefèvre", addr: str = "zoe@example.com") -> Recipient:
    return Recipient(42, addr, name, "u2a.0.TOKEN", "p2a.0.PREFS")


def test_structure_and_headers() -> None:
    raw = template().build(recipient())
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert not msg.defects
    assert msg["Subject"] == "Daily, 26 November: Rockets & drones — ünïcode"
    assert str(msg["To"]) == "Zoë Lefèvre <zoe@example.com>"
    assert msg["Message-ID"] == "<digest.2026-11-26.42.daily@example.org>"
    assert msg["List-Unsubscribe"] == (
        "<https://x.example/u/u2a.0.TOKEN>, <mailto:unsub@example.org?subject=unsubscribe%20"
        "u2a.0.TOKEN>"
    )
    text, html = msg.iter_parts()
    assert "https://x.example/u/u2a.0.TOKEN" in text.get_content()
    assert "https://x.example/p/p2a.0.PREFS" in text.get_content()
    assert UNSUBSCRIBE_TOKEN not in html.get_content()
    assert html.get_content().count("é") == 3000


def test_message_id_is_stable_per_digest_and_subscriber() -> None:
    a = email.message_from_bytes(template().build(recipient()))
    b = email.message_from_bytes(template().build(recipient()))
    other = email.message_from_bytes(template(date="2026-11-27").build(recipient()))
    assert a["Message-ID"] == b["Message-ID"] != other["Message-ID"]


@pytest.mark.parametrize("bad", ["Eve\r\nBcc: victim@example.com", "Eve\nBcc: x@y", "Eve\x00"])
def test_names_with_line_breaks_are_refused(bad: str) -> None:
    with pytest.raises(HeaderError):
        template().build(recipient(name=bad))


@pytest.mark.parametrize("field", ["subject", "from_addr", "list_id"])
def test_header_values_with_line_breaks_are_refused(field: str) -> None:
    with pytest.raises(HeaderError):
        template(**{field: "Nice\r\nBcc: victim@example.com"})


def test_long_ascii_and_quoted_names_fold_safely() -> None:
    for name in ["Okafor, Chidi", "A" * 150, 'Quote "Me" Please']:
        raw = template().build(recipient(name=name))
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["To"].addresses[0].display_name == name
        assert msg["To"].addresses[0].addr_spec == "zoe@example.com"


def test_encoded_once_bodies_match_encoding_each_message() -> None:
    """The fast path (tokens put into a body encoded once) gives the very bytes that encoding
    each message afresh would, wherever quoted-printable folds a line around a token."""
    from digest.deliver.message import _encode_once, _fill, _qp
    from digest.tokens import TOKEN_LENGTH, make_token

    tokens = (make_token("k", "unsubscribe", 77), make_token("k", "preferences", 77))
    assert all(len(t) == TOKEN_LENGTH for t in tokens)
    for offset in range(0, 90):
        body = ("é" * (offset % 7)) + "x" * offset + UNSUBSCRIBE_TOKEN + "y" * 50 + "\n"
        body += "z" * (offset // 2) + PREFERENCES_TOKEN + " and " + UNSUBSCRIBE_TOKEN + "\n"
        fresh = _qp(
            body.replace(UNSUBSCRIBE_TOKEN, tokens[0]).replace(PREFERENCES_TOKEN, tokens[1])
        )
        assert _fill(_encode_once(body, (UNSUBSCRIBE_TOKEN, PREFERENCES_TOKEN)), tokens) == fresh
