"""Media objects logged through a run: each type is encoded by write_media (in the writer
thread), kept as a content-addressed file under the store's files_dir, and recorded in the
media table with its metadata."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image as PILImage

import expbook
from expbook.errors import UsageError
from expbook.media import write_media
from expbook.store import SQLiteStore


def logged(store_path: str, *steps: dict) -> tuple[SQLiteStore, str]:
    with expbook.init(project="m", store=store_path) as run:
        for data in steps:
            run.log(data)
    return SQLiteStore(store_path), run.id


def media_file(st: SQLiteStore, row: dict) -> Path:
    return Path(st.files_dir) / row["path"]


def png(st: SQLiteStore, row: dict) -> np.ndarray:
    with PILImage.open(media_file(st, row)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def test_images_of_every_input_kind_round_trip(store_path, tmp_path) -> None:
    gray = np.linspace(0, 1, 12).reshape(3, 4)  # floats in [0, 1] are scaled
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    chw = torch.zeros(3, 5, 6)
    chw[0] = 1.0  # red
    pil = PILImage.new("RGB", (7, 2), (0, 255, 0))
    path = tmp_path / "pic.jpg"
    PILImage.new("RGB", (9, 4), (0, 0, 255)).save(path)
    st, rid = logged(
        store_path,
        {
            "gray": expbook.Image(gray, caption="g"),
            "rgb": expbook.Image(rgb),
            "one": expbook.Image(rgb[..., :1]),
            "torch": expbook.Image(chw),
            "pil": expbook.Image(pil),
            "file": expbook.Image(str(path)),
        },
    )
    rows = {r["key"]: r for r in st.read_media(rid)}
    assert {r["type"] for r in rows.values()} == {"image"}
    assert rows["gray"]["meta"] == {"width": 4, "height": 3, "format": "png", "caption": "g"}
    g = png(st, rows["gray"])
    assert g.shape == (3, 4) and g[0, 0] == 0 and g[-1, -1] == 255
    assert (png(st, rows["rgb"]) == rgb).all()
    assert png(st, rows["one"]).shape == (2, 3)
    t = png(st, rows["torch"])
    assert t.shape == (5, 6, 3) and (t[..., 0] == 255).all() and (t[..., 1:] == 0).all()
    assert (png(st, rows["pil"])[..., 1] == 255).all()
    f = rows["file"]
    assert f["path"].endswith(".jpg") and f["meta"]["format"] == "jpeg"
    assert media_file(st, f).read_bytes() == path.read_bytes()  # a file is kept as it is
    for r in rows.values():
        sha = Path(r["path"]).name.split(".")[0]
        assert r["path"] == f"media/{sha[:2]}/{Path(r['path']).name}"


def test_same_bytes_are_one_file_and_a_list_keeps_its_order(store_path) -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 200, np.uint8)
    st, rid = logged(
        store_path,
        {"img": expbook.Image(a)},
        {"img": expbook.Image(a.copy())},
        {"pair": [expbook.Image(b), expbook.Image(a)]},
    )
    rows = st.read_media(rid)
    img = [r for r in rows if r["key"] == "img"]
    assert [r["step"] for r in img] == [0, 1] and img[0]["path"] == img[1]["path"]
    pair = [r for r in rows if r["key"] == "pair"]
    assert [(r["step"], r["index"]) for r in pair] == [(2, 0), (2, 1)]
    assert pair[1]["path"] == img[0]["path"]
    files = [p for p in (Path(st.files_dir) / "media").rglob("*") if p.is_file()]
    assert len(files) == 2
    keys = {k["key"]: k for k in st.media_keys(rid)}
    assert keys["img"] == {
        "key": "img",
        "type": "image",
        "count": 2,
        "objects": 2,
        "first_step": 0,
        "last_step": 1,
    }


def test_constructors_copy_and_do_not_encode(store_path, monkeypatch) -> None:
    saves = []
    real_save = PILImage.Image.save
    monkeypatch.setattr(
        PILImage.Image, "save", lambda self, *a, **k: (saves.append(1), real_save(self, *a, **k))
    )
    arr = np.zeros((8, 8), np.uint8)
    img = expbook.Image(arr)
    t = torch.zeros(1, 2, 2)
    timg = expbook.Image(t)
    arr[:] = 255  # the training loop reuses its buffers
    t += 1
    expbook.Histogram(np.arange(10))
    assert saves == []
    with expbook.init(project="m", store=store_path) as run:
        run.log({"img": img, "t": timg})
    st = SQLiteStore(store_path)
    rows = {r["key"]: r for r in st.read_media(run.id)}
    assert len(saves) == 2  # encoded in write_media, once each
    assert (png(st, rows["img"]) == 0).all() and (png(st, rows["t"]) == 0).all()


def test_histogram_table_plot_round_trip(store_path) -> None:
    df = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.25, float("nan")], "s": ["a", "<b>", None]})
    table = expbook.Table(columns=["recall", "precision"], data=[[0.1, 0.9]])
    table.add_data(0.5, 0.7)
    st, rid = logged(
        store_path,
        {
            "h": expbook.Histogram(np.array([0.0, 0.1, 0.9, 1.0]), num_bins=2),
            "h2": expbook.Histogram(np_histogram=([1, 2], [0.0, 1.0, 2.0])),
            "t": table,
            "df": expbook.Table(dataframe=df),
            "pr": expbook.plot.line(table, "recall", "precision", title="PR"),
            "bars": expbook.plot.bar(table, "recall", "precision"),
        },
    )
    rows = {r["key"]: r for r in st.read_media(rid)}
    assert rows["h"]["meta"]["counts"] == [2.0, 2.0] and rows["h"]["meta"]["bins"] == [0, 0.5, 1]
    assert json.loads(media_file(st, rows["h"]).read_text())["counts"] == [2.0, 2.0]
    assert rows["h2"]["meta"]["bins"] == [0.0, 1.0, 2.0]
    assert rows["t"]["type"] == "table" and rows["t"]["meta"]["rows"] == 2
    doc = json.loads(media_file(st, rows["t"]).read_text())
    assert doc == {"columns": ["recall", "precision"], "data": [[0.1, 0.9], [0.5, 0.7]]}
    ddoc = json.loads(media_file(st, rows["df"]).read_text())
    assert ddoc["columns"] == ["x", "y", "s"] and ddoc["data"][2] == [3, None, None]
    assert rows["pr"]["type"] == "plot"
    assert rows["pr"]["meta"]["chart"] == {
        "kind": "line",
        "x": "recall",
        "y": "precision",
        "title": "PR",
    }
    assert rows["bars"]["meta"]["chart"]["kind"] == "bar"
    assert rows["pr"]["path"] == rows["t"]["path"]  # the same table: the same file
    # the loggable table is the analysis table too
    assert isinstance(table, expbook.Table) and table.to_dict()["rows"][0]["recall"] == 0.1


def test_audio_video_html_round_trip(store_path, tmp_path) -> None:
    sound = np.sin(np.linspace(0, 100, 1600))
    frames = np.random.default_rng(0).integers(0, 255, (3, 3, 6, 5), dtype=np.uint8)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    st, rid = logged(
        store_path,
        {
            "a": expbook.Audio(sound, sample_rate=16000, caption="hum"),
            "v": expbook.Video(frames, fps=2),
            "vf": expbook.Video(str(clip)),
            "page": expbook.Html("<h1>hi</h1><script>alert(1)</script>"),
        },
    )
    rows = {r["key"]: r for r in st.read_media(rid)}
    with wave.open(str(media_file(st, rows["a"]))) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (16000, 1, 1600)
    assert rows["a"]["meta"]["duration"] == pytest.approx(0.1)
    with PILImage.open(media_file(st, rows["v"])) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (5, 6)
    assert rows["v"]["meta"]["frames"] == 3 and rows["v"]["meta"]["fps"] == 2
    assert rows["vf"]["path"].endswith(".mp4")
    assert media_file(st, rows["page"]).read_text().startswith("<h1>hi</h1>")


def test_bad_media_input_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match="not an image"):
        expbook.Image(np.zeros((2, 2, 2, 2)))
    with pytest.raises(UsageError, match="sample_rate"):
        expbook.Audio(np.zeros(10))
    with pytest.raises(UsageError, match="2 values for 1 columns"):
        expbook.Table(columns=["a"]).add_data(1, 2)
    with pytest.raises(UsageError, match="cannot read"):
        expbook.Image("no-such-file.png")
    with pytest.raises(UsageError, match="no column"):
        expbook.plot.scatter(expbook.Table(columns=["a"]), "a", "b")


class Broken:
    _expbook_media = True
    _type = "image"

    def _payload(self):
        raise RuntimeError("cannot encode")


def test_write_media_never_raises_and_warns_once_per_key(store_path) -> None:
    st = SQLiteStore(store_path)
    rid = st.create_run(name="r", project="m", status="running").id
    good = expbook.Image(np.zeros((2, 2), np.uint8))
    items = [("bad", 0, 1.0, Broken()), ("ok", 0, 1.0, good), ("bad", 1, 1.0, [Broken()])]
    with pytest.warns(RuntimeWarning, match="media 'bad' of run .* not kept: cannot encode") as w:
        write_media(st, rid, items)
    assert len([x for x in w if "'bad'" in str(x.message)]) == 1
    assert [r["key"] for r in st.read_media(rid)] == ["ok"]
    # a store that refuses the rows: a warning, never an exception
    with pytest.warns(RuntimeWarning, match="'ok2'"):
        write_media(st, "no-such-run", [("ok2", 0, 1.0, good)])


def test_a_step_logged_again_replaces_its_media_and_rm_removes_them(store_path, cli_run) -> None:
    st = SQLiteStore(store_path)
    rid = st.create_run(name="r", project="m", status="running").id
    img = [expbook.Image(np.zeros((2, 2), np.uint8)), expbook.Image(np.ones((2, 2), np.uint8))]
    write_media(st, rid, [("k", 3, 1.0, img)])
    write_media(st, rid, [("k", 3, 2.0, img[0])])
    assert [(r["step"], r["index"]) for r in st.read_media(rid)] == [(3, 0)]
    code, _, err = cli_run("rm", rid, "--yes")
    assert code == 0, err
    st2 = SQLiteStore(store_path)
    assert st2._q("SELECT COUNT(*) FROM media")[0][0] == 0


def test_show_and_history_list_media(store_path, cli_run) -> None:
    _st, rid = logged(
        store_path, {"loss": 1.0, "img": expbook.Image(np.zeros((2, 2), np.uint8))}, {"loss": 0.5}
    )
    code, out, _ = cli_run("show", rid, "--format", "json")
    assert code == 0
    (m,) = json.loads(out)["media"]
    assert (m["key"], m["type"], m["count"], m["last_step"]) == ("img", "image", 1, 0)
    code, out, _ = cli_run("show", rid)
    assert "media" in out and "img" in out
    code, out, _ = cli_run("history", rid, "--format", "json")
    hist = json.loads(out)
    assert hist["loss"] == [[0, 1.0], [1, 0.5]]
    [[step, item]] = hist["img"]
    assert step == 0 and item["type"] == "image" and item["path"].startswith("media/")


def test_import_expbook_loads_neither_numpy_nor_pil() -> None:
    code = (
        "import sys, expbook; expbook.Image; expbook.Artifact; "
        "print(sorted(m for m in ('numpy', 'PIL', 'torch', 'pandas') if m in sys.modules))"
    )
    src = str(Path(expbook.__file__).resolve().parent.parent)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert out.stdout.strip() == "[]"


def test_public_names() -> None:
    for name in (
        "Image",
        "Histogram",
        "Table",
        "Audio",
        "Video",
        "Html",
        "plot",
        "Artifact",
        "save",
        "log_artifact",
        "use_artifact",
    ):
        assert name in expbook.__all__ and getattr(expbook, name) is not None
    assert callable(expbook.plot.line) and callable(expbook.plot.scatter)


def test_reused_copy_buffers_never_change_an_encoded_image() -> None:
    a = np.zeros((256, 256, 3), np.uint8)
    b = np.full((256, 256, 3), 7, np.uint8)
    first = expbook.Image(a)
    encoded = first._payload()
    second = expbook.Image(b)  # takes the buffer first's copy gave back
    assert first._payload() is encoded  # encoded once, kept
    with PILImage.open(io.BytesIO(encoded[0])) as im:
        assert (np.asarray(im) == 0).all()
    with PILImage.open(io.BytesIO(second._payload()[0])) as im:
        assert (np.asarray(im) == 7).all()


def test_one_image_logged_at_two_steps(store_path) -> None:
    img = expbook.Image(np.full((300, 300), 9, np.uint8))
    st, rid = logged(store_path, {"img": img}, {"img": img})
    rows = st.read_media(rid)
    assert [r["step"] for r in rows] == [0, 1] and rows[0]["path"] == rows[1]["path"]
    assert (png(st, rows[1]) == 9).all()
