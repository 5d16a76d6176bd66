"""What a command may write and what ``--overwrite`` or ``--force`` may delete: never one of its inputs.

Every writing command claims its output folder here, once: the output must not exist unless the command
replaces it, a replaced output must not be, contain or lie inside any input of the command (paths compared
after resolving, so ``..``, symlinks and relative spellings do not slip through), and the folder's lock is
held before anything is deleted. A name that becomes part of a path is placed with :func:`child`, which
checks the resolved result against its root instead of the name's spelling.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from clir_calib.errors import ConfigError
from clir_calib.locking import folder_lock
from clir_calib.params import ROLE_KEY

PathLike = str | os.PathLike[str]


def resolved(path: PathLike) -> Path:
    """``path`` made absolute with symlinks and ``..`` resolved (it need not exist)."""
    return Path(path).expanduser().resolve(strict=False)


def overlap(output: PathLike, input_path: PathLike) -> str | None:
    """How ``output`` overlaps ``input_path`` ("is", "contains", "lies inside"), or None when apart."""
    out, inp = resolved(output), resolved(input_path)
    if out == inp:
        return "is"
    if out in inp.parents:
        return "contains"
    if inp in out.parents:
        return "lies inside"
    return None


def check_apart(output: PathLike, inputs: Iterable[PathLike | None], flag: str = "--overwrite") -> None:
    """Refuse to replace ``output`` when it is, contains or lies inside one of ``inputs`` (existing paths)."""
    for input_path in inputs:
        if input_path is None or str(input_path) == "" or not Path(input_path).exists():
            continue
        relation = overlap(output, input_path)
        if relation is not None:
            what = "is" if relation == "is" else f"{relation} the input"
            raise ConfigError(f"{output} {what} {input_path}{' (an input)' if relation == 'is' else ''}; {flag} "
                              "never deletes an input: choose an output folder apart from every input")


def child(root: PathLike, *names: str) -> Path:
    """``root/names...``, refused when the resolved result is not inside ``root`` (``../x``, ``/abs``, ``.``)."""
    path = Path(root).joinpath(*names)
    base = resolved(root)
    if base not in resolved(path).parents:
        joined = "/".join(names)
        raise ConfigError(f"{joined!r} would write outside {root}; use a plain name (letters, digits, _ . -)")
    return path


@contextlib.contextmanager
def claimed_output(output: PathLike, inputs: Iterable[PathLike | None] = (), replace: bool = False,
                   flag: str = "--overwrite") -> Iterator[Path]:
    """Hold ``output``'s lock for the block after checking that the command may write it: absent, or
    ``replace`` and apart from every input. Checked again under the lock, so a folder written meanwhile
    is not deleted either."""
    target = Path(output)
    listed = [p for p in inputs if p is not None]
    check_claim(target, listed, replace, flag)
    with folder_lock(target):
        check_claim(target, listed, replace, flag)
        yield target


def check_claim(target: Path, inputs: Iterable[PathLike | None], replace: bool, flag: str = "--overwrite") -> None:
    """The checks of :func:`claimed_output` without the lock: for a command that wants to fail before its work."""
    if not replace:
        if target.exists() or target.is_symlink():
            raise ConfigError(f"{target} already exists; pass {flag} to replace it or choose another --out")
        return
    check_apart(target, inputs, flag)


F = TypeVar("F", bound=Callable[..., Any])


def claims_output(parameter: str, inputs: Callable[[dict[str, Any]], Iterable[PathLike | None]] | None = None,
                  replace: str = "overwrite", flag: str = "--overwrite") -> Callable[[F], F]:
    """Decorate a function that writes the folder named by its argument ``parameter``: it runs inside
    :func:`claimed_output`, with ``inputs(arguments)`` as the command's inputs and its boolean argument
    ``replace`` saying whether an existing folder may be replaced. In a multi-process run (``RANK`` set)
    only the main process, the one that writes, claims it."""
    def wrap(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def claimed(*args: Any, **kwargs: Any) -> Any:
            if os.environ.get("RANK", "0") != "0":
                return func(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            listed = list(inputs(arguments)) if inputs is not None else []
            with claimed_output(arguments[parameter], listed, bool(arguments.get(replace)), flag):
                return func(*args, **kwargs)

        return claimed  # type: ignore[return-value]

    return wrap


def config_inputs(cfg: Any, outputs: Iterable[str] = ()) -> list[str]:
    """Every path a config names as an input (fields declared ``role="input"``, and any text in a component's
    ``params`` that names an existing path), except the dotted keys in ``outputs``. Only existing paths count:
    a hub name is not a folder here."""
    skip = set(outputs)
    found: list[str] = []

    def walk(section: Any, prefix: str) -> None:
        for field in dataclasses.fields(section):
            key, value = f"{prefix}{field.name}", getattr(section, field.name)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                walk(value, f"{key}.")
            elif isinstance(value, list):
                for item in value:
                    if dataclasses.is_dataclass(item) and not isinstance(item, type):
                        walk(item, f"{key}.")
            elif key in skip:
                continue
            elif field.metadata.get(ROLE_KEY) == "input" and isinstance(value, str | os.PathLike):
                found.append(str(value))
            elif field.name == "params" and isinstance(value, dict):
                found.extend(_texts(value))

    walk(cfg, "")
    return [p for p in found if p and _exists(p)]


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _exists(path: str) -> bool:
    try:
        return Path(path).expanduser().exists()
    except (OSError, ValueError):
        return False
