"""Subscriber addresses and lists: validation, normalisation and CSV reading. Pure, but for
reading a CSV file, which streams (`open_csv`): a million rows take tens of MB, not hundreds.

Addresses are checked for syntax only (no DNS) with email-validator and folded to lower case,
so the same address in another case is the same subscriber.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .addresses import normalize_address
from .errors import SubscriberError

if TYPE_CHECKING:
    from _csv import Reader

# pending: waiting for double opt-in; paused: chose no digests for now, from the web page.
SUBSCRIBER_STATES = ("active", "unsubscribed", "bounced", "pending", "paused")
MAX_NAME = 200


@dataclass(frozen=True)
class NewSubscriber:
    email: str
    name: str | None
    sections: tuple[str, ...] | None  # None: every section
    line: int = 0  # where it came from in a CSV file, for messages


# Checking the domain is most of email-validator's work (about 25 of 29 us an address), and a
# list has many addresses at each domain. So each domain is checked once, in a probe address,
# and a plain local part (ASCII dot-atom, a subset of what RFC 5322 allows) needs no more:
# such an address is valid exactly when its domain is, short of the length limit (254 in
# all), which a plain address is kept well within. Anything else, and every domain that
# fails, goes the whole way, for the exact message. tests/test_subscribers_stream.py holds
# the two ways to agreeing.
_PLAIN_LOCAL = re.compile(r"[a-zA-Z0-9_+-]+(?:\.[a-zA-Z0-9_+-]+)*\Z")
_PLAIN_LENGTH = 128


@lru_cache(maxsize=4096)  # the domains seen last: bounded, however many a list has
def _checked_domain(domain: str) -> str | None:
    """The canonical form of an ASCII domain, or None when an address there is refused."""
    try:
        return normalize_address(f"a@{domain}").rpartition("@")[2]
    except ValueError:
        return None


def _plain_address(address: str) -> str | None:
    """The canonical form of a plain local@domain at a valid domain; None: look closer."""
    local, at, domain = address.partition("@")
    if not (at and len(address) <= _PLAIN_LENGTH and domain.isascii()) or "@" in domain:
        return None
    if not _PLAIN_LOCAL.match(local):
        return None
    checked = _checked_domain(domain)
    if checked is None or len(local) + 1 + len(checked) > _PLAIN_LENGTH:
        return None
    return f"{local}@{checked}".lower()


def normalize_email(address: str) -> str:
    """The canonical form of an address, or SubscriberError saying what is wrong with it."""
    address = address.strip()
    if not address:
        raise SubscriberError("email is empty")
    plain = _plain_address(address)
    if plain is not None:
        return plain
    try:
        return normalize_address(address)
    except ValueError as exc:
        raise SubscriberError(f"invalid email {address!r}: {exc}") from None


def clean_name(name: str | None) -> str | None:
    """A display name without control characters (they could inject headers)."""
    if name is None:
        return None
    # Cc covers C0, DEL and C1 (NEL among them); Zl/Zp are the Unicode line separators. None
    # of them is printable, so a printable name (nearly every one) needs no closer look.
    if not name.isprintable() and any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        raise SubscriberError("name contains a line break or control character")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise SubscriberError(f"name is longer than {MAX_NAME} characters")
    return name or None


def parse_sections(
    value: str | Iterable[str] | None, known: Sequence[str]
) -> tuple[str, ...] | None:
    """Section names from 'A;B' (or a list), matched case-insensitively to the configured ones.

    Empty means every section (None).
    """
    if value is None:
        return None
    items = value.split(";") if isinstance(value, str) else list(value)
    names = [" ".join(v.split()) for v in items if v.strip()]
    if not names:
        return None
    by_fold = {k.casefold(): k for k in known}
    chosen: list[str] = []
    for n in names:
        canonical = by_fold.get(n.casefold())
        if canonical is None:
            choices = "; ".join(known)
            raise SubscriberError(f"unknown section {n!r} (the sections are: {choices})")
        if canonical not in chosen:
            chosen.append(canonical)
    return tuple(sorted(chosen, key=list(known).index))


def stored_choice(chosen: tuple[str, ...] | None, known: Sequence[str]) -> tuple[str, ...] | None:
    """A choice of sections as it is kept: every section (or none named) is None, so that
    sections added later come too."""
    if chosen is None or len(chosen) == len(known):
        return None
    return chosen


def new_subscriber(
    email: str,
    name: str | None,
    sections: str | Iterable[str] | None,
    known: Sequence[str],
    line: int = 0,
) -> NewSubscriber:
    return NewSubscriber(
        normalize_email(email), clean_name(name), parse_sections(sections, known), line
    )


@dataclass
class CsvResult:
    rows: list[NewSubscriber]
    errors: list[str]  # "FILE:LINE: reason", one per bad row


def collect(items: Iterable[NewSubscriber | str]) -> CsvResult:
    """The rows and refusals of a stream from `read_rows` or `open_csv`, in lists."""
    result = CsvResult([], [])
    for item in items:
        if isinstance(item, str):
            result.errors.append(item)
        else:
            result.rows.append(item)
    return result


def read_csv(path: Path, known: Sequence[str]) -> CsvResult:
    """Read a subscriber CSV (columns email, name, sections; sections optional) into memory;
    a large file is better streamed with `open_csv`."""
    with open_csv(path, known) as items:
        return collect(items)


def parse_csv(text: str, origin: str, known: Sequence[str]) -> CsvResult:
    return collect(read_rows(io.StringIO(text, newline=""), origin, known))


@contextmanager
def open_csv(path: Path, known: Sequence[str]) -> Iterator[Iterator[NewSubscriber | str]]:
    """The rows of a subscriber CSV file as `read_rows` streams them, the file open meanwhile.

    The whole file is first checked to be UTF-8 (a quick pass over its bytes), so a file that
    is not is refused before any row is looked at, as when it was read whole."""
    check_utf8(path)
    try:
        file = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise SubscriberError(f"{path}: cannot read: {exc.strerror}") from None
    with file:
        yield _decoded(read_rows(file, str(path), known), path)


def _decoded(items: Iterator[NewSubscriber | str], path: Path) -> Iterator[NewSubscriber | str]:
    try:
        yield from items
    except UnicodeDecodeError:  # changed since check_utf8 read it
        raise SubscriberError(f"{path}: not valid UTF-8") from None


_CHUNK = 1 << 20


def check_utf8(path: Path) -> None:
    """SubscriberError naming the byte offset of the first invalid UTF-8 in the file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    read = 0  # bytes read so far
    try:
        with path.open("rb") as file:
            while True:
                chunk = file.read(_CHUNK)
                # An error's start counts from the first bytes of an unfinished character
                # that the decoder kept from the chunk before.
                start = read - len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    offset = start + exc.start
                    raise SubscriberError(f"{path}: not valid UTF-8 (offset {offset})") from None
                if not chunk:
                    return
                read += len(chunk)
    except OSError as exc:
        raise SubscriberError(f"{path}: cannot read: {exc.strerror}") from None


def read_rows(
    lines: Iterable[str], origin: str, known: Sequence[str]
) -> Iterator[NewSubscriber | str]:
    """Each row of a subscriber CSV, in file order: a NewSubscriber, or for a bad row a
    refusal 'FILE:LINE: reason' (a str). `lines` is read as the rows are taken, so a file of
    any length streams in bounded memory.

    The header is read at once: SubscriberError if it is malformed or has no email column."""
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        raise SubscriberError(f"{origin}:1: malformed CSV: {exc}") from None
    if "email" not in header:
        raise SubscriberError(f"{origin}:1: no 'email' column (expected email,name,sections)")
    return _rows(reader, header, origin, known)


def _rows(
    reader: Reader, header: list[str], origin: str, known: Sequence[str]
) -> Iterator[NewSubscriber | str]:
    seen = Repeats()
    while True:
        line = reader.line_num + 1  # lines read so far, so where the next row starts
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield f"{origin}:{line}: malformed CSV: {exc}"
            return
        if not any(v.strip() for v in row):
            continue  # a blank line
        if len(row) > len(header):
            yield (
                f"{origin}:{line}: {len(row)} fields but the header has {len(header)} "
                "(quote values that contain commas)"
            )
            continue
        record = {k: restore(v) for k, v in zip(header, row, strict=False)}
        try:
            sub = new_subscriber(
                record.get("email") or "", record.get("name"), record.get("sections"), known, line
            )
        except SubscriberError as exc:
            yield f"{origin}:{line}: {exc}"
            continue
        first = seen.first_line(sub.email, line)
        if first is not None:
            yield f"{origin}:{line}: {sub.email} repeats line {first}"
            continue
        yield sub


class Repeats:
    """The addresses met so far in a file, each with the line it first came on, in 32 to 40
    bytes an address (a set of a million address strings would take over 100 MB).

    An address is kept as its 128-bit BLAKE2b digest, in an open-addressing table of plain
    arrays. Two different addresses would be taken for one only if their digests were equal:
    for a file of a million rows, a chance below 1 in 10^26."""

    def __init__(self) -> None:
        self._digests = array("Q")  # two words an address, in the order they came
        self._lines = array("Q")
        self._slots = array("I", [0]) * 1024  # 1 + the address's index; 0: free

    def first_line(self, email: str, line: int) -> int | None:
        """The line `email` came on before, or None: then it is remembered as on `line`."""
        digest = hashlib.blake2b(email.encode(), digest_size=16).digest()
        high, low = int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")
        slots, digests = self._slots, self._digests
        mask = len(slots) - 1
        slot = high & mask
        while index := slots[slot]:
            if digests[2 * index - 2] == high and digests[2 * index - 1] == low:
                return self._lines[index - 1]
            slot = (slot + 1) & mask
        digests.append(high)
        digests.append(low)
        self._lines.append(line)
        slots[slot] = len(self._lines)
        if 2 * len(self._lines) > len(slots):  # kept at most half full: probes stay short
            self._grow()
        return None

    def _grow(self) -> None:
        slots = array("I", [0]) * (2 * len(self._slots))
        mask = len(slots) - 1
        digests = self._digests
        for index in range(1, len(self._lines) + 1):
            slot = digests[2 * index - 2] & mask
            while slots[slot]:
                slot = (slot + 1) & mask
            slots[slot] = index
        self._slots = slots


# A cell a spreadsheet would run as a formula (CSV injection): written with a leading
# apostrophe, which spreadsheets show as text, and which read_csv takes off again.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def restore(cell: str) -> str:
    """The cell as written before `neutralise` (import reads what export wrote)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def write_csv(rows: Iterable[tuple[str, str | None, tuple[str, ...] | None]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "sections"])
    for email, name, sections in rows:
        writer.writerow([neutralise(email), neutralise(name or ""), ";".join(sections or ())])
    return out.getvalue()
