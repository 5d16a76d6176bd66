"""The model card (``README.md``) of a distilled student: what it is, how it was made, how good it got."""

from __future__ import annotations

from typing import Any

from clir_calib.config import ExperimentConfig


def model_card(cfg: ExperimentConfig, result: dict[str, Any], losses: list[dict[str, Any]]) -> str:
    """Markdown text for ``RUN/README.md``; ``result`` is what goes into ``result.json``."""
    dc = cfg.distill
    teacher, student = cfg.models.teacher, cfg.models.student
    loss_lines = "\n".join(
        f"  - `{term['name']}` (weight {term['weight']}): "
        + ", ".join(f"{k}={v!r}" for k, v in term["params"].items())
        + (f"  \n    {term['citation']}" if term.get("citation") else "")
        for term in losses
    )
    before, after = result["val_accuracy_before"], result["val_accuracy_after"]
    projection = (
        "\nThe teacher and student widths differ: `projection.safetensors` holds the learned linear map "
        "(student -> teacher space, `weight`/`bias`) that must be applied to the student's pooled "
        "embeddings before comparing them with teacher queries.\n"
        if result.get("projection")
        else ""
    )
    return f"""---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
base_model: {student.name}
tags: [sentence-transformers, sentence-similarity, cross-lingual-retrieval, distillation, clir-calib]
language: [en, {dc.lang}]
datasets: [multi30k]
---

# {dc.lang} student distilled from {teacher.name}

A multilingual sentence encoder trained with `clir-calib distill` so that its encoding of
{dc.lang} text matches the frozen teacher's encoding of the English translation (both encoded in
the `passage` role during training). For cross-lingual retrieval, English queries are encoded by
the teacher (`query` role) and {dc.lang} documents by this model (`passage` role); pooling, prefixes
and maximum length are in `clir_calib_encoder.json`.
{projection}
## Training

- teacher (frozen): `{teacher.name}`
- student initialised from: `{student.name}` (word embeddings {"frozen" if dc.freeze_embeddings else "trained"};
  trained: {result.get("trained_layers", "all layers")})
- alignment objective:
{loss_lines}
- data: Multi30k (en, {dc.lang}) train bitext from `{cfg.data.prepared}`, {result["train_pairs"]} pairs
- {result["steps"]} optimizer steps, {dc.epochs} epoch(s), batch {dc.batch_size} x {dc.grad_accum} accumulation,
  AdamW lr {dc.lr} (warm-up {dc.warmup_ratio:.0%}, linear decay), weight decay {dc.weight_decay},
  gradient clipping {dc.max_grad_norm}, seed {cfg.seed}, max length {student.max_length}

## Validation

Bitext retrieval accuracy en -> {dc.lang} (top-1 among {result["val_pairs"]} val pairs; teacher queries
vs student documents): **{before:.4f} before, {after:.4f} after** distillation. The weights are those of
**step {result.get("selected_step", result["steps"])} of {result["steps"]}** (`distill.select: {result.get("select", "last")}`;
`best` keeps the last step whose val accuracy on the seen language rose by more than `min_delta` ({dc.min_delta:g})
over every earlier one, step 0 being the initial student;
the last step reached {result.get("val_accuracy_last", after):.4f}). The run ended: {result.get("stop_reason") or
"after the configured epochs"}. The full curve is in `log.jsonl`; the resolved configuration in `config.yaml`.

## Use

```python
from clir_calib.models import Encoder
student = Encoder.from_pretrained("PATH/TO/THIS/FOLDER")
vectors = student.encode(["..."], role="passage")
```

The folder is also a sentence-transformers model (`modules.json`; prompts `query` and `passage` hold
the role prefixes) and a plain Hugging Face model (`AutoModel.from_pretrained`):

```python
from sentence_transformers import SentenceTransformer
student = SentenceTransformer("PATH/TO/THIS/FOLDER")
vectors = student.encode(["..."], prompt_name="passage")
```
"""
