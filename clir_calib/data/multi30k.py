"""The built-in ``multi30k`` dataset: splits and languages found from the file names of the source.

A task-1 split exists where ``task1/raw/SPLIT.en.gz`` does (a local folder is listed; a URL source is
probed for the requested splits, the official file names, downloads cached with checksums). Its
languages are the ``SPLIT.LANG.gz`` files present; its description task exists where the task-2 files
of that split do. What the official release has and the source lacks is said in the summary notes.
"""

from __future__ import annotations

from clir_calib.config import LANGUAGES, known_first
from clir_calib.data import layout
from clir_calib.data.build import Multi30kReader, build_bitext, build_description, build_translation
from clir_calib.data.datasets import Dataset, DatasetContent, DatasetRequest
from clir_calib.data.sources import Multi30kSource, open_source
from clir_calib.errors import DataError


def found_splits(source: Multi30kSource, wanted: list[str], langs: list[str]) -> dict[str, list[str]]:
    """``{split: document languages present}`` for splits with English captions, in release order.

    A listable source yields every split it has; a URL source is probed for ``wanted`` x ``langs`` only.
    """
    names = source.list_dir("task1/raw")
    present: dict[str, set[str]] = {}
    if names is not None:
        for name in names:
            match = layout.CAPTION_NAME.match(name)
            if match:
                present.setdefault(match["split"], set()).add(match["lang"])
    else:
        for split in wanted:
            if source.exists(layout.caption_file(split, "en")):
                present[split] = {"en", *(lang for lang in langs if source.exists(layout.caption_file(split, lang)))}
    found = {split: sorted(have - {"en"}) for split, have in present.items() if "en" in have}
    return {split: found[split] for split in sorted(found, key=layout.split_order)}


def has_descriptions(source: Multi30kSource, split: str, lang: str = "en") -> bool:
    """Whether the five task-2 description files of ``split`` in ``lang`` are in the source: all (True; the task-2
    image list is then required too) or none (False: the release has image lists of splits without descriptions);
    some but not all is a damaged source, a one-line error."""
    files = [layout.description_file(split, k, lang) for k in range(1, layout.DESCRIPTIONS_PER_IMAGE + 1)]
    present = [source.exists(f) for f in files]
    if any(present):
        files, present = [*files, layout.description_images_file(split)], [*present, True]
        present[-1] = source.exists(files[-1])
    if any(present) and not all(present):
        missing = next(f for f, here in zip(files, present, strict=True) if not here)
        raise DataError(f"missing file {source.display(missing)}: the source has only some task-2 files of {split}; "
                        "restore it, or remove that split's task-2 files to prepare its translation task only")
    return all(present)


class Multi30kDataset(Dataset):
    """Multi30k task 1 (translated captions) and task 2 (independent descriptions) in the official layout."""

    name = "multi30k"
    description = ("Multi30k in its official data/ layout (a folder or the raw files by URL): every task-1 split "
                   "found, the description task where task-2 files exist.")
    citation = "Elliott, Frank, Sima'an and Specia (2016); Elliott et al. (2017); Barrault et al. (2018)."

    def build(self, request: DatasetRequest) -> DatasetContent:
        source = open_source(request.source, request.url, request.cache_dir, pinned=request.checksums)
        found = found_splits(source, request.splits, request.langs)
        for split in request.splits:
            if split not in found and source.kind == "local":
                raise DataError(f"unknown split {split!r}: the source has no {layout.caption_file(split, 'en')}; "
                                f"splits found: {', '.join(found) or 'none'}")
            if split not in found:
                raise DataError(f"unknown split {split!r}: {source.display(layout.caption_file(split, 'en'))} does not "
                                "exist; check --url (the official data/ folder) and --splits")
        chosen = [s for s in found if s in request.splits]
        known = sorted({lang for split in chosen for lang in found[split]}, key=lambda lang: known_first(LANGUAGES, lang))
        where = "the source" if source.kind == "local" else source.location
        for lang in request.langs:
            if lang not in known:
                raise DataError(f"unknown language {lang!r}; choose from {', '.join(known) or 'none'} "
                                f"(the document languages of {where} for {', '.join(chosen)})")
        langs = [lang for lang in known if lang in request.langs]
        reader = Multi30kReader(source)
        content = DatasetContent(source.kind, source.location, langs, chosen)
        for split in chosen:
            self._add_split(content, source, reader, split, found[split])
        content.inputs = dict(sorted(reader.inputs.items()))
        return content

    def _add_split(self, content: DatasetContent, source: Multi30kSource, reader: Multi30kReader, split: str,
                   present: list[str]) -> None:
        official = layout.OFFICIAL_SPLIT_LANGUAGES.get(split)
        for lang in content.langs:
            if lang not in present:
                release = (f"; the official release has them: add {layout.caption_file(split, lang)}"
                           if official and lang in official else "")
                content.notes.append(f"{split}: the source has no {lang} captions, so no {lang} "
                                     f"{'bitext' if split in layout.BITEXT_SPLITS else 'tasks'} there{release}")
        langs = [lang for lang in content.langs if lang in present]
        if split in layout.BITEXT_SPLITS:
            for lang in langs:
                content.bitext.setdefault(lang, []).append(build_bitext(reader, split, lang))
            if split == "train":
                return  # training captions are bitext only, never evaluated
        descriptions = has_descriptions(source, split)
        for lang in langs:
            content.tasks.append(build_translation(reader, split, lang))
            if descriptions:
                german = lang == "de" and has_descriptions(source, split, "de")
                if lang == "de" and not german:
                    content.notes.append(f"{split}: no German task-2 descriptions in the source, so the de "
                                         "description task has the captions as its only documents")
                content.tasks.append(build_description(reader, split, lang, with_german=german))
        if not descriptions:
            content.notes.append(f"{split}: description task unavailable (no task-2 descriptions "
                                 f"{layout.description_file(split, 1, 'en')} for this split in the source); "
                                 "translation task only")
