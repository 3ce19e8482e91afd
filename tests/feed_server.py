"""A real HTTP server on a free port for the fetching tests: serves the feed and page fixtures
(tests/fixtures/feeds/) with ETag and Last-Modified handling, and a few misbehaving paths
(404, 500, a redirect loop, a slow answer, an endless body). Counts what it was asked."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
LAST_MODIFIED = "Thu, 26 Nov 2026 12:00:00 GMT"
TYPES = {".xml": "application/rss+xml", ".json": "application/feed+json", ".html": "text/html"}


class FeedServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {p.name: p.read_bytes() for p in FEEDS.iterdir()}
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.agents: list[str] = []
        self.slow_seconds = 3.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                server.hits[name] += 1
                server.agents.append(self.headers.get("User-Agent", ""))
                if name == "loop":
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                    self.end_headers()
                    return
                if name in ("missing", "error"):
                    self.send_error(404 if name == "missing" else 500)
                    return
                if name == "slow":
                    time.sleep(server.slow_seconds)
                if name == "huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.end_headers()
                    try:
                        for _ in range(2000):
                            self.wfile.write(b"<!-- filler -->" * 1000)
                    except OSError:
                        pass
                    return
                body = server.files.get(name.removeprefix("slow-"))
                if body is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    server.not_modified[name] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", TYPES.get(Path(name).suffix, "text/plain"))
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    try:
        yield server
    finally:
        server.close()
