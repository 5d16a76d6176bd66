"""Which source languages a translator's encoder can read: how zero-shot translate-test is allowed.

A translator trained on de->en only can still translate fr or cs when its encoder was *pretrained*
on them (the decoder reads the encoder's language-neutral states). ``nmt-train`` records the
encoder's pretraining languages in ``clir_calib_nmt.json`` (``encoder_languages``): for the encoder
families below from their papers, otherwise only the training language (``--encoder-languages``
overrides). The ``nmt`` baseline refuses a language outside that list, and also any set of
documents of which more than :data:`MAX_UNKNOWN_SHARE` of the source tokens are the tokenizer's
unknown token (a vocabulary that cannot spell the language).
"""

from __future__ import annotations

#: The languages of XLM-R's pretraining data (Conneau et al., ACL 2020: 100 languages of CC-100, romanised
#: variants folded into their language), ISO 639-1 codes. multilingual-e5 starts from XLM-R and keeps its
#: tokenizer (Wang et al. 2024).
XLMR_LANGUAGES: tuple[str, ...] = tuple(
    ["af", "am", "ar", "as", "az", "be", "bg", "bn", "br", "bs", "ca", "cs", "cy", "da", "de", "el", "en", "eo", "es", "et", "eu", "fa", "fi", "fr", "fy", "ga", "gd", "gl", "gu", "ha", "he", "hi", "hr", "hu", "hy", "id", "is", "it", "ja", "jv", "ka", "kk", "km", "kn", "ko", "ku", "ky", "la", "lo", "lt", "lv", "mg", "mk", "ml", "mn", "mr", "ms", "my", "ne", "nl", "no", "om", "or", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "th", "tl", "tr", "ug", "uk", "ur", "uz", "vi", "xh", "yi", "zh"]
)
#: Encoder name fragments (lower case) and the languages their pretraining covered.
ENCODER_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("multilingual-e5", XLMR_LANGUAGES),
    ("xlm-roberta", XLMR_LANGUAGES),
)
MAX_UNKNOWN_SHARE = 0.05


def encoder_languages(encoder: str, trained_on: str, given: list[str] | None = None) -> list[str]:
    """The languages an encoder called ``encoder`` reads: ``given`` when set, the family's list when the
    name is known, else only ``trained_on`` (an unknown encoder is not trusted with other languages)."""
    if given:
        return sorted({*given, trained_on})
    lowered = encoder.lower()
    for fragment, languages in ENCODER_FAMILIES:
        if fragment in lowered:
            return sorted({*languages, trained_on})
    return [trained_on]


def unknown_share(tokenizer: object, texts: list[str]) -> float:
    """The share of source tokens (special tokens excluded) that ``tokenizer`` maps to its unknown token."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not texts:
        return 0.0
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    total = sum(len(ids) for ids in encoded)
    unknown = sum(sum(1 for token in ids if token == unk) for ids in encoded)
    return unknown / total if total else 0.0
