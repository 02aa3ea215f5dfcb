"""A private PostgreSQL cluster for a test that restarts its database (the shared server
at 127.0.0.1:5432 is never restarted): ``initdb`` and ``pg_ctl`` from Debian's packages,
run as the ``postgres`` user when the tests run as root, on a free port, in a temporary
folder that goes when the block ends."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    assert found, "PostgreSQL's server binaries are missing (apt-get install postgresql)"
    return os.path.dirname(found[-1])


class Cluster:
    def __init__(self, base: str, port: int, user: str | None) -> None:
        self.base = base
        self.data = os.path.join(base, "data")
        self.port = port
        self.user = user
        self.bin = _bindir()
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = [os.path.join(self.bin, args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        got = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        assert got.returncode == 0, f"{' '.join(args[:2])}: {got.stderr[-2000:]}"

    def init(self) -> None:
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        opts = f"-p {self.port} -h 127.0.0.1 -k {self.base} -F -c max_connections=50"
        self._run("pg_ctl", "-D", self.data, "-o", opts, "-l", self.base + "/log", "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop (every session is cut) and start again on the same port."""
        self.stop("fast")
        self.start()


@contextmanager
def private_postgres(port: int) -> Iterator[Cluster]:
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    base = tempfile.mkdtemp(prefix="expbook-pg-")
    os.chmod(base, 0o755)
    user = "postgres" if root else None
    if user:
        shutil.chown(base, user)
    cluster = Cluster(base, port, user)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        except Exception:
            pass
        shutil.rmtree(base, ignore_errors=True)
