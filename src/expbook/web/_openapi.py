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


_NUMS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "number", "nullable": True},
    "description": "numbers to 6 significant digits (steps exactly); null for NaN/inf",
}
_CURVES = [
    _q(
        "keys",
        "comma-separated metric keys (at most 64)",
        required=True,
        pattern=r"[^,\s]",
    ),
    _q(
        "x",
        "the x axis: `step`, `wall` (seconds since the run's first point) or another metric "
        "logged on the same steps (its value at each step, interpolated)",
        default="step",
    ),
]


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
            "description": "JSON API over one expbook store, read-only unless the dashboard "
            "runs with --allow-edits (loopback only; writes carry the pages' edit token). No "
            "authentication: the server binds 127.0.0.1 unless told otherwise.",
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
                            "group rows by this column, or by several (comma-separated): "
                            "sorted by them first; the answer's `groups` aggregate each "
                            "group shown (run count, mean of each numeric column)",
                            pattern=f"^{_LISTED}(,{_LISTED})*$",
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
                                "groups": {
                                    "type": "array",
                                    "description": "when grouping: each group on the page, "
                                    "over all its runs: value, label, n, runs, mean and counts "
                                    "(per numeric column)",
                                    "items": {"type": "object"},
                                },
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
                                                    "group_label": {"type": "string"},
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
                },
                "patch": {
                    "summary": "Edit a run's notes and tags (only with `expbook ui "
                    "--allow-edits`; send the page's edit token in `X-Expbook-Edit`)",
                    "parameters": [_path("run_id", "run id, unique id prefix or unique name")],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "notes": {"type": "string", "nullable": True},
                                        "tags": {"type": "array", "items": {"type": "string"}},
                                    },
                                    "additionalProperties": False,
                                }
                            }
                        },
                    },
                    "responses": _ok(
                        "The run's notes and tags as stored",
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "notes": {"type": "string", "nullable": True},
                                "tags": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    ),
                },
                "delete": {
                    "summary": "Delete a run and everything it logged (only with `expbook ui "
                    "--allow-edits`; send the page's edit token in `X-Expbook-Edit`)",
                    "parameters": [_path("run_id", "run id, unique id prefix or unique name")],
                    "responses": _ok(
                        "How many runs were deleted (1)",
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "deleted": {"type": "integer"},
                            },
                        },
                    ),
                },
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
            "/api/workspace/series": {
                "get": {
                    "summary": "The workspace's curves: each key of each run, downsampled from "
                    "the stored sketches, in one request",
                    "parameters": [
                        _q(
                            "ids",
                            "comma-separated run ids, at most 200",
                            required=True,
                            pattern=r"[^,\s]",
                        ),
                        *_CURVES,
                        _q(
                            "max_points",
                            "at most this many points per curve (extremes kept)",
                            "integer",
                            minimum=4,
                            maximum=5000,
                            default=300,
                        ),
                    ],
                    "responses": _ok(
                        "One curve per (run, key) that has points (and, for a metric x axis, "
                        "points of that metric)",
                        {
                            "type": "object",
                            "properties": {
                                "x": {"type": "string"},
                                "keys": {"type": "array", "items": {"type": "string"}},
                                "max_points": {"type": "integer"},
                                "curves": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "run": {"type": "string"},
                                            "key": {"type": "string"},
                                            "x": _NUMS,
                                            "y": _NUMS,
                                        },
                                    },
                                },
                            },
                        },
                    ),
                }
            },
            "/api/workspace/groups": {
                "get": {
                    "summary": "Grouped curves: the runs the table's query selects, grouped by "
                    "one or more columns; per group and key the mean with min and max",
                    "parameters": [
                        _q("project", "only runs of this project"),
                        _q("filter", "a filter expression, as on /api/runs"),
                        _q("q", "search, as on /api/runs"),
                        _q(
                            "group",
                            "the column(s) to group by, comma-separated (runs that differ "
                            "only in other params, seeds among them, are averaged)",
                            required=True,
                            pattern=f"^{_LISTED}(,{_LISTED})*$",
                        ),
                        *_CURVES,
                        _q(
                            "max_points",
                            "points of each group's curve (evenly spaced x values)",
                            "integer",
                            minimum=4,
                            maximum=5000,
                            default=200,
                        ),
                    ],
                    "responses": _ok(
                        "The groups and their curves",
                        {
                            "type": "object",
                            "properties": {
                                "group": {"type": "array", "items": {"type": "string"}},
                                "x": {"type": "string"},
                                "runs": {"type": "integer"},
                                "truncated": {
                                    "type": "boolean",
                                    "description": "more than 5,000 runs matched: the first "
                                    "5,000 in the table's order were used",
                                },
                                "more_groups": {
                                    "type": "boolean",
                                    "description": "more than 100 groups: the first 100 in the "
                                    "table's order are drawn",
                                },
                                "groups": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "value": {},
                                            "label": {"type": "string"},
                                            "n": {"type": "integer"},
                                            "runs": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                                "curves": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "group": {
                                                "type": "integer",
                                                "description": "index into groups",
                                            },
                                            "key": {"type": "string"},
                                            "n": {
                                                "type": "integer",
                                                "description": "runs of the group with points",
                                            },
                                            "x": _NUMS,
                                            "mean": _NUMS,
                                            "min": _NUMS,
                                            "max": _NUMS,
                                            "std": _NUMS,
                                            "count": {
                                                "type": "array",
                                                "items": {"type": "integer"},
                                                "description": "runs averaged at each x",
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    ),
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
