"""The format plug-ins and the options every parser receives.

Every module listed in :data:`FORMAT_MODULES` follows one protocol::

    FORMAT: str                                   # name for `expbook import --from NAME`
    ALIASES: tuple[str, ...]                      # optional other names for --from
    def claim_dir(path: str) -> bool              # optional: this folder is one unit
    def sniff_file(path: str, head: bytes) -> int # optional: 0..100 confidence for one file
    def parse(path: str, opts: ParseOptions) -> list[ImportedRun]  # ParseError("one line")

Modules are imported lazily, on first use. A module that is missing, or whose optional
dependency is missing (any exception while importing it), makes its format *unavailable*, with
the reason; nothing else is affected. The order of :data:`FORMAT_MODULES` is the order in
which ``claim_dir`` is asked and breaks ties between equal ``sniff_file`` scores.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from types import ModuleType

from .common import one_line

# Specific stores first (they claim whole folders), then generic run folders, then single files.
FORMAT_MODULES: tuple[str, ...] = (
    "tensorboard",
    "mlflow",
    "wandb",
    "lightning",
    "huggingface",
    "folder",
    "textlog",
    "tabular",
    "predictions",
    "summary",
    "configs",
)


@dataclass
class ParseOptions:
    """Options from the command line, passed to every parser.

    pattern: the ``--pattern`` spec for text logs (see :mod:`expbook.importers.pattern`).
    from_format: the ``--from`` format name (None: detect).
    project: the ``--project`` name; parsers set ``ImportedRun.project`` from it.
    name: a run name to use when a unit yields exactly one run (ignored when it yields
    several; meant for importing a single file or folder); None: names are inferred.
    """

    pattern: str | None = None
    from_format: str | None = None
    project: str | None = None
    name: str | None = None


@dataclass
class FormatInfo:
    module_name: str  # import name inside expbook.importers
    name: str  # FORMAT (the module name if the module could not be imported)
    aliases: tuple[str, ...] = ()
    module: ModuleType | None = None
    error: str | None = None  # why the format is unavailable

    @property
    def available(self) -> bool:
        return self.module is not None

    @property
    def can_claim_dir(self) -> bool:
        return self.module is not None and callable(getattr(self.module, "claim_dir", None))

    @property
    def can_sniff(self) -> bool:
        return self.module is not None and callable(getattr(self.module, "sniff_file", None))


class UnknownFormat(ValueError):
    """``--from NAME`` names no format, or an unavailable one (one-line message)."""


_cache: dict[str, FormatInfo] = {}
_lock = threading.Lock()


def load(module_name: str) -> FormatInfo:
    """Import one format module (once) and describe it."""
    with _lock:
        info = _cache.get(module_name)
        if info is not None:
            return info
        try:
            mod = importlib.import_module(f"{__package__}.{module_name}")
        except ImportError as e:
            missing = getattr(e, "name", None)
            if missing == f"{__package__}.{module_name}":
                reason = f"format module {module_name!r} is not installed"
            elif missing:
                reason = f"needs the Python package {missing.split('.')[0]!r} ({one_line(e)})"
            else:
                reason = one_line(e)
            info = FormatInfo(module_name, module_name, error=reason)
        except Exception as e:  # a broken plug-in must not break the others
            info = FormatInfo(module_name, module_name, error=f"failed to load: {one_line(e)}")
        else:
            name = getattr(mod, "FORMAT", None)
            if not isinstance(name, str) or not callable(getattr(mod, "parse", None)):
                info = FormatInfo(
                    module_name, module_name, error="not a format module (no FORMAT/parse)"
                )
            else:
                aliases = tuple(getattr(mod, "ALIASES", ()) or ())
                info = FormatInfo(module_name, name, aliases, mod)
        _cache[module_name] = info
        return info


def formats() -> list[FormatInfo]:
    """Every listed format, available or not."""
    return [load(m) for m in FORMAT_MODULES]


def available() -> list[FormatInfo]:
    return [f for f in formats() if f.available]


def unavailable() -> dict[str, str]:
    """Format name -> reason, for the formats that cannot be used."""
    return {f.name: f.error or "" for f in formats() if not f.available}


def resolve(name: str) -> FormatInfo:
    """The format for ``--from NAME`` (its FORMAT, an alias or its module name)."""
    key = name.strip().lower()
    infos = formats()
    for f in infos:
        if f.available and (key == f.name.lower() or key in f.aliases):
            return f
    for f in infos:
        if key in (f.module_name, f.name.lower()):
            raise UnknownFormat(f"format {name!r} is unavailable: {f.error}")
    names = sorted({f.name for f in infos if f.available} | {a for f in infos for a in f.aliases})
    raise UnknownFormat(f"unknown format {name!r} (known: {', '.join(names)})")


def reset_cache() -> None:
    """Forget imported modules (tests)."""
    with _lock:
        _cache.clear()
