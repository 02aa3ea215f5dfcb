"""The OpenAPI document of the dashboard's JSON API (served at ``/openapi.json``).

Written by hand: the API is small, and a literal document is easy to read and to review
against the handlers in :mod:`expbook.web.app`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]


def _q(
    name: str, desc: str, typ: str = "string", required: bool = False, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": desc,
        "schema": {"type": typ, **extra},
    }


_INT64: dict[str, Any] = {"format": "int64", "minimum": -(2**63) + 1, "maximum": 2**63 - 1}
# A column of the runs table: a run field, config.KEY or summary.KEY (not ending in "."); in
# the comma-separated `columns`, a key without commas.
_FIELDS = "name|id|project|status|created_at|tags|group"
_COLUMN = rf"({_FIELDS}|(config|summary)\.[\s\S]*[^.])"
_LISTED = rf"\s*(({_FIELDS}|(config|summary)\.[^,]*[^.,\s])\s*)?"  # blank items are skipped


def _path(name: str, desc: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": desc,
        "schema": {"type": "string"},
    }


_ERRORS = {
    "400": {
        "description": "A bad query parameter",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
    "404": {
        "description": "No such run, metric or report",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
}


def _ok(desc: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "200": {"description": desc, "content": {"application/json": {"schema": schema}}},
        **_ERRORS,
    }


_RUN = {
    "type": "object",
    "description": "A run, as `expbook runs --format json` prints it. Non-finite numbers are null.",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "project": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["running", "finished", "failed", "crashed", "killed"],
        },
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        "tags": {"type": "array", "items": {"type": "string"}},
        "group": {"type": "string", "nullable": True},
        "notes": {"type": "string", "nullable": True},
        "config": {"type": "object"},
        "summary": {"type": "object"},
        "source": {"type": "object"},
        "meta": {"type": "object"},
    },
}

_SERIES = {
    "type": "object",
    "properties": {
        "run": {"type": "string"},
        "name": {"type": "string"},
        "key": {"type": "string"},
        "status": {"type": "string"},
        "total": {"type": "integer", "description": "points in the requested step range"},
        "returned": {"type": "integer"},
        "downsampled": {"type": "boolean"},
        "step_min": {"type": "integer", "nullable": True},
        "step_max": {"type": "integer", "nullable": True},
        "first_wall": {
            "type": "number",
            "nullable": True,
            "description": "wall time (Unix s) of the series' first point",
        },
        "last_step": {"type": "integer", "nullable": True},
        "steps": {"type": "array", "items": {"type": "integer"}},
        "walls": {"type": "array", "items": {"type": "number", "nullable": True}},
        "values": {"type": "array", "items": {"type": "number", "nullable": True}},
    },
}


_REPORT = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "derived from the document's absolute path"},
        "path": {"type": "string", "description": "the document's absolute path"},
        "title": {"type": "string", "description": "its first `# ` heading, else file name"},
        "project": {"type": ["string", "null"]},
        "rendered_at": {"type": "number", "description": "Unix time of the rendering"},
        "info": {
            "type": "object",
            "description": "counts: blocks, values, claims, failing (claims), errors",
        },
        "text": {"type": "string", "description": "the rendered Markdown (one report only)"},
        "figures": {
            "type": "object",
            "description": "block id -> plotly figure {data, layout} (one report only)",
        },
    },
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 description of ``/api/*``."""
    from .. import __version__
    from ._sweep import openapi_path as sweep_path

    return {
        "openapi": "3.0.3",
        "info": {
            "title": "expbook dashboard API",
            "version": __version__,
            "description": "Read-only JSON API over one expbook store. No authentication: "
            "the server binds 127.0.0.1 unless told otherwise.",
        },
        "paths": {
            "/api/runs": {
                "get": {
                    "summary": "One page of runs, filtered, searched and sorted",
                    "parameters": [
                        _q("project", "only runs of this project"),
                        _q(
                            "filter",
                            "a filter expression, as `--filter` on the CLI (one that does not "
                            "parse, or names a key no run has, is a 400)",
                        ),
                        _q("q", "case-insensitive search in name, id, tags, group and notes"),
                        _q(
                            "sort",
                            "column to sort by: a run field, config.KEY or summary.KEY",
                            pattern=f"^({_COLUMN})?$",
                        ),
                        _q("order", "sort order", enum=["asc", "desc"], default="desc"),
                        _q(
                            "offset",
                            "rows to skip",
                            "integer",
                            format="int64",
                            minimum=0,
                            maximum=2**63 - 1,
                            default=0,
                        ),
                        _q(
                            "limit",
                            "rows to return",
                            "integer",
                            minimum=1,
                            maximum=1000,
                            default=50,
                        ),
                        _q(
                            "columns",
                            "comma-separated columns for `values` (default: up to "
                            "four varying params and four metrics)",
                            pattern=f"^{_LISTED}(,{_LISTED})*$",
                        ),
                        _q(
                            "group",
                            "group rows by this column (sorted by it first)",
                            pattern=f"^({_COLUMN})?$",
                        ),
                    ],
                    "responses": _ok(
                        "A page of runs",
                        {
                            "type": "object",
                            "properties": {
                                "total": {"type": "integer"},
                                "offset": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "sort": {"type": "string"},
                                "order": {"type": "string"},
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "runs": {
                                    "type": "array",
                                    "items": {
                                        "allOf": [
                                            {"$ref": "#/components/schemas/Run"},
                                            {
                                                "type": "object",
                                                "properties": {
                                                    "values": {"type": "object"},
                                                    "group_value": {},
                                                },
                                            },
                                        ]
                                    },
                                },
                            },
                        },
                    ),
                }
            },
            "/api/columns": {
                "get": {
                    "summary": "The columns the runs table can show, and the projects",
                    "responses": _ok("Columns", {"type": "object"}),
                }
            },
            "/api/runs/{run_id}": {
                "get": {
                    "summary": "One run with a summary of every metric",
                    "parameters": [_path("run_id", "run id, unique id prefix or unique name")],
                    "responses": _ok(
                        "The run",
                        {
                            "allOf": [
                                {"$ref": "#/components/schemas/Run"},
                                {"type": "object", "properties": {"metrics": {"type": "object"}}},
                            ]
                        },
                    ),
                }
            },
            "/api/runs/{run_id}/series/{key}": {
                "get": {
                    "summary": "Points of one metric, downsampled keeping each bucket's min, "
                    "max and last point (first and last point always kept)",
                    "parameters": [
                        _path("run_id", "run id, unique id prefix or unique name"),
                        _path("key", "metric key (may contain `/`)"),
                        _q(
                            "max_points",
                            "most points to return",
                            "integer",
                            minimum=4,
                            maximum=100000,
                            default=2000,
                        ),
                        _q(
                            "step_min",
                            "first step of the range (a range with step_min above step_max "
                            "is empty)",
                            "integer",
                            **_INT64,
                        ),
                        _q("step_max", "last step of the range", "integer", **_INT64),
                        _q(
                            "after_step",
                            "only points after this step (live updates)",
                            "integer",
                            **{**_INT64, "maximum": 2**63 - 2},
                        ),
                    ],
                    "responses": _ok("The series", {"$ref": "#/components/schemas/Series"}),
                }
            },
            "/api/compare": {
                "get": {
                    "summary": "`expbook compare` of the runs: config diff, metrics, time, cost",
                    "parameters": [
                        _q(
                            "ids",
                            "comma-separated run ids, at most 50 (the first is the baseline)",
                            required=True,
                            pattern=r"[^,\s]",
                        )
                    ],
                    "responses": _ok("The comparison", {"type": "object"}),
                }
            },
            "/api/reports": {
                "get": {
                    "summary": "The reports rendered against this store (`expbook report`), "
                    "latest rendering of each document, newest first",
                    "responses": _ok(
                        "The reports, without their text",
                        {
                            "type": "object",
                            "properties": {
                                "reports": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Report"},
                                }
                            },
                        },
                    ),
                }
            },
            "/api/reports/{report_id}": {
                "get": {
                    "summary": "One report: its rendered Markdown and the plotly figures of "
                    "its plot regions",
                    "parameters": [_path("report_id", "report id (from /api/reports)")],
                    "responses": _ok("The report", {"$ref": "#/components/schemas/Report"}),
                }
            },
            "/api/sweep": sweep_path(),
        },
        "components": {
            "schemas": {
                "Run": _RUN,
                "Series": _SERIES,
                "Report": _REPORT,
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                },
            }
        },
    }
