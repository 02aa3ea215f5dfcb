"""Bounded YAML loading: safe tags only, and a cap on what aliases may expand to.

YAML anchors and aliases let a few hundred bytes describe a document of billions of nodes
(the "billion laughs" alias bomb). PyYAML's composer keeps an alias as a reference to the
anchored node, so the composed node graph stays small; the blow-up happens afterwards, in
anything that walks the loaded data as a tree (copying, ``json.dumps``). :func:`load`
composes the graph, measures the size the document has once every alias is expanded (each
distinct node is visited once, so the check costs time linear in the document), and refuses
documents over :data:`MAX_NODES` expanded nodes, nested deeper than :data:`MAX_DEPTH`, or
that refer to themselves, before any Python object is built.

Every failure, a syntax error, a bound exceeded or a value the safe constructor rejects
(``2020-13-45`` read as a date), is a :class:`yaml.YAMLError`; :func:`describe` turns one
into a one-line reason. ``tolerant=True`` reads Python-specific tags (``!!python/tuple``,
``!!python/object:...``, any ``!tag``) as plain mappings, lists and strings, never as
objects. The C loader (libyaml) is used when PyYAML has it.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_NODES = 200_000  # expanded nodes (scalars, sequences, mappings) in one document
MAX_DEPTH = 100  # nesting levels

try:
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader


class YAMLLimitError(yaml.YAMLError):
    """A document over a bound (expanded size, depth, a recursive alias): one line."""


class _ValueError(yaml.YAMLError):
    """A value the safe constructor cannot build (a date out of range...)."""


def expanded_size(root: yaml.Node, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> int:
    """Number of nodes of the document once every alias is expanded.

    Raises :class:`YAMLLimitError` as soon as the count passes ``max_nodes``, a path nests
    deeper than ``max_depth``, or a node contains itself. Iterative; each distinct node is
    visited once.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]  # (node, children done?)
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1
            tallest = 0
            for child in _children(node):
                total += size[id(child)]
                tallest = max(tallest, height[id(child)])
            if total > max_nodes:
                raise YAMLLimitError(
                    f"YAML expands to more than {max_nodes} nodes (aliases repeat too much)"
                )
            if tallest + 1 > max_depth:
                raise YAMLLimitError(f"YAML nested deeper than {max_depth} levels")
            size[key] = total
            height[key] = tallest + 1
            continue
        if key in size:
            continue
        if key in on_path:
            raise YAMLLimitError("YAML alias refers to a node that contains it (recursive)")
        if len(on_path) >= max_depth:
            raise YAMLLimitError(f"YAML nested deeper than {max_depth} levels")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)
    return size[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class BoundedLoader(_Base):
    """A safe loader that checks the composed document against the bounds before building."""

    max_nodes = MAX_NODES
    max_depth = MAX_DEPTH

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        expanded_size(node, self.max_nodes, self.max_depth)
        try:
            return self.construct_document(node)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, RecursionError) as e:
            raise _ValueError(f"unreadable value: {type(e).__name__}: {e}") from None


def _construct_plain(loader: Any, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


class TolerantLoader(BoundedLoader):
    """:class:`BoundedLoader` that reads Python and custom tags as plain data."""


TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", _construct_plain)
TolerantLoader.add_multi_constructor("!", _construct_plain)


def load(
    text: str | bytes,
    *,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
    tolerant: bool = False,
) -> Any:
    """The one document in ``text``, within the bounds; any failure is a ``yaml.YAMLError``."""
    base: type[BoundedLoader] = TolerantLoader if tolerant else BoundedLoader
    cls: Any = base
    if max_nodes != MAX_NODES or max_depth != MAX_DEPTH:
        cls = type("_Loader", (base,), {"max_nodes": max_nodes, "max_depth": max_depth})
    loader = cls(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise YAMLLimitError("YAML too deeply nested to read") from None
    finally:
        loader.dispose()


def describe(e: BaseException) -> str:
    """One line saying why a document was refused."""
    if isinstance(e, (YAMLLimitError, _ValueError)):
        return " ".join(str(e).split())
    mark = getattr(e, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    problem = getattr(e, "problem", None) or "syntax error"
    return " ".join(f"invalid YAML{where}: {problem}".split())
