"""A small fake Multi30k in the official layout, and the prepared folder built from it.

``make_multi30k`` writes gzip files for task 1 (parallel en/de/fr/cs captions, no cs in
test_2017_flickr), task 2 (five independent en and de descriptions per image) and the image
splits. Sentences are built from real words of each language, so tiny tokenizers have something
to work with; captions of one line are translations of each other.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

# (en, de, fr, cs) phrase translations, combined as "<subject> <action> <place>".
SUBJECTS = [
    ("A man", "Ein Mann", "Un homme", "Muž"),
    ("A woman", "Eine Frau", "Une femme", "Žena"),
    ("A young boy", "Ein kleiner Junge", "Un petit garçon", "Malý chlapec"),
    ("A little girl", "Ein kleines Mädchen", "Une petite fille", "Malá holka"),
    ("A brown dog", "Ein brauner Hund", "Un chien marron", "Hnědý pes"),
    ("A child", "Ein Kind", "Un enfant", "Dítě"),
    ("A young woman", "Eine junge Frau", "Une jeune femme", "Mladá žena"),
    ("An old man", "Ein alter Mann", "Un vieil homme", "Starý muž"),
]
ACTIONS = [
    ("is running", "läuft", "court", "běží"),
    ("is sitting", "sitzt", "est assis", "sedí"),
    ("is playing with a ball", "spielt mit einem Ball", "joue avec un ballon", "si hraje s míčem"),
    ("is eating", "isst", "mange", "jí"),
    ("is standing", "steht", "se tient debout", "stojí"),
    ("is riding a bike", "fährt Fahrrad", "fait du vélo", "jede na kole"),
    ("is reading a book", "liest ein Buch", "lit un livre", "čte knihu"),
    ("is walking", "geht spazieren", "se promène", "chodí"),
]
PLACES = [
    ("in the street.", "auf der Straße.", "dans la rue.", "na ulici."),
    ("on the beach.", "am Strand.", "sur la plage.", "na pláži."),
    ("in the park.", "im Park.", "dans le parc.", "v parku."),
    ("near the water.", "am Wasser.", "près de l'eau.", "u vody."),
    ("in the snow.", "im Schnee.", "dans la neige.", "ve sněhu."),
    ("in front of a red house.", "vor einem roten Haus.", "devant une maison rouge.", "před červeným domem."),
    ("on a green field.", "auf einer grünen Wiese.", "sur un champ vert.", "na zeleném poli."),
    ("at the market.", "auf dem Markt.", "au marché.", "na trhu."),
]
LANG_INDEX = {"en": 0, "de": 1, "fr": 2, "cs": 3}
SPLIT_LANGS = {
    "train": ("en", "de", "fr", "cs"),
    "val": ("en", "de", "fr", "cs"),
    "test_2016_flickr": ("en", "de", "fr", "cs"),
    "test_2017_flickr": ("en", "de", "fr"),
}
TASK2_SPLITS = {"train": "train", "val": "val", "test_2016_flickr": "test_2016"}


def _write_gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def _write_txt(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _sentence(parts: tuple[int, int, int], lang: str) -> str:
    s, a, p = parts
    j = LANG_INDEX[lang]
    return f"{SUBJECTS[s][j]} {ACTIONS[a][j]} {PLACES[p][j]}"


def make_multi30k(
    root: str | Path, n_train: int = 64, n_val: int = 16, n_test: int = 12, seed: int = 0
) -> Path:
    """Write a fake Multi30k into ``root`` (the official ``data/`` layout) and return ``root``.

    Sizes: ``n_train``/``n_val`` lines, ``n_test`` for each test split (task-2 test_2017 lists
    extra images, as the real one does; it has no task-2 text files, as in Multi30k).
    """
    root = Path(root)
    rng = random.Random(seed)
    sizes = {"train": n_train, "val": n_val, "test_2016_flickr": n_test, "test_2017_flickr": n_test}
    for offset, (split, n) in enumerate(sizes.items()):
        images = [f"{1_000_000 * (offset + 1) + 7 * i}.jpg" for i in range(n)]
        _write_txt(root / "task1" / "image_splits" / f"{split}.txt", images)
        scenes = [
            (rng.randrange(len(SUBJECTS)), rng.randrange(len(ACTIONS)), rng.randrange(len(PLACES)))
            for _ in images
        ]
        for lang in SPLIT_LANGS[split]:
            _write_gz(
                root / "task1" / "raw" / f"{split}.{lang}.gz", [_sentence(scene, lang) for scene in scenes]
            )
        if split not in TASK2_SPLITS:
            extra = [f"{9_000_000 + 3 * i}_b.jpg" for i in range(n + 3)]
            _write_txt(root / "task2" / "image_splits" / "test_2017_images.txt", extra)
            continue
        stem = TASK2_SPLITS[split]
        _write_txt(root / "task2" / "image_splits" / f"{stem}_images.txt", images)
        for k in range(1, 6):
            # independent descriptions: same subject as the caption, other action and place
            described = [(s, rng.randrange(len(ACTIONS)), rng.randrange(len(PLACES))) for s, _, _ in scenes]
            for lang in ("en", "de"):
                shuffled = [
                    (s, a, p) if lang == "en" else (s, rng.randrange(len(ACTIONS)), p)
                    for s, a, p in described
                ]
                _write_gz(
                    root / "task2" / "raw" / f"{stem}.{k}.{lang}.gz", [_sentence(x, lang) for x in shuffled]
                )
    return root


@pytest.fixture(scope="session")
def fake_multi30k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake Multi30k folder (64 train, 16 val, 12 test lines). Read-only: copy it to change it."""
    return make_multi30k(tmp_path_factory.mktemp("multi30k") / "data")


@pytest.fixture(scope="session")
def prepared_dir(fake_multi30k: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``prepare_multi30k`` run on ``fake_multi30k`` (all languages and splits). Read-only."""
    from clir_calib.data import prepare_multi30k

    out = tmp_path_factory.mktemp("prepared") / "multi30k"
    prepare_multi30k(out, source=fake_multi30k)
    return out


def write_raw_views(eval_dir: Path, temperature: float = 1.0, scale: float = 1.0, bias: float = 0.0) -> Path:
    """The part of an evaluate folder's summary.json that says how its raw scores were read (calibrate's "before"
    views use it), for evaluate folders that tests build by hand."""
    import json

    raw_views = {"temperature": temperature, "temperature_source": "test", "sigmoid_scale": scale,
                 "sigmoid_bias": bias, "pointwise_depth": 10, "bins": 15}
    (eval_dir / "summary.json").write_text(json.dumps({"raw_views": raw_views}), encoding="utf-8")
    return eval_dir
