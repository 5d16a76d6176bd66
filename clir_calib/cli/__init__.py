"""The ``clir-calib`` command line: a thin Typer layer over the library functions.

Library code raises :class:`clir_calib.errors.ClirCalibError`; this layer turns it into one
line on stderr and exit code 2, prints tables and progress, and never holds logic of its own.
"""

from __future__ import annotations

from typing import Any

import click
import typer
from typer.core import TyperGroup

from clir_calib.cli import common
from clir_calib.cli.failures import bug_report, describe_os_error
from clir_calib.errors import ClirCalibError, Terminated


def _click_exceptions() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort,
                                        click.ClickException]
    try:  # typer >= 0.24 carries its own copy of click, whose usage errors are not click's
        from typer._click import exceptions as vendored

        found.append(vendored.ClickException)
    except ImportError:
        pass
    return tuple(found)


_PASS_THROUGH = _click_exceptions()


def _fail(message: str, code: int) -> None:
    common.err_console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    common.ERRORS_SAID.append(message)
    raise typer.Exit(code) from None


def _interrupted(stop: KeyboardInterrupt, where: str) -> None:
    terminated = isinstance(stop, Terminated)
    _fail(f"{'terminated' if terminated else 'interrupted'}{where}", 143 if terminated else 130)


class ClirGroup(TyperGroup):
    """Turns :class:`ClirCalibError` into one line on stderr and exit code 2, not a traceback.

    Handled at the command-group level (not in ``Typer.__call__``) so that the console script,
    ``python -m clir_calib`` and ``typer.testing.CliRunner`` all behave the same.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        """Reading the arguments (plugins load here): a signal gets the one line too (Typer would exit 130 silently)."""
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as stop:
            _interrupted(stop, " while starting (nothing was written); run the command again")

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ClirCalibError as error:
            _fail(str(error), error.exit_code)
        except _PASS_THROUGH:  # usage errors, --help, typer.Exit: click's own handling
            raise
        except KeyboardInterrupt as stop:
            _interrupted(stop, "; finished stages and checkpoints are kept: run the command again (distill: --resume)")
        except OSError as error:  # the file system, not the code: the user can fix it
            _fail(describe_os_error(error), 2)
        except Exception as error:  # a bug: a short report here, the traceback in a log file
            verbose = common.state(ctx).verbose
            _fail(bug_report(error, show_traceback=verbose > 0), 1)
        finally:
            _warn_failed_plugins()


app = typer.Typer(
    name="clir-calib",
    cls=ClirGroup,
    help="Does OT distillation make cross-lingual retrieval scores better calibrated, also for unseen languages?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    seed: int = typer.Option(13, "--seed", help="Random seed for everything that samples."),
    device: str = typer.Option(
        "auto", "--device", help="auto (CUDA when present), cpu or cuda.", case_sensitive=False
    ),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output (-vv for debug)."),
) -> None:
    """Global options shared by every command."""
    if device not in {"auto", "cpu", "cuda"}:
        raise typer.BadParameter(f"{device!r}; choose auto, cpu or cuda", param_hint="--device")
    from clir_calib.config import ExperimentConfig
    from clir_calib.params import check_setting

    check_setting(ExperimentConfig, "seed", seed, "--seed")  # what the generators take, before any command writes
    ctx.obj = common.State(seed=seed, device=device, verbose=verbose)
    common.configure_logging(verbose)


_WARNED: set[str] = set()


def _warn_failed_plugins() -> None:
    """One warning per broken plugin, whenever its failure is first seen (at import or in a hook call)."""
    from clir_calib.plugins import FAILED_PLUGINS

    for name, message in FAILED_PLUGINS.items():
        if name not in _WARNED:
            _WARNED.add(name)
            common.err_console.print(f"[yellow]Warning:[/] plugin {name!r} is skipped: {message}", highlight=False)


def _command_name(info: Any) -> str:
    return str(info.name or info.callback.__name__.replace("_", "-"))


def _register_commands() -> None:
    from clir_calib.cli import (
        align,
        calibrate,
        distill,
        evaluate,
        export,
        index,
        models,
        plugins_cmd,
        prepare,
        report,
        run,
    )
    from clir_calib.plugins import call_each

    for module in (prepare, distill, index, evaluate, calibrate, export, report, run, align, plugins_cmd, models):
        module.register(app)
    builtin = {_command_name(info) for info in app.registered_commands}
    size = [len(app.registered_commands), len(app.registered_groups)]

    def undo(plugin: str) -> None:
        del app.registered_commands[size[0]:]
        del app.registered_groups[size[1]:]

    def check(plugin: str) -> None:
        added = [_command_name(info) for info in app.registered_commands[size[0]:]]
        added += [str(info.name) for info in app.registered_groups[size[1]:]]
        taken = sorted(set(added) & (builtin | set(names)))
        if taken:
            undo(plugin)
            raise ClirCalibError(f"plugin {plugin!r} registers the command {taken[0]!r}, which exists; "
                                 "its commands were skipped: rename them")
        names.extend(added)
        size[:] = [len(app.registered_commands), len(app.registered_groups)]

    names: list[str] = []
    try:
        call_each("register_commands", on_success=check, on_failure=undo, app=app)
    except ClirCalibError as error:  # a broken registry is reported, the core CLI stays usable
        common.err_console.print(f"[yellow]Warning:[/] {error}")
    _warn_failed_plugins()


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()
