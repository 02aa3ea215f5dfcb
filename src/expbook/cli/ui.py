"""``expbook ui``: the local dashboard."""

from __future__ import annotations

import click

from ..errors import ExpbookError
from ._common import CONTEXT, STORE_OPTION


@click.command("ui", context_settings=CONTEXT)
@STORE_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on (an error if another program holds it).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
def ui_cmd(store: str | None, host: str, port: int, open_browser: bool) -> None:
    """Serve the local dashboard (read-only): runs table, run charts, compare view.

    Needs the ui extra: pip install 'expbook[ui]'.

    \b
    Example:
      expbook ui --store .expbook --port 8081 --open
    """
    try:
        from ..web import serve
    except ImportError as e:
        raise ExpbookError(
            f"expbook ui needs the ui extra ({e.name} is missing): pip install 'expbook[ui]'"
        ) from None
    serve(store, host=host, port=port, open_browser=open_browser, echo=click.echo)
