"""What a dataset is: a registered component that turns a source into bitext and retrieval tasks.

``prepare`` asks the dataset named by ``data.dataset`` (``register_datasets`` hook; built-ins:
``multi30k`` and ``folder``) to :meth:`Dataset.build` a :class:`DatasetContent` and writes it in the
prepared layout that ``distill``, ``evaluate`` and ``calibrate`` read. A dataset reads everything and
checks it before returning, so bad input is a one-line :class:`~clir_calib.errors.DataError` with
nothing written. The payload types (:class:`BitextSplit`, :class:`TaskData`) and the line-numbered readers
(:func:`read_input`, :func:`read_text_file`) are here too: a dataset author reads this file and one example.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

from clir_calib.data.readers import read_input, read_text_file
from clir_calib.params import Declared


@dataclass
class BitextSplit:
    """Aligned (en, xx) pairs of one split: line i of the English and the target-language file."""

    lang: str
    split: str
    ids: list[str]
    en: list[str]
    xx: list[str]


@dataclass
class TaskData:
    """One retrieval task with the image of every query and document (for grouping)."""

    task: str
    lang: str
    split: str
    query_ids: list[str] = field(default_factory=list)
    query_texts: list[str] = field(default_factory=list)
    query_images: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)
    doc_texts: list[str] = field(default_factory=list)
    doc_images: list[str] = field(default_factory=list)
    qrels: list[tuple[str, str, int]] = field(default_factory=list)

    def add_query(self, qid: str, text: str, image: str) -> None:
        self.query_ids.append(qid)
        self.query_texts.append(text)
        self.query_images.append(image)

    def add_doc(self, docid: str, text: str, image: str) -> None:
        self.doc_ids.append(docid)
        self.doc_texts.append(text)
        self.doc_images.append(image)


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


__all__ = ["BitextSplit", "Dataset", "DatasetContent", "DatasetRequest", "TaskData", "read_input", "read_text_file"]
