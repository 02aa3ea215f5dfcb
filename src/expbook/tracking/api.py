"""Module-level logging API: ``expbook.init`` and thin wrappers over the current run.

Call-compatible with wandb for the common calls, so ``import expbook as wandb`` works for an
ordinary training script. Keywords that only make sense for wandb's service (``entity``,
``job_type``, ``settings``...) are accepted; the meaningful ones are recorded in the run's
metadata. ``mode="disabled"`` returns a run that writes nothing.
"""

from __future__ import annotations

import atexit
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from ..errors import StoreError, UsageError
from ..store import connect, is_url, resolve_location
from . import state
from .recording import options as recording_options
from .recording import record_error
from .recording import start as start_recording
from .run import Run, config_dict
from .sysinfo import process_info
from .writer import Writer

ENV_PROJECT = "EXPBOOK_PROJECT"
ENV_MODE = "EXPBOOK_MODE"
DEFAULT_PROJECT = "default"
# wandb's modes: every one but "disabled" logs to the local store (expbook is local-first)
MODES = (None, "online", "offline", "disabled", "shared", "dryrun", "run")

_writers: dict[str, Writer] = {}
_exit_status: tuple[str, int] | None = None  # set by the excepthook for the atexit handler
_installed = False
_prev_handlers: dict[int, Any] = {}


def _writer_for(location: str) -> Writer:
    w = _writers.get(location)
    if w is None:
        backend = connect(location)
        try:
            backend.check_writable()
        except StoreError:
            backend.close()
            raise
        w = _writers[location] = Writer(backend)
    return w


def init(
    project: str | None = None,
    name: str | None = None,
    config: Any = None,
    id: str | None = None,
    resume: bool | str | None = None,
    tags: Sequence[str] | None = None,
    group: str | None = None,
    notes: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Run:
    """Start a run (or continue one with ``id`` and ``resume``) and make it current.

    The store is the one ``kwargs['store']`` or ``dir`` names (the rule of ``--store``),
    else ``$EXPBOOK_STORE``'s, else the nearest ``.expbook/`` folder from the working
    directory upwards, else a new ``./.expbook/``. Unknown wandb keywords are accepted and
    recorded.

    ``server=URL`` (else ``$EXPBOOK_SERVER``) also uploads the run to an ``expbook server``
    from a sync thread, with ``token=`` (else ``$EXPBOOK_TOKEN``): ``log()`` is unchanged
    (it writes locally), and a server that is down never blocks or fails training.
    """
    store_arg = kwargs.pop("store", None)
    sync_url = _sync_target(kwargs.pop("server", None))
    token_arg = kwargs.pop("token", None)
    reinit = kwargs.pop("reinit", None)
    strict = bool(kwargs.pop("strict", False))
    join = _sweep_trial() if id is None else None
    if join is not None:
        # a trial started by `expbook sweep`: join the trial's run (see expbook.sweeps)
        cur = state.current()
        if cur is not None and cur.id == join["run"] and not cur.finished:
            if config is not None:
                cur.config.update(config_dict(config))
            return cur
        id, resume, group = join["run"], "allow", group or join["sweep"]
        config = {**join["params"], **config_dict(config)}
        tags = [*(tags or []), "sweep:" + join["sweep"]]
        if join["captured"]:  # the sweep keeps the process's stdout and stderr already
            kwargs.setdefault("capture_console", False)
    recording = recording_options(kwargs)  # console, system metrics, environment, traceback
    settings = kwargs.get("settings")
    mode = (
        kwargs.pop("mode", None)
        or getattr(settings, "mode", None)
        or os.environ.get(ENV_MODE)
        or os.environ.get("WANDB_MODE")
    )
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(m for m in MODES if m)}, not {mode!r}")
    if mode == "disabled" or getattr(settings, "disabled", False) is True:
        return _disabled(config, name, reinit)
    config_arg = config
    include = kwargs.pop("config_include_keys", None)
    exclude = kwargs.pop("config_exclude_keys", None)
    cfg = config_dict(config_arg)
    if include:
        cfg = {k: v for k, v in cfg.items() if k in include}
    if exclude:
        cfg = {k: v for k, v in cfg.items() if k not in exclude}
    if resume not in (None, False, True, "allow", "must", "never", "auto"):
        raise UsageError(f"resume must be 'allow', 'must', 'never' or a bool, not {resume!r}")
    if resume == "must" and not id:
        raise UsageError("resume='must' needs the id of the run to continue")
    project = project or os.environ.get(ENV_PROJECT) or DEFAULT_PROJECT
    # store= and dir= name a store by the same rule as --store and $EXPBOOK_STORE
    location = resolve_location(store_arg if store_arg is not None else dir)
    if sync_url is not None and is_url(location):
        raise UsageError(
            f"server={sync_url}: syncing uploads a local store, not {location} (log locally)"
        )

    with state.lock:
        previous = state.current()
        if previous is not None and not previous.finished:
            if reinit == "return_previous":
                return previous
            if reinit != "create_new":  # True, "finish_previous", the default
                previous.finish()
        writer = _writer_for(location)
        store = writer.store
        meta = process_info()
        if join is not None:
            meta["sweep"] = join["sweep"]
            meta["sweep_trial"] = join["trial"]
        extra = {k: _plain(v) for k, v in kwargs.items() if v is not None and k != "settings"}
        if mode:
            extra["mode"] = mode
        if extra:
            meta["init_kwargs"] = extra
        existing = None
        if id:
            try:
                existing = store.get_run(id)
                if existing.id != id:
                    existing = None  # a prefix or name match is not the run asked for
            except Exception:
                existing = None
        if existing is not None:
            if resume in (None, False, "never"):
                raise UsageError(
                    f"a run with id {id!r} exists already: pass resume='allow' to continue it"
                )
            try:
                run = _resume(existing, writer, cfg, meta, tags, notes, joining=join is not None)
            except sqlite3.Error as e:
                raise StoreError(f"cannot write to store {location}: {e}") from None
        else:
            if resume == "must":
                raise UsageError(f"resume='must' but there is no run with id {id!r}")
            try:
                rec = store.create_run(
                    name=name,
                    project=project,
                    run_id=id,
                    config=cfg,
                    tags=list(tags or []),
                    group=group,
                    notes=notes,
                    meta=meta,
                )
            except sqlite3.Error as e:  # e.g. a database the file system keeps read-only
                raise StoreError(f"cannot write to store {location}: {e}") from None
            run = Run(
                id=rec.id,
                name=rec.name,
                project=rec.project,
                writer=writer,
                config=rec.config,
                tags=rec.tags,
                group=group,
                notes=notes,
            )
        run._strict = strict
        run._git_pending = True
        run._meta = {**(existing.meta if existing is not None else {}), **meta}
        start_recording(run, recording)
        writer.add(run)
        state.add(run)
        _install_handlers()
        if sync_url is not None:
            _start_sync(run, location, sync_url, token_arg)
    return run


def _sync_target(server: Any) -> str | None:
    """The server to sync to: ``server=`` else ``$EXPBOOK_SERVER`` (None: no syncing)."""
    if server is None and not os.environ.get("EXPBOOK_SERVER"):
        return None
    from ..sync.client import server_url

    return server_url(str(server) if server is not None else None)


def _start_sync(run: Run, location: str, url: str, token: Any) -> None:
    """Upload the run to ``url`` from a sync thread, which reads what the writer commits
    (log() is unchanged)."""
    from ..sync import thread
    from ..sync.client import server_token

    run._syncer = thread.start(location, url, server_token(token), run.id, run.name)


def _disabled(config: Any, name: str | None, reinit: Any) -> Any:
    from .disabled import DisabledRun

    with state.lock:
        previous = state.current()
        if previous is not None and not previous.finished and reinit != "create_new":
            previous.finish()
        run = DisabledRun(config, name)
        state.add(run)  # type: ignore[arg-type]
    return run


def _resume(
    rec: Any,
    writer: Writer,
    cfg: dict[str, Any],
    meta: dict[str, Any],
    tags: Sequence[str] | None,
    notes: str | None,
    joining: bool = False,
) -> Run:
    store = writer.store
    sums = store.metric_summaries([rec.id]).get(rec.id, {})
    next_step = max((s.last_step for s in sums.values() if s.last_step is not None), default=-1) + 1
    config = dict(rec.config)
    config.update(cfg)
    all_tags = list(dict.fromkeys([*rec.tags, *(tags or [])]))
    if joining:  # a sweep trial's run, made by the sweep for this process: not a resume
        meta = {**rec.meta, **meta}
    else:
        meta["resumed"] = rec.meta.get("resumed", 0) + 1
    store.update_run(
        rec.id,
        status="running",
        finished_at=None,
        exit_code=None,
        config=config,
        tags=all_tags,
        meta=meta,
        pid=os.getpid(),
        host=meta.get("host"),
        heartbeat_at=__import__("time").time(),
        notes=notes if notes is not None else rec.notes,
    )
    run = Run(
        id=rec.id,
        name=rec.name,
        project=rec.project,
        writer=writer,
        config=config,
        summary=rec.summary,
        step=next_step,
        tags=all_tags,
        group=rec.group,
        notes=notes if notes is not None else rec.notes,
    )
    return run


def _sweep_trial() -> dict[str, Any] | None:
    """The sweep trial this process runs (``EXPBOOK_SWEEP_RUN`` and friends, set by
    ``expbook sweep``), or None."""
    run_id = os.environ.get("EXPBOOK_SWEEP_RUN")
    sweep = os.environ.get("EXPBOOK_SWEEP")
    if not run_id or not sweep:
        return None
    import json

    try:
        params = json.loads(os.environ.get("EXPBOOK_SWEEP_PARAMS") or "{}")
    except ValueError:
        params = {}
    trial = os.environ.get("EXPBOOK_SWEEP_TRIAL", "")
    return {
        "run": run_id,
        "sweep": sweep,
        "trial": int(trial) if trial.isdigit() else None,
        "params": params if isinstance(params, dict) else {},
        "captured": os.environ.get("EXPBOOK_SWEEP_CAPTURED") == "1",
    }


def _plain(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return str(v)


current = state.current


def _require() -> Run:
    run = state.current()
    if run is None:
        raise UsageError("no active run: call expbook.init() before expbook.log()")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """Log metrics to the current run (see :meth:`Run.log`)."""
    run = state.current()
    if run is None:
        raise UsageError("no active run: call expbook.init() before expbook.log()")
    run.log(data, step, commit)


def finish(exit_code: int = 0, quiet: bool | None = None) -> None:
    """Finish the current run (a no-op when there is none)."""
    run = state.current()
    if run is not None:
        run.finish(exit_code)


def define_metric(name: str, step_metric: str | None = None, **kwargs: Any) -> Any:
    """:meth:`Run.define_metric` of the current run."""
    return _require_for("define_metric").define_metric(name, step_metric, **kwargs)


def watch(
    models: Any,
    criterion: Any = None,
    log: str | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> None:
    """:meth:`Run.watch` of the current run."""
    _require_for("watch").watch(models, criterion, log, log_freq, idx, log_graph)


def unwatch(models: Any = None) -> None:
    """:meth:`Run.unwatch` of the current run (a no-op without one)."""
    run = state.current()
    if run is not None:
        run.unwatch(models)


def mark_preempting() -> None:
    """:meth:`Run.mark_preempting` of the current run (a no-op without one)."""
    run = state.current()
    if run is not None:
        run.mark_preempting()


def alert(title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
    """:meth:`Run.alert` of the current run: stored as a run event, shown by ``expbook show``
    and on the run's page."""
    _require_for("alert").alert(title, text, level, wait_duration)


def _require_for(what: str) -> Run:
    run = state.current()
    if run is None:
        raise UsageError(f"no active run: call expbook.init() before expbook.{what}()")
    return run


# -- process exit and signals -------------------------------------------------------------
def _finish_all(status: str, code: int) -> None:
    for run in list(state.live):
        run._finish(status, code)
        state.forget(run)


def _at_exit() -> None:
    status, code = _exit_status or ("finished", 0)
    _finish_all(status, code)


def _exit(code: Any = 0) -> NoReturn:
    """``sys.exit`` once a run has started: remember the exit status for the exit handler
    (a ``SystemExit`` never reaches ``sys.excepthook``)."""
    global _exit_status
    if code is None or code == 0:
        _exit_status = None
    else:
        n = code if isinstance(code, int) and not isinstance(code, bool) else 1
        _exit_status = ("failed", n)
    _prev_exit(code)
    raise SystemExit(code)  # not reached: sys.exit raises


_prev_exit: Any = sys.exit


def _excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
    global _exit_status
    _exit_status = ("killed", 130) if issubclass(exc_type, KeyboardInterrupt) else ("failed", 1)
    for run in list(state.live):
        record_error(run, exc_type, exc, tb)
    _prev_excepthook(exc_type, exc, tb)


_prev_excepthook = sys.excepthook


def _on_signal(signum: int, frame: Any) -> None:
    _finish_all("killed" if signum in (signal.SIGTERM, signal.SIGINT) else "failed", 128 + signum)
    prev = _prev_handlers.get(signum, signal.SIG_DFL)
    if callable(prev):
        prev(signum, frame)
        return
    if prev == signal.SIG_IGN:
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    global _installed, _prev_excepthook
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _prev_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    global _prev_exit
    _prev_exit = sys.exit
    sys.exit = _exit
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM,):
        try:
            prev = signal.getsignal(sig)
            _prev_handlers[sig] = prev
            signal.signal(sig, _on_signal)
        except (ValueError, OSError):  # not allowed here (embedded interpreter...)
            pass


# -- files and artifacts (expbook.media) ----------------------------------------------------
def save(glob_str: Any, base_path: Any = None, policy: str = "live") -> list[str]:
    """Copy files into the current run's files (see :meth:`Run.save`)."""
    return _require().save(glob_str, base_path, policy)


def log_artifact(
    artifact_or_path: Any,
    name: str | None = None,
    type: str | None = None,
    aliases: list[str] | None = None,
) -> Any:
    """Log an artifact version from the current run (see :meth:`Run.log_artifact`)."""
    return _require().log_artifact(artifact_or_path, name, type, aliases)


def use_artifact(artifact_or_name: Any, type: str | None = None) -> Any:
    """Record that the current run uses an artifact (see :meth:`Run.use_artifact`)."""
    return _require().use_artifact(artifact_or_name, type)
