"""A small, safe expression language for filters, derived metrics and journal claims.

Expressions are tokenized, parsed by recursive descent into an AST and compiled to Python
closures. Nothing is ever handed to Python's ``eval``: the only names an expression can reach
are the ones a *name binder* gives it, and the only functions are those in the function table
passed to :func:`compile_expr`.

Grammar (lowest precedence first)::

    expr           := or_expr
    or_expr        := and_expr ( "or" and_expr )*
    and_expr       := not_expr ( "and" not_expr )*
    not_expr       := "not" not_expr | comparison
    comparison     := additive [ comp_op additive ]      # not chained: write a < b and b < c
    comp_op        := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in"
    additive       := multiplicative ( ("+" | "-") multiplicative )*
    multiplicative := unary ( ("*" | "/" | "%") unary )*
    unary          := ("-" | "+") unary | power
    power          := primary [ "**" unary ]             # right-assoc; -2**2 == -4
    primary        := NUMBER | STRING | "true" | "false" | "null"
                    | NAME | QUOTED_NAME | PATTERN
                    | IDENT "(" [ arg ( "," arg )* [","] ] ")"
                    | "(" expr ")"
                    | "[" [ expr ( "," expr )* [","] ] "]"
    arg            := expr | IDENT "=" expr

Tokens:

* NUMBER: ``12``, ``1.5``, ``.5``, ``1e-6``, ``2.5E+3``. Integer literals stay integers.
* STRING: ``'...'`` or ``"..."``; backslash escapes ``\\\\ \\' \\" \\n \\t``.
* NAME: ``[A-Za-z_][A-Za-z0-9_]*`` segments joined by dots: ``test_mse``,
  ``config.model.latent_dim``, ``config.layers.0``.
* QUOTED_NAME: any key in backquotes, for keys with other characters:
  ```operator/loss```, ```Test F1 (non-diag)```. ``/`` outside backquotes is always division.
  A literal backquote inside is written twice.
* PATTERN: a glob over names (run names, keys): a word with ``?`` in it, a word that starts
  with ``*`` (``*_airy``), or a word that ends with ``*`` when no operand follows
  (``exp20_*`` in ``count(passes(exp20_*, loss, 1e-6))``). ``a*b`` is multiplication, so a
  glob with a ``*`` in the middle goes in backquotes: ```exp20_*_airy```. A backquoted name
  containing ``*`` or ``?`` is a pattern. Patterns evaluate to :class:`Glob` strings.
* Keywords: ``and or not in true false null`` (``True False None`` are accepted too).
* RUN: in a run position of a function (:attr:`Function.run_params`, e.g. the first argument
  of the journal's ``final(run, metric)``) a bare word of letters, digits and ``_ - . * ?``
  followed by ``,`` or ``)`` is one run reference, not arithmetic: ``final(mlp-h4-lr3, loss)``,
  ``final(5vbxlcek, loss)``, ``passes(gen-*, loss, 1e-6)``. Anywhere else ``a-b`` subtracts.

Semantics:

* A name the binder does not know evaluates to ``null``.
* Arithmetic with ``null`` gives ``null``; so do type mismatches (``"a" * 2``), division or
  ``%`` by zero, ``log``/``sqrt`` outside their domain and powers that would be complex.
  Overflow gives ``inf``. Booleans count as 0/1. ``+`` also concatenates two strings.
* Comparisons: when a side is null (a missing key, a null result) every comparison is
  false, ``!=`` included. The one exception is a comparison with the literal ``null``:
  ``x == null`` tests for a missing value and ``x != null`` for a present one. Ordering a
  string against a number is false.
* ``a in b``: membership when ``b`` is a list (e.g. ``"jax" in tags``), substring when both are
  strings, key membership for a mapping; false otherwise (``null`` included).
* ``and``/``or``/``not`` use truthiness (``null``, ``false``, ``0``, ``NaN``, ``""`` and ``[]``
  are false) and return booleans; ``and``/``or`` short-circuit.

Errors: anything wrong in the text (syntax, unknown function, wrong number of arguments, a
metric function given something other than a key) raises :class:`ExprError` when the
expression is compiled, with a one-line message and the column; :meth:`ExprError.pretty` adds
the source line with a caret under the problem.

Reuse: :func:`compile_expr` takes a function table (name -> :class:`Function`) and a name
binder (name -> getter of an environment), so the same parser serves run filters, derived
metrics (:mod:`expbook.analysis.derive`) and journal claims.
"""

from __future__ import annotations

from .errors import MAX_DEPTH, MAX_LENGTH, ExprError
from .evaluator import (
    BASE_FUNCTIONS,
    Arg,
    CompiledExpr,
    Function,
    Glob,
    compile_expr,
    evaluate,
    truthy,
)
from .parser import (
    Binary,
    BoolOp,
    Call,
    Const,
    ListExpr,
    Name,
    Node,
    Not,
    Pattern,
    Unary,
    iter_nodes,
    parse,
)

__all__ = [
    "BASE_FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Arg",
    "Binary",
    "BoolOp",
    "Call",
    "CompiledExpr",
    "Const",
    "ExprError",
    "Function",
    "Glob",
    "ListExpr",
    "Name",
    "Node",
    "Not",
    "Pattern",
    "Unary",
    "compile_expr",
    "evaluate",
    "iter_nodes",
    "parse",
    "truthy",
]
