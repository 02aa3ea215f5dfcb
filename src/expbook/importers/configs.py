"""Config files: JSON and YAML mappings, and Hydra output folders.

* A config file's mapping becomes the run's config as found (nested, keys and values kept).
* Hydra: ``.hydra/config.yaml`` is the config; ``.hydra/overrides.yaml`` (the command-line
  overrides, a list of ``key=value`` strings) is kept as config ``hydra.overrides`` (list of
  strings, as written) and each override is also added as a run tag (``optimizer.lr=0.01``);
  from ``.hydra/hydra.yaml`` the job name is kept as ``hydra.job_name`` and the config-group
  choices (``hydra.runtime.choices`` without Hydra's own ``hydra/...`` groups) as
  ``hydra.choices``. A user key named ``hydra`` in config.yaml wins over these.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from .. import _yaml
from . import common
from .model import ImportedRun, ParseError

FORMAT = "config"
ALIASES = ("configs", "yaml", "hydra")

NAMES = (
    "config.json",
    "config.yaml",
    "config.yml",
    "hparams.yaml",
    "hparams.yml",
    "hparams.json",
    "params.json",
    "params.yaml",
    "params.yml",
    "args.json",
    "args.yaml",
    "args.yml",
    "hyperparameters.json",
    "hyperparameters.yaml",
    "cfg.yaml",
    "cfg.json",
)


def load_any(data: bytes, path: str) -> Any:
    text, _ = common.decode_text(data, "config file")
    if path.lower().endswith(".json"):
        try:
            return common.loads_json(text)
        except ValueError as e:
            raise ParseError(f"invalid JSON: {common.one_line(e)}") from None
        except RecursionError:
            raise ParseError("JSON nested too deeply to read") from None
    try:
        return _yaml.load(text)
    except yaml.YAMLError as e:
        raise ParseError(_yaml.describe(e)) from None


def load_config(path: str, data: bytes | None = None) -> dict[str, Any]:
    """A config mapping from a JSON or YAML file (ParseError for anything else)."""
    if data is None:
        data = common.read_bytes(path)
    obj = load_any(data, path)
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ParseError(f"config must be a mapping, not a {type(obj).__name__}")
    return _clean(obj)


def _clean(obj: Any) -> Any:
    """YAML may give non-string keys and dates: make the config JSON-compatible."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def hydra_config(hydra_dir: str) -> tuple[dict[str, Any], list[str], list[str], list[str]]:
    """(config, tags, files read, warnings) of a ``.hydra`` folder."""
    config: dict[str, Any] = {}
    tags: list[str] = []
    files: list[str] = []
    warns: list[str] = []
    cfg_path = os.path.join(hydra_dir, "config.yaml")
    if os.path.isfile(cfg_path):
        try:
            config = load_config(cfg_path)
            files.append(cfg_path)
        except ParseError as e:
            warns.append(f".hydra/config.yaml: {e}")
    extra: dict[str, Any] = {}
    ov_path = os.path.join(hydra_dir, "overrides.yaml")
    if os.path.isfile(ov_path):
        try:
            ov = load_any(common.read_bytes(ov_path), ov_path)
            files.append(ov_path)
            if isinstance(ov, list):
                overrides = [str(x) for x in ov]
                extra["overrides"] = overrides
                tags.extend(overrides)
        except ParseError as e:
            warns.append(f".hydra/overrides.yaml: {e}")
    hy_path = os.path.join(hydra_dir, "hydra.yaml")
    if os.path.isfile(hy_path):
        try:
            hy = load_any(common.read_bytes(hy_path), hy_path)
            files.append(hy_path)
            h = hy.get("hydra", {}) if isinstance(hy, dict) else {}
            job = (h.get("job") or {}).get("name") if isinstance(h, dict) else None
            if job:
                extra["job_name"] = str(job)
            choices = ((h.get("runtime") or {}).get("choices") or {}) if isinstance(h, dict) else {}
            if isinstance(choices, dict):
                ch = {
                    str(k): _clean(v) for k, v in choices.items() if not str(k).startswith("hydra/")
                }
                if ch:
                    extra["choices"] = ch
        except ParseError as e:
            warns.append(f".hydra/hydra.yaml: {e}")
    if extra:
        common.deep_merge(config, {"hydra": extra})
    return config, tags, files, warns


def sniff_file(path: str, head: bytes) -> int:
    base = os.path.basename(path).lower()
    ext = os.path.splitext(base)[1]
    if ext not in (".json", ".yaml", ".yml") or not head or common.looks_binary(head):
        return 0
    if ext == ".json" and not head.lstrip().startswith(b"{"):
        return 0
    return 40 if base in NAMES else 15


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    if os.path.isdir(path):
        hd = path if os.path.basename(path) == ".hydra" else os.path.join(path, ".hydra")
        if not os.path.isdir(hd):
            raise ParseError("not a config file or Hydra output folder")
        config, tags, files, warns = hydra_config(hd)
        folder = os.path.dirname(hd)
        run = common.new_run(folder, FORMAT, opts, name=os.path.basename(folder))
        run.config.update(config)
        run.tags.extend(tags)
        run.warnings.extend(warns)
        for f in files:
            run.files.append(common.source_of(f, common.read_bytes(f)))
        return common.finish_runs([run], opts)
    data = common.read_bytes(path)
    config = load_config(path, data)
    if not config:
        raise ParseError("empty config")
    run = common.new_run(path, FORMAT, opts)
    run.config.update(config)
    run.files.append(common.source_of(path, data))
    return common.finish_runs([run], opts)
