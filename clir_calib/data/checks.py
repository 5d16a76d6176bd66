"""What any dataset's content must satisfy before it is written, whichever dataset built it.

Identifiers go into whitespace-separated TREC files (``qrels.txt``, ``run.trec``) and into folder names, so
they must survive those formats; a task in which no query has a relevant document cannot give a retrieval
or calibration number that means anything, so it is left out with a note instead of scored as zeros.
"""

from __future__ import annotations

import re

from clir_calib.data.datasets import DatasetContent, TaskData
from clir_calib.errors import DataError

#: an identifier: printable, no whitespace (TREC files split on it), at most 256 characters
IDENTIFIER = re.compile(r"[^\s\x00-\x1f\x7f]{1,256}")


def check_identifier(value: str, what: str) -> None:
    """Refuse an id that a TREC file or ``trec_eval`` would read differently (empty, spaces, control bytes)."""
    if not IDENTIFIER.fullmatch(value):
        raise DataError(f"{what} {value!r} cannot be written to TREC files (ids must be 1-256 printable characters "
                        "without spaces); rename it in the source")


def checked_content(content: DatasetContent) -> DatasetContent:
    """``content`` with its identifiers checked and the tasks no query can be answered in left out, noted."""
    for parts in content.bitext.values():
        for part in parts:
            for pair_id in part.ids:
                check_identifier(pair_id, f"bitext id ({part.lang}/{part.split})")
    kept: list[TaskData] = []
    for task in content.tasks:
        where = f"{task.task}/{task.lang}/{task.split}"
        for qid in task.query_ids:
            check_identifier(qid, f"query id ({where})")
        for docid in task.doc_ids:
            check_identifier(docid, f"document id ({where})")
        if task.qrels and not any(grade > 0 for _, _, grade in task.qrels):
            content.notes.append(f"{where}: left out, no qrel has a grade above 0 (no query has a relevant "
                                 "document, so MAP and calibration would mean nothing)")
            continue
        kept.append(task)
    content.tasks = kept
    return content
