"""The built-in ``folder`` dataset: a CLIR collection already on disk, one folder per document language.

Each ``SOURCE/LANG/`` folder is in the **BEIR layout** (``corpus.jsonl``, ``queries.jsonl``,
``qrels/SPLIT.tsv``) or holds **TREC files** (``topics.tsv``: ``qid<TAB>text``; ``qrels/SPLIT.txt`` or
``qrels.txt`` (split ``test``): ``qid 0 docid rel``; ``documents.jsonl``). Queries are English.
Bitext is optional: ``LANG/bitext/train.tsv`` and ``val.tsv`` (``english<TAB>translation``); a language
without it can be evaluated and calibrated, not distilled on. A collection exported from
``ir_datasets`` (queries, qrels and docs written as these files) comes in this way.

Every line is checked: a missing file, bad JSON, a duplicate id, an empty text or a qrel naming an
unknown query or document is a one-line :class:`DataError` naming the file and line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from clir_calib.data.datasets import BitextSplit, Dataset, DatasetContent, DatasetRequest, TaskData
from clir_calib.data.layout import BITEXT_SPLITS
from clir_calib.data.readers import read_input
from clir_calib.errors import DataError
from clir_calib.params import Param

BEIR_FILES = ("corpus.jsonl", "queries.jsonl")
TREC_FILES = ("topics.tsv", "documents.jsonl")
ID_FIELDS = ("_id", "docno", "doc_id", "id")


@dataclass
class Collection:
    """One language folder, read and checked."""

    lang: str
    layout: str  # beir | trec
    queries: dict[str, str]
    corpus: dict[str, str]
    qrels: dict[str, list[tuple[str, str, int]]]  # split -> (qid, docid, rel)
    bitext: dict[str, tuple[list[str], list[str]]]  # split -> (english, translation)


class TextLines:
    """The non-blank lines of one UTF-8 file with their numbers, and the file's sha256."""

    def __init__(self, path: Path) -> None:
        self.path = path
        raw = read_input(path, str(path))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"{path} is not UTF-8 text (byte {error.start}); re-export it as UTF-8") from None
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.lines = [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]

    def error(self, number: int, what: str) -> DataError:
        return DataError(f"{self.path} line {number}: {what}")


def _jsonl_texts(lines: TextLines, kind: str) -> dict[str, str]:
    """``{id: text}`` of a BEIR/TREC JSONL file (``title`` joined before ``text``)."""
    found: dict[str, str] = {}
    first: dict[str, int] = {}
    for number, line in lines.lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise lines.error(number, f"not valid JSON ({error.msg}); one JSON object per line") from None
        if not isinstance(record, dict):
            raise lines.error(number, "not a JSON object; one object per line with _id and text")
        key = next((record[f] for f in ID_FIELDS if f in record), None)
        if not isinstance(key, str | int) or not str(key).strip():
            raise lines.error(number, f"no {kind} id (one of {', '.join(ID_FIELDS)})")
        ident = str(key).strip()
        text = " ".join(str(record.get(f) or "").strip() for f in ("title", "text")).strip()
        _add(found, first, ident, " ".join(text.split()), lines, number, kind)
    return found


def _tsv_texts(lines: TextLines, kind: str) -> dict[str, str]:
    found: dict[str, str] = {}
    first: dict[str, int] = {}
    for number, line in lines.lines:
        ident, tab, text = line.partition("\t")
        if not tab:
            raise lines.error(number, f"expected '{kind} id<TAB>text'")
        _add(found, first, ident.strip(), " ".join(text.split()), lines, number, kind)
    return found


def _add(found: dict[str, str], first: dict[str, int], ident: str, text: str, lines: TextLines, number: int,
         kind: str) -> None:
    if ident in found:
        raise lines.error(number, f"duplicate {kind} id {ident!r} (first at line {first[ident]}); ids must be unique")
    if not text:
        raise lines.error(number, f"empty text for {kind} {ident!r}; give it text or remove it")
    found[ident], first[ident] = text, number


#: qrel grades: integers in this range (TREC's -2 "junk" to graded scales far beyond any collection's)
GRADES = (-10, 1000)


def _grade(text: str, lines: TextLines, number: int) -> int:
    """A qrel grade: a finite integer in :data:`GRADES` (``2.0`` is 2; ``inf``, ``1e30`` and ``1.5`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise lines.error(number, f"relevance {text!r} is not a number") from None
    if not value.is_integer() or not GRADES[0] <= value <= GRADES[1]:
        raise lines.error(number, f"relevance {text!r} must be an integer from {GRADES[0]} to {GRADES[1]}")
    return int(value)


def _qrels(lines: TextLines, queries: dict[str, str], corpus: dict[str, str], trec: bool) -> list[tuple[str, str, int]]:
    rows = []
    for number, line in lines.lines:
        parts = line.split() if trec else line.split("\t")
        if not trec and number == lines.lines[0][0] and parts[0].strip().lower() in ("query-id", "query_id", "qid"):
            continue  # the BEIR header
        if trec and len(parts) != 4 or not trec and len(parts) != 3:
            layout = "qid 0 docid relevance" if trec else "query-id<TAB>corpus-id<TAB>score"
            raise lines.error(number, f"expected '{layout}'")
        qid, docid, grade = (parts[0], parts[2], parts[3]) if trec else (parts[0], parts[1], parts[2])
        qid, docid = qid.strip(), docid.strip()
        relevance = _grade(grade, lines, number)
        if qid not in queries:
            raise lines.error(number, f"unknown query {qid!r} (not in the queries file)")
        if docid not in corpus:
            raise lines.error(number, f"unknown document {docid!r} (not in the corpus file)")
        rows.append((qid, docid, relevance))
    if not rows:
        raise DataError(f"{lines.path} holds no judgements; give at least one qrel line")
    return rows


def _bitext(folder: Path, inputs: dict[str, str]) -> dict[str, tuple[list[str], list[str]]]:
    pairs = {}
    for split in BITEXT_SPLITS:
        path = folder / "bitext" / f"{split}.tsv"
        if not path.is_file():
            continue
        lines = TextLines(path)
        inputs[str(path)] = lines.sha256
        english, other = [], []
        for number, line in lines.lines:
            en, tab, xx = line.partition("\t")
            if not tab or not en.strip() or not xx.strip():
                raise lines.error(number, "expected 'english<TAB>translation', both non-empty")
            english.append(" ".join(en.split()))
            other.append(" ".join(xx.split()))
        pairs[split] = (english, other)
    return pairs


def read_collection(folder: Path, lang: str, inputs: dict[str, str]) -> Collection:
    """One language folder in the BEIR or TREC layout, every line checked."""
    beir = all((folder / name).is_file() for name in BEIR_FILES)
    trec = all((folder / name).is_file() for name in TREC_FILES)
    if not beir and not trec:
        have = ", ".join(sorted(p.name for p in folder.iterdir())) if folder.is_dir() else "nothing"
        raise DataError(f"{folder} is neither a BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) nor TREC "
                        f"files (topics.tsv, documents.jsonl, qrels/SPLIT.txt); it holds {have or 'nothing'}")
    read: dict[str, TextLines] = {}
    for name in BEIR_FILES if beir else TREC_FILES:
        read[name] = TextLines(folder / name)
        inputs[str(folder / name)] = read[name].sha256
    if beir:
        corpus, queries = _jsonl_texts(read["corpus.jsonl"], "document"), _jsonl_texts(read["queries.jsonl"], "query")
        qrel_files = sorted((folder / "qrels").glob("*.tsv"))
    else:
        corpus, queries = _jsonl_texts(read["documents.jsonl"], "document"), _tsv_texts(read["topics.tsv"], "query")
        qrel_files = sorted((folder / "qrels").glob("*.txt")) or sorted(folder.glob("qrels.txt"))
    if not qrel_files:
        pattern = "qrels/SPLIT.tsv" if beir else "qrels/SPLIT.txt or qrels.txt"
        raise DataError(f"missing file {folder / pattern}: a collection needs judgements to be evaluated")
    qrels = {}
    for path in qrel_files:
        lines = TextLines(path)
        inputs[str(path)] = lines.sha256
        split = "test" if path.parent == folder else path.stem
        qrels[split] = _qrels(lines, queries, corpus, trec=not beir)
    return Collection(lang, "beir" if beir else "trec", queries, corpus, qrels, _bitext(folder, inputs))


def collection_task(collection: Collection, split: str, task: str) -> TaskData:
    """The judged queries of ``split`` against the whole corpus. Each query is its own group (``image``) and
    documents belong to none, so ``evaluate.max_images`` keeps the first N queries and every document."""
    data = TaskData(task, collection.lang, split)
    judged = list(dict.fromkeys(qid for qid, _, _ in collection.qrels[split]))
    for qid in judged:
        data.add_query(qid, collection.queries[qid], qid)
    for docid, text in collection.corpus.items():
        data.add_doc(docid, text, "")
    data.qrels = list(collection.qrels[split])
    return data


class FolderDataset(Dataset):
    """Any collection on disk in the BEIR layout or as TREC files, one folder per document language."""

    name = "folder"
    description = ("A CLIR collection on disk: SOURCE/LANG/ in the BEIR layout or as TREC files, English queries, "
                   "optional bitext (LANG/bitext/train.tsv) for distillation.")
    citation = "BEIR layout: Thakur et al. (NeurIPS 2021 Datasets and Benchmarks); ir_datasets: MacAvaney et al. (SIGIR 2021)."
    params = (Param("task", "retrieval", "the task name its prepared tasks get (evaluate.tasks)", type=str),
              Param("bitext", True, "prepare LANG/bitext/*.tsv wherever present, whatever data.splits says "
                    "(false: evaluation only)", type=bool))

    def build(self, request: DatasetRequest) -> DatasetContent:
        if request.source is None:
            raise DataError("the folder dataset reads a collection on disk: pass --source DIR (or set data.source)")
        root = Path(request.source)
        if not root.is_dir():
            raise DataError(f"collection folder {root} not found; pass --source DIR with one folder per language")
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for lang in request.langs:
            if lang not in found:
                raise DataError(f"unknown language {lang!r}; {root} has folders for {', '.join(found) or 'none'} "
                                "(one per document language: set data.langs or --langs)")
        inputs: dict[str, str] = {}
        collections = [read_collection(root / lang, lang, inputs) for lang in request.langs]
        splits = {split for c in collections for split in [*c.qrels, *c.bitext]}
        for split in request.splits:
            if split not in splits:
                raise DataError(f"unknown split {split!r}; {root} has {', '.join(sorted(splits))} "
                                "(qrels/SPLIT files and bitext/SPLIT.tsv): set data.splits or --splits")
        content = DatasetContent("local", str(root.resolve()), list(request.langs), list(request.splits),
                                 inputs=dict(sorted(inputs.items())))
        for c in collections:
            # bitext is kept whenever the collection has it, whatever the evaluation splits (params.bitext=false: not)
            for split, (english, other) in (sorted(c.bitext.items()) if self.config["bitext"] else []):
                ids = [f"{split}-{i}" for i in range(len(english))]
                content.bitext.setdefault(c.lang, []).append(BitextSplit(c.lang, split, ids, english, other))
            for split in request.splits:
                if split in c.qrels:
                    content.tasks.append(collection_task(c, split, self.config["task"]))
                elif split not in c.bitext and split not in BITEXT_SPLITS:
                    content.notes.append(f"{c.lang}: no qrels/{split} file, so no {c.lang} {split} task")
            if not c.bitext:
                content.notes.append(f"{c.lang}: no bitext ({root / c.lang / 'bitext' / 'train.tsv'}), so {c.lang} "
                                     "can be evaluated and calibrated, not distilled on")
        return content
