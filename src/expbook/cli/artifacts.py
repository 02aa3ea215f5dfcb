"""``expbook artifacts``: list, show and fetch the artifact versions runs logged (and the
checkpoints and prediction files the importers found, as external artifacts)."""

from __future__ import annotations

import os
from typing import Any

import click

from .._output import emit, to_json
from ._common import CONTEXT, STORE_OPTION, open_backend, store_options


@click.group("artifacts", context_settings=CONTEXT)
def artifacts_cmd() -> None:
    """List, show and fetch versioned artifacts (expbook.Artifact, run.log_artifact,
    expbook.save) and the checkpoints and prediction files imported runs point at.

    \b
    Example:
      expbook artifacts list --type model
      expbook artifacts show weights:latest
      expbook artifacts get weights:v1 --dest ./weights
    """


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _lookup(backend: Any, ref: str, project: str | None) -> dict[str, Any]:
    from ..media.artifacts import find_artifact

    return find_artifact(backend, ref, project)


@artifacts_cmd.command("list", context_settings=CONTEXT)
@click.option("--project", "-p", help="Only artifacts of this project.")
@click.option("--run", "run", metavar="RUN", help="Only artifacts this run logged or used.")
@click.option("--type", "type_", metavar="TYPE", help="Only artifacts of this type.")
@store_options
def list_cmd(
    store: str | None, fmt: str, project: str | None, run: str | None, type_: str | None
) -> None:
    """List artifact versions: name, version, type, aliases, files, size, the run that
    logged it. Imported checkpoints and prediction files are listed as external.

    \b
    Example:
      expbook artifacts list --run mlp-h4-lr3 --format json
    """
    backend = open_backend(store)
    run_id = backend.get_run(run, project).id if run else None
    items = backend.list_artifacts(project=project, run_id=run_id, type=type_)
    for a in items:
        a.pop("files", None)
        a.pop("used_by", None)
    cols = ["name", "version", "type", "aliases", "files", "size", "created by", "project"]
    rows = [
        [
            a["name"],
            a["version"],
            a["type"] + (" (external)" if a["external"] else ""),
            ",".join(a["aliases"]),
            a["files_count"],
            _size(a["size"]) if fmt == "table" else a["size"],
            a["created_by"] or "",
            a["project"],
        ]
        for a in items
    ]
    emit(fmt, columns=cols, rows=rows, json_obj=items, empty="no artifacts")


@artifacts_cmd.command("show", context_settings=CONTEXT)
@click.argument("ref", metavar="NAME[:VERSION]")
@click.option("--project", "-p", help="Look the name up in this project.")
@store_options
def show_cmd(store: str | None, fmt: str, ref: str, project: str | None) -> None:
    """Show one artifact version (the newest unless VERSION is vN or an alias): its
    files, digest, metadata and lineage (the run that logged it, the runs that used it).

    \b
    Example:
      expbook artifacts show weights:v1 --format json
    """
    info = _lookup(open_backend(store), ref, project)
    if fmt == "json":
        click.echo(to_json(info))
        return
    rows = [[f["path"], f["size"], f["sha256"][:12], f.get("source") or ""] for f in info["files"]]
    if fmt == "csv":
        emit(fmt, columns=["path", "size", "sha256", "source"], rows=rows, json_obj=None)
        return
    click.echo(
        f"{info['name']}:{info['version']}  type {info['type']}  project {info['project']}"
        + ("  (external)" if info["external"] else "")
    )
    click.echo(f"aliases: {', '.join(info['aliases']) or '-'}  digest: {info['digest']}")
    if info.get("description"):
        click.echo(f"description: {info['description']}")
    if info.get("metadata"):
        click.echo(f"metadata: {to_json(info['metadata'])}")
    click.echo(f"created by: {info['created_by'] or '-'}")
    click.echo(f"used by: {', '.join(info['used_by']) or '-'}")
    emit("table", columns=["path", "size", "sha256", "source"], rows=rows, json_obj=None)


@artifacts_cmd.command("get", context_settings=CONTEXT)
@click.argument("ref", metavar="NAME[:VERSION]")
@click.option(
    "--dest",
    metavar="DIR",
    help="Copy the files into DIR (default: ./artifacts/NAME-VERSION).",
)
@click.option("--project", "-p", help="Look the name up in this project.")
@STORE_OPTION
def get_cmd(store: str | None, ref: str, dest: str | None, project: str | None) -> None:
    """Copy an artifact version's files out of the store (external artifacts: from where
    the importer found them) and print the folder.

    \b
    Example:
      expbook artifacts get weights:best --dest ./weights
    """
    from ..media.artifacts import download

    backend = open_backend(store)
    info = _lookup(backend, ref, project)
    click.echo(os.path.abspath(download(backend, info, dest)))
