"""A store read through an ``expbook server``: ``--store http(s)://server``.

:class:`RemoteStore` implements the read methods of the :class:`~expbook.store.Backend`
interface (what ``runs``, ``show``, ``history``, ``leaderboard``, ``pivot``, ``winners``,
``compare``, ``report``, ``check`` and ``ui`` read) through the server's
``/api/v1/store/`` endpoints, with the token of ``$EXPBOOK_TOKEN`` as a Bearer header.
Writes raise :class:`~expbook.errors.StoreError`: runs reach a server by syncing
(``expbook sync``), not through this class.

Listing runs asks for their metric summaries in the same request; the summaries are kept a
few seconds for the one ``metric_summaries`` call that follows (every analysis command makes
one), so a leaderboard costs one round trip.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from ..errors import AmbiguousRun, RunNotFound, StoreError
from .base import MetricSummary, RunRecord, Series

__all__ = ["RemoteStore"]

API = "/api/v1/store"
MAX_IDS = 100_000  # run ids in one request (the server's limit)
CACHE_S = 5.0  # how long the summaries that came with a run listing are reused
_STORED_FILE = re.compile(
    r"(media|artifacts)/([0-9a-f]{2})/\2[0-9a-f]{62}(\.[A-Za-z0-9]{1,12}){0,2}"
)
_NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _num(v: Any) -> Any:
    return _NONFINITE[v] if type(v) is str else v


_FIELDS = MetricSummary._fields
_INT_FIELDS = {"count", "nan_count", "first_step", "last_step", "min_step", "max_step"}


def _summaries(data: Mapping[str, Any]) -> dict[str, dict[str, MetricSummary]]:
    """The server's summary columns (see :func:`expbook.server._read.summaries_json`)."""
    n = int(data["n"])
    if not n:
        return {}
    cols = []
    for f in _FIELDS:
        col = _array(data["columns"][f], "<i8" if f in _INT_FIELDS else "<f8").tolist()
        mask = data["nulls"].get(f)
        if mask is not None:
            col = [None if m else v for v, m in zip(col, base64.b64decode(mask))]
        cols.append(col)
    runs, keys = data["runs"], data["keys"]
    run_idx = _array(data["run"], "<i8").tolist()
    key_idx = _array(data["key"], "<i8").tolist()
    out: dict[str, dict[str, MetricSummary]] = {}
    new = tuple.__new__
    for r, k, vals in zip(run_idx, key_idx, zip(*cols)):
        run = runs[r]
        got = out.get(run)
        if got is None:
            got = out[run] = {}
        got[keys[k]] = new(MetricSummary, vals)
    return out


def _array(text: str, dtype: str) -> Any:
    import numpy as np

    return np.frombuffer(base64.b64decode(text), dtype=dtype).astype(dtype[1:], copy=True)


def _series(d: Mapping[str, Any]) -> Series:
    return Series(_array(d["steps"], "<i8"), _array(d["walls"], "<f8"), _array(d["values"], "<f8"))


class RemoteStore:
    """The store behind an ``expbook server`` at ``url``, read-only."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        create: bool = False,
        readonly: bool = True,
        timeout: float = 60.0,
    ) -> None:
        try:
            import httpx
        except ImportError as e:
            raise StoreError(
                f"reading a server's store needs httpx ({e.name} is missing): "
                "pip install 'expbook[server]'"
            ) from None
        self.url = url.rstrip("/")
        self.location = self.url
        self.db_path = self.url
        # the server's media and artifact files that were read, fetched on first use
        self.files_dir = tempfile.mkdtemp(prefix="expbook-remote-")
        self.readonly = True
        self.token = token or None
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._listed: dict[
            str | None, tuple[float, set[str], dict[str, dict[str, MetricSummary]]]
        ] = {}
        try:
            info = self._get(API)
        except BaseException:
            self.close()
            raise
        self.project: str | None = info.get("project")  # the token's only project, if one

    # -- plumbing --------------------------------------------------------------------------
    def _fail(self, response: Any, run_errors: bool) -> NoReturn:
        try:
            detail = str(response.json().get("error") or "")
        except (ValueError, AttributeError):
            detail = ""
        code = response.status_code
        if code == 401:
            if not self.token:
                raise StoreError(
                    f"{self.url} needs a token: set EXPBOOK_TOKEN (an admin creates one with "
                    "`expbook server token create`)"
                )
            raise StoreError(f"{self.url} refused the token in EXPBOOK_TOKEN: {detail}")
        if code == 403:
            raise StoreError(f"{self.url} does not allow this token: {detail}")
        if run_errors and code == 404:
            raise RunNotFound(detail or "run not found")
        if run_errors and code == 409:
            raise AmbiguousRun(detail)
        if not detail:
            raise StoreError(f"{self.url} is not an expbook server (HTTP {code})")
        raise StoreError(f"{self.url}: {detail} (HTTP {code})")

    def _call(
        self, method: str, path: str, run_errors: bool, missing_ok: bool = False, **kwargs: Any
    ) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise StoreError(f"expbook server {self.url} did not answer in time") from None
        except httpx.HTTPError as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise StoreError(f"cannot reach expbook server {self.url}: {reason}") from None
        if missing_ok and response.status_code in (404, 405):
            return None  # a server from before this endpoint: the caller reads otherwise
        if response.status_code != 200:
            self._fail(response, run_errors)
        try:
            return response.json()
        except ValueError:
            raise StoreError(
                f"{self.url} is not an expbook server (its answer is not JSON)"
            ) from None

    def _get(
        self, path: str, params: Any = None, run_errors: bool = False, missing_ok: bool = False
    ) -> Any:
        return self._call("GET", path, run_errors, missing_ok, params=params)

    def _post(
        self,
        path: str,
        body: Mapping[str, Any],
        run_errors: bool = False,
        missing_ok: bool = False,
    ) -> Any:
        return self._call(
            "POST",
            path,
            run_errors,
            missing_ok,
            content=json.dumps(body, separators=(",", ":")),
            headers={"Content-Type": "application/json"},
        )

    def _run_path(self, run_id: str, what: str) -> str:
        from urllib.parse import quote

        return f"{API}/runs/{quote(str(run_id), safe='')}/{what}"

    @staticmethod
    def _records(fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[RunRecord]:
        from .sqlite import SQLiteStore

        return [SQLiteStore._record(r) for r in rows]

    def close(self) -> None:
        http = getattr(self, "_http", None)
        if http is not None:
            http.close()
        files = getattr(self, "files_dir", None)
        if files:
            shutil.rmtree(files, ignore_errors=True)

    def __del__(self) -> None:  # a command that never closes its store leaks no socket
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        self._read_only("a write transaction")
        yield

    def _read_only(self, what: str) -> NoReturn:
        raise StoreError(
            f"{self.url} is read-only through the server: cannot {what} (runs reach a server "
            "by syncing: expbook sync)"
        )

    # -- runs ------------------------------------------------------------------------------
    def list_runs(self, project: str | None = None) -> list[RunRecord]:
        got = self._get(API + "/runs", {"project": project or "", "summaries": "1"})
        records = self._records(got["fields"], got["runs"])
        if "summaries" in got:
            listed = {r.id for r in records}
            self._listed[project] = (time.monotonic(), listed, _summaries(got["summaries"]))
        return records

    def page_runs(
        self,
        project: str | None = None,
        order: str = "created_at, rid",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[RunRecord]]:
        got = self._get(
            API + "/page",
            {"project": project or "", "order": order, "limit": limit, "offset": offset},
        )
        return int(got["total"]), self._records(got["fields"], got["runs"])

    def get_run(self, ref: str, project: str | None = None) -> RunRecord:
        got = self._get(API + "/run", {"ref": str(ref), "project": project or ""}, True)
        return self._records(got["fields"], [got["run"]])[0]

    def projects(self) -> list[str]:
        return list(self._get(API)["projects"])

    def data_version(self) -> int:
        return int(self._get(API)["data_version"])

    def stats(self) -> dict[str, int]:
        return {k: int(v) for k, v in self._get(API + "/stats").items()}

    def reports(self) -> list[dict[str, Any]]:
        return list(self._get(API + "/reports")["reports"])

    def get_report(self, report_id: str) -> dict[str, Any] | None:
        from urllib.parse import quote

        try:
            got: dict[str, Any] = self._get(
                f"{API}/reports/{quote(report_id, safe='')}", None, True
            )
        except RunNotFound:
            return None
        return got

    # -- metrics ---------------------------------------------------------------------------
    def metric_summaries(
        self,
        run_ids: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        project: str | None = None,
    ) -> dict[str, dict[str, MetricSummary]]:
        ids = None if run_ids is None else list(run_ids)
        ks = None if keys is None else list(keys)
        if ids == [] or ks == []:
            return {}
        now = time.monotonic()
        for listed_project, (at, listed, sums) in list(self._listed.items()):
            if now - at > CACHE_S:
                del self._listed[listed_project]
                continue
            # the listing had every run of its project: it answers for them, once (a later
            # call asks the server again, and sees what was logged since)
            if (ids is None and listed_project == project) or (
                ids is not None and project in (None, listed_project) and listed.issuperset(ids)
            ):
                del self._listed[listed_project]
                return _pick(sums, ids, ks)
        body: dict[str, Any] = {"run_ids": ids, "keys": ks, "project": project}
        return _summaries(self._post(API + "/summaries", body))

    def rank_runs(
        self,
        key: str,
        by: str = "min",
        *,
        desc: bool = False,
        project: str | None = None,
        limit: int = 10,
    ) -> dict[str, Any] | None:
        """The server's ``rank_runs`` (one request); None past the server's limit."""
        if limit > MAX_IDS:
            return None
        params = {"key": key, "by": by, "desc": "1" if desc else "0", "limit": max(1, limit)}
        got: dict[str, Any] | None = self._get(
            API + "/rank", {**params, "project": project or ""}, missing_ok=True
        )
        return got

    def get_runs(self, run_ids: Iterable[str]) -> list[RunRecord]:
        ids = list(dict.fromkeys(run_ids))
        records: list[RunRecord] = []
        for i in range(0, len(ids), MAX_IDS):
            got = self._post(API + "/runs_by_id", {"run_ids": ids[i : i + MAX_IDS]})
            records.extend(self._records(got["fields"], got["runs"]))
        if len(ids) > MAX_IDS:  # several answers: back in the store's order
            records.sort(key=lambda r: r.created_at)
        return records

    def pivot_cells(
        self,
        keys: Sequence[str],
        value: str,
        agg: str,
        *,
        split: int,
        project: str | None = None,
    ) -> dict[str, Any] | None:
        """The server's ``pivot_cells`` (one request)."""
        body = {"keys": list(keys), "value": value, "agg": agg, "split": split}
        got = self._post(API + "/pivot", {**body, "project": project}, missing_ok=True)
        return None if got is None or got["pivot"] is None else json.loads(got["pivot"])

    def metric_keys(self, project: str | None = None) -> dict[str, list[str]]:
        got: dict[str, list[str]] = self._get(API + "/keys", {"project": project or ""})["keys"]
        return got

    def keys(self, run_id: str) -> list[str]:
        return list(self._get(self._run_path(run_id, "keys"), None, True)["keys"])

    def read_series(
        self,
        run_id: str,
        keys: Iterable[str] | None = None,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> dict[str, Series]:
        params: list[tuple[str, Any]] = []
        if keys is not None:
            ks = list(keys)
            if not ks:
                return {}
            params += [("key", k) for k in ks]
        if step_min is not None:
            params.append(("step_min", step_min))
        if step_max is not None:
            params.append(("step_max", step_max))
        got = self._get(self._run_path(run_id, "series"), params, True)["series"]
        return {k: _series(v) for k, v in got.items()}

    def read_series_lists(
        self,
        run_id: str,
        keys: Iterable[str] | None = None,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> dict[str, Series]:
        return {
            k: Series(s.steps.tolist(), s.walls.tolist(), s.values.tolist())
            for k, s in self.read_series(run_id, keys, step_min, step_max).items()
        }

    def read_overview(
        self,
        run_id: str,
        key: str,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> tuple[Series, int] | None:
        params: dict[str, Any] = {"key": key}
        if step_min is not None:
            params["step_min"] = step_min
        if step_max is not None:
            params["step_max"] = step_max
        got = self._get(self._run_path(run_id, "overview"), params, True)
        if got["overview"] is None:
            return None
        return _series(got["overview"]), int(got["covered"])

    def read_overviews(
        self, run_ids: Sequence[str], keys: Sequence[str]
    ) -> dict[tuple[str, str], Series]:
        if not run_ids or not keys:
            return {}
        got = self._post(API + "/overviews", {"run_ids": list(run_ids), "keys": list(keys)})
        return {(o["run"], o["key"]): _series(o) for o in got["overviews"]}

    def tail_start(
        self, run_id: str, keys: Iterable[str] | None, n: int, step_max: int | None = None
    ) -> int | None:
        params: list[tuple[str, Any]] = [("n", n)]
        if keys is not None:
            ks = list(keys)
            if not ks:
                return None
            params += [("key", k) for k in ks]
        if step_max is not None:
            params.append(("step_max", step_max))
        start = self._get(self._run_path(run_id, "tail_start"), params, True)["start"]
        return None if start is None else int(start)

    def values_at(
        self,
        key: str,
        step: int,
        run_ids: Iterable[str] | None = None,
        project: str | None = None,
    ) -> dict[str, float]:
        ids = None if run_ids is None else list(run_ids)
        if ids == []:
            return {}
        body = {"key": key, "step": int(step), "run_ids": ids, "project": project}
        got = self._post(API + "/values_at", body)["values"]
        return {r: _num(v) for r, v in got.items()}

    def read_values(
        self, run_id: str, key: str | None = None
    ) -> list[tuple[str, int, float | None, Any]]:
        got = self._get(self._run_path(run_id, "values"), {"key": key or ""}, True)["values"]
        return [(k, s, w, v) for k, s, w, v in got]

    def read_media(self, run_id: str, key: str | None = None) -> list[dict[str, Any]]:
        got = self._get(self._run_path(run_id, "media"), {"key": key or ""}, True)
        rows = list(got["media"])
        self._fetch(r.get("path") for r in rows)
        return rows

    def media_keys(self, run_id: str) -> list[dict[str, Any]]:
        return list(self._get(self._run_path(run_id, "media_keys"), None, True)["media_keys"])

    def events(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        return list(
            self._get(self._run_path(run_id, "events"), {"kind": kind or ""}, True)["events"]
        )

    def list_artifacts(
        self,
        project: str | None = None,
        run_id: str | None = None,
        type: str | None = None,
        name: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            "project": project or "",
            "run_id": run_id or "",
            "type": type or "",
            "name": name or "",
        }
        return list(self._get(API + "/artifacts", params, True)["artifacts"])

    def artifacts(self, run_id: str) -> list[tuple[str, str, str]]:
        got = self._get(self._run_path(run_id, "artifacts"), None, True)["artifacts"]
        return [(p, k, h) for p, k, h in got]

    def get_artifact(
        self, name: str, version: str | None = None, project: str | None = None
    ) -> dict[str, Any] | None:
        params = {"name": name, "version": version or "", "project": project or ""}
        try:
            got: dict[str, Any] = self._get(API + "/artifact", params, True)
        except RunNotFound:
            return None
        self._fetch(f.get("blob") for f in got.get("files") or [])
        return got

    def artifact_names(self, project: str | None = None) -> list[str]:
        return list(self._get(API + "/artifact_names", {"project": project or ""})["names"])

    def source_of(self, project: str, source: str, external_id: str = "") -> tuple[str, str] | None:
        params = {"project": project, "source": source, "external_id": external_id}
        got = self._get(API + "/source", params)
        return None if got["run"] is None else (got["run"], got["content_hash"])

    def source_files(self, source: str, project: str | None = None) -> list[tuple[str, str, Any]]:
        got = self._get(API + "/source_files", {"source": source, "project": project or ""})
        return [(r, n, f) for r, n, f in got["files"]]

    # -- files -----------------------------------------------------------------------------
    def _fetch(self, paths: Iterable[Any]) -> None:
        """Copy the server's files at ``paths`` (content addresses) into :attr:`files_dir`,
        where readers open them; one already there is not fetched again."""
        import os

        for rel in paths:
            if not isinstance(rel, str) or not _STORED_FILE.fullmatch(rel):
                continue  # not a content address: never a path of ours to write
            dest = os.path.join(self.files_dir, rel)
            if os.path.exists(dest):
                continue
            response = self._http.get(API + "/file", params={"path": rel})
            if response.status_code != 200:
                continue  # gone on the server: readers find it missing, as locally
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            tmp = dest + ".part"
            with open(tmp, "wb") as f:
                f.write(response.content)
            os.replace(tmp, dest)

    # -- writes: refused -------------------------------------------------------------------
    def check_writable(self) -> None:
        self._read_only("write")

    def create_run(self, **kwargs: Any) -> NoReturn:
        self._read_only("create a run")

    def update_run(self, run_id: str, **fields: Any) -> NoReturn:
        self._read_only("change a run")

    def delete_runs(self, run_ids: Iterable[str]) -> NoReturn:
        self._read_only("delete runs")

    def append_points(self, run_id: str, batches: Any) -> NoReturn:
        self._read_only("log points")

    def append_values(self, run_id: str, rows: Any) -> NoReturn:
        self._read_only("log values")

    def replace_points(self, run_id: str, batches: Any) -> NoReturn:
        self._read_only("replace points")

    def heartbeat(self, run_ids: Any) -> NoReturn:
        self._read_only("record a heartbeat")

    def record_report(self, path: str, **kwargs: Any) -> NoReturn:
        self._read_only("keep a report")

    def add_media(self, run_id: str, rows: Any) -> NoReturn:
        self._read_only("log media")

    # importing checks what was imported before: an import target must be writable
    def set_source_files(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._read_only("import runs")

    def refresh_source_files(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._read_only("import runs")

    def record_source(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._read_only("import runs")

    def set_artifacts(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._read_only("record artifacts")

    def add_artifact_version(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._read_only("log an artifact")

    def record_artifact_use(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._read_only("record an artifact's use")

    def add_event(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._read_only("record an event")

    def add_token(self, **kwargs: Any) -> NoReturn:
        self._read_only("add a token")

    def revoke_token(self, token_id: str) -> NoReturn:
        self._read_only("revoke a token")


def _pick(
    sums: dict[str, dict[str, MetricSummary]], ids: list[str] | None, keys: list[str] | None
) -> dict[str, dict[str, MetricSummary]]:
    out = sums if ids is None else {r: sums[r] for r in ids if r in sums}
    if keys is not None:
        wanted = set(keys)
        out = {r: {k: s for k, s in m.items() if k in wanted} for r, m in out.items()}
        out = {r: m for r, m in out.items() if m}
    return dict(out)
