"""The expression language: grammar, precedence, semantics, errors, safety."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expbook.expr import (
    BASE_FUNCTIONS,
    MAX_DEPTH,
    Arg,
    Binary,
    Call,
    Const,
    ExprError,
    Function,
    Glob,
    Name,
    Pattern,
    compile_expr,
    evaluate,
    parse,
)


def ev(src: str, **env):
    return evaluate(src, env)


# -- literals and names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "value"),
    [
        ("12", 12),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e-6", 1e-6),
        ("2.5E+3", 2500.0),
        ("'single'", "single"),
        ('"double"', "double"),
        (r'"a\"b\\c\n"', 'a"b\\c\n'),
        ("true", True),
        ("false", False),
        ("null", None),
        ("None", None),
        ("[1, 'a', null]", [1, "a", None]),
        ("[]", []),
    ],
)
def test_literals(src, value):
    assert ev(src) == value


def test_integer_literals_stay_integers():
    assert isinstance(ev("15000"), int)
    assert isinstance(ev("1e3"), float)
    assert ev("9" * 5000) == math.inf  # beyond int(str) limits: a float, not a ValueError


def test_names_dotted_backquoted_and_patterns():
    assert parse("config.model.latent_dim") == Name(0, "config.model.latent_dim")
    assert parse("config.layers.0") == Name(0, "config.layers.0")
    assert parse("`operator/loss`") == Name(0, "operator/loss", True)
    assert parse("`Test F1 (non-diag)`") == Name(0, "Test F1 (non-diag)", True)
    assert parse("`a``b`") == Name(0, "a`b", True)
    assert parse("config.`odd/key`") == Name(0, "config.odd/key")
    assert parse("`my model`.layers") == Name(0, "my model.layers", True)
    assert parse("exp20_*") == Pattern(0, "exp20_*")
    assert parse("*_airy") == Pattern(0, "*_airy")
    assert parse("run_?") == Pattern(0, "run_?")
    assert parse("`exp20_*_airy`") == Pattern(0, "exp20_*_airy")


def test_glob_star_versus_multiplication():
    assert parse("a*b") == Binary(0, "*", Name(0, "a"), Name(2, "b"), 1)
    assert parse("a * b") == Binary(0, "*", Name(0, "a"), Name(4, "b"), 2)
    assert parse("a*(b)").op == "*"
    assert parse("a**2").op == "**"
    # trailing star followed by ',' or ')' is a glob
    call = parse("count(passes(exp20_*, loss, 1e-6))")
    assert isinstance(call, Call)
    inner = call.args[0]
    assert isinstance(inner, Call)
    assert inner.args[0] == Pattern(13, "exp20_*")
    assert inner.args[2] == Const(28, 1e-6)


def test_ambiguous_inner_star_is_an_error():
    with pytest.raises(ExprError, match="backquotes"):
        parse("exp20_*_airy")


def test_names_resolve_through_the_environment():
    assert ev("x + 1", x=2) == 3
    assert ev("missing") is None
    assert ev("`a/b` * 2", **{"a/b": 4}) == 8


# -- precedence and associativity --------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 3 ** 2", 512),
        ("-2 ** 2", -4),
        ("(-2) ** 2", 4),
        ("2 ** -1", 0.5),
        ("10 - 4 - 3", 3),
        ("12 / 3 / 2", 2.0),
        ("7 % 4 * 2", 6),
        ("--3", 3),
        ("1 + 2 < 4", True),
        ("not 1 < 2", False),
        ("true or false and false", True),
        ("(true or false) and false", False),
        ("not true or true", True),
        ("1 < 2 == true", None),
    ],
)
def test_precedence(src, value):
    if value is None:  # chained comparison
        with pytest.raises(ExprError, match="chained"):
            ev(src)
    else:
        assert ev(src) == value


# -- semantics --------------------------------------------------------------------------------


def test_null_semantics():
    assert ev("x == null") is True
    assert ev("x != null") is False
    assert ev("x != null", x=1) is True
    assert ev("x < 1") is False
    assert ev("x >= 1") is False
    assert ev("x == 1") is False
    assert ev("x != 1") is False  # every comparison with null is false
    assert ev("not (x == 1)") is True
    assert ev("x + 1") is None
    assert ev("-x") is None


def test_arithmetic_edge_cases():
    assert ev("1 / 0") is None
    assert ev("1 % 0") is None
    assert ev("7 / 2") == 3.5
    assert ev("exp(1000)") == math.inf
    assert ev("9 ** 9 ** 9") == math.inf  # no giant integer
    assert ev("(-8) ** 0.5") is None  # would be complex
    assert ev("'a' + 'b'") == "ab"
    assert ev("'a' * 3") is None
    assert ev("'a' + 1") is None
    assert ev("true + true") == 2


def test_comparisons_and_membership():
    assert ev("'jax' in tags", tags=["jax", "gnn"]) is True
    assert ev("'torch' in tags", tags=["jax"]) is False
    assert ev("'torch' not in tags", tags=["jax"]) is True
    assert ev("'jax' in tags") is False  # null container
    assert ev("'5to7' in name", name="gen_jax_5to7to8") is True
    assert ev("x in [1, 2]", x=2.0) is True
    assert ev("'a' < 'b'") is True
    assert ev("'a' < 1") is False
    assert ev("'1' == 1") is False
    assert ev("1 == 1.0") is True


def test_boolean_ops_short_circuit_and_return_booleans():
    calls = []

    def boom(x):
        calls.append(x)
        return True

    funcs = {**BASE_FUNCTIONS, "boom": Function(boom, ("x",), 1)}
    assert compile_expr("false and boom(1)", functions=funcs)() is False
    assert compile_expr("true or boom(1)", functions=funcs)() is True
    assert calls == []
    assert ev("1 and 'x'") is True
    assert ev("0 or ''") is False
    assert ev("x or 0", x=math.nan) is False


def test_base_functions():
    assert ev("exp(0)") == 1.0
    assert ev("log(exp(2))") == pytest.approx(2.0)
    assert ev("log(8, 2)") == pytest.approx(3.0)
    assert ev("log(0)") is None
    assert ev("sqrt(16)") == 4.0
    assert ev("sqrt(-1)") is None
    assert ev("abs(-3)") == 3
    assert ev("min(3, null, 1)") == 1
    assert ev("max([1, 5, 2])") == 5
    assert ev("min(null)") is None
    assert ev("round(17.93)") == 18
    assert ev("round(1.23456, 2)") == 1.23
    assert ev("coalesce(null, 2)") == 2
    assert ev("matches(name, gen_*)", name="gen_jax") is True
    assert ev("matches(name, 'abl_*')", name="gen_jax") is False
    assert ev("isnan(x)", x=math.nan) is True


def test_keyword_arguments():
    def f(a, b=10, c=100):
        return a + b + c

    funcs = {"f": Function(f, ("a", "b", "c"), 1)}
    assert compile_expr("f(1)", functions=funcs)() == 111
    assert compile_expr("f(1, c=2)", functions=funcs)() == 13
    assert compile_expr("f(a=1, b=2)", functions=funcs)() == 103
    with pytest.raises(ExprError, match="no argument 'd'"):
        compile_expr("f(1, d=2)", functions=funcs)
    with pytest.raises(ExprError, match="given twice"):
        compile_expr("f(1, a=2)", functions=funcs)
    with pytest.raises(ExprError, match="positional argument after a named one"):
        compile_expr("f(b=1, 2)", functions=funcs)


def test_key_params_receive_the_key_text():
    seen = []

    def best(env, key, mode="min"):
        seen.append((key, mode))
        return env[key]

    funcs = {"best": Function(best, ("key", "mode"), 1, key_params=(0,), pass_env=True)}
    env = {"loss": 1.0, "op/loss": 2.0}
    assert compile_expr("best(loss)", functions=funcs)(env) == 1.0
    assert compile_expr("best(`op/loss`, 'max')", functions=funcs)(env) == 2.0
    assert compile_expr('best("op/loss")', functions=funcs)(env) == 2.0
    assert seen == [("loss", "min"), ("op/loss", "max"), ("op/loss", "min")]
    with pytest.raises(ExprError, match="must be a key") as info:
        compile_expr("best(loss * 2)", functions=funcs)
    assert info.value.column == 6


def test_raw_functions_get_unevaluated_arguments():
    def argmin(env, args: list[Arg]):
        # argmin(metric_fn(key), run, run...) as a journal would define it
        inner = args[0].node
        assert isinstance(inner, Call)
        key = inner.args[0].name
        return min((a.key() for a in args[1:]), key=lambda r: env[r][key])

    funcs = {
        "argmin": Function(argmin, ("f", "runs"), 2, variadic=True, raw=True),
        "final": Function(lambda x: x, ("key",), 1, key_params=(0,)),
    }
    env = {"a": {"loss": 3}, "b": {"loss": 1}, "c": {"loss": 2}}
    assert compile_expr("argmin(final(loss), a, b, c)", functions=funcs)(env) == "b"


def test_pattern_values_are_globs():
    v = ev("exp20_*")
    assert isinstance(v, Glob)
    assert v.matches("exp20_rnn64_airy")
    assert not v.matches("exp19_rnn")


def test_compiled_expression_reports_the_names_it_reads():
    c = compile_expr("config.lr * 2 + test_mse - config.lr")
    assert c.names == ("config.lr", "test_mse")


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "message", "column"),
    [
        ("1 +", "expression ends too early", 4),
        ("a = 1", "use '=='", 3),
        ("(1", "expected ')'", 3),
        ("a && b", "use 'and'", 3),
        ("a || b", "use 'or'", 3),
        ("!a", "use 'not'", 1),
        ('"abc', "unterminated string", 1),
        ("`abc", "unterminated backquoted name", 1),
        ("a < b < c", "cannot be chained", 7),
        ("1 2", "expected an operator", 3),
        ("x.", "unexpected character '.'", 2),
        ("1e", "malformed number", 1),
        ("3abc", "malformed number", 1),
        ("", "empty expression", 1),
        ("f(1,", "expected ')' to close the call", 5),
        ("[1, 2", "expected ',' or ']'", 6),
        ("a $ b", "unexpected character '$'", 3),
        ("()", "expected an expression inside", 2),
        ("and x", "expected a value before 'and'", 1),
    ],
)
def test_syntax_errors_point_at_the_problem(src, message, column):
    with pytest.raises(ExprError) as info:
        compile_expr(src)
    err = info.value
    assert message in str(err)
    assert err.column == column
    assert f"at column {column}" in str(err)
    assert "\n" not in str(err)  # one line
    pretty = err.pretty().splitlines()
    assert pretty[1] == f"  {src}"
    assert pretty[2] == "  " + " " * (column - 1) + "^"


def test_function_errors():
    with pytest.raises(ExprError, match=r"unknown function expp\(\) \(did you mean exp\(\)\?\)"):
        compile_expr("expp(1)")
    with pytest.raises(ExprError, match=r"exp\(\) takes 1 argument \(2 given\): exp\(x\)"):
        compile_expr("exp(1, 2)")
    with pytest.raises(ExprError, match=r"log\(\) takes 1 to 2 arguments \(0 given\)"):
        compile_expr("log()")
    with pytest.raises(ExprError, match="at least 1"):
        compile_expr("min()")


def test_errors_raised_by_functions_are_located():
    def picky(x):
        raise ExprError("x must be small")

    funcs = {"picky": Function(picky, ("x",), 1)}
    with pytest.raises(ExprError) as info:
        compile_expr("1 + picky(5)", functions=funcs)()
    assert info.value.column == 5
    assert str(info.value) == "x must be small at column 5: 1 + picky(5)"


# -- safety -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src",
    [
        "__import__('os').system('true')",
        "eval('1')",
        "open('/etc/passwd')",
        "getattr(x, '__class__')",
        "x.__class__",
        "().__class__.__bases__",
        "lambda: 1",
        "[x for x in y]",
        "exec('1')",
    ],
)
def test_python_is_never_reachable(src):
    class Spy:
        touched = False

        def get(self, name):
            # a name is only ever looked up as a key, never as an attribute
            return None

    try:
        value = compile_expr(src)({"x": Spy()})
    except ExprError:
        return
    # the only way such text compiles is as a harmless key lookup
    assert value is None or value is False


def test_too_deep_or_too_long():
    with pytest.raises(ExprError, match="nested too deeply"):
        parse("(" * 500 + "1" + ")" * 500)
    with pytest.raises(ExprError, match="nested too deeply"):
        parse("+".join(["1"] * (MAX_DEPTH + 5)))
    with pytest.raises(ExprError, match="nested too deeply"):
        parse("-" * 500 + "1")
    with pytest.raises(ExprError, match="longer than"):
        parse("1" * 20_000)
    assert ev("+".join(["1"] * (MAX_DEPTH - 5))) == MAX_DEPTH - 5


def test_non_string_source_is_an_expr_error():
    with pytest.raises(ExprError):
        parse(None)  # type: ignore[arg-type]


_ALPHABET = st.sampled_from(
    [*list("abcxyz_019 .,()[]`'\"*?/%+-<>=!&|^~$#@\\\n\t"), "and", "or", "not", "in", "e", "**"]
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_random_input_raises_only_expr_error(text):
    try:
        fn = compile_expr(text)
    except ExprError:
        return
    env = {"a": 1.5, "b": "s", "c": [1, 2], "x": None, "y": math.nan, "z": 0}
    try:
        fn(env)
    except ExprError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_random_unicode_raises_only_expr_error(text):
    try:
        compile_expr(text)({})
    except ExprError:
        pass


_NUM = st.one_of(
    st.integers(-1000, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    st.text(max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["+", "-", "*", "/", "%", "**", "==", "!=", "<", "<=", ">", ">=", "in"]),
    _NUM,
    _NUM,
)
def test_operators_never_raise_on_any_values(op, a, b):
    compile_expr(f"a {op} b")({"a": a, "b": b})
    compile_expr(f"-a {op} b and not b")({"a": a, "b": b})
    for name in ("exp", "log", "sqrt", "abs", "floor", "ceil", "round", "min", "max"):
        compile_expr(f"{name}(a)")({"a": a})


# -- run references in run positions ------------------------------------------------------


def _runs_table() -> dict[str, Function]:
    def first(env, run, key):  # the run reference and the key, as given
        return f"{run}|{key}"

    def pair(env, a, b, key):
        return f"{a}|{b}|{key}"

    return {
        **BASE_FUNCTIONS,
        "final": Function(
            first, ("run", "metric"), 2, key_params=(0, 1), pass_env=True, run_params=(0,)
        ),
        "factor": Function(
            pair, ("a", "b", "metric"), 3, key_params=(0, 1, 2), pass_env=True, run_params=(0, 1)
        ),
    }


@pytest.mark.parametrize(
    ("src", "value"),
    [
        ("final(mlp-h4-lr3, val_loss)", "mlp-h4-lr3|val_loss"),
        ("final(5vbxlcek, val_loss)", "5vbxlcek|val_loss"),
        ("final( run.v1.2 , loss)", "run.v1.2|loss"),
        ("final(0.5-a, loss)", "0.5-a|loss"),
        ("final(run=gen-1, metric=loss)", "gen-1|loss"),
        ("factor(a-1, 2b, loss)", "a-1|2b|loss"),
        ("final(`odd name`, loss)", "odd name|loss"),
        ("final(exp-*, loss)", "exp-*|loss"),
    ],
)
def test_run_positions_take_bare_run_names(src: str, value: str) -> None:
    compiled = compile_expr(src, functions=_runs_table())
    assert compiled() == value


def test_run_names_are_run_references_only_in_run_positions() -> None:
    table = _runs_table()
    node = parse("final(exp-*, loss)", table)
    assert isinstance(node, Call) and node.args[0] == Pattern(6, "exp-*")
    # the metric position, and everything outside a run position, stays arithmetic
    with pytest.raises(ExprError, match="must be a key"):
        compile_expr("final(a, val-loss)", functions=table)
    assert compile_expr("a-b", functions=table)({"a": 3, "b": 1}) == 2
    with pytest.raises(ExprError, match="malformed number"):
        compile_expr("5vbxlcek + 1", functions=table)
    # an expression in a run position is not a name
    with pytest.raises(ExprError, match="'run' of final\\(\\) must be a run name"):
        compile_expr("final(a - 1 + b, loss)", functions=table)
    # without a function table that declares run positions nothing changes
    with pytest.raises(ExprError, match="must be a key"):
        compile_expr(
            "final(mlp-h4, loss)",
            functions={"final": table["final"]._replace(run_params=())},
        )
    # dotted and backquoted names still join after a run argument
    assert compile_expr("final(a-1, loss) + x.`y z`", functions=table)({"x.y z": None}) is None


def test_journal_functions_take_bare_run_names() -> None:
    from expbook.analysis import MemoryRun
    from expbook.report.journal import JournalEnv, compile_journal

    env = JournalEnv(
        [
            MemoryRun("mlp-h4-lr3", series={"loss": [(1, 2.0)]}),
            MemoryRun("5vbxlcek", series={"loss": [(1, 4.0)]}),
            MemoryRun("r.2", series={"loss": [(1, 1.0)]}),
        ]
    )
    assert compile_journal("factor(5vbxlcek, mlp-h4-lr3, loss)")(env) == 2.0
    assert compile_journal("argmin(final(loss), mlp-h4-lr3, 5vbxlcek, r.2)")(env) == "r.2"
    assert compile_journal("count(passes(mlp-*, loss, 3))")(env) == 1
    assert compile_journal("final(mlp-h4-lr3, loss) - final(r.2, loss)")(env) == 1.0
