"""Config files: JSON and YAML mappings, key,value CSV tables, and Hydra output folders.

* A config file's mapping becomes the run's config as found (nested, keys and values kept
  with their types: numbers, booleans, null, lists, nested maps).
* YAML written by Python programs (Lightning's ``hparams.yaml``, detectron2's ``config.yaml``)
  is read safely, never by running Python: ``!!python/tuple`` (and lists, sets' values...)
  become lists, ``!!python/object:...`` maps become plain maps, ``!!python/name:torch.nn.ReLU``
  the string ``torch.nn.ReLU``, ``!!python/none``/``bool``/``int``/``float`` their values, and a
  numpy scalar (``!!python/object/apply:numpy.core.multiarray.scalar``: a dtype and the raw
  bytes) its number. Any other tag is read as the plain data under it.
* ``meta_tags.csv`` (old Lightning / test-tube): ``key,value`` rows, each value typed as
  Python wrote it (``10`` -> 10, ``0.2`` -> 0.2, ``False`` -> false, ``None`` -> null,
  ``(1, 8, 8)`` -> [1, 8, 8]; anything else stays a string).
* A file without an extension named like a config (``config``, ``hparams``, ``args``...) is
  read as JSON when it holds a JSON object (tensorflow/nmt's ``hparams``), else as YAML.
* Hydra: ``.hydra/config.yaml`` is the config; ``.hydra/overrides.yaml`` (the command-line
  overrides, a list of ``key=value`` strings) is kept as config ``hydra.overrides`` (list of
  strings, as written) and each override is also added as a run tag (``optimizer.lr=0.01``);
  from ``.hydra/hydra.yaml`` the job name is kept as ``hydra.job_name`` and the config-group
  choices (``hydra.runtime.choices`` without Hydra's own ``hydra/...`` groups) as
  ``hydra.choices``. A user key named ``hydra`` in config.yaml wins over these.
"""

from __future__ import annotations

import ast
import csv
import io
import os
import re
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
    "training_args.json",
    "meta_tags.csv",
    "opt.yaml",
    "hyp.yaml",
)
# extensionless files read as YAML configs when they are named like one
BARE_NAMES = frozenset({"config", "hparams", "params", "args", "cfg", "hyperparameters"})


# ---------------------------------------------------------------------------------------------
# YAML from Python programs


_NUMPY_SCALAR = frozenset(
    {"object/apply:numpy.core.multiarray.scalar", "object/apply:numpy._core.multiarray.scalar"}
)
_DTYPE = re.compile(r"^[<>=|]?(?:[fiuc]\d{1,2}|b1|\?)$")


def _plain(loader: Any, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


def _numpy_scalar(parts: Any) -> Any:
    """``[dtype, raw bytes]`` of a pickled numpy scalar -> its Python number (None if odd)."""
    if not (isinstance(parts, list) and len(parts) == 2 and isinstance(parts[1], bytes)):
        return None
    dtype = parts[0]
    if not isinstance(dtype, str) or not _DTYPE.match(dtype):
        return None
    import numpy as np

    try:
        dt = np.dtype(dtype)
        if dt.itemsize != len(parts[1]):
            return None
        value = np.frombuffer(parts[1], dtype=dt)[0].item()
    except (TypeError, ValueError):
        return None
    return str(value) if isinstance(value, complex) else value


def _construct_python(loader: Any, suffix: str, node: yaml.Node) -> Any:
    if suffix.startswith(("name:", "module:")):
        return suffix.split(":", 1)[1]
    if suffix == "none":
        return None
    if suffix in ("bool", "int", "long", "float") and isinstance(node, yaml.ScalarNode):
        tag = "bool" if suffix == "bool" else "int" if suffix in ("int", "long") else "float"
        node = yaml.ScalarNode(f"tag:yaml.org,2002:{tag}", node.value, node.start_mark)
        return loader.construct_object(node, deep=True)
    if suffix == "object/apply:numpy.dtype":
        data = _plain(loader, node)
        args = data.get("args") if isinstance(data, dict) else data
        if isinstance(args, list) and args and isinstance(args[0], str):
            return args[0]
        return data
    if suffix in _NUMPY_SCALAR:
        data = _plain(loader, node)
        value = _numpy_scalar(data)
        return data if value is None else value
    return _plain(loader, node)


def _construct_tagged(loader: Any, suffix: str, node: yaml.Node) -> Any:
    return _plain(loader, node)


class TypedLoader(_yaml.BoundedLoader):
    """:class:`expbook._yaml.BoundedLoader` that reads Python and custom tags as data."""


TypedLoader.add_multi_constructor("tag:yaml.org,2002:python/", _construct_python)
TypedLoader.add_multi_constructor("!", _construct_tagged)


def load_yaml(text: str) -> Any:
    """One YAML document, bounded like :func:`expbook._yaml.load`, Python tags read as data
    (see the module doc). Any failure is a ``yaml.YAMLError``."""
    loader = TypedLoader(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise _yaml.YAMLLimitError("YAML too deeply nested to read") from None
    finally:
        loader.dispose()


# ---------------------------------------------------------------------------------------------
# key,value tables


def typed_value(text: str) -> Any:
    """A value as Python's ``str()`` wrote it -> its type (int, float, bool, None, list, dict),
    or the string itself."""
    t = text.strip()
    if t in ("True", "False", "true", "false"):
        return t.lower() == "true"
    if t in ("None", "null", ""):
        return None
    if t[:1] in "([{" and t[-1:] in ")]}" and len(t) < 10_000:
        try:
            v = ast.literal_eval(t)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return t
        return _clean(v)
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return t


def load_key_value_csv(text: str) -> dict[str, Any]:
    """``key,value`` rows (test-tube's ``meta_tags.csv``) -> a typed mapping."""
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    except csv.Error as e:
        raise ParseError(f"unreadable CSV: {e}") from None
    if not rows:
        return {}
    header = [c.strip().lower() for c in rows[0]]
    if header[:2] != ["key", "value"]:
        raise ParseError("not a key,value table (its header is not 'key,value')")
    out: dict[str, Any] = {}
    for r in rows[1:]:
        if len(r) < 2 or not r[0].strip():
            continue
        out[r[0].strip()] = typed_value(",".join(r[1:]))
    return out


def load_any(data: bytes, path: str) -> Any:
    text, _ = common.decode_text(data, "config file")
    low = path.lower()
    if low.endswith(".json"):
        try:
            return common.loads_json(text)
        except ValueError as e:
            raise ParseError(f"invalid JSON: {common.one_line(e)}") from None
        except RecursionError:
            raise ParseError("JSON nested too deeply to read") from None
    if low.endswith(".csv"):
        return load_key_value_csv(text)
    if not os.path.splitext(low)[1] and text.lstrip().startswith("{"):
        try:  # a bare ``hparams`` file holding JSON (tensorflow/nmt)
            return common.loads_json(text)
        except (ValueError, RecursionError):
            pass
    try:
        return load_yaml(text)
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
    if isinstance(obj, (set, frozenset)):
        return [_clean(v) for v in sorted(obj, key=repr)]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, bytes):
        return obj.hex() if len(obj) <= 64 else f"<{len(obj)} bytes>"
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


_YAML_KEY = re.compile(r"^[A-Za-z_][\w.\-]*:(?:\s|$)")


def looks_yaml_mapping(head: bytes) -> bool:
    """A YAML mapping by its look: its first lines are ``key:`` lines or indented under them."""
    text = head.decode("utf-8", "replace")
    lines = [ln for ln in text.splitlines()[:50] if ln.strip() and not ln.lstrip().startswith("#")]
    if len(head) >= common.HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]
    if not lines or (lines[0] == "---" and len(lines) == 1):
        return False
    if lines[0] == "---":
        lines = lines[1:]
    if not _YAML_KEY.match(lines[0]):
        return False
    return all(_YAML_KEY.match(ln) or ln[:1] in (" ", "\t", "-") for ln in lines)


def looks_config(head: bytes) -> bool:
    """A bare config file's content: a YAML mapping, or a JSON object."""
    return head.lstrip().startswith(b"{") or looks_yaml_mapping(head)


def sniff_file(path: str, head: bytes) -> int:
    base = os.path.basename(path).lower()
    ext = os.path.splitext(base)[1]
    if not head or common.looks_binary(head):
        return 0
    if ext == "" and base in BARE_NAMES:
        return 55 if looks_config(head) else 0
    if ext == ".csv":
        first = head.split(b"\n", 1)[0].strip().lower().replace(b" ", b"")
        return 85 if base in NAMES and first == b"key,value" else 0
    if ext not in (".json", ".yaml", ".yml"):
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
