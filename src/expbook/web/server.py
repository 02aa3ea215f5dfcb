"""Running the dashboard: :func:`serve` (what ``expbook ui`` calls)."""

from __future__ import annotations

import os
import threading
import webbrowser
from collections.abc import Callable

from .app import create_app

__all__ = ["LOCAL_HOSTS", "banner", "serve"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def banner(location: str, host: str, port: int) -> list[str]:
    """What ``expbook ui`` prints before serving: the address, and a warning off localhost."""
    shown = f"[{host}]" if ":" in host else host
    lines = [f"expbook dashboard on {location}", f"  http://{shown}:{port}/  (read-only)"]
    if host in LOCAL_HOSTS:
        lines.append(f"  bound to {host}: only this machine can connect")
    else:
        lines.append(
            f"  WARNING: bound to {host}: anyone who can reach this address can read every "
            "run in the store; there is no authentication"
        )
    return lines


def serve(
    store: str | os.PathLike[str] | None,
    host: str = "127.0.0.1",
    port: int = 8080,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the dashboard on ``host:port`` until interrupted."""
    import uvicorn

    # Host-header check against DNS rebinding (starlette cannot parse IPv6 Host headers).
    allowed = ["127.0.0.1", "localhost"] if host in ("127.0.0.1", "localhost") else None
    app = create_app(store, allowed_hosts=allowed)
    location = app.state.ui.location
    for line in banner(location, host, port):
        echo(line)
    if open_browser:
        url = f"http://{'localhost' if host in LOCAL_HOSTS else host}:{port}/"
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
