"""The ``expbook`` command line: the group and its entry point. The commands live in one
module per group: ``runs`` (runs, show, history, rm), ``demo``, ``importing`` (import),
``analysis`` (leaderboard, pivot, winners, compare, eval), ``ui`` and ``reports`` (report, check).

Every command that prints results takes ``--store`` and ``--format table|json|csv``.
This module is the only place that turns errors into exit codes: an error a user can cause
ends in one line on stderr (``expbook: error: ...``) and exit code 1 (2 for a bad flag).
"""

from __future__ import annotations

import sqlite3
import sys

import click

from .. import __version__
from .._output import visible
from ..errors import ExpbookError
from ._common import CONTEXT
from .analysis import compare_cmd, eval_cmd, leaderboard_cmd, pivot_cmd, winners_cmd
from .artifacts import artifacts_cmd
from .demo import demo_cmd
from .importing import import_cmd
from .reports import check_cmd, report_cmd
from .runs import history_cmd, rm_cmd, runs_cmd, show_cmd
from .server import server_cmd
from .shim import shim_cmd
from .sweep import sweep_cmd
from .sync import sync_cmd
from .ui import ui_cmd


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="expbook")
def cli() -> None:
    """expbook: turn ML experiments into findings.

    Log runs from scripts (expbook.init/log/finish) or import what you have on disk, then
    ask for leaderboards, sweeps, comparisons and reports. `expbook COMMAND -h` shows a
    command's options and an example.

    \b
    Example:
      expbook demo && expbook runs --sort=-val_acc --limit 3
    """


cli.add_command(runs_cmd)
cli.add_command(show_cmd)
cli.add_command(history_cmd)
cli.add_command(rm_cmd)
cli.add_command(demo_cmd)
cli.add_command(import_cmd)
cli.add_command(leaderboard_cmd)
cli.add_command(pivot_cmd)
cli.add_command(winners_cmd)
cli.add_command(compare_cmd)
cli.add_command(eval_cmd)
cli.add_command(ui_cmd)
cli.add_command(report_cmd)
cli.add_command(check_cmd)
cli.add_command(artifacts_cmd)
cli.add_command(shim_cmd)
cli.add_command(sweep_cmd)
cli.add_command(server_cmd)
cli.add_command(sync_cmd)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning errors into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="expbook", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("expbook: aborted", err=True)
        return 1
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except SystemExit as e:
        return int(e.code or 0)
    except click.ClickException as e:
        click.echo(f"expbook: error: {visible(e.format_message())}", err=True)
        return e.exit_code
    except ExpbookError as e:
        click.echo(f"expbook: error: {visible(str(e))}", err=True)
        return 1
    except ValueError as e:  # bad expressions and option values from the analysis layer
        from ..expr import ExprError

        if not isinstance(e, ExprError) and type(e) is not ValueError:
            raise
        click.echo(f"expbook: error: {visible(str(e))}", err=True)
        return 1
    except BrokenPipeError:
        return 0
    except sqlite3.Error as e:  # a store damaged or read-only where a command writes to it
        click.echo(f"expbook: error: the store cannot be used: {visible(str(e))}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("expbook: interrupted", err=True)
        return 130
    except OSError as e:
        msg = f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")
        click.echo(f"expbook: error: {visible(msg)}", err=True)
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
