"""The outbox transport: one .eml file per subscriber under outbox/<date>/, for demos,
dry runs and editors who want to look before anything is sent."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from pathlib import Path

from .transport import Envelope, TransientFailure, TransportError

# Errors of the folder rather than of one message: a full disk or quota, a read-only file
# system, no permission.
_FOLDER_UNUSABLE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


class OutboxTransport:
    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def deliver(self, envelope: Envelope, message: bytes) -> str:
        await asyncio.to_thread(self._write, envelope, message)
        return f"250 written to {self.folder.name}/"

    def _write(self, envelope: Envelope, message: bytes) -> None:
        safe = "".join(c if c.isalnum() or c in "@.-_+" else "_" for c in envelope.recipient)
        path = self.folder / f"{envelope.subscriber_id:06d}-{safe}.eml"
        tmp = path.with_suffix(".tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(message)
            os.replace(tmp, path)  # a reader never sees half a message
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)  # never leave half a message behind
            reason = f"cannot write to the outbox {self.folder}: {exc.strerror or exc}"
            if exc.errno in _FOLDER_UNUSABLE:
                # No later message will fare better: stop the run, keep the rest queued.
                raise TransportError(reason) from None
            raise TransientFailure(reason) from None

    async def close(self) -> None:
        return None
