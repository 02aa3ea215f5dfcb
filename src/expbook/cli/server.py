"""``expbook server``: the team server, and ``expbook server token`` to manage its tokens."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click

from .._output import FORMATS, emit, to_json
from ..errors import ExpbookError
from ._common import CONTEXT

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

DB_OPTION = click.option(
    "--db",
    "db",
    metavar="URL",
    envvar="EXPBOOK_DB",
    help="The store to serve: postgresql://... or a SQLite store's folder or .db file "
    "(default: the local store, as `expbook ui` finds it).",
)


def _needs_extra(e: ImportError) -> ExpbookError:
    return ExpbookError(
        f"expbook server needs the server extra ({e.name} is missing): "
        "pip install 'expbook[server]'"
    )


def _open(db: str | None) -> Any:
    from ..server.app import open_store

    return open_store(db)


@click.group("server", context_settings=CONTEXT, invoke_without_command=True)
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on (an error if another program holds it).",
)
@click.pass_context
def server_cmd(ctx: click.Context, db: str | None, host: str, port: int) -> None:
    """Serve a store to a team: the dashboard, the read API (`--store http://...` on every
    read command) and the write API clients sync to, behind per-project tokens.

    Without tokens the server binds loopback only; create one first to serve other
    machines (the dashboard then asks for a token).

    \b
    Example:
      expbook server token create --project vision --scope write --name cluster
      expbook server --db postgresql://lab@db/expbook --host 0.0.0.0 --port 8080
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        import uvicorn

        from ..server.app import create_server
    except ImportError as e:
        raise _needs_extra(e) from None
    from ..web.server import check_port

    backend = _open(db)
    try:
        active = [t for t in backend.tokens() if t["revoked_at"] is None]
    finally:
        backend.close()
    local = host in LOCAL_HOSTS
    if not active and not local:
        raise ExpbookError(
            f"no tokens: the server would serve every run to anyone who reaches {host}; "
            "create one first (expbook server token create --project P --scope read) or "
            "bind 127.0.0.1"
        )
    allowed = ["127.0.0.1", "localhost"] if host in ("127.0.0.1", "localhost") else None
    app = create_server(db, require_token=not local, allowed_hosts=allowed)
    check_port(host, port)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"expbook server on {app.state.location}")
    click.echo(f"  http://{shown}:{port}/  (API: http://{shown}:{port}/api/openapi.json)")
    if active:
        click.echo(f"  {len(active)} active token(s): every request needs one")
    else:
        click.echo(f"  no tokens: bound to {host}, only this machine can connect")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@server_cmd.group("token", context_settings=CONTEXT)
def token_cmd() -> None:
    """Create, list and revoke the server's access tokens (stored hashed).

    \b
    Example:
      expbook server token create --project vision --scope read --name alice
      expbook server token list
      expbook server token revoke tok_1a2b3c4d
    """


@token_cmd.command("create", context_settings=CONTEXT)
@click.option("--project", "-p", required=True, help="The project it gives access to (* for all).")
@click.option(
    "--scope",
    type=click.Choice(["read", "write", "admin"]),
    required=True,
    help="read: see runs; write: also log and sync runs; admin: everything.",
)
@click.option("--name", default=None, help="A label (who or what uses it).")
@DB_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
def token_create(project: str, scope: str, name: str | None, db: str | None, fmt: str) -> None:
    """Create a token and print its secret (shown this once: only a hash is kept).

    \b
    Example:
      expbook server token create --project vision --scope write --name cluster
    """
    from ..server._auth import create_token

    backend = _open(db)
    try:
        info, secret = create_token(backend, project=project, scope=scope, name=name)
    finally:
        backend.close()
    if fmt == "json":
        click.echo(to_json({**info, "token": secret}))
        return
    click.echo(secret)
    click.echo(
        f"token {info['id']}: scope {scope} on project {info['project']!r}. Keep the secret: "
        "it is not shown again (clients read it from $EXPBOOK_TOKEN).",
        err=True,
    )


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="seconds")


@token_cmd.command("list", context_settings=CONTEXT)
@DB_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
def token_list(db: str | None, fmt: str) -> None:
    """List the tokens (never their secrets): id, project, scope, name, when created, last
    used and revoked.

    \b
    Example:
      expbook server token list --format json
    """
    backend = _open(db)
    try:
        tokens = backend.tokens()
    finally:
        backend.close()
    columns = ["id", "project", "scope", "name", "created_at", "last_used_at", "revoked_at"]
    rows = [
        [t["id"], t["project"], t["scope"], t["name"]] + [_iso(t[c]) for c in columns[4:]]
        for t in tokens
    ]
    emit(
        fmt,
        columns=columns,
        rows=rows,
        json_obj=[{c: v for c, v in zip(columns, r)} for r in rows],
        empty="no tokens (expbook server token create --project P --scope read)",
    )


@token_cmd.command("revoke", context_settings=CONTEXT)
@click.argument("token_id")
@DB_OPTION
def token_revoke(token_id: str, db: str | None) -> None:
    """Revoke a token: requests with it are refused from now on.

    \b
    Example:
      expbook server token revoke tok_1a2b3c4d
    """
    backend = _open(db)
    try:
        found = backend.revoke_token(token_id)
    finally:
        backend.close()
    if not found:
        raise ExpbookError(f"no token {token_id!r} (expbook server token list shows them)")
    click.echo(f"revoked {token_id}")
