"""Editing from the dashboard (issue 13, item 6): off by default, loopback only, a run's notes
and tags and deleting runs through small JSON endpoints that need the pages' edit token."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright import sync_api
from starlette.testclient import TestClient

from expbook.cli import main
from expbook.store import SQLiteStore
from expbook.web import create_app

from .test_browser import shot
from .test_ui_fixes_browser import serve

TOKEN_RE = re.compile(r'<meta name="expbook-edit" content="([^"]+)">')


@pytest.fixture
def edit_client(seeded):
    with TestClient(create_app(seeded[0], allow_edits=True)) as c:
        yield c


def token_of(client: TestClient, run_id: str) -> str:
    m = TOKEN_RE.search(client.get(f"/runs/{run_id}").text)
    assert m, "the run page carries no edit token"
    return m.group(1)


def stored(path: Path, run_id: str):
    with SQLiteStore(path, readonly=True) as st:
        return st.get_run(run_id)


def test_read_only_by_default(client, ids) -> None:
    rid = ids["run-1"]
    page = client.get(f"/runs/{rid}").text
    assert "expbook-edit" not in page and 'id="edit-form"' not in page
    r = client.patch(f"/api/runs/{rid}", json={"notes": "x"}, headers={"X-Expbook-Edit": "t"})
    assert r.status_code == 405
    assert client.delete(f"/api/runs/{rid}").status_code == 405


def test_notes_and_tags_are_edited_and_stored(edit_client, seeded, ids) -> None:
    path, rid = seeded[0], ids["run-1"]
    tok = token_of(edit_client, rid)
    r = edit_client.patch(
        f"/api/runs/{rid}",
        json={"notes": "lr too high: diverged", "tags": ["bad", " bad ", "lr", ""]},
        headers={"X-Expbook-Edit": tok},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"id": rid, "notes": "lr too high: diverged", "tags": ["bad", "lr"]}
    rec = stored(path, rid)
    assert rec.notes == "lr too high: diverged" and list(rec.tags) == ["bad", "lr"]
    assert "lr too high: diverged" in edit_client.get(f"/runs/{rid}").text
    # the runs table sees the new tags at once (its search covers tags)
    found = edit_client.get("/api/runs", params={"q": "bad"}).json()["runs"]
    assert [r["id"] for r in found] == [rid]
    r = edit_client.patch(f"/api/runs/{rid}", json={"notes": None}, headers={"X-Expbook-Edit": tok})
    assert r.status_code == 200 and stored(path, rid).notes in (None, "")
    assert list(stored(path, rid).tags) == ["bad", "lr"]  # tags untouched by a notes edit


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"name": "x"}, 400, "only notes and tags"),
        ({}, 400, "nothing to edit"),
        ({"notes": 3}, 400, "notes"),
        ({"tags": "a,b"}, 400, "tags"),
        ({"tags": ["x" * 201]}, 400, "tags"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_bad_edits_get_a_one_line_reason_and_change_nothing(
    edit_client, seeded, ids, body, status, words
) -> None:
    path, rid = seeded[0], ids["run-2"]
    before = stored(path, rid)
    r = edit_client.patch(
        f"/api/runs/{rid}", json=body, headers={"X-Expbook-Edit": token_of(edit_client, rid)}
    )
    assert r.status_code == status
    msg = r.json()["error"]
    assert words in msg and "\n" not in msg
    after = stored(path, rid)
    assert (after.notes, list(after.tags)) == (before.notes, list(before.tags))


def test_writes_need_the_token_json_and_the_same_origin(edit_client, seeded, ids) -> None:
    path, rid = seeded[0], ids["run-3"]
    tok = token_of(edit_client, rid)
    r = edit_client.patch(f"/api/runs/{rid}", json={"notes": "x"})
    assert r.status_code == 403 and "X-Expbook-Edit" in r.json()["error"]
    r = edit_client.patch(f"/api/runs/{rid}", json={"notes": "x"}, headers={"X-Expbook-Edit": "no"})
    assert r.status_code == 403
    r = edit_client.patch(
        f"/api/runs/{rid}",
        content=b"notes=x",
        headers={"X-Expbook-Edit": tok, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415
    r = edit_client.patch(
        f"/api/runs/{rid}",
        json={"notes": "x"},
        headers={"X-Expbook-Edit": tok, "Origin": "http://evil.example"},
    )
    assert r.status_code == 403 and "another site" in r.json()["error"]
    assert edit_client.delete(f"/api/runs/{rid}").status_code == 403
    assert stored(path, rid).notes != "x"
    r = edit_client.patch(
        "/api/runs/nosuchrun", json={"notes": "x"}, headers={"X-Expbook-Edit": tok}
    )
    assert r.status_code == 404


def test_delete_removes_the_run(edit_client, seeded, ids) -> None:
    path, rid = seeded[0], ids["run-0"]
    tok = token_of(edit_client, rid)
    r = edit_client.delete(f"/api/runs/{rid}", headers={"X-Expbook-Edit": tok})
    assert r.status_code == 200 and r.json() == {"id": rid, "deleted": 1}
    with SQLiteStore(path, readonly=True) as st:
        assert rid not in [r.id for r in st.list_runs()]
        assert ids["run-1"] in [r.id for r in st.list_runs()]
    assert edit_client.get(f"/runs/{rid}").status_code == 404
    names = [
        r["name"] for r in edit_client.get("/api/runs", params={"project": "demo"}).json()["runs"]
    ]
    assert "run-0" not in names and "run-1" in names


def test_the_openapi_document_describes_the_writes(client) -> None:
    doc = client.get("/openapi.json").json()
    ops = doc["paths"]["/api/runs/{run_id}"]
    assert {"get", "patch", "delete"} <= set(ops)
    assert "X-Expbook-Edit" in ops["patch"]["summary"]


def test_the_cli_refuses_edits_on_another_address(tmp_path, capsys) -> None:
    code = main(["ui", "--store", str(tmp_path / "s"), "--host", "0.0.0.0", "--allow-edits"])
    err = capsys.readouterr().err
    assert code != 0
    assert "loopback" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_editing_in_the_browser(chromium_launch, seeded, ids) -> None:
    path, rid = seeded[0], ids["run-2"]
    with serve(path, allow_edits=True) as url, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            problems: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{url}/runs/{rid}")
            page.click("#edit summary")
            page.fill("#edit-form input[name=tags]", "keep, seed-check")
            page.fill("#edit-form textarea[name=notes]", "checked by hand")
            with page.expect_navigation():
                page.click("#edit-form button[type=submit]")
            page.wait_for_selector("p.notes")
            assert page.inner_text("p.notes") == "checked by hand"
            tags = page.eval_on_selector_all(".meta .tag", "els => els.map(e => e.textContent)")
            assert tags == ["keep", "seed-check"]
            shot(page, "edit-run.png")
            rec = stored(path, rid)
            assert rec.notes == "checked by hand" and list(rec.tags) == ["keep", "seed-check"]
            page.click("#edit summary")  # the page reloaded: open the form again
            page.once("dialog", lambda d: d.accept())
            with page.expect_navigation():
                page.click("#delete-run")
            assert "/?project=" in page.url
            with SQLiteStore(path, readonly=True) as st:
                assert rid not in [r.id for r in st.list_runs()]
            assert problems == []
            assert [u for u in requests if not u.startswith(url + "/")] == []
        finally:
            browser.close()
