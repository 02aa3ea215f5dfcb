"""Running one trial, wherever it runs (a local worker process, a Ray task).

A trial is a *job*: a plain dict (it crosses process boundaries) with the sweep's name, the
trial's index, attempt, run id and params, the store, and its ``command`` or ``function``.

* A ``command`` trial is a shell command in its own session, with ``EXPBOOK_SWEEP``,
  ``EXPBOOK_STORE`` and the trial's run id in its environment (``expbook.init()`` in the
  script joins the trial's run), its stdout and stderr appended to the run's ``output.log``.
  It dies with the process that started it (Linux's parent-death signal).
* A ``function`` trial (``module:name``) is called with the trial's params as a dict while the
  trial's run is current (``expbook.log`` works; ``expbook.init()`` returns that run). A
  mapping it returns is stored as the run's summary. It is stopped (pruned, timed out, the
  sweep stopped) by an exception raised inside it: :class:`TrialStopped`.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["TrialStopped", "output_path", "run_command", "run_function", "start_command"]

ENV_SWEEP = "EXPBOOK_SWEEP"
ENV_TRIAL = "EXPBOOK_SWEEP_TRIAL"
ENV_RUN = "EXPBOOK_SWEEP_RUN"
ENV_PARAMS = "EXPBOOK_SWEEP_PARAMS"
ENV_CAPTURED = "EXPBOOK_SWEEP_CAPTURED"  # "1": the process's output is kept by the sweep
STOP_SIGNAL = signal.SIGUSR1  # asks a function trial's worker to look for a stop request
GRACE_S = 5.0  # a command asked to stop is killed after this long
# a command with shell syntax keeps its shell; any other is run with `exec`
_SHELL_SYNTAX = re.compile(r"[;&|<>`\n(){}]|\$\(|^\s*(exec|cd|export)\b")


class TrialStopped(BaseException):
    """Raised inside a function trial to stop it: ``kind`` is ``pruned``, ``stopped`` or
    ``timeout``. A BaseException, so that ``except Exception`` in a training loop lets it
    through."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def trial_env(job: Mapping[str, Any]) -> dict[str, str]:
    """The environment variables a trial runs with."""
    env = {
        "EXPBOOK_STORE": job["store"],
        ENV_SWEEP: job["sweep"],
        ENV_TRIAL: str(job["idx"]),
        ENV_RUN: job["run_id"],
        ENV_PARAMS: json.dumps(job["params"], default=str),
        **(job.get("env") or {}),
    }
    if job.get("project"):
        env["EXPBOOK_PROJECT"] = job["project"]
    if job.get("device") is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(job["device"])
    return env


def output_path(job: Mapping[str, Any]) -> str:
    """The run's ``output.log`` (where a command trial's stdout and stderr go)."""
    from ..store import connect

    store = connect(job["store"])
    try:
        folder = store.run_dir(job["run_id"])
    finally:
        store.close()
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, "output.log")


def die_with_parent() -> None:
    """In a child process: be killed when the parent dies (Linux); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _child_setup() -> None:
    die_with_parent()


def start_command(job: Mapping[str, Any]) -> subprocess.Popen[bytes]:
    """Start a command trial (not waiting for it)."""
    env = {**os.environ, **trial_env(job), ENV_CAPTURED: "1"}
    command = job["command"]
    if not _SHELL_SYNTAX.search(command):
        command = "exec " + command  # one program: the shell makes way for it (and the
        # parent-death signal, which a fork would drop, stays with it)
    out = open(output_path(job), "ab")  # noqa: SIM115 - the child holds it; closed below
    try:
        return subprocess.Popen(
            command,
            shell=True,
            cwd=job.get("cwd") or None,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_child_setup,
        )
    finally:
        out.close()


def terminate(proc: subprocess.Popen[bytes], grace: float = GRACE_S) -> None:
    """SIGTERM the command's process group, SIGKILL it after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _stop_request(job: Mapping[str, Any], store: Any) -> str | None:
    rows = store.sweep_trials(job["sweep"], job["idx"])
    return rows[0]["stop"] if rows else None


def run_command(job: Mapping[str, Any], poll: float = 0.5) -> dict[str, Any]:
    """Run a command trial to its end (a Ray task): its timeout, and a stop request in the
    store (pruning, ``expbook sweep stop``) checked every ``poll`` seconds."""
    from ..store import connect

    store = connect(job["store"])
    proc = start_command(job)
    started = time.monotonic()
    timeout = job.get("timeout")
    stop = None
    try:
        while proc.poll() is None:
            try:
                proc.wait(poll)
                break
            except subprocess.TimeoutExpired:
                pass
            if timeout and time.monotonic() - started > timeout:
                stop = "timeout"
            else:
                stop = _stop_request(job, store)
            if stop:
                terminate(proc)
                break
    finally:
        store.close()
    return command_outcome(job, proc.returncode, stop)


def command_outcome(job: Mapping[str, Any], code: int | None, stop: str | None) -> dict[str, Any]:
    if stop:
        return {"status": stop, "exit_code": code, "error": None}
    if code == 0:
        return {"status": "finished", "exit_code": 0, "error": None}
    return {"status": "failed", "exit_code": code, "error": f"exit code {code}"}


# -- function trials ---------------------------------------------------------------------------
_functions: dict[str, Any] = {}
_current: dict[str, Any] | None = None  # the job this process runs now
_store: Any = None
_store_pid = 0


def resolve_function(ref: str) -> Any:
    """The callable ``module:name`` names (cached per process)."""
    fn = _functions.get(ref)
    if fn is None:
        mod_name, _, attr = ref.partition(":")
        try:
            obj: Any = importlib.import_module(mod_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            from .spec import SpecError

            raise SpecError(f"function {ref}: {e}") from None
        if not callable(obj):
            from .spec import SpecError

            raise SpecError(f"function {ref} is not callable")
        fn = _functions[ref] = obj
    return fn


def _worker_store(location: str) -> Any:
    global _store, _store_pid
    if _store is None or _store_pid != os.getpid() or _store.location != location:
        from ..store import connect

        _store = connect(location)
        _store_pid = os.getpid()
    return _store


def _on_stop_signal(signum: int, frame: Any) -> None:
    job = _current
    if job is None:
        return
    try:
        stop = _stop_request(job, _worker_store(job["store"]))
    except Exception:
        return
    if stop:
        raise TrialStopped(stop)


def _on_alarm(signum: int, frame: Any) -> None:
    if _current is not None:
        raise TrialStopped("timeout")


def worker_init() -> None:
    """Initializer of a local pool's worker process."""
    die_with_parent()
    signal.signal(STOP_SIGNAL, _on_stop_signal)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scheduler's to handle


def run_function(job: Mapping[str, Any]) -> dict[str, Any]:
    """Run a function trial in this process; returns its outcome."""
    global _current
    import expbook

    from ..tracking import state

    env = trial_env(job)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    timeout = job.get("timeout")
    timer = False
    run = None
    status, code, error = "finished", 0, None
    try:
        fn = resolve_function(job["function"])
        run = expbook.init(name=job.get("name"), store=job["store"])
        _current = dict(job)
        if timeout:
            try:
                signal.setitimer(signal.ITIMER_REAL, float(timeout))
                timer = True
            except ValueError:  # not the main thread (a Ray task): no timeout here
                pass
        out = fn(dict(job["params"]))
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            timer = False
        _current = None
        if isinstance(out, Mapping) and not run.finished:
            run.summary.update({str(k): v for k, v in out.items()})
    except TrialStopped as e:
        status, code, error = e.kind, 143, None
    except Exception as e:
        status, code = "failed", 1
        error = f"{type(e).__name__}: {e}".splitlines()[0][:500]
        if run is not None:
            run._record_error(type(e), e, e.__traceback__)
    finally:
        _current = None
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if run is not None and not run.finished:
        run_status = {"finished": "finished", "failed": "failed"}.get(status, "killed")
        run._finish(run_status, code)
        state.forget(run)
    return {"status": status, "exit_code": code, "error": error, "pid": os.getpid()}
