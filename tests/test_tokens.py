from __future__ import annotations

import pytest

from digest.errors import TokenError
from digest.tokens import make_token, read_token

SECRET = "k" * 32


def test_round_trip_and_url_safe() -> None:
    token = make_token(SECRET, "unsubscribe", 12345)
    assert read_token(SECRET, token, "unsubscribe") == 12345
    assert all(c.isalnum() or c in "-_." for c in token)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # altered signature
        lambda t: "u" + format(int(t.split(".")[0][1:], 16) + 1, "x") + "." + t.split(".", 1)[1],
        lambda t: t.replace(".", "", 1),  # malformed
        lambda t: "",
        lambda t: "u1.0.%%%",
    ],
)
def test_forged_or_altered_tokens_are_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    token = make_token(SECRET, "unsubscribe", 7)
    with pytest.raises(TokenError):
        read_token(SECRET, mutate(token), "unsubscribe")


def test_token_for_another_action_or_key_is_refused() -> None:
    token = make_token(SECRET, "preferences", 7)
    with pytest.raises(TokenError):
        read_token(SECRET, token, "unsubscribe")
    with pytest.raises(TokenError):
        read_token("another-secret", token, "preferences")


def test_expiry() -> None:
    token = make_token(SECRET, "confirm", 3, ttl=60, now=1000.0)
    assert read_token(SECRET, token, "confirm", now=1059.0) == 3
    with pytest.raises(TokenError, match="expired"):
        read_token(SECRET, token, "confirm", now=1061.0)
