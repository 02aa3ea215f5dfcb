"""The structured artifacts' expected.json files are what their independent readings give.

``tests/data/real/_tools/structured.py`` names, for each structured artifact (a CSV, JSON,
event file or run folder), the script in ``_tools/`` that reads it without expbook (csv,
json, sqlite3, PyYAML, the tensorboard package's own reader) and writes its expected.json.
This test runs each reading again on a copy, so a hand edit of an expected.json, or a changed
artifact without a regenerated expectation, is caught.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
TOOLS = REAL / "_tools"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("structured", TOOLS / "structured.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STRUCTURED = _load()
IDS = sorted(STRUCTURED.READERS)


def test_every_structured_reading_has_a_provenance_entry_and_a_script() -> None:
    provenance = {a["id"] for a in json.loads((REAL / "provenance.json").read_text())}
    assert set(IDS) <= provenance
    for script, _args in STRUCTURED.READERS.values():
        assert (TOOLS / f"{script}.py").is_file(), script


@pytest.mark.parametrize("art_id", IDS)
def test_expected_json_matches_the_independent_reading(art_id: str) -> None:
    committed = (REAL / art_id / "expected.json").read_text()
    assert STRUCTURED.render(art_id) == committed


def test_the_readings_never_import_expbook() -> None:
    scripts = {script for script, _args in STRUCTURED.READERS.values()} | {"structured"}
    for script in sorted(scripts):
        source = (TOOLS / f"{script}.py").read_text()
        assert not re.search(r"^\s*(?:import|from)\s+expbook\b", source, re.M), script
