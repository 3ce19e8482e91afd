"""Ingesting story documents: `digest ingest`, and the first step of `digest run`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DocumentError
from ..ingest import MAX_DOCUMENT_BYTES, Parsed, Parser, find_documents, read_document, read_file
from ..model import Document
from ..store import Store

BATCH = 500  # documents stored per transaction
BATCH_BYTES = 32_000_000  # or fewer, when they are large: two batches are in memory at once


@dataclass
class IngestReport:
    stored: int = 0
    duplicates: int = 0
    refused: list[DocumentError] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (
            f"{self.stored} stored, {self.duplicates} duplicates skipped, "
            f"{len(self.refused)} refused"
        )


def parse_paths(
    paths: Iterable[Path], default_date: str | None = None, max_bytes: int = MAX_DOCUMENT_BYTES
) -> tuple[list[Document], list[DocumentError]]:
    """Parse every document under `paths` without storing anything (for --json)."""
    docs: list[Document] = []
    errors: list[DocumentError] = []
    for path in find_documents(paths):
        try:
            docs.append(read_document(path, default_date, max_bytes)[0])
        except DocumentError as exc:
            errors.append(exc)
    return docs, errors


def ingest(
    store: Store,
    paths: Iterable[Path],
    default_date: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> IngestReport:
    """Read and store documents. Bad files are refused one by one; the good ones still go in.

    What is not a regular file, or is over `max_bytes` (the max_document_bytes setting), is
    refused before it is read. A file already ingested (same bytes) is not parsed again; the
    same story from another file (a syndicated copy) is counted as a duplicate. Batches
    overlap: one is parsed (on every core, when there are many) while the one before is
    stored. A document the database refuses is refused alone.
    """
    report = IngestReport()
    files = list(find_documents(paths))
    with Parser(len(files)) as parser:
        waiting: tuple[list[tuple[str, str]], Callable[[], list[Parsed]]] | None = None
        for raw in _read_batches(files, max_bytes, report):
            todo = _new_files(store, raw, default_date, report)
            started = (
                [(path, sha) for path, _, _, sha in todo],
                parser.submit([(path, data, day) for path, data, day, _ in todo]),
            )
            if waiting:
                _store_parsed(store, *waiting, report)
            waiting = started
        if waiting:
            _store_parsed(store, *waiting, report)
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
) -> None:
    items: list[tuple[Document, str, str, str]] = []
    for (path, sha), parsed in zip(files, results(), strict=True):
        if isinstance(parsed, DocumentError):
            report.refused.append(parsed)
        else:
            items.append((parsed[0], parsed[1], path, sha))
    for (_, _, path, _), outcome in zip(items, store.add_documents(items), strict=True):
        if outcome is True:
            report.stored += 1
        elif outcome is False:
            report.duplicates += 1
        else:
            report.refused.append(DocumentError(path, outcome))


__all__ = ["IngestReport", "ingest", "parse_paths"]
