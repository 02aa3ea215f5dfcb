"""System metrics of a run: CPU, memory, disk and NVIDIA GPUs, sampled by the writer thread.

A :class:`SystemSampler` is asked by the writer thread whether a sample is due (a clock
comparison); a sample is a dict of ``system/...`` metrics, stored at step = the sample's index
(0, 1, 2...; the wall time of each point is kept by the store). Nothing is sampled on the
training thread.

``psutil`` (the ``expbook[system]`` extra) gives CPU, memory and the process's own use; without
it the load average and this process's resident memory (from ``/proc``) stand in. GPUs come
from ``pynvml`` (``nvidia-ml-py``, the ``expbook[gpu]`` extra) when it is installed and finds
a device; otherwise there are no GPU keys, and no error.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

DEFAULT_INTERVAL_S = 10.0
MIN_INTERVAL_S = 0.05
PREFIX = "system/"
_MB = 1024.0 * 1024.0


class SystemSampler:
    """Samples the machine every ``interval`` seconds when asked by the writer thread."""

    def __init__(self, interval: float = DEFAULT_INTERVAL_S, disk_path: str = ".") -> None:
        self.interval = max(MIN_INTERVAL_S, float(interval))
        self.disk_path = disk_path
        self.index = 0  # the step of the next sample
        self.next_at = time.monotonic() + self.interval
        self._psutil: Any = None
        self._proc: Any = None
        self._nvml: Any = None  # the pynvml module once initialised; False: none
        self._gpus: list[Any] = []
        self._primed = False

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def prime(self) -> None:
        """Load psutil and pynvml and start psutil's CPU counters (the first call of
        ``cpu_percent`` measures nothing)."""
        if self._primed:
            return
        self._primed = True
        # a CPU percentage over a very short window says nothing: the first sample waits
        self.next_at = max(self.next_at, time.monotonic() + self.interval / 2)
        try:
            import psutil

            self._psutil = psutil
            self._proc = psutil.Process()
            psutil.cpu_percent(None)
            self._proc.cpu_percent(None)
        except Exception:  # not installed, or a platform it does not know
            self._psutil = self._proc = None
        self._nvml = False
        try:
            import pynvml

            pynvml.nvmlInit()
            n = pynvml.nvmlDeviceGetCount()
            self._gpus = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
            self._nvml = pynvml
        except Exception:  # no pynvml, no driver, no GPU
            self._gpus = []

    def sample(self) -> dict[str, float]:
        """One sample: ``{"system/<name>": value}``; advances the schedule."""
        self.prime()
        now = time.monotonic()
        # the next sample one interval on; a writer that was held up does not catch up
        self.next_at = max(self.next_at + self.interval, now + self.interval / 2)
        out: dict[str, float] = {}
        _try(out, self._cpu_memory)
        _try(out, self._disk)
        for i, handle in enumerate(self._gpus):
            _try(out, lambda d, i=i, h=handle: self._gpu(d, i, h))
        self.index += 1
        return out

    def _cpu_memory(self, out: dict[str, float]) -> None:
        ps = self._psutil
        if ps is not None:
            out[PREFIX + "cpu_percent"] = float(ps.cpu_percent(None))
            vm = ps.virtual_memory()
            out[PREFIX + "memory_percent"] = float(vm.percent)
            out[PREFIX + "memory_used_mb"] = (vm.total - vm.available) / _MB
            proc = self._proc
            with proc.oneshot():
                out[PREFIX + "proc_cpu_percent"] = float(proc.cpu_percent(None))
                out[PREFIX + "memory_rss_mb"] = proc.memory_info().rss / _MB
                out[PREFIX + "proc_threads"] = float(proc.num_threads())
            return
        if hasattr(os, "getloadavg"):
            out[PREFIX + "load_1m"] = float(os.getloadavg()[0])
        rss = _rss_from_proc()
        if rss is not None:
            out[PREFIX + "memory_rss_mb"] = rss / _MB

    def _disk(self, out: dict[str, float]) -> None:
        du = shutil.disk_usage(self.disk_path)
        out[PREFIX + "disk_percent"] = 100.0 * du.used / du.total if du.total else 0.0
        out[PREFIX + "disk_free_gb"] = du.free / (_MB * 1024.0)

    def _gpu(self, out: dict[str, float], i: int, handle: Any) -> None:
        nv = self._nvml
        p = f"{PREFIX}gpu.{i}."
        util = nv.nvmlDeviceGetUtilizationRates(handle)
        out[p + "utilization"] = float(util.gpu)
        mem = nv.nvmlDeviceGetMemoryInfo(handle)
        out[p + "memory_used_mb"] = mem.used / _MB
        out[p + "memory_percent"] = 100.0 * mem.used / mem.total if mem.total else 0.0
        try:
            out[p + "temperature_c"] = float(
                nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU)
            )
        except Exception:
            pass
        try:
            out[p + "power_w"] = nv.nvmlDeviceGetPowerUsage(handle) / 1000.0
        except Exception:
            pass

    def close(self) -> None:
        if self._nvml:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
            self._nvml = False
            self._gpus = []


def _try(out: dict[str, float], part: Any) -> None:
    try:
        part(out)
    except Exception:  # one part failing leaves the others
        pass


def _rss_from_proc() -> int | None:
    """This process's resident memory in bytes, from ``/proc/self/statm`` (Linux)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def is_system_key(key: str) -> bool:
    """Whether a metric is one of the system metrics a run records by itself."""
    return key.startswith(PREFIX)
