"""Subscriber addresses and lists: validation, normalisation and CSV reading. Pure.

Addresses are checked for syntax only (no DNS) with email-validator and folded to lower case,
so the same address in another case is the same subscriber.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .addresses import normalize_address
from .errors import SubscriberError

# pending: waiting for double opt-in; paused: chose no digests for now, from the web page.
SUBSCRIBER_STATES = ("active", "unsubscribed", "bounced", "pending", "paused")
MAX_NAME = 200


@dataclass(frozen=True)
class NewSubscriber:
    email: str
    name: str | None
    sections: tuple[str, ...] | None  # None: every section
    line: int = 0  # where it came from in a CSV file, for messages


def normalize_email(address: str) -> str:
    """The canonical form of an address, or SubscriberError saying what is wrong with it."""
    address = address.strip()
    if not address:
        raise SubscriberError("email is empty")
    try:
        return normalize_address(address)
    except ValueError as exc:
        raise SubscriberError(f"invalid email {address!r}: {exc}") from None


def clean_name(name: str | None) -> str | None:
    """A display name without control characters (they could inject headers)."""
    if name is None:
        return None
    # Cc covers C0, DEL and C1 (NEL among them); Zl/Zp are the Unicode line separators.
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
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


def read_csv(path: Path, known: Sequence[str]) -> CsvResult:
    """Read a subscriber CSV (columns email, name, sections; sections optional)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubscriberError(f"{path}: not valid UTF-8 (offset {exc.start})") from None
    except OSError as exc:
        raise SubscriberError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_csv(text, str(path), known)


def parse_csv(text: str, origin: str, known: Sequence[str]) -> CsvResult:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as exc:
        raise SubscriberError(f"{origin}:1: malformed CSV: {exc}") from None
    if "email" not in header:
        raise SubscriberError(f"{origin}:1: no 'email' column (expected email,name,sections)")
    result = CsvResult([], [])
    seen: dict[str, int] = {}
    while True:
        line = reader.line_num + 1  # lines read so far, so where the next row starts
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.errors.append(f"{origin}:{line}: malformed CSV: {exc}")
            break
        if not any(v.strip() for v in row):
            continue  # a blank line
        if len(row) > len(header):
            result.errors.append(
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
            result.errors.append(f"{origin}:{line}: {exc}")
            continue
        if sub.email in seen:
            result.errors.append(f"{origin}:{line}: {sub.email} repeats line {seen[sub.email]}")
            continue
        seen[sub.email] = line
        result.rows.append(sub)
    return result


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
