"""What a dataset is: a registered component that turns a source into bitext and retrieval tasks.

``prepare`` asks the dataset named by ``data.dataset`` (``register_datasets`` hook; built-ins:
``multi30k`` and ``folder``) to :meth:`Dataset.build` a :class:`DatasetContent` and writes it in the
prepared layout that ``distill``, ``evaluate`` and ``calibrate`` read. A dataset reads everything and
checks it before returning, so bad input is a one-line :class:`~clir_calib.errors.DataError` with
nothing written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

from clir_calib.data.build import BitextSplit, TaskData
from clir_calib.params import Declared


@dataclass(frozen=True)
class DatasetRequest:
    """What ``prepare`` asks for: where the data is and which languages and splits to build."""

    source: str | os.PathLike[str] | None  # a folder (data.source); None: the dataset's default
    url: str | None  # base URL of remote files (data.url), for datasets that download
    langs: list[str]  # document languages (English is the query language)
    splits: list[str]
    cache_dir: str | os.PathLike[str] | None = None  # download cache
    checksums: str | os.PathLike[str] | None = None  # data.checksums: pinned sha256 of downloaded files


@dataclass
class DatasetContent:
    """Everything a dataset built, ready to be written: bitext per language, tasks, what was skipped."""

    kind: str  # where it came from, e.g. "local" | "url"
    location: str
    langs: list[str]
    splits: list[str]
    bitext: dict[str, list[BitextSplit]] = field(default_factory=dict)
    tasks: list[TaskData] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line each: what is missing and why
    inputs: dict[str, str] = field(default_factory=dict)  # input file -> sha256


class Dataset(Declared):
    """Base class of datasets; subclasses set ``name``, ``description``, ``params`` and :meth:`build`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        self.config: dict[str, Any] = self.resolve_params(params)

    def build(self, request: DatasetRequest) -> DatasetContent:
        """Read, check and return the requested bitext and tasks (never write anything)."""
        raise NotImplementedError

    def get_config_dict(self) -> dict[str, Any]:
        return dict(self.config)
