"""The listwise temperature a model's scores were trained at: the raw listwise view's one default.

A bi-encoder trained with a contrastive (InfoNCE) loss at temperature ``T`` turns a query's cosine scores into
a distribution as ``softmax(s / T)``; at any other ``T`` the raw view measures a distribution the model never
produced (at ``T = 1`` every softmax over cosines is nearly flat). So the raw view uses the query encoder's
training temperature when it is known, from, in order: a value saved with the model
(``clir_calib_encoder.json``: ``temperature``), the model family (E5: 0.01, its model card), a
sentence-transformers model card that names ``MultipleNegativesRankingLoss`` with a ``scale`` (``T = 1/scale``).
Otherwise :data:`FALLBACK_TEMPERATURE`, and the source says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from clir_calib.models.settings import SETTINGS_FILE, is_e5_name

#: E5 (Wang et al. 2022) is trained with InfoNCE at temperature 0.01 (model card FAQ)
E5_TEMPERATURE = 0.01
#: sentence-transformers' MultipleNegativesRankingLoss default scale 20, i.e. temperature 0.05
MNRL_DEFAULT_SCALE = 20.0
FALLBACK_TEMPERATURE = 1.0 / MNRL_DEFAULT_SCALE
_CARD_LOSS = re.compile(r"(Cached)?MultipleNegatives(Symmetric)?RankingLoss")
_CARD_SCALE = re.compile(r'"scale"\s*:\s*([0-9]+(?:\.[0-9]+)?)')


@dataclass(frozen=True)
class Temperature:
    """A temperature and where it came from (written next to every raw listwise number)."""

    value: float
    source: str

    def to_dict(self) -> dict[str, float | str]:
        return {"value": self.value, "source": self.source}


def saved_temperature(folder: Path | None) -> float | None:
    """``temperature`` from the folder's ``clir_calib_encoder.json``, when it holds a positive number."""
    if folder is None:
        return None
    try:
        data = json.loads((Path(folder) / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("temperature") if isinstance(data, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


def card_temperature(folder: Path | None) -> float | None:
    """``1/scale`` from a sentence-transformers model card (``README.md``) that trained with
    MultipleNegativesRankingLoss and states its scale; None when the card says neither."""
    if folder is None:
        return None
    try:
        card = (Path(folder) / "README.md").read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return None
    loss = _CARD_LOSS.search(card)
    if loss is None:
        return None
    scale = _CARD_SCALE.search(card, loss.end())
    if scale is None or float(scale.group(1)) <= 0:
        return None
    return 1.0 / float(scale.group(1))


def training_temperature(names: list[str], folder: Path | None) -> Temperature | None:
    """The known training temperature of the model called ``names`` (its name and source name) stored in
    ``folder``; None when nothing states one."""
    saved = saved_temperature(folder)
    if saved is not None:
        return Temperature(saved, f"saved with the model ({SETTINGS_FILE})")
    for name in names:
        if name and is_e5_name(name):
            return Temperature(E5_TEMPERATURE, f"{name}: E5's training temperature (model card)")
    scaled = card_temperature(folder)
    if scaled is not None:
        return Temperature(scaled, f"model card: MultipleNegativesRankingLoss scale {1.0 / scaled:g}")
    return None


def resolve_temperature(configured: float | None, names: list[str], folder: Path | None) -> Temperature:
    """``configured`` when set, else the model's training temperature, else :data:`FALLBACK_TEMPERATURE`."""
    if configured is not None:
        return Temperature(float(configured), "evaluate.temperature")
    known = training_temperature(names, folder)
    if known is not None:
        return known
    shown = next((n for n in names if n), "the query encoder")
    return Temperature(FALLBACK_TEMPERATURE, f"default: {shown} states no training temperature; 0.05 is "
                                             "sentence-transformers' MultipleNegativesRankingLoss scale 20 "
                                             "(set evaluate.temperature to choose)")


def listwise_temperature(encoder: object) -> float:
    """The raw listwise temperature of a loaded query encoder, as ``evaluate`` resolves it with no setting."""
    settings = getattr(encoder, "settings", None)
    names = [str(getattr(encoder, "name", "")), str(getattr(settings, "source_name", "") or "")]
    return resolve_temperature(None, names, getattr(encoder, "folder", None)).value
