"""The sweep scheduler: one process owns a sweep, starts its trials on an executor, records
them in the store, prunes, retries, regenerates the report, and can be killed and resumed.

Ownership ("nothing runs twice at once"): the ``sweeps`` row names its owner (a token, pid
and host) and a heartbeat the owner refreshes every :data:`HEARTBEAT_S`. A second scheduler
refuses a sweep whose owner is alive (its pid on this host, or a fresh heartbeat from another
host) and takes over one whose owner is gone, atomically (compare-and-set on the owner).

Resume: finished trials are kept; failed, crashed and timed-out ones run again while their
failures are at most ``retries``; trials that were running when their owner died (or were
stopped) are queued again, without counting as a failure. Each attempt is its own run
(``NAME-IDX``, then ``NAME-IDX-a2``...), so a crashed attempt stays visible as crashed and the
report, which reads finished runs only, counts each trial once.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import time
from collections.abc import Callable
from typing import Any

from ..errors import ExpbookError
from ..store.base import _pid_alive, _this_host
from .methods import Study, grid_points, random_point
from .spec import SweepSpec

__all__ = ["SweepBusy", "owner_alive", "run_sweep", "stop_sweep"]

HEARTBEAT_S = 1.0  # how often the owner refreshes its heartbeat (and reads stop requests)
STALE_S = 30.0  # an owner whose heartbeat is older than this is gone
PRUNE_EVERY_S = 0.5  # how often running trials' metrics are read for the pruner
REPORT_EVERY_S = 5.0  # the report is rendered at most this often while trials finish

DONE = ("finished", "pruned")
RETRYABLE = ("failed", "crashed", "timeout")
REQUEUE = ("pending", "stopped", "running")


class SweepBusy(ExpbookError):
    """The sweep is owned by a live process."""


class _Interrupted(BaseException):
    pass


def owner_alive(row: dict[str, Any] | None, now: float | None = None) -> bool:
    """Whether the sweep's owner process is alive (see the module's docstring)."""
    if row is None or row.get("status") != "running" or not row.get("owner"):
        return False
    now = time.time() if now is None else now
    fresh = now - (row.get("heartbeat_at") or 0.0) < STALE_S
    if row.get("host") == _this_host() and row.get("pid"):
        return fresh and _pid_alive(int(row["pid"]))
    return fresh


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def stop_sweep(backend: Any, name: str) -> str:
    """Ask the owner of sweep ``name`` to stop it; returns what happened, in words."""
    row = backend.sweep_get(name)
    if row is None:
        raise ExpbookError(f"no sweep named {name!r}{_known(backend)}")
    if not owner_alive(row):
        if row["status"] == "running":
            backend.sweep_update(name, status="stopped")
        why = "its process is gone" if row["status"] == "running" else row["status"]
        return f"sweep {name} is not running ({why})"
    backend.sweep_update(name, stop=1)
    return (
        f"sweep {name}: stop requested (pid {row['pid']} on {row['host']} stops its running "
        "trials and exits; `expbook sweep SPEC.yaml` resumes it)"
    )


def _known(backend: Any) -> str:
    names = [s["name"] for s in backend.sweep_list()]
    return f"; sweeps: {', '.join(names)}" if names else " (the store has no sweeps)"


class Scheduler:
    def __init__(
        self,
        spec: SweepSpec,
        backend: Any,
        *,
        workers: int | None = None,
        executor: str | None = None,
        ray_address: str | None = None,
        echo: Callable[[str], None] | None = None,
        report_every: float = REPORT_EVERY_S,
    ) -> None:
        self.spec = spec
        self.backend = backend
        self.location = (
            backend.db_path if not backend.db_path.endswith("expbook.db") else backend.location
        )
        self.workers = workers or spec.workers
        self.executor_kind = executor or spec.executor
        self.ray_address = ray_address or spec.ray_address
        self.echo = echo or (lambda s: None)
        self.report_every = report_every
        self.host = _this_host()
        self.token = f"{self.host}:{os.getpid()}:{secrets.token_hex(4)}"
        self.trials: dict[int, dict[str, Any]] = {}
        self.active: set[int] = set()  # the trials of the spec as it is now
        self.dirty: set[int] = set()
        self.running: dict[int, float] = {}  # idx -> start (monotonic)
        self.devices_free = list(spec.devices)
        self.device_of: dict[int, str] = {}
        self.stopping: dict[int, str] = {}
        self.study: Study | None = None
        self.last_report = 0.0
        self.report_due = False
        self.counts = {"started": 0}

    # -- ownership -------------------------------------------------------------------------
    def claim(self) -> None:
        name = self.spec.name
        for _ in range(3):
            row = self.backend.sweep_get(name)
            if owner_alive(row):
                assert row is not None
                age = time.time() - (row.get("heartbeat_at") or 0.0)
                raise SweepBusy(
                    f"sweep {name} is running (pid {row['pid']} on {row['host']}, heartbeat "
                    f"{age:.0f}s ago): `expbook sweep stop {name}` stops it"
                )
            if self.backend.sweep_claim(
                name,
                spec=self.spec.raw,
                owner=self.token,
                pid=os.getpid(),
                host=self.host,
                expect=row["owner"] if row else None,
            ):
                return
        raise SweepBusy(f"sweep {name}: another process took it over just now")

    def beat(self) -> bool:
        """Refresh the heartbeat; False when the sweep is no longer ours or a stop was asked."""
        row = self.backend.sweep_get(self.spec.name)
        if row is None or row["owner"] != self.token:
            raise ExpbookError(f"sweep {self.spec.name}: another process took it over")
        self.backend.sweep_update(self.spec.name, owner=self.token, heartbeat_at=time.time())
        # the runs of running command trials live while their trial does, whether or not the
        # script calls expbook.init (which then keeps its own heartbeat)
        if self.spec.command and hasattr(self.backend, "heartbeat"):
            ids = [self.trials[i]["run_id"] for i in self.running if self.trials[i]["run_id"]]
            if ids:
                self.backend.heartbeat(ids)
        return not row["stop"]

    # -- trials ----------------------------------------------------------------------------
    def load(self) -> None:
        spec = self.spec
        for t in self.backend.sweep_trials(spec.name):
            self.trials[t["idx"]] = t
        for t in self.trials.values():
            if t["status"] == "running":
                self._reap(t)
        # trials of an earlier version of the spec that this one no longer has are left
        # as they are (not run again); self.active holds the others
        if spec.method == "grid":
            have = {_key(t["params"]): t["idx"] for t in self.trials.values()}
            nxt = max(self.trials, default=-1) + 1
            for p in grid_points(spec):
                if _key(p) in have:
                    self.active.add(have[_key(p)])
                else:
                    self.active.add(self._add(nxt, p)["idx"])
                    nxt += 1
        elif spec.method == "random":
            for i in range(spec.total):
                if i not in self.trials:
                    self._add(i, random_point(spec, i))
                self.active.add(i)
        else:
            self.active.update(self.trials)
        if spec.method == "optuna" or spec.prune:
            self.study = Study(spec)
            for t in self.trials.values():
                if t["status"] in (*DONE, *RETRYABLE) and t["run_id"]:
                    self.study.restore(t["params"], t["value"], t["status"], self._inter(t))
        self.flush()

    def _inter(self, t: dict[str, Any]) -> dict[int, float]:
        if not self.spec.metric or not t.get("run_id"):
            return {}
        try:
            s = self.backend.read_series_lists(t["run_id"], [self.spec.metric])
        except Exception:
            return {}
        got = s.get(self.spec.metric)
        if got is None:
            return {}
        return {int(a): float(b) for a, b in zip(got.steps, got.values) if b == b}

    def _reap(self, t: dict[str, Any]) -> None:
        """A trial left running by a scheduler that is gone: make sure its process is gone
        too, mark its run crashed, queue it again."""
        pid = t.get("pid")
        if pid and t.get("host") == self.host and _pid_alive(pid):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except OSError:
                    try:
                        os.kill(pid, sig)
                    except OSError:
                        pass
                for _ in range(50):
                    if not _pid_alive(pid):
                        break
                    time.sleep(0.05)
        self.dirty.add(t["idx"])
        run_id = t.get("run_id")
        if run_id and self._run_status(run_id) == "finished":
            # it ended well after its scheduler died: kept, as any finished trial
            t.update(status="finished", finished_at=time.time(), value=self._value(run_id))
            return
        self._close_run(run_id, "crashed", None)
        t.update(status="pending", pid=None, error="interrupted: its sweep process ended")

    def _run_status(self, run_id: str) -> str | None:
        try:
            return str(self.backend.get_run(run_id).status)
        except ExpbookError:
            return None

    def _add(self, idx: int, params: dict[str, Any]) -> dict[str, Any]:
        t = {
            "idx": idx,
            "params": params,
            "status": "pending",
            "attempts": 0,
            "failures": 0,
            "run_id": None,
            "pid": None,
            "host": None,
            "started_at": None,
            "finished_at": None,
            "value": None,
            "error": None,
            "stop": None,
        }
        self.trials[idx] = t
        self.dirty.add(idx)
        return t

    def flush(self) -> None:
        if self.dirty:
            self.backend.sweep_put_trials(
                self.spec.name, [self.trials[i] for i in sorted(self.dirty)]
            )
            self.dirty.clear()

    def _todo(self) -> list[dict[str, Any]]:
        retries = self.spec.retries
        return [
            t
            for t in sorted(self.trials.values(), key=lambda t: t["idx"])
            if t["idx"] not in self.running
            and t["idx"] in self.active
            and (t["status"] in REQUEUE or (t["status"] in RETRYABLE and t["failures"] <= retries))
        ]

    def _next(self, todo: list[dict[str, Any]]) -> dict[str, Any] | None:
        if todo:
            return todo.pop(0)
        if self.spec.method == "optuna" and len(self.trials) < self.spec.total:
            assert self.study is not None
            idx = max(self.trials, default=-1) + 1
            self.active.add(idx)
            return self._add(idx, self.study.ask(idx))
        return None

    def _launch(self, t: dict[str, Any], executor: Any) -> None:
        spec = self.spec
        idx = t["idx"]
        if self.study is not None and idx not in self.study.live:
            self.study.ask(idx, t["params"])
        from ..store.sqlite import new_id

        t["attempts"] += 1
        run_id = new_id()
        name = f"{spec.name}-{idx}" + (f"-a{t['attempts']}" if t["attempts"] > 1 else "")
        device = self.devices_free.pop(0) if spec.devices else None
        if device is not None:
            self.device_of[idx] = device
        job: dict[str, Any] = {
            "sweep": spec.name,
            "idx": idx,
            "attempt": t["attempts"],
            "run_id": run_id,
            "name": name,
            "params": t["params"],
            "store": self.location,
            "project": spec.project,
            "cwd": spec.cwd,
            "env": spec.env,
            "timeout": spec.timeout,
            "device": device,
            "function": spec.function,
            "command": spec.format_command(t["params"], idx) if spec.command else None,
        }
        if job["command"]:
            # made here, so that the run exists (with its output) whatever the script does
            self.backend.create_run(
                name=name,
                project=spec.project or os.environ.get("EXPBOOK_PROJECT") or "default",
                run_id=run_id,
                config=t["params"],
                tags=["sweep:" + spec.name],
                group=spec.name,
                meta={
                    "sweep": spec.name,
                    "sweep_trial": idx,
                    "sweep_attempt": t["attempts"],
                    "command": job["command"],
                },
            )
        t.update(
            status="running",
            run_id=run_id,
            pid=None,
            host=self.host if self.executor_kind == "local" else None,
            started_at=time.time(),
            finished_at=None,
            value=None,
            error=None,
            stop=None,
        )
        # running before it is submitted: a Ctrl-C from here on finds it among the running
        self.running[idx] = time.monotonic()
        self.counts["started"] += 1
        self.dirty.add(idx)
        try:
            t["pid"] = executor.submit(job)
        except Exception as e:  # e.g. a cwd that does not exist: this trial fails, not all
            msg = f"cannot start: {type(e).__name__}: {e}".splitlines()[0][:500]
            self._ended(idx, {"status": "failed", "exit_code": None, "error": msg})

    def _close_run(self, run_id: str | None, status: str, code: int | None) -> None:
        """Mark a trial's run ended when its process could not (killed, never called init)."""
        if not run_id:
            return
        try:
            rec = self.backend.get_run(run_id)
        except ExpbookError:
            return
        if rec.status == "running":
            self.backend.update_run(run_id, status=status, exit_code=code, finished_at=time.time())

    def _value(self, run_id: str) -> float | None:
        metric = self.spec.metric
        if not metric:
            return None
        s = self.backend.metric_summaries([run_id], [metric]).get(run_id, {}).get(metric)
        if s is not None and s.count:
            v = s.min_value if self.spec.goal == "min" else s.max_value
            return float(v) if v is not None and math.isfinite(v) else None
        try:
            v = self.backend.get_run(run_id).summary.get(metric)
        except ExpbookError:
            return None
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        return float(v) if ok else None

    def _ended(self, idx: int, outcome: dict[str, Any]) -> None:
        t = self.trials[idx]
        started = self.running.pop(idx, None)
        dev = self.device_of.pop(idx, None)
        if dev is not None:
            self.devices_free.append(dev)
        status = self.stopping.pop(idx, None) or outcome["status"]
        if status == "finished" and outcome["status"] != "finished":
            status = outcome["status"]
        run_id = t["run_id"]
        run_status = {"finished": "finished", "failed": "failed", "crashed": "crashed"}.get(
            status, "killed"
        )
        self._close_run(run_id, run_status, outcome.get("exit_code"))
        value = self._value(run_id) if run_id and status in DONE else None
        error = outcome.get("error")
        if status in RETRYABLE:
            t["failures"] += 1
            if status == "timeout":
                error = f"timed out after {self.spec.timeout:g} s"
            elif self.spec.command and run_id:
                error = _tail(self.backend, run_id) or error
        t.update(status=status, finished_at=time.time(), value=value, error=error, stop=None)
        if outcome.get("pid"):
            t["pid"] = outcome["pid"]
        self.dirty.add(idx)
        if self.study is not None:
            self.study.tell(idx, status, value)
        took = time.monotonic() - started if started is not None else 0.0
        shown = f" {self.spec.metric}={value:.6g}" if value is not None else ""
        more = f": {error}" if error and status not in DONE else ""
        done = sum(x["status"] in DONE for x in self.trials.values())
        self.echo(f"[{done}/{self._total()}] trial {idx} {status}{shown} ({took:.1f} s){more}")
        self.report_due = True

    def _total(self) -> int:
        return max(self.spec.total, len(self.trials))

    def _request_stop(self, idx: int, kind: str, executor: Any) -> None:
        if idx in self.stopping:
            return
        self.stopping[idx] = kind
        t = self.trials[idx]
        t["stop"] = kind
        self.backend.sweep_put_trials(self.spec.name, [{"idx": idx, "stop": kind}])
        pid = None
        if self.spec.function and t.get("run_id"):
            try:
                pid = self.backend.get_run(t["run_id"]).pid
            except ExpbookError:
                pid = None
        executor.stop(idx, kind, pid)

    def _resignal(self, executor: Any) -> None:
        """Signal again the function trials asked to stop before their worker was known (the
        worker's pid is the run's, once the trial's run exists)."""
        if not self.spec.function:
            return
        for idx, kind in list(self.stopping.items()):
            run_id = self.trials[idx].get("run_id")
            if idx in self.running and run_id:
                try:
                    pid = self.backend.get_run(run_id).pid
                except ExpbookError:
                    continue
                executor.stop(idx, kind, pid)

    def _prune(self, executor: Any) -> None:
        assert self.study is not None and self.spec.metric
        for idx in list(self.running):
            t = self.trials[idx]
            if idx in self.stopping or not t.get("run_id"):
                continue
            since = self.study.reported.get(idx, -1) + 1
            try:
                got = self.backend.read_series_lists(
                    t["run_id"], [self.spec.metric], step_min=since
                ).get(self.spec.metric)
            except ExpbookError:
                continue
            if (
                got is not None
                and len(got.steps)
                and self.study.report(idx, list(got.steps), list(got.values))
            ):
                self._request_stop(idx, "pruned", executor)

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        from .executors import make_executor

        self.claim()
        try:
            self.load()
            self._write_report(first=True)
            executor = make_executor(
                self.executor_kind,
                self.workers,
                self.ray_address,
                self.spec.resources,
                self.spec.cwd,
            )
        except BaseException:
            self.backend.sweep_update(self.spec.name, owner=self.token, status="failed")
            raise
        status = "finished"
        prev = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, _on_term)
        except ValueError:  # not the main thread
            prev = None
        try:
            status = self._loop(executor)
        except (KeyboardInterrupt, _Interrupted):
            status = "stopped"
            for idx in list(self.running):
                self.stopping[idx] = "stopped"
            executor.shutdown(kill=True)
            for idx in list(self.running):
                self._ended(idx, {"status": "stopped", "exit_code": None, "error": None})
            self.flush()
            self.backend.sweep_update(self.spec.name, owner=self.token, status=status)
            raise KeyboardInterrupt from None
        except BaseException:
            executor.shutdown(kill=True)
            self.flush()
            self.backend.sweep_update(self.spec.name, owner=self.token, status="failed")
            raise
        finally:
            if prev is not None:
                signal.signal(signal.SIGTERM, prev)
        executor.shutdown()
        self.flush()
        info = self._info()
        self.backend.sweep_update(self.spec.name, owner=self.token, status=status, info=info)
        self._write_report(first=False)
        return {"name": self.spec.name, "status": status, **info}

    def _loop(self, executor: Any) -> str:
        slots = min(self.workers, len(self.spec.devices)) if self.spec.devices else self.workers
        todo = self._todo()
        next_beat = next_prune = 0.0
        stop_asked = False
        while True:
            now = time.monotonic()
            if now >= next_beat:
                if not self.beat() and not stop_asked:
                    stop_asked = True
                    self.echo(f"sweep {self.spec.name}: stop requested")
                    for idx in list(self.running):
                        self._request_stop(idx, "stopped", executor)
                self._resignal(executor)
                next_beat = now + HEARTBEAT_S
            if not stop_asked:
                while len(self.running) < slots:
                    t = self._next(todo)
                    if t is None:
                        break
                    self._launch(t, executor)
            self.flush()
            if not self.running:
                if stop_asked:
                    return "stopped"
                todo = self._todo()  # retries of the trials that failed meanwhile
                if not todo and not (
                    self.spec.method == "optuna" and len(self.trials) < self.spec.total
                ):
                    return "finished"
                continue
            for idx, outcome in executor.poll(0.2):
                self._ended(idx, outcome)
            if self.study is not None and self.spec.prune and time.monotonic() >= next_prune:
                self._prune(executor)
                next_prune = time.monotonic() + PRUNE_EVERY_S
            if self.report_due and time.monotonic() - self.last_report >= self.report_every:
                self.flush()
                self._write_report(first=False)
            if not todo:
                todo = self._todo()

    def _info(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        mine = [t for t in self.trials.values() if t["idx"] in self.active]
        for t in mine:
            counts[t["status"]] = counts.get(t["status"], 0) + 1
        info: dict[str, Any] = {"trials": len(mine), "counts": counts}
        if len(mine) < len(self.trials):
            info["earlier"] = len(self.trials) - len(mine)  # of an earlier spec, left as is
        best = self._best()
        if best is not None:
            info["best"] = {
                "trial": best["idx"],
                "run": best["run_id"],
                "value": best["value"],
                "params": best["params"],
            }
        if self.spec.method == "optuna" and self.study is not None:
            info["importances"] = self.study.importances()
        return info

    def _best(self) -> dict[str, Any] | None:
        have = [
            t for t in self.trials.values() if t["status"] == "finished" and t["value"] is not None
        ]
        if not have:
            return None
        sign = 1 if self.spec.goal == "min" else -1
        return min(have, key=lambda t: (sign * t["value"], t["idx"]))

    def _write_report(self, first: bool) -> None:
        path = self.spec.report
        if not path:
            return
        from .report import write_sweep_report

        self.last_report = time.monotonic()
        self.report_due = False
        try:
            if self.spec.method == "optuna" and self.study is not None and not first:
                self.backend.sweep_update(self.spec.name, owner=self.token, info=self._info())
            write_sweep_report(self.backend, self.spec.name, path, create_only=first)
        except ExpbookError as e:
            self.echo(f"sweep {self.spec.name}: report {path}: {e}")


def _on_term(signum: int, frame: Any) -> None:
    raise _Interrupted()


def _tail(backend: Any, run_id: str, lines: int = 3) -> str | None:
    from ..tracking.capture import tail

    path = os.path.join(backend.run_dir(run_id), "output.log")
    if not os.path.exists(path):
        return None
    got = [ln.strip() for ln in tail(path, lines) if ln.strip()]
    return " | ".join(got)[-500:] or None


def run_sweep(
    spec: SweepSpec,
    backend: Any,
    *,
    workers: int | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
    echo: Callable[[str], None] | None = None,
    report_every: float = REPORT_EVERY_S,
) -> dict[str, Any]:
    """Run (or resume) the sweep ``spec`` against the store ``backend``; returns
    ``{"name", "status", "trials", "counts", "best"...}``. Raises :class:`SweepBusy` when a
    live process owns the sweep."""
    return Scheduler(
        spec,
        backend,
        workers=workers,
        executor=executor,
        ray_address=ray_address,
        echo=echo,
        report_every=report_every,
    ).run()
