"""Find the runs in the paths given to ``expbook import`` and read them.

Usage (what the import driver does)::

    units = walk.plan(paths, from_format=opts.from_format, opts=opts)  # no parsing
    for unit in units:
        runs, failures = walk.read(unit, opts)                         # never raises
    # or: runs, failures = walk.read_all(units, opts)

``opts`` in :func:`plan` only matters for ``--pattern`` (loose text files become logs).

:func:`read` reads one unit and returns ``(runs, failures)``; it never raises for bad input:
unreadable files, parse errors and even parser bugs become :class:`Failure` records with a
one-line reason. :func:`plan` raises only :class:`registry.UnknownFormat` for a bad ``--from``;
a missing path becomes a unit whose ``error`` :func:`read` reports as a failure.

Grouping rules for folders (walked recursively; hidden folders, ``__pycache__``,
``node_modules``, ``site-packages`` and ``.expbook`` are skipped; symlinked folders are not
followed):

1. a folder that a format module claims (``claim_dir``: an MLflow ``mlruns/`` store, a
   TensorBoard logdir, ``wandb/offline-run-*``, a Lightning ``version_N`` folder, a Hugging
   Face checkpoint folder...) is one unit of that format; nothing below it is visited;
2. a folder holding run-folder markers (see :mod:`folder`) is one ``folder`` unit, named after
   the folder, which merges its files, and the sub-folders it reads itself
   (:func:`folder.absorbed_subdirs`: dvclive's ``plots/``, one folder of event files) are not
   visited. If some of its other sub-folders are runs themselves, or if its only markers are
   config files and runs were found below it, it is a container instead: its loose files are
   handled as in rule 3 and every sub-folder is visited. A folder with event files of its own
   that TensorBoard would claim is a ``folder`` unit instead when it also holds markers and a
   metric or summary file (:func:`folder.takes_events`: an ultralytics run folder);
3. any other file is offered to every format's ``sniff_file`` and becomes one unit of the
   best-scoring format if it scores at least :data:`WALK_MIN_SCORE` (so a folder of ``<run>.log``
   files gives one run per log, named after the log's stem; an MLflow ``*.db`` is claimed by
   the mlflow module); files nobody wants are ignored;
4. a file given directly is one unit of the best-scoring format (any score above 0), or of
   ``--from``; if nothing wants it, of the format its extension suggests (so that the
   parser can say what is wrong: "empty CSV file", "binary data..."); failing that,
   :func:`read` reports "not a recognised run file".

With ``--from NAME`` only that format is used: folders it claims, files it sniffs at
:data:`FORCED_MIN_SCORE` or more (for ``--from folder``: run folders); a file given directly
is read with it whatever it sniffs. With ``--pattern`` and no ``--from``, loose ``.log``/
``.txt``/``.out`` files are read as text logs.

``Unit.group`` is the unit's parent folder relative to the walked root (None directly under
it); :func:`read` copies it to ``ImportedRun.group`` when the parser left that empty.

Run tables (a CSV with one row per run, see :mod:`tabular`) found by :func:`plan` are not
runs of their own when the same plan holds the runs they describe. At plan time each row is
matched to the unit whose predicted run name (:func:`predicted_name`: the folder's name, the
file's stem) equals the row's name or ends with ``_<row name>`` (or the reverse; seed002: row
``screen_ngt_default`` -> log ``w3_25m_screen_ngt_default.log``); the table's path goes into
that unit's ``attach``. :func:`read` then adds the row's values to the summary of the run of the
same name (the run's own values win) and the table to its source files. Rows that match no
unit (or match several) stay in the table's own unit (``rows``) and are imported as
summary-only runs; a table none of whose rows match is imported whole, one run per row.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from . import common, configs, folder, registry, tabular
from .model import ImportedRun, ParseError
from .registry import FormatInfo, ParseOptions

WALK_MIN_SCORE = 50
FORCED_MIN_SCORE = 30
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", ".expbook", ".git"})
PATTERN_EXTS = frozenset({".log", ".txt", ".out", ".err"})
# a file given directly that no format sniffs is read by the format of its extension
EXT_FORMATS = {
    ".log": "textlog",
    ".txt": "textlog",
    ".out": "textlog",
    ".err": "textlog",
    ".csv": "tabular",
    ".tsv": "tabular",
    ".jsonl": "tabular",
    ".ndjson": "tabular",
    ".json": "tabular",
    ".yaml": "configs",
    ".yml": "configs",
}


@dataclass(frozen=True)
class Unit:
    """One thing to read: a file or a folder, and the format module that reads it."""

    format: str  # FORMAT name ("" when error is set)
    path: str  # absolute path
    module: str = ""  # module import name in expbook.importers
    group: str | None = None
    error: str | None = None
    attach: tuple[str, ...] = ()  # run tables whose matching rows go into this unit's runs
    rows: tuple[str, ...] | None = None  # run-table unit: import only these rows


@dataclass(frozen=True)
class Failure:
    """A path that could not be imported, with a one-line reason."""

    path: str
    reason: str


# ---------------------------------------------------------------------------------------------
# planning


def _unit(info: FormatInfo, path: str, group: str | None = None) -> Unit:
    return Unit(format=info.name, path=path, module=info.module_name, group=group)


def _best_sniff(path: str, infos: list[FormatInfo]) -> tuple[int, FormatInfo | None]:
    head = common.read_head(path)
    best = 0
    best_info = None
    for info in infos:
        if not info.can_sniff:
            continue
        try:
            score = int(info.module.sniff_file(path, head))  # type: ignore[union-attr]
        except Exception:
            continue
        if score > best:
            best, best_info = score, info
    return best, best_info


class _Planner:
    def __init__(self, from_format: str | None, opts: Any) -> None:
        self.forced = registry.resolve(from_format) if from_format else None
        self.infos = registry.available()
        self.claimers = [i for i in self.infos if i.can_claim_dir and i.name != folder.FORMAT]
        self.folder_info = next((i for i in self.infos if i.name == folder.FORMAT), None)
        self.pattern = bool(getattr(opts, "pattern", None))
        self.textlog = next((i for i in self.infos if i.module_name == "textlog"), None)
        self.units: list[Unit] = []

    def file_unit(self, path: str, group: str | None, direct: bool) -> Unit | None:
        ext = os.path.splitext(path)[1].lower()
        if self.forced is not None:
            if direct:
                return _unit(self.forced, path, group)
            if ext in common.BINARY_EXTS and self.forced.module_name in ("textlog", "tabular"):
                return None
            if not self.forced.can_sniff:
                return None
            score, _ = _best_sniff(path, [self.forced])
            return _unit(self.forced, path, group) if score >= FORCED_MIN_SCORE else None
        if self.pattern and self.textlog is not None and ext in PATTERN_EXTS:
            head = common.read_head(path, 8192)
            if not common.looks_binary(head):
                return _unit(self.textlog, path, group)
        if not direct and ext in common.BINARY_EXTS:
            return None
        score, info = _best_sniff(path, self.infos)
        if info is None or score <= 0:
            if not direct:
                if ext in REPORT_EXTS and (fb := self.by_ext(ext)) is not None:
                    # a log or metrics table nothing can read (binary, empty, not UTF-8):
                    # its parser says why in the closing table instead of a silent skip
                    return _unit(fb, path, group)
                return None
            # a file given directly: let the format its extension suggests say what is wrong
            by_ext = EXT_FORMATS.get(ext)
            fallback = next((i for i in self.infos if i.module_name == by_ext), None)
            if fallback is not None:
                return _unit(fallback, path, group)
            try:
                empty = os.path.getsize(path) == 0
            except OSError:
                empty = False
            reason = "empty file" if empty else "not a recognised run file (try --from FORMAT)"
            return Unit("", path, group=group, error=reason)
        if not direct and score < WALK_MIN_SCORE:
            return None
        return _unit(info, path, group)

    def by_ext(self, ext: str) -> FormatInfo | None:
        by = EXT_FORMATS.get(ext)
        return next((i for i in self.infos if i.module_name == by), None)

    def claim(self, d: str) -> FormatInfo | None:
        cands = [self.forced] if self.forced is not None else self.claimers
        for info in cands:
            if info is None or not info.can_claim_dir or info.name == folder.FORMAT:
                continue
            try:
                if info.module.claim_dir(d):  # type: ignore[union-attr]
                    return info
            except Exception:
                continue
        return None

    def visit(self, d: str, root: str) -> list[Unit]:
        group = _group(d, root)
        info = self.claim(d)
        if (
            info is not None
            and info.module_name == "tensorboard"
            and self.forced is None
            and self.folder_info is not None
            and folder.takes_events(d)
        ):
            info = None  # a run folder with event files beside its metric files: rule 2
        if info is not None:
            return [_unit(info, d, _group(os.path.dirname(d), root, d))]
        try:
            entries = list(os.scandir(d))
        except OSError as e:
            return [Unit("", d, group=group, error=f"cannot list folder: {e.strerror or e}")]
        files: list[str] = []
        subdirs: list[str] = []
        names: list[str] = []
        for ent in entries:
            names.append(ent.name)
            try:
                if ent.is_dir(follow_symlinks=False):
                    if not ent.name.startswith(".") and ent.name not in SKIP_DIRS:
                        subdirs.append(ent.path)
                elif ent.is_file():
                    files.append(ent.path)
            except OSError:
                continue
        files.sort()
        subdirs.sort()
        want_folders = self.forced is None or self.forced.name == folder.FORMAT
        markers = folder.marker_names(names) if want_folders else []
        if want_folders and not markers:
            markers = folder.bare_config_markers(d, names)
        absorbed: list[str] = []
        if markers and self.folder_info is not None:
            absorbed = folder.absorbed_subdirs(d, [os.path.basename(sd) for sd in subdirs])
        sub_units: list[Unit] = []
        for sd in subdirs:
            if os.path.basename(sd) not in absorbed:
                sub_units.extend(self.visit(sd, root))
        if markers and self.folder_info is not None:
            nested = any(u.error is None and os.path.isdir(u.path) for u in sub_units)
            # a folder whose only markers are config files, above other runs, is a project
            # or sweep root sharing a config, not a run
            config_only = all(
                m.lower() in folder.CONFIG_NAMES or m.lower() in configs.BARE_NAMES for m in markers
            )
            if not nested and not (config_only and sub_units):
                return [_unit(self.folder_info, d, _group(os.path.dirname(d), root, d)), *sub_units]
        for sd in subdirs:  # not a run after all: its sub-folders are visited like any other
            if os.path.basename(sd) in absorbed:
                sub_units.extend(self.visit(sd, root))
        if self.forced is not None and self.forced.name == folder.FORMAT:
            return sub_units
        out = []
        for f in files:
            u = self.file_unit(f, group, direct=False)
            if u is not None:
                out.append(u)
        return out + sub_units


def _group(d: str, root: str, unit_path: str | None = None) -> str | None:
    """The folder ``d`` relative to the walked root, or None when it is the root (or above)."""
    if unit_path is not None and os.path.abspath(unit_path) == os.path.abspath(root):
        return None
    rel = os.path.relpath(d, root)
    if rel == "." or rel.startswith(".."):
        return None
    return rel.replace(os.sep, "/")


# Files with these extensions are reported when nothing can read them during a walk; other
# unreadable files (READMEs, images, pickles) are passed over silently.
REPORT_EXTS = frozenset((".log", ".csv", ".tsv", ".jsonl"))


def plan(paths: Iterable[str], from_format: str | None = None, opts: Any = None) -> list[Unit]:
    """The units (format, path) to read for ``paths``; see the module doc for the rules."""
    planner = _Planner(from_format, opts)
    units: list[Unit] = []
    for p in paths:
        ap = os.path.abspath(os.path.expanduser(os.fspath(p)))
        if os.path.isdir(ap):
            units.extend(planner.visit(ap, ap))
        elif os.path.isfile(ap):
            u = planner.file_unit(ap, None, direct=True)
            if u is not None:
                units.append(u)
        elif os.path.exists(ap):
            units.append(Unit("", ap, error="not a regular file or folder"))
        else:
            units.append(Unit("", ap, error="no such file or folder"))
    seen: set[tuple[str, str]] = set()
    out = []
    for u in units:
        k = (u.module, u.path)
        if k in seen:
            continue
        seen.add(k)
        out.append(u)
    return _plan_run_tables(out)


RUN_TABLE_MAX_BYTES = 20 << 20


def predicted_name(unit: Unit) -> str:
    """The run name a unit will most likely get (used to match run-table rows at plan time)."""
    if unit.module == "folder":
        return folder.run_name(unit.path)
    if os.path.isdir(unit.path):
        return os.path.basename(unit.path)
    return common.run_name_for_file(unit.path)


def _plan_run_tables(units: list[Unit]) -> list[Unit]:
    tables: dict[int, tabular.RunTable] = {}
    for i, u in enumerate(units):
        if u.module != "tabular" or u.error is not None or u.rows is not None:
            continue
        try:
            if os.path.getsize(u.path) > RUN_TABLE_MAX_BYTES:
                continue
            t = tabular.read_table(u.path)
        except (OSError, ParseError):
            continue
        except Exception:
            continue
        if tabular.is_run_table(t):
            tables[i] = tabular.run_table(t)
    if not tables:
        return units
    others = [
        (i, predicted_name(u)) for i, u in enumerate(units) if i not in tables and not u.error
    ]
    by_name: dict[str, list[int]] = {}
    by_suffix: dict[str, list[int]] = {}
    for i, name in others:
        by_name.setdefault(name, []).append(i)
        for sfx in _suffixes(name)[1:]:
            by_suffix.setdefault(sfx, []).append(i)
    attach: dict[int, list[str]] = {}
    keep_rows: dict[int, tuple[str, ...] | None] = {}
    for ti, table in tables.items():
        unmatched = []
        for name, _ in table.rows:
            cands = by_name.get(name) or by_suffix.get(name)
            if not cands:
                cands = [j for sfx in _suffixes(name)[1:] for j in by_name.get(sfx, [])]
            if len(cands) != 1:
                unmatched.append(name)
                continue
            attach.setdefault(cands[0], []).append(units[ti].path)
        if len(unmatched) < len(table.rows):
            keep_rows[ti] = tuple(unmatched)
    out = []
    for i, u in enumerate(units):
        if i in keep_rows:
            rows = keep_rows[i]
            if rows:
                out.append(replace(u, rows=rows))
            continue
        if i in attach:
            u = replace(u, attach=tuple(dict.fromkeys(attach[i])))
        out.append(u)
    return out


# ---------------------------------------------------------------------------------------------
# reading


def _finish(runs: list[ImportedRun], unit: Unit, opts: Any) -> list[ImportedRun]:
    for r in runs:
        if r.group is None and unit.group:
            r.group = unit.group
        common.bound_run(r)
    return common.finish_runs(runs, opts)


_table_cache: dict[str, tuple[tuple[float, int], tabular.RunTable | None]] = {}


def _cached_run_table(path: str) -> tabular.RunTable | None:
    """A run table read once per import, not once per run it describes."""
    st = os.stat(path)
    key = (st.st_mtime, st.st_size)
    hit = _table_cache.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    t = tabular.read_table(path)
    table = tabular.run_table(t) if tabular.is_run_table(t) else None
    if len(_table_cache) > 16:
        _table_cache.clear()
    _table_cache[path] = (key, table)
    return table


def read(unit: Unit, opts: ParseOptions | None = None) -> tuple[list[ImportedRun], list[Failure]]:
    """Parse one unit. Returns (runs, failures); never raises for bad input."""
    if unit.error is not None:
        return [], [Failure(unit.path, unit.error)]
    info = registry.load(unit.module)
    if not info.available:
        return [], [Failure(unit.path, f"format {info.name} is unavailable: {info.error}")]
    try:
        runs = info.module.parse(unit.path, opts if opts is not None else ParseOptions())  # type: ignore[union-attr]
    except ParseError as e:
        return [], [Failure(unit.path, common.one_line(e) or "unreadable")]
    except ImportError as e:
        return [], [Failure(unit.path, f"{info.name} support needs a missing package: {e}")]
    except MemoryError:
        return [], [Failure(unit.path, "out of memory while parsing")]
    except RecursionError:
        return [], [Failure(unit.path, "too deeply nested to parse")]
    except Exception as e:  # a parser bug must not abort the whole import
        return [], [
            Failure(
                unit.path,
                common.one_line(f"internal error in {info.name} parser: {type(e).__name__}: {e}"),
            )
        ]
    runs = list(runs)
    if unit.rows is not None:
        wanted = set(unit.rows)
        runs = [r for r in runs if r.external_id in wanted or r.name in wanted]
    if not runs:
        return [], [Failure(unit.path, "no runs found")]
    failures: list[Failure] = []
    for tpath in unit.attach:
        try:
            table = _cached_run_table(tpath)
            if table is not None:
                attach_table(table, runs)
        except ParseError as e:
            failures.append(Failure(tpath, common.one_line(e)))
        except Exception as e:
            failures.append(Failure(tpath, common.one_line(f"{type(e).__name__}: {e}")))
    return _finish(runs, unit, opts), failures


def read_all(
    units: Iterable[Unit], opts: ParseOptions | None = None
) -> tuple[list[ImportedRun], list[Failure]]:
    """Read every unit (see :func:`read`)."""
    runs: list[ImportedRun] = []
    failures: list[Failure] = []
    for u in units:
        r, f = read(u, opts)
        runs.extend(r)
        failures.extend(f)
    return runs, failures


def _suffixes(name: str) -> list[str]:
    out = [name]
    for i, c in enumerate(name):
        if c in "_-." and i + 1 < len(name):
            out.append(name[i + 1 :])
    return out


def _closest(cands: list[ImportedRun], path: str) -> ImportedRun | None:
    if len(cands) == 1:
        return cands[0]
    scored = sorted(
        (
            (len(os.path.commonpath([os.path.abspath(path), r.source])), i)
            for i, r in enumerate(cands)
        ),
        reverse=True,
    )
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        return None
    return cands[scored[0][1]]


def attach_table(table: tabular.RunTable, runs: list[ImportedRun]) -> tuple[int, list[str]]:
    """Add each row of a run table to the summary of the run it names.

    Returns (rows attached, names of rows that matched no run)."""
    exact: dict[str, list[ImportedRun]] = {}
    by_suffix: dict[str, list[ImportedRun]] = {}
    for r in runs:
        exact.setdefault(r.name, []).append(r)
        for s in _suffixes(r.name)[1:]:
            by_suffix.setdefault(s, []).append(r)
    src = common.source_of(table.path, table.data) if table.data else None
    matched = 0
    unmatched: list[str] = []
    for name, values in table.rows:
        cands = exact.get(name) or by_suffix.get(name)
        if not cands:
            cands = [r for s in _suffixes(name)[1:] for r in exact.get(s, [])]
        run = _closest(cands, table.path) if cands else None
        if run is None:
            unmatched.append(name)
            continue
        for k, v in values.items():
            run.summary.setdefault(k, v)
        if src is not None and all(f.path != src.path for f in run.files):
            run.files.append(src)
        matched += 1
    return matched, unmatched


def import_paths(
    paths: Iterable[str], opts: ParseOptions | None = None
) -> tuple[list[ImportedRun], list[Failure]]:
    """plan + read_all in one call (``--from`` taken from ``opts``)."""
    opts = opts or ParseOptions()
    return read_all(plan(list(paths), opts.from_format, opts), opts)
