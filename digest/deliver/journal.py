"""A sending process's journal: each outcome appended to a local file the moment it is known.

The database gets outcomes in batches (a write per message would cost a transaction each).
What a crash, kill -9 or a database outage leaves between two batches is in the journal:
one `write` to a file opened for appending, which the kernel keeps even when the process is
killed the next instant. The next run on this machine applies the journals of processes that
are gone to their deliveries still claimed, before putting anything back in the queue, so
only the messages in flight when it died can go out twice.

A journal lives beside the lock file and is removed once everything in it is in the database.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from ..store.delivery import DeliveryOutcome, worker_alive

SUFFIX = ".journal"


def folder_for(lock_file: Path) -> Path:
    return lock_file.parent / "digest-journal"


class Journal:
    def __init__(self, folder: Path, worker: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / (worker.replace("/", "_") + SUFFIX)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def add(self, o: DeliveryOutcome) -> None:
        line = [o.delivery_id, o.subscriber_id, o.state, o.reply, o.message_id, o.attempts]
        os.write(self.fd, json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n")

    def close(self, remove: bool) -> None:
        os.close(self.fd)
        if remove:
            self.path.unlink(missing_ok=True)


def orphans(folder: Path) -> Iterator[tuple[Path, str, list[DeliveryOutcome]]]:
    """(file, worker, outcomes) of the journals whose process is gone."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*" + SUFFIX)):
        worker = path.name[: -len(SUFFIX)]
        if worker_alive(worker):
            continue
        outcomes = []
        with contextlib.suppress(OSError):
            for raw in path.read_bytes().splitlines():
                try:
                    did, sid, state, reply, mid, attempts = json.loads(raw)
                    outcomes.append(DeliveryOutcome(did, sid, state, reply, mid, attempts))
                except (ValueError, TypeError):
                    continue  # a line cut short: its message counts as in flight
        yield path, worker, outcomes


__all__ = ["Journal", "folder_for", "orphans"]
