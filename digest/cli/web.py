"""`digest serve`: the web side under uvicorn."""

from __future__ import annotations

import socket
import sys

import click

from .options import State


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_can_listen(host: str, port: int) -> None:
    """Bind every address uvicorn will bind (as asyncio does, with SO_REUSEADDR), then let go:
    a port in use or an unknown host is one line and exit code 2, before uvicorn logs a
    traceback-like startup failure and exits 3."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in addresses:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        click.echo(f"error: cannot listen on {_where(host, port)}: {reason}", err=True)
        sys.exit(2)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on.",
)
@click.pass_obj
def serve(state: State, host: str, port: int) -> None:
    """Run the web side: archive and feed, unsubscribe and preferences pages, subscribe form,
    and (with editor_password set) the editor's preview and test copies.

    The exit code is 2 when the address cannot be listened on (say, the port is in use).

    \b
    Example:
      DIGEST_EDITOR_PASSWORD=... digest serve --host 0.0.0.0 --port 8000
    """
    # Imported here: the other commands need not load the web stack.
    import uvicorn

    from ..web import create_app

    web_app = create_app(state.config, state.store)
    _check_can_listen(host, port)
    editor = "on" if state.config.editor_password else "off (no editor_password)"
    click.echo(
        f"serving {state.config.name} on http://{_where(host, port)}/ (editor pages {editor})"
    )
    try:
        uvicorn.run(web_app, host=host, port=port, proxy_headers=True)
    except SystemExit as exc:
        # Uvicorn's startup failure (3): the port was taken between the check and the bind,
        # or the app failed to start; uvicorn has logged why.
        if exc.code not in (None, 0):
            click.echo(f"error: the web server did not start on {_where(host, port)}", err=True)
            sys.exit(2)
        raise
