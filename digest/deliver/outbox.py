"""The outbox transport: one .eml file per subscriber under outbox/<date>/, for demos,
dry runs and editors who want to look before anything is sent."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from .transport import Envelope


class OutboxTransport:
    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def deliver(self, envelope: Envelope, message: bytes) -> str:
        await asyncio.to_thread(self._write, envelope, message)
        return f"250 written to {self.folder.name}/"

    def _write(self, envelope: Envelope, message: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "@.-_+" else "_" for c in envelope.recipient)
        path = self.folder / f"{envelope.subscriber_id:06d}-{safe}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(message)
        os.replace(tmp, path)  # a reader never sees half a message

    async def close(self) -> None:
        return None
