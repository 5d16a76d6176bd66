"""``none``: the seen-language calibrator applied unchanged (today's zero-shot transfer)."""

from __future__ import annotations

from clir_calib.adapters.base import TransferAdapter


class NoAdapter(TransferAdapter):
    """The calibrator fitted on the seen language, applied to the target as it is."""

    name = "none"
    description = "No adaptation: the seen-language calibrator applied unchanged (the zero-shot transfer gap)."
    citation = ""
