"""``expbook ui``: the local dashboard."""

from __future__ import annotations

import click

from ..errors import ExpbookError
from ._common import CONTEXT, STORE_OPTION

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


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
@click.option(
    "--allow-edits",
    is_flag=True,
    help="Let the dashboard edit runs' notes and tags and delete runs (loopback only).",
)
def ui_cmd(store: str | None, host: str, port: int, open_browser: bool, allow_edits: bool) -> None:
    """Serve the local dashboard: runs table, run charts, compare view. Read-only unless
    --allow-edits (a run's notes and tags, deleting runs; only on a loopback address).

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
    if allow_edits and host not in LOCAL_HOSTS:
        raise ExpbookError(
            f"--allow-edits serves writes to anyone who reaches {host}: use it on a loopback "
            "address (127.0.0.1, ::1, localhost) only"
        )
    serve(
        store,
        host=host,
        port=port,
        open_browser=open_browser,
        echo=click.echo,
        allow_edits=allow_edits,
    )
