"""Whether a tokenizer can read a language: the share of its tokens that become the unknown token.

A student whose vocabulary lacks a script turns every word into ``[UNK]``; its vectors then all but tie, and
retrieval "works" on the tie order (MAP 0.38, R@10 1.0 on the fake data). Such numbers mean nothing, so
``evaluate`` warns above :data:`WARN_SHARE` and refuses above :data:`REFUSE_SHARE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

WARN_SHARE = 0.05  # more unknown tokens than this: a warning (names, rare symbols stay below it)
REFUSE_SHARE = 0.5  # more than this: the encoder cannot read the language; no number is reported
SAMPLE = 2000  # texts tokenised for the check (the first ones: the order of the data)


def unknown_share(tokenizer: Any, texts: Sequence[str]) -> float:
    """Share of the tokens of (up to :data:`SAMPLE` of) ``texts`` that ``tokenizer`` maps to its unknown token
    (0 when it has none: byte-level tokenizers read everything)."""
    unknown = getattr(tokenizer, "unk_token_id", None)
    if unknown is None or not texts:
        return 0.0
    encoded = tokenizer(list(texts[:SAMPLE]), add_special_tokens=False)["input_ids"]
    total = sum(len(ids) for ids in encoded)
    return sum(ids.count(unknown) for ids in encoded) / total if total else 0.0
