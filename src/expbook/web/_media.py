"""The run page's media and artifacts, and the route that serves logged media files.

Only files under the store's ``files_dir/media`` whose names are content addresses
(``media/<sha[:2]>/<sha><ext>``) are served, with a content type chosen from their extension
and headers that keep a browser from running anything in them (``nosniff``, a CSP sandbox).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

MEDIA_PATH = re.compile(r"media/([0-9a-f]{2})/\1[0-9a-f]{62}(\.[a-z0-9]{1,8}){0,2}")

CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
}

TABLE_ROWS = 200  # rows of a logged table shown on the run page
STRIP_STEPS = 500  # steps of an image key the slider moves through (the last ones)


def media_file(files_dir: str, request: Request) -> Response:
    """``GET /files/{path}``: one logged media file, or 404."""
    rel = request.path_params["path"]
    if not MEDIA_PATH.fullmatch(rel):
        raise HTTPException(404, "no such file")
    root = os.path.realpath(os.path.join(files_dir, "media"))
    full = os.path.realpath(os.path.join(files_dir, rel))
    if not full.startswith(root + os.sep) or not os.path.isfile(full):
        raise HTTPException(404, "no such file")
    ext = os.path.splitext(full)[1]
    return FileResponse(
        full,
        media_type=CONTENT_TYPES.get(ext, "application/octet-stream"),
        headers={
            "X-Content-Type-Options": "nosniff",
            # even opened on its own, a logged HTML file runs no script and has no origin
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )


def run_media(backend: Any, files_dir: str, run_id: str) -> list[dict[str, Any]]:
    """The run's media, one entry per key, for run.html."""
    by: dict[str, list[dict[str, Any]]] = {}
    for m in backend.read_media(run_id):
        m["url"] = "/files/" + m["path"]
        by.setdefault(m["key"], []).append(m)
    out = []
    for key, rows in by.items():
        types = {r["type"] for r in rows}
        typ = types.pop() if len(types) == 1 else "mixed"
        steps: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            steps.setdefault(r["step"], []).append(r)
        entry: dict[str, Any] = {"key": key, "type": typ, "count": len(steps)}
        last_step = max(steps)
        entry["last_step"] = last_step
        entry["last"] = steps[last_step]
        if typ in ("image", "video", "audio", "html", "mixed"):
            chosen = sorted(steps)[-STRIP_STEPS:]
            entry["strip"] = [
                {
                    "step": s,
                    "items": [
                        {"url": r["url"], "caption": r["meta"].get("caption", ""), "type": t}
                        for r in steps[s]
                        for t in (r["type"],)
                    ],
                }
                for s in chosen
            ]
        elif typ == "histogram":
            entry["hist"] = [
                {"step": s, "bins": r["meta"].get("bins"), "counts": r["meta"].get("counts")}
                for s in sorted(steps)
                for r in steps[s][:1]
            ]
        elif typ in ("table", "plot"):
            last = steps[last_step][0]
            entry["table"] = _read_table(files_dir, last["path"])
            entry["chart"] = last["meta"].get("chart")
        out.append(entry)
    return out


def _read_table(files_dir: str, rel: str) -> dict[str, Any]:
    if not MEDIA_PATH.fullmatch(rel):
        return {"columns": [], "data": [], "total": 0}
    try:
        with open(os.path.join(files_dir, rel), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {"columns": [], "data": [], "total": 0, "missing": True}
    data = doc.get("data") or []
    return {"columns": doc.get("columns") or [], "data": data[:TABLE_ROWS], "total": len(data)}


def run_artifacts(backend: Any, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """The artifact versions the run logged and those it used."""
    items = backend.list_artifacts(run_id=run_id)
    logged = [a for a in items if a["created_by"] == run_id]
    used = [a for a in items if a["created_by"] != run_id]
    return {"logged": logged, "used": used}
