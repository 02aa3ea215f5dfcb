"""Where trials run: :class:`LocalExecutor` (a pool of processes on this machine) and
:class:`RayExecutor` (Ray tasks on an existing cluster). Both take jobs (see
:mod:`expbook.sweeps.trial`) and hand back ``(index, outcome)`` pairs as trials end.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

from ..errors import ExpbookError
from . import trial as T

__all__ = ["LocalExecutor", "RayExecutor", "make_executor"]


class LocalExecutor:
    """Command trials as child processes, function trials in a process pool of ``workers``."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: cf.ProcessPoolExecutor | None = None
        self._futures: dict[cf.Future[dict[str, Any]], dict[str, Any]] = {}
        self._procs: dict[int, tuple[subprocess.Popen[bytes], dict[str, Any], float]] = {}
        self._stops: dict[int, str] = {}
        self._kill_at: dict[int, float] = {}  # a command asked to stop: SIGKILL after this

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing as mp

            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self._pool = cf.ProcessPoolExecutor(
                self.workers, mp_context=mp.get_context(method), initializer=T.worker_init
            )
        return self._pool

    def submit(self, job: dict[str, Any]) -> int | None:
        """Start a trial; returns the pid of a command trial's process."""
        if job.get("command"):
            proc = T.start_command(job)
            self._procs[job["idx"]] = (proc, job, time.monotonic())
            return proc.pid
        fut = self._get_pool().submit(T.run_function, job)
        self._futures[fut] = job
        return None

    @property
    def running(self) -> int:
        return len(self._futures) + len(self._procs)

    def poll(self, timeout: float) -> list[tuple[int, dict[str, Any]]]:
        """Trials that ended, waiting up to ``timeout`` seconds for one."""
        done: list[tuple[int, dict[str, Any]]] = []
        deadline = time.monotonic() + timeout
        while True:
            done += self._poll_procs()
            if self._futures:
                wait = 0.0 if done else max(0.0, deadline - time.monotonic())
                if self._procs:
                    wait = min(wait, 0.05)
                ready, _ = cf.wait(list(self._futures), wait, return_when=cf.FIRST_COMPLETED)
                for fut in ready:
                    job = self._futures.pop(fut)
                    done.append((job["idx"], self._result(fut, job)))
            elif not done and self._procs:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            if done or time.monotonic() >= deadline or not self.running:
                return done

    def _result(self, fut: cf.Future[dict[str, Any]], job: Mapping[str, Any]) -> dict[str, Any]:
        stop = self._stops.pop(job["idx"], None)
        if fut.cancelled():
            return {"status": stop or "stopped", "exit_code": None, "error": None}
        exc = fut.exception()
        if exc is None:
            return fut.result()
        if isinstance(exc, cf.process.BrokenProcessPool):
            self._pool = None  # a worker died (killed, out of memory): a new pool next time
            return {
                "status": stop or "crashed",
                "exit_code": None,
                "error": "the worker process died",
            }
        return {"status": "failed", "exit_code": 1, "error": f"{type(exc).__name__}: {exc}"}

    def _poll_procs(self) -> list[tuple[int, dict[str, Any]]]:
        out = []
        now = time.monotonic()
        for idx, (proc, job, started) in list(self._procs.items()):
            code = proc.poll()
            timeout = job.get("timeout")
            if code is None and timeout and now - started > timeout and idx not in self._stops:
                self._stops[idx] = "timeout"
                self._term(idx, proc)
            if code is None and now >= self._kill_at.get(idx, math.inf):
                _signal_group(proc.pid, signal.SIGKILL)
                self._kill_at[idx] = now + 1.0
            if code is None:
                continue
            del self._procs[idx]
            self._kill_at.pop(idx, None)
            out.append((idx, T.command_outcome(job, code, self._stops.pop(idx, None))))
        return out

    def stop(self, idx: int, kind: str, pid: int | None) -> None:
        """Ask a running trial to stop (``kind``: pruned, stopped); the caller has written the
        request to the store for a function trial, whose worker ``pid`` is signalled."""
        self._stops[idx] = kind
        if idx in self._procs:
            if idx not in self._kill_at:
                self._term(idx, self._procs[idx][0])
            return
        for fut, job in self._futures.items():
            if job["idx"] == idx:
                if fut.cancel():
                    return
                if pid:
                    try:
                        os.kill(pid, T.STOP_SIGNAL)
                    except OSError:
                        pass
                return

    def _term(self, idx: int, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM a command's process group now, SIGKILL it :data:`~.trial.GRACE_S` later
        (in :meth:`poll`: the scheduler does not wait here)."""
        _signal_group(proc.pid, signal.SIGTERM)
        self._kill_at[idx] = time.monotonic() + T.GRACE_S

    def shutdown(self, kill: bool = False) -> None:
        for proc, _, _ in self._procs.values():
            T.terminate(proc, grace=1.0 if kill else T.GRACE_S)
        if self._pool is not None:
            if kill:
                for p in list(getattr(self._pool, "_processes", {}).values()):
                    try:
                        p.kill()
                    except Exception:
                        pass
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Trials as Ray tasks on the cluster at ``address`` (``auto``, ``HOST:PORT`` or
    ``ray://...``), each asking ``resources`` (``num_cpus``, ``num_gpus``)."""

    def __init__(self, address: str | None, resources: Mapping[str, float], cwd: str) -> None:
        try:
            import ray
        except ImportError:
            raise ExpbookError("executor: ray needs Ray: pip install 'expbook[ray]'") from None
        self.ray: Any = ray
        _reachable(address)
        path = os.pathsep.join(p for p in [cwd, *sys.path] if p and os.path.isdir(p))
        env = {"PYTHONPATH": path}
        try:
            ray.init(
                address=address or "auto",
                ignore_reinit_error=True,
                log_to_driver=False,
                logging_level=logging.ERROR,
                runtime_env={"env_vars": env},
            )
        except Exception as e:
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ExpbookError(f"cannot connect to Ray at {address or 'auto'}: {msg}") from None
        self._task = self.ray.remote(
            num_cpus=resources.get("num_cpus", 1), num_gpus=resources.get("num_gpus", 0)
        )(_ray_trial)
        self._refs: dict[Any, dict[str, Any]] = {}
        self._stops: dict[int, str] = {}

    def submit(self, job: dict[str, Any]) -> int | None:
        self._refs[self._task.remote(job)] = job
        return None

    @property
    def running(self) -> int:
        return len(self._refs)

    def poll(self, timeout: float) -> list[tuple[int, dict[str, Any]]]:
        if not self._refs:
            return []
        ready, _ = self.ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if ready:  # everything else already done too, without waiting
            more, _ = self.ray.wait(list(self._refs), num_returns=len(self._refs), timeout=0)
            ready = list(dict.fromkeys([*ready, *more]))
        out = []
        for ref in ready:
            job = self._refs.pop(ref)
            stop = self._stops.pop(job["idx"], None)
            try:
                outcome = self.ray.get(ref)
            except Exception as e:
                if stop:
                    outcome = {"status": stop, "exit_code": None, "error": None}
                else:
                    msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                    outcome = {"status": "crashed", "exit_code": None, "error": msg[:500]}
            out.append((job["idx"], outcome))
        return out

    def stop(self, idx: int, kind: str, pid: int | None) -> None:
        self._stops[idx] = kind
        for ref, job in self._refs.items():
            if job["idx"] == idx and not job.get("command"):
                # a command trial sees the request in the store and ends its process itself
                try:
                    self.ray.cancel(ref, force=True)
                except Exception:
                    pass

    def shutdown(self, kill: bool = False) -> None:
        for ref in list(self._refs):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass
        self._refs.clear()
        try:
            self.ray.shutdown()
        except Exception:
            pass


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reachable(address: str | None, timeout: float = 5.0) -> None:
    """A ``HOST:PORT`` address that nothing answers on is one line now, not Ray's long wait."""
    import socket

    if not address or address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ExpbookError(f"--ray-address: expected HOST:PORT, auto or ray://..., not {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout).close()
    except OSError as e:
        raise ExpbookError(
            f"cannot connect to Ray at {address}: {e.strerror or e} (is `ray start --head` "
            "running there?)"
        ) from None


def _ray_trial(job: dict[str, Any]) -> dict[str, Any]:
    """A trial as a Ray task."""
    if job.get("command"):
        return T.run_command(job)
    try:
        signal.signal(T.STOP_SIGNAL, signal.SIG_IGN)
    except ValueError:
        pass
    return T.run_function(job)


def make_executor(
    kind: str, workers: int, address: str | None, resources: Mapping[str, float], cwd: str
) -> LocalExecutor | RayExecutor:
    if kind == "ray":
        return RayExecutor(address, resources, cwd)
    return LocalExecutor(workers)
