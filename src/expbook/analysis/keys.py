"""How a key such as ``test_mse``, ``config.model.lr`` or ``framework`` is read from a run.

Every analysis (filters, derived metrics, leaderboards, pivots, winners) resolves keys the
same way, through :func:`getter`:

* ``config.PATH`` reads the config: ``PATH`` is dotted into nested mappings (a literal key
  containing dots is tried first; a digit indexes a list: ``config.layers.0``).
* ``summary.KEY`` reads the summary (explicit values over last logged values).
* ``run.FIELD`` and the bare run fields ``id name project status tags created_at
  finished_at`` read the run itself (a config key with one of these names needs ``config.``).
* Any other bare key is looked up in two places. Where a metric is expected (``--metric``,
  ``--value``, bare names in ``--filter`` and ``--derive``) the summary comes first, then the
  config; where a parameter is expected (``--rows``, ``--cols``, ``--by``, param columns) the
  config comes first, then the summary. So ``framework`` finds ``config.framework`` and
  ``test_mse`` finds the summary value.
* Anything not found is ``None`` (null).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .._read import flatten
from ..expr import Binary, CompiledExpr, ExprError, Name, Node, iter_nodes
from .view import RunView

__all__ = [
    "RUN_FIELDS",
    "check_names",
    "config_get",
    "getter",
    "known_keys",
    "require_keys",
    "suggest",
]

RUN_FIELDS = frozenset({"id", "name", "project", "status", "tags", "created_at", "finished_at"})

_MISSING: Any = object()

Getter = Callable[[RunView], Any]


def config_get(config: Any, path: str) -> Any:
    """``path`` (dotted) in a nested config, or None."""
    v = _config_get(config, path)
    return None if v is _MISSING else v


def _config_get(cfg: Any, path: str) -> Any:
    if type(cfg) is dict or isinstance(cfg, Mapping):
        v = cfg.get(path, _MISSING)
        if v is not _MISSING:
            return v
    elif isinstance(cfg, (list, tuple)):
        if path.isdigit():
            i = int(path)
            return cfg[i] if i < len(cfg) else _MISSING
    else:
        return _MISSING
    i = path.find(".")
    while i != -1:
        head = path[:i]
        if type(cfg) is dict or isinstance(cfg, Mapping):
            sub = cfg.get(head, _MISSING)
        elif head.isdigit() and int(head) < len(cfg):
            sub = cfg[int(head)]
        else:
            sub = _MISSING
        if sub is not _MISSING:
            r = _config_get(sub, path[i + 1 :])
            if r is not _MISSING:
                return r
        i = path.find(".", i + 1)
    return _MISSING


def getter(key: str, prefer: str = "metric") -> Getter:
    """A function ``run -> value`` for ``key`` (see the module docstring for the rules).

    ``prefer`` is ``"metric"`` (summary before config) or ``"param"`` (config before summary).
    """
    if prefer not in ("metric", "param"):
        raise ValueError(f"prefer must be 'metric' or 'param', not {prefer!r}")
    if key.startswith("config.") and len(key) > 7:
        path = key[7:]
        return lambda run: config_get(run.config, path)
    if key.startswith("summary.") and len(key) > 8:
        skey = key[8:]
        return lambda run: run.summary.get(skey)
    if key.startswith("run.") and key[4:] in RUN_FIELDS:
        field = key[4:]
        return lambda run: getattr(run, field, None)
    if key in RUN_FIELDS:
        return lambda run: getattr(run, key, None)

    if prefer == "metric":

        def metric_first(run: RunView) -> Any:
            v = run.summary.get(key, _MISSING)
            if v is not _MISSING:
                return v
            return config_get(run.config, key)

        return metric_first

    def param_first(run: RunView) -> Any:
        v = _config_get(run.config, key)
        if v is not _MISSING:
            return v
        return run.summary.get(key)

    return param_first


def known_keys(runs: Sequence[RunView], limit: int = 200) -> set[str]:
    """Keys present in the first ``limit`` runs (summary, metrics, config bare and dotted)."""
    out: set[str] = set(RUN_FIELDS)
    for run in runs[:limit]:
        out.update(run.summary)
        out.update(run.metrics)
        for k in flatten(run.config):
            out.add(k)
            out.add("config." + k)
    return out


def suggest(key: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    import difflib

    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _has_key(runs: Sequence[RunView], key: str, prefer: str) -> bool:
    get = getter(key, prefer)
    return any(get(r) is not None or key in r.metrics for r in runs)


def require_keys(
    runs: Sequence[RunView],
    keys: Iterable[str],
    what: str = "key",
    prefer: str = "metric",
    extra: Iterable[str] = (),
) -> None:
    """Raise :class:`~expbook.errors.UnknownKey` for the first of ``keys`` that no run of
    ``runs`` has (as a metric, summary value, config value or run field), with the closest
    existing key as a suggestion. ``what`` names the role in the message (``metric``,
    ``param``); ``extra`` are names that exist anyway (derived columns). Nothing is checked
    when ``runs`` is empty."""
    if not runs:
        return
    from ..errors import UnknownKey

    allowed = set(extra)
    for key in keys:
        if key in allowed or _has_key(runs, key, prefer):
            continue
        hint = suggest(key, known_keys(runs) | allowed)
        raise UnknownKey(f"unknown {what} {key!r}: no selected run has it{hint}")


def _slash_path(node: Node) -> str | None:
    if isinstance(node, Name) and not node.quoted:
        return node.name
    if isinstance(node, Binary) and node.op in ("/", "-"):
        left = _slash_path(node.left)
        right = _slash_path(node.right)
        if left is not None and right is not None:
            return f"{left}{node.op}{right}"
    return None


def check_names(
    compiled: CompiledExpr,
    runs: Sequence[RunView],
    extra: Iterable[str] = (),
    keys: Iterable[tuple[str, int]] = (),
) -> None:
    """Raise :class:`ExprError` for names no run has, with a suggestion.

    ``extra`` are names that exist although runs do not show them (derived columns);
    ``keys`` are ``(key, position)`` pairs of key arguments (``best(val_loss)``) to check too.
    Catches the classic ``operator/loss`` (division of two unknown names) and points to the
    backquoted spelling.
    """
    if not runs:
        return
    src = compiled.source
    extra_set = set(extra)
    sample: set[str] | None = None

    def present(name: str) -> bool:
        if name in extra_set:
            return True
        get = getter(name)
        return any(get(r) is not None for r in runs) or any(name in r.metrics for r in runs)

    for node in iter_nodes(compiled.ast):
        if isinstance(node, Binary) and node.op in ("/", "-"):
            path = _slash_path(node)
            if path is not None and not present(_first_name(node)) and present(path):
                raise ExprError(
                    f"'{path}' is a key: write it in backquotes, `{path}` "
                    f"('{node.op}' outside backquotes is arithmetic)",
                    src,
                    node.pos,
                )
    bound = set(compiled.names)  # names read as values (key arguments are not bound)
    to_check = [
        (n.name, n.pos) for n in iter_nodes(compiled.ast) if isinstance(n, Name) and n.name in bound
    ]
    to_check.extend(keys)
    seen: set[str] = set()
    for name, pos in to_check:
        if name in seen:
            continue
        seen.add(name)
        if present(name):
            continue
        if sample is None:
            sample = known_keys(runs) | extra_set
        raise ExprError(f"no run has '{name}'{suggest(name, sample)}", src, pos)


def _first_name(node: Node) -> str:
    while isinstance(node, Binary):
        node = node.left
    return node.name if isinstance(node, Name) else ""
