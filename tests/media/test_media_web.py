"""The run page shows a run's media and artifacts; /files/ serves logged media files and
nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

import expbook
from expbook.store import SQLiteStore
from expbook.web.app import create_app


@pytest.fixture
def page(store_path):
    table = expbook.Table(columns=["name", "score"], data=[["<script>alert(1)</script>", 1.5]])
    Path("w.bin").write_text("w")
    with expbook.init(project="p", name="media-run", store=store_path) as run:
        for step in range(3):
            run.log(
                {
                    "loss": 1.0 / (step + 1),
                    "samples": expbook.Image(
                        np.full((4, 4, 3), step * 50, np.uint8), caption=f"s{step}"
                    ),
                    "weights": expbook.Histogram(np.arange(10) * step, num_bins=4),
                }
            )
        run.log({"preds": table, "pr": expbook.plot.line(table, "score", "score")})
        run.log({"page": expbook.Html("<p>hi</p>"), "sound": expbook.Audio(np.zeros(80), 8000)})
        run.log_artifact("w.bin", type="model")
    client = TestClient(create_app(store_path))
    return client, run.id, SQLiteStore(store_path)


def test_run_page_shows_media_and_artifacts(page) -> None:
    client, rid, st = page
    r = client.get(f"/runs/{rid}")
    assert r.status_code == 200
    html = r.text
    rows = st.read_media(rid, "samples")
    last = rows[-1]["path"]
    assert f'<img src="/files/{last}" alt="s2"' in html  # the strip shows the last step
    assert 'type="range" min="0" max="2" value="2"' in html  # with a step slider
    assert "/files/" + rows[0]["path"] in html  # every step is in the slider's data
    assert 'class="hist-chart"' in html and '"counts": [' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert 'class="plot-chart"' in html
    assert '<iframe sandbox="" src="/files/media/' in html
    assert "<audio controls" in html
    assert 'id="artifacts"' in html and "w.bin" in html
    assert '<script src="/static/media.js"></script>' in html
    assert client.get("/static/media.js").status_code == 200


def test_files_route_serves_media_with_safe_headers(page) -> None:
    client, rid, st = page
    by = {r["key"]: r["path"] for r in st.read_media(rid)}
    r = client.get("/files/" + by["samples"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == (Path(st.files_dir) / by["samples"]).read_bytes()
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "sandbox"
    assert client.get("/files/" + by["page"]).headers["content-type"].startswith("text/html")
    assert client.get("/files/" + by["sound"]).headers["content-type"] == "audio/wav"


@pytest.mark.parametrize(
    "path",
    [
        "/files/../expbook.db",
        "/files/media/../../expbook.db",
        "/files/media/%2e%2e/%2e%2e/expbook.db",
        "/files/media%2F..%2F..%2Fexpbook.db",
        "/files//etc/passwd",
        "/files/media/ab/" + "ab" + "0" * 62 + ".png",  # well-formed but absent
        "/files/media/ab/" + "cd" + "0" * 62 + ".png",  # folder does not match the name
        "/files/media/ab",
    ],
)
def test_files_route_refuses_anything_else(page, path) -> None:
    client, _rid, _st = page
    r = client.get(path)
    assert r.status_code == 404
    assert b"SQLite" not in r.content


def test_artifact_blobs_are_not_served(page) -> None:
    client, _rid, st = page
    blob = st.get_artifact("w.bin")["files"][0]["blob"]
    assert (Path(st.files_dir) / blob).is_file()
    assert client.get("/files/" + blob).status_code == 404


def test_symlink_out_of_media_is_refused(page, tmp_path) -> None:
    client, _rid, st = page
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"secret")
    name = "ee" + "1" * 62 + ".png"
    link = Path(st.files_dir) / "media" / "ee" / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    assert client.get(f"/files/media/ee/{name}").status_code == 404


def test_a_run_without_media_has_no_media_section(store_path) -> None:
    with expbook.init(project="p", store=store_path) as run:
        run.log({"loss": 1.0})
    html = TestClient(create_app(store_path)).get(f"/runs/{run.id}").text
    assert 'id="media"' not in html and "media.js" not in html
