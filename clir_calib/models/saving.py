"""Writing an :class:`~clir_calib.models.encoder.Encoder` as a loadable folder: weights, tokenizer, settings, the
sentence-transformers files and any projection, atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from clir_calib.atomic import atomic_dir, sweep_leftovers, temp_prefix, write_json
from clir_calib.models.loading import quiet_transformers, save_tokenizer
from clir_calib.models.projection import PROJECTION_FILE
from clir_calib.models.settings import SETTINGS_FILE
from clir_calib.models.st_export import library_versions, model_args, write_sentence_transformers_files

if TYPE_CHECKING:
    from clir_calib.models.encoder import Encoder


def save_encoder(encoder: Encoder, target: Path) -> Path:
    """Write ``encoder`` into ``target`` and return it.

    A new folder appears atomically; into an existing folder (a run directory) every file is written to a temporary
    sibling first and then moved in."""
    if not target.exists():
        with atomic_dir(target) as tmp:
            _write(encoder, tmp)
        return target
    sweep_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=temp_prefix(target, "save"), dir=target.parent))
    try:
        _write(encoder, staging)
        for item in staging.iterdir():
            destination = target / item.name
            if destination.is_dir():
                shutil.rmtree(destination)
            os.replace(item, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _write(encoder: Encoder, folder: Path) -> None:
    with quiet_transformers():
        encoder.model.save_pretrained(folder)
        save_tokenizer(encoder.tokenizer, encoder.folder, folder)
    write_json(folder / SETTINGS_FILE, asdict(encoder.settings))
    write_sentence_transformers_files(folder, encoder.settings, encoder.hidden_size, encoder.projection,
                                      library_versions(), model_args(encoder.model))
    if encoder.projection is not None:
        from safetensors.torch import save_file

        tensors = {n: p.detach().cpu().contiguous() for n, p in encoder.projection.named_parameters()}
        save_file(tensors, str(folder / PROJECTION_FILE))
