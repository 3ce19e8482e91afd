"""The event loop sending runs on: uvloop's where the platform has it (Linux, macOS), else
asyncio's own. uvloop moves the sockets and timers of thousands of SMTP conversations in C."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def name() -> str:
    """Which loop run() uses: "uvloop" when it is installed, unless the environment says
    DIGEST_EVENT_LOOP=asyncio (to compare the two, or to rule uvloop out); else "asyncio"."""
    if os.environ.get("DIGEST_EVENT_LOOP", "").lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:  # Windows, or a platform uvloop does not build on
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main), on the loop name() says."""
    if name() == "asyncio":
        return asyncio.run(main)
    import uvloop

    return uvloop.run(main)


__all__ = ["name", "run"]
