"""A real HTTP endpoint for webhook tests: records every POST (headers and raw body) and can
refuse the first few, as a receiver that is down for a while would."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int  # the status the receiver gave

    @property
    def event(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse = 0  # answer this many more POSTs with `status`
        self.status = 503
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = 200
                    if receiver.refuse > 0:
                        receiver.refuse -= 1
                        status = receiver.status
                    receiver.received.append(Received(dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def taken(self) -> list[Received]:
        """What was answered 2xx, in arrival order."""
        with self._lock:
            return [r for r in self.received if r.answered == 200]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, received: Received) -> bool:
    """What a receiver does with X-Digest-Signature: t=<stamp>,v1=<hex>."""
    parts = dict(p.split("=", 1) for p in received.headers["X-Digest-Signature"].split(","))
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts["v1"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()
