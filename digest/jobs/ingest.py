"""Ingesting story documents: `digest ingest`, and the first step of `digest run`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ..errors import DocumentError
from ..ingest import (
    MAX_DOCUMENT_BYTES,
    Parsed,
    Parser,
    decode,
    find_documents,
    fingerprint,
    read_document,
    read_file,
)
from ..ingest.explain import explain
from ..ingest.feeds import FEED_SUFFIXES, PAGE_SUFFIXES, parse_source
from ..ingest.feeds import Parsed as FeedParsed
from ..model import Document
from ..store import Refused, Store
from ..store.stories import ITEM

UTC = ZoneInfo("UTC")
SOURCE_SUFFIXES = FEED_SUFFIXES + PAGE_SUFFIXES

BATCH = 500  # documents stored per transaction
BATCH_BYTES = 32_000_000  # or fewer, when they are large: two batches are in memory at once
LATE_PATHS_SHOWN = 10  # files a late-story warning names; it counts the rest


@dataclass
class IngestReport:
    stored: int = 0
    replaced: int = 0  # a corrected or fuller version took the place of a stored story
    duplicates: int = 0
    refused: list[DocumentError] = field(default_factory=list)
    # Days whose digest was already sent: the files that brought stories for them since,
    # each with whether it replaced a stored story. They go out only if the day is sent again.
    late: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return (
            f"{self.stored} stored, {self.replaced} replaced, "
            f"{self.duplicates} duplicates skipped, {len(self.refused)} refused"
        )

    @property
    def warnings(self) -> list[str]:
        """One line per day that got stories after its digest was sent."""
        return [_late_warning(day, files) for day, files in sorted(self.late.items())]


def _late_warning(day: str, files: list[tuple[str, bool]]) -> str:
    n = len(files)
    replaced = sum(1 for _, r in files if r)
    what = f"{n} stories" if n > 1 else "1 story"
    if replaced:
        fixes = "a correction" if replaced == 1 else "corrections"
        what += f" ({fixes})" if n == 1 else f" ({replaced} of them {fixes})"
    they = "they" if n > 1 else "it"
    shown = ", ".join(path for path, _ in files[:LATE_PATHS_SHOWN])
    if n > LATE_PATHS_SHOWN:
        shown += f" and {n - LATE_PATHS_SHOWN} more"
    return (
        f"warning: {what} for {day} arrived after that day's digest was sent; "
        f"{they} will not go out by {'themselves' if n > 1 else 'itself'}: {shown}"
    )


def parse_paths(
    paths: Iterable[Path],
    default_date: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    zone: ZoneInfo = UTC,
) -> tuple[list[Document], list[DocumentError]]:
    """Parse every document (and feed item, and page) under `paths` without storing
    anything (for --json)."""
    docs: list[Document] = []
    errors: list[DocumentError] = []
    for path in find_documents(paths):
        try:
            if path.suffix.lower() in SOURCE_SUFFIXES:
                parsed = parse_source(read_file(path, max_bytes), str(path), None, zone)
                docs += [item.document for item in parsed.items]
                errors += parsed.refused
            else:
                docs.append(read_document(path, default_date, max_bytes)[0])
        except DocumentError as exc:
            errors.append(exc)
    return docs, errors


def explain_file(
    path: Path, default_date: str | None = None, max_bytes: int = MAX_DOCUMENT_BYTES
) -> tuple[list[str], bool]:
    """`digest ingest --explain`: each line of one document with its role and why, then what
    the parser made of it; and whether the document is accepted. Stores nothing."""
    try:
        text = decode(read_file(path, max_bytes), str(path))
    except DocumentError as exc:
        return [f"refused: {exc}"], False
    return explain(text, str(path), default_date)


def ingest(
    store: Store,
    paths: Iterable[Path],
    default_date: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    zone: ZoneInfo = UTC,
) -> IngestReport:
    """Read and store documents. Bad files are refused one by one; the good ones still go in.

    What is not a regular file, or is over `max_bytes` (the max_document_bytes setting), is
    refused before it is read. A file already ingested (same bytes) is not parsed again; the
    same story from another file (a syndicated copy), or a shorter capture of it, is counted
    as a duplicate; a corrected or fuller version replaces it (StoryStore.add_documents says
    when). Stories for a day whose digest was already sent are stored and listed in
    `report.late`. Batches overlap: one is parsed (on every core, when there are many) while
    the one before is stored. A document the database refuses is refused alone.

    Feed files (.xml, .rss, .atom, .json) give a story per item, saved pages (.html) one
    each (their days in `zone`); an item seen before unchanged is a duplicate, a changed one
    replaces its story (store_items).
    """
    report = IngestReport()
    sent: dict[str, bool] = {}  # whether a day's digest went out, for the days seen so far
    files = list(find_documents(paths))
    # Feeds and saved pages: a handful of files, read one by one (their items are many).
    for path in [p for p in files if p.suffix.lower() in SOURCE_SUFFIXES]:
        try:
            parsed = parse_source(read_file(path, max_bytes), str(path), None, zone)
        except DocumentError as exc:
            report.refused.append(exc)
            continue
        store_items(store, parsed, report, sent)
    files = [p for p in files if p.suffix.lower() not in SOURCE_SUFFIXES]
    with Parser(len(files)) as parser:
        waiting: tuple[list[tuple[str, str]], Callable[[], list[Parsed]]] | None = None
        for raw in _read_batches(files, max_bytes, report):
            todo = _new_files(store, raw, default_date, report)
            started = (
                [(path, sha) for path, _, _, sha in todo],
                parser.submit([(path, data, day) for path, data, day, _ in todo]),
            )
            if waiting:
                _store_parsed(store, *waiting, report, sent)
            waiting = started
        if waiting:
            _store_parsed(store, *waiting, report, sent)
    return report


def _read_batches(
    files: list[Path], max_bytes: int, report: IngestReport
) -> Iterator[list[tuple[Path, bytes, str]]]:
    """(path, bytes, sha256) in batches of BATCH files or BATCH_BYTES, whichever comes first,
    so that memory stays bounded however large the documents are; read, one batch at a time,
    while the batch before is parsed."""
    batch: list[tuple[Path, bytes, str]] = []
    size = 0
    for path in files:
        try:
            data = read_file(path, max_bytes)
        except DocumentError as exc:
            report.refused.append(exc)
            continue
        batch.append((path, data, hashlib.sha256(data).hexdigest()))
        size += len(data)
        if len(batch) >= BATCH or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _new_files(
    store: Store,
    raw: list[tuple[Path, bytes, str]],
    default_date: str | None,
    report: IngestReport,
) -> list[tuple[str, bytes, str | None, str]]:
    """(path, bytes, default date, sha256) of the files not ingested before."""
    known = store.known_files(sha for _, _, sha in raw)
    todo: list[tuple[str, bytes, str | None, str]] = []
    for path, data, sha in raw:
        if sha in known:
            report.duplicates += 1
            continue
        known.add(sha)  # the same bytes twice in one run count once
        todo.append((str(path), data, default_date, sha))
    return todo


def _store_parsed(
    store: Store,
    files: list[tuple[str, str]],
    results: Callable[[], list[Parsed]],
    report: IngestReport,
    sent: dict[str, bool],
) -> None:
    items: list[tuple[Document, str, str, str]] = []
    for (path, sha), parsed in zip(files, results(), strict=True):
        if isinstance(parsed, DocumentError):
            report.refused.append(parsed)
        else:
            items.append((parsed[0], parsed[1], path, sha))
    arrived: list[tuple[str, str, bool]] = []  # day, path, whether it replaced a story
    for (doc, _, path, _), outcome in zip(items, store.add_documents(items), strict=True):
        if isinstance(outcome, Refused):
            report.refused.append(DocumentError(path, outcome.reason))
        elif outcome == "duplicate":
            report.duplicates += 1
        else:
            if outcome == "stored":
                report.stored += 1
            else:
                report.replaced += 1
            arrived.append((doc.date, path, outcome == "replaced"))
    _learn_sent(store, {day for day, _, _ in arrived}, sent)
    for day, path, replaced in arrived:
        if sent[day]:
            report.late.setdefault(day, []).append((path, replaced))


def _learn_sent(store: Store, days: set[str], sent: dict[str, bool]) -> None:
    """Add to `sent` (day -> whether its digest went out) the days it does not know yet."""
    unknown = days - sent.keys()
    if unknown:
        gone = store.days_sent(unknown)
        sent.update((day, day in gone) for day in unknown)


def store_items(
    store: Store, parsed: FeedParsed, report: IngestReport, sent: dict[str, bool] | None = None
) -> int:
    """Store a feed's items (or a page) as stories; returns how many were new or changed.

    An item is named by its source and its GUID (else its link): seen again unchanged, it is
    a duplicate and costs nothing (its bytes are known); changed, it replaces its story, as a
    corrected file does, until the story's day is sent (then it is left as it went out); it
    keeps the day it was first stored under. The same article from another source (the same
    body) is one story.
    """
    report.refused.extend(parsed.refused)
    files: list[tuple[str, str]] = []
    found: list[Parsed] = []
    named = [(f"{ITEM}{i.document.source or ''}:{i.key}", i.document) for i in parsed.items]
    # An item keeps the day it was first stored under (an entry dated by its last update
    # would move on each update), and once that day is sent it stays as it went out.
    first_days = store.item_days(path for path, _ in named)
    sent = {} if sent is None else sent
    _learn_sent(store, set(first_days.values()), sent)
    for path, doc in named:
        day = first_days.get(path)
        if day is not None and sent[day]:
            report.duplicates += 1
            continue
        if day is not None and day != doc.date:
            doc = dataclasses.replace(doc, date=day)
        content = json.dumps(doc.to_json(), sort_keys=True, ensure_ascii=False)
        sha = hashlib.sha256(f"{path}\n{content}".encode()).hexdigest()
        files.append((path, sha))
        found.append((doc, fingerprint(doc)))
    known = store.known_files(sha for _, sha in files)
    todo = [(f, p) for f, p in zip(files, found, strict=True) if f[1] not in known]
    report.duplicates += len(files) - len(todo)
    before = report.stored + report.replaced
    if todo:
        _store_parsed(store, [f for f, _ in todo], lambda: [p for _, p in todo], report, sent)
    return report.stored + report.replaced - before


__all__ = ["IngestReport", "explain_file", "ingest", "parse_paths", "store_items"]
