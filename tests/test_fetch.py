"""Fetching sources over real HTTP (issue #15), from a local server on a free port: a
conditional GET (a 304 the second time), the size cap, the timeout, redirects within a limit,
HTTP errors, a descriptive User-Agent, and local paths; each failure one line, the others
still fetched."""

from __future__ import annotations

import asyncio

from digest.errors import FetchError
from digest.fetch import Fetched, Request, Validators, fetch_all

from .feed_server import FEEDS, FeedServer, feed_server  # noqa: F401  (the fixture)

SITE = "https://news.example.org"


def run(requests: list[Request], **options: float) -> list[Fetched | FetchError]:
    return asyncio.run(fetch_all(requests, SITE, **options))  # type: ignore[arg-type]


def test_a_second_fetch_with_the_validators_costs_a_304(feed_server: FeedServer) -> None:  # noqa: F811
    url = f"{feed_server.url}/orbit-rss.xml"
    [first] = run([Request("orbit", url)])
    assert isinstance(first, Fetched) and not first.unchanged
    assert first.data == (FEEDS / "orbit-rss.xml").read_bytes()
    assert first.validators.etag and first.validators.last_modified
    [second] = run([Request("orbit", url, first.validators)])
    assert isinstance(second, Fetched) and second.unchanged and second.data is None
    assert feed_server.not_modified["orbit-rss.xml"] == 1
    assert all(a.startswith("digest/") and SITE in a for a in feed_server.agents)


def test_each_failure_is_one_line_and_the_others_are_fetched(feed_server: FeedServer) -> None:  # noqa: F811
    feed_server.slow_seconds = 2.0
    base = feed_server.url
    names = ["missing", "error", "loop", "slow", "huge", "harbour-atom.xml"]
    found = run([Request(n, f"{base}/{n}") for n in names], timeout=0.5, max_bytes=200_000)
    reasons = [str(f) if isinstance(f, FetchError) else "ok" for f in found]
    assert reasons[0] == "HTTP 404 Not Found"
    assert reasons[1] == "HTTP 500 Internal Server Error"
    assert reasons[2] == "more than 5 redirects"
    assert reasons[3] == "timed out"
    assert reasons[4].startswith("too large")
    assert reasons[5] == "ok"
    assert all("\n" not in r for r in reasons)


def test_local_paths_and_bad_addresses(tmp_path: object) -> None:
    path = str(FEEDS / "garden-feed.json")
    found = run(
        [Request("local", path), Request("gone", "/no/such/feed.xml"), Request("odd", "http://")]
    )
    assert (
        isinstance(found[0], Fetched) and found[0].data == (FEEDS / "garden-feed.json").read_bytes()
    )
    assert isinstance(found[1], FetchError) and "No such file" in str(found[1])
    assert isinstance(found[2], FetchError)
    assert Validators() == Validators(None, None)
