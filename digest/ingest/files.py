"""Reading story documents from files: finding them, reading them, and parsing batches of
them over every core when there are many (the parsing itself is parse.py's, and pure)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..errors import DocumentError
from ..model import Document
from .parse import decode, parse_document, parse_with_fingerprint


def read_document(path: Path, default_date: str | None = None) -> tuple[Document, bytes]:
    """Read and parse one file; returns the document and the raw bytes (for hashing)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(str(path), f"cannot read: {exc.strerror}") from None
    return parse_document(decode(data, str(path)), str(path), default_date), data


def find_documents(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, folders walked recursively for *.txt, in a stable order."""
    for p in paths:
        if p.is_dir():
            yield from sorted((q for q in p.rglob("*.txt") if q.is_file()), key=str)
        else:
            yield p


Parsed = tuple[Document, str] | DocumentError  # the document and its fingerprint, or why not


def _parse_job(job: tuple[str, bytes, str | None]) -> tuple[object, ...]:
    """Parse in a worker process; plain tuples cross the process boundary."""
    path, data, default_date = job
    try:
        doc, print_ = parse_with_fingerprint(decode(data, path), path, default_date)
    except DocumentError as exc:
        return ("error", exc.path, exc.reason, exc.line)
    return ("ok", doc, print_)


class Parser:
    """Parses batches of documents, over all cores when there are many of them."""

    PARALLEL_FROM = 400  # below this, starting processes costs more than it saves

    def __init__(self, expected: int) -> None:
        self.workers = min(os.cpu_count() or 1, 8)
        self.pool: ProcessPoolExecutor | None = None
        if expected >= self.PARALLEL_FROM and self.workers > 1:
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("fork")
            )

    def __enter__(self) -> Parser:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool:
            self.pool.shutdown()

    def submit(self, jobs: list[tuple[str, bytes, str | None]]) -> Callable[[], list[Parsed]]:
        """Start parsing; the returned function waits for and gives the results. Meanwhile
        the caller can store the previous batch."""
        if self.pool:
            chunk = max(1, len(jobs) // (4 * self.workers))
            futures = [
                self.pool.submit(_parse_chunk, jobs[i : i + chunk])
                for i in range(0, len(jobs), chunk)
            ]
            return lambda: _unpack([r for f in futures for r in f.result()])
        done = _parse_chunk(jobs)
        return lambda: _unpack(done)


def _parse_chunk(jobs: list[tuple[str, bytes, str | None]]) -> list[tuple[object, ...]]:
    return [_parse_job(job) for job in jobs]


def _unpack(results: list[tuple[object, ...]]) -> list[Parsed]:
    out: list[Parsed] = []
    for result in results:
        if result[0] == "ok":
            out.append((result[1], result[2]))  # type: ignore[arg-type]
        else:
            out.append(DocumentError(*result[1:]))  # type: ignore[arg-type]
    return out


__all__ = ["Parsed", "Parser", "find_documents", "read_document"]
