"""Reading story documents from files: finding them, reading them, and parsing batches of
them over every core when there are many (the parsing itself is parse.py's, and pure)."""

from __future__ import annotations

import multiprocessing
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..errors import DocumentError
from ..model import Document
from .feeds import FEED_SUFFIXES, PAGE_SUFFIXES
from .parse import decode, parse_document, parse_with_fingerprint

MAX_DOCUMENT_BYTES = 5_000_000  # the max_document_bytes setting's default
_READ_CHUNK = 1 << 16  # after the first read, which asks for the whole file

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _check(path: Path, info: os.stat_result, max_bytes: int) -> None:
    """Refuse what is not a regular file, or is larger than max_bytes, from its stat alone."""
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "special file")
        raise DocumentError(str(path), f"not a regular file ({kind})")
    if info.st_size > max_bytes:
        raise DocumentError(str(path), _too_large(info.st_size, max_bytes))


def _too_large(size: int | None, max_bytes: int) -> str:
    what = f"{size:,} bytes" if size is not None else "grew while read"
    return f"too large ({what}; max_document_bytes is {max_bytes:,})"


def read_file(path: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A document's bytes. What is not a regular file, or is over max_bytes, is refused from
    its stat, before it is opened: opening a FIFO waits for a writer, and a huge file would be
    read whole into memory (and then parsed at twenty times its size)."""
    try:
        _check(path, os.stat(path), max_bytes)
        # O_NONBLOCK: should a FIFO take the file's place after the stat, opening it does
        # not wait; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            _check(path, info, max_bytes)
            chunks = [os.read(fd, info.st_size + 1)]  # one read, then an empty one at EOF
            size = len(chunks[0])
            while chunks[-1] and size <= max_bytes:
                chunks.append(os.read(fd, _READ_CHUNK))
                size += len(chunks[-1])
        finally:
            os.close(fd)
    except OSError as exc:
        raise DocumentError(str(path), f"cannot read: {exc.strerror}") from None
    if size > max_bytes:
        raise DocumentError(str(path), _too_large(None, max_bytes))
    return chunks[0] if len(chunks) <= 2 else b"".join(chunks)


def read_document(
    path: Path, default_date: str | None = None, max_bytes: int = MAX_DOCUMENT_BYTES
) -> tuple[Document, bytes]:
    """Read and parse one file; returns the document and the raw bytes (for hashing)."""
    data = read_file(path, max_bytes)
    return parse_document(decode(data, str(path)), str(path), default_date), data


FOUND_IN_FOLDERS = (".txt", *FEED_SUFFIXES, *PAGE_SUFFIXES)


def find_documents(paths: Iterable[Path]) -> Iterator[Path]:
    """Paths as given, folders walked recursively for story documents (*.txt), feeds and
    saved pages, in a stable order. Whatever is not a folder is yielded, FIFOs and devices
    too, so that reading refuses them by name."""
    for p in paths:
        if p.is_dir():
            found = (
                q
                for q in p.rglob("*")
                if q.suffix.lower() in FOUND_IN_FOLDERS and not q.is_dir() and _worth(q)
            )
            yield from sorted(found, key=str)
        else:
            yield p


def _worth(path: Path) -> bool:
    """Whether a file found in a folder is one to read: a .json file only when it is a JSON
    Feed (it names jsonfeed.org at its start), since folders hold other JSON too."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return True  # what is not a regular file is refused by name, never opened
    try:
        with path.open("rb") as fh:
            return b"jsonfeed.org" in fh.read(512)
    except OSError:
        return True  # reading it will say why, by name


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


__all__ = ["MAX_DOCUMENT_BYTES", "Parsed", "Parser", "find_documents", "read_document", "read_file"]
