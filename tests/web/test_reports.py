"""The reports of a store in the dashboard: listed, shown, and in the JSON API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import write_report


@pytest.fixture
def reported(seeded, tmp_path: Path) -> tuple[Path, str, Path]:
    store, _ = seeded
    doc = tmp_path / "study.md"
    return store, write_report(store, doc), doc


@pytest.fixture
def rclient(reported):
    from starlette.testclient import TestClient

    from expbook.web import create_app

    with TestClient(create_app(reported[0])) as c:
        yield c


def test_reports_are_listed(rclient, reported) -> None:
    _, rid, doc = reported
    got = rclient.get("/api/reports").json()["reports"]
    assert [r["id"] for r in got] == [rid]
    r = got[0]
    assert r["title"] == "Learning-rate study" and r["path"] == str(doc.resolve())
    assert r["info"] == {"blocks": 2, "values": 1, "claims": 1, "failing": 0, "errors": 0}
    assert "text" not in r
    page = rclient.get("/reports")
    assert page.status_code == 200
    assert f'href="/reports/{rid}"' in page.text and "Learning-rate study" in page.text


def test_one_report_as_json(rclient, reported) -> None:
    _, rid, doc = reported
    got = rclient.get(f"/api/reports/{rid}").json()
    assert got["text"] == doc.read_text(encoding="utf-8")
    (fig,) = got["figures"].values()
    assert sorted(t["name"] for t in fig["data"]) == ["run-0", "run-1", "run-2", "run-3"]


def test_the_report_page_shows_tables_values_and_plots(rclient, reported) -> None:
    _, rid, _ = reported
    html = rclient.get(f"/reports/{rid}").text
    article = html.split('<article class="report" id="report">')[1].split("</article>")[0]
    assert "<table>" in article and "<td>run-0</td>" in article
    assert "The best loss is 0.037." in article
    # the claim's mark is drawn (inline SVG, green), not an emoji a font may lack
    assert '<span class="expbook-claim pass"><svg class="expbook-mark"' in article
    assert "holds (0.03737)</span>" in article and "✅" not in article
    assert article.count('class="expbook-plot"') == 1
    # what the figures script draws from: the plot's figure, embedded as JSON
    figs = html.split('<script type="application/json" id="report-figures">')[1].split("</script>")
    assert len(json.loads(figs[0])) == 1
    # markers and source spans are gone, the document's raw HTML is shown, never run
    assert "expbook:begin" not in article and "data-expbook" not in article
    assert "<script>" not in article and "&lt;script&gt;window.evil" in article
    # nothing is loaded from elsewhere: the remote image is only named
    assert "example.com" not in article and "[image: a remote picture]" in article


def test_a_newer_rendering_replaces_the_older(rclient, reported) -> None:
    store, rid, doc = reported
    text = doc.read_text(encoding="utf-8").replace("Learning-rate study", "LR study, take 2")
    assert write_report(store, doc, text) == rid
    got = rclient.get("/api/reports").json()["reports"]
    assert [(r["id"], r["title"]) for r in got] == [(rid, "LR study, take 2")]


def test_unknown_reports_are_404(rclient) -> None:
    r = rclient.get("/api/reports/nope")
    assert r.status_code == 404 and r.json() == {"error": "no report 'nope'", "status": 404}
    page = rclient.get("/reports/nope")
    assert page.status_code == 404 and "no report" in page.text
    assert rclient.get("/reports/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_no_reports_yet(client) -> None:
    assert client.get("/api/reports").json() == {"reports": []}
    page = client.get("/reports")
    assert page.status_code == 200 and "No reports yet" in page.text


def test_the_report_command_keeps_its_rendering(cli_run, seeded, tmp_path: Path) -> None:
    store, _ = seeded
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n\n```expbook\nruns: {project: demo}\n```\n", encoding="utf-8")
    code, _, _ = cli_run("report", str(doc), "--check", "--store", str(store))
    assert code == 1  # out of date, and nothing kept
    from expbook.store import SQLiteStore

    with SQLiteStore(store, readonly=True) as st:
        assert st.reports() == []
    code, out, err = cli_run("report", str(doc), "--store", str(store))
    assert code == 0, out + err
    with SQLiteStore(store, readonly=True) as st:
        (rep,) = st.reports()
        full = st.get_report(rep["id"])
    assert rep["title"] == "Notes" and full["text"] == doc.read_text(encoding="utf-8")
    assert "run-0" in full["text"]
