"""Hugging Face ``Trainer`` output: ``trainer_state.json`` in an output or ``checkpoint-N`` folder.

* ``log_history`` entries become series over their ``step``: ``loss``, ``eval_loss``,
  ``learning_rate``, ``grad_norm``... as named; ``epoch`` is a series too.
* The closing entry of ``Trainer.train()`` (``train_runtime``, ``train_loss``, ...) goes to the
  summary, with ``global_step``, ``epoch``, ``best_metric``, ``best_model_checkpoint``,
  ``best_global_step``, ``total_flos`` and the numbers of ``*_results.json`` files
  (``trainer.save_metrics``).
* Config: the Trainer's own settings found in the state (``train_batch_size``,
  ``num_train_epochs``, ``max_steps``, ``logging_steps``, ``eval_steps``, ``save_steps``),
  hyperparameter-search ``trial_params``, the ``TrainingArguments`` saved as
  ``training_args.json`` (``args.to_json_string()``, as many training scripts do: every
  non-null value, typed as written, nested maps kept), and the model's ``config.json`` under
  ``model`` (scalars, nulls included, and maps such as ``id2label``). ``training_args.bin``
  is a pickle and is never loaded.
* Status: ``finished`` when training closed (or reached ``max_steps``), else ``running``.

An output folder with several ``checkpoint-N`` folders is one run; the most advanced state
(highest ``global_step``, the top-level one on ties) is read. Plain JSON: transformers is not
needed.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

from expbook.importers import common
from expbook.importers.model import ImportedRun, ParseError, SourceFile

FORMAT = "huggingface"
ALIASES = ("hf", "transformers", "trainer")

_STATE = "trainer_state.json"
_ARGS = "training_args.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_RESULTS = ("all_results.json", "train_results.json", "eval_results.json", "test_results.json")
_CONFIG_KEYS = (
    "train_batch_size",
    "num_train_epochs",
    "max_steps",
    "logging_steps",
    "eval_steps",
    "save_steps",
)
_SUMMARY_KEYS = (
    "global_step",
    "epoch",
    "best_metric",
    "best_model_checkpoint",
    "best_global_step",
    "total_flos",
    "num_input_tokens_seen",
)


def _checkpoints(folder: str) -> list[str]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    found = [
        (int(m.group(1)), e.path)
        for e in entries
        if (m := _CHECKPOINT.match(e.name))
        and e.is_dir()
        and os.path.isfile(os.path.join(e.path, _STATE))
    ]
    return [p for _, p in sorted(found)]


def _is_run_folder(folder: str) -> bool:
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    if _STATE in names and os.path.isfile(os.path.join(folder, _STATE)):
        return True
    if any(_CHECKPOINT.match(n) for n in names) and _checkpoints(folder):
        return True
    return _is_output_folder(folder, names)


def _is_output_folder(folder: str, names: list[str] | None = None) -> bool:
    """A Trainer output folder saved without ``trainer_state.json``: ``*_results.json``
    (``trainer.save_metrics``) beside ``training_args.bin``/``.json``."""
    if names is None:
        try:
            names = os.listdir(folder)
        except OSError:
            return False
    if not any(n in names for n in _RESULTS) or not any(
        n in names for n in (_ARGS, "training_args.bin")
    ):
        return False
    has = os.path.isfile
    return any(has(os.path.join(folder, n)) for n in _RESULTS)


def claim_dir(path: str) -> bool:
    """An output folder or checkpoint folder holding ``trainer_state.json``."""
    return os.path.isdir(path) and _is_run_folder(path)


def sniff_file(path: str, head: bytes) -> int:
    """``trainer_state.json``, or any JSON with ``log_history`` and ``global_step``."""
    if b'"log_history"' not in head:
        return 0
    if os.path.basename(path) == _STATE:
        return 95
    return 70 if b'"global_step"' in head else 40


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    """Read an output folder, a checkpoint folder, a state file, or every run below ``path``."""
    return common.guarded_parse(_parse, path, opts)


def _parse(path: str) -> list[ImportedRun]:
    path = os.path.abspath(path)
    if os.path.isfile(path):
        return [_read_run(os.path.dirname(path), [path])]
    if not os.path.isdir(path):
        raise ParseError(f"no such file or folder: {path}")
    if _is_run_folder(path):
        return [_read_run(path, _candidates(path))]
    runs = [_read_run(sub, _candidates(sub)) for sub in common.subdirs(path) if _is_run_folder(sub)]
    if not runs:
        raise ParseError(f"no {_STATE} in or below {path}")
    return runs


def _candidates(folder: str) -> list[str]:
    top = os.path.join(folder, _STATE)
    found = [top] if os.path.isfile(top) else []
    return found + [os.path.join(c, _STATE) for c in reversed(_checkpoints(folder))]


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = common.loads_json(f.read().decode("utf-8"))
    except OSError as e:
        raise ParseError(f"cannot read {path}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise ParseError(f"{os.path.basename(path)} is not UTF-8 text") from e
    except json.JSONDecodeError as e:
        raise ParseError(
            f"{os.path.basename(path)} is not valid JSON (line {e.lineno}: {e.msg})"
        ) from e
    except RecursionError:
        raise ParseError(f"{os.path.basename(path)} is nested too deeply to read") from None
    if not isinstance(data, dict) or not isinstance(data.get("log_history"), list):
        raise ParseError(f"{os.path.basename(path)} has no log_history: not a Trainer state")
    return data


def _read_run(folder: str, candidates: list[str]) -> ImportedRun:
    """Pick the most advanced readable state among ``candidates`` and map it."""
    best: tuple[int, str, dict[str, Any]] | None = None
    errors: list[str] = []
    for cand in candidates:
        try:
            state = _load(cand)
        except ParseError as e:
            errors.append(str(e))
            continue
        step = _int(state.get("global_step")) or 0
        if best is None or step > best[0]:
            best = (step, cand, state)
    if best is None:
        if errors or not _is_output_folder(folder):
            raise ParseError(errors[0] if errors else f"no {_STATE} in {folder}")
        # results and arguments only: no history, training done (save_metrics ran)
        best = (0, "", {"log_history": []})
    _, state_path, state = best

    base = os.path.basename(folder)
    if _CHECKPOINT.match(base):
        base = os.path.basename(os.path.dirname(folder)) or base
    run = ImportedRun(name=base, format=FORMAT, source=folder)
    if state_path:
        run.files.append(SourceFile.of(state_path))
    for err in errors:
        run.warnings.append(f"skipped a state file: {err}")

    closing = _read_history(state["log_history"], run)
    for key in _CONFIG_KEYS:
        if _is_scalar(state.get(key)):
            run.config[key] = state[key]
    if isinstance(state.get("trial_params"), dict):
        run.config.update(state["trial_params"])
    for key in _SUMMARY_KEYS:
        value = state.get(key)
        if _is_scalar(value) and not (key == "num_input_tokens_seen" and not value):
            run.summary[key] = value
    run.summary.update(closing)

    state_dir = os.path.dirname(state_path) if state_path else folder
    model_config = os.path.join(state_dir, "config.json")
    if not os.path.isfile(model_config):
        model_config = os.path.join(folder, "config.json")
    args_path = os.path.join(state_dir, _ARGS)
    if not os.path.isfile(args_path):
        args_path = os.path.join(folder, _ARGS)
    if os.path.isfile(args_path):
        args = {k: v for k, v in _json_dict(args_path, run).items() if _is_setting(v)}
        for k, v in args.items():
            run.config.setdefault(k, v)
        if args:
            run.files.append(SourceFile.of(args_path))
    if os.path.isfile(model_config):
        model = _json_dict(model_config, run)
        kept = {k: v for k, v in model.items() if v is None or _is_scalar(v) or _is_small_map(v)}
        if kept:
            run.config["model"] = kept
            run.files.append(SourceFile.of(model_config))
    for name in _RESULTS:
        results = os.path.join(folder, name)
        if os.path.isfile(results):
            numbers = {k: v for k, v in _json_dict(results, run).items() if _is_scalar(v)}
            for k, v in numbers.items():
                run.summary.setdefault(k, v)
            run.files.append(SourceFile.of(results))

    global_step = _int(state.get("global_step")) or 0
    max_steps = _int(state.get("max_steps")) or 0
    if closing or (max_steps > 0 and global_step >= max_steps) or not state_path:
        run.status = "finished"
    else:
        run.status = "running"
        of = f" of {max_steps}" if max_steps else ""
        run.warnings.append(
            f"training had not finished at step {global_step}{of} (still running, or stopped)"
        )
    return run


def _read_history(history: list[Any], run: ImportedRun) -> dict[str, Any]:
    """Series from log entries; returns the closing ``train_runtime`` entry for the summary."""
    closing: dict[str, Any] = {}
    epoch_at: dict[int, float] = {}
    for entry in history:
        if not isinstance(entry, dict):
            run.skipped_lines += 1
            continue
        if "train_runtime" in entry:
            closing.update(
                {k: v for k, v in entry.items() if k not in ("step", "epoch") and _is_number(v)}
            )
            continue
        step = _int(entry.get("step"))
        if step is None:
            run.skipped_lines += 1
            continue
        for key, value in entry.items():
            if key == "step" or not _is_number(value):
                continue
            if key == "epoch":
                if epoch_at.get(step) == value:
                    continue  # train and eval entries at one step repeat the epoch
                epoch_at[step] = float(value)
            run.add_point(key, step, float(value))
    return closing


def _json_dict(path: str, run: ImportedRun) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = common.loads_json(f.read())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        run.warnings.append(f"{os.path.basename(path)}: unreadable ({type(e).__name__})")
        return {}
    return data if isinstance(data, dict) else {}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_scalar(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    return isinstance(v, (int, bool, str))


def _is_setting(v: Any) -> bool:
    """A training argument worth keeping: a scalar, or a list or map of scalars."""
    if isinstance(v, list):
        return len(v) <= 100 and all(_is_scalar(x) or x is None for x in v)
    return _is_scalar(v) or _is_small_map(v)


def _is_small_map(v: Any) -> bool:
    return (
        isinstance(v, dict)
        and len(v) <= 1000
        and all(_is_scalar(x) or x is None for x in v.values())
    )


def _int(v: Any) -> int | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not v.is_integer():
        return None
    return int(v)
