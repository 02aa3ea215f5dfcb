"""A key no selected run has is an error with a suggestion, never a blank table."""

from __future__ import annotations

import json

import pytest

from expbook.analysis import MemoryRun, compare, leaderboard, pivot, seed_groups, winners


@pytest.fixture
def logged(store_path):
    import expbook

    for i, (hidden, lr) in enumerate([(4, 0.1), (4, 0.3), (16, 0.1), (16, 0.3)]):
        with expbook.init(
            project="p",
            name=f"r{i}",
            store=store_path,
            config={"hidden": hidden, "lr": lr, "seed": i},
        ) as run:
            for step in range(3):
                run.log({"val_loss": 1.0 / (step + 1 + i), "val_acc": 0.5 + 0.1 * i})
    return store_path


TYPOS = [
    (["leaderboard", "--metric", "val_los"], "val_los", "val_loss"),
    (["leaderboard", "--metric", "val_loss", "--param", "hiden"], "hiden", "hidden"),
    (["leaderboard", "--metric", "val_loss", "--column", "val_ac"], "val_ac", "val_acc"),
    (["winners", "--metric", "val_los"], "val_los", "val_loss"),
    (["winners", "--metric", "val_loss", "--by", "hiden"], "hiden", "hidden"),
    (["winners", "--metric", "val_los", "--groups"], "val_los", "val_loss"),
    (["pivot", "--rows", "hiden", "--value", "val_loss"], "hiden", "hidden"),
    (["pivot", "--rows", "hidden", "--cols", "lrr", "--value", "val_loss"], "lrr", "lr"),
    (["pivot", "--rows", "hidden", "--value", "val_los"], "val_los", "val_loss"),
    (["compare", "r0", "r1", "--keys", "val_los"], "val_los", "val_loss"),
]


@pytest.mark.parametrize(("args", "bad", "good"), TYPOS, ids=[" ".join(a) for a, _, _ in TYPOS])
def test_a_typo_is_an_error_with_a_suggestion(cli_run, logged, args, bad, good):
    code, out, err = cli_run(*args)
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert f"'{bad}'" in lines[0] and f"did you mean '{good}'" in lines[0]


def test_keys_that_exist_still_work(cli_run, logged):
    code, out, err = cli_run(
        "pivot", "--rows", "hidden", "--cols", "config.lr", "--value", "val_loss", "--format",
        "json",
    )
    assert code == 0, err
    assert [r["hidden"] for r in json.loads(out)["rows"]] == [4, 16]
    code, out, err = cli_run("compare", "r0", "r1", "--keys", "val_*", "--format", "json")
    assert code == 0, err
    assert [m["key"] for m in json.loads(out)["metrics"]] == ["val_acc", "val_loss"]
    # a derived name is a key; a metric that only some runs have is not an error
    code, out, err = cli_run(
        "leaderboard", "--metric", "acc2", "--derive", "acc2=val_acc * 2", "--format", "json"
    )
    assert code == 0, err


def runs() -> list[MemoryRun]:
    return [
        MemoryRun("a", series={"loss": [(0, 1.0)]}, config={"width": 4}),
        MemoryRun("b", series={"loss": [(0, 2.0)], "extra": [(0, 1.0)]}, config={"width": 8}),
    ]


def test_analysis_functions_raise_unknown_key():
    from expbook.errors import UnknownKey

    with pytest.raises(UnknownKey, match="did you mean 'loss'"):
        leaderboard(runs(), "los")
    with pytest.raises(UnknownKey, match="did you mean 'width'"):
        pivot(runs(), ["widht"], value="loss")
    with pytest.raises(UnknownKey, match="did you mean 'width'"):
        winners(runs(), "loss", by=["widt"])
    with pytest.raises(UnknownKey, match="did you mean 'loss'"):
        seed_groups(runs(), "loss", metrics=["lss"])
    with pytest.raises(UnknownKey, match="did you mean 'loss'"):
        compare(runs(), keys=["lose"])
    # UnknownKey is a ValueError too: report blocks show it as a block error
    assert issubclass(UnknownKey, ValueError)
    # present in one run only: fine, the others are listed last
    assert leaderboard(runs(), "extra").column("run") == ["b", "a"]
    # no runs at all: nothing to check against
    assert len(leaderboard([], "anything")) == 0


def test_report_block_with_an_unknown_param_is_a_block_error(tmp_path):
    from expbook.report.blocks import BlockError, Context, parse_block, render_block

    ctx = Context(lambda: runs(), str(tmp_path), write_files=False)
    with pytest.raises(BlockError, match="did you mean 'width'"):
        render_block(parse_block("pivot: {rows: [widht], value: loss}"), ctx)
