"""Every read command against ``--store http://server`` gives what it gives on the local
store: a real uvicorn server on a free loopback port, the CLI in-process."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from expbook.cli import main
from expbook.errors import StoreError
from expbook.store import SQLiteStore, connect

from .conftest import LiveServer, free_port, make_token


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return int(code or 0), out.getvalue(), err.getvalue()


def same(store: str, url: str, *args: str) -> str:
    local = cli(*args, "--format", "json", "--store", store)
    remote = cli(*args, "--format", "json", "--store", url)
    assert local[0] == 0, local
    assert remote == local, (args, remote, local)
    return local[1]


def test_read_commands_give_the_same_json(
    live: LiveServer, store_dir: Path, seeded: dict[str, list[str]]
) -> None:
    store, url = str(store_dir), live.url
    runs = json.loads(same(store, url, "runs"))
    assert len(runs) == 5
    same(store, url, "runs", "--project", "vision", "--filter", "config.lr < 0.5")
    same(store, url, "leaderboard", "--metric", "loss")
    same(store, url, "leaderboard", "--metric", "val/acc", "--project", "nlp")
    same(store, url, "pivot", "--value", "val/acc", "--rows", "config.seed")
    same(store, url, "winners", "--metric", "loss")
    one = seeded["vision"][1]  # the run with NaN and inf in its loss
    shown = json.loads(same(store, url, "show", one))
    assert shown["id"] == one
    hist = same(store, url, "history", one, "loss")
    assert "NaN" in hist and "Infinity" in hist  # the special floats came through
    same(store, url, "history", one, "--tail", "5")
    same(store, url, "history", "vision-0", "--step-min", "10", "--step-max", "12")
    same(store, url, "compare", seeded["vision"][0], seeded["nlp"][1])


def test_report_renders_the_same_from_the_server(
    live: LiveServer, store_dir: Path, tmp_path: Path, seeded
) -> None:
    doc = (
        "# Results\n\n"
        "Best: {{ best(`vision-1`, `val/acc`) | .4f }}.\n\n"
        "```expbook\nleaderboard: {metric: loss, mode: min}\n```\n\n"
        "```expbook\npivot: {value: val/acc, rows: config.seed}\n```\n\n"
    )
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "r.md").write_text(doc)
    (b / "r.md").write_text(doc)
    code, _, err = cli("report", str(a / "r.md"), "--store", str(store_dir))
    assert code == 0, err
    code, _, err = cli("report", str(b / "r.md"), "--store", live.url)
    assert code == 0, err
    assert "read-only through the server" in err  # not kept for the server's dashboard
    assert (a / "r.md").read_text() == (b / "r.md").read_text()
    text = (a / "r.md").read_text()
    assert "vision-0" in text and ">0.0100<" in text  # min of vision-1's val/acc


def test_remote_store_reads_match(live: LiveServer, store_dir: Path, seeded) -> None:
    remote = connect(live.url)
    local = SQLiteStore(store_dir, readonly=True)
    try:
        assert [r.__dict__ for r in _plain(remote.list_runs())] == [
            r.__dict__ for r in _plain(local.list_runs())
        ]
        assert remote.projects() == local.projects() == ["nlp", "vision"]
        rid = seeded["vision"][1]
        assert _same_nan(remote.metric_summaries(), local.metric_summaries())
        assert _same_nan(
            remote.metric_summaries([rid], ["loss"]), local.metric_summaries([rid], ["loss"])
        )
        got, want = remote.read_series(rid), local.read_series(rid)
        assert sorted(got) == sorted(want) == ["loss", "val/acc"]
        for k in want:
            assert got[k].steps.tolist() == want[k].steps.tolist()
            assert got[k].walls.tolist() == want[k].walls.tolist()
            assert _eq_nan(got[k].values.tolist(), want[k].values.tolist())
        lists = remote.read_series_lists(rid, ["loss"], 5, 25)
        assert lists["loss"].steps == list(range(5, 26))
        assert _same_nan(remote.values_at("loss", 20), local.values_at("loss", 20))
        assert remote.read_values(rid) == local.read_values(rid)
        assert remote.keys(rid) == local.keys(rid)
        assert remote.metric_keys("nlp") == local.metric_keys("nlp")
        assert remote.get_run("vision-1").id == rid
        assert remote.page_runs("vision", "created_at DESC, rid DESC", 2, 0)[0] == 3
        assert [r.id for r in remote.page_runs(None, "id ASC", 2, 1)[1]] == [
            r.id for r in local.page_runs(None, "id ASC", 2, 1)[1]
        ]
        ov = remote.read_overviews([rid], ["loss"])
        assert list(ov) == [(rid, "loss")]
        with pytest.raises(StoreError, match="read-only through the server"):
            remote.update_run(rid, notes="x")
        with pytest.raises(StoreError, match="read-only through the server"):
            remote.append_points(rid, {})
    finally:
        remote.close()
        local.close()


def _plain(records):
    for r in records:
        for f in ("tags", "config", "summary", "meta", "source"):
            getattr(r, f)  # decode the JSON columns
    return records


def _eq_nan(a, b) -> bool:
    return len(a) == len(b) and all((x != x and y != y) or x == y for x, y in zip(a, b))


def _same_nan(a, b) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def test_one_line_errors(live: LiveServer, store_dir: Path, seeded, monkeypatch) -> None:
    # unreachable
    code, out, err = cli("runs", "--store", f"http://127.0.0.1:{free_port()}")
    assert code == 1 and err.count("\n") == 1 and "cannot reach expbook server" in err
    # writes are refused, nothing changes
    code, _, err = cli("rm", seeded["vision"][0], "--store", live.url, "-y")
    assert code == 1 and "read-only" in err and err.count("\n") == 1
    csv = Path(store_dir).parent / "m.csv"
    csv.write_text("step,loss\n0,1\n1,0.5\n")
    code, _, err = cli("import", str(csv), "--store", live.url)
    assert code == 1 and "read-only" in err and err.count("\n") == 1
    # tokens: none sent, another project, revoked
    info, secret = make_token(store_dir, "nlp", "read")
    import time

    time.sleep(1.1)
    monkeypatch.delenv("EXPBOOK_TOKEN", raising=False)
    code, _, err = cli("runs", "--store", live.url)
    assert code == 1 and "needs a token" in err and "EXPBOOK_TOKEN" in err
    monkeypatch.setenv("EXPBOOK_TOKEN", secret)
    code, out, err = cli("runs", "--store", live.url, "--format", "json")
    assert code == 0 and {r["project"] for r in json.loads(out)} == {"nlp"}
    code, _, err = cli("runs", "--store", live.url, "--project", "vision")
    assert code == 1 and "is for project 'nlp'" in err and err.count("\n") == 1
    code, _, err = cli("show", seeded["vision"][0], "--store", live.url)
    assert code == 1 and "no run" in err
    with SQLiteStore(store_dir) as s:
        s.revoke_token(info["id"])
    code, _, err = cli("runs", "--store", live.url)
    assert code == 1 and "revoked" in err and err.count("\n") == 1
    monkeypatch.setenv("EXPBOOK_TOKEN", "eb_unknown")
    code, _, err = cli("runs", "--store", live.url)
    assert code == 1 and "unknown token" in err


def test_not_an_expbook_server(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    app = Starlette(routes=[Route("/{p:path}", lambda r: PlainTextResponse("hi", 404))])
    with LiveServer(app) as other:
        code, _, err = cli("runs", "--store", other.url)
    assert code == 1 and "is not an expbook server" in err


def test_cli_server_process_serves_the_store(store_dir: Path, seeded, tmp_path) -> None:
    """``expbook server`` as a process: it starts, serves, and reads like the store."""
    import os
    import subprocess
    import sys
    import time

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "expbook", "server", "--db", str(store_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            code, out, err = cli("runs", "--store", url, "--format", "json")
            if code == 0 or time.monotonic() > deadline or proc.poll() is not None:
                break
            time.sleep(0.2)
        assert code == 0, err
        assert len(json.loads(out)) == 5
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert f"http://127.0.0.1:{port}/" in output and "no tokens" in output
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)


def test_media_files_are_fetched_by_content_address(live: LiveServer, store_dir: Path, seeded):
    from expbook.media._files import put_bytes

    rid = seeded["vision"][0]
    with SQLiteStore(store_dir) as s:
        rel = put_bytes(s.files_dir, "media", b"\x89PNG fake", ".png")
        s.add_media(rid, [("img", 1, 0, 1.0, "image", rel, {"caption": "c"})])
        (Path(s.files_dir) / "secret.txt").write_text("no")
    remote = connect(live.url)
    try:
        rows = remote.read_media(rid)
        assert [r["path"] for r in rows] == [rel]
        assert (Path(remote.files_dir) / rel).read_bytes() == b"\x89PNG fake"
        files_dir = remote.files_dir
    finally:
        remote.close()
    assert not Path(files_dir).exists()  # the fetched copies go with the store
    import httpx

    for path in ("secret.txt", "media/../secret.txt", "/etc/passwd", rel + "/../../secret.txt"):
        r = httpx.get(live.url + "/api/v1/store/file", params={"path": path})
        assert r.status_code == 404, path
    assert httpx.get(live.url + "/api/v1/store/file", params={"path": rel}).content == (
        b"\x89PNG fake"
    )
