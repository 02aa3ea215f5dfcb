#!/usr/bin/env python3
"""The README's dashboard screenshots: builds a demo store, serves the dashboard on it and
takes PNGs of the workspace and the sweep views in Debian's Chromium (Playwright) at
1440x900.

    PYTHONPATH=src python tools/screenshots.py            # writes docs/*.png
    PYTHONPATH=src python tools/screenshots.py --out DIR  # elsewhere

The store: project ``demo``, a sweep of lr (4 values) x width (3) x 2 seeds = 24 runs of
``train/loss``, ``train/acc``, ``eval/loss``, ``eval/acc`` and ``epoch`` (600 steps each),
written straight through the store. Every PNG is colour-quantised when Pillow is installed,
so each stays well under 300 KB.
"""

from __future__ import annotations

import argparse
import math
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHOTS = {
    # file name: (path, what to wait for)
    "workspace.png": ("/?project=demo&limit=24", "#workspace[data-drawn]"),
    "workspace-groups.png": (
        "/?project=demo&group=config.lr&wk=train/loss&wk=eval/loss&wk=eval/acc",
        "#workspace[data-drawn]",
    ),
    "sweep.png": ("/sweep?project=demo&metric=eval/loss", "body[data-sweep-ready='1']"),
}


def build(path: Path) -> None:
    from expbook.store import PointBatch, SQLiteStore

    gen = np.random.default_rng(13)
    steps = np.arange(600, dtype=np.int64)
    with SQLiteStore(path) as st:
        n = 0
        for lr in (1e-4, 3e-4, 1e-3, 3e-3):
            for width in (128, 256, 512):
                for seed in (0, 1):
                    rec = st.create_run(
                        name=f"w{width}-lr{lr:g}-s{seed}",
                        project="demo",
                        status="finished",
                        config={"lr": lr, "width": width, "seed": seed, "optimizer": "adamw"},
                        tags=["sweep"],
                        created_at=1_700_000_000.0 + 60 * n,
                    )
                    n += 1
                    # faster with a larger lr; a wider model ends lower; seeds add noise
                    rate = 40 + 200 * (1 - math.log10(lr / 1e-4) / math.log10(30))
                    floor = 0.35 - 0.05 * math.log2(width / 128) + 0.02 * seed
                    walls = 1_700_000_000.0 + 60 * n + steps * (0.4 + width / 1024)
                    train = floor + 2.0 * np.exp(-steps / rate) + gen.normal(0, 0.03, len(steps))
                    ev = floor + 0.08 + 2.0 * np.exp(-steps / rate) + gen.normal(0, 0.02, 600)
                    st.append_points(
                        rec.id,
                        {
                            "train/loss": PointBatch(steps, walls, train),
                            "train/acc": PointBatch(steps, walls, 1 - train / 3),
                            "eval/loss": PointBatch(steps[::20], walls[::20], ev[::20]),
                            "eval/acc": PointBatch(steps[::20], walls[::20], 1 - ev[::20] / 3),
                            "epoch": PointBatch(steps, walls, steps // 60),
                        },
                    )


def quantise(png: Path) -> None:
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        small.save(png, optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs"), help="folder for the PNGs (docs/)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args()

    import uvicorn
    from playwright.sync_api import sync_playwright

    from expbook.web import create_app

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="expbook-shots-"))
    try:
        build(tmp / "store")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app = create_app(tmp / "store")
        app.state.ui.snapshots.get()
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        while not srv.started:
            time.sleep(0.02)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                for name, (path, ready) in SHOTS.items():
                    page.goto(f"http://127.0.0.1:{port}{path}")
                    page.wait_for_selector(ready, timeout=30_000)
                    page.wait_for_timeout(300)  # plotly's transitions on the sweep page
                    page.mouse.move(0, 0)
                    target = out / name
                    page.screenshot(path=str(target))
                    quantise(target)
                    print(f"{target}  {target.stat().st_size / 1024:.0f} KB")
                browser.close()
        finally:
            srv.should_exit = True
            thread.join(5)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
