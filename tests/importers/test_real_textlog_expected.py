"""The text-log artifacts' expected.json files are what the independent reading gives.

``tests/data/real/_tools/expected_textlogs.py`` reads each committed log with regular
expressions from the standard library (never expbook) and writes its expected.json; this
test runs that reading again so a hand edit of an expected.json, or a changed log file
without a regenerated expectation, is caught.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
TOOL = REAL / "_tools" / "expected_textlogs.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("expected_textlogs", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL_MODULE = _tool()
IDS = sorted(TOOL_MODULE.READERS)


def test_every_text_log_reader_has_a_provenance_entry() -> None:
    provenance = {a["id"] for a in json.loads((REAL / "provenance.json").read_text())}
    assert set(IDS) <= provenance


@pytest.mark.parametrize("art_id", IDS)
def test_expected_json_matches_the_independent_reading(art_id: str) -> None:
    committed = (REAL / art_id / "expected.json").read_text()
    assert TOOL_MODULE.render(art_id) == committed


def test_the_reading_never_imports_expbook() -> None:
    source = TOOL.read_text()
    assert not re.search(r"^\s*(?:import|from)\s+expbook\b", source, re.M)
