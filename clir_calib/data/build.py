"""Turn raw Multi30k lines into bitext and retrieval tasks in memory, with the IDs below.

IDs: translation query ``{split}-{i}`` (line i of the English task-1 file), caption document
``{lang}-{split}-{i}``, description query ``{split}-{i}-en{k}``, German description document
``de-{split}-{i}-d{k}``. Every document of image i is relevant to every query of image i.
"""

from __future__ import annotations

from clir_calib.data import layout
from clir_calib.data.datasets import BitextSplit, TaskData
from clir_calib.data.readers import TextFile, check_aligned, check_same_images, read_text_file
from clir_calib.data.sources import Multi30kSource


class Multi30kReader:
    """Reads each needed file once, checks alignment, and remembers every input's sha256."""

    def __init__(self, source: Multi30kSource) -> None:
        self.source = source
        self.inputs: dict[str, str] = {}
        self._files: dict[str, TextFile] = {}

    def file(self, relative: str) -> TextFile:
        if relative not in self._files:
            path = self.source.fetch(relative)
            text = read_text_file(path, self.source.display(relative))
            self._files[relative] = text
            self.inputs[relative] = text.sha256
        return self._files[relative]

    def images(self, split: str) -> TextFile:
        return self.file(layout.caption_images_file(split))

    def captions(self, split: str, lang: str) -> list[str]:
        """Task-1 captions of ``split`` in ``lang``, checked against the English file and the image list."""
        english = self.file(layout.caption_file(split, "en"))
        check_aligned(self.images(split), english)
        text = self.file(layout.caption_file(split, lang))
        check_aligned(english, text)
        return text.lines

    def descriptions(self, split: str, lang: str) -> list[list[str]]:
        """The five task-2 descriptions per image (``[k][i]``), after checking task-1/task-2 image alignment."""
        task1_images = self.images(split)
        check_same_images(task1_images, self.file(layout.description_images_file(split)))
        result = []
        for k in range(1, layout.DESCRIPTIONS_PER_IMAGE + 1):
            text = self.file(layout.description_file(split, k, lang))
            check_aligned(task1_images, text)
            result.append(text.lines)
        return result


def build_bitext(reader: Multi30kReader, split: str, lang: str) -> BitextSplit:
    english = reader.captions(split, "en")
    target = reader.captions(split, lang)
    ids = [f"{split}-{i}" for i in range(len(english))]
    return BitextSplit(lang=lang, split=split, ids=ids, en=list(english), xx=list(target))


def build_translation(reader: Multi30kReader, split: str, lang: str) -> TaskData:
    """Queries: English captions; corpus: their translations; exactly one relevant document each."""
    english = reader.captions(split, "en")
    target = reader.captions(split, lang)
    images = reader.images(split).lines
    task = TaskData("translation", lang, split)
    for i, (query, doc, image) in enumerate(zip(english, target, images, strict=True)):
        qid, docid = f"{split}-{i}", f"{lang}-{split}-{i}"
        task.add_query(qid, query, image)
        task.add_doc(docid, doc, image)
        task.qrels.append((qid, docid, 1))
    return task


def build_description(reader: Multi30kReader, split: str, lang: str, with_german: bool = True) -> TaskData:
    """Queries: the five English descriptions per image; relevant: every target document of that image
    (for de also the five German descriptions, when ``with_german`` and the source has them)."""
    english = reader.descriptions(split, "en")
    captions = reader.captions(split, lang)
    german = reader.descriptions(split, "de") if lang == "de" and with_german else None
    images = reader.images(split).lines
    task = TaskData("description", lang, split)
    for i, image in enumerate(images):
        docs = [f"{lang}-{split}-{i}"]
        task.add_doc(docs[0], captions[i], image)
        if german is not None:
            for k, lines in enumerate(german, start=1):
                docs.append(f"de-{split}-{i}-d{k}")
                task.add_doc(docs[-1], lines[i], image)
        for k, lines in enumerate(english, start=1):
            qid = f"{split}-{i}-en{k}"
            task.add_query(qid, lines[i], image)
            task.qrels.extend((qid, docid, 1) for docid in docs)
    return task
