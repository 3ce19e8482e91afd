"""Email address helpers shared by delivery, DKIM, bounces and the checker. Pure.

The organizational domain (what DMARC compares) comes from the Public Suffix List, which the
`publicsuffixlist` package ships and is loaded from the package itself: nothing is downloaded
at run time. Guessing it from the number of labels gets real domains wrong (`bounces.ibm.fr`
and `ibm.fr` are one organization; `a.github.io` and `b.github.io` are two).
"""

from __future__ import annotations

import email.utils
from functools import cache

import idna
from publicsuffixlist import PublicSuffixList


def addr_spec(address: str) -> str:
    """The bare address from 'Name <addr>'."""
    return email.utils.parseaddr(address)[1]


def ascii_address(address: str) -> str:
    """The address with its domain in ASCII (IDNA), as SMTP carries it:
    user@exämple.com -> user@xn--exmple-cua.com. ValueError when the domain is no valid IDN.
    A non-ASCII local part is left as it is: only SMTPUTF8 can carry it."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as exc:
        raise ValueError(f"the domain of {address!r} is not a valid name: {exc}") from None


def domain_of(address: str) -> str:
    """The domain of an address ('Name <a@b.org>' -> 'b.org'); 'localhost' when there is none."""
    return addr_spec(address).rpartition("@")[2] or "localhost"


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # parses the bundled list once, on first use (about 0.1 s)


def org_domain(domain: str) -> str:
    """The organizational domain: the public suffix and one label more (RFC 7489 3.2).
    A name that is itself a public suffix, or has none (`localhost`), stands for itself."""
    name = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(name) or name


def aligned(a: str, b: str) -> bool:
    """DMARC relaxed alignment: the same organizational domain."""
    return org_domain(a) == org_domain(b)


__all__ = ["addr_spec", "aligned", "ascii_address", "domain_of", "org_domain"]
