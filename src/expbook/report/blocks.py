"""Report blocks: the YAML body of a fenced ```` ```expbook ```` block, rendered to Markdown.

A block is a YAML mapping naming one kind, with its fields::

    leaderboard: {metric: val_loss, mode: min, at_step: 15000, derive: {ppl: exp(val_loss)}}

or, equivalently, ``kind: leaderboard`` next to the fields. Fields every kind takes (they may
also sit at the top level, next to the kind): ``title`` (a bold line above the table),
``project``, ``runs`` (names, ids or globs: a list or a comma-separated string), ``filter``
(an expression, as ``--filter``) and ``derive`` (``{name: expr}`` or a list of ``name=expr``).

=============  ==========================================================================
kind           fields (required first)
=============  ==========================================================================
runs           columns, params
leaderboard    metric; mode, at_step, sort, top, params, columns
pivot          rows, value; cols, agg
winners        metric; mode, by, params, metrics
compare        (runs: at least two); cost_per_hour, keys, time_key
eval           files (paths relative to the document); task, true, pred, mask
value          expr (a journal expression, see :mod:`expbook.report.journal`); format
derived        derive; params
plot           metric (a key, or a list overlaid); x (step, wall or a metric), group, band
               (minmax, std), log_y, log_x, smooth, mode, top (PNG, see
               :mod:`expbook.report.plots`)
bar            metric; mode, top, log_x (plot and bar draw the best 50 runs at most)
scatter        files; true, pred (predicted against true values, with y = x)
media          key; step (last, first or a number: see :mod:`expbook.media.report`)
parallel       metric; mode, params (parallel coordinates: see :mod:`expbook.sweeps.report`)
importance     metric; mode, params, method (correlation or optuna)
=============  ==========================================================================

A scalar may stand for the main field: ``leaderboard: val_loss``, ``value: final(a, loss)``.
Any problem (bad YAML, unknown kind or field, missing run or metric) raises
:class:`BlockError` with a one-line message.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ExpbookError
from ..expr import ExprError

__all__ = ["KINDS", "Block", "BlockError", "parse_block", "render_block"]

COMMON = ("title", "project", "runs", "filter", "derive", "id")
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required fields, optional fields)
    "runs": ((), ("columns", "params")),
    "leaderboard": (("metric",), ("mode", "at_step", "sort", "top", "params", "columns")),
    "pivot": (("rows", "value"), ("cols", "agg")),
    "winners": (("metric",), ("mode", "by", "params", "metrics")),
    "compare": ((), ("cost_per_hour", "keys", "time_key")),
    "eval": (("files",), ("task", "true", "pred", "mask")),
    "value": (("expr",), ("format",)),
    "derived": (("derive",), ("params",)),
    "plot": (("metric",), ("log_y", "log_x", "smooth", "mode", "top", "x", "group", "band")),
    "bar": (("metric",), ("mode", "top", "log_x")),
    "scatter": (("files",), ("true", "pred")),
    "media": (("key",), ("step",)),
    "parallel": (("metric",), ("mode", "params")),
    "importance": (("metric",), ("mode", "params", "method")),
}
SHORTHAND = {
    "leaderboard": "metric",
    "winners": "metric",
    "value": "expr",
    "eval": "files",
    "compare": "runs",
    "derived": "derive",
    "plot": "metric",
    "bar": "metric",
    "scatter": "files",
    "media": "key",
    "parallel": "metric",
    "importance": "metric",
}


MAX_BLOCK_BYTES = 64 * 1024  # YAML text of one block
MAX_ALIASES = 100  # YAML aliases (*name) in one block
MAX_NODES = 100_000  # values of one block's YAML once its aliases are expanded
MAX_FILE_BYTES = 256 * 1024 * 1024  # a file a block reads (eval, scatter) or the page embeds


class BlockError(ExpbookError):
    """A block that cannot be rendered: a one-line message shown in its region."""


class Block:
    """A parsed block: its kind and fields."""

    def __init__(self, kind: str, fields: dict[str, Any]):
        self.kind = kind
        self.fields = fields

    @property
    def title(self) -> str | None:
        t = self.fields.get("title")
        return None if t is None else str(t)


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _load_yaml(source: str) -> Any:
    """``source`` as plain YAML data, refusing what would cost more than a block should: a
    text over :data:`MAX_BLOCK_BYTES`, more than :data:`MAX_ALIASES` aliases, or aliases that
    would expand to more than :data:`MAX_NODES` values (a "billion laughs" block)."""
    import yaml

    if len(source.encode("utf-8", "surrogatepass")) > MAX_BLOCK_BYTES:
        raise BlockError(f"a block is at most {MAX_BLOCK_BYTES // 1024} KiB of YAML")

    class Loader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise BlockError(f"a block uses at most {MAX_ALIASES} YAML aliases (*name)")
            return super().compose_node(parent, index)

    loader = Loader(source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_size(root: Any) -> None:
    """Refuse a YAML node graph that expands (aliases followed) to over MAX_NODES values."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()
    # iterative post-order walk over the graph, each node sized once
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            if isinstance(node, yaml.MappingNode):
                kids = [x for pair in node.value for x in pair]
            else:
                kids = list(node.value)
            sizes[key] = 1 + sum(sizes[id(k)] for k in kids)
            if sizes[key] > MAX_NODES:
                raise BlockError(f"a block expands to more than {MAX_NODES} YAML values")
            continue
        if key in sizes:
            continue
        if key in active:
            raise BlockError("a block's YAML refers to itself (a recursive alias)")
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1
            continue
        active.add(key)
        stack.append((node, True))
        kids = (
            [x for pair in node.value for x in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
        )
        for k in kids:
            if id(k) in active:
                raise BlockError("a block's YAML refers to itself (a recursive alias)")
            if id(k) not in sizes:
                stack.append((k, False))


def parse_block(source: str) -> Block:
    """The block in ``source`` (YAML), checked against :data:`KINDS`."""
    import yaml

    try:
        data = _load_yaml(source) if source.strip() else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise BlockError(f"bad YAML{where}: {problem}") from None
    if not isinstance(data, dict) or not data:
        raise BlockError(f"a block is a YAML mapping naming a kind: {', '.join(KINDS)}")
    data = {str(k): v for k, v in data.items()}
    if "kind" in data:
        kind = str(data.pop("kind"))
        fields = data
        if kind not in KINDS:
            raise BlockError(f"unknown block kind {kind!r}{_suggest(kind, list(KINDS))}")
    else:
        kinds = [k for k in data if k in KINDS and k not in COMMON]
        if "runs" in data and not kinds:
            kinds = ["runs"]
        if len(kinds) != 1:
            others = [k for k in data if k not in COMMON]
            if not kinds and others:
                bad = others[0]
                raise BlockError(
                    f"unknown block kind {bad!r}{_suggest(bad, list(KINDS))}; "
                    f"kinds: {', '.join(KINDS)}"
                )
            raise BlockError(f"a block names exactly one kind of: {', '.join(KINDS)}")
        kind = kinds[0]
        body = data.pop(kind)
        fields = dict(data)
        if isinstance(body, dict):
            fields.update({str(k): v for k, v in body.items()})
        elif body is not None:
            main = SHORTHAND.get(kind)
            if main is None:
                raise BlockError(f"{kind}: expected a mapping of fields, not {body!r}")
            fields[main] = body
    required, optional = KINDS[kind]
    allowed = (*required, *optional, *COMMON)
    for f in fields:
        if f not in allowed:
            raise BlockError(
                f"{kind}: unknown field {f!r}{_suggest(f, allowed)}; fields: {', '.join(allowed)}"
            )
    for f in required:
        if fields.get(f) in (None, "", []):
            raise BlockError(f"{kind}: missing field {f!r}")
    return Block(kind, fields)


# ---------------------------------------------------------------------------------------------
# Field helpers


def _list(block: Block, name: str) -> list[str]:
    v = block.fields.get(name)
    if v is None:
        return []
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    raise BlockError(f"{block.kind}: field {name!r} must be a list or a comma-separated string")


def _str(block: Block, name: str, default: str | None = None) -> str | None:
    v = block.fields.get(name, default)
    if v is None:
        return None
    if isinstance(v, (dict, list)):
        raise BlockError(f"{block.kind}: field {name!r} must be a single value")
    return str(v)


def _int(block: Block, name: str) -> int | None:
    v = block.fields.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
        raise BlockError(f"{block.kind}: field {name!r} must be a whole number, not {v!r}")
    return int(v)


def _choice(block: Block, name: str, choices: Sequence[str], default: str) -> str:
    v = _str(block, name, default) or default
    if v not in choices:
        raise BlockError(f"{block.kind}: {name} must be one of {', '.join(choices)}, not {v!r}")
    return v


def _derive(block: Block) -> list[str]:
    v = block.fields.get("derive")
    if v is None:
        return []
    if isinstance(v, dict):
        return [f"{k}={e}" for k, e in v.items()]
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [str(x) for x in v]
    raise BlockError(f"{block.kind}: derive must be a mapping name: expr")


# ---------------------------------------------------------------------------------------------
# Rendering


class Context:
    """What blocks render against: the store's runs (loaded once) and the document folder."""

    def __init__(
        self,
        load: Callable[[], list[Any]],
        base_dir: str = ".",
        doc_stem: str = "report",
        write_files: bool = True,
        allow_dirs: Sequence[str] = (),
    ):
        self._load = load
        self._runs: list[Any] | None = None
        self.base_dir = base_dir
        self.allow_dirs = tuple(allow_dirs)  # folders besides base_dir whose files blocks read
        self.doc_stem = doc_stem
        self.write_files = write_files  # False for --check: plots are not drawn
        self.figures: dict[str, Any] = {}  # block id -> plotly figure, for --html
        self._env: Any = None

    @property
    def runs(self) -> list[Any]:
        if self._runs is None:
            self._runs = list(self._load())
        return self._runs

    @property
    def env(self) -> Any:
        from .journal import JournalEnv

        if self._env is None:
            self._env = JournalEnv(self.runs)
        return self._env


def inside(path: str, folders: Sequence[str]) -> bool:
    """Whether ``path`` (resolved, symbolic links followed) lies in one of ``folders``."""
    real = os.path.realpath(path)
    for folder in folders:
        root = os.path.realpath(folder)
        try:
            if os.path.commonpath([real, root]) == root:
                return True
        except ValueError:  # different drives
            continue
    return False


def safe_file(name: str, base_dir: str, allow_dirs: Sequence[str] = ()) -> str:
    """The path of the file ``name`` (relative to ``base_dir``) when a document may read it:
    inside ``base_dir`` or one of ``allow_dirs``, a regular file, at most
    :data:`MAX_FILE_BYTES`; else :class:`BlockError` (which names the file, never its content).
    """
    import stat

    path = name if os.path.isabs(name) else os.path.join(base_dir, name)
    if not inside(path, (base_dir, *allow_dirs)):
        raise BlockError(
            f"{name}: outside the document's folder (let a report read another folder with "
            "--allow-dir DIR)"
        )
    try:
        st = os.stat(path)
    except OSError as e:
        raise BlockError(f"cannot read {name}: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BlockError(f"{name}: not a regular file")
    if st.st_size > MAX_FILE_BYTES:
        raise BlockError(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    return os.path.realpath(path)


def _select(block: Block, ctx: Context) -> list[Any]:
    from ..analysis import select_runs

    names = _list(block, "runs")
    try:
        chosen = select_runs(
            ctx.runs,
            filter=_str(block, "filter"),
            names=names or None,
            project=_str(block, "project"),
        )
    except ExpbookError as e:
        raise BlockError(str(e)) from None
    if not chosen:
        raise BlockError("no run matches the block's selection")
    return chosen


def _need_metric(block: Block, runs: Sequence[Any], metric: str, derived: list[str]) -> None:
    names = {d.split("=", 1)[0].strip() for d in derived}
    if metric in names:
        return
    for r in runs:
        if metric in r.metrics or metric in r.summary or metric.startswith("config."):
            return
    known = sorted({k for r in runs for k in (*r.metrics, *r.summary)})
    raise BlockError(
        f"{block.kind}: no selected run has metric {metric!r}{_suggest(metric, known)}"
    )


def render_block(block: Block, ctx: Context, bid: str = "block") -> str:
    """The Markdown of ``block`` (raises :class:`BlockError`); ``bid`` names its files."""
    try:
        md = _render(block, ctx, bid)
    except (ExprError, ValueError) as e:
        raise BlockError(f"{block.kind}: {e}") from None
    if block.title and block.kind not in ("plot", "bar", "scatter"):  # plots carry their title
        md = f"**{block.title}**\n\n{md}"
    return md


def _render(block: Block, ctx: Context, bid: str) -> str:
    from .. import analysis as A

    kind = block.kind
    if kind == "value":
        from .journal import JournalEnv, JournalError, compile_journal, format_value

        scoped = any(block.fields.get(f) for f in ("project", "runs", "filter"))
        env = JournalEnv(_select(block, ctx)) if scoped else ctx.env
        try:
            v = compile_journal(str(block.fields["expr"]))(env)
        except JournalError as e:
            raise BlockError(f"value: {e}") from None
        return format_value(v, _str(block, "format"))
    if kind in ("eval", "scatter"):
        try:
            files = [safe_file(f, ctx.base_dir, ctx.allow_dirs) for f in _list(block, "files")]
        except BlockError as e:
            raise BlockError(f"{kind}: {e}") from None
        if kind == "scatter":
            from .plots import render_scatter

            return render_scatter(block, files, ctx, bid)
        try:
            table = A.eval_table(
                files,
                task=_str(block, "task"),
                true_col=_str(block, "true"),
                pred_col=_str(block, "pred"),
                mask=block.fields.get("mask"),
            )
        except (A.EvalError, OSError) as e:
            raise BlockError(f"eval: {e}") from None
        return table.to_markdown()
    runs = _select(block, ctx)
    if kind == "media":
        from ..media.report import render_media

        return render_media(block, runs, ctx, bid)
    if kind in ("parallel", "importance"):
        from ..sweeps.report import render_importance, render_parallel

        fn = render_parallel if kind == "parallel" else render_importance
        return fn(block, runs, ctx, bid)
    derive = _derive(block)
    if kind in ("plot", "bar"):
        from .plots import render_bar, render_plot

        if derive:
            runs = A.apply_derived(runs, derive)
        if kind == "plot":
            from .plots import _keys

            for key in _keys(block):  # a plot may overlay several metrics
                _need_metric(block, runs, key, derive)
            x = block.fields.get("x")
            if isinstance(x, str) and x.strip() not in ("step", "wall", ""):
                _need_metric(block, runs, x.strip(), derive)
            return render_plot(block, runs, ctx, bid)
        _need_metric(block, runs, str(block.fields["metric"]), derive)
        return render_bar(block, runs, ctx, bid)
    if kind == "runs":
        from ..analysis.keys import getter

        params = _list(block, "params")
        cols = _list(block, "columns")
        if derive:
            runs = A.apply_derived(runs, derive)
            cols += [d.split("=", 1)[0].strip() for d in derive]
        pg = [getter(p, "param") for p in params]
        cg = [getter(c, "metric") for c in cols]
        rows = [
            [r.name, r.status, *(g(r) for g in pg), *(g(r) for g in cg)]
            for r in sorted(runs, key=lambda r: r.name)
        ]
        return A.Table(["run", "status", *params, *cols], rows, kind="runs").to_markdown()
    if kind == "leaderboard":
        from .._views import prefetch_values_at

        metric = str(block.fields["metric"])
        _need_metric(block, runs, metric, derive)
        at_step = _int(block, "at_step")
        if at_step is not None:
            try:
                prefetch_values_at(runs, metric, at_step)
            except AttributeError:
                pass
        table = A.leaderboard(
            runs,
            metric,
            mode=_choice(block, "mode", ("min", "max"), "min"),
            at_step=at_step,
            top=_int(block, "top"),
            params=_list(block, "params"),
            columns=_list(block, "columns"),
            sort=_choice(block, "sort", ("best", "last", "at"), "best"),
            derive=derive,
        )
        return _drop(table, ("id", "source"), ("note",)).to_markdown()
    if kind == "pivot":
        value = str(block.fields["value"])
        _need_metric(block, runs, value, derive)
        aggs = tuple(A.AGGS)
        table = A.pivot(
            runs,
            _list(block, "rows"),
            _list(block, "cols"),
            value=value,
            agg=_choice(block, "agg", aggs, "min"),
            derive=derive,
        )
        return table.to_markdown()
    if kind == "winners":
        metric = str(block.fields["metric"])
        _need_metric(block, runs, metric, derive)
        by = _list(block, "by")
        params = _list(block, "params")
        table = A.winners(
            runs,
            metric,
            mode=_choice(block, "mode", ("min", "max"), "min"),
            by=by or None,
            params=params or None,
            metrics=_list(block, "metrics"),
            derive=derive,
        )
        return table.to_markdown()
    if kind == "compare":
        from ..analysis.select import in_named_order

        if len(runs) < 2:
            raise BlockError("compare: name at least two runs (runs: [a, b])")
        cph = block.fields.get("cost_per_hour")
        if cph is not None and (isinstance(cph, bool) or not isinstance(cph, (int, float))):
            raise BlockError(f"compare: cost_per_hour must be a number, not {cph!r}")
        keys = _list(block, "keys")
        # the first run named is the baseline, as in `expbook compare A B`
        runs = in_named_order(runs, _list(block, "runs"))
        return A.compare(
            runs, cost_per_hour=cph, keys=keys or None, time_key=_str(block, "time_key")
        ).to_markdown()
    if kind == "derived":
        from ..analysis.keys import getter

        params = _list(block, "params")
        runs = A.apply_derived(runs, derive)
        names = [d.split("=", 1)[0].strip() for d in derive]
        pg = [getter(p, "param") for p in params]
        rows = [
            [r.name, *(g(r) for g in pg), *(r.summary.get(n) for n in names)]
            for r in sorted(runs, key=lambda r: r.name)
        ]
        return A.Table(["run", *params, *names], rows, kind="derived").to_markdown()
    raise BlockError(f"unknown block kind {kind!r}")  # pragma: no cover - checked by parse


def _drop(table: Any, always: Sequence[str], when_empty: Sequence[str] = ()) -> Any:
    """``table`` without the columns ``always`` and those of ``when_empty`` that hold no value
    (run ids differ between stores, so a report leaves them out)."""
    from ..analysis import Table

    cols = table.columns
    keep = [
        i
        for i, c in enumerate(cols)
        if c not in always and not (c in when_empty and all(r[i] is None for r in table.rows))
    ]
    return Table(
        [cols[i] for i in keep],
        [[r[i] for i in keep] for r in table.rows],
        kind=table.kind,
        title=table.title,
        notes=list(table.notes),
        meta=dict(table.meta),
        labels=dict(table.labels),
        kinds=dict(table.kinds),
    )
