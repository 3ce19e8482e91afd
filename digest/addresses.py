"""Email address helpers shared by delivery, DKIM, bounces and the checker. Pure.

The organizational domain (what DMARC compares) comes from the Public Suffix List, which the
`publicsuffixlist` package ships and is loaded from the package itself: nothing is downloaded
at run time. Guessing it from the number of labels gets real domains wrong (`bounces.ibm.fr`
and `ibm.fr` are one organization; `a.github.io` and `b.github.io` are two).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

# The libraries below are imported in the functions that use them: every command loads this
# module with its config, and most (`digest status`, `digest subscribers list`) never use them
# (together about 35 ms of a start that may take 0.15 s, issue #16).
if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList


def addr_spec(address: str) -> str:
    """The bare address from 'Name <addr>'."""
    import email.utils

    return email.utils.parseaddr(address)[1]


def normalize_address(address: str) -> str:
    """The canonical form of an address (syntax only, no DNS), folded to lower case; ValueError
    saying what is wrong. A subscriber's address and the settings' are checked alike."""
    # A plain import (a dictionary look-up once loaded) costs an import of CSV rows little.
    import email_validator

    try:
        result = email_validator.validate_email(address.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    # The domain in its ASCII (IDNA) form, as SMTP and DNS carry it: exämple.com is stored as
    # xn--exmple-cua.com, so the same domain typed either way is one address. A non-ASCII
    # local part stays as it is; sending to it needs SMTPUTF8 (see deliver/smtp.py).
    return f"{result.local_part}@{result.ascii_domain}".lower()


def ascii_address(address: str) -> str:
    """The address with its domain in ASCII (IDNA), as SMTP carries it:
    user@exämple.com -> user@xn--exmple-cua.com. ValueError when the domain is no valid IDN.
    A non-ASCII local part is left as it is: only SMTPUTF8 can carry it."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    import idna

    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as exc:
        raise ValueError(f"the domain of {address!r} is not a valid name: {exc}") from None


def domain_of(address: str) -> str:
    """The domain of an address ('Name <a@b.org>' -> 'b.org'); 'localhost' when there is none."""
    return addr_spec(address).rpartition("@")[2] or "localhost"


@cache
def _suffixes() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # parses the bundled list once, on first use (about 0.1 s)


def org_domain(domain: str) -> str:
    """The organizational domain: the public suffix and one label more (RFC 7489 3.2).
    A name that is itself a public suffix, or has none (`localhost`), stands for itself."""
    name = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(name) or name


def aligned(a: str, b: str) -> bool:
    """DMARC relaxed alignment: the same organizational domain."""
    return org_domain(a) == org_domain(b)


__all__ = [
    "addr_spec",
    "aligned",
    "ascii_address",
    "domain_of",
    "normalize_address",
    "org_domain",
]
