"""A TCP proxy that delays every byte by a fixed time each way: a network with a round trip of
twice the delay, on loopback, for benchmarks/send.py.

Each chunk read from one side is written to the other `delay` later (in order, without
throttling bandwidth), so a client that waits for each reply pays the round trip on every
command, as it would talking to a relay in another building.

    .venv/bin/python benchmarks/delay_proxy.py --delay-ms 10 --target 127.0.0.1:2525
    # prints "READY <port>" and serves until killed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import cast


class Side(asyncio.Protocol):
    """One end of a proxied connection; what it reads reaches its peer `delay` later."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer: Side | None = None
        self.waiting: list[bytes] = []  # for a peer not connected yet
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = writable = cast(asyncio.Transport, transport)
        for data in self.waiting:
            writable.write(data)
        self.waiting = []
        if self.closed:
            writable.close()

    def data_received(self, data: bytes) -> None:
        if self.peer is not None:
            self.loop.call_later(self.delay, self.peer.send, data)

    def send(self, data: bytes) -> None:
        if self.transport is None:
            self.waiting.append(data)
        elif not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.loop.call_later(self.delay, self.peer.close)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


async def serve(delay: float, host: str, port: int, listen: int = 0) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    connecting: set[asyncio.Task[None]] = set()  # referenced until done, as asyncio asks

    def accepted() -> Side:
        client = Side(delay)
        upstream = Side(delay)
        client.peer, upstream.peer = upstream, client

        async def connect() -> None:
            try:
                await loop.create_connection(lambda: upstream, host, port)
            except OSError:
                client.close()

        task = loop.create_task(connect())
        connecting.add(task)
        task.add_done_callback(connecting.discard)
        return client

    return await loop.create_server(accepted, "127.0.0.1", listen, backlog=1024)


async def main(delay: float, target: str) -> None:
    host, _, port = target.rpartition(":")
    server = await serve(delay, host, int(port))
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay-ms", type=float, required=True, help="delay each way")
    parser.add_argument("--target", required=True, help="host:port to forward to")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # asyncio's own loop does as well at these rates, a little slower
        uvloop = None  # type: ignore[assignment]
    with contextlib.suppress(KeyboardInterrupt):
        coroutine = main(args.delay_ms / 1000, args.target)
        uvloop.run(coroutine) if uvloop else asyncio.run(coroutine)
    sys.exit(0)
