"""Where each Multi30k file lives in the official repository layout (folder ``data/`` of multi30k/dataset).

Both sources (a local folder and the raw files by URL) share these relative paths, so the rest of
the code only ever asks for ``task1/raw/val.de.gz`` and the like. Which splits exist is *found* in
the source (:mod:`clir_calib.data.multi30k`); the official release below is documentation and a
check (a split that lacks a language the release has is reported), not the list of allowed names.
"""

from __future__ import annotations

import re

from clir_calib.config import known_first

#: The official task-1 splits and their caption languages (Elliott et al. 2016, 2017; Barrault et al. 2018).
OFFICIAL_SPLIT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "train": ("en", "de", "fr", "cs"),
    "val": ("en", "de", "fr", "cs"),
    "test_2016_flickr": ("en", "de", "fr", "cs"),
    "test_2017_flickr": ("en", "de", "fr"),
    "test_2017_mscoco": ("en", "de", "fr"),
    "test_2018_flickr": ("en", "de", "fr", "cs"),
}
#: Task-2 (five independent descriptions per image) file stem of the official splits that have task 2.
DESCRIPTION_SPLITS: dict[str, str] = {"train": "train", "val": "val", "test_2016_flickr": "test_2016"}
DESCRIPTION_LANGUAGES: tuple[str, ...] = ("en", "de")
DESCRIPTIONS_PER_IMAGE = 5
BITEXT_SPLITS: tuple[str, ...] = ("train", "val")
#: ``task1/raw`` file names: ``SPLIT.LANG.gz`` (or uncompressed)
CAPTION_NAME = re.compile(r"^(?P<split>[A-Za-z0-9][A-Za-z0-9_-]*)\.(?P<lang>[a-z]{2,3})(?:\.gz)?$")


def caption_file(split: str, lang: str) -> str:
    """Task-1 captions: line i of every language is a translation of the same English caption."""
    return f"task1/raw/{split}.{lang}.gz"


def description_stem(split: str) -> str:
    """The task-2 file stem of a task-1 split: official ones from the release, others ``test_YYYY`` for
    ``test_YYYY_flickr`` (the release's naming), else the split name itself."""
    return DESCRIPTION_SPLITS.get(split) or split.removesuffix("_flickr")


def description_file(split: str, k: int, lang: str) -> str:
    """Task-2 description ``k`` (1..5) of every image of ``split`` in ``lang``."""
    return f"task2/raw/{description_stem(split)}.{k}.{lang}.gz"


def caption_images_file(split: str) -> str:
    """Image file name of each task-1 line."""
    return f"task1/image_splits/{split}.txt"


def description_images_file(split: str) -> str:
    """Image file name of each task-2 line."""
    return f"task2/image_splits/{description_stem(split)}_images.txt"


def split_order(split: str) -> tuple[int, str]:
    """Sort key: the official splits in release order, then others by name."""
    return known_first(tuple(OFFICIAL_SPLIT_LANGUAGES), split)
