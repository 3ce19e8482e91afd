"""`digest serve`: the web side under uvicorn."""

from __future__ import annotations

import click

from .options import State


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

    \b
    Example:
      DIGEST_EDITOR_PASSWORD=... digest serve --host 0.0.0.0 --port 8000
    """
    # Imported here: the other commands need not load the web stack.
    import uvicorn

    from ..web import create_app

    web_app = create_app(state.config, state.store)
    editor = "on" if state.config.editor_password else "off (no editor_password)"
    click.echo(f"serving {state.config.name} on http://{host}:{port}/ (editor pages {editor})")
    uvicorn.run(web_app, host=host, port=port, proxy_headers=True)
