"""The envelope sender (SMTP MAIL FROM, which the receiver keeps as Return-Path).

Without `bounce_address` every message goes out with one sender (`return_path`, else the From
address). With it, each message gets its own VERP address,
`<local>+<token>.<YYYYMMDD>@<domain>`: the signed token names the subscriber and the date names
the send, so a bounce that comes back to it says whom it is about. The format is written and
read here, in one place; bounces.py reads it back with `read_verp`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..addresses import addr_spec, aligned, domain_of
from ..config import Config
from ..errors import ConfigError
from ..tokens import make_token
from .dkim import dkim_domain

VERP = re.compile(r"\+(b[0-9a-f]{8,16}\.[0-9a-f]{1,16}\.[A-Za-z0-9_-]{22})\.(\d{8})@", re.I)
MAX_LOCAL_PART = 64  # RFC 5321

SenderFor = Callable[[int, str], str]  # (subscriber id, digest date) -> envelope sender


def fixed_sender(config: Config) -> str:
    """The one envelope sender when there is no VERP: return_path, else the From address.
    Test copies and confirmation emails always use it."""
    return addr_spec(config.return_path or config.from_addr)


def return_path_for(config: Config, secret: str) -> SenderFor:
    """The envelope sender for (subscriber id, digest date): <local>+<token>.<date>@<domain>
    under bounce_address, else the one fixed sender for everyone."""
    if not config.bounce_address:
        fixed = fixed_sender(config)
        return lambda _subscriber_id, _date: fixed
    local, at, domain = addr_spec(config.bounce_address).rpartition("@")
    if not at or not local or not domain:
        raise ConfigError("bounce_address must be an address, like bounces@news.example.org")
    if len(local) + 1 + len(make_token(secret, "bounce", 0)) + 9 > MAX_LOCAL_PART:
        raise ConfigError("bounce_address: the part before @ is too long to carry a VERP tag")

    def verp(subscriber_id: int, date: str) -> str:
        token = make_token(secret, "bounce", subscriber_id)
        return f"{local}+{token}.{date.replace('-', '')}@{domain}"

    return verp


def read_verp(text: str) -> list[tuple[str, str]]:
    """(token, YYYY-MM-DD) of every VERP address in `text` (a header or envelope line)."""
    return [(t, f"{d[:4]}-{d[4:6]}-{d[6:]}") for t, d in VERP.findall(text)]


def alignment_warning(config: Config) -> str | None:
    """One line when the From, envelope sender (Return-Path) and DKIM domains do not share an
    organizational domain, which DMARC, and so Gmail and Yahoo, hold against bulk mail."""
    sender = addr_spec(config.bounce_address) if config.bounce_address else fixed_sender(config)
    domains = {"From": domain_of(config.from_addr), "Return-Path": domain_of(sender)}
    if (d := dkim_domain(config)) is not None:
        domains["DKIM"] = d
    if all(aligned(v, domains["From"]) for v in domains.values()):
        return None
    listed = ", ".join(f"{k} {v}" for k, v in domains.items())
    return (
        f"warning: sender domains do not align ({listed}): DMARC needs the Return-Path or the "
        "DKIM domain to share the From domain, or mailbox providers may junk or refuse the mail"
    )


__all__ = [
    "VERP",
    "SenderFor",
    "alignment_warning",
    "fixed_sender",
    "read_verp",
    "return_path_for",
]
