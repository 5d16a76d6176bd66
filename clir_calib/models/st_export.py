"""The sentence-transformers side of a saved encoder: ``modules.json`` and its module configs.

A saved encoder is a Hugging Face folder first (``AutoModel.from_pretrained``) and, with these
files, a sentence-transformers model too: ``SentenceTransformer(folder)`` rebuilds Transformer ->
Pooling -> (Dense, when there is a projection) -> (Normalize, when the encoder normalises), and
``encode(texts, prompt_name="passage")`` adds the same prefix :class:`Encoder` adds for that role.

The files use the long-standing layout (module types under ``sentence_transformers.models``) that
every sentence-transformers release from 2.x on reads. Writing them needs no sentence-transformers
install. The projection commutes with pooling (a linear map of a weighted mean is the weighted mean
of the mapped states), so a Dense module after Pooling equals :class:`Encoder`'s project-then-pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from clir_calib.atomic import write_json
from clir_calib.models.settings import EncoderSettings

MODULES_FILE = "modules.json"
_IDENTITY = "torch.nn.modules.linear.Identity"


def sentence_transformers_modules(settings: EncoderSettings, projection: bool) -> list[dict[str, Any]]:
    """The ``modules.json`` entries, in pipeline order."""
    modules = [("sentence_transformers.models.Transformer", ""), ("sentence_transformers.models.Pooling", "1_Pooling")]
    if projection:
        modules.append(("sentence_transformers.models.Dense", "2_Dense"))
    if settings.normalize:
        modules.append(("sentence_transformers.models.Normalize", f"{len(modules)}_Normalize"))
    return [{"idx": i, "name": str(i), "path": path, "type": kind} for i, (kind, path) in enumerate(modules)]


def prompts(settings: EncoderSettings) -> dict[str, str]:
    """Prompt names for the two roles; ``document`` too, the name sentence-transformers 6 encodes documents with."""
    return {"query": settings.query_prefix, "passage": settings.passage_prefix, "document": settings.passage_prefix}


def model_args(model: Any) -> dict[str, Any]:
    """Keyword arguments that rebuild ``model`` as saved: no pooler where the architecture would add one.

    Sentence encoders never use BERT's pooler, so it is not saved; without this, loading the folder
    would build a random pooler and warn that its weights were "newly initialized".
    """
    import inspect

    accepts = "add_pooling_layer" in inspect.signature(type(model)).parameters
    return {"add_pooling_layer": False} if accepts and getattr(model, "pooler", None) is None else {}


def write_sentence_transformers_files(folder: Path, settings: EncoderSettings, hidden_size: int,
                                      projection: torch.nn.Linear | None, versions: dict[str, str],
                                      transformer_args: dict[str, Any]) -> None:
    """Write the sentence-transformers files next to the HF weights in ``folder``."""
    modules = sentence_transformers_modules(settings, projection is not None)
    write_json(folder / MODULES_FILE, modules)
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": settings.max_length, "do_lower_case": False,
                                                      **({"model_args": transformer_args} if transformer_args else {})})
    write_json(folder / "config_sentence_transformers.json", {
        "__version__": versions, "prompts": prompts(settings), "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    pooling = folder / "1_Pooling"
    pooling.mkdir(exist_ok=True)
    write_json(pooling / "config.json", {
        "word_embedding_dimension": hidden_size,
        "pooling_mode_cls_token": settings.pooling == "cls",
        "pooling_mode_mean_tokens": settings.pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "include_prompt": True,
    })
    if projection is not None:
        from safetensors.torch import save_file

        dense = folder / "2_Dense"
        dense.mkdir(exist_ok=True)
        write_json(dense / "config.json", {"in_features": int(projection.in_features),
                                           "out_features": int(projection.out_features), "bias": True,
                                           "activation_function": _IDENTITY})
        save_file({"linear.weight": projection.weight.detach().cpu().float().contiguous(),
                   "linear.bias": projection.bias.detach().cpu().float().contiguous()},
                  str(dense / "model.safetensors"))
    if settings.normalize:
        (folder / modules[-1]["path"]).mkdir(exist_ok=True)  # Normalize has no config: an empty folder


def library_versions() -> dict[str, str]:
    """The versions a saved model's sentence-transformers config records."""
    from importlib import metadata

    import torch
    import transformers

    return {"clir_calib": metadata.version("clir-calib"), "transformers": transformers.__version__,
            "pytorch": torch.__version__}
