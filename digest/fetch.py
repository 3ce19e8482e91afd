"""Fetching sources over HTTP, politely (issue #15): a conditional GET with the validators of
the last fetch (an unchanged feed costs a 304 and no body), a timeout, a size cap read as the
body streams in, a User-Agent that says who is asking, redirects followed within a limit, and a
few sources at a time. A local path is read from disk the same way. Every failure is one line
of reason for that source; nothing here stores anything (jobs/fetch.py does).
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import FetchError

if TYPE_CHECKING:  # httpx itself is imported when a fetch runs: 60 ms no other command needs
    import httpx

TIMEOUT = 20.0  # seconds for connecting, and between bytes of an answer
MAX_BYTES = 5_000_000  # a feed or a page larger than this is refused
MAX_REDIRECTS = 5
AT_ONCE = 4  # sources fetched at the same time
DEADLINE_TIMEOUTS = 6  # a whole answer may take this many timeouts


@dataclass(frozen=True)
class Validators:
    """What the last answer said to ask with next time (If-None-Match, If-Modified-Since)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A source's answer: its bytes (None: unchanged since the validators), the validators to
    keep, and the address it finally came from (after redirects)."""

    data: bytes | None
    validators: Validators
    url: str
    content_type: str = ""

    @property
    def unchanged(self) -> bool:
        return self.data is None


@dataclass(frozen=True)
class Request:
    name: str
    url: str
    validators: Validators = Validators()


def user_agent(site: str) -> str:
    try:
        mine = version("digest")
    except PackageNotFoundError:  # running from a checkout that was never installed
        mine = "dev"
    return f"digest/{mine} (newsletter digest; +{site})"


def _is_web(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def read_local(path: str, max_bytes: int) -> Fetched:
    """A source that is a file: read whole, under the same cap (a FIFO or a device, which
    has no size and may never end, is refused unopened)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise FetchError("not a regular file")
        size = info.st_size
        if size > max_bytes:
            raise FetchError(f"too large ({size:,} bytes; the cap is {max_bytes:,})")
        return Fetched(Path(path).read_bytes(), Validators(), path)
    except OSError as exc:
        raise FetchError(exc.strerror or type(exc).__name__) from None


async def fetch_one(client: httpx.AsyncClient, req: Request, max_bytes: int) -> Fetched:
    """One source: FetchError with the reason when it cannot be had."""
    import httpx

    if not _is_web(req.url):
        return await asyncio.to_thread(read_local, req.url, max_bytes)
    headers = {}
    if req.validators.etag:
        headers["If-None-Match"] = req.validators.etag
    if req.validators.last_modified:
        headers["If-Modified-Since"] = req.validators.last_modified
    try:
        async with client.stream("GET", req.url, headers=headers) as answer:
            final = str(answer.url)
            if answer.status_code == 304:
                return Fetched(None, req.validators, final)
            if answer.status_code >= 400:
                raise FetchError(f"HTTP {answer.status_code} {answer.reason_phrase}".strip())
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"too large ({int(declared):,} bytes; the cap is {max_bytes:,})")
            chunks: list[bytes] = []
            size = 0
            async for chunk in answer.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"too large (over the cap of {max_bytes:,} bytes)")
                chunks.append(chunk)
            kept = Validators(answer.headers.get("etag"), answer.headers.get("last-modified"))
            content_type = answer.headers.get("content-type", "")
            return Fetched(b"".join(chunks), kept, final, content_type)
    except httpx.TooManyRedirects:
        raise FetchError(f"more than {MAX_REDIRECTS} redirects") from None
    except httpx.TimeoutException:
        raise FetchError("timed out") from None
    except httpx.ConnectError:
        raise FetchError("cannot connect") from None
    except httpx.InvalidURL as exc:
        raise FetchError(f"not a valid address: {exc}") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}".rstrip(": ")[:200]) from None


async def fetch_all(
    requests: Sequence[Request],
    site: str,
    max_bytes: int = MAX_BYTES,
    timeout: float = TIMEOUT,
    at_once: int = AT_ONCE,
) -> list[Fetched | FetchError]:
    """Every source once, `at_once` at a time; each answer or its reason, in order."""
    import httpx

    limit = asyncio.Semaphore(at_once)
    async with httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent(site), "Accept-Encoding": "gzip, deflate"},
    ) as client:

        async def one(req: Request) -> Fetched | FetchError:
            async with limit:
                try:
                    # A whole answer within a few timeouts: one that drips a byte just
                    # under the timeout would hold the run for ever.
                    return await asyncio.wait_for(
                        fetch_one(client, req, max_bytes), timeout * DEADLINE_TIMEOUTS
                    )
                except TimeoutError:
                    return FetchError(f"took over {timeout * DEADLINE_TIMEOUTS:g} s in all")
                except FetchError as exc:
                    return exc

        return list(await asyncio.gather(*(one(r) for r in requests)))


__all__ = [
    "AT_ONCE",
    "MAX_BYTES",
    "TIMEOUT",
    "Fetched",
    "Request",
    "Validators",
    "fetch_all",
    "fetch_one",
    "read_local",
    "user_agent",
]
