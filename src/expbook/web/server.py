"""Running the dashboard: :func:`serve` (what ``expbook ui`` calls)."""

from __future__ import annotations

import os
import threading
import webbrowser
from collections.abc import Callable

from ..errors import ExpbookError
from .app import create_app

__all__ = ["LOCAL_HOSTS", "banner", "check_port", "serve"]

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


def check_port(host: str, port: int) -> None:
    """Raise :class:`~expbook.errors.ExpbookError` when the dashboard could not listen on
    ``host:port`` (the port is taken, or the address is not this machine's)."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as the server binds
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if os.name != "nt":  # as the server does: a port in TIME_WAIT is free to use
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
                raise ExpbookError(
                    f"port {port} is taken on {host} (another program is listening on it): "
                    "choose another with --port"
                ) from None
            raise ExpbookError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def serve(
    store: str | os.PathLike[str] | None,
    host: str = "127.0.0.1",
    port: int = 8080,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
    allow_edits: bool = False,
) -> None:
    """Serve the dashboard on ``host:port`` until interrupted."""
    import uvicorn

    # Host-header check against DNS rebinding (starlette cannot parse IPv6 Host headers).
    allowed = ["127.0.0.1", "localhost"] if host in ("127.0.0.1", "localhost") else None
    app = create_app(store, allowed_hosts=allowed, allow_edits=allow_edits)
    location = app.state.ui.location
    check_port(host, port)  # before the banner: a taken port is an error, not an address
    for line in banner(location, host, port):
        echo(line)
    if open_browser:
        url = f"http://{'localhost' if host in LOCAL_HOSTS else host}:{port}/"
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
