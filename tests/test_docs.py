"""The docs stay true: README set-up commands, CI, every CLI command documented."""

from __future__ import annotations

import re
from pathlib import Path

import expbook
from expbook.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def setup_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", README)[:2]


def test_readme_starts_with_two_setup_commands() -> None:
    first, second = setup_commands()
    assert "expbook demo" in first
    assert "pytest" in second and ".[test" in second


def test_ci_runs_the_readme_test_command() -> None:
    assert setup_commands()[1] in (ROOT / ".ci" / "run").read_text()


def test_every_command_is_documented() -> None:
    for name, cmd in cli.commands.items():
        assert f"expbook {name}" in README, name
        assert cmd.help, name


def test_public_api_is_pinned() -> None:
    for name in expbook.__all__:
        assert hasattr(expbook, name) or name in ("run", "config", "summary"), name
    assert set(expbook.__all__) == {
        "AlertLevel",
        "AmbiguousRun",
        "Artifact",
        "Audio",
        "Histogram",
        "Html",
        "Image",
        "Video",
        "log_artifact",
        "plot",
        "save",
        "use_artifact",
        "Api",
        "Config",
        "ExpbookError",
        "MetricError",
        "MetricSummary",
        "Run",
        "RunList",
        "RunNotFound",
        "RunRecord",
        "Settings",
        "Store",
        "StoreError",
        "Summary",
        "Table",
        "TableSet",
        "UnknownKey",
        "UsageError",
        "__version__",
        "alert",
        "config",
        "define_metric",
        "finish",
        "init",
        "log",
        "login",
        "mark_preempting",
        "open_store",
        "require",
        "run",
        "setup",
        "summary",
        "teardown",
        "termerror",
        "termlog",
        "termwarn",
        "unwatch",
        "watch",
    }
