"""``expbook sync``: upload runs of the local store (logged offline, imported, or left
behind by a client that lost the server) to ``expbook server``; ``--status`` says what is
pending without asking the server."""

from __future__ import annotations

from typing import Any

import click

from .._output import FORMATS, emit
from ..errors import ExpbookError, RunNotFound
from ._common import CONTEXT, STORE_OPTION, open_backend


def _pick_runs(store: Any, refs: tuple[str, ...], project: str | None) -> list[Any]:
    if not refs:
        return list(store.list_runs(project))
    out = []
    seen: set[str] = set()
    for ref in refs:
        rec = store.get_run(ref, project=project)
        if rec.id not in seen:
            seen.add(rec.id)
            out.append(rec)
    return out


def _status_rows(store: Any, server: str, runs: list[Any]) -> list[dict[str, Any]]:
    ids = [r.id for r in runs]
    state = store.sync_state(server, ids)
    sums = store.metric_summaries(ids) if ids else {}
    media = store.media_counts(ids) if hasattr(store, "media_counts") else {}
    values = store.values_counts(ids) if hasattr(store, "values_counts") else {}
    rows = []
    for rec in runs:
        local = {k: int(s.count) for k, s in sums.get(rec.id, {}).items()}
        st = state.get(rec.id)
        have = st["counts"] if st else {}
        pending = sum(max(0, n - have.get(k, 0)) for k, n in local.items())
        pending_media = max(0, media.get(rec.id, 0) - (st.get("media", 0) if st else 0))
        pending_values = max(0, values.get(rec.id, 0) - (st.get("values", 0) if st else 0))
        # keys whose points changed here after the server had them (sent again by a sync)
        rewritten = (
            sorted(store.rewrites(server, rec.id)) if st and hasattr(store, "rewrites") else []
        )
        shown = rec.state
        if st is None:
            what = "never synced"
        elif pending:
            what = "points pending"
        elif rewritten:
            what = "points rewritten"
        elif pending_media:
            what = "media pending"
        elif pending_values:
            what = "values pending"
        elif st["updated_at"] != rec.updated_at or st["status"] != rec.status:
            what = "status differs" if st["status"] != rec.status else "fields changed"
        else:
            what = "synced"
        rows.append(
            {
                "id": rec.id,
                "name": rec.name,
                "project": rec.project,
                "status": shown,
                "server_status": st["status"] if st else None,
                "points": sum(local.values()),
                "pending_points": pending,
                "pending_media": pending_media,
                "pending_values": pending_values,
                "rewritten_keys": rewritten,
                "state": what,
                "synced_at": st["synced_at"] if st else None,
                "error": st["error"] if st else None,
            }
        )
    return rows


@click.command("sync", context_settings=CONTEXT)
@click.argument("runs", nargs=-1)
@click.option(
    "--server",
    metavar="URL",
    help="The server (default: $EXPBOOK_SERVER), e.g. http://lab-server:8080.",
)
@click.option("--token", metavar="T", help="Its token (default: $EXPBOOK_TOKEN).")
@click.option("--project", "-p", help="Only runs of this project.")
@STORE_OPTION
@click.option("--status", "status_only", is_flag=True, help="List what is pending; upload nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f for f in FORMATS if f in ("table", "json")]),
    default="table",
    show_default=True,
    help="Output format.",
)
def sync_cmd(
    runs: tuple[str, ...],
    server: str | None,
    token: str | None,
    project: str | None,
    store: str | None,
    status_only: bool,
    fmt: str,
) -> None:
    """Upload runs of the local store to an expbook server: every run (of --project), or
    the RUNs named (id, id prefix or name). Only what the server lacks is sent; a sync
    that stops halfway goes on where it stopped next time. --status lists per run what is
    pending (points, media or values not on the server, a status it does not have, never
    synced),
    from what the server last confirmed.

    \b
    Example:
      expbook sync --server http://lab-server:8080          # token from $EXPBOOK_TOKEN
      expbook sync --status --server http://lab-server:8080
    """
    from ..store import is_url
    from ..sync.client import server_url

    url = server_url(server)
    if url is None:
        raise ExpbookError("name the server: --server URL or $EXPBOOK_SERVER")
    backend = open_backend(store)
    try:
        if is_url(getattr(backend, "location", "")) or not hasattr(backend, "sync_state"):
            raise ExpbookError("expbook sync uploads a local store: --store names a folder")
        try:
            picked = _pick_runs(backend, runs, project)
        except RunNotFound as e:
            raise ExpbookError(str(e)) from None
        if status_only:
            rows = _status_rows(backend, url, picked)
            _print_status(rows, fmt)
            return
        _upload(backend, url, token, picked, fmt)
    finally:
        backend.close()


def _upload(backend: Any, url: str, token: str | None, picked: list[Any], fmt: str) -> None:
    from ..sync.client import Client, Refused, Rejected, Unavailable
    from ..sync.engine import Engine

    rows = []
    failed = 0
    with Client(url, token) as client:
        engine = Engine(backend, client, url)
        for rec in picked:
            try:
                got = engine.sync_run(rec.id)
            except Unavailable as e:
                if _known(backend, url, rec):
                    backend.record_sync(url, rec.id, error=str(e))
                raise ExpbookError(f"{e} (nothing lost: run expbook sync again)") from None
            except Refused as e:
                raise ExpbookError(str(e)) from None
            except Rejected as e:
                failed += 1
                backend.record_sync(url, rec.id, error=str(e))
                rows.append(
                    {
                        "id": rec.id,
                        "name": rec.name,
                        "project": rec.project,
                        "sent_points": 0,
                        "sent_media": 0,
                        "sent_values": 0,
                        "pending_points": None,
                        "status": None,
                        "result": f"refused: {e}",
                    }
                )
                continue
            rows.append(
                {
                    "id": rec.id,
                    "name": rec.name,
                    "project": rec.project,
                    "sent_points": got.sent,
                    "sent_media": got.media,
                    "sent_values": got.values,
                    "pending_points": got.pending,
                    "status": got.status,
                    "result": _result(got),
                }
            )
    cols = ["id", "name", "project", "status", "sent_points", "pending_points", "result"]
    emit(fmt, columns=cols, rows=[[r[c] for c in cols] for r in rows], json_obj=rows)
    if fmt != "json":
        total = sum(r["sent_points"] for r in rows)
        click.echo(f"{len(rows) - failed} run(s) synced to {url}, {total:,} points sent", err=True)
    if failed:
        raise ExpbookError(f"{failed} run(s) could not be synced (see result)")


def _result(got: Any) -> str:
    sent = got.sent or got.media or got.values
    what = "created" if got.created else ("updated" if sent else "synced")
    if got.media_skipped:
        what += f" ({got.media_skipped} media file(s) left out: missing or over 12 MiB)"
    return what


def _known(backend: Any, url: str, rec: Any) -> bool:
    return rec.id in backend.sync_state(url, [rec.id])


def _print_status(rows: list[dict[str, Any]], fmt: str) -> None:
    cols = [
        "id",
        "name",
        "project",
        "status",
        "server_status",
        "pending_points",
        "pending_media",
        "pending_values",
        "state",
    ]
    emit(fmt, columns=cols, rows=[[r[c] for c in cols] for r in rows], json_obj=rows)
    if fmt == "json":
        return
    pending = [r for r in rows if r["state"] != "synced"]
    click.echo(f"{len(pending)} of {len(rows)} run(s) pending", err=True)
