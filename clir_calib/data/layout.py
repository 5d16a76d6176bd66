"""Where each Multi30k file lives in the official repository layout (folder ``data/`` of multi30k/dataset).

Both sources (a local folder and the raw files by URL) share these relative paths, so the rest of
the code only ever asks for ``task1/raw/val.de.gz`` and the like.
"""

from __future__ import annotations

# Which caption languages each task-1 split has in Multi30k (test_2017_flickr has no Czech).
SPLIT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "train": ("en", "de", "fr", "cs"),
    "val": ("en", "de", "fr", "cs"),
    "test_2016_flickr": ("en", "de", "fr", "cs"),
    "test_2017_flickr": ("en", "de", "fr"),
}
# Task-2 (independent descriptions) file stem of each task-1 split; test_2017 has no task 2.
DESCRIPTION_SPLITS: dict[str, str] = {"train": "train", "val": "val", "test_2016_flickr": "test_2016"}
DESCRIPTION_LANGUAGES: tuple[str, ...] = ("en", "de")
DESCRIPTIONS_PER_IMAGE = 5
BITEXT_SPLITS: tuple[str, ...] = ("train", "val")


def caption_file(split: str, lang: str) -> str:
    """Task-1 captions: line i of every language is a translation of the same English caption."""
    return f"task1/raw/{split}.{lang}.gz"


def description_file(split: str, k: int, lang: str) -> str:
    """Task-2 description ``k`` (1..5) of every image of ``split`` in ``lang``."""
    return f"task2/raw/{DESCRIPTION_SPLITS[split]}.{k}.{lang}.gz"


def caption_images_file(split: str) -> str:
    """Image file name of each task-1 line."""
    return f"task1/image_splits/{split}.txt"


def description_images_file(split: str) -> str:
    """Image file name of each task-2 line."""
    return f"task2/image_splits/{DESCRIPTION_SPLITS[split]}_images.txt"


def has_language(split: str, lang: str) -> bool:
    return lang in SPLIT_LANGUAGES[split]


def has_descriptions(split: str) -> bool:
    return split in DESCRIPTION_SPLITS
