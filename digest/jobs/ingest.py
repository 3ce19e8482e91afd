"""Ingesting story documents: `digest ingest`, and the first step of `digest run`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DocumentError
from ..ingest import Parsed, Parser, find_documents, read_document
from ..model import Document
from ..store import Store

BATCH = 500  # documents stored per transaction


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
    paths: Iterable[Path], default_date: str | None = None
) -> tuple[list[Document], list[DocumentError]]:
    """Parse every document under `paths` without storing anything (for --json)."""
    docs: list[Document] = []
    errors: list[DocumentError] = []
    for path in find_documents(paths):
        try:
            docs.append(read_document(path, default_date)[0])
        except DocumentError as exc:
            errors.append(exc)
    return docs, errors


def ingest(store: Store, paths: Iterable[Path], default_date: str | None = None) -> IngestReport:
    """Read and store documents. Bad files are refused one by one; the good ones still go in.

    A file already ingested (same bytes) is not parsed again; the same story from another file
    (a syndicated copy) is counted as a duplicate. Batches overlap: one is parsed (on every
    core, when there are many) while the one before is stored.
    """
    report = IngestReport()
    files = list(find_documents(paths))
    with Parser(len(files)) as parser:
        waiting: tuple[list[tuple[str, str]], Callable[[], list[Parsed]]] | None = None
        for i in range(0, len(files), BATCH):
            todo = _new_files(store, files[i : i + BATCH], default_date, report)
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


def _new_files(
    store: Store, files: list[Path], default_date: str | None, report: IngestReport
) -> list[tuple[str, bytes, str | None, str]]:
    """(path, bytes, default date, sha256) of the files not ingested before."""
    raw: list[tuple[Path, bytes, str]] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            report.refused.append(DocumentError(str(path), f"cannot read: {exc.strerror}"))
            continue
        raw.append((path, data, hashlib.sha256(data).hexdigest()))
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
    for stored in store.add_documents(items):
        if stored:
            report.stored += 1
        else:
            report.duplicates += 1


__all__ = ["IngestReport", "ingest", "parse_paths"]
